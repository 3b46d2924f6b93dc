/* bulwark intel: import threat intel into the database, show its counts,
 * look a value up (docs/intel.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/intel.h"
#include "cli/cli.h"

static void intel_usage(FILE *f)
{
	fputs("usage: bulwark intel import [--db DB] [--config FILE] [--source NAME] [--galaxy DIR] FILE...\n"
	      "       bulwark intel stats [--db DB] [--config FILE]\n"
	      "       bulwark intel lookup [--db DB] [--config FILE] [--type TYPE] VALUE...\n",
	      f);
}

/* --db, else [intel] db of the configuration, else the default path. */
static char *db_path(const char *db, const char *config)
{
	if (db)
		return bw_xstrdup(db);
	bw_config cfg;
	if (cli_load_config(&cfg, config) < 0)
		return NULL;
	char *p = cfg.intel_db ? bw_xstrdup(cfg.intel_db) : bw_intel_default_path();
	bw_config_free(&cfg);
	if (!p)
		fputs("bulwark intel: no database path: give --db (neither XDG_DATA_HOME nor HOME is set)\n", stderr);
	return p;
}

static bw_intel *open_db(const char *db, const char *config, bool writable)
{
	char *path = db_path(db, config);
	if (!path)
		return NULL;
	char *err = NULL;
	bw_intel *in = bw_intel_open(path, writable, &err);
	if (!in) {
		fprintf(stderr, "bulwark intel: %s\n", err);
		free(err);
	}
	free(path);
	return in;
}

static void print_summary(const char *file, const bw_intel_summary *s)
{
	printf("%s: %s: %zu indicators, %zu observables, %zu duplicates skipped, %zu unsupported\n", file,
	       s->format ? s->format : "?", s->indicators, s->observables, s->duplicates, s->unsupported);
	if (s->intrusion_sets || s->techniques || s->relationships || s->campaigns || s->malware)
		printf("  %zu intrusion sets, %zu techniques, %zu intrusion set techniques, %zu campaigns, "
		       "%zu malware, %zu relationships\n",
		       s->intrusion_sets, s->techniques, s->set_techniques, s->campaigns, s->malware,
		       s->relationships);
	if (s->aliases_merged)
		printf("  %zu aliases merged from MISP galaxies\n", s->aliases_merged);
	for (size_t i = 0; i < s->unknown_actors.n; i++)
		printf("  no intrusion set (yet) goes by the threat actor of %s\n", s->unknown_actors.v[i]);
	for (size_t i = 0; i < s->unsupported_list.n; i++)
		printf("  unsupported: %s\n", s->unsupported_list.v[i]);
	if (s->unsupported > s->unsupported_list.n)
		printf("  unsupported: ... and %zu more\n", s->unsupported - s->unsupported_list.n);
}

static void print_refs(const char *label, const bw_intel_refs *r)
{
	if (!r->n)
		return;
	printf("    %s:", label);
	for (size_t i = 0; i < r->n; i++) {
		const bw_intel_ref *x = &r->v[i];
		printf("%s %s", i ? "," : "", x->name ? x->name : x->stix_id);
		if (x->external_id)
			printf(" (%s)", x->external_id);
	}
	putchar('\n');
}

static void on_hit(const bw_intel_hit *h, void *arg)
{
	int *blocks = arg;
	if (!h->allow)
		(*blocks)++;
	printf("  %s indicator %lld", h->allow ? "allow" : "block", (long long)h->indicator_id);
	if (h->stix_id)
		printf(" %s", h->stix_id);
	printf(" [%s] %s %s", h->source, bw_obs_type_name(h->type), h->value);
	if (h->prefix_len >= 0)
		printf("/%d", h->prefix_len);
	if (h->tlp)
		printf(" TLP:%s", h->tlp);
	if (h->and_group)
		printf(" (one of %zu observables that must all match)", h->group_size);
	putchar('\n');
	if (h->name)
		printf("    name: %s\n", h->name);
	print_refs("intrusion sets", h->intrusion_sets);
	print_refs("campaigns", h->campaigns);
	print_refs("malware", h->malware);
	print_refs("techniques", h->techniques);
}

int cmd_intel(int argc, char **argv)
{
	if (argc < 2) {
		intel_usage(stderr);
		return EXIT_ERROR;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		intel_usage(stdout);
		return EXIT_CLEAN;
	}
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"source", required_argument, NULL, 's'},
		{"galaxy", required_argument, NULL, 'g'},
		{"type", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *db = NULL, *config = NULL, *source = NULL, *galaxy = NULL, *type = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "d:c:s:g:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'c': config = optarg; break;
		case 's': source = optarg; break;
		case 'g': galaxy = optarg; break;
		case 't': type = optarg; break;
		case 'h': intel_usage(stdout); return EXIT_CLEAN;
		default: return EXIT_ERROR;
		}
	}
	char **args = argv + 1 + optind;
	int nargs = argc - 1 - optind;
	bool import = strcmp(sub, "import") == 0, stats = strcmp(sub, "stats") == 0,
	     lookup = strcmp(sub, "lookup") == 0;
	if ((!import && !stats && !lookup) || (stats ? nargs != 0 : nargs < 1)) {
		intel_usage(stderr);
		return EXIT_ERROR;
	}
	bw_obs_type want = type ? bw_obs_type_from_name(type) : BW_OBS_NONE;
	if (type && want == BW_OBS_NONE) {
		fprintf(stderr, "bulwark intel: unknown type \"%s\"\n", type);
		return EXIT_ERROR;
	}
	bw_intel *in = open_db(db, config, import);
	if (!in)
		return EXIT_ERROR;
	int status = EXIT_CLEAN;
	if (import) {
		for (int i = 0; i < nargs; i++) {
			bw_intel_summary sum;
			char *err = NULL;
			clock_t t0 = clock();
			if (bw_intel_import(in, args[i], source, galaxy, &sum, &err) < 0) {
				fprintf(stderr, "bulwark intel: %s (nothing imported from it)\n", err);
				free(err);
				status = EXIT_ERROR;
			} else {
				print_summary(args[i], &sum);
				printf("  %.2f s CPU\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
			}
			bw_intel_summary_free(&sum);
		}
		char *err = NULL;
		if (bw_intel_build_index(in, &err) < 0) {
			fprintf(stderr, "bulwark intel: index not rebuilt (lookups use SQLite): %s\n", err);
			free(err);
			status = EXIT_ERROR;
		} else {
			printf("index: %s.idx rebuilt\n", bw_intel_path(in));
		}
	} else if (stats) {
		bw_intel_stats s;
		char *err = NULL;
		if (bw_intel_get_stats(in, &s, &err) < 0) {
			fprintf(stderr, "bulwark intel: %s\n", err);
			free(err);
			status = EXIT_ERROR;
		} else {
			printf("database: %s (matching through %s)\n", bw_intel_path(in),
			       bw_intel_uses_index(in) ? "its memory-mapped index" : "SQLite queries");
			printf("indicators: %lld (block %lld, allow %lld, revoked %lld)\n", (long long)s.indicators,
			       (long long)s.block, (long long)s.allow, (long long)s.revoked);
			printf("observables: %lld\n", (long long)s.observables);
			for (int t = 0; t < BW_OBS_NONE; t++)
				if (s.by_type[t])
					printf("  %s: %lld\n", bw_obs_type_name((bw_obs_type)t), (long long)s.by_type[t]);
			printf("relationships: %lld\n", (long long)s.relationships);
			printf("intrusion sets: %lld, techniques: %lld, intrusion set techniques: %lld\n",
			       (long long)s.intrusion_sets, (long long)s.techniques, (long long)s.set_techniques);
			printf("campaigns: %lld, malware: %lld\n", (long long)s.campaigns, (long long)s.malware);
		}
	} else {
		int blocks = 0;
		for (int i = 0; i < nargs; i++) {
			bw_obs_type t = type ? want : bw_obs_detect(args[i]);
			if (t == BW_OBS_NONE && bw_obs_looks_like_ipv4(args[i])) {
				fprintf(stderr, "bulwark intel: \"%s\" is not a valid IP address\n", args[i]);
				status = EXIT_ERROR;
				continue;
			}
			if (t == BW_OBS_NONE) {
				fprintf(stderr, "bulwark intel: cannot tell what \"%s\" is (give --type)\n", args[i]);
				status = EXIT_ERROR;
				continue;
			}
			printf("%s (%s):\n", args[i], bw_obs_type_name(t));
			int n = bw_intel_match(in, t, args[i], time(NULL), on_hit, &blocks);
			if (n < 0) {
				fprintf(stderr, "bulwark intel: \"%s\" is not one valid %s%s\n", args[i],
					bw_obs_type_name(t), strchr(args[i], '/') ? " (look up an address, not a range)" : "");
				status = EXIT_ERROR;
			} else if (n == 0) {
				puts("  no active indicator");
			}
		}
		if (status == EXIT_CLEAN && blocks)
			status = EXIT_FLAGGED;
	}
	bw_intel_close(in);
	return status;
}

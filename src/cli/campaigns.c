/* bulwark campaigns, attribute and export: the commands that read the scan
 * store (docs/campaigns.md). */
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/intel.h"
#include "bulwark/store.h"
#include "cli/cli.h"

/* What the three commands share: --store, --config, --json. */
typedef struct store_cmd {
	bw_config cfg;
	bw_store *store;
	bool json;
} store_cmd;

/* The store must exist and be one: a mistyped path is an error, not an
 * empty store. Only grouping writes (campaign ids). */
static int open_store(store_cmd *sc, const char *config, const char *path, bool writable)
{
	if (cli_load_config(&sc->cfg, config) < 0)
		return -1;
	char *p = path ? bw_xstrdup(path) : sc->cfg.store_db ? bw_xstrdup(sc->cfg.store_db) : bw_store_default_path();
	char *err = NULL;
	sc->store = bw_store_open_existing(p, writable, &err);
	free(p);
	if (!sc->store) {
		fprintf(stderr, "bulwark: %s\n", err);
		free(err);
		bw_config_free(&sc->cfg);
		return -1;
	}
	return 0;
}

static int close_store(store_cmd *sc, int rc, char *err)
{
	if (err) {
		fprintf(stderr, "bulwark: %s\n", err);
		free(err);
		rc = EXIT_ERROR;
	}
	bw_store_close(sc->store);
	bw_config_free(&sc->cfg);
	return rc;
}

int cmd_campaigns(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"min-messages", required_argument, NULL, 'm'},
		{"features", required_argument, NULL, 'f'},
		{"show", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *store = NULL, *config = NULL, *show = NULL;
	store_cmd sc = {0};
	bw_campaign_options o;
	bw_campaign_options_default(&o);
	int c;
	while ((c = getopt_long(argc, argv, "s:c:jm:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'c': config = optarg; break;
		case 'j': sc.json = true; break;
		case 'm': {
			char *end = NULL;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[strspn(optarg, " \t")] == '-' || v > 1000000000ul) {
				fprintf(stderr, "bulwark campaigns: --min-messages \"%s\" is not a number of messages\n",
					optarg);
				return EXIT_ERROR;
			}
			o.min_messages = (unsigned)v;
			break;
		}
		case 'f': o.features = optarg; break;
		case 'S': show = optarg; break;
		case 'h':
			puts("usage: bulwark campaigns [--store DB] [--config FILE] [--json] [--min-messages N]\n"
			     "                         [--features KIND,...] [--show CAMPAIGN]");
			return EXIT_CLEAN;
		default: return EXIT_ERROR;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bulwark campaigns: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_ERROR;
	}
	if (open_store(&sc, config, store, !show) < 0)
		return EXIT_ERROR;
	o.shared_file = sc.cfg.campaign_shared_file;
	char *err = NULL;
	if (show)
		bw_campaign_members(sc.store, show, sc.json, stdout, &err);
	else
		bw_campaigns_run(sc.store, &o, sc.json, stdout, &err);
	return close_store(&sc, EXIT_CLEAN, err);
}

int cmd_attribute(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"db", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *store = NULL, *config = NULL, *intel = NULL;
	store_cmd sc = {0};
	int c;
	while ((c = getopt_long(argc, argv, "s:c:d:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'c': config = optarg; break;
		case 'd': intel = optarg; break;
		case 'j': sc.json = true; break;
		case 'h':
			puts("usage: bulwark attribute CAMPAIGN [--store DB] [--db INTEL_DB] [--config FILE] [--json]");
			return EXIT_CLEAN;
		default: return EXIT_ERROR;
		}
	}
	if (optind + 1 != argc) {
		fputs("usage: bulwark attribute CAMPAIGN [--store DB] [--db INTEL_DB] [--json]\n", stderr);
		return EXIT_ERROR;
	}
	if (open_store(&sc, config, store, false) < 0)
		return EXIT_ERROR;
	char *intel_path = intel ? bw_xstrdup(intel) : bw_intel_default_path();
	char *err = NULL;
	bw_attribute(sc.store, argv[optind], intel_path, sc.json, stdout, &err);
	free(intel_path);
	return close_store(&sc, EXIT_CLEAN, err);
}

/* "2025-01-31" or "2025-01-31T12:00:00Z" (UTC) as seconds, or -1. */
static long long parse_date(const char *s)
{
	char *iso = strchr(s, 'T') ? g_strdup(s) : g_strdup_printf("%sT00:00:00Z", s);
	GTimeZone *utc = g_time_zone_new_utc();
	GDateTime *dt = g_date_time_new_from_iso8601(iso, utc);
	g_time_zone_unref(utc);
	g_free(iso);
	if (!dt)
		return -1;
	long long t = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"stix", no_argument, NULL, 'x'},
		{"store", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"since", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const char usage[] =
		"usage: bulwark export --stix [--store DB] [--config FILE] (CAMPAIGN | --since DATE)\n";
	const char *store = NULL, *config = NULL, *since = NULL;
	bool stix = false;
	store_cmd sc = {0};
	int c;
	while ((c = getopt_long(argc, argv, "s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'x': stix = true; break;
		case 's': store = optarg; break;
		case 'c': config = optarg; break;
		case 'S': since = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_CLEAN;
		default: return EXIT_ERROR;
		}
	}
	const char *campaign = optind < argc ? argv[optind] : NULL;
	if (!stix || (campaign && since) || (!campaign && !since) || optind + (campaign != NULL) != argc) {
		fputs(usage, stderr);
		return EXIT_ERROR;
	}
	long long since_t = since ? parse_date(since) : 0;
	if (since_t < 0) {
		fprintf(stderr, "bulwark export: --since \"%s\" is not a date (YYYY-MM-DD)\n", since);
		return EXIT_ERROR;
	}
	if (open_store(&sc, config, store, false) < 0)
		return EXIT_ERROR;
	char *err = NULL;
	bw_export_stix(sc.store, &sc.cfg, campaign, since_t, stdout, &err);
	return close_store(&sc, EXIT_CLEAN, err);
}

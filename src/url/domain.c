/* Registrable domains (eTLD+1): what "the same site" means when comparing a
 * link's host with the sender's or with a tracker list. Owns nothing but the
 * lookup in libpsl's built-in Public Suffix List. */
#include "bulwark/url.h"
#include "bulwark/util.h"

#include <arpa/inet.h>
#include <glib.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* An IP address has no suffix to strip; libpsl would cut "1.2.3.4" to "3.4". */
static bool is_ip_literal(const char *host)
{
	unsigned char addr[16];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		char tmp[64];
		if (n - 2 >= sizeof tmp)
			return false;
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		return inet_pton(AF_INET6, tmp, addr) == 1;
	}
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* A message asks for the same few hosts again and again (every tracker
 * pixel, every link, the lookalike test), and a lookup costs about 8,000
 * instructions: the answers for recent hosts are kept, per thread, in a small
 * table indexed by a hash of the host. Entries are replaced, and freed when
 * their thread exits (the milter runs one thread per SMTP connection: a
 * table left behind would leak with every connection). */
enum { RD_CACHE = 256, RD_CACHE_HOST_MAX = 128 };
typedef struct rd_entry {
	char *host, *reg;
} rd_entry;
static __thread rd_entry rd_cache[RD_CACHE];
static __thread bool rd_cache_owned;
static pthread_key_t rd_cache_key;
static pthread_once_t rd_cache_once = PTHREAD_ONCE_INIT;

static void rd_cache_free(void *table)
{
	rd_entry *t = table;
	for (size_t i = 0; i < RD_CACHE; i++) {
		free(t[i].host);
		free(t[i].reg);
		t[i] = (rd_entry){0};
	}
}

static void rd_cache_key_create(void)
{
	pthread_key_create(&rd_cache_key, rd_cache_free);
}

/* Registers this thread's table for freeing at thread exit. */
static void rd_cache_own(void)
{
	if (rd_cache_owned)
		return;
	pthread_once(&rd_cache_once, rd_cache_key_create);
	pthread_setspecific(rd_cache_key, rd_cache);
	rd_cache_owned = true;
}

static char *lookup_registrable(const char *host)
{
	if (is_ip_literal(host))
		return bw_xstrdup(host);
	const char *rd = psl_registrable_domain(psl_builtin(), host);
	/* NULL when host is itself a public suffix ("co.uk", "github.io") */
	return bw_xstrdup(rd ? rd : host);
}

char *bw_registrable_domain(const char *host)
{
	if (!host || !*host)
		return NULL;
	size_t n = strlen(host);
	if (n > RD_CACHE_HOST_MAX)
		return lookup_registrable(host);
	rd_entry *e = &rd_cache[g_str_hash(host) % RD_CACHE];
	if (!e->host || strcmp(e->host, host) != 0) {
		rd_cache_own();
		free(e->host);
		free(e->reg);
		e->host = bw_xstrdup(host);
		e->reg = lookup_registrable(host);
	}
	return bw_xstrdup(e->reg);
}

bool bw_host_has_known_suffix(const char *host)
{
	if (!host || !*host)
		return false;
	if (is_ip_literal(host))
		return true;
	const char *dot = strrchr(host, '.');
	const char *tld = dot ? dot + 1 : host;
	/* RFC 2606 / 6761 names are not in the list but are domains all the same */
	static const char *const special[] = {"example", "test", "invalid", "localhost"};
	for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
		if (bw_ascii_iequal(tld, special[i]))
			return true;
	return *tld && psl_is_public_suffix2(psl_builtin(), tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
}

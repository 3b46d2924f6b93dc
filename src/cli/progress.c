/* A progress bar on standard error, shown only when it is a terminal so that
 * logs and pipes stay clean. Redrawn at most ten times a second. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"

struct bw_progress {
	unsigned long long total;
	struct timespec start, last;
};

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

bw_progress *bw_progress_start(unsigned long long total_bytes)
{
	bw_progress *p = bw_xcalloc(1, sizeof *p);
	p->total = total_bytes;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	return p;
}

static void draw(bw_progress *p, unsigned long long bytes, unsigned long messages, const struct timespec *now)
{
	enum { WIDTH = 30 };
	double frac = p->total ? (double)bytes / (double)p->total : 0;
	if (frac > 1)
		frac = 1;
	int fill = (int)(frac * WIDTH);
	double secs = since(&p->start, now);
	fprintf(stderr, "\r[%.*s%*s] %3d%%  %lu messages  %.0f msg/s ", fill,
		"##############################", WIDTH - fill, "", (int)(frac * 100), messages,
		secs > 0 ? (double)messages / secs : 0.0);
	fflush(stderr);
}

void bw_progress_update(bw_progress *p, unsigned long long bytes, unsigned long messages)
{
	if (!p)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (since(&p->last, &now) < 0.1)
		return;
	p->last = now;
	draw(p, bytes, messages, &now);
}

void bw_progress_finish(bw_progress *p)
{
	if (!p)
		return;
	fputs("\r\033[K", stderr);
	free(p);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * xchgbench - throughput of folio exchange against paired migration
 * (promote + demote with move_pages(2)) in a two-node guest.
 *
 * N pages bound to node 1 (SMEM, "hot") and N pages bound to node 0 (FMEM,
 * "cold") are written, their policy reset, then swapped between the nodes
 * STEP pairs at a time, timed:
 *   exchange: one write of STEP pairs to /sys/kernel/debug/exchange/pair
 *             (the kernel takes up to 512 pairs per write)
 *   migrate:  move_pages() of the STEP hot pages to node 0 and of the STEP
 *             cold pages to node 1 (--demote-first: the other way round,
 *             which is what a full FMEM needs)
 * --thp: the N units are 2 MiB THPs, not 4 KiB pages (exchanged whole,
 * moved whole by move_pages()).  --busy-thread: a second thread of the
 * process spins meanwhile, so that each TLB flush of the process' pages
 * must reach another CPU, as when a daemon moves a running program's.
 * --fill-fmem FREE first fills node 0 with other pages until FREE bytes are
 * left.  Afterwards every page's node and contents are checked.  Prints
 * one JSON line.  --trace-tlb turns /sys/kernel/tracing/tracing_on on for
 * the timed part only (the caller enables tlb:tlb_flush and counts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "lib/htutil.h"
#include "lib/vmstat.h"

#define PAIR_PATH	"/sys/kernel/debug/exchange/pair"
#define TRACE_ON	"/sys/kernel/tracing/tracing_on"
#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define MPOL_DEFAULT	0
#define MPOL_PREFERRED	1
#define MPOL_BIND	2
#define MAX_STEP	8192
#define MAX_PAIRS	512	/* per write to exchange/pair */

static const char *prog = "xchgbench";

static struct {
	uint64_t pages, step, fill_free, unit;
	int exchange, demote_first, fill, trace, busy;
} cfg = { .pages = 4096, .step = 8, .unit = PAGE };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xchgbench --method exchange|migrate [options]\n"
		"  --pages N          pages each way (default 4096)\n"
		"  --thp              the pages are 2 MiB THPs\n"
		"  --busy-thread      a second thread spins meanwhile\n"
		"  --step N           pairs per exchange write or move_pages call\n"
		"                     (default 8; exchange: at most 512)\n"
		"  --demote-first     migrate: move the cold pages down first\n"
		"  --fill-fmem FREE   fill node 0 with other pages until FREE is left\n"
		"  --trace-tlb        tracing_on=1 only while timing\n");
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static int set_policy(void *addr, size_t len, int mode, int node)
{
	unsigned long mask = 1UL << node;

	return syscall(SYS_mbind, addr, len, mode,
		       mode == MPOL_DEFAULT ? NULL : &mask,
		       mode == MPOL_DEFAULT ? 0 : 64, 0);
}

/* Pages preferring node 0 until it has FREE bytes left or stops giving. */
static uint64_t fill_fmem(void)
{
	uint64_t done = 0, chunk = 1 << 20;
	long last = -1, kb;
	int stuck = 0;

	while ((kb = ht_node_free_kb(0)) >= 0 && (uint64_t)kb * 1024 > cfg.fill_free) {
		char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t o;

		if (p == MAP_FAILED)
			die("mmap filler");
		madvise(p, chunk, MADV_NOHUGEPAGE);
		if (set_policy(p, chunk, MPOL_PREFERRED, 0))
			die("mbind filler");
		for (o = 0; o < chunk; o += PAGE)
			p[o] = 1;
		done += chunk;
		/* node 0 at its watermark: the rest went to node 1 */
		stuck = last >= 0 && kb >= last ? stuck + 1 : 0;
		if (stuck >= 8)
			break;
		last = kb;
	}
	return done;
}

static char *map_on(int node)
{
	size_t len = cfg.pages * cfg.unit, o;
	char *p = mmap(NULL, len + cfg.unit, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	/* THPs need 2 MiB-aligned ranges */
	p = (char *)(((uintptr_t)p + cfg.unit - 1) & ~(cfg.unit - 1));
	madvise(p, len, cfg.unit == PAGE ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
	if (set_policy(p, len, MPOL_BIND, node))
		die("mbind");
	for (o = 0; o < len; o += PAGE) {
		uint64_t *w = (uint64_t *)(p + o);
		size_t i;

		w[0] = (uintptr_t)w;
		for (i = 1; i < PAGE / 8; i++)
			w[i] = (uintptr_t)w ^ (i * 0x9e3779b97f4a7c15ULL);
	}
	if (set_policy(p, len, MPOL_DEFAULT, 0))
		die("mbind default");
	return p;
}

/* AnonHugePages of this process, kB: the THPs it got. */
static long anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static volatile int busy_stop;

/* The process runs on another CPU too: its TLB flushes must reach it. */
static void *busy_thread(void *arg)
{
	volatile uint64_t n = 0;

	(void)arg;
	while (!busy_stop)
		n++;
	return NULL;
}

static uint64_t bad_pages(const char *p)
{
	uint64_t bad = 0, pg;

	for (pg = 0; pg < cfg.pages * (cfg.unit / PAGE); pg++) {
		const uint64_t *w = (const uint64_t *)(p + pg * PAGE);
		size_t i;

		for (i = 0; i < PAGE / 8; i++)
			if (w[i] != (i ? (uintptr_t)w ^ (i * 0x9e3779b97f4a7c15ULL)
				       : (uintptr_t)w))
				break;
		bad += i < PAGE / 8;
	}
	return bad;
}

static void tracing(int fd, int on)
{
	if (fd >= 0 && write(fd, on ? "1" : "0", 1) != 1)
		die("tracing_on");
}

static const char *const COUNTERS[] = {
	"exchange_success", "exchange_fail_busy", "exchange_fail_type",
	"exchange_fail_order", "exchange_tlb_flush",
	"pgmigrate_success", "pgmigrate_fail",
};
#define NCOUNTERS (sizeof(COUNTERS) / sizeof(COUNTERS[0]))

static void counters(uint64_t *v)
{
	struct ht_vmstat vs = { 0 };
	size_t i;

	if (ht_vmstat_read("/proc/vmstat", &vs))
		die("/proc/vmstat");
	for (i = 0; i < NCOUNTERS; i++)
		if (ht_vmstat_get(&vs, COUNTERS[i], &v[i]))
			v[i] = 0;
	ht_vmstat_free(&vs);
}

/* One exchange write: "PID A B A B ...\n", NUL-terminated. */
#define REQ_LEN		(16 + MAX_PAIRS * 40)

static char *format_pairs(char *a, char *b)
{
	char *reqs = malloc(cfg.pages / cfg.step * REQ_LEN), *buf;
	uint64_t i, k;
	int n;

	if (!reqs)
		die("malloc");
	for (i = 0; i < cfg.pages; i += cfg.step) {
		buf = reqs + i / cfg.step * REQ_LEN;
		n = snprintf(buf, REQ_LEN, "%d", (int)getpid());
		for (k = 0; k < cfg.step; k++)
			n += snprintf(buf + n, REQ_LEN - n, " %lx %lx",
				      (unsigned long)(a + (i + k) * cfg.unit),
				      (unsigned long)(b + (i + k) * cfg.unit));
		snprintf(buf + n, REQ_LEN - n, "\n");
	}
	return reqs;
}

int main(int argc, char **argv)
{
	enum { O_PAGES = 256, O_STEP, O_METHOD, O_DEMOTE, O_FILL, O_TRACE,
	       O_THP, O_BUSY, O_HELP };
	static const struct option opts[] = {
		{ "pages", required_argument, NULL, O_PAGES },
		{ "step", required_argument, NULL, O_STEP },
		{ "method", required_argument, NULL, O_METHOD },
		{ "demote-first", no_argument, NULL, O_DEMOTE },
		{ "fill-fmem", required_argument, NULL, O_FILL },
		{ "trace-tlb", no_argument, NULL, O_TRACE },
		{ "thp", no_argument, NULL, O_THP },
		{ "busy-thread", no_argument, NULL, O_BUSY },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v0[NCOUNTERS], v1[NCOUNTERS], filled = 0, i;
	uint64_t errors = 0, fails = 0, bad_a, bad_b;
	struct ht_placement pa, pb;
	long free_before, thp_kb;
	pthread_t busy;
	int method = -1, c, fd = -1, tfd = -1, first_err = 0;
	char *a, *b, *end, *reqs = NULL;
	double t0, t1;
	size_t k;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_PAGES:
			cfg.pages = strtoull(optarg, &end, 0);
			if (*end || !cfg.pages || cfg.pages > (1ULL << 24))
				ht_die_opt(prog, "--pages", "invalid count '%s'", optarg);
			break;
		case O_STEP:
			cfg.step = strtoull(optarg, &end, 0);
			if (*end || !cfg.step || cfg.step > MAX_STEP)
				ht_die_opt(prog, "--step", "1 to %d, not '%s'",
					   MAX_STEP, optarg);
			break;
		case O_METHOD:
			if (!strcmp(optarg, "exchange"))
				method = 1;
			else if (!strcmp(optarg, "migrate"))
				method = 0;
			else
				ht_die_opt(prog, "--method", "exchange or migrate, not '%s'",
					   optarg);
			break;
		case O_DEMOTE:
			cfg.demote_first = 1;
			break;
		case O_FILL:
			if (ht_parse_size(optarg, &cfg.fill_free))
				ht_die_opt(prog, "--fill-fmem", "invalid size '%s'", optarg);
			cfg.fill = 1;
			break;
		case O_TRACE:
			cfg.trace = 1;
			break;
		case O_THP:
			cfg.unit = HPAGE;
			break;
		case O_BUSY:
			cfg.busy = 1;
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		ht_die_opt(prog, argv[optind], "unexpected argument");
	if (method < 0)
		ht_die_opt(prog, "--method", "missing");
	if (method == 1 && cfg.step > MAX_PAIRS)
		ht_die_opt(prog, "--step", "exchange takes at most %d pairs a write",
			   MAX_PAIRS);
	if (cfg.pages % cfg.step)
		ht_die_opt(prog, "--pages", "not a multiple of --step");
	cfg.exchange = method;

	a = map_on(1);		/* hot, to go up */
	b = map_on(0);		/* cold, to go down */
	thp_kb = anon_huge_kb();
	if (cfg.fill)
		filled = fill_fmem();
	free_before = ht_node_free_kb(0);
	if (cfg.exchange) {
		fd = open(PAIR_PATH, O_WRONLY);
		if (fd < 0)
			die(PAIR_PATH);
	}
	if (cfg.trace) {
		tfd = open(TRACE_ON, O_WRONLY);
		if (tfd < 0)
			die(TRACE_ON);
	}
	/* The requests are written out before timing, as move_pages' arrays. */
	if (cfg.exchange)
		reqs = format_pairs(a, b);
	if (cfg.busy && pthread_create(&busy, NULL, busy_thread, NULL))
		die("pthread_create");
	counters(v0);
	tracing(tfd, 1);
	t0 = ht_now();
	for (i = 0; i < cfg.pages; i += cfg.step) {
		if (cfg.exchange) {
			const char *buf = reqs + i / cfg.step * REQ_LEN;
			ssize_t n = strlen(buf);

			if (write(fd, buf, n) != n) {
				fails++;
				if (!first_err)
					first_err = errno;
			}
		} else {
			static void *pg[2][MAX_STEP];
			static int nodes[2][MAX_STEP], st[2][MAX_STEP];
			int d;

			for (k = 0; k < cfg.step; k++) {
				pg[0][k] = a + (i + k) * cfg.unit;
				nodes[0][k] = 0;
				pg[1][k] = b + (i + k) * cfg.unit;
				nodes[1][k] = 1;
			}
			for (d = 0; d < 2; d++) {
				int which = cfg.demote_first ? 1 - d : d;

				if (syscall(SYS_move_pages, 0, cfg.step, pg[which],
					    nodes[which], st[which], 0) < 0) {
					errors++;
					if (!first_err)
						first_err = errno;
				}
			}
			for (k = 0; k < cfg.step && !first_err; k++)
				if (st[0][k] < 0 || st[1][k] < 0)
					first_err = st[0][k] < 0 ? -st[0][k] : -st[1][k];
		}
	}
	t1 = ht_now();
	tracing(tfd, 0);
	counters(v1);
	if (cfg.busy) {
		busy_stop = 1;
		pthread_join(busy, NULL);
	}
	if (ht_query_placement(0, a, cfg.pages * cfg.unit, &pa) ||
	    ht_query_placement(0, b, cfg.pages * cfg.unit, &pb))
		die("move_pages query");
	bad_a = bad_pages(a);
	bad_b = bad_pages(b);
	free(reqs);

	printf("{\"method\": \"%s\", \"pages\": %llu, \"page_kb\": %llu, "
	       "\"thp_kb\": %ld, \"step\": %llu, \"demote_first\": %s, \"filled\": %llu, \"fmem_free_kb\": %ld, "
	       "\"seconds\": %.6f, \"pairs_moved\": %llu, \"pages_moved_per_s\": %.1f, "
	       "\"failed_writes\": %llu, \"syscall_errors\": %llu, "
	       "\"first_error\": \"%s\", \"hot_on\": {\"0\": %llu, \"1\": %llu}, "
	       "\"cold_on\": {\"0\": %llu, \"1\": %llu}, \"corrupt_pages\": %llu, "
	       "\"vmstat\": {",
	       cfg.exchange ? "exchange" : "migrate",
	       (unsigned long long)cfg.pages,
	       (unsigned long long)(cfg.unit >> 10), thp_kb,
	       (unsigned long long)cfg.step,
	       cfg.demote_first ? "true" : "false", (unsigned long long)filled,
	       free_before, t1 - t0,
	       (unsigned long long)((pa.on_node[0] < pb.on_node[1] ?
				     pa.on_node[0] : pb.on_node[1]) /
				    (cfg.unit / PAGE)),
	       (pa.on_node[0] + pb.on_node[1]) / (t1 - t0),
	       (unsigned long long)fails, (unsigned long long)errors,
	       first_err ? strerror(first_err) : "",
	       (unsigned long long)pa.on_node[0], (unsigned long long)pa.on_node[1],
	       (unsigned long long)pb.on_node[0], (unsigned long long)pb.on_node[1],
	       (unsigned long long)(bad_a + bad_b));
	for (k = 0; k < NCOUNTERS; k++)
		printf("%s\"%s\": %lld", k ? ", " : "", COUNTERS[k],
		       (long long)(v1[k] - v0[k]));
	printf("}}\n");
	return bad_a + bad_b ? 1 : 0;
}

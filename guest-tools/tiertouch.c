// SPDX-License-Identifier: GPL-2.0
/*
 * tiertouch - touch a buffer bound to one NUMA node after another, with a
 * known number of loads or stores per pass, and time each phase.  Made to
 * check QEMU's TCG tier emulation: the host compares the access counters
 * of query-tier-access-stats with the accesses done here, and the time per
 * node with the emulated latencies.
 *
 *   tiertouch --nodes 0,1 --size 16M --passes 4 --json
 *
 * --move-to N adds a phase that first moves the last buffer to node N with
 * move_pages(2).  --sync DIR lets the host take counters around each
 * measured phase: before phase i the tool writes "ready i" to DIR/state and
 * waits for SIGUSR1, after it "done i" and waits again (its pid is in
 * DIR/pid).  See Documentation/guest-tools.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "lib/htutil.h"

#define MPOL_BIND	2
#define MPOL_MF_MOVE	(1 << 1)
#define MAX_PHASES	16

struct phase {
	int node;		/* bound to, or moved to */
	int moved;
	struct ht_placement place;
	uint64_t accesses;
	uint64_t ns;
};

static struct {
	uint64_t size, stride, passes;
	int store, json, cpu;
	int nodes[MAX_PHASES], nr_nodes, move_to;
	const char *sync;
} cfg = { .size = 16ULL << 20, .stride = 64, .passes = 4, .cpu = -1,
	  .move_to = -1 };

static struct phase phases[MAX_PHASES];
static int nr_phases;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tiertouch [options]\n"
		"  --nodes N[,N...]   one phase per node, buffer bound to it (required)\n"
		"  --size SIZE        buffer per phase (default 16M)\n"
		"  --passes N         passes over the buffer per phase (default 4)\n"
		"  --stride BYTES     bytes between accesses, 8..4096, power of 2 (default 64)\n"
		"  --op load|store    one 8-byte load or store per stride (default load)\n"
		"  --move-to N        then move the last buffer to node N and run a phase\n"
		"  --cpu N            run on CPU N\n"
		"  --sync DIR         handshake with the host around each phase\n"
		"  --json             one JSON object instead of text\n");
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "tiertouch: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int opt_node(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v >= HT_MAX_NODES)
		ht_die_opt("tiertouch", opt, "node '%s' is not in 0..%d", s,
			   HT_MAX_NODES - 1);
	return v;
}

static uint64_t opt_u64(const char *opt, const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		ht_die_opt("tiertouch", opt, "'%s' is not a number", s);
	return v;
}

static void parse_nodes(const char *s)
{
	char *copy = strdup(s), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (cfg.nr_nodes == MAX_PHASES - 1)
			ht_die_opt("tiertouch", "--nodes", "more than %d nodes",
				   MAX_PHASES - 1);
		cfg.nodes[cfg.nr_nodes++] = opt_node("--nodes", tok);
	}
	free(copy);
	if (!cfg.nr_nodes)
		ht_die_opt("tiertouch", "--nodes", "'%s' names no node", s);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sync_point(const char *what, int i)
{
	char path[4096], tmp[4096];
	sigset_t set;
	FILE *f;
	int sig;

	if (!cfg.sync)
		return;
	snprintf(path, sizeof(path), "%s/state", cfg.sync);
	snprintf(tmp, sizeof(tmp), "%s/state.tmp", cfg.sync);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%s %d\n", what, i) < 0 || fclose(f) ||
	    rename(tmp, path))
		die("%s: %s", path, strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigwait(&set, &sig))
		die("sigwait failed");
}

static char *map_on(int node)
{
	unsigned long mask[HT_MAX_NODES / (8 * sizeof(unsigned long))] = { };
	char *p;

	p = mmap(NULL, cfg.size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	mask[node / (8 * sizeof(unsigned long))] |=
		1UL << (node % (8 * sizeof(unsigned long)));
	/* maxnode counts one more than the mask bits, as numactl does */
	if (syscall(SYS_mbind, p, cfg.size, MPOL_BIND, mask,
		    sizeof(mask) * 8 + 1, 0))
		die("mbind to node %d: %s", node, strerror(errno));
	memset(p, 0x5a, cfg.size);
	return p;
}

static void move_to(char *p, int node)
{
	uint64_t n = cfg.size / sysconf(_SC_PAGESIZE), i;
	void **pages = calloc(n, sizeof(*pages));
	int *nodes = calloc(n, sizeof(*nodes)), *status = calloc(n, sizeof(int));

	if (!pages || !nodes || !status)
		die("out of memory");
	for (i = 0; i < n; i++) {
		pages[i] = p + i * sysconf(_SC_PAGESIZE);
		nodes[i] = node;
	}
	if (syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE))
		die("move_pages to node %d: %s", node, strerror(errno));
	free(pages);
	free(nodes);
	free(status);
}

/*
 * The measured passes: exactly size / stride accesses each, and no other
 * memory access in the loop (its bounds in registers, not reloaded from
 * cfg after each volatile store).
 */
static uint64_t touch(char *p, uint64_t size, uint64_t stride,
		      uint64_t passes, int store)
{
	uint64_t pass, off, sum = 0;

	if (store) {
		for (pass = 0; pass < passes; pass++)
			for (off = 0; off < size; off += stride)
				*(volatile uint64_t *)(p + off) = off;
	} else {
		for (pass = 0; pass < passes; pass++)
			for (off = 0; off < size; off += stride)
				sum += *(volatile uint64_t *)(p + off);
	}
	return sum;
}

static void run_phase(struct phase *ph, char *p)
{
	uint64_t sum, t0;
	int err;

	err = ht_query_placement(0, p, cfg.size, &ph->place);
	if (err)
		die("move_pages query: %s", strerror(-err));
	sync_point("ready", ph - phases);
	t0 = now_ns();
	sum = touch(p, cfg.size, cfg.stride, cfg.passes, cfg.store);
	ph->ns = now_ns() - t0;
	ph->accesses = cfg.passes * (cfg.size / cfg.stride);
	sync_point("done", ph - phases);
	if (sum == 1)	/* keep the loads */
		fprintf(stderr, "tiertouch: sum %" PRIu64 "\n", sum);
}

static void print_placement(const struct ht_placement *pl)
{
	int n, first = 1;

	printf("{");
	for (n = 0; n < HT_MAX_NODES; n++) {
		if (!pl->on_node[n])
			continue;
		printf("%s\"%d\": %" PRIu64, first ? "" : ", ", n, pl->on_node[n]);
		first = 0;
	}
	printf("}");
}

static void report(void)
{
	int i;

	if (!cfg.json) {
		for (i = 0; i < nr_phases; i++) {
			struct phase *ph = &phases[i];

			printf("phase %d: node %d%s, %" PRIu64 " %ss in %.3f ms, "
			       "%.1f ns each\n", i, ph->node,
			       ph->moved ? " (moved there)" : "", ph->accesses,
			       cfg.store ? "store" : "load", ph->ns / 1e6,
			       (double)ph->ns / ph->accesses);
		}
		return;
	}
	printf("{\"size\": %" PRIu64 ", \"stride\": %" PRIu64 ", \"passes\": %"
	       PRIu64 ", \"op\": \"%s\", \"cpu\": %d, \"page_size\": %ld, "
	       "\"phases\": [", cfg.size, cfg.stride, cfg.passes,
	       cfg.store ? "store" : "load", cfg.cpu, sysconf(_SC_PAGESIZE));
	for (i = 0; i < nr_phases; i++) {
		struct phase *ph = &phases[i];

		printf("%s{\"node\": %d, \"moved\": %s, \"accesses\": %" PRIu64
		       ", \"ns\": %" PRIu64 ", \"pages\": %" PRIu64
		       ", \"placement\": ", i ? ", " : "", ph->node,
		       ph->moved ? "true" : "false", ph->accesses, ph->ns,
		       ph->place.pages);
		print_placement(&ph->place);
		printf("}");
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	enum { O_NODES = 256, O_SIZE, O_PASSES, O_STRIDE, O_OP, O_MOVE,
	       O_CPU, O_SYNC, O_JSON, O_HELP };
	static const struct option opts[] = {
		{ "nodes", required_argument, NULL, O_NODES },
		{ "size", required_argument, NULL, O_SIZE },
		{ "passes", required_argument, NULL, O_PASSES },
		{ "stride", required_argument, NULL, O_STRIDE },
		{ "op", required_argument, NULL, O_OP },
		{ "move-to", required_argument, NULL, O_MOVE },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "sync", required_argument, NULL, O_SYNC },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ }
	};
	char *buf = NULL, path[4096];
	sigset_t set;
	FILE *f;
	int c, i;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_NODES:
			parse_nodes(optarg);
			break;
		case O_SIZE:
			if (ht_parse_size(optarg, &cfg.size) || !cfg.size)
				ht_die_opt("tiertouch", "--size",
					   "'%s' is not a size > 0", optarg);
			break;
		case O_PASSES:
			cfg.passes = opt_u64("--passes", optarg);
			if (!cfg.passes)
				ht_die_opt("tiertouch", "--passes", "must be > 0");
			break;
		case O_STRIDE:
			cfg.stride = opt_u64("--stride", optarg);
			if (cfg.stride < 8 || cfg.stride > 4096 ||
			    (cfg.stride & (cfg.stride - 1)))
				ht_die_opt("tiertouch", "--stride",
					   "'%s' is not a power of 2 in 8..4096",
					   optarg);
			break;
		case O_OP:
			if (!strcmp(optarg, "load"))
				cfg.store = 0;
			else if (!strcmp(optarg, "store"))
				cfg.store = 1;
			else
				ht_die_opt("tiertouch", "--op",
					   "'%s' is not load or store", optarg);
			break;
		case O_MOVE:
			cfg.move_to = opt_node("--move-to", optarg);
			break;
		case O_CPU:
			cfg.cpu = opt_node("--cpu", optarg);
			break;
		case O_SYNC:
			cfg.sync = optarg;
			break;
		case O_JSON:
			cfg.json = 1;
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!cfg.nr_nodes)
		ht_die_opt("tiertouch", "--nodes", "is required");
	if (cfg.size % sysconf(_SC_PAGESIZE))
		ht_die_opt("tiertouch", "--size", "must be a multiple of the page size");

	if (cfg.cpu >= 0) {
		cpu_set_t cpus;

		CPU_ZERO(&cpus);
		CPU_SET(cfg.cpu, &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus))
			die("--cpu %d: %s", cfg.cpu, strerror(errno));
	}
	if (cfg.sync) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		snprintf(path, sizeof(path), "%s/pid", cfg.sync);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			die("%s: %s", path, strerror(errno));
	}

	for (i = 0; i < cfg.nr_nodes; i++) {
		if (buf)
			munmap(buf, cfg.size);
		buf = map_on(cfg.nodes[i]);
		phases[nr_phases].node = cfg.nodes[i];
		run_phase(&phases[nr_phases], buf);
		nr_phases++;
	}
	if (cfg.move_to >= 0) {
		move_to(buf, cfg.move_to);
		phases[nr_phases].node = cfg.move_to;
		phases[nr_phases].moved = 1;
		run_phase(&phases[nr_phases], buf);
		nr_phases++;
	}
	report();
	return 0;
}

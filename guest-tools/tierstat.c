// SPDX-License-Identifier: GPL-2.0
/*
 * tierstat - where a process's memory lives: resident pages per NUMA node
 * (every mapping of /proc/PID/maps queried with move_pages(2)), the share of
 * an address range on the fast node, and /proc/vmstat deltas over an interval.
 * See Documentation/guest-tools.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/htutil.h"
#include "lib/maps.h"
#include "lib/nodelist.h"
#include "lib/vmstat.h"

#define MAX_PREFIXES 32

static struct {
	int pid;			/* 0: none, vmstat only */
	bool have_range, json;
	uint64_t range_start, range_end;
	int fast_node;
	const char *prefixes[MAX_PREFIXES];
	int n_prefixes;
	double interval;
} cfg = { .interval = 1 };

struct proc_usage {
	struct ht_placement p;		/* summed over the mappings queried */
	unsigned int mappings, skipped;
};

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: tierstat [options] PID\n"
		"       tierstat --vmstat PREFIX [--interval S] [--json]\n"
		"  --range START-END  share of this range (hex) on the fast node\n"
		"  --fast-node N      node counted as fast for --range (default 0)\n"
		"  --vmstat PREFIX    /proc/vmstat deltas of counters named PREFIX*\n"
		"                     (repeatable)\n"
		"  --interval S       seconds between the two vmstat reads (default 1)\n"
		"  --json             one JSON object instead of text\n");
}

#define die_opt(opt, ...) ht_die_opt("tierstat", opt, __VA_ARGS__)

static void __attribute__((noreturn)) die_pid(int err)
{
	if (err == ENOENT || err == ESRCH)
		fprintf(stderr, "tierstat: no such process: %d\n", cfg.pid);
	else
		fprintf(stderr, "tierstat: pid %d: %s\n", cfg.pid,
			strerror(err));
	exit(1);
}

/* Strict: digits only, no sign, no trailing junk. */
static int parse_ulong(const char *s, int base, unsigned long long max,
		       unsigned long long *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, base);
	return errno || *end || *v > max ? -1 : 0;
}

static void parse_range(const char *s)
{
	unsigned long long a, b;
	char *dash, tmp[64];

	if (snprintf(tmp, sizeof(tmp), "%s", s) >= (int)sizeof(tmp))
		die_opt("--range", "'%s' is not START-END", s);
	dash = strchr(tmp, '-');
	if (!dash)
		die_opt("--range", "'%s' is not START-END", s);
	*dash = '\0';
	/* base 16 also takes an optional 0x, as gups prints it */
	if (parse_ulong(tmp, 16, UINT64_MAX, &a) ||
	    parse_ulong(dash + 1, 16, UINT64_MAX, &b))
		die_opt("--range", "'%s' is not START-END in hex", s);
	if (b <= a)
		die_opt("--range", "'%s' is empty", s);
	cfg.range_start = a;
	cfg.range_end = b;
	cfg.have_range = true;
}

static void parse_options(int argc, char **argv)
{
	enum { O_RANGE = 256, O_FAST_NODE, O_VMSTAT, O_INTERVAL, O_JSON };
	static const struct option opts[] = {
		{ "range", required_argument, NULL, O_RANGE },
		{ "fast-node", required_argument, NULL, O_FAST_NODE },
		{ "vmstat", required_argument, NULL, O_VMSTAT },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	unsigned long long v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_RANGE:
			parse_range(optarg);
			break;
		case O_FAST_NODE:
			if (parse_ulong(optarg, 10, HT_MAX_NODES - 1, &v))
				die_opt("--fast-node", "node '%s' is not in 0..%d",
					optarg, HT_MAX_NODES - 1);
			cfg.fast_node = v;
			break;
		case O_VMSTAT:
			if (!*optarg)
				die_opt("--vmstat", "empty prefix");
			if (cfg.n_prefixes == MAX_PREFIXES)
				die_opt("--vmstat", "more than %d prefixes",
					MAX_PREFIXES);
			cfg.prefixes[cfg.n_prefixes++] = optarg;
			break;
		case O_INTERVAL:
			errno = 0;
			cfg.interval = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !isfinite(cfg.interval) || cfg.interval < 0 ||
			    cfg.interval > 86400)
				die_opt("--interval", "invalid seconds '%s'",
					optarg);
			break;
		case O_JSON:
			cfg.json = true;
			break;
		case 'h':
			print_usage(stdout);
			exit(0);
		default:
			/* getopt_long has named the option already */
			print_usage(stderr);
			exit(2);
		}
	}
	if (optind == argc && cfg.n_prefixes && !cfg.have_range)
		return;
	if (optind != argc - 1) {
		fprintf(stderr, "tierstat: %s\n", optind == argc ?
			"PID missing" : "one PID only");
		print_usage(stderr);
		exit(2);
	}
	if (parse_ulong(argv[optind], 10, INT32_MAX, &v) || !v)
		die_opt("PID", "invalid pid '%s'", argv[optind]);
	cfg.pid = v;
}

static void add_placement(struct ht_placement *sum,
			  const struct ht_placement *p)
{
	int i;

	sum->pages += p->pages;
	sum->not_present += p->not_present;
	sum->other_error += p->other_error;
	for (i = 0; i < HT_MAX_NODES; i++)
		sum->on_node[i] += p->on_node[i];
}

static void query_process(struct proc_usage *u)
{
	char path[64], *line = NULL;
	struct ht_placement p;
	struct ht_map m;
	size_t cap = 0;
	FILE *f;
	int err;

	memset(u, 0, sizeof(*u));
	snprintf(path, sizeof(path), "/proc/%d/maps", cfg.pid);
	f = fopen(path, "re");
	if (!f)
		die_pid(errno);
	while (getline(&line, &cap, f) > 0) {
		if (ht_maps_parse_line(line, &m)) {
			fprintf(stderr, "tierstat: %s: cannot parse: %s",
				path, line);
			exit(1);
		}
		/* nothing to find in guard pages or kernel-provided pages */
		if (!ht_map_readable(&m) || ht_map_is_special(&m)) {
			u->skipped++;
			continue;
		}
		err = ht_query_placement(cfg.pid, (void *)(uintptr_t)m.start,
					 m.end - m.start, &p);
		if (err)
			die_pid(-err);
		add_placement(&u->p, &p);
		u->mappings++;
	}
	if (ferror(f))
		die_pid(errno);
	free(line);
	fclose(f);
}

static uint64_t resident(const struct ht_placement *p)
{
	return p->pages - p->not_present - p->other_error;
}

/* Memory nodes always, so that an empty tier shows as 0, not as missing. */
static void print_nodes(const struct ht_placement *p, uint64_t mem_nodes)
{
	uint64_t res = resident(p);
	int i, n = 0;

	for (i = 0; i < HT_MAX_NODES; i++) {
		if (!p->on_node[i] && !(mem_nodes & (1ULL << i)))
			continue;
		if (cfg.json)
			printf("%s\"%d\": %" PRIu64, n++ ? ", " : "", i,
			       p->on_node[i]);
		else
			printf("node%d %" PRIu64 " (%.1f%% of resident)\n", i,
			       p->on_node[i],
			       res ? 100.0 * p->on_node[i] / res : 0.0);
	}
}

static void print_process(const struct proc_usage *u, uint64_t mem_nodes)
{
	const struct ht_placement *p = &u->p;

	if (cfg.json) {
		printf("\"pid\": %d, \"page_size\": %ld, \"mappings\": %u"
		       ", \"skipped_mappings\": %u, \"pages\": %" PRIu64
		       ", \"resident\": %" PRIu64 ", \"not_present\": %" PRIu64
		       ", \"errors\": %" PRIu64 ", \"nodes\": {",
		       cfg.pid, sysconf(_SC_PAGESIZE), u->mappings, u->skipped,
		       p->pages, resident(p), p->not_present, p->other_error);
		print_nodes(p, mem_nodes);
		printf("}");
		return;
	}
	printf("pid %d: %u mappings (%u skipped), %" PRIu64 " pages of %ld bytes, %"
	       PRIu64 " resident, %" PRIu64 " not present, %" PRIu64 " errors\n",
	       cfg.pid, u->mappings, u->skipped, p->pages,
	       sysconf(_SC_PAGESIZE), resident(p), p->not_present,
	       p->other_error);
	print_nodes(p, mem_nodes);
}

static void print_range(uint64_t mem_nodes)
{
	uint64_t len = cfg.range_end - cfg.range_start;
	struct ht_placement p;
	uint64_t res;
	int err;

	if ((uint64_t)(size_t)len != len)
		die_opt("--range", "too large");
	err = ht_query_placement(cfg.pid, (void *)(uintptr_t)cfg.range_start,
				 len, &p);
	if (err)
		die_pid(-err);
	res = resident(&p);
	if (cfg.json) {
		printf(", \"range\": {\"start\": \"0x%" PRIx64 "\", \"end\": \"0x%"
		       PRIx64 "\", \"pages\": %" PRIu64 ", \"resident\": %" PRIu64
		       ", \"not_present\": %" PRIu64 ", \"errors\": %" PRIu64
		       ", \"nodes\": {",
		       cfg.range_start, cfg.range_end, p.pages, res,
		       p.not_present, p.other_error);
		print_nodes(&p, mem_nodes);
		printf("}, \"fast_node\": %d, \"fast_frac\": ", cfg.fast_node);
		if (res)
			printf("%.4f}", (double)p.on_node[cfg.fast_node] / res);
		else
			printf("null}");
		return;
	}
	printf("range 0x%" PRIx64 "-0x%" PRIx64 ": %" PRIu64 " pages, %" PRIu64
	       " resident, %" PRIu64 " not present, %" PRIu64 " errors\n",
	       cfg.range_start, cfg.range_end, p.pages, res, p.not_present,
	       p.other_error);
	print_nodes(&p, mem_nodes);
	if (res)
		printf("fast node %d: %.4f of resident\n", cfg.fast_node,
		       (double)p.on_node[cfg.fast_node] / res);
	else
		printf("fast node %d: no resident pages\n", cfg.fast_node);
}

static void read_vmstat(struct ht_vmstat *vs)
{
	int err = ht_vmstat_read("/proc/vmstat", vs);

	if (err) {
		fprintf(stderr, "tierstat: /proc/vmstat: %s\n", strerror(-err));
		exit(1);
	}
}

static void print_vmstat(const struct ht_vmstat *a, const struct ht_vmstat *b,
			 double secs, bool comma)
{
	size_t i;
	int n = 0;

	if (cfg.json)
		printf("%s\"vmstat\": {\"interval_s\": %.3f, \"deltas\": {",
		       comma ? ", " : "", secs);
	else
		printf("vmstat deltas over %.3f s:\n", secs);
	for (i = 0; i < b->n; i++) {
		const struct ht_vmstat_entry *e = &b->e[i];
		uint64_t old;

		if (!ht_vmstat_match(e->name, cfg.prefixes, cfg.n_prefixes))
			continue;
		/* a counter that appeared meanwhile counts from 0 */
		if (ht_vmstat_get(a, e->name, &old))
			old = 0;
		/* signed: gauges such as nr_free_pages also go down */
		if (cfg.json)
			printf("%s\"%s\": %" PRId64, n ? ", " : "", e->name,
			       (int64_t)(e->value - old));
		else
			printf("%s %" PRId64 "\n", e->name,
			       (int64_t)(e->value - old));
		n++;
	}
	if (cfg.json)
		printf("}}");
	if (!n)
		fprintf(stderr, "tierstat: no /proc/vmstat counter matches --vmstat\n");
}

int main(int argc, char **argv)
{
	struct ht_vmstat before = { }, after = { };
	uint64_t mem_nodes = 0;
	struct proc_usage u;
	struct timespec ts;
	double t = 0;
	char path[64];

	parse_options(argc, argv);
	/* unknown (no sysfs): print the nodes that hold pages only */
	ht_read_nodelist(HT_NODES_WITH_MEMORY, &mem_nodes);
	/* fail before the interval wait, not after it */
	if (cfg.pid) {
		snprintf(path, sizeof(path), "/proc/%d/maps", cfg.pid);
		if (access(path, R_OK))
			die_pid(errno);
	}
	if (cfg.n_prefixes) {
		read_vmstat(&before);
		t = ht_now();
		ts.tv_sec = (time_t)cfg.interval;
		ts.tv_nsec = (long)((cfg.interval - ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		read_vmstat(&after);
		t = ht_now() - t;
	}
	/* placement after the wait: the state the deltas led to */
	if (cfg.json)
		printf("{");
	if (cfg.pid) {
		query_process(&u);
		print_process(&u, mem_nodes);
		if (cfg.have_range)
			print_range(mem_nodes);
	}
	if (cfg.n_prefixes)
		print_vmstat(&before, &after, t, cfg.pid != 0);
	if (cfg.json)
		printf("}\n");
	ht_vmstat_free(&before);
	ht_vmstat_free(&after);
	return 0;
}

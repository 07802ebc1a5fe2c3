// SPDX-License-Identifier: GPL-2.0
/*
 * gups - hot-set GUPS (updates per second) for tiered-memory experiments.
 *
 * A buffer is touched in order, then threads do read-modify-write updates:
 * --hot-frac of them to a hot set, the rest to the cold remainder.  Each
 * interval the main thread prints the update rate and on which NUMA nodes a
 * sample of the hot set's pages lives, so one can watch a tiering policy
 * promote the hot set and the rate follow.  --shift-at moves the hot set
 * mid-run to watch the policy react.  See Documentation/guest-tools.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "lib/htutil.h"
#include "lib/nodelist.h"

#define MPOL_DEFAULT	0
#define MPOL_BIND	2
#define MAX_THREADS	1024
#define BATCH_BYTES	32768		/* updated between stop-flag checks */
#define HPAGE		(2UL << 20)

static struct {
	uint64_t size, hot, hot_off, shift_to, elem, seed, hot_sample;
	double hot_frac, duration, interval, shift_at;	/* shift_at < 0: none */
	int threads, membind, json, thp;
	const char *file;	/* shared mapping of this file, else anon */
} cfg = {
	.size = 1ULL << 30, .elem = 8, .seed = 1, .hot_frac = 0.9,
	.duration = 10, .interval = 1, .shift_at = -1, .threads = 1,
	.membind = -1, .hot_sample = 4096,
};

/* Own cache line each, so that counting does not bounce lines around. */
struct counter {
	_Atomic uint64_t updates;
} __attribute__((aligned(64)));

/*
 * Buffer words are accessed with relaxed atomics: threads may update the same
 * word, and relaxed loads and stores keep that defined while compiling to
 * plain moves (no lock prefix).  A lost update now and then is fine for GUPS.
 */
static _Atomic uint64_t *buf;
static struct counter *counters;
static atomic_bool stop;
static _Atomic uint64_t hot_first;	/* first element of the hot set */
static pthread_barrier_t start_barrier;

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: gups [options]\n"
		"  --size SIZE         working set (default 1G)\n"
		"  --hot SIZE          hot set (default 1/8 of --size)\n"
		"  --hot-frac P        share of updates to the hot set (default 0.9)\n"
		"  --hot-at start|end|OFFSET  hot set position (default end)\n"
		"  --threads N         updating threads (default 1)\n"
		"  --duration S        seconds to run (default 10)\n"
		"  --interval S        seconds between reports (default 1)\n"
		"  --hot-sample N      pages of the hot set whose node a report\n"
		"                      queries, spread evenly (default 4096)\n"
		"  --shift-at S        move the hot set to another region at S\n"
		"  --elem 8|64|4096    bytes per update (default 8)\n"
		"  --membind NODE      allocate the buffer on NODE (policy reset after)\n"
		"  --thp               madvise(MADV_HUGEPAGE) the buffer\n"
		"  --file PATH         map PATH (created, sized) shared instead of\n"
		"                      anonymous memory: page cache, e.g. on tmpfs\n"
		"  --seed N            PRNG seed (default 1)\n"
		"  --json              JSON lines instead of text\n");
}

#define die_opt(opt, ...) ht_die_opt("gups", opt, __VA_ARGS__)

static void __attribute__((noreturn)) die_errno(const char *what, int err)
{
	fprintf(stderr, "gups: %s: %s\n", what, strerror(err));
	exit(1);
}

static double opt_double(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		die_opt(opt, "invalid number '%s'", s);
	return v;
}

static uint64_t opt_u64(const char *opt, const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		die_opt(opt, "invalid number '%s'", s);
	return v;
}

static uint64_t opt_size(const char *opt, const char *s)
{
	uint64_t v;

	if (ht_parse_size(s, &v))
		die_opt(opt, "invalid size '%s'", s);
	return v;
}

static void sleep_until(double t)
{
	struct timespec ts = {
		.tv_sec = (time_t)t,
		.tv_nsec = (long)((t - (time_t)t) * 1e9),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* xorshift64* (Vigna): cheap, and good enough in the high bits we use. */
static inline uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

/* splitmix64, to turn one seed into distinct non-zero thread states */
static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 1;
}

/* r scaled to [0, n) by a multiply instead of a biased, slow modulo */
static inline uint64_t below(uint64_t r, uint64_t n)
{
	return (__uint128_t)r * n >> 64;
}

static void *worker(void *arg)
{
	struct counter *cnt = arg;
	uint64_t x = mix(cfg.seed + (uint64_t)(cnt - counters));
	uint64_t words = cfg.elem / 8, batch = BATCH_BYTES / cfg.elem;
	uint64_t n_hot = cfg.hot / cfg.elem;
	uint64_t n_cold = cfg.size / cfg.elem - n_hot;
	bool all_hot = cfg.hot_frac >= 1.0 || !n_cold;
	/* hot when a uniform 64-bit value falls below hot_frac * 2^64 */
	uint64_t thresh = all_hot ? 0 : (uint64_t)(cfg.hot_frac * 0x1p64);
	uint64_t done = 0;

	pthread_barrier_wait(&start_barrier);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* read once a batch: a shift takes effect within microseconds */
		uint64_t first = atomic_load_explicit(&hot_first,
						      memory_order_relaxed);
		uint64_t i, k;

		for (i = 0; i < batch; i++) {
			uint64_t v = rnd(&x), idx;
			_Atomic uint64_t *p;

			if (all_hot || rnd(&x) < thresh) {
				idx = first + below(v, n_hot);
			} else {
				/* skip over the hot set: cold updates miss it */
				idx = below(v, n_cold);
				if (idx >= first)
					idx += n_hot;
			}
			p = buf + idx * words;
			for (k = 0; k < words; k++) {
				uint64_t old = atomic_load_explicit(&p[k],
						memory_order_relaxed);

				atomic_store_explicit(&p[k], old ^ v,
						      memory_order_relaxed);
			}
		}
		done += batch;
		atomic_store_explicit(&cnt->updates, done,
				      memory_order_relaxed);
	}
	return NULL;
}

static void parse_options(int argc, char **argv)
{
	enum { O_SIZE = 256, O_HOT, O_HOT_FRAC, O_HOT_AT, O_THREADS,
	       O_DURATION, O_INTERVAL, O_SHIFT_AT, O_ELEM, O_MEMBIND, O_THP,
	       O_JSON, O_SEED, O_FILE, O_HOT_SAMPLE };
	static const struct option opts[] = {
		{ "size", required_argument, NULL, O_SIZE },
		{ "hot", required_argument, NULL, O_HOT },
		{ "hot-frac", required_argument, NULL, O_HOT_FRAC },
		{ "hot-at", required_argument, NULL, O_HOT_AT },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "hot-sample", required_argument, NULL, O_HOT_SAMPLE },
		{ "shift-at", required_argument, NULL, O_SHIFT_AT },
		{ "elem", required_argument, NULL, O_ELEM },
		{ "membind", required_argument, NULL, O_MEMBIND },
		{ "thp", no_argument, NULL, O_THP },
		{ "file", required_argument, NULL, O_FILE },
		{ "json", no_argument, NULL, O_JSON },
		{ "seed", required_argument, NULL, O_SEED },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *hot_at = "end";
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			cfg.size = opt_size("--size", optarg);
			break;
		case O_HOT:
			cfg.hot = opt_size("--hot", optarg);
			if (!cfg.hot)
				die_opt("--hot", "must not be 0");
			break;
		case O_HOT_FRAC:
			cfg.hot_frac = opt_double("--hot-frac", optarg);
			if (cfg.hot_frac < 0 || cfg.hot_frac > 1)
				die_opt("--hot-frac", "'%s' is not in [0, 1]",
					optarg);
			break;
		case O_HOT_AT:
			hot_at = optarg;
			break;
		case O_THREADS:
			v = opt_u64("--threads", optarg);
			if (v < 1 || v > MAX_THREADS)
				die_opt("--threads", "'%s' is not in 1..%d",
					optarg, MAX_THREADS);
			cfg.threads = v;
			break;
		case O_DURATION:
			cfg.duration = opt_double("--duration", optarg);
			if (cfg.duration <= 0)
				die_opt("--duration", "must be > 0");
			break;
		case O_INTERVAL:
			cfg.interval = opt_double("--interval", optarg);
			if (cfg.interval < 0.001)
				die_opt("--interval", "must be >= 0.001");
			break;
		case O_HOT_SAMPLE:
			cfg.hot_sample = opt_u64("--hot-sample", optarg);
			if (cfg.hot_sample < 1 || cfg.hot_sample > 1 << 20)
				die_opt("--hot-sample", "'%s' is not in 1..%d",
					optarg, 1 << 20);
			break;
		case O_SHIFT_AT:
			cfg.shift_at = opt_double("--shift-at", optarg);
			if (cfg.shift_at <= 0)
				die_opt("--shift-at", "must be > 0");
			break;
		case O_ELEM:
			cfg.elem = opt_u64("--elem", optarg);
			if (cfg.elem != 8 && cfg.elem != 64 && cfg.elem != 4096)
				die_opt("--elem", "'%s' is not 8, 64 or 4096",
					optarg);
			break;
		case O_MEMBIND:
			v = opt_u64("--membind", optarg);
			if (v >= HT_MAX_NODES)
				die_opt("--membind", "node '%s' is not in 0..%d",
					optarg, HT_MAX_NODES - 1);
			cfg.membind = v;
			break;
		case O_THP:
			cfg.thp = 1;
			break;
		case O_FILE:
			if (!*optarg)
				die_opt("--file", "needs a path");
			cfg.file = optarg;
			break;
		case O_JSON:
			cfg.json = 1;
			break;
		case O_SEED:
			cfg.seed = opt_u64("--seed", optarg);
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
	if (optind < argc)
		die_opt(argv[optind], "unexpected argument");
	if (cfg.file && cfg.thp)
		die_opt("--thp", "applies to anonymous buffers, not --file");

	if (cfg.size < 2 * cfg.elem || cfg.size % cfg.elem)
		die_opt("--size", "must be a multiple of --elem and hold two elements at least");
	if (!cfg.hot) {
		cfg.hot = cfg.size / 8 / cfg.elem * cfg.elem;
		if (!cfg.hot)
			cfg.hot = cfg.elem;
	}
	if (cfg.hot % cfg.elem || cfg.hot > cfg.size)
		die_opt("--hot", "must be a multiple of --elem and fit in --size");
	if (cfg.hot == cfg.size && cfg.hot_frac < 1)
		die_opt("--hot", "equals --size: no cold set for --hot-frac %g",
			cfg.hot_frac);

	if (!strcmp(hot_at, "start"))
		cfg.hot_off = 0;
	else if (!strcmp(hot_at, "end"))
		cfg.hot_off = cfg.size - cfg.hot;
	else if (ht_parse_size(hot_at, &cfg.hot_off))
		die_opt("--hot-at", "'%s' is not start, end or an offset",
			hot_at);
	if (cfg.hot_off % cfg.elem || cfg.hot_off > cfg.size - cfg.hot)
		die_opt("--hot-at", "must be a multiple of --elem leaving room for --hot");

	if (cfg.shift_at >= 0) {
		if (cfg.shift_at >= cfg.duration)
			die_opt("--shift-at", "must be before --duration");
		/* the other end of the buffer: cold so far, wherever it is */
		if (cfg.hot_off >= cfg.hot)
			cfg.shift_to = 0;
		else if (cfg.hot_off + 2 * cfg.hot <= cfg.size)
			cfg.shift_to = cfg.size - cfg.hot;
		else
			die_opt("--shift-at", "no room for a second, non-overlapping hot set");
	}
}

static void map_buffer(void)
{
	uint64_t len = cfg.size + (cfg.thp ? HPAGE : 0);
	uintptr_t a, aligned;
	char *p;
	int fd;

	if (cfg.file) {
		fd = open(cfg.file, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			die_errno(cfg.file, errno);
		if (ftruncate(fd, len))
			die_errno("--file: ftruncate", errno);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (p == MAP_FAILED)
		die_errno("mmap", errno);
	if (cfg.thp) {
		/* only 2 MiB aligned stretches can become huge pages */
		a = (uintptr_t)p;
		aligned = (a + HPAGE - 1) & ~(HPAGE - 1);
		if (aligned > a)
			munmap(p, aligned - a);
		if (a + len > aligned + cfg.size)
			munmap((char *)aligned + cfg.size,
			       a + len - aligned - cfg.size);
		p = (char *)aligned;
		if (madvise(p, cfg.size, MADV_HUGEPAGE))
			die_errno("madvise(MADV_HUGEPAGE)", errno);
	}
	if (cfg.membind >= 0) {
		unsigned long mask = 1UL << cfg.membind;

		/* maxnode counts one more than the mask bits, as numactl does */
		if (syscall(SYS_mbind, p, cfg.size, MPOL_BIND, &mask,
			    sizeof(mask) * 8 + 1, 0))
			die_errno("--membind: mbind", errno);
	}
	buf = (_Atomic uint64_t *)p;
}

/* Write every page, in order, so that first touch decides placement. */
static double touch_buffer(void)
{
	double t = ht_now();

	memset((void *)buf, 0x5a, cfg.size);
	if (cfg.membind >= 0 &&
	    syscall(SYS_mbind, (void *)buf, cfg.size, MPOL_DEFAULT, NULL, 0, 0))
		die_errno("mbind(MPOL_DEFAULT)", errno);
	return ht_now() - t;
}

static const char *range(uint64_t off, char *s, size_t len)
{
	uintptr_t a = (uintptr_t)buf + off;

	snprintf(s, len, "0x%" PRIxPTR "-0x%" PRIxPTR, a, a + cfg.hot);
	return s;
}

static void print_params(double touch_s)
{
	char a[32], b[32], c[32], r[64];

	if (cfg.json) {
		printf("{\"params\": {\"size\": %" PRIu64 ", \"hot\": %" PRIu64
		       ", \"hot_offset\": %" PRIu64 ", \"hot_range\": \"%s\""
		       ", \"hot_frac\": %g, \"threads\": %d, \"duration_s\": %g"
		       ", \"interval_s\": %g, \"elem\": %" PRIu64
		       ", \"hot_sample\": %" PRIu64,
		       cfg.size, cfg.hot, cfg.hot_off,
		       range(cfg.hot_off, r, sizeof(r)), cfg.hot_frac,
		       cfg.threads, cfg.duration, cfg.interval, cfg.elem,
		       cfg.hot_sample);
		if (cfg.shift_at >= 0)
			printf(", \"shift_at_s\": %g, \"shift_to_offset\": %" PRIu64,
			       cfg.shift_at, cfg.shift_to);
		else
			printf(", \"shift_at_s\": null, \"shift_to_offset\": null");
		if (cfg.membind >= 0)
			printf(", \"membind\": %d", cfg.membind);
		else
			printf(", \"membind\": null");
		if (cfg.file)
			printf(", \"file\": \"%s\"", cfg.file);
		else
			printf(", \"file\": null");
		printf(", \"thp\": %s, \"seed\": %" PRIu64 ", \"pid\": %d"
		       ", \"buf\": \"%p\", \"page_size\": %ld, \"touch_s\": %.3f}}\n",
		       cfg.thp ? "true" : "false", cfg.seed, (int)getpid(),
		       (void *)buf, sysconf(_SC_PAGESIZE), touch_s);
		return;
	}
	printf("gups: pid %d, size %s, hot %s at offset %s (%s), hot-frac %g, elem %" PRIu64
	       ", threads %d, duration %g s, interval %g s, seed %" PRIu64
	       ", thp %s",
	       (int)getpid(), ht_format_size(cfg.size, a, sizeof(a)),
	       ht_format_size(cfg.hot, b, sizeof(b)),
	       ht_format_size(cfg.hot_off, c, sizeof(c)),
	       range(cfg.hot_off, r, sizeof(r)), cfg.hot_frac, cfg.elem,
	       cfg.threads, cfg.duration, cfg.interval, cfg.seed,
	       cfg.thp ? "on" : "off");
	if (cfg.membind >= 0)
		printf(", membind %d", cfg.membind);
	if (cfg.file)
		printf(", file %s", cfg.file);
	if (cfg.shift_at >= 0)
		printf(", shift at %g s to offset %s", cfg.shift_at,
		       ht_format_size(cfg.shift_to, a, sizeof(a)));
	printf("\ngups: touched %s in %.3f s\n",
	       ht_format_size(cfg.size, a, sizeof(a)), touch_s);
}

static uint64_t total_updates(void)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < cfg.threads; i++)
		sum += atomic_load_explicit(&counters[i].updates,
					    memory_order_relaxed);
	return sum;
}

static void print_hot_placement(uint64_t off, uint64_t mem_nodes)
{
	static bool warned;
	struct ht_placement p;
	uint64_t show;
	int err, n, i;

	err = ht_query_placement_sampled(0, (char *)buf + off, cfg.hot,
					 cfg.hot_sample, &p);
	if (err || !p.pages) {
		if (!warned)
			fprintf(stderr, "gups: move_pages: %s\n",
				strerror(err ? -err : EINVAL));
		warned = true;
		fputs(cfg.json ? ", \"hot_pages_sampled\": 0, \"hot_node_frac_sampled\": null" :
		      ", hot set placement unknown", stdout);
		return;
	}
	show = mem_nodes;
	for (i = 0; i < HT_MAX_NODES; i++)
		if (p.on_node[i])
			show |= 1ULL << i;
	if (cfg.json)
		printf(", \"hot_pages_sampled\": %" PRIu64
		       ", \"hot_not_present_sampled\": %" PRIu64
		       ", \"hot_node_frac_sampled\": {", p.pages, p.not_present);
	else
		printf(", hot on");
	for (i = 0, n = 0; i < HT_MAX_NODES; i++) {
		double f = (double)p.on_node[i] / p.pages;

		if (!(show & (1ULL << i)))
			continue;
		if (cfg.json)
			printf("%s\"%d\": %.4f", n++ ? ", " : "", i, f);
		else
			printf(" node%d %.3f", i, f);
	}
	if (cfg.json)
		printf("}");
	else
		printf(" (%" PRIu64 " pages sampled)", p.pages);
}

static void shift_hot_set(double t)
{
	char a[32], b[32], r[64];

	atomic_store_explicit(&hot_first, cfg.shift_to / cfg.elem,
			      memory_order_relaxed);
	if (cfg.json)
		printf("{\"event\": \"shift\", \"t\": %.3f, \"from_offset\": %" PRIu64
		       ", \"to_offset\": %" PRIu64 ", \"hot_range\": \"%s\"}\n",
		       t, cfg.hot_off, cfg.shift_to,
		       range(cfg.shift_to, r, sizeof(r)));
	else
		printf("%8.3f s  shift: hot set moved from offset %s to %s (%s)\n",
		       t, ht_format_size(cfg.hot_off, a, sizeof(a)),
		       ht_format_size(cfg.shift_to, b, sizeof(b)),
		       range(cfg.shift_to, r, sizeof(r)));
}

/*
 * Sleep to absolute deadlines (no drift), print one line per interval, shift
 * the hot set on time.  Returns the time of the last report; *total gets the
 * updates counted until then.
 */
static double report(double t0, uint64_t *total)
{
	uint64_t mem_nodes = 0, prev = 0, cur, off = cfg.hot_off;
	bool shift_pending = cfg.shift_at >= 0;
	double prev_t = 0, t, next;
	long tick = 1;

	/* a node without memory has nothing to show; unknown: show what is seen */
	ht_read_nodelist(HT_NODES_WITH_MEMORY, &mem_nodes);
	for (;;) {
		next = tick * cfg.interval;
		if (next > cfg.duration)
			next = cfg.duration;
		if (shift_pending && cfg.shift_at < next) {
			sleep_until(t0 + cfg.shift_at);
			shift_hot_set(ht_now() - t0);
			off = cfg.shift_to;
			shift_pending = false;
			continue;
		}
		sleep_until(t0 + next);
		cur = total_updates();
		t = ht_now() - t0;
		if (cfg.json)
			printf("{\"t\": %.3f, \"updates_per_s\": %.0f, \"updates\": %" PRIu64
			       ", \"total\": %" PRIu64 ", \"hot_offset\": %" PRIu64,
			       t, (cur - prev) / (t - prev_t), cur - prev, cur,
			       off);
		else
			printf("%8.3f s  %10.3f Mupd/s  total %12.3f M",
			       t, (cur - prev) / (t - prev_t) / 1e6, cur / 1e6);
		print_hot_placement(off, mem_nodes);
		fputs(cfg.json ? "}\n" : "\n", stdout);
		prev = cur;
		prev_t = t;
		if (shift_pending && cfg.shift_at == next) {
			shift_hot_set(ht_now() - t0);
			off = cfg.shift_to;
			shift_pending = false;
		}
		if (next >= cfg.duration)
			break;
		tick++;
	}
	*total = prev;
	return prev_t;
}

static void print_summary(double t, uint64_t total)
{
	int shifts = cfg.shift_at >= 0;

	if (cfg.json) {
		printf("{\"summary\": {\"duration_s\": %.3f, \"updates\": %" PRIu64
		       ", \"updates_per_s\": %.0f, \"gups\": %.6f, \"threads\": %d"
		       ", \"shifts\": %d}}\n",
		       t, total, total / t, total / t / 1e9, cfg.threads, shifts);
		return;
	}
	printf("summary: %.3f s, %" PRIu64 " updates, %.3f Mupd/s, ",
	       t, total, total / t / 1e6);
	printf("%.6f GUPS, threads %d, shifts %d\n", total / t / 1e9,
	       cfg.threads, shifts);
}

int main(int argc, char **argv)
{
	pthread_t *tids;
	double touch_s, t0, t;
	uint64_t total;
	int i, err;

	parse_options(argc, argv);
	/* line by line even into a pipe or file, so progress can be followed */
	setvbuf(stdout, NULL, _IOLBF, 0);

	map_buffer();
	touch_s = touch_buffer();
	atomic_init(&hot_first, cfg.hot_off / cfg.elem);
	print_params(touch_s);

	counters = aligned_alloc(64, cfg.threads * sizeof(*counters));
	tids = calloc(cfg.threads, sizeof(*tids));
	if (!counters || !tids)
		die_errno("malloc", ENOMEM);
	for (i = 0; i < cfg.threads; i++)
		atomic_init(&counters[i].updates, 0);
	pthread_barrier_init(&start_barrier, NULL, cfg.threads + 1);
	for (i = 0; i < cfg.threads; i++) {
		err = pthread_create(&tids[i], NULL, worker, &counters[i]);
		if (err)
			die_errno("pthread_create", err);
	}
	pthread_barrier_wait(&start_barrier);
	t0 = ht_now();

	t = report(t0, &total);

	atomic_store_explicit(&stop, true, memory_order_relaxed);
	for (i = 0; i < cfg.threads; i++)
		pthread_join(tids[i], NULL);
	print_summary(t, total);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * xchgtest - test the kernel's folio exchange (CONFIG_FOLIO_EXCHANGE)
 * through /sys/kernel/debug/exchange/pair in a two-node guest; prints TAP.
 *
 * Each scenario places anonymous pages on node 1 and node 0 with mbind(2),
 * fills them with patterns, asks the kernel to exchange them and checks that
 * every virtual page still holds its data while the nodes (move_pages(2)
 * query) have swapped, or that a refusal left everything as it was, and that
 * the exchange_* counters in /proc/vmstat moved by exactly what was done.
 *   xchgtest           (no options; exit 0 when every test passed)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/io_uring.h>

#include "lib/htutil.h"
#include "lib/vmstat.h"

#define PAIR_PATH	"/sys/kernel/debug/exchange/pair"
#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define MPOL_BIND	2
#define MAX_PAIRS	512		/* per write to PAIR_PATH */
#define BIG_WRITE	(24 << 10)	/* longer than the kernel takes */

static int tap_n, tap_failed;
/*
 * shmem pairs exchanged, for a test of the copier to count: with a copier
 * that swaps without sleeping, the THP pairs go to it, 4 KiB ones to the CPU
 */
static int shmem_pairs, shmem_thp_pairs;

static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static void skip(const char *desc, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_n, desc, why);
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* --- the kernel interface ------------------------------------------------ */

/* Write s to the pair file; 0 or -errno. */
static int pair_write(const char *s, size_t len)
{
	ssize_t r;
	int fd, err;

	fd = open(PAIR_PATH, O_WRONLY);
	if (fd < 0)
		return -errno;
	r = write(fd, s, len);
	err = r < 0 ? -errno : (size_t)r == len ? 0 : -EIO;
	close(fd);
	return err;
}

static int xchg(pid_t pid, const void *a, const void *b)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%d %lx %lx\n", (int)pid,
			 (unsigned long)a, (unsigned long)b);

	return pair_write(buf, n);
}

static const char *errname(int err)
{
	static char buf[32];

	switch (-err) {
	case 0: return "0";
	case EBUSY: return "EBUSY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EXDEV: return "EXDEV";
	case EINVAL: return "EINVAL";
	case ESRCH: return "ESRCH";
	case EFAULT: return "EFAULT";
	case ENOENT: return "ENOENT";
	case ENOMEM: return "ENOMEM";
	}
	snprintf(buf, sizeof(buf), "errno %d", -err);
	return buf;
}

enum { C_SUCCESS, C_BUSY, C_TYPE, C_ORDER, C_TLB, C_SPLIT, C_DIRECT, C_NR };
static const char *const counter_names[C_NR] = {
	"exchange_success", "exchange_fail_busy", "exchange_fail_type",
	"exchange_fail_order", "exchange_tlb_flush",
	"thp_split_pmd", "exchange_direct",
};

struct counters {
	int64_t v[C_NR];
};

static void counters_read(struct counters *c)
{
	struct ht_vmstat vs = { 0 };
	uint64_t v;
	int i;

	for (i = 0; i < C_NR; i++)
		c->v[i] = -1;
	if (ht_vmstat_read("/proc/vmstat", &vs))
		return;
	for (i = 0; i < C_NR; i++)
		if (!ht_vmstat_get(&vs, counter_names[i], &v))
			c->v[i] = v;
	ht_vmstat_free(&vs);
}

/*
 * Whether the counters moved by exactly want[] (the others not at all);
 * -1 in want means "don't care".  Prints the deltas on a mismatch.
 */
static int counters_moved(const struct counters *before, const int *want)
{
	struct counters now;
	int i, good = 1;

	counters_read(&now);
	for (i = 0; i < C_NR; i++) {
		if (before->v[i] < 0 || now.v[i] < 0) {
			good = 0;
			continue;
		}
		if (want[i] >= 0 && now.v[i] - before->v[i] != want[i])
			good = 0;
	}
	if (!good)
		for (i = 0; i < C_NR; i++)
			diag("%s: %lld -> %lld (want +%d)", counter_names[i],
			     (long long)before->v[i], (long long)now.v[i],
			     want[i]);
	return good;
}

/* A node's counter from /sys/devices/system/node/nodeN/vmstat, or -1. */
static long node_stat(int node, const char *name)
{
	char path[96], line[128];
	size_t len = strlen(name);
	long v = -1;
	FILE *f;

	/*
	 * Fold the per-CPU deltas first: each CPU may hold up to its stat
	 * threshold (tens of pages) that the node's count does not show yet.
	 */
	f = fopen("/proc/sys/vm/stat_refresh", "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/vmstat",
		 node);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ' ')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/* --- memory -------------------------------------------------------------- */

static int mbind_node(void *addr, size_t len, int node)
{
	unsigned long mask = 1UL << node;

	return syscall(SYS_mbind, addr, len, MPOL_BIND, &mask,
		       8 * sizeof(mask), 0) ? -errno : 0;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("xchgtest: mmap");
		exit(1);
	}
	return p;
}

/* A 2 MiB-aligned anonymous region of n huge pages, THP advised. */
static char *map_thp(size_t n)
{
	char *raw = map_anon((n + 1) * HPAGE);
	char *p = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));

	if (madvise(p, n * HPAGE, MADV_HUGEPAGE))
		perror("xchgtest: madvise(MADV_HUGEPAGE)");
	return p;
}

/* A page (or range) of len bytes, bound to node and filled from seed. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = mix(seed * 0x100000001b3ULL + i);
}

/* Whether p holds the pattern of seed. */
static int check(const void *p, size_t len, uint64_t seed)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != mix(seed * 0x100000001b3ULL + i))
			return 0;
	return 1;
}

/* The node every page of [p, p + len) of pid is on; -1 mixed or absent. */
static int node_of(pid_t pid, const void *p, size_t len)
{
	struct ht_placement pl;
	int n;

	if (ht_query_placement(pid, p, len, &pl))
		return -1;
	for (n = 0; n < HT_MAX_NODES; n++)
		if (pl.on_node[n] == pl.pages)
			return n;
	return -1;
}

/* Field (kB, such as "AnonHugePages") of the mapping of addr in smaps; -1. */
static long smaps_kb(const void *addr, const char *field)
{
	unsigned long a = (unsigned long)addr, start, end;
	size_t len = strlen(field);
	char line[256];
	int in = 0;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= start && a < end;
			continue;
		}
		if (in && !strncmp(line, field, len) && line[len] == ':' &&
		    sscanf(line + len + 1, "%ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static long anon_huge_kb(const void *addr)
{
	return smaps_kb(addr, "AnonHugePages");
}

/* --- scenarios ----------------------------------------------------------- */

/* Two pages, A on node 1 and B on node 0, filled from seeds sa and sb. */
static void two_pages(char **a, char **b, uint64_t sa, uint64_t sb)
{
	char *p = map_anon(2 * PAGE);

	*a = p;
	*b = p + PAGE;
	if (mbind_node(*a, PAGE, 1) || mbind_node(*b, PAGE, 0))
		perror("xchgtest: mbind");
	fill(*a, PAGE, sa);
	fill(*b, PAGE, sb);
}

static void test_basic(void)
{
	static const int want[C_NR] = { 100, 0, 0, 0, 100, -1, 200 };
	int rc_bad = 0, data_bad = 0, node_bad = 0, i, first_err = 0;
	long anon0, anon1, d0, d1;
	uint64_t sa = 1, sb = 2;
	struct timespec t0, t1;
	double us = 0;
	struct counters c;
	char *a, *b;

	two_pages(&a, &b, sa, sb);
	if (!ok(node_of(0, a, PAGE) == 1 && node_of(0, b, PAGE) == 0,
		"basic: page A on node 1, page B on node 0"))
		return;
	counters_read(&c);
	anon0 = node_stat(0, "nr_anon_pages");
	anon1 = node_stat(1, "nr_anon_pages");
	for (i = 0; i < 100; i++) {
		int na = (i & 1) ? 1 : 0;	/* A's node after i + 1 */
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = xchg(getpid(), a, b);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us += (t1.tv_sec - t0.tv_sec) * 1e6 +
		      (t1.tv_nsec - t0.tv_nsec) / 1e3;

		if (rc && !first_err)
			first_err = rc;
		rc_bad += rc != 0;
		data_bad += !check(a, PAGE, sa) || !check(b, PAGE, sb);
		node_bad += node_of(0, a, PAGE) != na ||
			    node_of(0, b, PAGE) != !na;
		/* new data: the pages must be writable in place */
		sa = 1000 + 2 * i;
		sb = 1001 + 2 * i;
		fill(a, PAGE, sa);
		fill(b, PAGE, sb);
		node_bad += node_of(0, a, PAGE) != na ||
			    node_of(0, b, PAGE) != !na;
	}
	d0 = node_stat(0, "nr_anon_pages") - anon0;
	d1 = node_stat(1, "nr_anon_pages") - anon1;
	diag("basic: %.1f us per exchange, debugfs write and LRU drain included",
	     us / 100);
	ok(!rc_bad, "basic: 100 exchanges of A and B succeed (%d failed, first %s)",
	   rc_bad, errname(first_err));
	ok(!data_bad, "basic: both pages keep their data across every exchange (%d bad)",
	   data_bad);
	ok(!node_bad, "basic: nodes swap with every exchange and stay put on writes (%d bad)",
	   node_bad);
	ok(counters_moved(&c, want),
	   "basic: exchange_success +100, exchange_tlb_flush +100, exchange_direct +200 (no rmap walk), no failures");
	ok(anon0 >= 0 && d0 > -16 && d0 < 16 && d1 > -16 && d1 < 16,
	   "basic: per-node nr_anon_pages unchanged (delta %ld, %ld)", d0, d1);
}

static void test_batch(void)
{
	static const int want[C_NR] = { 4, 0, 0, 0, 1, -1, 8 };
	char buf[256], *a[4], *b[4];
	int i, n, rc, data = 1, nodes = 1;
	struct counters c;

	n = snprintf(buf, sizeof(buf), "%d", (int)getpid());
	for (i = 0; i < 4; i++) {
		two_pages(&a[i], &b[i], 50 + 2 * i, 51 + 2 * i);
		n += snprintf(buf + n, sizeof(buf) - n, " %lx %lx",
			      (unsigned long)a[i], (unsigned long)b[i]);
	}
	counters_read(&c);
	rc = pair_write(buf, n);
	for (i = 0; i < 4; i++) {
		data &= check(a[i], PAGE, 50 + 2 * i) &&
			check(b[i], PAGE, 51 + 2 * i);
		nodes &= node_of(0, a[i], PAGE) == 0 &&
			 node_of(0, b[i], PAGE) == 1;
	}
	ok(!rc, "batch: one write of 4 pairs succeeds (%s)", errname(rc));
	ok(data && nodes, "batch: all 8 pages keep their data, all 4 pairs swapped nodes");
	ok(counters_moved(&c, want),
	   "batch: exchange_success +4 with a single exchange_tlb_flush, all 8 pages direct");
}

/* The most pairs one write takes, 2 MiB each way: one TLB flush. */
static void test_batch_max(void)
{
	static const int want[C_NR] = { MAX_PAIRS, 0, 0, 0, 1, -1,
					2 * MAX_PAIRS };
	size_t len = MAX_PAIRS * PAGE;
	char *a = map_anon(2 * len), *b = a + len, *buf;
	int i, n, rc, data = 1, nodes = 1;
	struct counters c;

	buf = malloc(BIG_WRITE);
	if (!buf) {
		perror("xchgtest: malloc");
		exit(1);
	}
	if (madvise(a, 2 * len, MADV_NOHUGEPAGE) || mbind_node(a, len, 1) ||
	    mbind_node(b, len, 0))
		perror("xchgtest: madvise/mbind");
	fill(a, len, 300);
	fill(b, len, 301);
	n = snprintf(buf, BIG_WRITE, "%d", (int)getpid());
	for (i = 0; i < MAX_PAIRS; i++)
		n += snprintf(buf + n, BIG_WRITE - n, " %lx %lx",
			      (unsigned long)(a + i * PAGE),
			      (unsigned long)(b + i * PAGE));
	counters_read(&c);
	rc = pair_write(buf, n);
	data = check(a, len, 300) && check(b, len, 301);
	nodes = node_of(0, a, len) == 0 && node_of(0, b, len) == 1;
	ok(!rc, "batch: one write of %d pairs succeeds (%s)", MAX_PAIRS,
	   errname(rc));
	ok(data && nodes, "batch: all %d pages keep their data and swapped nodes",
	   2 * MAX_PAIRS);
	ok(counters_moved(&c, want),
	   "batch: exchange_success +%d with a single exchange_tlb_flush",
	   MAX_PAIRS);
	free(buf);
	munmap(a, 2 * len);
}

/* The forked child: answers one byte per command byte from the parent. */
static void fork_child(int in, int out, char *a, char *b)
{
	char cmd, res;

	while (read(in, &cmd, 1) == 1) {
		switch (cmd) {
		case 'v':	/* as forked */
			res = check(a, PAGE, 11) && check(b, PAGE, 12);
			break;
		case 'w':	/* write A (COW), check */
			fill(a, PAGE, 21);
			res = check(a, PAGE, 21) && check(b, PAGE, 12);
			break;
		case 'V':	/* after the child's write */
			res = check(a, PAGE, 21) && check(b, PAGE, 12);
			break;
		default:
			_exit(0);
		}
		if (write(out, &res, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/*
 * Fork a child that runs fn(in, out, a, b), answering the parent over two
 * pipes (p2c, c2p: the parent's ends stay open); its pid, or -1.
 */
static pid_t fork_asked(int p2c[2], int c2p[2],
			void (*fn)(int in, int out, char *a, char *b),
			char *a, char *b, const char *what)
{
	pid_t child;

	if (pipe(p2c) || pipe(c2p)) {
		ok(0, "%s: pipes", what);
		return -1;
	}
	child = fork();
	if (child < 0) {
		ok(0, "%s: fork()", what);
		return -1;
	}
	if (!child) {
		close(p2c[1]);
		close(c2p[0]);
		fn(p2c[0], c2p[1], a, b);
	}
	close(p2c[0]);
	close(c2p[1]);
	return child;
}

static int ask(int out, int in, char cmd)
{
	char res = 0;

	if (write(out, &cmd, 1) != 1 || read(in, &res, 1) != 1)
		return 0;
	return res == 1;
}

static void test_fork(void)
{
	/* Pages mapped twice go through the rmap; a private one does not. */
	static const int shared[C_NR] = { 1, 0, 0, 0, 1, -1, 0 };
	static const int one_private[C_NR] = { 1, 0, 0, 0, 1, -1, 1 };
	int p2c[2], c2p[2], rc, status;
	struct counters c;
	char *a, *b;
	pid_t child;

	two_pages(&a, &b, 11, 12);
	child = fork_asked(p2c, c2p, fork_child, a, b, "fork");
	if (child < 0)
		return;

	counters_read(&c);
	rc = xchg(getpid(), a, b);
	ok(!rc, "fork: exchange of two COW-shared pages (mapcount 2) succeeds (%s)",
	   errname(rc));
	ok(counters_moved(&c, shared),
	   "fork: both shared pages unmapped through the rmap (exchange_direct +0)");
	ok(check(a, PAGE, 11) && check(b, PAGE, 12) &&
	   node_of(0, a, PAGE) == 0 && node_of(0, b, PAGE) == 1,
	   "fork: parent sees its data, on swapped nodes");
	ok(node_of(child, a, PAGE) == 0 && node_of(child, b, PAGE) == 1,
	   "fork: child maps the same exchanged pages (move_pages on the child)");
	ok(ask(p2c[1], c2p[0], 'v'), "fork: child sees its data");
	ok(ask(p2c[1], c2p[0], 'w'),
	   "fork: child writes A (COW still works after the exchange)");
	ok(check(a, PAGE, 11) && check(b, PAGE, 12),
	   "fork: the child's write did not reach the parent");

	/* the child's A is its own now; B is still shared */
	counters_read(&c);
	rc = xchg(child, a, b);
	ok(!rc, "fork: exchange of the child's private A with shared B (%s)",
	   errname(rc));
	ok(counters_moved(&c, one_private),
	   "fork: the child's private A unmapped directly, shared B through the rmap");
	ok(ask(p2c[1], c2p[0], 'V') && check(a, PAGE, 11) &&
	   check(b, PAGE, 12),
	   "fork: child and parent both still see their own data");
	fill(b, PAGE, 22);
	ok(ask(p2c[1], c2p[0], 'V') && check(b, PAGE, 22),
	   "fork: parent writes B (COW), the child keeps the old B");

	close(p2c[1]);
	waitpid(child, &status, 0);
	close(c2p[0]);
	ok(WIFEXITED(status) && !WEXITSTATUS(status), "fork: child exits 0");
}

static void test_thp(char **xp, int *have_thp)
{
	static const int want[C_NR] = { 10, 0, 0, 0, 10, 0, 20 };
	static const int one_pmd[C_NR] = { 1, 0, 0, 0, 1, 0, 1 };
	int rc_bad = 0, data_bad = 0, node_bad = 0, i, rc, first_err = 0;
	long thp0, thp1, d0, d1;
	uint64_t sx = 31, sy = 32;
	struct counters c;
	char *x, *y;

	x = map_thp(2);
	y = x + HPAGE;
	if (mbind_node(x, HPAGE, 1) || mbind_node(y, HPAGE, 0))
		perror("xchgtest: mbind");
	fill(x, HPAGE, sx);
	fill(y, HPAGE, sy);
	*xp = x;
	*have_thp = anon_huge_kb(x) == 2048 && anon_huge_kb(y) == 2048;
	if (!*have_thp) {
		diag("AnonHugePages %ld, %ld kB", anon_huge_kb(x),
		     anon_huge_kb(y));
		skip("thp: exchange of two THPs", "no THP allocated");
		return;
	}
	ok(node_of(0, x, HPAGE) == 1 && node_of(0, y, HPAGE) == 0,
	   "thp: THP X on node 1, THP Y on node 0, both PMD-mapped");
	counters_read(&c);
	thp0 = node_stat(0, "nr_anon_transparent_hugepages");
	thp1 = node_stat(1, "nr_anon_transparent_hugepages");
	for (i = 0; i < 10; i++) {
		int nx = (i & 1) ? 1 : 0;

		rc = xchg(getpid(), x + 12345, y + HPAGE - 1);
		if (rc && !first_err)
			first_err = rc;
		rc_bad += rc != 0;
		data_bad += !check(x, HPAGE, sx) || !check(y, HPAGE, sy);
		node_bad += node_of(0, x, HPAGE) != nx ||
			    node_of(0, y, HPAGE) != !nx;
		sx = 300 + 2 * i;
		sy = 301 + 2 * i;
		fill(x, HPAGE, sx);
		fill(y, HPAGE, sy);
	}
	d0 = node_stat(0, "nr_anon_transparent_hugepages") - thp0;
	d1 = node_stat(1, "nr_anon_transparent_hugepages") - thp1;
	ok(!rc_bad, "thp: 10 exchanges of whole THPs succeed (%d failed, first %s)",
	   rc_bad, errname(first_err));
	ok(!data_bad, "thp: both THPs keep their 2 MiB of data (%d bad)", data_bad);
	ok(!node_bad, "thp: all 512 pages of each swap nodes every time (%d bad)",
	   node_bad);
	ok(anon_huge_kb(x) == 2048 && anon_huge_kb(y) == 2048,
	   "thp: both still PMD-mapped THPs (AnonHugePages 2048 kB each)");
	ok(counters_moved(&c, want),
	   "thp: exchange_success +10, exchange_tlb_flush +10, exchange_direct +20 (each PMD unmapped directly), thp_split_pmd +0");
	ok(thp0 >= 0 && !d0 && !d1,
	   "thp: per-node nr_anon_transparent_hugepages unchanged (delta %ld, %ld)",
	   d0, d1);

	/* X mapped by PTEs (a 4 KiB mprotect splits the PMD), Y by a PMD */
	if (mprotect(x + PAGE, PAGE, PROT_READ)) {
		ok(0, "thp: mprotect");
		return;
	}
	counters_read(&c);
	rc = xchg(getpid(), x, y);
	ok(!rc && check(x, HPAGE, sx) && check(y, HPAGE, sy) &&
	   node_of(0, x, HPAGE) == 0 && node_of(0, y, HPAGE) == 1,
	   "thp: PTE-mapped THP exchanged with a PMD-mapped one (%s), data intact, nodes swapped",
	   errname(rc));
	ok(counters_moved(&c, one_pmd),
	   "thp: the PMD-mapped side unmapped directly, the PTE-mapped one through the rmap (exchange_direct +1)");
	ok(anon_huge_kb(y) == 2048,
	   "thp: the PMD-mapped side stays PMD-mapped (AnonHugePages %ld kB)",
	   anon_huge_kb(y));
	mprotect(x + PAGE, PAGE, PROT_READ | PROT_WRITE);
	fill(x, HPAGE, 41);
	rc = xchg(getpid(), x, y);
	ok(!rc && check(x, HPAGE, 41) && check(y, HPAGE, sy) &&
	   node_of(0, x, HPAGE) == 1 && node_of(0, y, HPAGE) == 0,
	   "thp: and back after writing the PTE-mapped side (%s)", errname(rc));
}

static void test_order(char *x, int have_thp)
{
	static const int want[C_NR] = { 0, 0, 0, 1, 0, 0, 0 };
	struct counters c;
	char *a, *b;
	int rc, nx;

	if (!have_thp) {
		skip("order: THP vs 4 KiB page refused", "no THP allocated");
		return;
	}
	two_pages(&a, &b, 61, 62);
	fill(x, HPAGE, 63);
	nx = node_of(0, x, HPAGE);
	counters_read(&c);
	rc = xchg(getpid(), x, b);
	ok(rc == -EXDEV, "order: THP vs 4 KiB page refused with EXDEV (%s)",
	   errname(rc));
	ok(check(x, HPAGE, 63) && check(b, PAGE, 62) &&
	   node_of(0, x, HPAGE) == nx && node_of(0, b, PAGE) == 0,
	   "order: both keep data and node");
	ok(counters_moved(&c, want), "order: exchange_fail_order +1, nothing else");
}

static void test_pinned(void)
{
	static const int want[C_NR] = { 0, 1, 0, 0, 0, 0, 0 };
	static const int want2[C_NR] = { 1, 0, 0, 0, 1, 0, 2 };
	char *a, *b, *buf = map_anon(PAGE);
	struct iovec iov;
	struct counters c;
	int pfd[2], rc;

	two_pages(&a, &b, 71, 72);
	if (pipe(pfd)) {
		ok(0, "pinned: pipe");
		return;
	}
	iov.iov_base = a;
	iov.iov_len = PAGE;
	if (!ok(vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)PAGE,
		"pinned: vmsplice A into a pipe (the pipe holds a reference)"))
		return;
	counters_read(&c);
	rc = xchg(getpid(), a, b);
	ok(rc == -EBUSY, "pinned: exchange refused with EBUSY (%s)", errname(rc));
	ok(check(a, PAGE, 71) && check(b, PAGE, 72) &&
	   node_of(0, a, PAGE) == 1 && node_of(0, b, PAGE) == 0,
	   "pinned: both keep data and node");
	ok(counters_moved(&c, want),
	   "pinned: exchange_fail_busy +1, no TLB flush (refused before unmapping)");
	ok(read(pfd[0], buf, PAGE) == (ssize_t)PAGE && check(buf, PAGE, 71),
	   "pinned: the pipe reads A's data");
	counters_read(&c);
	rc = xchg(getpid(), a, b);
	ok(!rc && check(a, PAGE, 71) && node_of(0, a, PAGE) == 0,
	   "pinned: exchange succeeds once the pipe is drained (%s)", errname(rc));
	ok(counters_moved(&c, want2), "pinned: and is counted as a success");
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * A memfd of n pages mapped shared, page i bound to nodes[i] and filled
 * from seed + i; its fd in *fdp.  NULL on failure.
 */
static char *map_memfd(int *fdp, size_t n, const int *nodes, uint64_t seed)
{
	int fd = syscall(SYS_memfd_create, "xchgtest", 0);
	char *m;
	size_t i;

	if (fd < 0 || ftruncate(fd, n * PAGE)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	m = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (mbind_node(m + i * PAGE, PAGE, nodes[i]))
			perror("xchgtest: mbind (memfd)");
		fill(m + i * PAGE, PAGE, seed + i);
	}
	*fdp = fd;
	return m;
}

/* Whether page i of the file fd holds the pattern of seed, read(2) there. */
static int check_file(int fd, size_t i, uint64_t seed)
{
	static char buf[PAGE];

	return pread(fd, buf, PAGE, i * PAGE) == (ssize_t)PAGE &&
	       check(buf, PAGE, seed);
}

/* Whether 2 MiB at THP i of the file fd hold the pattern of seed, read(2). */
static int check_file_thp(int fd, size_t i, uint64_t seed)
{
	char *buf = malloc(HPAGE);
	int good;

	good = buf && pread(fd, buf, HPAGE, i * HPAGE) == (ssize_t)HPAGE &&
	       check(buf, HPAGE, seed);
	free(buf);
	return good;
}

/* The forked child of test_shmem(): checks its shared view of m and m2. */
static void shmem_child(int in, int out, char *m, char *m2)
{
	char cmd, res;

	while (read(in, &cmd, 1) == 1) {
		if (cmd == 'v')		/* as written (maps both, too) */
			res = check(m, PAGE, 91) && check(m2, PAGE, 93);
		else if (cmd == 'W')	/* after the parent's write to m */
			res = check(m, PAGE, 94) && check(m2, PAGE, 93);
		else
			_exit(0);
		if (write(out, &res, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/*
 * Small shmem folios (memfd): exchanged with each other within a file and
 * across files, directly when mapped once and through the rmap when a
 * child maps them too; read(2) of the file sees the data where it was
 * written.  An anonymous page with a shmem one is refused.
 */
/* Per-node nr_shmem, nr_file_pages and nr_anon_pages, to take deltas of. */
struct kinds {
	long shmem[2], file[2], anon[2];
};

static void kinds_read(struct kinds *k)
{
	int n;

	for (n = 0; n < 2; n++) {
		k->shmem[n] = node_stat(n, "nr_shmem");
		k->file[n] = node_stat(n, "nr_file_pages");
		k->anon[n] = node_stat(n, "nr_anon_pages");
	}
}

/* Whether one page of shmem went from node @from to the other, anon back. */
static int kinds_moved(const struct kinds *k0, int from, long *d)
{
	struct kinds k;
	int n, to = !from;

	kinds_read(&k);
	for (n = 0; n < 2; n++) {
		d[3 * n] = k.shmem[n] - k0->shmem[n];
		d[3 * n + 1] = k.file[n] - k0->file[n];
		d[3 * n + 2] = k.anon[n] - k0->anon[n];
	}
	return d[3 * from] == -1 && d[3 * to] == 1 &&
	       d[3 * from + 1] == -1 && d[3 * to + 1] == 1 &&
	       d[3 * from + 2] == 1 && d[3 * to + 2] == -1;
}

/*
 * An anonymous page @a (node 1) with page 0 of the memfd @fd, mapped at
 * @m (node 0): exchanged, each virtual page keeping its kind, and back
 * with the shmem page first.  The page cache counters follow the shmem
 * data to its node, the anonymous ones the anonymous data.
 */
static void test_mixed(char *a, char *m, int fd)
{
	/* success, busy, type, order, tlb, split, direct */
	static const int mixed[C_NR] = { 1, 0, 0, 0, 1, 0, 2 };
	struct counters c;
	struct kinds k;
	long d[6];
	int rc, moved;

	if (node_of(0, a, PAGE) != 1 || node_of(0, m, PAGE) != 0) {
		ok(0, "mixed: anonymous page on node 1, memfd page on node 0");
		return;
	}
	counters_read(&c);
	kinds_read(&k);
	rc = xchg(getpid(), a, m);
	ok(!rc, "mixed: an anonymous page with a shmem page exchanged (%s)",
	   errname(rc));
	ok(check(a, PAGE, 95) && check(m, PAGE, 93) && check_file(fd, 0, 93) &&
	   node_of(0, a, PAGE) == 0 && node_of(0, m, PAGE) == 1,
	   "mixed: both keep their data, mapped and in the file; nodes swapped");
	moved = kinds_moved(&k, 0, d);
	ok(moved,
	   "mixed: nr_shmem and nr_file_pages moved from node 0 to node 1, nr_anon_pages back (node 0: %+ld %+ld %+ld, node 1: %+ld %+ld %+ld)",
	   d[0], d[1], d[2], d[3], d[4], d[5]);
	ok(counters_moved(&c, mixed),
	   "mixed: exchange_success +1, both unmapped directly");
	fill(a, PAGE, 97);
	ok(check(m, PAGE, 93) && check_file(fd, 0, 93),
	   "mixed: a write to the anonymous page does not reach the file");
	fill(m, PAGE, 98);
	ok(check_file(fd, 0, 98) && check(a, PAGE, 97),
	   "mixed: a write to the memfd page reaches the file");

	counters_read(&c);
	kinds_read(&k);
	rc = xchg(getpid(), m, a);
	ok(!rc && check(a, PAGE, 97) && check(m, PAGE, 98) &&
	   check_file(fd, 0, 98) && node_of(0, a, PAGE) == 1 &&
	   node_of(0, m, PAGE) == 0,
	   "mixed: back again, shmem page first: data kept, nodes swapped (%s)",
	   errname(rc));
	moved = kinds_moved(&k, 1, d);
	ok(moved && counters_moved(&c, mixed),
	   "mixed: the counters moved back (node 0: %+ld %+ld %+ld, node 1: %+ld %+ld %+ld)",
	   d[0], d[1], d[2], d[3], d[4], d[5]);
	shmem_pairs += 2;
}

static void test_shmem(void)
{
	/* success, busy, type, order, tlb, split, direct */
	static const int pair[C_NR] = { 1, 0, 0, 0, 1, 0, 2 };
	static const int shared[C_NR] = { 1, 0, 0, 0, 1, 0, 0 };
	static const int nodes[2] = { 1, 0 }, node0[1] = { 0 };
	int fd, fd2, rc, p2c[2], c2p[2], status;
	struct counters c;
	char *m, *m2, *a, *b;
	pid_t child;

	m = map_memfd(&fd, 2, nodes, 91);
	m2 = map_memfd(&fd2, 1, node0, 93);
	if (!m || !m2) {
		ok(0, "shmem: two memfds mapped shared");
		return;
	}
	ok(node_of(0, m, PAGE) == 1 && node_of(0, m + PAGE, PAGE) == 0 &&
	   node_of(0, m2, PAGE) == 0, "shmem: memfd pages placed by mbind");

	counters_read(&c);
	rc = xchg(getpid(), m, m + PAGE);
	ok(!rc, "shmem: exchange of two pages of a memfd succeeds (%s)",
	   errname(rc));
	ok(check(m, PAGE, 91) && check(m + PAGE, PAGE, 92) &&
	   node_of(0, m, PAGE) == 0 && node_of(0, m + PAGE, PAGE) == 1,
	   "shmem: both keep their data through the mapping, nodes swapped");
	ok(check_file(fd, 0, 91) && check_file(fd, 1, 92),
	   "shmem: read(2) of the memfd sees the same data (page cache swapped)");
	ok(counters_moved(&c, pair),
	   "shmem: exchange_success +1, both unmapped directly");

	counters_read(&c);
	rc = xchg(getpid(), m + PAGE, m2);
	ok(!rc, "shmem: exchange across two memfds succeeds (%s)", errname(rc));
	ok(check(m + PAGE, PAGE, 92) && check(m2, PAGE, 93) &&
	   check_file(fd, 1, 92) && check_file(fd2, 0, 93) &&
	   node_of(0, m + PAGE, PAGE) == 0 && node_of(0, m2, PAGE) == 1,
	   "shmem: each file keeps its data, nodes swapped");
	ok(counters_moved(&c, pair), "shmem: counted as one exchange");

	child = fork_asked(p2c, c2p, shmem_child, m, m2, "shmem");
	if (child < 0)
		return;
	/* Fork copies no PTE of a shared file mapping: the child faults. */
	ok(ask(p2c[1], c2p[0], 'v'), "shmem: a forked child maps both memfds");
	counters_read(&c);
	rc = xchg(getpid(), m, m2);
	ok(!rc, "shmem: exchange of pages a child maps too (mapcount 2) succeeds (%s)",
	   errname(rc));
	ok(counters_moved(&c, shared),
	   "shmem: both unmapped through the rmap (exchange_direct +0)");
	ok(node_of(0, m, PAGE) == 1 && node_of(child, m, PAGE) == 1 &&
	   node_of(child, m2, PAGE) == 0,
	   "shmem: parent and child map the exchanged pages");
	ok(ask(p2c[1], c2p[0], 'v') && check(m, PAGE, 91) &&
	   check(m2, PAGE, 93) && check_file(fd2, 0, 93),
	   "shmem: parent and child see the data");
	fill(m, PAGE, 94);
	ok(ask(p2c[1], c2p[0], 'W') && check_file(fd, 0, 94),
	   "shmem: a write after the exchange reaches the child and the file");
	close(p2c[1]);
	waitpid(child, &status, 0);
	close(c2p[0]);
	ok(WIFEXITED(status) && !WEXITSTATUS(status), "shmem: child exits 0");

	two_pages(&a, &b, 95, 96);
	test_mixed(a, m2, fd2);
	shmem_pairs += 3;
	close(fd);
	close(fd2);
	munmap(m, 2 * PAGE);
	munmap(m2, PAGE);
}

/*
 * Page cache that is not shmem: a page of a file on ramfs, mapped
 * privately, is refused.  (The initramfs is tmpfs: our own executable's
 * page cache is shmem, which a private mapping of it shares until a
 * write; such a page may be exchanged, and keeps its data.)
 */
#define RAMFS_DIR	"/tmp/xchgtest-ramfs"

static void test_file(void)
{
	static const int want[C_NR] = { 0, 0, 1, 0, 0, 0, 0 };
	static const int one[C_NR] = { 1, 0, 0, 0, 1, 0, 1 };
	char page[PAGE], *a, *b, *f;
	volatile char sink;
	struct counters c;
	int fd, rc;

	two_pages(&a, &b, 81, 82);
	memset(page, 0x5a, sizeof(page));
	mkdir(RAMFS_DIR, 0700);
	if (mount("ramfs", RAMFS_DIR, "ramfs", 0, NULL)) {
		ok(0, "file: mount ramfs (%s)", strerror(errno));
		return;
	}
	fd = open(RAMFS_DIR "/f", O_RDWR | O_CREAT, 0600);
	f = fd < 0 || write(fd, page, PAGE) != PAGE ? MAP_FAILED :
	    mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (f == MAP_FAILED) {
		ok(0, "file: a ramfs file mapped privately");
	} else {
		sink = f[0];	/* fault it in */
		counters_read(&c);
		rc = xchg(getpid(), a, f);
		ok(rc == -EOPNOTSUPP && f[0] == 0x5a && f[PAGE - 1] == 0x5a,
		   "file: ramfs page cache page (private file mapping) refused with EOPNOTSUPP (%s)",
		   errname(rc));
		ok(check(a, PAGE, 81) && node_of(0, a, PAGE) == 1,
		   "file: the anonymous page keeps data and node");
		ok(counters_moved(&c, want),
		   "file: exchange_fail_type +1, nothing else");
		munmap(f, PAGE);
	}
	umount(RAMFS_DIR);
	rmdir(RAMFS_DIR);

	fd = open("/proc/self/exe", O_RDONLY);
	f = fd < 0 || pread(fd, page, PAGE, 0) != PAGE ? MAP_FAILED :
	    mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (f == MAP_FAILED) {
		ok(0, "file: mmap of our own executable");
		return;
	}
	sink = f[0];
	counters_read(&c);
	rc = xchg(getpid(), a, f);
	ok(!rc && !memcmp(f, page, PAGE) && check(a, PAGE, 81) &&
	   node_of(0, a, PAGE) == 0 && node_of(0, f, PAGE) == 1,
	   "file: a page of our executable (tmpfs: shmem page cache, node 0) exchanged with an anonymous page (node 1), both keep their data, nodes swapped (%s)",
	   errname(rc));
	ok(counters_moved(&c, one),
	   "file: exchange_success +1, the anonymous page unmapped directly");
	shmem_pairs++;
	(void)sink;
	munmap(f, PAGE);
}

/* A FOLL_PIN (longterm) pin: io_uring fixed buffers. */
static void test_foll_pin(void)
{
	static const int want[C_NR] = { 0, 1, 0, 0, 0, 0, 0 };
	struct io_uring_params params;
	struct counters c;
	struct iovec iov;
	int fd, rc, na;
	char *a, *b;

	two_pages(&a, &b, 101, 102);
	memset(&params, 0, sizeof(params));
	fd = syscall(SYS_io_uring_setup, 1, &params);
	iov.iov_base = a;
	iov.iov_len = PAGE;
	if (fd < 0 || syscall(SYS_io_uring_register, fd,
			      IORING_REGISTER_BUFFERS, &iov, 1)) {
		diag("io_uring: %s", strerror(errno));
		skip("foll_pin: exchange of a page pinned by io_uring refused",
		     "io_uring fixed buffers unavailable");
		if (fd >= 0)
			close(fd);
		return;
	}
	/* a longterm pin may have moved it out of a movable zone */
	na = node_of(0, a, PAGE);
	counters_read(&c);
	rc = xchg(getpid(), a, b);
	ok(rc == -EBUSY,
	   "foll_pin: page pinned as an io_uring fixed buffer refused with EBUSY (%s)",
	   errname(rc));
	ok(check(a, PAGE, 101) && check(b, PAGE, 102) &&
	   node_of(0, a, PAGE) == na && node_of(0, b, PAGE) == 0,
	   "foll_pin: both keep data and node");
	ok(counters_moved(&c, want),
	   "foll_pin: exchange_fail_busy +1, no TLB flush (refused before unmapping)");
	rc = syscall(SYS_io_uring_register, fd, IORING_UNREGISTER_BUFFERS,
		     NULL, 0) ? -errno : 0;
	close(fd);
	if (!rc)
		rc = xchg(getpid(), a, b);
	ok(!rc && check(a, PAGE, 101) && check(b, PAGE, 102) &&
	   node_of(0, b, PAGE) == na,
	   "foll_pin: exchange succeeds once the buffer is unregistered (%s)",
	   errname(rc));
}

/* Run on the current CPU only; the old mask in @old.  False: not pinned. */
static bool pin_to_this_cpu(cpu_set_t *old)
{
	int cpu = sched_getcpu();
	cpu_set_t one;

	if (cpu < 0 || sched_getaffinity(0, sizeof(*old), old))
		return false;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return !sched_setaffinity(0, sizeof(one), &one);
}

/* Kinds refused by type: mlocked, lazyfree (MADV_FREE), hugetlb. */
static void test_kinds(void)
{
	static const int want1[C_NR] = { 0, 0, 1, 0, 0, 0, 0 };
	struct counters c;
	char *a, *b, *h;
	cpu_set_t cpus;
	bool pinned;
	int rc;
	FILE *f;

	two_pages(&a, &b, 111, 112);
	if (mlock(a, PAGE)) {
		ok(0, "kinds: mlock (%s)", strerror(errno));
	} else {
		counters_read(&c);
		rc = xchg(getpid(), a, b);
		ok(rc == -EOPNOTSUPP, "kinds: mlocked page refused with EOPNOTSUPP (%s)",
		   errname(rc));
		ok(check(a, PAGE, 111) && check(b, PAGE, 112) &&
		   node_of(0, a, PAGE) == 1 && node_of(0, b, PAGE) == 0 &&
		   counters_moved(&c, want1),
		   "kinds: mlocked: data and nodes kept, exchange_fail_type +1");
		munlock(a, PAGE);
		rc = xchg(getpid(), a, b);
		ok(!rc && check(a, PAGE, 111) && node_of(0, a, PAGE) == 0,
		   "kinds: exchange succeeds after munlock (%s)", errname(rc));
	}

	/*
	 * MADV_FREE marks only folios on the LRU, and a new one waits in
	 * the per-CPU batch of the CPU that faulted it in, which madvise()
	 * drains on its own CPU only: fault and advise on one CPU.
	 */
	pinned = pin_to_this_cpu(&cpus);
	two_pages(&a, &b, 113, 114);
	rc = madvise(a, PAGE, MADV_FREE);
	if (pinned)
		sched_setaffinity(0, sizeof(cpus), &cpus);
	if (rc) {
		ok(0, "kinds: madvise(MADV_FREE) (%s)", strerror(errno));
	} else {
		counters_read(&c);
		rc = xchg(getpid(), a, b);
		ok(rc == -EOPNOTSUPP,
		   "kinds: lazyfree (MADV_FREE) page refused with EOPNOTSUPP (%s)",
		   errname(rc));
		ok(check(b, PAGE, 114) && node_of(0, b, PAGE) == 0 &&
		   counters_moved(&c, want1),
		   "kinds: lazyfree: the other page kept, exchange_fail_type +1");
	}

	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (f) {
		fprintf(f, "2\n");
		fclose(f);
	}
	h = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h == MAP_FAILED) {
		skip("kinds: hugetlb page refused", "no hugetlb page");
	} else {
		fill(h, HPAGE, 115);
		counters_read(&c);
		rc = xchg(getpid(), h, b);
		ok(rc == -EOPNOTSUPP,
		   "kinds: hugetlb page refused with EOPNOTSUPP (%s)", errname(rc));
		ok(check(h, HPAGE, 115) && check(b, PAGE, 114) &&
		   counters_moved(&c, want1),
		   "kinds: hugetlb: data kept, exchange_fail_type +1");
		munmap(h, HPAGE);
	}
	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (f) {
		fprintf(f, "0\n");
		fclose(f);
	}
}

/* Writes the parent's exchanges must never lose. */
struct racer {
	uint64_t *page[2];
	volatile int stop;
	long writes, bad;
};

static void *race_writer(void *arg)
{
	struct racer *r = arg;
	uint64_t shadow[2][PAGE / 8] = { { 0 } }, n = 0;
	int p, i;

	while (!r->stop) {
		n++;
		p = n & 1;
		i = (n >> 1) % (PAGE / 8);
		r->page[p][i] = n;
		shadow[p][i] = n;
		if (n % 4096 == 0 || r->stop)
			for (p = 0; p < 2; p++)
				for (i = 0; i < (int)(PAGE / 8); i++)
					r->bad += r->page[p][i] != shadow[p][i];
	}
	for (p = 0; p < 2; p++)
		for (i = 0; i < (int)(PAGE / 8); i++)
			r->bad += r->page[p][i] != shadow[p][i];
	r->writes = n;
	return NULL;
}

static void test_race(void)
{
	struct racer r = { 0 };
	int i, rc, rc_ok = 0, rc_bad = 0;
	pthread_t t;
	char *a, *b;

	two_pages(&a, &b, 0, 0);
	memset(a, 0, PAGE);
	memset(b, 0, PAGE);
	r.page[0] = (uint64_t *)a;
	r.page[1] = (uint64_t *)b;
	if (pthread_create(&t, NULL, race_writer, &r)) {
		ok(0, "race: writer thread");
		return;
	}
	for (i = 0; i < 200; i++) {
		rc = xchg(getpid(), a, b);
		rc_ok += !rc;
		rc_bad += rc && rc != -EBUSY;
	}
	r.stop = 1;
	pthread_join(t, NULL);
	ok(rc_ok > 0 && !rc_bad,
	   "race: 200 exchanges under a writer thread: %d succeed, the others EBUSY",
	   rc_ok);
	ok(r.writes > 0 && !r.bad,
	   "race: none of %ld writes lost or misplaced (%ld bad words)",
	   r.writes, r.bad);
}

/*
 * Exchanges racing with a writer, with fork() (which copies migration
 * entries) and with mprotect() splitting a THP's PMD mapping: static data
 * must stay intact in the parent and in every child, and no write may be
 * lost.
 */
/* Zaps page A (MADV_DONTNEED, mmap_lock for reading only) and rewrites it. */
struct zapper {
	char *a;
	volatile int stop;
	long zaps, bad;
};

/*
 * What a bad refill holds: zeros from the first bad word on meant writes
 * that went through a stale TLB entry into the folio being exchanged.
 */
static void zap_report(const char *a, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)a;
	size_t k, nr = 0, first = PAGE / 8;

	for (k = 0; k < PAGE / 8; k++) {
		if (w[k] == mix(seed * 0x100000001b3ULL + k))
			continue;
		nr++;
		if (first == PAGE / 8)
			first = k;
	}
	printf("# zap: refill %lu: %zu bad words, the first (%zu) holds %016lx\n",
	       (unsigned long)seed, nr, first,
	       (unsigned long)w[first % (PAGE / 8)]);
}

static void *zap_thread(void *arg)
{
	struct zapper *z = arg;
	uint64_t seed = 1000;

	while (!z->stop) {
		madvise(z->a, PAGE, MADV_DONTNEED);
		fill(z->a, PAGE, ++seed);
		if (!check(z->a, PAGE, seed)) {
			zap_report(z->a, seed);
			z->bad++;
		}
		z->zaps++;
		/* Let some exchanges find A mapped and idle. */
		usleep(1000);
	}
	return NULL;
}

/*
 * The exchange unmaps where the page tables say, under mmap_lock for
 * reading: MADV_DONTNEED may zap the migration entry meanwhile.  The zapped
 * page must stay zapped (its refill is not overwritten), the other keep its
 * data.
 */
/* What exchange_amid() saw. */
struct amid {
	int ok, busy, absent, bad, first_bad, b_bad;
};

/*
 * 300 exchanges of a and b while a racer takes a away: EBUSY and ENOENT
 * (a gone and not refaulted yet; EBUSY also when it went after the debugfs
 * write isolated it) are the only errors expected, and b, filled from
 * b_seed, must keep its data.
 */
static void exchange_amid(char *a, char *b, uint64_t b_seed, struct amid *r)
{
	int i, rc;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 300; i++) {
		rc = xchg(getpid(), a, b);
		r->ok += !rc;
		r->busy += rc == -EBUSY;
		r->absent += rc == -ENOENT;
		if (rc && rc != -EBUSY && rc != -ENOENT) {
			r->bad++;
			if (!r->first_bad)
				r->first_bad = rc;
		}
		r->b_bad += !check(b, PAGE, b_seed);
	}
}

static void test_zap(void)
{
	struct zapper z = { 0 };
	struct amid r;
	int rc;
	pthread_t t;
	char *a, *b;

	two_pages(&a, &b, 130, 131);
	z.a = a;
	if (pthread_create(&t, NULL, zap_thread, &z)) {
		ok(0, "zap: thread");
		return;
	}
	exchange_amid(a, b, 131, &r);
	z.stop = 1;
	pthread_join(t, NULL);
	ok(r.ok + r.busy > 0 && !r.bad,
	   "zap: 300 exchanges amid MADV_DONTNEED of one page: %d succeed, %d EBUSY, %d ENOENT, no other error (first other %s)",
	   r.ok, r.busy, r.absent, errname(r.first_bad));
	ok(!r.b_bad, "zap: the other page keeps its data (%d bad reads)",
	   r.b_bad);
	ok(z.zaps > 0 && !z.bad,
	   "zap: each of %ld refills of the zapped page reads back (%ld bad)",
	   z.zaps, z.bad);
	/* Whatever the race left, an exchange now works and keeps both. */
	fill(a, PAGE, 132);
	rc = xchg(getpid(), a, b);
	ok(!rc && check(a, PAGE, 132) && check(b, PAGE, 131),
	   "zap: afterwards an exchange succeeds and keeps both pages' data (%s)",
	   errname(rc));
}

struct puncher {
	char *m;		/* page 0 of the memfd, mapped shared */
	int fd;
	volatile int stop;
	long punches, bad;
};

/* Punch page 0 out of the memfd and refill it, checked both ways. */
static void *punch_thread(void *arg)
{
	struct puncher *p = arg;
	uint64_t seed = 2000;

	while (!p->stop) {
		if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      0, PAGE)) {
			p->bad++;
			break;
		}
		fill(p->m, PAGE, ++seed);
		if (!check(p->m, PAGE, seed) || !check_file(p->fd, 0, seed))
			p->bad++;
		p->punches++;
		usleep(1000);
	}
	return NULL;
}

/* Write s to a sysfs file; 0 or -errno. */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		rc = -errno;
	close(fd);
	return rc;
}

#define SHMEM_ENABLED	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* ShmemPmdMapped of the two VMAs at x and x + HPAGE, in kB. */
static long pmd_mapped_kb(const char *x)
{
	return smaps_kb(x, "ShmemPmdMapped") +
	       smaps_kb(x + HPAGE, "ShmemPmdMapped");
}

/* Whether p holds the pattern of seed from its word first on. */
static int check_from(const void *p, size_t len, uint64_t seed, size_t first)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != mix(seed * 0x100000001b3ULL + first + i))
			return 0;
	return 1;
}

/* read(2)s the 4 KiB pages of two memfd THPs filled from seed and seed + 1. */
struct thp_reader {
	int fd;
	uint64_t seed;
	unsigned int step;	/* through the 1024 pages, odd */
	volatile int stop;
	long reads, bad;
};

/* Busy for us microseconds: a reader that sleeps would leave a CPU free. */
static void spin_us(long us)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000L +
	       (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void *thp_reader(void *arg)
{
	struct thp_reader *r = arg;
	static const size_t per = HPAGE / PAGE;
	uint64_t buf[PAGE / 8];
	size_t j = 0;

	while (!r->stop) {
		j = (j + r->step) % (2 * per);
		if (pread(r->fd, buf, PAGE, j * PAGE) != (ssize_t)PAGE ||
		    !check_from(buf, PAGE, r->seed + j / per,
				(j % per) * (PAGE / 8)))
			r->bad++;
		r->reads++;
		/* Hold no reference for a while: some freezes succeed. */
		spin_us(100);
	}
	return NULL;
}

/* Enough that the kernel before the fix hung in each of 3 runs. */
#define READER_XCHGS	3000

/*
 * A page cache lookup spins, without yielding, on a frozen folio: two
 * threads, as many as the guest's vCPUs, read(2) the two THPs while they
 * are exchanged over and over.  The exchange must never leave a shmem
 * THP frozen while it could be scheduled out (the readers would then
 * hold every CPU), and each read sees its page's data.
 */
static void test_shmem_thp_readers(char *x, int fd)
{
	struct thp_reader r[2] = {
		{ .fd = fd, .seed = 151, .step = 1 },
		{ .fd = fd, .seed = 151, .step = 357 },
	};
	int i, rc, done = 0, busy = 0, other = 0, first = 0;
	pthread_t t[2];
	int nt;

	for (nt = 0; nt < 2; nt++)
		if (pthread_create(&t[nt], NULL, thp_reader, &r[nt]))
			break;
	for (i = 0; i < READER_XCHGS; i++) {
		rc = xchg(getpid(), x + 4321, x + 2 * HPAGE - 1);
		done += !rc;
		busy += rc == -EBUSY;
		if (rc && rc != -EBUSY) {
			other++;
			if (!first)
				first = rc;
		}
	}
	for (i = 0; i < nt; i++) {
		r[i].stop = 1;
		pthread_join(t[i], NULL);
	}
	shmem_thp_pairs += done;
	ok(nt == 2 && done > 0 && !other,
	   "shmem thp: %d exchanges amid 2 read(2) threads: %d succeed, %d EBUSY, no other error (first other %s)",
	   READER_XCHGS, done, busy, errname(first));
	ok(r[0].reads > 0 && r[1].reads > 0 && !r[0].bad && !r[1].bad,
	   "shmem thp: each of %ld reads during them saw its page's data (%ld bad)",
	   r[0].reads + r[1].reads, r[0].bad + r[1].bad);
	ok(check(x, HPAGE, 151) && check(x + HPAGE, HPAGE, 152),
	   "shmem thp: afterwards both THPs hold their data");
}

/*
 * Shmem THPs (memfd, shmem_enabled=advise and MADV_HUGEPAGE): two of them
 * exchanged whole, still PMD-mapped, page cache slots swapped; a shmem
 * THP with a 4 KiB memfd page refused with EXDEV.
 */
static void test_shmem_thp(void)
{
	static const int want[C_NR] = { 1, 0, 0, 0, 1, 0, 2 };
	static const int order[C_NR] = { 0, 0, 0, 1, 0, 0, 0 };
	static const int nodes[2] = { 1, 0 };
	char old[64] = "", *x, *p, *m;
	int fd, fdm, rc, n, n0;
	long thp[2], shm[2];
	struct counters c;
	FILE *f;

	f = fopen(SHMEM_ENABLED, "r");
	if (f) {
		if (!fgets(old, sizeof(old), f))
			old[0] = '\0';
		fclose(f);
	}
	/* "always within_size [advise] never ...": the bracketed one */
	p = strchr(old, '[');
	n = p ? (int)strcspn(p + 1, "]") : 0;
	if (!p || write_file(SHMEM_ENABLED, "advise")) {
		skip("shmem thp: exchange of two shmem THPs",
		     "shmem_enabled not settable");
		return;
	}
	fd = syscall(SYS_memfd_create, "xchgtest-thp", 0);
	x = fd < 0 || ftruncate(fd, 2 * HPAGE) ? MAP_FAILED :
	    mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (x != MAP_FAILED && madvise(x, 2 * HPAGE, MADV_HUGEPAGE))
		perror("xchgtest: madvise(MADV_HUGEPAGE) of a memfd");
	if (x != MAP_FAILED && (mbind_node(x, HPAGE, 1) ||
				mbind_node(x + HPAGE, HPAGE, 0)))
		perror("xchgtest: mbind (memfd THP)");
	if (x != MAP_FAILED) {
		fill(x, HPAGE, 151);
		fill(x + HPAGE, HPAGE, 152);
	}
	/* mbind made each half a VMA of its own */
	if (x == MAP_FAILED || pmd_mapped_kb(x) != 4096) {
		diag("ShmemPmdMapped %ld kB", x == MAP_FAILED ? -1 :
		     pmd_mapped_kb(x));
		skip("shmem thp: exchange of two shmem THPs",
		     "no shmem THP allocated");
		goto out;
	}
	ok(node_of(0, x, HPAGE) == 1 && node_of(0, x + HPAGE, HPAGE) == 0,
	   "shmem thp: two PMD-mapped shmem THPs, on node 1 and node 0");
	counters_read(&c);
	for (n0 = 0; n0 < 2; n0++) {
		thp[n0] = node_stat(n0, "nr_shmem_hugepages");
		shm[n0] = node_stat(n0, "nr_shmem");
	}
	rc = xchg(getpid(), x + 4321, x + 2 * HPAGE - 1);
	ok(!rc, "shmem thp: exchange of the two succeeds (%s)", errname(rc));
	for (n0 = 0; n0 < 2; n0++) {
		thp[n0] -= node_stat(n0, "nr_shmem_hugepages");
		shm[n0] -= node_stat(n0, "nr_shmem");
	}
	ok(!thp[0] && !thp[1] && !shm[0] && !shm[1],
	   "shmem thp: per-node nr_shmem_hugepages and nr_shmem unchanged (deltas %ld, %ld; %ld, %ld)",
	   -thp[0], -thp[1], -shm[0], -shm[1]);
	ok(check(x, HPAGE, 151) && check(x + HPAGE, HPAGE, 152) &&
	   node_of(0, x, HPAGE) == 0 && node_of(0, x + HPAGE, HPAGE) == 1,
	   "shmem thp: each keeps its 2 MiB of data, all 512 pages of each swapped nodes");
	ok(pmd_mapped_kb(x) == 4096,
	   "shmem thp: both still PMD-mapped (ShmemPmdMapped %ld kB)",
	   pmd_mapped_kb(x));
	ok(check_file_thp(fd, 0, 151) && check_file_thp(fd, 1, 152),
	   "shmem thp: read(2) of the memfd sees the same 4 MiB");
	ok(counters_moved(&c, want),
	   "shmem thp: exchange_success +1, both unmapped from their PMDs directly (exchange_direct +2), no PMD split");
	test_shmem_thp_readers(x, fd);
	m = map_memfd(&fdm, 1, nodes + 1, 153);
	if (!m) {
		ok(0, "shmem thp: a 4 KiB memfd page");
		goto out;
	}
	counters_read(&c);
	rc = xchg(getpid(), x, m);
	ok(rc == -EXDEV && check(x, HPAGE, 151) && check(m, PAGE, 153),
	   "shmem thp: a shmem THP with a 4 KiB memfd page refused with EXDEV (%s), both intact",
	   errname(rc));
	ok(counters_moved(&c, order), "shmem thp: exchange_fail_order +1");
	shmem_thp_pairs++;	/* the first exchange of the two THPs */
	close(fdm);
	munmap(m, PAGE);
out:
	if (x != MAP_FAILED)
		munmap(x, 2 * HPAGE);
	if (fd >= 0)
		close(fd);
	p[1 + n] = '\0';
	write_file(SHMEM_ENABLED, p + 1);
}

/*
 * Shmem pages are truncated under the folio lock, which the exchange
 * holds: a hole punched in the memfd meets the exchange at every step
 * (before it isolates, while the page is unmapped, while it is frozen).
 * The punched page must read back each refill, the other keep its data.
 */
static void test_shmem_punch(void)
{
	static const int nodes[2] = { 1, 0 };
	struct puncher p = { 0 };
	struct amid r;
	int fd, rc;
	pthread_t t;
	char *m;

	m = map_memfd(&fd, 2, nodes, 141);
	if (!m) {
		ok(0, "punch: memfd mapped shared");
		return;
	}
	p.m = m;
	p.fd = fd;
	if (pthread_create(&t, NULL, punch_thread, &p)) {
		ok(0, "punch: thread");
		return;
	}
	exchange_amid(m, m + PAGE, 142, &r);
	p.stop = 1;
	pthread_join(t, NULL);
	ok(r.ok > 0 && !r.bad,
	   "punch: 300 exchanges amid hole punches of one page: %d succeed, %d EBUSY, %d ENOENT, no other error (first other %s)",
	   r.ok, r.busy, r.absent, errname(r.first_bad));
	ok(!r.b_bad && check_file(fd, 1, 142),
	   "punch: the other page keeps its data, mapped and in the file (%d bad reads)",
	   r.b_bad);
	ok(p.punches > 0 && !p.bad,
	   "punch: each of %ld refills of the punched page reads back, mapped and from the file (%ld bad)",
	   p.punches, p.bad);
	fill(m, PAGE, 143);
	rc = xchg(getpid(), m, m + PAGE);
	shmem_pairs += r.ok + !rc;
	ok(!rc && check(m, PAGE, 143) && check(m + PAGE, PAGE, 142) &&
	   check_file(fd, 0, 143),
	   "punch: afterwards an exchange succeeds and keeps both pages' data (%s)",
	   errname(rc));
	close(fd);
	munmap(m, 2 * PAGE);
}

struct chaos {
	char *x;		/* THP whose PMD the toggler splits */
	volatile int stop;
	long toggles;
};

static void *chaos_toggler(void *arg)
{
	struct chaos *ch = arg;

	while (!ch->stop) {
		mprotect(ch->x + PAGE, PAGE, PROT_READ);
		mprotect(ch->x + PAGE, PAGE, PROT_READ | PROT_WRITE);
		ch->toggles++;
	}
	return NULL;
}

static void test_chaos(void)
{
	int i, n, rc, rc_ok = 0, rc_bad = 0, kids = 0, kids_bad = 0, status;
	struct racer r = { 0 };
	struct chaos ch = { 0 };
	char buf[128], *a, *b, *x, *y, *w0, *w1;
	pthread_t tw, tt;
	pid_t kid;

	two_pages(&a, &b, 121, 122);
	two_pages(&w0, &w1, 0, 0);
	memset(w0, 0, PAGE);
	memset(w1, 0, PAGE);
	x = map_thp(2);
	y = x + HPAGE;
	if (mbind_node(x, HPAGE, 1) || mbind_node(y, HPAGE, 0))
		perror("xchgtest: mbind");
	fill(x, HPAGE, 123);
	fill(y, HPAGE, 124);
	r.page[0] = (uint64_t *)w0;
	r.page[1] = (uint64_t *)w1;
	ch.x = x;
	if (pthread_create(&tw, NULL, race_writer, &r)) {
		ok(0, "chaos: writer thread");
		return;
	}
	if (pthread_create(&tt, NULL, chaos_toggler, &ch)) {
		r.stop = 1;
		pthread_join(tw, NULL);
		ok(0, "chaos: mprotect thread");
		return;
	}
	n = snprintf(buf, sizeof(buf), "%d %lx %lx %lx %lx %lx %lx",
		     (int)getpid(), (unsigned long)a, (unsigned long)b,
		     (unsigned long)x, (unsigned long)y, (unsigned long)w0,
		     (unsigned long)w1);
	for (i = 0; i < 100; i++) {
		rc = pair_write(buf, n);
		rc_ok += !rc;
		rc_bad += rc && rc != -EBUSY;
		if (i % 10 != 5)
			continue;
		kid = fork();
		if (!kid)
			_exit(!(check(a, PAGE, 121) && check(b, PAGE, 122) &&
				check(x, HPAGE, 123) && check(y, HPAGE, 124)));
		kids++;
		if (kid < 0 || waitpid(kid, &status, 0) != kid ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			kids_bad++;
	}
	ch.stop = 1;
	r.stop = 1;
	pthread_join(tt, NULL);
	pthread_join(tw, NULL);
	ok(rc_ok > 0 && !rc_bad,
	   "chaos: 100 batches of 3 pairs (4 KiB, THP, written 4 KiB) amid fork and mprotect: %d succeed, the others EBUSY",
	   rc_ok);
	ok(check(a, PAGE, 121) && check(b, PAGE, 122) &&
	   check(x, HPAGE, 123) && check(y, HPAGE, 124),
	   "chaos: static 4 KiB pages and THPs intact (%ld mprotect toggles)",
	   ch.toggles);
	ok(kids == 10 && !kids_bad,
	   "chaos: %d forked children see the same data (%d bad)", kids,
	   kids_bad);
	ok(r.writes > 0 && !r.bad,
	   "chaos: none of %ld writes lost or misplaced (%ld bad words)",
	   r.writes, r.bad);
}

static void test_input(void)
{
	static const int want[C_NR] = { 0, 0, 0, 0, 0, 0, 0 };
	char buf[400], *a, *b, *untouched, *x, *big;
	struct counters c;
	pid_t me = getpid();
	int rc, i, n;

	two_pages(&a, &b, 91, 92);
	untouched = map_anon(PAGE);
	counters_read(&c);
#define BAD(s, err, what) do {						\
		rc = pair_write(s, strlen(s));				\
		ok(rc == (err), "input: %s: %s (%s)", what,		\
		   errname(err), errname(rc));				\
	} while (0)
	BAD("garbage", -EINVAL, "not a pid");
	snprintf(buf, sizeof(buf), "%d", me);
	BAD(buf, -EINVAL, "no addresses");
	snprintf(buf, sizeof(buf), "%d %lx", me, (unsigned long)a);
	BAD(buf, -EINVAL, "one address");
	snprintf(buf, sizeof(buf), "%d %lx %lx %lx", me, (unsigned long)a,
		 (unsigned long)b, (unsigned long)a);
	BAD(buf, -EINVAL, "odd number of addresses");
	snprintf(buf, sizeof(buf), "%d %lx zz", me, (unsigned long)a);
	BAD(buf, -EINVAL, "address not hex");
	snprintf(buf, sizeof(buf), "0 %lx %lx", (unsigned long)a,
		 (unsigned long)b);
	BAD(buf, -EINVAL, "pid 0");
	snprintf(buf, sizeof(buf), "-1 %lx %lx", (unsigned long)a,
		 (unsigned long)b);
	BAD(buf, -EINVAL, "negative pid");
	big = malloc(BIG_WRITE + 1);
	if (!big) {
		perror("xchgtest: malloc");
		exit(1);
	}
	n = snprintf(big, BIG_WRITE, "%d", me);
	for (i = 0; i < 513; i++)
		n += snprintf(big + n, BIG_WRITE - n, " %lx %lx",
			      (unsigned long)a, (unsigned long)b);
	BAD(big, -EINVAL, "513 pairs");
	memset(big, '1', BIG_WRITE);
	big[BIG_WRITE] = '\0';
	BAD(big, -EINVAL, "24 KiB");
	free(big);
	snprintf(buf, sizeof(buf), "99999999 %lx %lx", (unsigned long)a,
		 (unsigned long)b);
	BAD(buf, -ESRCH, "no such process");
	snprintf(buf, sizeof(buf), "%d 1000 %lx", me, (unsigned long)b);
	BAD(buf, -EFAULT, "address outside any mapping");
	snprintf(buf, sizeof(buf), "%d %lx %lx", me,
		 (unsigned long)untouched, (unsigned long)b);
	BAD(buf, -ENOENT, "page never touched");
	snprintf(buf, sizeof(buf), "%d %lx %lx", me, (unsigned long)a,
		 (unsigned long)a + 8);
	BAD(buf, -EINVAL, "the same page twice");
	x = map_thp(1);
	fill(x, HPAGE, 93);
	if (anon_huge_kb(x) == 2048) {
		snprintf(buf, sizeof(buf), "%d %lx %lx", me, (unsigned long)x,
			 (unsigned long)x + HPAGE / 2);
		BAD(buf, -EINVAL, "two pages of the same THP");
	} else {
		skip("input: two pages of the same THP", "no THP allocated");
	}
#undef BAD
	ok(check(a, PAGE, 91) && check(b, PAGE, 92),
	   "input: nothing was exchanged");
	ok(counters_moved(&c, want), "input: no exchange_* counter moved");
	snprintf(buf, sizeof(buf), "%d\t0x%lx  0x%lx\n", me, (unsigned long)a,
		 (unsigned long)b);
	rc = pair_write(buf, strlen(buf));
	ok(!rc && node_of(0, a, PAGE) == 0,
	   "input: tabs, double blanks, 0x prefixes and a newline are accepted (%s)",
	   errname(rc));
}

int main(int argc, char **argv)
{
	char *x = NULL;
	int have_thp;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: xchgtest   (prints TAP)\n");
		return 2;
	}
	if (access(PAIR_PATH, W_OK)) {
		printf("1..0 # SKIP %s: %s\n", PAIR_PATH, strerror(errno));
		return 1;
	}
	test_basic();
	test_batch();
	test_batch_max();
	test_fork();
	test_thp(&x, &have_thp);
	test_order(x, have_thp);
	test_pinned();
	test_file();
	test_shmem();
	test_shmem_thp();
	test_foll_pin();
	test_kinds();
	test_race();
	test_zap();
	test_shmem_punch();
	test_chaos();
	test_input();
	diag("shmem: %d pairs of 4 KiB and %d of THPs exchanged", shmem_pairs,
	     shmem_thp_pairs);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

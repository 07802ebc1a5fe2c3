// SPDX-License-Identifier: GPL-2.0
/*
 * integrity - checksummed writer threads over memory that the kernel is
 * moving underneath them: folio exchange (/sys/kernel/debug/exchange/pair),
 * move_pages(2), HPlacement (when enabled), with fork(), munmap/mmap/mremap,
 * mprotect and THP splits and collapses racing.  Every page holds a
 * self-describing image of (its address, its generation) with a checksum
 * (lib/pattern.h); writers verify each page before they rewrite it with the
 * next generation, forked children verify their copy-on-write snapshot, and
 * everything is verified once more at the end.  Any difference is a
 * corruption: reported on stderr as a JSON line, the run stops, exit 1.
 * The summary is one JSON line on stdout.  See Documentation/guest-tools.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/htutil.h"
#include "lib/nodelist.h"
#include "lib/pattern.h"
#include "lib/vmstat.h"

#define PAIR_PATH	"/sys/kernel/debug/exchange/pair"
#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define PPR		(HPAGE / PAGE)	/* pages per region */
#define CHUNK		32		/* pages a writer does per lock hold */
#define MPOL_DEFAULT	0
#define MPOL_PREFERRED	1
#define MPOL_MF_MOVE	(1 << 1)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
#define MAX_WRITERS	64
#define MAX_PAIRS	4

static struct {
	uint64_t size, fill_free, seed;
	double duration, inject_at;
	int threads, fill, inject;	/* inject: 0 none, 1 flip, 2 zero */
	int fork, munmap, mprotect, split, move, exchange;
	int shmem;	/* shared anonymous memory (shmem) instead of private */
	int shmem_filler;	/* the filler alone shmem: mixed exchanges */
} cfg = {
	.size = 64ULL << 20, .seed = 1, .duration = 20, .threads = 2,
	.inject_at = -1,
};

/*
 * The buffer is cut into 2 MiB regions: odd ones THP-advised, even ones
 * MADV_NOHUGEPAGE; regions 4k..4k+3 give each of the two kinds on each of the
 * two nodes to one writer.  A region's lock is taken shared by its writer
 * and exclusively by racers that change what is mapped there or its
 * protection.  gen[] and cur[] are what a forked child checks its snapshot
 * against: every store to them is ordered after the page stores it describes.
 */
struct region {
	pthread_rwlock_t lock;
	char *addr;
	int thp, node, writer;
	_Atomic int busy;	/* being unmapped/refilled: children skip it */
	int ro;			/* mprotect(PROT_READ): writer only verifies */
};

static char *base, *spare, *filler;
static size_t nregions, npages, filler_size;
static struct region *regions;
static _Atomic uint64_t *gen;		/* per page */
static _Atomic long cur[MAX_WRITERS];	/* page a writer is rewriting, or -1 */
static atomic_int stop;
static _Atomic pid_t child_pid;
static double t_start;
static uint64_t mem_nodes = 1;		/* nodes with memory */

/* counters (relaxed atomics: several threads add to some) */
static _Atomic uint64_t n_verified, n_rewrites, n_child_verified, n_forks,
	n_fork_failed, n_munmaps, n_remaps, n_mremaps, n_mremap_refused,
	n_mprotects, n_split_cold, n_split_mprotect, n_split_munmap,
	n_split_madvise, n_collapses, n_collapse_failed, n_moved,
	n_move_failed, n_xwrites, n_xwrites_ok, n_xpairs_ok, n_xpairs_failed,
	n_xchild, n_corruptions, n_errors, n_final_verified;

static const int xerrnos[] = { EBUSY, EXDEV, ENOENT, EFAULT, ESRCH };
static const char *const xerrnames[] = { "EBUSY", "EXDEV", "ENOENT", "EFAULT",
					 "ESRCH" };
#define NXERR (sizeof(xerrnos) / sizeof(xerrnos[0]))
static _Atomic uint64_t n_xerr[NXERR], n_xunexpected;

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_report[1200];
static char error_report[512];
static char injected[160];

static const char *const vm_names[] = {
	"exchange_success", "exchange_fail_busy", "exchange_fail_type",
	"exchange_fail_order", "exchange_tlb_flush",
	"hpl_promotions", "hpl_exchanges", "hpl_demotions", "pgmigrate_success",
	"thp_split_pmd", "thp_split_page", "thp_collapse_alloc",
	"thp_fault_alloc",
};
#define NVM (sizeof(vm_names) / sizeof(vm_names[0]))

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: integrity [options]\n"
		"  --size SIZE        buffer, a multiple of 8M (default 64M)\n"
		"  --threads N        writer threads (default 2)\n"
		"  --duration S       seconds (default 20)\n"
		"  --all              every racer below\n"
		"  --fork --munmap --mprotect --split --move --exchange\n"
		"                     racers: fork+verify children; munmap/mmap/mremap\n"
		"                     of regions; mprotect RO/RW; THP splits and\n"
		"                     collapses; move_pages; debugfs exchanges\n"
		"  --fill-fmem FREE   fill node 0 with cold pages until FREE is left\n"
		"  --shmem            buffer and filler shared anonymous memory\n"
		"                     (shmem; THP regions where shmem_enabled\n"
		"                     allows); children map the buffer and verify\n"
		"                     the filler\n"
		"  --shmem-filler     the filler alone shmem: HPlacement exchanges\n"
		"                     hot anonymous pages with cold shmem ones\n"
		"  --inject flip|zero corrupt a page at --inject-at (self-test)\n"
		"  --inject-at S      (default: half of --duration)\n"
		"  --seed N           PRNG seed (default 1)\n");
}

#define die_opt(opt, ...) ht_die_opt("integrity", opt, __VA_ARGS__)

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "integrity: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void sleep_ms(double ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_nsec = (long)(fmod(ms, 1000) * 1e6),
	};

	nanosleep(&ts, NULL);
}

static inline uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

static uint64_t seed_for(int id)
{
	uint64_t z = cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)id * 0xbf58476d1ce4e5b9ULL;

	z = (z ^ (z >> 31)) * 0x94d049bb133111ebULL;
	return z ? z : 1;
}

static void add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* An unexpected failure of a syscall: not a corruption, but the run is bad. */
static void report_error(const char *what, int err)
{
	pthread_mutex_lock(&report_lock);
	if (!error_report[0])
		snprintf(error_report, sizeof(error_report), "%s: %s", what,
			 strerror(err));
	pthread_mutex_unlock(&report_lock);
	if (atomic_fetch_add(&n_errors, 1) < 10)
		fprintf(stderr, "integrity: %s: %s\n", what, strerror(err));
}

/* --- memory -------------------------------------------------------------- */

static int set_policy(void *addr, size_t len, int mode, int node)
{
	unsigned long mask = 1UL << node;

	/* a one-node machine (the host): first touch it is */
	if (mode != MPOL_DEFAULT && !(mem_nodes & mask))
		return 0;
	return syscall(SYS_mbind, addr, len, mode,
		       mode == MPOL_DEFAULT ? NULL : &mask,
		       mode == MPOL_DEFAULT ? 0 : 8 * sizeof(mask), 0) ? -errno : 0;
}

/* The node of one page of pid, or -errno (-ENOENT: not present). */
static int page_node(pid_t pid, const void *addr)
{
	void *p = (void *)addr;
	int status = -1;

	if (syscall(SYS_move_pages, pid, 1UL, &p, NULL, &status, 0))
		return -errno;
	return status;
}

/* A generation above that of every page of the region. */
static uint64_t next_gen(struct region *r)
{
	size_t first = (r - regions) * PPR, p;
	uint64_t g = 0;

	for (p = first; p < first + PPR; p++)
		if (gen[p] > g)
			g = gen[p];
	return g + 1;
}

static void fill_region(struct region *r, uint64_t g)
{
	size_t first = (r - regions) * PPR, p;

	for (p = 0; p < PPR; p++) {
		ht_pat_fill(r->addr + p * PAGE, (uintptr_t)(r->addr + p * PAGE), g);
		atomic_store_explicit(&gen[first + p], g, memory_order_release);
	}
}

/*
 * Map fresh memory at the region (MAP_FIXED over whatever is there), advise
 * it, fill it with generation g.  The policy prefers the region's node, also
 * for the copies that copy-on-write makes after a fork, so that both nodes
 * keep pages; migrations (move_pages, exchange, HPlacement) ignore it.
 */
static int map_region(struct region *r, uint64_t g)
{
	if (mmap(r->addr, HPAGE, PROT_READ | PROT_WRITE,
		 (cfg.shmem ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS |
		 MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	if (madvise(r->addr, HPAGE, r->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		return -errno;
	if (set_policy(r->addr, HPAGE, MPOL_PREFERRED, r->node))
		return -errno;
	fill_region(r, g);
	return 0;
}

/* --- corruption reports -------------------------------------------------- */

/*
 * Describe a page that failed its check into buf (JSON object).  Safe in a
 * forked child: no stdio streams, no malloc.
 */
static int describe(char *buf, size_t len, const char *by, const void *addr,
		    long idx, uint64_t want_gen, const struct ht_pat_err *e,
		    pid_t pid)
{
	long r = idx >= 0 ? idx / (long)PPR : -1;

	return snprintf(buf, len,
		"{\"by\": \"%s\", \"t\": %.3f, \"addr\": \"%p\", \"region\": %ld, "
		"\"thp\": %d, \"page\": %ld, \"gen_expected\": %" PRIu64 ", "
		"\"kind\": \"%s\", \"word\": %u, \"expected\": \"0x%" PRIx64 "\", "
		"\"found\": \"0x%" PRIx64 "\", \"bad_words\": %u, "
		"\"found_addr\": \"0x%" PRIx64 "\", \"found_gen\": %" PRIu64 ", "
		"\"node\": %d}",
		by, ht_now() - t_start, addr, r, r >= 0 ? regions[r].thp : -1,
		idx >= 0 ? idx % (long)PPR : -1, want_gen,
		ht_pat_kind_name(e->kind), e->word, e->expected, e->found,
		e->bad_words, e->found_addr, e->found_gen,
		page_node(pid, addr));
}

static void corrupt(const char *by, const void *addr, long idx,
		    uint64_t want_gen, const struct ht_pat_err *e)
{
	char buf[sizeof(first_report)];

	describe(buf, sizeof(buf), by, addr, idx, want_gen, e, 0);
	pthread_mutex_lock(&report_lock);
	if (!first_report[0])
		memcpy(first_report, buf, sizeof(first_report));
	fprintf(stderr, "{\"corruption\": %s}\n", buf);
	pthread_mutex_unlock(&report_lock);
	add(&n_corruptions, 1);
	atomic_store(&stop, 1);
}

/* Check page idx of the buffer against generation g; 0 or 1 (reported). */
static int check_page(const char *by, long idx, uint64_t g)
{
	const char *a = base + idx * PAGE;
	struct ht_pat_err e;

	if (!ht_pat_check(a, (uintptr_t)a, g, &e))
		return 0;
	corrupt(by, a, idx, g, &e);
	return 1;
}

/* Verify a whole region that the caller holds exclusively. */
static int check_region(const char *by, struct region *r)
{
	size_t first = (r - regions) * PPR, p;
	int bad = 0;

	for (p = 0; p < PPR && !bad; p++)
		bad = check_page(by, first + p, atomic_load(&gen[first + p]));
	add(&n_verified, p);
	return bad;
}

/* --- writers ------------------------------------------------------------- */

static void *writer(void *arg)
{
	int w = (int)(intptr_t)arg;
	size_t ri, p, q;

	atomic_store(&cur[w], -1);
	while (!atomic_load(&stop)) {
		for (ri = 0; ri < nregions && !atomic_load(&stop); ri++) {
			struct region *r = &regions[ri];

			if (r->writer != w)
				continue;
			for (p = 0; p < PPR && !atomic_load(&stop); p += CHUNK) {
				pthread_rwlock_rdlock(&r->lock);
				for (q = p; q < p + CHUNK; q++) {
					long idx = ri * PPR + q;
					uint64_t g = atomic_load_explicit(
						&gen[idx], memory_order_relaxed);
					char *a = r->addr + q * PAGE;

					if (check_page("writer", idx, g))
						break;
					add(&n_verified, 1);
					if (r->ro)
						continue;
					atomic_store_explicit(&cur[w], idx,
							      memory_order_release);
					ht_pat_fill(a, (uintptr_t)a, g + 1);
					atomic_store_explicit(&gen[idx], g + 1,
							      memory_order_release);
					atomic_store_explicit(&cur[w], -1,
							      memory_order_release);
					add(&n_rewrites, 1);
				}
				pthread_rwlock_unlock(&r->lock);
			}
		}
	}
	return NULL;
}

/* --- fork ---------------------------------------------------------------- */

static int child_is_cur(long idx)
{
	int w;

	for (w = 0; w < cfg.threads; w++)
		if (atomic_load(&cur[w]) == idx)
			return 1;
	return 0;
}

/* In the child: report a corruption to the parent (fd 4) and exit 3. */
static void __attribute__((noreturn))
child_corrupt(char *buf, size_t len, const char *by, const void *a, long idx,
	      uint64_t g, const struct ht_pat_err *e)
{
	int n = describe(buf, len, by, a, idx, g, e, getpid());

	if (n > 0 && (size_t)n < len && write(4, buf, n) != n)
		_exit(1);
	_exit(3);
}

/*
 * In the child: its snapshot is the writers' state at some point of each
 * writer's program order, so every page but the one a writer was rewriting
 * must match gen[].  Writes a few pages of its own (copy-on-write), sleeps a
 * little so that exchanges see the pages shared, then checks everything.
 * Exit 0, 3 when corrupted (reported on stderr), 1 on errors.
 */
static void __attribute__((noreturn)) child(uint64_t x)
{
	char buf[1200];
	struct ht_pat_err e;
	uint64_t checked = 0, own = 1ULL << 40;
	volatile char sink;
	size_t i, ri, p;
	int n;

	/*
	 * shmem: the child shares the writers' pages, which change under it,
	 * and keeps a region the parent mapped anew: it maps every page (so
	 * that exchanges find them mapped twice and take the rmap) and
	 * verifies the filler, which nobody rewrites.
	 */
	for (p = 0; cfg.shmem && p < npages; p++) {
		ri = p / PPR;
		if (!atomic_load(&regions[ri].busy))
			sink = base[p * PAGE];
	}
	(void)sink;
	for (i = 0; i < 8 && !cfg.shmem; i++) {
		ri = rnd(&x) % nregions;
		p = ri * PPR + rnd(&x) % PPR;
		/* the parent may be between mprotect() and setting ro */
		if (atomic_load(&regions[ri].busy) || child_is_cur(p) ||
		    mprotect(base + p * PAGE, PAGE, PROT_READ | PROT_WRITE))
			continue;
		ht_pat_fill(base + p * PAGE, (uintptr_t)(base + p * PAGE),
			    atomic_load(&gen[p]) + own);
		atomic_store(&gen[p], atomic_load(&gen[p]) + own);
	}
	sleep_ms(20 + rnd(&x) % 80);
	for (ri = 0; ri < nregions && !cfg.shmem; ri++) {
		if (atomic_load(&regions[ri].busy))
			continue;
		for (p = ri * PPR; p < (ri + 1) * PPR; p++) {
			const char *a = base + p * PAGE;
			uint64_t g = atomic_load(&gen[p]);

			if (child_is_cur(p))
				continue;
			checked++;
			if (!ht_pat_check(a, (uintptr_t)a, g, &e))
				continue;
			child_corrupt(buf, sizeof(buf), "fork child", a, p, g,
				      &e);
		}
	}
	/* shmem: the filler is all the child checks, so more of it */
	for (i = 0; i < (cfg.shmem ? 2048 : 256) && filler_size; i++) {
		p = rnd(&x) % (filler_size / PAGE);
		checked++;
		if (ht_pat_check(filler + p * PAGE,
				 (uintptr_t)(filler + p * PAGE), 0, &e)) {
			child_corrupt(buf, sizeof(buf), "fork child (filler)",
				      filler + p * PAGE, -1, 0, &e);
		}
	}
	/* the parent adds this to its count */
	n = snprintf(buf, sizeof(buf), "%" PRIu64, checked);
	if (write(4, buf, n) != n)
		_exit(1);
	_exit(0);
}

static void *forker(void *arg)
{
	uint64_t x = seed_for((int)(intptr_t)arg);
	char buf[1200];
	int status, fds[2];
	ssize_t n;
	pid_t pid;

	while (!atomic_load(&stop)) {
		sleep_ms(100 + rnd(&x) % 100);
		if (pipe(fds)) {
			report_error("pipe", errno);
			break;
		}
		pid = fork();
		if (pid < 0) {
			report_error("fork", errno);
			break;
		}
		if (!pid) {
			if (dup2(fds[1], 4) != 4)
				_exit(1);
			child(x);
		}
		close(fds[1]);
		atomic_store(&child_pid, pid);
		n = read(fds[0], buf, sizeof(buf) - 1);
		close(fds[0]);
		atomic_store(&child_pid, 0);
		if (waitpid(pid, &status, 0) != pid) {
			report_error("waitpid", errno);
			break;
		}
		add(&n_forks, 1);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
			buf[n > 0 ? n : 0] = '\0';
			pthread_mutex_lock(&report_lock);
			if (!first_report[0])
				snprintf(first_report, sizeof(first_report),
					 "%s", buf);
			fprintf(stderr, "{\"corruption\": %s}\n", buf);
			pthread_mutex_unlock(&report_lock);
			add(&n_corruptions, 1);
			atomic_store(&stop, 1);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) || n <= 0) {
			add(&n_fork_failed, 1);
			report_error("fork child failed", WIFSIGNALED(status) ?
			      EINTR : EIO);
		} else {
			buf[n] = '\0';
			add(&n_child_verified, strtoull(buf, NULL, 10));
		}
	}
	return NULL;
}

/* --- munmap, mmap over, mremap away and back ----------------------------- */

static void *unmapper(void *arg)
{
	uint64_t x = seed_for((int)(intptr_t)arg), k = 0;
	struct region *r;
	int err;

	while (!atomic_load(&stop)) {
		sleep_ms(20 + rnd(&x) % 40);
		r = &regions[rnd(&x) % nregions];
		pthread_rwlock_wrlock(&r->lock);
		if (r->ro || check_region("unmapper", r)) {
			pthread_rwlock_unlock(&r->lock);
			continue;
		}
		atomic_store(&r->busy, 1);
		switch (k++ % 3) {
		case 0:		/* munmap, then a new mapping */
			if (munmap(r->addr, HPAGE)) {
				report_error("munmap", errno);
				break;
			}
			err = map_region(r, next_gen(r));
			if (err)
				report_error("mmap after munmap", -err);
			add(&n_munmaps, 1);
			break;
		case 1:		/* a new mapping over the old one */
			err = map_region(r, next_gen(r));
			if (err)
				report_error("mmap MAP_FIXED", -err);
			add(&n_remaps, 1);
			break;
		case 2:		/* page tables moved away and back */
			if (mremap(r->addr, HPAGE, HPAGE,
				   MREMAP_MAYMOVE | MREMAP_FIXED, spare) ==
			    MAP_FAILED) {
				/* a region split into several VMAs */
				if (errno != EFAULT)
					report_error("mremap", errno);
				add(&n_mremap_refused, 1);
				break;
			}
			if (mremap(spare, HPAGE, HPAGE,
				   MREMAP_MAYMOVE | MREMAP_FIXED, r->addr) ==
			    MAP_FAILED) {
				report_error("mremap back", errno);
				exit(1);
			}
			if (mmap(spare, HPAGE, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
				 MAP_NORESERVE, -1, 0) == MAP_FAILED)
				report_error("mmap spare", errno);
			check_region("unmapper (after mremap)", r);
			add(&n_mremaps, 1);
			break;
		}
		atomic_store(&r->busy, 0);
		pthread_rwlock_unlock(&r->lock);
	}
	return NULL;
}

/* --- mprotect ------------------------------------------------------------ */

static void *protector(void *arg)
{
	uint64_t x = seed_for((int)(intptr_t)arg);
	struct region *r;

	while (!atomic_load(&stop)) {
		sleep_ms(10 + rnd(&x) % 20);
		r = &regions[rnd(&x) % nregions];
		pthread_rwlock_wrlock(&r->lock);
		if (mprotect(r->addr, HPAGE,
			     r->ro ? PROT_READ | PROT_WRITE : PROT_READ)) {
			report_error("mprotect", errno);
		} else {
			r->ro = !r->ro;
			add(&n_mprotects, 1);
		}
		pthread_rwlock_unlock(&r->lock);
	}
	return NULL;
}

/* --- THP splits and collapses -------------------------------------------- */

static void *splitter(void *arg)
{
	uint64_t x = seed_for((int)(intptr_t)arg), k = 0;
	struct region *r;
	size_t off, len;
	char *a;

	while (!atomic_load(&stop)) {
		sleep_ms(10 + rnd(&x) % 20);
		do
			r = &regions[rnd(&x) % nregions];
		while (!r->thp);
		off = (1 + rnd(&x) % (PPR - 17)) * PAGE;
		len = (1 + rnd(&x) % 16) * PAGE;
		a = r->addr + off;
		switch (k++ % 5) {
		/*
		 * Without the region lock, these may meet the region unmapped
		 * by the unmapper: ENOMEM.
		 */
		case 0:	/* a partial MADV_COLD splits the folio */
			if (madvise(a, len, MADV_COLD) && errno != ENOMEM)
				report_error("madvise(MADV_COLD)", errno);
			add(&n_split_cold, 1);
			break;
		case 1:	/* part of it read-only: the PMD is split */
			pthread_rwlock_wrlock(&r->lock);
			if (mprotect(a, len, PROT_READ) ||
			    mprotect(a, len, r->ro ? PROT_READ :
				     PROT_READ | PROT_WRITE))
				report_error("partial mprotect", errno);
			pthread_rwlock_unlock(&r->lock);
			add(&n_split_mprotect, 1);
			break;
		case 2:	/* a page of it unmapped, then mapped again */
			pthread_rwlock_wrlock(&r->lock);
			atomic_store(&r->busy, 1);
			if (munmap(a, PAGE) ||
			    mmap(a, PAGE, PROT_READ | PROT_WRITE,
				 (cfg.shmem ? MAP_SHARED : MAP_PRIVATE) |
				 MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
				report_error("partial munmap", errno);
			} else {
				long idx = (a - base) / PAGE;

				madvise(r->addr, HPAGE, MADV_HUGEPAGE);
				set_policy(a, PAGE, MPOL_PREFERRED, r->node);
				ht_pat_fill(a, (uintptr_t)a, gen[idx] + 1);
				atomic_store(&gen[idx], gen[idx] + 1);
				if (r->ro && mprotect(a, PAGE, PROT_READ))
					report_error("mprotect remapped page", errno);
			}
			atomic_store(&r->busy, 0);
			pthread_rwlock_unlock(&r->lock);
			add(&n_split_munmap, 1);
			break;
		case 3:	/* a VMA boundary inside the PMD */
			if ((madvise(a, len, MADV_NOHUGEPAGE) ||
			     madvise(a, len, MADV_HUGEPAGE)) && errno != ENOMEM)
				report_error("partial MADV_NOHUGEPAGE", errno);
			add(&n_split_madvise, 1);
			break;
		case 4:	/* and make it a THP again */
			if (madvise(r->addr, HPAGE, MADV_COLLAPSE))
				add(&n_collapse_failed, 1);
			else
				add(&n_collapses, 1);
			break;
		}
	}
	return NULL;
}

/* --- move_pages ---------------------------------------------------------- */

static void *mover(void *arg)
{
	uint64_t x = seed_for((int)(intptr_t)arg);
	void *pages[16];
	int nodes[16], status[16], i;

	while (!atomic_load(&stop)) {
		sleep_ms(10 + rnd(&x) % 20);
		for (i = 0; i < 16; i++)
			pages[i] = base + (rnd(&x) % npages) * PAGE;
		if (syscall(SYS_move_pages, 0, 16UL, pages, NULL, status, 0))
			continue;
		for (i = 0; i < 16; i++)
			nodes[i] = status[i] == 0 ? 1 : 0;
		if ((mem_nodes & 3) != 3)	/* one node: nowhere to go */
			continue;
		/* ENOMEM: the target node is full */
		if (syscall(SYS_move_pages, 0, 16UL, pages, nodes, status,
			    MPOL_MF_MOVE) < 0 && errno != ENOENT &&
		    errno != ENOMEM) {
			report_error("move_pages", errno);
			continue;
		}
		for (i = 0; i < 16; i++) {
			if (status[i] == nodes[i])
				add(&n_moved, 1);
			else
				add(&n_move_failed, 1);
		}
	}
	return NULL;
}

/* --- exchanges through debugfs ------------------------------------------- */

static void *exchanger(void *arg)
{
	uint64_t x = seed_for((int)(intptr_t)arg), k = 0;
	char *cand[16], *on[2][16], line[256];
	int status[16], cnt[2], n, c, nc, np, i, j, fd, err, thp;
	size_t ri;
	ssize_t w;
	pid_t pid;

	fd = open(PAIR_PATH, O_WRONLY);
	if (fd < 0) {
		report_error(PAIR_PATH, errno);
		return NULL;
	}
	while (!atomic_load(&stop)) {
		sleep_ms(1 + rnd(&x) % 3);
		/* distinct pages of one kind: 4 KiB pages, or THP regions */
		thp = k++ & 1;
		for (nc = 0, i = 0; i < 64 && nc < 16; i++) {
			ri = rnd(&x) % nregions;
			if (regions[ri].thp != thp)
				continue;
			cand[nc] = regions[ri].addr +
				   (thp ? rnd(&x) % HPAGE & ~(PAGE - 1) :
				    rnd(&x) % PPR * PAGE);
			for (j = 0; j < nc; j++)
				if (thp ? (uintptr_t)cand[j] / HPAGE ==
					  (uintptr_t)cand[nc] / HPAGE :
				    cand[j] == cand[nc])
					break;
			nc += j == nc;
		}
		if (syscall(SYS_move_pages, 0, (unsigned long)nc, cand, NULL,
			    status, 0))
			continue;
		cnt[0] = cnt[1] = 0;
		for (i = 0; i < nc; i++)
			if (status[i] == 0 || status[i] == 1)
				on[status[i]][cnt[status[i]]++] = cand[i];
		np = 1 + rnd(&x) % MAX_PAIRS;
		if (np > cnt[0])
			np = cnt[0];
		if (np > cnt[1])
			np = cnt[1];
		if (!np)
			continue;
		/* now and then through a forked child (COW-shared pages) */
		pid = atomic_load(&child_pid);
		if (!pid || rnd(&x) % 4)
			pid = getpid();
		else
			add(&n_xchild, 1);
		n = snprintf(line, sizeof(line), "%d", (int)pid);
		for (c = 0; c < np; c++)
			n += snprintf(line + n, sizeof(line) - n, " %lx %lx",
				      (unsigned long)on[1][c],
				      (unsigned long)on[0][c]);
		w = write(fd, line, n);
		err = w == n ? 0 : w < 0 ? errno : EIO;
		add(&n_xwrites, 1);
		if (!err) {
			add(&n_xwrites_ok, 1);
			add(&n_xpairs_ok, np);
			continue;
		}
		add(&n_xpairs_failed, np);
		for (i = 0; i < (int)NXERR; i++)
			if (err == xerrnos[i])
				break;
		if (i < (int)NXERR) {
			add(&n_xerr[i], 1);
		} else {
			add(&n_xunexpected, 1);
			fprintf(stderr, "integrity: exchange \"%s\": %s\n", line,
				strerror(err));
		}
	}
	close(fd);
	return NULL;
}

/* --- setup and summary ---------------------------------------------------- */

/* AnonHugePages, or with --shmem ShmemPmdMapped, of the process (kB). */
static long huge_kb(void)
{
	const char *fmt = cfg.shmem ? "ShmemPmdMapped: %ld kB" :
				      "AnonHugePages: %ld kB";
	char line[160];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Cold pages on node 0 (preferred, so that a full node spills over). */
static void fill_fmem(void)
{
	long kb = ht_node_free_kb(0);
	size_t p;

	if (kb < 0 || (uint64_t)kb * 1024 <= cfg.fill_free + 2 * HPAGE)
		return;
	filler_size = ((uint64_t)kb * 1024 - cfg.fill_free) / (2 * HPAGE) *
		      2 * HPAGE;
	filler = mmap(NULL, filler_size + HPAGE, PROT_READ | PROT_WRITE,
		      (cfg.shmem || cfg.shmem_filler ? MAP_SHARED : MAP_PRIVATE) |
		      MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (filler == MAP_FAILED)
		die("mmap filler");
	filler = (char *)(((uintptr_t)filler + HPAGE - 1) & ~(HPAGE - 1));
	/* half of it THPs, half 4 KiB pages: HPlacement pairs like with like */
	for (p = 0; p < filler_size; p += HPAGE)
		madvise(filler + p, HPAGE,
			(p / HPAGE) & 1 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (set_policy(filler, filler_size, MPOL_PREFERRED, 0))
		die("mbind filler");
	for (p = 0; p < filler_size; p += PAGE)
		ht_pat_fill(filler + p, (uintptr_t)(filler + p), 0);
	if (set_policy(filler, filler_size, MPOL_DEFAULT, 0))
		die("mbind filler");
}

static void nodes_json(char *buf, size_t len)
{
	uint64_t count[2] = { 0, 0 }, other = 0;
	int why = 0;	/* the first status that was no node */
	int status[512];
	void *pages[512];
	size_t p, i;

	for (p = 0; p < npages; p += 512) {
		for (i = 0; i < 512; i++)
			pages[i] = base + (p + i) * PAGE;
		if (syscall(SYS_move_pages, 0, 512UL, pages, NULL, status, 0)) {
			why = why ? why : -errno;
			other += 512;
			continue;
		}
		for (i = 0; i < 512; i++) {
			if (status[i] == 0 || status[i] == 1) {
				count[status[i]]++;
			} else {
				why = why ? why : status[i];
				other++;
			}
		}
	}
	snprintf(buf, len, "{\"0\": %" PRIu64 ", \"1\": %" PRIu64
		 ", \"other\": %" PRIu64 ", \"other_status\": %d}", count[0],
		 count[1], other, why);
}

static void vmstat_read(int64_t *v)
{
	struct ht_vmstat vs = { 0 };
	uint64_t val;
	size_t i;

	for (i = 0; i < NVM; i++)
		v[i] = -1;
	if (ht_vmstat_read("/proc/vmstat", &vs))
		return;
	for (i = 0; i < NVM; i++)
		if (!ht_vmstat_get(&vs, vm_names[i], &val))
			v[i] = val;
	ht_vmstat_free(&vs);
}

/* Corrupt one page behind its writer's back: the self-test of the checks. */
static void inject(uint64_t *x)
{
	struct region *r;
	size_t idx;
	char *a;
	int i;

	for (i = 0; i < 1000; i++) {
		r = &regions[rnd(x) % nregions];
		pthread_rwlock_wrlock(&r->lock);
		if (!r->ro)
			break;
		pthread_rwlock_unlock(&r->lock);
	}
	if (i == 1000)
		return;
	idx = (r - regions) * PPR + rnd(x) % PPR;
	a = base + idx * PAGE;
	if (cfg.inject == 1)
		a[1000 + rnd(x) % 3000] ^= 0x40;
	else if (madvise(a, PAGE, MADV_DONTNEED))
		report_error("madvise(MADV_DONTNEED)", errno);
	snprintf(injected, sizeof(injected),
		 "{\"how\": \"%s\", \"addr\": \"%p\", \"region\": %ld, \"t\": %.3f}",
		 cfg.inject == 1 ? "flip" : "zero", (void *)a,
		 (long)(r - regions), ht_now() - t_start);
	pthread_rwlock_unlock(&r->lock);
}

static void parse_options(int argc, char **argv)
{
	enum { O_SIZE = 256, O_THREADS, O_DURATION, O_ALL, O_FORK, O_MUNMAP,
	       O_MPROTECT, O_SPLIT, O_MOVE, O_EXCHANGE, O_FILL, O_INJECT,
	       O_INJECT_AT, O_SEED, O_SHMEM, O_SHMEM_FILLER };
	static const struct option opts[] = {
		{ "size", required_argument, NULL, O_SIZE },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "all", no_argument, NULL, O_ALL },
		{ "fork", no_argument, NULL, O_FORK },
		{ "munmap", no_argument, NULL, O_MUNMAP },
		{ "mprotect", no_argument, NULL, O_MPROTECT },
		{ "split", no_argument, NULL, O_SPLIT },
		{ "move", no_argument, NULL, O_MOVE },
		{ "exchange", no_argument, NULL, O_EXCHANGE },
		{ "fill-fmem", required_argument, NULL, O_FILL },
		{ "inject", required_argument, NULL, O_INJECT },
		{ "inject-at", required_argument, NULL, O_INJECT_AT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "shmem", no_argument, NULL, O_SHMEM },
		{ "shmem-filler", no_argument, NULL, O_SHMEM_FILLER },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			if (ht_parse_size(optarg, &cfg.size) || !cfg.size ||
			    cfg.size % (4 * HPAGE))
				die_opt("--size", "'%s' is not a multiple of 8M",
					optarg);
			break;
		case O_THREADS:
			cfg.threads = strtol(optarg, &end, 10);
			if (*end || end == optarg || cfg.threads < 1 ||
			    cfg.threads > MAX_WRITERS)
				die_opt("--threads", "'%s' is not in 1..%d",
					optarg, MAX_WRITERS);
			break;
		case O_DURATION:
		case O_INJECT_AT: {
			double v = strtod(optarg, &end);

			if (*end || end == optarg || !isfinite(v) || v <= 0)
				die_opt(c == O_DURATION ? "--duration" :
					"--inject-at", "'%s' is not > 0", optarg);
			if (c == O_DURATION)
				cfg.duration = v;
			else
				cfg.inject_at = v;
			break;
		}
		case O_ALL:
			cfg.fork = cfg.munmap = cfg.mprotect = cfg.split =
				cfg.move = cfg.exchange = 1;
			break;
		case O_SHMEM:
			cfg.shmem = 1;
			break;
		case O_SHMEM_FILLER:
			cfg.shmem_filler = 1;
			break;
		case O_FORK:
			cfg.fork = 1;
			break;
		case O_MUNMAP:
			cfg.munmap = 1;
			break;
		case O_MPROTECT:
			cfg.mprotect = 1;
			break;
		case O_SPLIT:
			cfg.split = 1;
			break;
		case O_MOVE:
			cfg.move = 1;
			break;
		case O_EXCHANGE:
			cfg.exchange = 1;
			break;
		case O_FILL:
			if (ht_parse_size(optarg, &cfg.fill_free))
				die_opt("--fill-fmem", "invalid size '%s'", optarg);
			cfg.fill = 1;
			break;
		case O_INJECT:
			if (!strcmp(optarg, "flip"))
				cfg.inject = 1;
			else if (!strcmp(optarg, "zero"))
				cfg.inject = 2;
			else
				die_opt("--inject", "'%s' is not flip or zero",
					optarg);
			break;
		case O_SEED:
			cfg.seed = strtoull(optarg, &end, 0);
			if (*end || end == optarg)
				die_opt("--seed", "invalid number '%s'", optarg);
			break;
		case 'h':
			print_usage(stdout);
			exit(0);
		default:
			print_usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die_opt(argv[optind], "unexpected argument");
	if (cfg.size / (4 * HPAGE) < (uint64_t)cfg.threads)
		die_opt("--threads", "needs 8M of --size per writer");
	if (cfg.inject_at < 0)
		cfg.inject_at = cfg.duration / 2;
}

int main(int argc, char **argv)
{
	int64_t vm0[NVM], vm1[NVM];
	pthread_t tids[MAX_WRITERS + 8];
	char nodes0[128], nodes1[128];
	int nt = 0, w, i, injected_done = 0;
	uint64_t x;
	double t_end, t_stop;
	long thp_kb;
	size_t ri, p;
	char *raw;

	parse_options(argc, argv);
	if (ht_read_nodelist(HT_NODES_WITH_MEMORY, &mem_nodes))
		mem_nodes = 1;
	signal(SIGPIPE, SIG_IGN);
	x = seed_for(999);
	nregions = cfg.size / HPAGE;
	npages = cfg.size / PAGE;
	raw = mmap(NULL, cfg.size + HPAGE, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	spare = mmap(NULL, 2 * HPAGE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	regions = calloc(nregions, sizeof(*regions));
	gen = calloc(npages, sizeof(*gen));
	if (raw == MAP_FAILED || spare == MAP_FAILED || !regions || !gen)
		die("setup");
	base = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	spare = (char *)(((uintptr_t)spare + HPAGE - 1) & ~(HPAGE - 1));
	if (mmap(spare, HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		die("mmap spare");
	t_start = ht_now();
	for (ri = 0; ri < nregions; ri++) {
		struct region *r = &regions[ri];

		pthread_rwlock_init(&r->lock, NULL);
		r->addr = base + ri * HPAGE;
		r->thp = ri & 1;
		r->node = (ri >> 1) & 1;
		r->writer = (ri / 4) % cfg.threads;
		if (map_region(r, 1))
			die("mmap region");
	}
	nodes_json(nodes0, sizeof(nodes0));
	thp_kb = huge_kb();
	if (cfg.fill)
		fill_fmem();
	fprintf(stderr, "integrity: %zu regions of 2M at %p, %zu MiB filler, "
		"%ld kB in THPs, nodes %s, setup %.1f s\n", nregions,
		(void *)base, filler_size >> 20, thp_kb, nodes0,
		ht_now() - t_start);

	vmstat_read(vm0);
	t_start = ht_now();
	for (w = 0; w < cfg.threads; w++)
		if (pthread_create(&tids[nt++], NULL, writer, (void *)(intptr_t)w))
			die("pthread_create");
#define RACER(on, fn) do {						\
		if ((on) && pthread_create(&tids[nt], NULL, fn,		\
					   (void *)(intptr_t)nt))	\
			die("pthread_create");				\
		nt += !!(on);						\
	} while (0)
	RACER(cfg.fork, forker);
	RACER(cfg.munmap, unmapper);
	RACER(cfg.mprotect, protector);
	RACER(cfg.split, splitter);
	RACER(cfg.move, mover);
	RACER(cfg.exchange, exchanger);
#undef RACER
	t_end = t_start + cfg.duration;
	while (!atomic_load(&stop) && ht_now() < t_end) {
		sleep_ms(50);
		if (cfg.inject && !injected_done &&
		    ht_now() >= t_start + cfg.inject_at) {
			inject(&x);
			injected_done = 1;
		}
	}
	atomic_store(&stop, 1);
	for (i = 0; i < nt; i++)
		pthread_join(tids[i], NULL);
	t_stop = ht_now();

	/* everything once more, single-threaded */
	for (ri = 0; ri < nregions && !get(&n_corruptions); ri++)
		for (p = ri * PPR; p < (ri + 1) * PPR; p++) {
			if (check_page("final", p, gen[p]))
				break;
			add(&n_final_verified, 1);
		}
	for (p = 0; p < filler_size && !get(&n_corruptions); p += PAGE) {
		struct ht_pat_err e;

		if (ht_pat_check(filler + p, (uintptr_t)(filler + p), 0, &e)) {
			corrupt("final (filler)", filler + p, -1, 0, &e);
			break;
		}
		add(&n_final_verified, 1);
	}
	vmstat_read(vm1);
	nodes_json(nodes1, sizeof(nodes1));

	printf("{\"summary\": {\"shmem\": %s, \"shmem_filler\": %s, \"duration_s\": %.3f, \"size\": %" PRIu64
	       ", \"regions\": %zu, \"threads\": %d, \"filler\": %zu, "
	       "\"thp_kb_start\": %ld, \"nodes_start\": %s, \"nodes_end\": %s, "
	       "\"verified\": %" PRIu64 ", \"rewrites\": %" PRIu64
	       ", \"child_verified\": %" PRIu64 ", \"final_verified\": %" PRIu64
	       ", \"forks\": %" PRIu64 ", \"fork_failed\": %" PRIu64
	       ", \"munmaps\": %" PRIu64 ", \"remaps\": %" PRIu64
	       ", \"mremaps\": %" PRIu64 ", \"mremap_refused\": %" PRIu64
	       ", \"mprotects\": %" PRIu64 ", \"splits\": {\"cold\": %" PRIu64
	       ", \"mprotect\": %" PRIu64 ", \"munmap\": %" PRIu64
	       ", \"madvise\": %" PRIu64 "}, \"collapses\": %" PRIu64
	       ", \"collapse_failed\": %" PRIu64 ", \"moved\": %" PRIu64
	       ", \"move_failed\": %" PRIu64 ", ",
	       cfg.shmem ? "true" : "false",
	       cfg.shmem_filler ? "true" : "false", t_stop - t_start, cfg.size, nregions, cfg.threads, filler_size,
	       thp_kb, nodes0, nodes1, get(&n_verified), get(&n_rewrites),
	       get(&n_child_verified), get(&n_final_verified), get(&n_forks),
	       get(&n_fork_failed), get(&n_munmaps), get(&n_remaps),
	       get(&n_mremaps), get(&n_mremap_refused), get(&n_mprotects),
	       get(&n_split_cold), get(&n_split_mprotect), get(&n_split_munmap),
	       get(&n_split_madvise), get(&n_collapses),
	       get(&n_collapse_failed), get(&n_moved), get(&n_move_failed));
	printf("\"exchange\": {\"writes\": %" PRIu64 ", \"writes_ok\": %" PRIu64
	       ", \"pairs_ok\": %" PRIu64 ", \"pairs_in_failed_writes\": %" PRIu64
	       ", \"via_child\": %" PRIu64 ", \"unexpected\": %" PRIu64
	       ", \"errno\": {", get(&n_xwrites), get(&n_xwrites_ok),
	       get(&n_xpairs_ok), get(&n_xpairs_failed), get(&n_xchild),
	       get(&n_xunexpected));
	for (i = 0; i < (int)NXERR; i++)
		printf("%s\"%s\": %" PRIu64, i ? ", " : "", xerrnames[i],
		       get(&n_xerr[i]));
	printf("}}, \"vmstat\": {");
	for (i = 0; i < (int)NVM; i++)
		printf("%s\"%s\": %" PRId64, i ? ", " : "", vm_names[i],
		       vm0[i] < 0 || vm1[i] < 0 ? -1 : vm1[i] - vm0[i]);
	printf("}, \"injected\": %s, \"errors\": %" PRIu64
	       ", \"first_error\": \"%s\", \"corruptions\": %" PRIu64
	       ", \"first_corruption\": %s}}\n",
	       injected[0] ? injected : "null", get(&n_errors), error_report,
	       get(&n_corruptions), first_report[0] ? first_report : "null");
	return get(&n_corruptions) || get(&n_errors) ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * HPlacement: the placement daemon.
 *
 * khplacement wakes up every interval, finds every process with an mm,
 * keeps one space (range.c) per mm in step with its data mappings,
 * samples accesses into the ranges, ends the interval of each space and
 * feeds the time it took per stage to the CPU budget controller
 * (budget.c), whose work scale sizes the next interval's sampling.
 *
 * The abit source samples accessed bits: for each range, a few small
 * windows of pages around pseudo-random addresses have the accessed bit
 * of their page table entries tested and cleared; a young page is a
 * sample, on FMEM when its node is in the top memory tier.  THPs are
 * tested apart, in rounds microseconds apart (hpl_abit_rounds()).
 */

#include <linux/bsearch.h>
#include <linux/delay.h>
#include <linux/exchange.h>
#include <linux/freezer.h>
#include <linux/hashtable.h>
#include <linux/kthread.h>
#include <linux/memory-tiers.h>
#include <linux/mm.h>
#include <linux/page_idle.h>
#include <linux/pagewalk.h>
#include <linux/random.h>
#include <linux/sched/clock.h>
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmstat.h>
#include <linux/wait.h>

#include "core.h"
#include "source.h"

#define CREATE_TRACE_POINTS
#include <trace/events/hplacement.h>

/*
 * Windows sampled per range and interval at the nominal work scale, and
 * pages per window (a power of two, within one PMD): many narrow windows
 * see more places of a range than a few wide ones for the same pages.
 */
#define HPL_ABIT_WINDOWS	32
#define HPL_ABIT_WINDOW_PAGES	4
#define HPL_ABIT_BATCH		64
/*
 * THPs are tested apart from the windows: a PMD's accessed bit covers
 * 2 MiB, and the cold data of a THP is touched often enough to test young
 * after the windows' milliseconds.  Rounds a short delay apart (10 us to
 * 10 ms, adapted like the windows' delay) tell them apart: a hot THP is
 * young in most rounds, a cold one in few.  HPL_ABIT_ROUNDS tests per
 * interval after a first clear, of HPL_ABIT_PMDS PMDs per mm at the
 * nominal work scale.
 */
#define HPL_ABIT_ROUNDS		4
/*
 * More rounds, up to HPL_ABIT_ROUNDS_MAX, while each still drops more
 * than 1/HPL_ABIT_ROUNDS_STABLE of the THPs it tests: cold ones are still
 * going.  When walking a round's PMDs takes about as long as a cold THP
 * rests between accesses (a slow CPU, an emulated one), a cold THP is
 * young in most rounds and four do not weed it out.
 */
#define HPL_ABIT_ROUNDS_MAX	12
#define HPL_ABIT_ROUNDS_STABLE	8
/* In a round's list: young in the round before, not in this one. */
#define HPL_ROUND_MISSED	1UL
/* Rounds in which nothing was young, tested again (a stall) at most. */
#define HPL_ABIT_STALLS		2
#define HPL_ABIT_PMDS		512
#define HPL_ABIT_ROUND_US	100
/*
 * Wall time the first round's walk may take before the THPs walked so far
 * have their rounds on their own, as a chunk.  A THP's wait between two
 * tests is the delay plus a round's walk: under TCG walking 128 PMDs
 * takes 0.1-0.2 ms, stretched to 1 ms when the host preempts the vCPU, as
 * long as a cold THP rests between accesses.  Chunks are not smaller:
 * each round costs a TLB flush, whose IPI waits for the process's vCPU
 * (0.25-0.4 ms of CPU a round under TCG), and chunks of 100 us took the
 * budget that migration needed.
 */
#define HPL_ABIT_CHUNK_US	1000
/*
 * Waits between rounds up to this long spin: a sleep that short ends when
 * the timer interrupt and the scheduler get round to it, under TCG a
 * millisecond later, and the wait is what tells hot from cold.
 */
#define HPL_ABIT_SPIN_US	100
#define HPL_ABIT_ROUND_MIN_US	10
#define HPL_ABIT_ROUND_MAX_US	10000
/*
 * Accessed bits are cleared, then tested some milliseconds later: long
 * enough for hot pages to be accessed again, short enough that most cold
 * ones are not.  How long that is depends on the workload, so the delay
 * follows the share of tested pages found young: above the high mark
 * cold pages are caught too and it halves, below the low one hot pages
 * are missed and it doubles.
 */
#define HPL_ABIT_DELAY_MS	10
#define HPL_ABIT_DELAY_MIN_MS	1
#define HPL_ABIT_DELAY_MAX_MS	100
#define HPL_ABIT_YOUNG_HIGH	12	/* percent */
#define HPL_ABIT_YOUNG_LOW	3
/*
 * Young after the wait for the next interval (struct hpl_mm.deferred):
 * a program's hot part can be most of what is tested, so only when
 * nearly every page is young are the cold ones surely young too.
 */
#define HPL_ABIT_DEFERRED_HIGH	50

#define HPL_HASH_BITS		8

/*
 * Pages a migration stage with credit left may move at least, so that the
 * cost per page is measured on batches and not on the stage's fixed cost.
 */
#define HPL_MIGRATE_BATCH_MIN	64

/*
 * CPU time a migration stage with credit left may use at least, to find
 * folios and move a first batch; the intervals after it pay it back.
 */
#define HPL_MIGRATE_MIN_NS	NSEC_PER_MSEC

/* Samples taken from the rings per interval at the nominal work scale. */
#define HPL_DRAIN_SAMPLES	8192

/* Serialises writes of hpl_config. */
DEFINE_MUTEX(hpl_lock);
struct hpl_config hpl_config;
struct hpl_stats hpl_stats;

static DECLARE_WAIT_QUEUE_HEAD(hpl_wait);
static struct task_struct *hpl_thread;
static DEFINE_HASHTABLE(hpl_mms, HPL_HASH_BITS);
static struct hpl_budget hpl_budget;
static u64 hpl_next_id;
static u64 hpl_gen;
/*
 * CPU time to move a page, a moving average over the intervals that moved
 * enough to tell; starts at what a page migration costs on common
 * hardware.
 */
static u64 hpl_page_ns = 20 * NSEC_PER_USEC;
/* CPU time migration may still spend (see hpl_migrate_cap()). */
static s64 hpl_credit_ns;
/*
 * Set when the last interval's migration stage ran out of budget with
 * hot SMEM pages left to move.  Then the next interval skips sampling and
 * classification and gives the budget to moving them, to the PMDs that
 * its samples named (struct hpl_mm.hints): under a small budget finding
 * the hot set costs as much as moving it, and sampling again before it
 * has moved only finds it again.  Every other interval at most, so that
 * the classification follows the workload.
 */
static bool hpl_catch_up;
/*
 * After an interval that moved pages and had budget left, a hot set that
 * is not all in FMEM yet has been found: the wait before the next
 * interval, shorter than interval_ms (see hpl_wait_jiffies()); else 0.
 */
static unsigned int hpl_hurry_ms;
/* hpl_wake() was called: run an interval without waiting for the timer. */
static bool hpl_woken;
/*
 * How soon after the last sampled interval a space that settled may bring
 * the next one (hpl_early_ms()); 0 when only a whole interval_ms pays.
 */
static unsigned int hpl_settle_ms;
/*
 * A space was growing at the last interval and hpl_settle_ms allows it:
 * look at it between intervals (hpl_poll_settled()), whose CPU time the
 * next interval charges.
 */
static bool hpl_watch;
static u64 hpl_poll_ns;

/* Follow a dearer page at once, a cheaper one slowly: overruns cost more. */
static void hpl_page_cost(u64 ns)
{
	ns = clamp_t(u64, ns, 100, 10 * NSEC_PER_MSEC);
	if (ns > hpl_page_ns)
		hpl_page_ns = ns;
	else
		hpl_page_ns = (3 * hpl_page_ns + ns) / 4;
}

/* Samples taken from the rings in an interval, for sorting. */
static struct hpl_raw_sample *hpl_drained;

/* The source that samples, and the sysfs choice it was picked for. */
static enum hpl_source hpl_active = HPL_SOURCE_ABIT;
static int hpl_applied = -1;

struct hpl_batch {
	struct hpl_space *space;
	bool record;
	/* Samples of 4 KiB windows: their hints are not THPs' (hpl_hint.page) */
	bool pages;
	/*
	 * THPs found young by a round, for the next (hpl_abit_rounds()),
	 * HPL_ROUND_MISSED set where the THP was young in the round before
	 * but not in this one; during a round again, the last round's list
	 * @last is read at @cursor, up to @run_end.
	 */
	unsigned long *young;
	unsigned int nr_young;
	unsigned int max_young;
	unsigned long *last;
	unsigned int nr_last;
	unsigned int cursor;
	unsigned int run_end;
	/* local_clock() at which a chunk's first walk stops, or 0; where */
	u64 stop_ns;
	unsigned long stopped;
	struct hpl_sample samples[HPL_ABIT_BATCH];
	unsigned int nr;
	unsigned long nr_fmem;
	unsigned long nr_smem;
	unsigned long nr_dropped;
	unsigned long nr_tested;
	unsigned long nr_cleared;
	unsigned long nr_walked;
};

/*
 * CPU time of khplacement: stage times count what it ran, not the time
 * it waited for a CPU on a loaded machine.
 */
static u64 hpl_cpu_ns(void)
{
	return task_sched_runtime(current);
}

void hpl_wake(void)
{
	WRITE_ONCE(hpl_woken, true);
	wake_up_interruptible(&hpl_wait);
}

/* Remember where @ab's samples hit SMEM, for hpl_migrate(). */
static void hpl_batch_hints(struct hpl_batch *ab)
{
	struct hpl_mm *hm = container_of(ab->space, struct hpl_mm, space);
	unsigned long pmd;
	unsigned int i, j, k;

	for (i = 0; i < ab->nr; i++) {
		if (ab->samples[i].fmem)
			continue;
		pmd = ALIGN_DOWN(ab->samples[i].addr, PMD_SIZE);
		for (j = 0; j < hm->nr_hints && hm->hints[j].addr != pmd; j++)
			;
		if (j < hm->nr_hints) {
			hm->hints[j].nr++;
			hm->hints[j].page |= ab->pages;
		} else if (j < HPL_NR_HINTS) {
			hm->hints[j].addr = pmd;
			hm->hints[j].nr = 1;
			hm->hints[j].page = ab->pages;
			hm->nr_hints++;
		} else {
			/*
			 * Full: the PMD with fewest samples makes way and the
			 * new one counts one more (space-saving), so that a
			 * PMD young in every round keeps its place whatever
			 * came before it in address order.
			 */
			for (j = 0, k = 1; k < HPL_NR_HINTS; k++)
				if (hm->hints[k].nr < hm->hints[j].nr)
					j = k;
			hm->hints[j].addr = pmd;
			hm->hints[j].nr++;
			hm->hints[j].page = ab->pages;
		}
	}
}

static int hpl_hint_cmp(const void *a, const void *b)
{
	const struct hpl_hint *x = a, *y = b;

	if (x->nr != y->nr)
		return x->nr > y->nr ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * The PMDs with most samples are the surest hot ones: first.  Those with
 * less than half the samples of the first are more likely cold data
 * touched by chance (a THP young in one round of four): left to the
 * classification of their ranges.
 */
static void hpl_hints_trim(struct hpl_mm *hm)
{
	unsigned int i;

	sort(hm->hints, hm->nr_hints, sizeof(hm->hints[0]), hpl_hint_cmp, NULL);
	for (i = 1; i < hm->nr_hints; i++)
		if (hm->hints[i].nr * 2 < hm->hints[0].nr)
			break;
	hm->nr_hints = min(hm->nr_hints, i);
}

/*
 * Keep the hints of the rounds' THPs that were still young in the last
 * round, @young: those that dropped out on the way rest longer than a
 * round and are cold data touched by chance (their samples still count
 * for their ranges).  Called before the windows add theirs, but for those
 * of deferred windows (struct hpl_mm.deferred), which are kept.
 */
static void hpl_hints_keep(struct hpl_mm *hm, const unsigned long *young,
			   unsigned int nr)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < hm->nr_hints; i++) {
		for (j = 0; j < nr && young[j] != hm->hints[i].addr; j++)
			;
		if (j < nr || hm->hints[i].page)
			hm->hints[n++] = hm->hints[i];
	}
	hm->nr_hints = n;
}

static void hpl_batch_flush(struct hpl_batch *ab)
{
	if (!ab->nr)
		return;
	hpl_batch_hints(ab);
	ab->nr_dropped += hpl_space_record_batch(ab->space, ab->samples, ab->nr);
	ab->nr = 0;
}

static void hpl_batch_add(struct hpl_batch *ab, unsigned long addr, int nid)
{
	bool fmem = node_is_toptier(nid);

	/* Called under the page table lock: flushing would sleep. */
	if (ab->nr == HPL_ABIT_BATCH)
		return;
	ab->samples[ab->nr].addr = addr;
	ab->samples[ab->nr].fmem = fmem;
	ab->nr++;
	if (fmem)
		ab->nr_fmem++;
	else
		ab->nr_smem++;
}

/*
 * Count the samples of a pass of the abit source, and what it tested and
 * found young in *@tested and *@young, which adapt its delay.
 */
static void hpl_batch_count(const struct hpl_batch *ab, unsigned long *tested,
			    unsigned long *young)
{
	*tested += ab->nr_tested;
	*young += ab->nr_fmem + ab->nr_smem;
	count_vm_events(HPL_SAMPLES_ABIT, ab->nr_fmem + ab->nr_smem);
	count_vm_events(HPL_SAMPLES_FMEM, ab->nr_fmem);
	count_vm_events(HPL_SAMPLES_SMEM, ab->nr_smem);
	count_vm_events(HPL_SAMPLES_DROPPED, ab->nr_dropped);
}

/* The windows' pages; a THP has none here (see hpl_abit_rounds()). */
static int hpl_abit_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
			struct mm_walk *walk)
{
	struct hpl_batch *ab = walk->private;
	pte_t *pte, *start_pte;
	spinlock_t *ptl;	/* page table lock */

	start_pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start_pte)
		return 0;
	for (pte = start_pte; addr < next; pte++, addr += PAGE_SIZE) {
		pte_t ptent = ptep_get(pte);
		struct page *page;

		if (!pte_present(ptent))
			continue;
		ab->nr_tested++;
		if (!pte_young(ptent))
			continue;
		page = vm_normal_page(walk->vma, addr, ptent);
		if (!page)
			continue;
		if (!ptep_test_and_clear_young(walk->vma, addr, pte))
			continue;
		ab->nr_cleared++;
		/* Reclaim still sees the access (folio_referenced()). */
		folio_set_young(page_folio(page));
		if (ab->record)
			hpl_batch_add(ab, addr, page_to_nid(page));
	}
	pte_unmap_unlock(start_pte, ptl);
	return 0;
}

static const struct mm_walk_ops hpl_abit_ops = {
	.pmd_entry = hpl_abit_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/*
 * First pass: pick the windows of @hm's ranges and clear their accessed
 * bits; mmap_lock held for reading.
 */
static void hpl_abit_clear(struct hpl_mm *hm, u32 scale,
			   struct hpl_rank_entry *ranges, unsigned int nr)
{
	unsigned long windows = hpl_scale_amount(scale, HPL_ABIT_WINDOWS);
	struct hpl_batch ab = { .space = &hm->space };
	unsigned long i, w, npages, start, end;

	hm->nr_windows = 0;
	hm->windows = kvmalloc_array(nr * windows, sizeof(*hm->windows),
				     GFP_KERNEL);
	if (!hm->windows)
		return;
	for (i = 0; i < nr; i++) {
		cond_resched();
		npages = (ranges[i].end - ranges[i].start) >> PAGE_SHIFT;
		/* A small range (data of a library, say): all of it, once. */
		if (npages <= windows * HPL_ABIT_WINDOW_PAGES) {
			walk_page_range(hm->mm, ranges[i].start, ranges[i].end,
					&hpl_abit_ops, &ab);
			hm->windows[hm->nr_windows].start = ranges[i].start;
			hm->windows[hm->nr_windows].end = ranges[i].end;
			hm->nr_windows++;
			continue;
		}
		for (w = 0; w < windows; w++) {
			start = ranges[i].start +
				((unsigned long)get_random_u32_below(npages) <<
				 PAGE_SHIFT);
			start = ALIGN_DOWN(start,
					   HPL_ABIT_WINDOW_PAGES * PAGE_SIZE);
			start = max(start, ranges[i].start);
			end = min(start + HPL_ABIT_WINDOW_PAGES * PAGE_SIZE,
				  ranges[i].end);
			walk_page_range(hm->mm, start, end, &hpl_abit_ops, &ab);
			hm->windows[hm->nr_windows].start = start;
			hm->windows[hm->nr_windows].end = end;
			hm->nr_windows++;
		}
	}
	/*
	 * A CPU sets an accessed bit when it loads the entry into its TLB:
	 * while a cleared entry stays cached there, the page looks idle
	 * however hot it is, and the hottest pages stay cached longest.
	 * One flush for all windows of the mm.
	 */
	if (ab.nr_cleared)
		flush_tlb_mm(hm->mm);
}

/*
 * During a round again, @addr's entry in the last round's list, or 0.
 * A run of neighbours in the list is walked in address order: its part
 * of the list is read forwards.
 */
static unsigned long hpl_round_last(struct hpl_batch *ab, unsigned long addr)
{
	while (ab->cursor < ab->run_end &&
	       (ab->last[ab->cursor] & PMD_MASK) < addr)
		ab->cursor++;
	if (ab->cursor < ab->run_end &&
	    (ab->last[ab->cursor] & PMD_MASK) == addr)
		return ab->last[ab->cursor];
	return 0;
}

static void hpl_round_list(struct hpl_batch *ab, unsigned long entry)
{
	if (ab->young && ab->nr_young < ab->max_young)
		ab->young[ab->nr_young++] = entry;
}

/*
 * List the THP at @addr for the next round after a test that found it
 * @young.  One that was listed and missed only this round is listed once
 * more: a miss may be chance (few accesses in a short wait, a vCPU that
 * did not run), two in a row are not.
 */
static void hpl_round_keep(struct hpl_batch *ab, unsigned long addr,
			   bool young)
{
	unsigned long last = hpl_round_last(ab, addr);

	if (young)
		hpl_round_list(ab, addr);
	else if (last && !(last & HPL_ROUND_MISSED))
		hpl_round_list(ab, addr | HPL_ROUND_MISSED);
}

static int hpl_round_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
			 struct mm_walk *walk)
{
	struct hpl_batch *ab = walk->private;
	spinlock_t *ptl;	/* page table lock */
	struct page *page;
	bool young;
	pmd_t val;

	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (!ptl)
		return 0;
	val = pmdp_get(pmd);
	if (pmd_present(val) && pmd_trans_huge(val) && !is_huge_zero_pmd(val)) {
		page = pmd_page(val);
		ab->nr_tested += ab->record;
		ab->nr_walked++;
		young = pmdp_test_and_clear_young(walk->vma, addr, pmd);
		if (young) {
			ab->nr_cleared++;
			/* Reclaim still sees the access (folio_referenced()). */
			folio_set_young(page_folio(page));
			if (ab->record)
				hpl_batch_add(ab, addr, page_to_nid(page));
		}
		hpl_round_keep(ab, addr, young);
	}
	spin_unlock(ptl);
	if (ab->nr == HPL_ABIT_BATCH)
		hpl_batch_flush(ab);
	if (ab->stop_ns && local_clock() >= ab->stop_ns) {
		ab->stopped = next;
		return 1;
	}
	return 0;
}

/* Only PMDs: the page tables below them are the windows' business. */
static const struct mm_walk_ops hpl_round_ops = {
	.pmd_entry = hpl_round_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

static unsigned int hpl_abit_round_us = HPL_ABIT_ROUND_US;
/* THPs tested and found young by the rounds of an interval. */
static unsigned long hpl_round_tested, hpl_round_young;

static int hpl_addr_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * The last interval's hints, @nr_hints of @hm->hints, that lie in whole
 * PMDs of @ranges (sorted by address, as are the hints put in @prev);
 * returns how many.  Nothing was recorded since: they are still there.
 */
static unsigned int hpl_round_prev(const struct hpl_mm *hm,
				   unsigned int nr_hints,
				   const struct hpl_rank_entry *ranges,
				   unsigned int nr, unsigned long *prev)
{
	unsigned int i, j = 0, n = 0;

	for (i = 0; i < nr_hints; i++)
		prev[i] = hm->hints[i].addr;
	sort(prev, nr_hints, sizeof(*prev), hpl_addr_cmp, NULL);
	for (i = 0; i < nr_hints; i++) {
		while (j < nr && ALIGN_DOWN(ranges[j].end, PMD_SIZE) <
				 prev[i] + PMD_SIZE)
			j++;
		if (j == nr)
			break;
		if (prev[i] >= ALIGN(ranges[j].start, PMD_SIZE) &&
		    (!n || prev[n - 1] != prev[i]))
			prev[n++] = prev[i];
	}
	return n;
}

/*
 * Add [@start, @end) to @spans at *@n, less the PMDs of @prev (sorted);
 * returns the PMDs added.
 */
static unsigned long hpl_span_add(struct hpl_area *spans, unsigned int *n,
				  unsigned long start, unsigned long end,
				  const unsigned long *prev,
				  unsigned int nr_prev)
{
	unsigned long added = (end - start) >> PMD_SHIFT;
	unsigned int i;

	for (i = 0; i < nr_prev && prev[i] < end; i++) {
		if (prev[i] < start)
			continue;
		if (prev[i] > start) {
			spans[*n].start = start;
			spans[(*n)++].end = prev[i];
		}
		start = prev[i] + PMD_SIZE;
		added--;
	}
	if (start < end) {
		spans[*n].start = start;
		spans[(*n)++].end = end;
	}
	return added;
}

/*
 * Pick the spans of @ranges whose THPs the rounds test: whole PMDs, @max
 * of them at most.  First those of the last interval's hints, @prev: hot
 * THPs that the budget did not move yet stay hints however small a share
 * of the ranges @max is.  Then from a random range on (and at a random
 * place of a range bigger than what is left), so that all get their
 * turn.  @spans has room for @nr + 2 * @nr_prev.
 */
static unsigned int hpl_round_spans(struct hpl_area *spans,
				    const struct hpl_rank_entry *ranges,
				    unsigned int nr, unsigned long max,
				    const unsigned long *prev,
				    unsigned int nr_prev)
{
	unsigned int i, n = 0, first = get_random_u32_below(nr);
	unsigned long start, end, len;

	for (i = 0; i < nr_prev && max; i++, max--) {
		if (n && spans[n - 1].end == prev[i]) {
			spans[n - 1].end += PMD_SIZE;
			continue;
		}
		spans[n].start = prev[i];
		spans[n++].end = prev[i] + PMD_SIZE;
	}
	for (i = 0; i < nr && max; i++) {
		const struct hpl_rank_entry *e = &ranges[(first + i) % nr];

		start = ALIGN(e->start, PMD_SIZE);
		end = ALIGN_DOWN(e->end, PMD_SIZE);
		if (start >= end)
			continue;
		len = (end - start) >> PMD_SHIFT;
		if (len > max) {
			start += (unsigned long)get_random_u32_below(len - max + 1)
				 << PMD_SHIFT;
			len = max;
		}
		max -= hpl_span_add(spans, &n, start,
				    start + (len << PMD_SHIFT), prev, nr_prev);
	}
	return n;
}

/* Start a round again: the list becomes the last round's. */
static void hpl_round_start(struct hpl_batch *ab)
{
	swap(ab->young, ab->last);
	ab->nr_last = ab->nr_young;
	ab->nr_young = 0;
	ab->cursor = 0;
	ab->run_end = 0;
}

/* Back to the last round's list: the round told nothing. */
static void hpl_round_undo(struct hpl_batch *ab)
{
	swap(ab->young, ab->last);
	ab->nr_young = ab->nr_last;
	ab->nr_last = 0;
}

/*
 * Test the THPs of the last round's list again; those young again make
 * the new list, and so do those that missed this round only.  Runs of
 * neighbours are walked together.
 */
static void hpl_round_again(struct mm_struct *mm, struct hpl_batch *ab)
{
	unsigned long start, end, *last;
	unsigned int i, j, nr;

	hpl_round_start(ab);
	last = ab->last;
	nr = ab->nr_last;
	for (i = 0; i < nr; i = j) {
		start = last[i] & PMD_MASK;
		end = start + PMD_SIZE;
		for (j = i + 1; j < nr && (last[j] & PMD_MASK) == end; j++)
			end += PMD_SIZE;
		ab->cursor = i;
		ab->run_end = j;
		walk_page_range(mm, start, end, &hpl_round_ops, ab);
	}
	ab->run_end = 0;
}

/*
 * Whether to test again after @r rounds (of which the first cleared), the
 * last of which kept @young of the @tested THPs that it tested: always
 * until HPL_ABIT_ROUNDS tests, then while a round drops more than
 * 1/HPL_ABIT_ROUNDS_STABLE of them, HPL_ABIT_ROUNDS_MAX tests at most.
 */
static bool hpl_rounds_go_on(unsigned int r, unsigned int tested,
			     unsigned int young)
{
	if (r <= HPL_ABIT_ROUNDS)
		return true;
	if (r > HPL_ABIT_ROUNDS_MAX)
		return false;
	return (u64)young * HPL_ABIT_ROUNDS_STABLE <
	       (u64)tested * (HPL_ABIT_ROUNDS_STABLE - 1);
}

/* A place in the rounds' spans: span @i, at @addr. */
struct hpl_span_pos {
	unsigned int i;
	unsigned long addr;
};

static bool hpl_span_before(const struct hpl_span_pos *pos,
			    const struct hpl_span_pos *end)
{
	return pos->i < end->i || (pos->i == end->i && pos->addr < end->addr);
}

/*
 * Walk the @n @spans from *@pos up to @end, or, without @end, to their end
 * or until @ab's stop time passes: *@pos is then where the walk stopped.
 */
static void hpl_round_walk(struct mm_struct *mm, struct hpl_batch *ab,
			   const struct hpl_area *spans, unsigned int n,
			   struct hpl_span_pos *pos,
			   const struct hpl_span_pos *end)
{
	unsigned long last;

	while (pos->i < n && (!end || hpl_span_before(pos, end))) {
		last = end && pos->i == end->i ? end->addr : spans[pos->i].end;
		if (walk_page_range(mm, pos->addr, last, &hpl_round_ops,
				    ab) > 0 && ab->stopped < last) {
			pos->addr = ab->stopped;
			return;
		}
		if (++pos->i < n)
			pos->addr = spans[pos->i].start;
	}
}

/*
 * Wait between two rounds: short waits spin while @spin, so that they last
 * what they should; other CPUs run the process meanwhile.
 */
static void hpl_round_wait(bool spin)
{
	unsigned int us = READ_ONCE(hpl_abit_round_us);

	if (spin && us <= HPL_ABIT_SPIN_US)
		udelay(us);
	else
		usleep_range(us, us + us / 4);
}

/*
 * The rounds of one chunk of @spans: the first walks from *@pos for
 * HPL_ABIT_CHUNK_US at most, clearing (*@pos is then where the next chunk
 * starts); the second tests the same THPs again, each later one only those
 * young in the round before: a hot THP stays young round after round, a
 * cold one drops out, and the rounds get short.  @ab->young then lists the
 * THPs young in the last round.  *@stalls counts the rounds that told
 * nothing; the waits spin while *@spin.  The mmap_lock is taken for each
 * round only: writers do not wait out the delays.
 */
static void hpl_chunk_rounds(struct hpl_mm *hm, struct hpl_batch *ab,
			     const struct hpl_area *spans, unsigned int n,
			     struct hpl_span_pos *pos, unsigned int *stalls,
			     bool *spin)
{
	struct hpl_span_pos from = *pos, at;
	unsigned int r, tested = 0, first = 0;
	bool stalled = false;
	u64 walk_ns = 0, cpu_ns = hpl_cpu_ns();

	ab->nr_young = 0;
	for (r = 0; ; r++) {
		if (r && !stalled) {
			/* Nothing young, nor missed once: nothing to follow. */
			if (!ab->nr_young)
				break;
			if (!hpl_rounds_go_on(r, tested, ab->nr_young))
				break;
			tested = ab->nr_young;
		}
		if (r) {
			/* See hpl_abit_clear(): cached entries hide accesses. */
			flush_tlb_mm(hm->mm);
			hpl_round_wait(*spin);
		}
		if (mmap_read_lock_killable(hm->mm)) {
			pos->i = n;
			break;
		}
		ab->record = r > 0;
		ab->nr_cleared = 0;
		if (r > 1) {
			hpl_round_again(hm->mm, ab);
		} else if (r) {
			ab->nr_young = 0;
			at = from;
			hpl_round_walk(hm->mm, ab, spans, n, &at, pos);
		} else {
			walk_ns = local_clock();
			ab->stop_ns = walk_ns + HPL_ABIT_CHUNK_US * NSEC_PER_USEC;
			first = ab->nr_walked;
			hpl_round_walk(hm->mm, ab, spans, n, pos, NULL);
			ab->stop_ns = 0;
			walk_ns = local_clock() - walk_ns;
			first = ab->nr_walked - first;
		}
		/*
		 * Not one young after the first round: the process did not
		 * run during the wait (its vCPU busy with another task); the
		 * round tells nothing and is done again.  A process that runs
		 * where khplacement spins cannot run at all: the rounds sleep
		 * from then on, without that counting as a stall.
		 */
		stalled = r && !ab->nr_cleared &&
			  (*spin || (*stalls)++ < HPL_ABIT_STALLS);
		*spin = *spin && !stalled;
		if (stalled) {
			if (r > 1)
				hpl_round_undo(ab);
			r--;
		}
		hpl_batch_flush(ab);
		mmap_read_unlock(hm->mm);
	}
	trace_hplacement_abit_chunk(hm->space.id, from.addr, first, walk_ns,
				    r, ab->nr_young, hpl_abit_round_us, *spin,
				    hpl_cpu_ns() - cpu_ns);
}

/*
 * The THPs of @hm's ranges: clear their accessed bits, then at least
 * HPL_ABIT_ROUNDS times (hpl_rounds_go_on()) flush the TLB, wait
 * hpl_abit_round_us and test and clear them again; every young THP of a
 * round is a sample.  So that the wait between two tests of a THP is not
 * drowned by the time a round's walk takes (under TCG, walking 128 PMDs
 * takes longer than the delay), they go in chunks of what the first round
 * walks in HPL_ABIT_CHUNK_US (hpl_chunk_rounds()).  Only the THPs young in
 * the last round of their chunk stay hints; the last interval's @nr_hints
 * hints are tested first.
 */
static void hpl_abit_rounds(struct hpl_mm *hm, u32 scale,
			    const struct hpl_rank_entry *ranges,
			    unsigned int nr, unsigned int nr_hints)
{
	unsigned long max = hpl_scale_amount(scale, HPL_ABIT_PMDS);
	struct hpl_batch ab = { .space = &hm->space, .max_young = max };
	unsigned int i, n = 0, stalls = 0, nr_prev, nr_kept = 0;
	bool spin = num_online_cpus() > 1;
	struct hpl_span_pos pos = {};
	unsigned long *prev, *kept;
	struct hpl_area *spans;

	if (!nr)
		return;
	/* Without room for them, the hints are only not tested first. */
	prev = nr_hints ? kvmalloc_array(nr_hints, sizeof(*prev), GFP_KERNEL) :
			  NULL;
	nr_prev = prev ? hpl_round_prev(hm, nr_hints, ranges, nr, prev) : 0;
	spans = kvmalloc_array(nr + 2 * nr_prev, sizeof(*spans), GFP_KERNEL);
	ab.young = kvmalloc_array(max, sizeof(*ab.young), GFP_KERNEL);
	ab.last = kvmalloc_array(max, sizeof(*ab.last), GFP_KERNEL);
	kept = kvmalloc_array(max, sizeof(*kept), GFP_KERNEL);
	if (spans && ab.young && ab.last && kept)
		n = hpl_round_spans(spans, ranges, nr, max, prev, nr_prev);
	if (n)
		pos.addr = spans[0].start;
	while (pos.i < n) {
		hpl_chunk_rounds(hm, &ab, spans, n, &pos, &stalls, &spin);
		for (i = 0; i < ab.nr_young && nr_kept < max; i++)
			kept[nr_kept++] = ab.young[i] & PMD_MASK;
	}
	hpl_hints_keep(hm, kept, nr_kept);
	kvfree(kept);
	kvfree(ab.young);
	kvfree(ab.last);
	kvfree(spans);
	kvfree(prev);
	hpl_batch_count(&ab, &hpl_round_tested, &hpl_round_young);
}

static unsigned int hpl_abit_delay_ms = HPL_ABIT_DELAY_MS;
/* Pages tested and found young by the second passes of an interval. */
static unsigned long hpl_abit_tested, hpl_abit_young;

/*
 * Adapt @delay to the share of @young of the @tested pages (or THPs) of
 * the last interval; resets both.
 */
static void hpl_delay_adapt(unsigned int *delay, unsigned int min,
			    unsigned int max, unsigned long *tested,
			    unsigned long *young)
{
	unsigned long t = *tested, y = *young;

	*tested = 0;
	*young = 0;
	/* Too few to judge by. */
	if (t < 64)
		return;
	if (y * 100 > t * HPL_ABIT_YOUNG_HIGH)
		*delay = max(*delay / 2, min);
	else if (y * 100 < t * HPL_ABIT_YOUNG_LOW)
		*delay = min(*delay * 2, max);
}

static void hpl_abit_adapt(void)
{
	hpl_delay_adapt(&hpl_abit_delay_ms, HPL_ABIT_DELAY_MIN_MS,
			HPL_ABIT_DELAY_MAX_MS, &hpl_abit_tested,
			&hpl_abit_young);
	hpl_delay_adapt(&hpl_abit_round_us, HPL_ABIT_ROUND_MIN_US,
			HPL_ABIT_ROUND_MAX_US, &hpl_round_tested,
			&hpl_round_young);
}

/*
 * Whether @hm's windows wait for its next interval, judged by the share
 * of young pages they found, @young of @tested.  Pages that a program
 * reads a few times a second (a key-value store's values, each key read
 * now and then) are seldom young after a delay of milliseconds, and
 * their samples are too few to tell the hot part of a range from the
 * rest: tested at the next interval, a second or so after they were
 * cleared, the same windows find most of them, for the same walks and no
 * wait.  Judged on this mm's own pages, not by waiting for the shared
 * delay to grow, which one sampled interval in two doubles.  Back to the
 * delay when the long wait finds most pages young: cold pages that are
 * touched now and then look hot too after it.
 */
static void hpl_abit_defer(struct hpl_mm *hm, unsigned long tested,
			   unsigned long young)
{
	unsigned long t = hm->abit_tested + tested;
	unsigned long y = hm->abit_young + young;

	hm->abit_tested = t;
	hm->abit_young = y;
	/* Too few to judge by. */
	if (t < 64)
		return;
	hm->abit_tested = 0;
	hm->abit_young = 0;
	if (hm->deferred)
		hm->deferred = y * 100 <= t * HPL_ABIT_DEFERRED_HIGH;
	else
		hm->deferred = y * 100 < t * HPL_ABIT_YOUNG_LOW;
}

/*
 * Second pass, hpl_abit_delay_ms later (at @hm's next interval if
 * deferred): the pages of the windows that were accessed since are the
 * samples.
 */
static void hpl_abit_test(struct hpl_mm *hm)
{
	struct hpl_batch ab = {
		.space = &hm->space, .record = true, .pages = true,
	};
	unsigned long tested = 0, young = 0;
	unsigned int i;

	if (!hm->windows)
		return;
	if (!mmap_read_lock_killable(hm->mm)) {
		for (i = 0; i < hm->nr_windows; i++) {
			/* The mappings may have changed since the first pass. */
			if (!find_vma_intersection(hm->mm, hm->windows[i].start,
						   hm->windows[i].end))
				continue;
			walk_page_range(hm->mm, hm->windows[i].start,
					hm->windows[i].end, &hpl_abit_ops, &ab);
			hpl_batch_flush(&ab);
		}
		mmap_read_unlock(hm->mm);
	}
	kvfree(hm->windows);
	hm->windows = NULL;
	hm->nr_windows = 0;
	hpl_batch_count(&ab, &tested, &young);
	/* The delay adapts to the windows that waited for it only. */
	if (!hm->deferred) {
		hpl_abit_tested += tested;
		hpl_abit_young += young;
	}
	hpl_abit_defer(hm, tested, young);
}

static void hpl_abit_sample(struct hpl_mm *hm, u64 *stage_ns)
{
	u64 t0 = hpl_cpu_ns();

	if (hm->deferred)
		return;
	hpl_abit_test(hm);
	stage_ns[HPL_STAGE_SAMPLE] += hpl_cpu_ns() - t0;
}

/*
 * Anonymous memory and file mappings that are not executable: the text of
 * programs and shared libraries stays where it is, as NUMA balancing
 * leaves it, and so do DAX, hugetlb and device mappings.
 */
static bool hpl_vma_wanted(struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_HUGETLB | VM_PFNMAP | VM_MIXEDMAP | VM_IO))
		return false;
	if (vma_is_anonymous(vma))
		return true;
	return vma->vm_file && !(vma->vm_flags & VM_EXEC) && !vma_is_dax(vma);
}

/* The areas of @mm that HPlacement manages, sorted; mmap_lock held. */
static struct hpl_area *hpl_mm_areas(struct mm_struct *mm, unsigned int *nr)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	struct hpl_area *areas;
	unsigned int n = 0;

	areas = kvmalloc_array(max(mm->map_count, 1), sizeof(*areas),
			       GFP_KERNEL);
	if (!areas)
		return NULL;
	for_each_vma(vmi, vma) {
		if (!hpl_vma_wanted(vma) || n == mm->map_count)
			continue;
		areas[n].start = vma->vm_start;
		areas[n].end = vma->vm_end;
		n++;
	}
	*nr = n;
	return areas;
}

/*
 * Keep the addresses of @hm's hints, sorted, before the interval's samples
 * make new ones: hpl_hints_waiting() looks for them at its end.
 */
static void hpl_hints_remember(struct hpl_mm *hm)
{
	unsigned int i;

	for (i = 0; i < hm->nr_hints; i++)
		hm->last_hints[i] = hm->hints[i].addr;
	hm->nr_last_hints = hm->nr_hints;
	sort(hm->last_hints, hm->nr_last_hints, sizeof(hm->last_hints[0]),
	     hpl_addr_cmp, NULL);
}

/* The hints of @hm that were hints the interval before too. */
static unsigned int hpl_hints_waiting(const struct hpl_mm *hm)
{
	unsigned int i, n = 0;

	for (i = 0; i < hm->nr_hints; i++)
		if (bsearch(&hm->hints[i].addr, hm->last_hints,
			    hm->nr_last_hints, sizeof(hm->last_hints[0]),
			    hpl_addr_cmp))
			n++;
	return n;
}

/*
 * Sync @hm with its mappings and clear the accessed bits to sample.
 * Returns false, doing nothing, if none of its threads has run since it
 * was last sampled: its pages were not accessed, and its mappings did not
 * change (another mm's accesses to memory it shares are that mm's
 * samples).  Idle processes cost nothing but the end of their interval.
 */
static bool hpl_mm_prepare(struct hpl_mm *hm, const struct hpl_params *p,
			   u32 scale, u64 *stage_ns)
{
	struct hpl_rank_entry *ranges = NULL;
	struct hpl_area *areas;
	unsigned int nr_areas, nr = 0;
	unsigned long rss = get_mm_rss(hm->mm), now = jiffies;
	unsigned int nr_hints = hm->nr_hints;
	u64 t0 = hpl_cpu_ns();

	hpl_hints_remember(hm);
	hm->nr_hints = 0;
	/* Grown since the last interval, but a look found it settled. */
	hm->growing = !hm->settled &&
		      rss > hm->rss + (hm->rss >> HPL_GROWING_SHIFT);
	hm->settled = false;
	hm->rss = rss;
	/*
	 * This look counts as one that saw it grow: not sampled now, it
	 * settles at the first look after it that sees no growth.  Seen for
	 * the first time, every space looks grown: it settles only after a
	 * look between intervals saw it grow, so that idle processes found
	 * at enabling do not bring the next interval forward.
	 */
	hm->poll_rss = rss;
	hm->poll_at = now;
	hm->poll_grew = hm->growing && hm->seen;
	hm->seen = true;
	if (hm->ran == hm->runtime)
		return false;
	/*
	 * Growing: its accesses are mostly the write front, hot only until
	 * passed.  Sampling it would spend the budget on pages the program
	 * leaves behind; the budget saved pays for the interval that its
	 * settling brings (hpl_poll_settled()), when its hot set shows.
	 */
	if (hm->growing)
		return false;
	hm->runtime = hm->ran;
	/*
	 * The windows cleared at its last interval, if deferred; dropped
	 * untested if another source samples now.
	 */
	if (hpl_active == HPL_SOURCE_ABIT)
		hpl_abit_test(hm);
	kvfree(hm->windows);
	hm->windows = NULL;
	hm->nr_windows = 0;
	if (mmap_read_lock_killable(hm->mm))
		return true;
	areas = hpl_mm_areas(hm->mm, &nr_areas);
	if (areas) {
		hpl_space_sync(&hm->space, p, areas, nr_areas);
		kvfree(areas);
	}
	if (hm->space.nr_ranges && hpl_active == HPL_SOURCE_ABIT)
		ranges = kvmalloc_array(hm->space.nr_ranges, sizeof(*ranges),
					GFP_KERNEL);
	if (ranges) {
		nr = hpl_space_snapshot(&hm->space, ranges,
					hm->space.nr_ranges);
		hpl_abit_clear(hm, scale, ranges, nr);
	}
	mmap_read_unlock(hm->mm);
	if (ranges) {
		hpl_abit_rounds(hm, scale, ranges, nr, nr_hints);
		kvfree(ranges);
	}
	stage_ns[HPL_STAGE_SAMPLE] += hpl_cpu_ns() - t0;
	return true;
}

/* Take the samples of @hm and end its interval; returns its ranges. */
static unsigned int hpl_mm_finish(struct hpl_mm *hm,
				  const struct hpl_params *p, u64 *stage_ns)
{
	struct hpl_interval_stats st = {};
	u64 t0;

	hpl_abit_sample(hm, stage_ns);
	t0 = hpl_cpu_ns();
	hpl_hints_trim(hm);
	hm->nr_waiting = hpl_hints_waiting(hm);
	hpl_space_end_interval(&hm->space, p, &st);
	count_vm_events(HPL_SPLITS, st.nr_splits);
	count_vm_events(HPL_MERGES, st.nr_merges);
	stage_ns[HPL_STAGE_CLASSIFY] += hpl_cpu_ns() - t0;
	return st.nr_ranges;
}

static struct hpl_mm *hpl_mm_find(struct mm_struct *mm)
{
	struct hpl_mm *hm;

	hash_for_each_possible(hpl_mms, hm, node, (unsigned long)mm)
		if (hm->mm == mm)
			return hm;
	return NULL;
}

/* CPU time the budget allows in @ns. */
static s64 hpl_allowed_ns(const struct hpl_budget_params *bp, u64 ns)
{
	return mul_u64_u32_div(ns, bp->budget_ppm, HPL_PPM);
}

/* The most credit: the budget of window_ms. */
static s64 hpl_credit_most(const struct hpl_budget_params *bp)
{
	return hpl_allowed_ns(bp, (u64)READ_ONCE(hpl_config.window_ms) *
			      NSEC_PER_MSEC);
}

/*
 * The credit kept for the hot set's core: half the most.  The warm rest
 * of the hot set spends only what is above it (hpl_migrate()).
 */
static s64 hpl_credit_kept(const struct hpl_budget_params *bp)
{
	return hpl_credit_most(bp) / 2;
}

/*
 * What the migration stage may spend.  Each interval adds the CPU budget
 * of the time since the last one minus what sampling and classification
 * used to a credit (unused budget carries over window_ms of time), and
 * migration spends it at the measured cost per page.  Any credit left
 * lets a small batch (or one THP) move and the intervals after it pay
 * back the debt, so the budget holds on average however dear a page is,
 * and however short the intervals (hpl_wait_jiffies()).  The warm ranges
 * of the hot set get the same on the credit above the kept part.
 */
static void hpl_migrate_allow(const struct hpl_budget_params *bp,
			      const u64 *stage_ns, u64 interval_ns,
			      struct hpl_allowance *allow)
{
	s64 allowed = hpl_allowed_ns(bp, interval_ns);
	s64 spent = stage_ns[HPL_STAGE_SAMPLE] + stage_ns[HPL_STAGE_CLASSIFY];
	u64 t = hpl_cpu_ns();
	s64 warm;

	hpl_credit_ns = min(hpl_credit_ns + allowed - spent,
			    hpl_credit_most(bp));
	memset(allow, 0, sizeof(*allow));
	allow->stop_ns = t + max_t(s64, hpl_credit_ns, HPL_MIGRATE_MIN_NS);
	if (hpl_credit_ns > 0)
		allow->cap = max_t(u64, div64_u64(hpl_credit_ns, hpl_page_ns),
				   HPL_MIGRATE_BATCH_MIN);
	warm = hpl_credit_ns - hpl_credit_kept(bp);
	if (warm > 0) {
		allow->warm_cap = max_t(u64, div64_u64(warm, hpl_page_ns),
					HPL_MIGRATE_BATCH_MIN);
		allow->warm_stop_ns = t + max_t(s64, warm, HPL_MIGRATE_MIN_NS);
	}
}

/*
 * What the credit paid of an interval @interval_ns long, which the
 * controller does not hold against the scale: the migration beyond what
 * sampling and classification left of the interval's own budget, and, in
 * an @early interval (which the credit of @credit saved before it let
 * start before interval_ms), all it used beyond its own budget, up to
 * that credit.  A regular interval's sampling is judged in full: paid
 * from the credit, sampling too dear for the budget would spend it all
 * and leave migration nothing.
 */
static u64 hpl_saved_ns(const struct hpl_budget_params *bp,
			const u64 *stage_ns, u64 interval_ns, s64 credit,
			bool early)
{
	u64 sampled = stage_ns[HPL_STAGE_SAMPLE] + stage_ns[HPL_STAGE_CLASSIFY];
	u64 migrated = stage_ns[HPL_STAGE_MIGRATE];
	u64 allowed = hpl_allowed_ns(bp, interval_ns);

	if (early) {
		if (credit <= 0 || sampled + migrated <= allowed)
			return 0;
		return min_t(u64, sampled + migrated - allowed, credit);
	}
	allowed = allowed > sampled ? allowed - sampled : 0;
	return migrated > allowed ? migrated - allowed : 0;
}

/*
 * The time since the last interval started, which the budget is a share
 * of.  The first interval after enabling counts as one nominal interval
 * (not as none, nor as all the time it was off), so that its cost, the
 * highest (everything starts at full scale), cuts the scale at once.
 */
static u64 hpl_interval_ns(ktime_t now, ktime_t last)
{
	u64 nominal = (u64)READ_ONCE(hpl_config.interval_ms) * NSEC_PER_MSEC;
	u64 ns = ktime_to_ns(ktime_sub(now, last));

	return last && ns < 2 * nominal ? ns : nominal;
}

/*
 * What khplacement ran in an interval outside the stages (finding the
 * processes, their spaces, freeing them) is bookkeeping of the ranges:
 * charged to classification, so that the budget and the stage times cover
 * all of the thread.  The credit pays it in intervals that refilled it.
 */
static void hpl_charge_rest(u64 *stage_ns, u64 total_ns, bool refilled)
{
	u64 staged = stage_ns[HPL_STAGE_SAMPLE] + stage_ns[HPL_STAGE_CLASSIFY] +
		     stage_ns[HPL_STAGE_MIGRATE];

	if (total_ns <= staged)
		return;
	stage_ns[HPL_STAGE_CLASSIFY] += total_ns - staged;
	if (refilled)
		hpl_credit_ns -= total_ns - staged;
}

static int hpl_raw_cmp(const void *a, const void *b)
{
	const struct hpl_raw_sample *x = a, *y = b;

	if (x->mm != y->mm)
		return x->mm < y->mm ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return 0;
}

/*
 * Resolve samples of @hm's mm, sorted by address, to the node of their
 * page and record them; counts the resolved ones per origin in @nr.
 */
static void hpl_record_raw(struct hpl_mm *hm, const struct hpl_raw_sample *raw,
			   unsigned int n, struct hpl_batch *ab,
			   unsigned long nr[HPL_NR_ORIGINS])
{
	struct vm_area_struct *vma = NULL;
	struct folio_walk fw;
	struct folio *folio;
	unsigned long addr;
	unsigned int i;
	int nid;

	if (mmap_read_lock_killable(hm->mm)) {
		ab->nr_dropped += n;
		return;
	}
	for (i = 0; i < n; i++) {
		addr = raw[i].addr;
		if (!vma || addr >= vma->vm_end)
			vma = find_vma(hm->mm, addr);
		if (!vma || addr < vma->vm_start || !hpl_vma_wanted(vma)) {
			ab->nr_dropped++;
			continue;
		}
		folio = folio_walk_start(&fw, vma, addr, 0);
		if (!folio) {
			ab->nr_dropped++;
			continue;
		}
		nid = folio_nid(folio);
		folio_walk_end(&fw, vma);
		if (ab->nr == HPL_ABIT_BATCH)
			hpl_batch_flush(ab);
		hpl_batch_add(ab, addr, nid);
		nr[raw[i].origin]++;
	}
	hpl_batch_flush(ab);
	mmap_read_unlock(hm->mm);
}

/*
 * Take the samples of the PMU and injector rings and record them in the
 * spaces of this interval; samples of other mms are dropped.  Returns the
 * time the sample handlers ran on other CPUs, charged to sampling.
 */
static u64 hpl_drain(u32 scale, u64 *stage_ns)
{
	unsigned long nr[HPL_NR_ORIGINS] = {}, fmem = 0, smem = 0, dropped = 0;
	unsigned int max = min(hpl_scale_amount(scale, HPL_DRAIN_SAMPLES),
			       HPL_DRAIN_SAMPLES), n, i, j;
	struct hpl_raw_sample *raw = hpl_drained;
	u64 lost, handler_ns;
	u64 t0 = hpl_cpu_ns();
	struct hpl_mm *hm;

	n = hpl_rings_drain(raw, max, &lost, &handler_ns);
	sort(raw, n, sizeof(*raw), hpl_raw_cmp, NULL);
	for (i = 0; i < n; i = j) {
		struct hpl_batch ab = { .record = true };

		for (j = i + 1; j < n && raw[j].mm == raw[i].mm; j++)
			;
		hm = hpl_mm_find(raw[i].mm);
		/* Only mms referenced for this interval are safe to walk. */
		if (!hm || hm->gen != hpl_gen) {
			dropped += j - i;
			continue;
		}
		ab.space = &hm->space;
		hpl_record_raw(hm, raw + i, j - i, &ab, nr);
		fmem += ab.nr_fmem;
		smem += ab.nr_smem;
		dropped += ab.nr_dropped;
		cond_resched();
	}
	count_vm_events(HPL_SAMPLES_PEBS, nr[HPL_ORIGIN_PEBS]);
	count_vm_events(HPL_SAMPLES_IBS, nr[HPL_ORIGIN_IBS]);
	count_vm_events(HPL_SAMPLES_INJECTED, nr[HPL_ORIGIN_INJECT]);
	count_vm_events(HPL_SAMPLES_FMEM, fmem);
	count_vm_events(HPL_SAMPLES_SMEM, smem);
	count_vm_events(HPL_SAMPLES_DROPPED, dropped);
	count_vm_events(HPL_SAMPLES_LOST, lost);
	/* The handlers ran on behalf of this interval's sampling too. */
	stage_ns[HPL_STAGE_SAMPLE] += hpl_cpu_ns() - t0 +
				      handler_ns;
	return handler_ns;
}

/* Run the source sysfs asks for; the accessed bits when it cannot run. */
static void hpl_source_update(u32 scale)
{
	enum hpl_source want = READ_ONCE(hpl_config.source);
	int src;

	if (want == hpl_applied)
		return;
	src = hpl_source_pick(want, hpl_sources_available(hpl_active));
	if (src < 0)
		src = HPL_SOURCE_ABIT;
	if (src != hpl_active) {
		hpl_pmu_stop();
		if (src != HPL_SOURCE_ABIT && hpl_pmu_start(src, scale)) {
			pr_warn("hplacement: cannot start source %s, sampling accessed bits\n",
				hpl_source_names[src]);
			src = HPL_SOURCE_ABIT;
		}
		hpl_active = src;
	}
	hpl_applied = want;
	WRITE_ONCE(hpl_stats.source, hpl_active);
}

static void hpl_source_off(void)
{
	hpl_pmu_stop();
	hpl_active = HPL_SOURCE_ABIT;
	hpl_applied = -1;
	WRITE_ONCE(hpl_stats.source, hpl_active);
}

static struct hpl_mm *hpl_mm_get(struct mm_struct *mm)
{
	struct hpl_mm *hm = hpl_mm_find(mm);

	if (hm)
		return hm;
	hm = kzalloc(sizeof(*hm), GFP_KERNEL);
	if (!hm)
		return NULL;
	mmgrab(mm);
	hm->mm = mm;
	hpl_space_init(&hm->space, hpl_next_id++);
	hash_add(hpl_mms, &hm->node, (unsigned long)mm);
	return hm;
}

static void hpl_mm_free(struct hpl_mm *hm)
{
	hash_del(&hm->node);
	hpl_space_destroy(&hm->space);
	kvfree(hm->windows);
	mmdrop(hm->mm);
	kfree(hm);
}

static void hpl_free_all(void)
{
	struct hlist_node *tmp;
	struct hpl_mm *hm;
	int bkt;

	hpl_source_off();
	hpl_hotness_clear();
	hpl_credit_ns = 0;
	hpl_catch_up = false;
	hpl_hurry_ms = 0;
	hash_for_each_safe(hpl_mms, bkt, tmp, hm, node)
		hpl_mm_free(hm);
	WRITE_ONCE(hpl_stats.nr_spaces, 0);
	WRITE_ONCE(hpl_stats.nr_ranges, 0);
}

static bool hpl_excluded(struct task_struct *p,
			 char exclude[][TASK_COMM_LEN], unsigned int nr)
{
	char comm[TASK_COMM_LEN];
	unsigned int i;

	if (!nr)
		return false;
	get_task_comm(comm, p);
	for (i = 0; i < nr; i++)
		if (!strcmp(comm, exclude[i]))
			return true;
	return false;
}

/* A process's mm and the CPU time its threads have run. */
struct hpl_found {
	struct mm_struct *mm;
	u64 runtime;
};

/*
 * The mms of all user processes but the excluded ones, each with a
 * reference (mmget).
 */
static struct hpl_found *hpl_collect_mms(unsigned int *nr)
{
	char exclude[HPL_MAX_EXCLUDE][TASK_COMM_LEN];
	unsigned int nr_exclude;
	unsigned int max = nr_processes() + 16, n = 0;
	struct task_struct *p, *t;
	struct hpl_found *mms;
	struct mm_struct *mm;
	u64 runtime;

	mms = kvmalloc_array(max, sizeof(*mms), GFP_KERNEL);
	if (!mms)
		return NULL;
	mutex_lock(&hpl_lock);
	nr_exclude = hpl_config.nr_exclude;
	memcpy(exclude, hpl_config.exclude, sizeof(exclude));
	mutex_unlock(&hpl_lock);
	rcu_read_lock();
	for_each_process(p) {
		if (p->flags & PF_KTHREAD ||
		    hpl_excluded(p, exclude, nr_exclude))
			continue;
		if (n == max)
			break;
		/* The leader may have exited while other threads run. */
		mm = NULL;
		runtime = 0;
		for_each_thread(p, t) {
			/* Racy, but a change is all that counts. */
			runtime += READ_ONCE(t->se.sum_exec_runtime);
			if (!mm)
				mm = get_task_mm(t);
		}
		if (mm) {
			mms[n].mm = mm;
			mms[n++].runtime = runtime;
		}
	}
	rcu_read_unlock();
	*nr = n;
	return mms;
}

static bool hpl_have_hints(struct hpl_mm **hms, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (hms[i]->nr_hints)
			return true;
	return false;
}

/*
 * Budget of an interval @interval_ns long that sampling leaves to
 * migration after one that ended with hot pages waiting on SMEM since the
 * interval before and no credit to move them: half of it.  At the scale
 * that fits the budget, sampling takes 80-100 % of it; the hot set found
 * then waited seconds for the few hundred microseconds a second that the
 * credit grew by.
 */
static u64 hpl_reserve_ns(const struct hpl_budget_params *bp,
			  struct hpl_mm **hms, unsigned int nr,
			  u64 interval_ns)
{
	unsigned int i;

	if (hpl_credit_ns > 0)
		return 0;
	for (i = 0; i < nr; i++)
		if (hms[i]->nr_waiting)
			return hpl_allowed_ns(bp, interval_ns) / 2;
	return 0;
}

static unsigned int hpl_hurry_min_ms(unsigned int interval_ms)
{
	return max(interval_ms / HPL_HURRY_DIV, HPL_INTERVAL_MS_MIN);
}

/*
 * The wait before an interval brought forward: an interval after one that
 * moved pages with budget left (a hurried one), or after a space settled
 * (hpl_wait_interval()).  At least @min_ms, and long enough that the
 * @credit saved and the budget of the wait pay twice for sampling and
 * classifying again, so that the migration keeps half of it; 0 (none)
 * when that is a whole interval_ms.
 */
static unsigned int hpl_early_ms(const struct hpl_budget_params *bp,
				 const u64 *stage_ns, s64 credit,
				 unsigned int min_ms, unsigned int interval_ms)
{
	u64 ns, ms;

	/* Past a minute of CPU time, no hurry in any case. */
	if (check_add_overflow(stage_ns[HPL_STAGE_SAMPLE],
			       stage_ns[HPL_STAGE_CLASSIFY], &ns))
		ns = U64_MAX;
	ns = 2 * min_t(u64, ns, 60 * NSEC_PER_SEC);
	/* What earlier intervals saved pays first. */
	if (credit > 0)
		ns -= min_t(u64, ns, credit);
	ms = div_u64(div_u64(ns * HPL_PPM, bp->budget_ppm), NSEC_PER_MSEC);
	ms = max_t(u64, ms, min_ms);
	return ms < interval_ms ? ms : 0;
}

static void hpl_interval(void)
{
	u64 stage_ns[HPL_NR_STAGES] = {}, throttles, nr_ranges = 0, headroom;
	u64 saved_ns, interval_ns, reserve_ns = 0;
	u64 start = hpl_cpu_ns() - hpl_poll_ns, handler_ns;
	static ktime_t last;
	struct hpl_budget_params bp;
	struct hpl_mm **todo = NULL;
	unsigned int nr_mms = 0, nr_todo = 0, nr_idle = 0, nr_growing = 0;
	unsigned int nr_delayed = 0;
	unsigned int i, interval_ms;
	u32 scale;
	struct hpl_params p;
	struct hpl_found *mms;
	struct hlist_node *tmp;
	struct hpl_mm *hm;
	ktime_t now = ktime_get();
	bool catch_up = hpl_catch_up;
	s64 credit = hpl_credit_ns, spare;
	unsigned long moved = 0, core_moved = 0;
	int bkt;

	hpl_poll_ns = 0;
	mutex_lock(&hpl_lock);
	p = hpl_config.params;
	bp = hpl_config.budget;
	headroom = hpl_config.headroom;
	mutex_unlock(&hpl_lock);

	interval_ns = hpl_interval_ns(now, last);
	hpl_gen++;
	hpl_source_update(hpl_budget.scale);
	mms = hpl_collect_mms(&nr_mms);
	if (mms)
		todo = kvmalloc_array(max(nr_mms, 1), sizeof(*todo),
				      GFP_KERNEL);
	for (i = 0; i < nr_mms; i++) {
		hm = todo ? hpl_mm_get(mms[i].mm) : NULL;
		if (!hm)
			continue;
		/* vfork children share their parent's mm: once only. */
		if (hm->gen != hpl_gen) {
			hm->gen = hpl_gen;
			hm->ran = 0;
			todo[nr_todo++] = hm;
		}
		hm->ran += mms[i].runtime;
	}
	if (catch_up) {
		for (i = 0; i < nr_todo; i++)
			nr_ranges += todo[i]->space.nr_ranges;
		handler_ns = hpl_drain(hpl_budget.scale, stage_ns);
	} else {
		for (i = 0; i < nr_todo; i++) {
			if (hpl_mm_prepare(todo[i], &p, hpl_budget.scale,
					   stage_ns)) {
				if (!todo[i]->deferred)
					nr_delayed++;
				continue;
			}
			if (todo[i]->growing)
				nr_growing++;
			else
				nr_idle++;
			cond_resched();
		}
		if (nr_delayed && hpl_active == HPL_SOURCE_ABIT)
			msleep_interruptible(hpl_abit_delay_ms);
		handler_ns = hpl_drain(hpl_budget.scale, stage_ns);
		for (i = 0; i < nr_todo; i++) {
			nr_ranges += hpl_mm_finish(todo[i], &p, stage_ns);
			cond_resched();
		}
		hpl_abit_adapt();
	}
	if (nr_todo) {
		struct hpl_allowance allow;
		u64 t, ns;

		hpl_migrate_allow(&bp, stage_ns, interval_ns, &allow);
		t = hpl_cpu_ns();
		moved = hpl_migrate(todo, nr_todo, hpl_budget.scale, headroom,
				    &allow);
		core_moved = allow.core_moved;
		/*
		 * The budget, not the work, ended the stage, with samples
		 * on SMEM to follow: the next interval only migrates.
		 */
		hpl_catch_up = !catch_up && hpl_cpu_ns() >= allow.stop_ns &&
			       hpl_have_hints(todo, nr_todo);
		ns = hpl_cpu_ns() - t;
		stage_ns[HPL_STAGE_MIGRATE] += ns;
		hpl_credit_ns -= ns;
		reserve_ns = hpl_reserve_ns(&bp, todo, nr_todo, interval_ns);
		/* Few pages: the fixed cost of the stage would dominate. */
		if (moved >= HPL_MIGRATE_BATCH_MIN)
			hpl_page_cost(div64_u64(ns, moved));
	}
	interval_ms = READ_ONCE(hpl_config.interval_ms);
	hpl_hurry_ms = 0;
	/* Only the hot set's core hurries on the kept credit. */
	spare = hpl_credit_ns - (core_moved ? 0 : hpl_credit_kept(&bp));
	if (moved && spare > 0)
		hpl_hurry_ms = hpl_early_ms(&bp, stage_ns, spare,
					    hpl_hurry_min_ms(interval_ms),
					    interval_ms);
	/* No quarter-interval floor: a settled space is not a burst. */
	if (!catch_up)
		hpl_settle_ms = hpl_early_ms(&bp, stage_ns, hpl_credit_ns,
					     HPL_INTERVAL_MS_MIN, interval_ms);
	for (i = 0; i < nr_mms; i++)
		mmput(mms[i].mm);
	kvfree(mms);
	kvfree(todo);

	/* Spaces whose mm is gone. */
	hpl_watch = false;
	hash_for_each_safe(hpl_mms, bkt, tmp, hm, node) {
		if (hm->gen != hpl_gen || !atomic_read(&hm->mm->mm_users))
			hpl_mm_free(hm);
		else if (hm->growing && hpl_settle_ms)
			hpl_watch = true;
	}
	hpl_charge_rest(stage_ns, hpl_cpu_ns() - start + handler_ns, nr_todo);
	saved_ns = hpl_saved_ns(&bp, stage_ns, interval_ns, credit,
				interval_ns < (u64)interval_ms * NSEC_PER_MSEC);

	count_vm_events(HPL_SAMPLE_NS, stage_ns[HPL_STAGE_SAMPLE]);
	count_vm_events(HPL_CLASSIFY_NS, stage_ns[HPL_STAGE_CLASSIFY]);
	count_vm_events(HPL_MIGRATE_NS, stage_ns[HPL_STAGE_MIGRATE]);
	throttles = hpl_budget.nr_throttles;
	scale = hpl_budget.scale;
	hpl_budget_update(&hpl_budget, &bp, stage_ns, saved_ns, reserve_ns,
			  interval_ns);
	trace_hplacement_budget(stage_ns[HPL_STAGE_SAMPLE],
				stage_ns[HPL_STAGE_CLASSIFY],
				stage_ns[HPL_STAGE_MIGRATE],
				hpl_budget.used_ppm, bp.budget_ppm, scale,
				hpl_budget.scale);
	count_vm_events(HPL_THROTTLES, hpl_budget.nr_throttles - throttles);
	hpl_pmu_set_scale(hpl_budget.scale);
	last = now;

	WRITE_ONCE(hpl_stats.nr_spaces, nr_todo);
	WRITE_ONCE(hpl_stats.nr_idle, nr_idle);
	WRITE_ONCE(hpl_stats.nr_growing, nr_growing);
	WRITE_ONCE(hpl_stats.nr_ranges, nr_ranges);
	WRITE_ONCE(hpl_stats.scale, hpl_budget.scale);
	WRITE_ONCE(hpl_stats.used_ppm, hpl_budget.used_ppm);
	WRITE_ONCE(hpl_stats.nr_intervals, hpl_stats.nr_intervals + 1);
}

/*
 * The wait before the next interval: interval_ms, or a fraction of it
 * after an interval that moved pages, so that a hot set found on SMEM is
 * followed up at once rather than an interval later.  The budget holds
 * either way: the migration credit grows with the time that passed, and
 * the controller takes the CPU time over the interval's real length.
 */
static unsigned long hpl_wait_jiffies(unsigned int interval_ms)
{
	if (hpl_hurry_ms)
		return msecs_to_jiffies(min(hpl_hurry_ms, interval_ms));
	return msecs_to_jiffies(interval_ms);
}

/*
 * Whether @rss pages that grew by @grew in @took jiffies still grow at
 * 1/HPL_SETTLE_RATE or more of the rate that makes a space growing: an
 * HPL_GROWING_SHIFT share of itself per @interval jiffies.
 */
static bool hpl_growth_goes_on(unsigned long rss, unsigned long grew,
			       unsigned long took, unsigned long interval)
{
	return (u64)grew * interval * HPL_SETTLE_RATE >=
	       (u64)(rss >> HPL_GROWING_SHIFT) * took;
}

/*
 * Look at the spaces that were growing at the last interval.  True when
 * one settled: it grew on at the look before and no longer does.
 */
static bool hpl_poll_settled(unsigned int interval_ms)
{
	unsigned long interval = msecs_to_jiffies(interval_ms);
	unsigned long rss, now = jiffies;
	bool settled = false, on;
	struct hpl_mm *hm;
	int bkt;

	hash_for_each(hpl_mms, bkt, hm, node) {
		if (!hm->growing || !atomic_read(&hm->mm->mm_users))
			continue;
		rss = get_mm_rss(hm->mm);
		on = hpl_growth_goes_on(rss, rss > hm->poll_rss ?
					rss - hm->poll_rss : 0,
					now - hm->poll_at, interval);
		if (hm->poll_grew && !on) {
			hm->settled = true;
			settled = true;
		}
		hm->poll_grew = on;
		hm->poll_rss = rss;
		hm->poll_at = now;
	}
	return settled;
}

/*
 * Wait @timeout for the next interval, or less: a wake-up, a change of
 * @enabled, or, while a space grows, its settling (returns true).  A
 * program that first touches its memory and then works on it shows its
 * hot set when it settles, and would otherwise wait up to a whole
 * interval_ms to be looked at.
 */
static bool hpl_wait_interval(bool enabled, unsigned long timeout,
			      unsigned int interval_ms)
{
	unsigned long end = jiffies + timeout, slice;
	bool settled;
	u64 t0;

	while (time_before(jiffies, end)) {
		slice = end - jiffies;
		if (enabled && hpl_watch)
			slice = min(slice, msecs_to_jiffies(min(interval_ms / 2,
								HPL_SETTLE_POLL_MS)) ?: 1);
		if (wait_event_freezable_timeout(hpl_wait,
						 kthread_should_stop() ||
						 READ_ONCE(hpl_config.enabled) != enabled ||
						 READ_ONCE(hpl_woken),
						 slice))
			return false;
		if (!enabled || !hpl_watch)
			continue;
		t0 = hpl_cpu_ns();
		settled = hpl_poll_settled(interval_ms);
		hpl_poll_ns += hpl_cpu_ns() - t0;
		if (settled) {
			/* Its hot set shows now: sample, do not catch up. */
			hpl_catch_up = false;
			WRITE_ONCE(hpl_stats.nr_settled,
				   hpl_stats.nr_settled + 1);
			return true;
		}
	}
	return false;
}

static int hpl_thread_fn(void *unused)
{
	unsigned int interval_ms;
	unsigned long start, next;
	bool enabled;

	set_freezable();
	/* Our migrations' copies may go to a device, off our budget. */
	folio_copier_begin();
	while (!kthread_should_stop()) {
		enabled = READ_ONCE(hpl_config.enabled);
		interval_ms = READ_ONCE(hpl_config.interval_ms);
		start = jiffies;
		next = start + msecs_to_jiffies(hpl_hurry_min_ms(interval_ms));
		if (enabled)
			hpl_interval();
		else
			hpl_free_all();
		interval_ms = READ_ONCE(hpl_config.interval_ms);
		if (hpl_wait_interval(enabled, hpl_wait_jiffies(interval_ms),
				      interval_ms))
			next = start + msecs_to_jiffies(hpl_settle_ms);
		/*
		 * A wake-up (a balloon waiting for FMEM) brings the next
		 * interval forward, but not closer to this one than a
		 * hurried interval: they may come in bursts.  A space that
		 * settled, as close as the budget pays for.
		 */
		WRITE_ONCE(hpl_woken, false);
		if (enabled && READ_ONCE(hpl_config.enabled) &&
		    time_before(jiffies, next))
			wait_event_freezable_timeout(hpl_wait,
						     kthread_should_stop() ||
						     !READ_ONCE(hpl_config.enabled),
						     next - jiffies);
	}
	folio_copier_end();
	hpl_free_all();
	return 0;
}

static int __init hpl_init(void)
{
	int ret;

	hpl_params_init(&hpl_config.params);
	hpl_budget_params_init(&hpl_config.budget);
	hpl_budget_init(&hpl_budget, &hpl_config.budget);
	hpl_config.interval_ms = HPL_INTERVAL_MS_DEFAULT;
	hpl_config.window_ms = HPL_WINDOW_MS_DEFAULT;
	hpl_config.source = HPL_SOURCE_AUTO;
	hpl_stats.scale = hpl_budget.scale;

	hpl_stats.source = HPL_SOURCE_ABIT;
	hpl_drained = kvmalloc_array(HPL_DRAIN_SAMPLES, sizeof(*hpl_drained),
				     GFP_KERNEL);
	if (!hpl_drained)
		return -ENOMEM;

	ret = hpl_source_debugfs_init();
	if (ret)
		return ret;
	ret = hpl_sysfs_init();
	if (ret)
		return ret;
	hpl_thread = kthread_run(hpl_thread_fn, NULL, "khplacement");
	if (IS_ERR(hpl_thread)) {
		pr_err("hplacement: cannot start khplacement: %ld\n",
		       PTR_ERR(hpl_thread));
		return PTR_ERR(hpl_thread);
	}
	return 0;
}
late_initcall(hpl_init);

#include "tests/core-kunit.h"

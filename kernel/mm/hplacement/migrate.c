// SPDX-License-Identifier: GPL-2.0
/*
 * HPlacement: moving the hot set into FMEM.
 *
 * After classification, the ranges of all spaces are ranked and the hot
 * set that fits in FMEM minus the headroom is chosen (hpl_fit()).  The
 * resident SMEM pages of its ranges, hottest range first and within it
 * the PMDs where this interval's SMEM samples fell first, are isolated
 * and promoted into the free FMEM above the headroom and the watermarks
 * with migrate_pages(); when FMEM is full they are exchanged with FMEM
 * pages of the coldest ranges instead (anonymous and shmem ones, shmem
 * only within its memcg: other page cache folios are only promoted and
 * demoted).  Below the headroom, FMEM pages
 * of the coldest ranges are demoted first.  Each step moves at most a
 * batch per interval that scales with the CPU budget.  A balloon that
 * waits for FMEM (hpl_balloon_want()) adds what it wants to the headroom.
 */

#include <linux/bsearch.h>
#include <linux/exchange.h>
#include <linux/hplacement.h>
#include <linux/memory-tiers.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/compaction.h>	/* after mm.h: not self-contained */
#include <linux/pagewalk.h>
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/seqlock.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmstat.h>

#include <trace/events/hplacement.h>

#include "../internal.h"
#include "core.h"

/*
 * Pages promoted, exchanged and demoted per interval at the nominal work
 * scale (64, 32 and 64 MiB).  The CPU budget (the credit, hpl_stop_ns)
 * is what bounds a stage; these only bound what one interval isolates
 * and remembers, so that they do not hold back a larger budget.
 */
#define HPL_PROMOTE_PAGES	16384
#define HPL_EXCHANGE_PAGES	8192
#define HPL_DEMOTE_PAGES	16384

/*
 * Folios (and pages: one THP) per migrate_pages() call, and pairs per
 * exchange_folios() call: the stage looks at the time between calls.
 */
#define HPL_PMD_PAGES		(PMD_SIZE >> PAGE_SHIFT)
#define HPL_MIGRATE_CHUNK	32
#define HPL_MIGRATE_CHUNK_PAGES	HPL_PMD_PAGES
#define HPL_EXCHANGE_CHUNK	64

/* Isolated folios whose place an exchange remembers, at most. */
#define HPL_WHERE_MAX		(2 * HPL_EXCHANGE_PAGES)

/*
 * The page cap of a stage follows the average cost per page, but a small
 * folio costs far more per page than a THP, and finding folios in the
 * page tables costs too: the stage also stops when khplacement's CPU time
 * passes hpl_stop_ns.  Page walks stop there in any case (one that finds
 * nothing can cost as much as moving); what they isolated before goes as
 * one batch (hpl_tried), so that a dear folio moves on a small credit.
 */
static u64 hpl_stop_ns;
static bool hpl_tried;

/* Below the headroom, whether this interval exchanges before demoting. */
static bool hpl_up_first;

static bool hpl_walk_time_up(void)
{
	return task_sched_runtime(current) > hpl_stop_ns;
}

static bool hpl_time_up(void)
{
	return hpl_tried && hpl_walk_time_up();
}

/**
 * struct hpl_where - where a page walk found a folio it isolated
 * @pfn: the folio's first page frame
 * @nr: its pages; a THP split later leaves small folios in this range
 * @mm: the mm whose page tables map it
 * @addr: the address of its first page there
 */
struct hpl_where {
	unsigned long pfn;
	unsigned long nr;
	struct mm_struct *mm;
	unsigned long addr;
};

/**
 * struct hpl_promote - folios isolated by a page walk
 * @folios: the isolated folios
 * @nr: pages isolated, in @folios or since migrated or put back
 * @max: isolate no more pages
 * @nr_folios: folios isolated by the current walk
 * @max_folios: if not 0, the walk stops at this many, at @next
 * @next: where a walk stopped by @max_folios would go on
 * @fmem: isolate folios on FMEM (cold ones to exchange), else on SMEM
 * @one_node: and only folios on node @nid
 * @exchange: only folios that exchange_folios() takes (folio_may_exchange())
 * @large_only: only PMD-mapped THPs; the page tables below are not walked
 * @nid: see @one_node
 * @room: free FMEM pages that promoted folios may take, 0 for no limit: a
 *	THP that cannot fit would only fail, after trying to compact FMEM
 * @where: if not NULL, where the folios were found (@nr_where of them,
 *	@max_where at most; hpl_exchange() sorts them by pfn), for
 *	exchange_folios_mm()
 */
struct hpl_promote {
	struct list_head folios;
	unsigned long nr;
	unsigned long max;
	unsigned int nr_folios;
	unsigned int max_folios;
	unsigned long next;
	unsigned long room;
	struct hpl_where *where;
	unsigned int nr_where;
	unsigned int max_where;
	bool fmem;
	bool one_node;
	bool exchange;
	bool large_only;
	int nid;
};

/*
 * Anonymous folios, and page cache folios of the non-executable file
 * mappings that HPlacement manages (migrate_pages() leaves out those that
 * their filesystem cannot move now, dirty or under writeback).
 */
static bool hpl_folio_movable(const struct hpl_promote *pr,
			      struct folio *folio)
{
	if (folio_is_zone_device(folio) || folio_test_ksm(folio))
		return false;
	if (pr->exchange)
		return folio_may_exchange(folio);
	return folio_test_anon(folio) || folio->mapping;
}

/* Isolate @folio for @pr if it wants it; @mm maps @page of it at @addr. */
static void hpl_promote_folio(struct hpl_promote *pr, struct folio *folio,
			      struct page *page, struct mm_struct *mm,
			      unsigned long addr)
{
	long nr = folio_nr_pages(folio);

	/* The first folio goes even when it alone is over @pr->max. */
	if ((pr->nr && pr->nr + nr > pr->max) ||
	    (pr->room && pr->nr + nr > pr->room) ||
	    node_is_toptier(folio_nid(folio)) != pr->fmem ||
	    (pr->one_node && folio_nid(folio) != pr->nid) ||
	    !hpl_folio_movable(pr, folio))
		return;
	if (!folio_isolate_lru(folio))
		return;
	list_add_tail(&folio->lru, &pr->folios);
	node_stat_mod_folio(folio, NR_ISOLATED_ANON + folio_is_file_lru(folio),
			    nr);
	pr->nr += nr;
	pr->nr_folios++;
	if (pr->where && pr->nr_where < pr->max_where)
		pr->where[pr->nr_where++] = (struct hpl_where) {
			.pfn = folio_pfn(folio),
			.nr = nr,
			.mm = mm,
			.addr = addr - (folio_page_idx(folio, page) << PAGE_SHIFT),
		};
}

/* The walk isolated all it may: a chunk (see @pr->next) or the most. */
static bool hpl_promote_full(const struct hpl_promote *pr)
{
	return pr->nr >= pr->max ||
	       (pr->max_folios && pr->nr_folios >= pr->max_folios);
}

/* Pages of the folios on @list that NR_ISOLATED_FILE counts. */
static unsigned long hpl_file_pages(struct list_head *list)
{
	unsigned long nr = 0;
	struct folio *folio;

	list_for_each_entry(folio, list, lru)
		if (folio_is_file_lru(folio))
			nr += folio_nr_pages(folio);
	return nr;
}

static int hpl_promote_pmd(pmd_t *pmd, unsigned long addr,
			   unsigned long next, struct mm_walk *walk)
{
	struct hpl_promote *pr = walk->private;
	struct folio *folio, *last = NULL;
	pte_t *pte, *start_pte;
	spinlock_t *ptl;	/* page table lock */

	if (hpl_walk_time_up())
		return 1;
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (ptl) {
		pmd_t val = pmdp_get(pmd);

		if (pmd_present(val) && pmd_trans_huge(val) &&
		    !is_huge_zero_pmd(val))
			hpl_promote_folio(pr, page_folio(pmd_page(val)),
					  pmd_page(val), walk->mm, addr);
		spin_unlock(ptl);
		if (!hpl_promote_full(pr))
			return 0;
		pr->next = next;
		return 1;
	}
#endif
	if (pr->large_only)
		return 0;
	start_pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!start_pte)
		return 0;
	for (pte = start_pte; addr < next && !hpl_promote_full(pr);
	     pte++, addr += PAGE_SIZE) {
		pte_t ptent = ptep_get(pte);
		struct page *page;

		if (!pte_present(ptent))
			continue;
		page = vm_normal_page(walk->vma, addr, ptent);
		if (!page || page_folio(page) == last)
			continue;
		folio = page_folio(page);
		last = folio;
		hpl_promote_folio(pr, folio, page, walk->mm, addr);
	}
	pte_unmap_unlock(start_pte, ptl);
	if (!hpl_promote_full(pr))
		return 0;
	pr->next = addr;
	return 1;
}

static const struct mm_walk_ops hpl_promote_ops = {
	.pmd_entry = hpl_promote_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/* Isolate the folios of [@start, @end) of @mm that @pr wants. */
static void hpl_isolate_range(struct mm_struct *mm, unsigned long start,
			      unsigned long end, struct hpl_promote *pr)
{
	if (pr->nr >= pr->max || mmap_read_lock_killable(mm))
		return;
	walk_page_range(mm, start, end, &hpl_promote_ops, pr);
	mmap_read_unlock(mm);
}

/*
 * Migrate the isolated folios of @pr to @nid; those on FMEM (@pr->fmem)
 * all come from node @from and are demoted.  What did not move stays on
 * the list; @tried counts the pages that migrate_pages() was given (the
 * rest were left when the stage ran out of time).  Returns the pages
 * moved.
 */
static unsigned int hpl_migrate_list(struct hpl_promote *pr, int from,
				     int nid, unsigned long *tried)
{
	enum migrate_reason reason = pr->fmem ? MR_DEMOTION : MR_NUMA_MISPLACED;
	struct migration_target_control mtc = {
		.nid = nid,
		.gfp_mask = (GFP_HIGHUSER_MOVABLE & ~__GFP_RECLAIM) |
			    __GFP_THISNODE | __GFP_NOWARN | __GFP_NOMEMALLOC,
		.reason = reason,
	};
	unsigned long file = pr->fmem ? hpl_file_pages(&pr->folios) : 0;
	unsigned int nr_succeeded = 0, ok, n, pages;
	struct folio *folio, *next;
	unsigned long moved_file;
	LIST_HEAD(chunk);
	LIST_HEAD(left);

	while (!list_empty(&pr->folios) && !hpl_time_up()) {
		n = 0;
		pages = 0;
		list_for_each_entry_safe(folio, next, &pr->folios, lru) {
			if (n == HPL_MIGRATE_CHUNK || (n && pages +
			    folio_nr_pages(folio) > HPL_MIGRATE_CHUNK_PAGES))
				break;
			pages += folio_nr_pages(folio);
			list_move_tail(&folio->lru, &chunk);
			n++;
		}
		*tried += pages;
		hpl_tried = true;
		ok = 0;
		migrate_pages(&chunk, alloc_migration_target, NULL,
			      (unsigned long)&mtc, MIGRATE_ASYNC, reason, &ok);
		nr_succeeded += ok;
		list_splice_tail_init(&chunk, &left);
	}
	list_splice(&left, &pr->folios);
	/*
	 * migrate_pages() leaves NR_ISOLATED of demoted folios to its
	 * caller, as reclaim accounts them; ours are folios of @from,
	 * accounted by type at isolation.  Those that did not move are
	 * still on the list and putback_movable_pages() accounts them.
	 */
	if (pr->fmem && nr_succeeded) {
		moved_file = min_t(unsigned long,
				   file - min(hpl_file_pages(&pr->folios), file),
				   nr_succeeded);
		mod_node_page_state(NODE_DATA(from), NR_ISOLATED_FILE,
				    -(long)moved_file);
		mod_node_page_state(NODE_DATA(from), NR_ISOLATED_ANON,
				    -(long)(nr_succeeded - moved_file));
	}
	if (pr->fmem)
		count_vm_events(HPL_DEMOTIONS, nr_succeeded);
	return nr_succeeded;
}

/*
 * Migrate the pages of [@start, @end) of @mm that are on SMEM (promote,
 * into @room free pages, 0: no limit) or on FMEM node @from (demote,
 * @fmem) to @nid, @max at most; pages that were tried but did not move
 * are added to @failed and put back, not retried.  The walk isolates one
 * migration chunk at a time: when the stage's time ends after a chunk of
 * 4 KiB pages (100 us each under TCG), isolating the rest of a PMD's
 * pages only to put them back would have cost as much as moving them.
 */
static unsigned long hpl_move_range(struct mm_struct *mm, unsigned long start,
				    unsigned long end, int from, int nid,
				    unsigned long max, unsigned long room,
				    bool fmem, unsigned long *failed)
{
	struct hpl_promote pr = {
		.folios = LIST_HEAD_INIT(pr.folios),
		.max = max,
		.room = room,
		.fmem = fmem,
		.one_node = fmem,
		.nid = from,
		.max_folios = HPL_MIGRATE_CHUNK,
	};
	unsigned long tried = 0, moved = 0;

	do {
		pr.nr_folios = 0;
		pr.next = end;
		hpl_isolate_range(mm, start, end, &pr);
		if (list_empty(&pr.folios))
			break;
		moved += hpl_migrate_list(&pr, from, nid, &tried);
		putback_movable_pages(&pr.folios);
		start = pr.next;
	} while (start < end && pr.nr < pr.max && !hpl_time_up());
	*failed += tried > moved ? tried - moved : 0;
	return moved;
}

/*
 * The pages of @nid that user pages can hold, and in @room its free pages
 * that a user page may take: above the high watermark and the reserve that
 * a zone keeps from allocations that could use a higher zone (all of
 * ZONE_DMA, typically).
 */
static unsigned long hpl_node_pages(int nid, unsigned long *room)
{
	enum zone_type classzone = gfp_zone(GFP_HIGHUSER_MOVABLE);
	pg_data_t *pgdat = NODE_DATA(nid);
	unsigned long managed = 0, free, wmark, user = 0;
	enum lru_list lru;
	struct zone *zone;
	int z;

	*room = 0;
	for (z = 0; z < MAX_NR_ZONES; z++) {
		zone = &pgdat->node_zones[z];
		if (!populated_zone(zone))
			continue;
		managed += zone_managed_pages(zone);
		free = zone_page_state(zone, NR_FREE_PAGES);
		user += free;
		wmark = high_wmark_pages(zone) + zone->lowmem_reserve[classzone];
		if (free > wmark)
			*room += free - wmark;
	}
#if IS_ENABLED(CONFIG_VIRTIO_HBALLOON)
	/* Ballooned pages are managed but given back to the host. */
	managed -= min(managed, node_page_state(pgdat, NR_HBALLOON_PAGES));
#endif
	/*
	 * The kernel's own memory (slab, page tables, a debug kernel's
	 * shadow) is no room for the hot set: counted, it made a full FMEM
	 * look as if everything fit, and no range was cold.
	 */
	for_each_lru(lru)
		user += node_page_state(pgdat, NR_LRU_BASE + lru);
	user += node_page_state(pgdat, NR_ISOLATED_ANON) +
		node_page_state(pgdat, NR_ISOLATED_FILE);
	return min(managed, user);
}

static struct hpl_mm *hpl_find_hm(struct hpl_mm **hms, unsigned int nr, u64 id)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (hms[i]->space.id == id)
			return hms[i];
	return NULL;
}

static struct mm_struct *hpl_find_mm(struct hpl_mm **hms, unsigned int nr,
				     u64 id)
{
	struct hpl_mm *hm = hpl_find_hm(hms, nr, id);

	return hm ? hm->mm : NULL;
}

/*
 * The part of the hint window @h (a PMD with samples on SMEM) that lies in
 * @e, in [*@start, *@end); false when there is none.  Anywhere in the
 * range: which part of a partly hot range is hot is what the samples
 * say, not its first hot_bytes.
 */
static bool hpl_hint_window(const struct hpl_rank_entry *e,
			    unsigned long h, unsigned long *start,
			    unsigned long *end)
{
	*start = max(h, e->start);
	*end = min(h + PMD_SIZE, e->end);
	return *start < *end;
}

/* Pages that the hints in @e may move in one interval: its hot bytes. */
static unsigned long hpl_hint_limit(const struct hpl_rank_entry *e,
				    unsigned long done, unsigned long max)
{
	return min(max, done + (unsigned long)(e->hot_bytes >> PAGE_SHIFT));
}

/* Split isolated @folio to order 0; its tails join @list. */
static bool hpl_split_isolated(struct folio *folio, struct list_head *list)
{
	int err = -EAGAIN;

	if (folio_trylock(folio)) {
		err = split_folio_to_list(folio, list);
		folio_unlock(folio);
	}
	return !err;
}

/*
 * A folio of @cold of the size of @a that may pair with it (see
 * folio_may_pair()); *@unkind is set when one of its size may not.  For a
 * small @a and no small cold folio to pair with, a large one is split
 * (the first time only, @split): a few hot pages then take the place of a
 * few cold ones, where demoting the whole large folio would move it all
 * and let it churn.  The tails of the split folio join @cold, isolated;
 * those left unpaired go back in FMEM.
 */
static struct folio *hpl_cold_partner(struct list_head *cold,
				      struct folio *a, bool *split,
				      bool *unkind)
{
	struct folio *b, *large = NULL;

	list_for_each_entry(b, cold, lru) {
		if (!folio_may_pair(a, b)) {
			*unkind |= folio_nr_pages(b) == folio_nr_pages(a);
			continue;
		}
		if (folio_nr_pages(b) == folio_nr_pages(a))
			return b;
		if (!large && folio_test_large(b))
			large = b;
	}
	if (folio_test_large(a) || !large || !*split)
		return NULL;
	if (!hpl_split_isolated(large, cold)) {
		/* Not again in this batch: it would fail the same way. */
		*split = false;
		return NULL;
	}
	count_vm_event(HPL_EXCHANGE_SPLITS);
	return large;
}

/* Small folios on @list that @a may pair with: for @a's pages, split. */
static bool hpl_has_small(struct list_head *list, struct folio *a)
{
	struct folio *folio;

	list_for_each_entry(folio, list, lru)
		if (!folio_test_large(folio) && folio_may_pair(a, folio))
			return true;
	return false;
}

/*
 * Large hot folios on @big found no cold partner of their size: only
 * small ones were isolated.  For them, as many small cold pages are
 * demoted, so that they can be promoted whole next time; but the frames
 * freed are scattered, and compaction makes a free block of an order only
 * with twice its size free above the low watermark.  So when @big is
 * smaller than that gap plus itself, its folios are split instead and
 * their pages paired with small cold folios (khugepaged may collapse them
 * again in FMEM).  The tails join @big.  Returns the pairs in @pairs.
 */
static unsigned int hpl_pair_split(struct list_head *big,
				   unsigned long big_pages,
				   unsigned int big_order,
				   struct list_head *cold,
				   struct list_head *paired,
				   struct folio_exchange *pairs,
				   unsigned int nr, unsigned int max)
{
	bool split = false, unkind = false;	/* unkind: not counted here */
	struct folio *a, *b;

	if (big_pages >= compact_gap(big_order) + (1UL << big_order))
		return nr;
	list_for_each_entry(a, big, lru) {
		if (nr == max)
			break;
		if (!hpl_has_small(cold, a))
			continue;
		if (folio_test_large(a)) {
			if (!hpl_split_isolated(a, big))
				continue;
			count_vm_event(HPL_EXCHANGE_SPLITS_HOT);
		}
		b = hpl_cold_partner(cold, a, &split, &unkind);
		if (!b)
			continue;
		list_move_tail(&b->lru, paired);
		pairs[nr].a = a;
		pairs[nr].b = b;
		nr++;
	}
	return nr;
}

static int hpl_where_cmp(const void *x, const void *y)
{
	const struct hpl_where *a = x, *b = y;

	return a->pfn < b->pfn ? -1 : a->pfn > b->pfn;
}

/* Folios are isolated once, so the page frame ranges do not overlap. */
static int hpl_where_key(const void *key, const void *elt)
{
	unsigned long pfn = *(const unsigned long *)key;
	const struct hpl_where *w = elt;

	if (pfn < w->pfn)
		return -1;
	return pfn >= w->pfn + w->nr;
}

/*
 * Where the walk of @pr found @folio, or the THP it was split from: its
 * address in *@addr, its mm returned (NULL: not found).  @pr->where is
 * sorted by pfn.
 */
static struct mm_struct *hpl_where_find(const struct hpl_promote *pr,
					struct folio *folio,
					unsigned long *addr)
{
	unsigned long pfn = folio_pfn(folio);
	const struct hpl_where *w;

	if (!pr->where)
		return NULL;
	w = bsearch(&pfn, pr->where, pr->nr_where, sizeof(*pr->where),
		    hpl_where_key);
	if (!w)
		return NULL;
	*addr = w->addr + ((pfn - w->pfn) << PAGE_SHIFT);
	return w->mm;
}

/*
 * Exchange @nr pairs with the addresses where the walks found the folios
 * (small ones split off a cold THP too), under the mmap_lock of the mm of
 * the first hot one and of the first cold one, so that exchange_folios_mm()
 * remaps small folios without rmap walks and knows which THPs it unmapped
 * from a PMD.  The second mmap_lock is only tried (two of the same class
 * could deadlock); the folios of other mms go through the rmap alone.
 */
static int hpl_exchange_pairs(struct folio_exchange *pairs, unsigned int nr,
			      const struct hpl_promote *hot,
			      const struct hpl_promote *cold)
{
	struct mm_struct *mm_a = NULL, *mm_b = NULL, *mm;
	unsigned long addr;
	unsigned int i;
	int done;

	for (i = 0; i < nr; i++) {
		pairs[i].addr_a = 0;
		pairs[i].addr_b = 0;
		mm = hpl_where_find(hot, pairs[i].a, &addr);
		if (mm && !mm_a)
			mm_a = mm;
		if (mm && mm == mm_a)
			pairs[i].addr_a = addr;
		mm = hpl_where_find(cold, pairs[i].b, &addr);
		if (mm && !mm_b)
			mm_b = mm;
		if (mm && mm == mm_b)
			pairs[i].addr_b = addr;
	}
	if (mm_a && mmap_read_lock_killable(mm_a))
		mm_a = NULL;
	if (mm_b && mm_b != mm_a && !mmap_read_trylock(mm_b))
		mm_b = NULL;
	done = exchange_folios_mm(mm_a, mm_b, pairs, nr);
	if (mm_b && mm_b != mm_a)
		mmap_read_unlock(mm_b);
	if (mm_a)
		mmap_read_unlock(mm_a);
	return done;
}

/* Pages of the large folios on @list. */
static unsigned long hpl_large_pages(struct list_head *list)
{
	unsigned long nr = 0;
	struct folio *folio;

	list_for_each_entry(folio, list, lru)
		if (folio_test_large(folio))
			nr += folio_nr_pages(folio);
	return nr;
}

/*
 * Isolate exchange partners for @cold from the coldest of the @n ranges
 * up, below @last, the last range a hot folio came from: cold ones, and
 * hot ones at most half as hot as the bar @score.  When everything in use
 * fits FMEM's capacity, every range is hot (a buffer's first-touched,
 * never reused part too); once the cold ranges' FMEM pages were gone, a
 * hot set left on SMEM found no partner and waited for splits to tell its
 * range apart.  The margin keeps two ranges of alike hotness from trading
 * places.
 */
static void hpl_isolate_partners(struct hpl_mm **hms, unsigned int nr_hms,
				 const struct hpl_rank_entry *entries,
				 unsigned int n, unsigned int last, u64 score,
				 struct hpl_promote *cold)
{
	struct mm_struct *mm;

	while (n-- > last + 1 && cold->nr < cold->max &&
	       !hpl_walk_time_up()) {
		if (entries[n].class != HPL_COLD &&
		    entries[n].score > score / 2)
			continue;
		mm = hpl_find_mm(hms, nr_hms, entries[n].space_id);
		if (mm)
			hpl_isolate_range(mm, entries[n].start, entries[n].end,
					  cold);
	}
}

/*
 * FMEM is full: exchange the SMEM pages of the hot ranges among
 * @entries[@from..@to) (@entries is sorted by rank, hottest first) with
 * FMEM pages of the cold ranges, coldest first, folios of the same size
 * paired, @max pages at most.  Returns the pages moved.
 */
static unsigned long hpl_exchange(struct hpl_mm **hms, unsigned int nr_hms,
				  struct hpl_rank_entry *entries,
				  unsigned int n, unsigned int from,
				  unsigned int to, int fmem, int smem,
				  unsigned long max)
{
	struct hpl_promote hot = {
		.folios = LIST_HEAD_INIT(hot.folios),
		.max = max,
		.exchange = true,
	};
	struct hpl_promote cold = {
		.folios = LIST_HEAD_INIT(cold.folios),
		.fmem = true,
		.one_node = true,
		.exchange = true,
		.nid = fmem,
	};
	struct hpl_promote demote = {
		.folios = LIST_HEAD_INIT(demote.folios),
		.fmem = true,
	};
	unsigned long pages = 0, unpaired, tried = 0, demoted = 0;
	struct folio_exchange *pairs = NULL;
	unsigned int i, h, nr = 0, done = 0, n_tried = 0, k, last = from;
	unsigned int unkind = 0;
	bool other;
	unsigned long start, end, got;
	u64 score = U64_MAX;
	unsigned int big_order = 0, max_pairs = 0;
	unsigned long big_pages = 0, large;
	bool split = true;
	struct hpl_mm *hm;
	LIST_HEAD(paired);
	LIST_HEAD(big);
	struct folio *a, *b, *next;
	struct mm_struct *mm;

	hot.max_where = min_t(unsigned long, max + 1, HPL_WHERE_MAX);
	hot.where = kvmalloc_array(hot.max_where, sizeof(*hot.where),
				   GFP_KERNEL);
	/* The SMEM pages around this interval's samples first. */
	for (i = from; i < to && entries[i].class != HPL_COLD; i++) {
		hm = hpl_find_hm(hms, nr_hms, entries[i].space_id);
		hot.max = hpl_hint_limit(&entries[i], hot.nr, max);
		got = hot.nr;
		for (h = 0; hm && h < hm->nr_hints; h++)
			if (hpl_hint_window(&entries[i], hm->hints[h].addr,
					    &start, &end))
				hpl_isolate_range(hm->mm, start, end, &hot);
		if (hot.nr > got)
			last = i;
	}
	/*
	 * Then whole hot ranges; a partly hot one only where sampled.  The
	 * least hot range that hints came from sets the partners' bar: a
	 * whole range isolated after them may be barely warm (the unsampled
	 * pages between a cold part in FMEM and the hot set), and with its
	 * score as the bar no hot range qualified as a partner.
	 */
	if (hot.nr)
		score = entries[last].score;
	hot.max = max;
	for (i = from; i < to && entries[i].class == HPL_HOT; i++) {
		mm = hpl_find_mm(hms, nr_hms, entries[i].space_id);
		got = hot.nr;
		if (mm)
			hpl_isolate_range(mm, entries[i].start, entries[i].end,
					  &hot);
		if (hot.nr == got)
			continue;
		if (score == U64_MAX)
			score = entries[i].score;
		last = max(last, i);
	}
	cold.max = hot.nr;
	if (hot.nr) {
		cold.max_where = min_t(unsigned long, cold.max + 1,
				       HPL_WHERE_MAX);
		cold.where = kvmalloc_array(cold.max_where,
					    sizeof(*cold.where), GFP_KERNEL);
	}
	/*
	 * A hot THP paired with small cold folios is split and exchanged a
	 * 4 KiB page at a time, at hundreds of times the cost: its partners
	 * are looked for among the cold THPs first, in all of the partners'
	 * ranges (only their PMDs are walked), before the small folios of
	 * the coldest ranges take its place.
	 */
	large = hpl_large_pages(&hot.folios);
	if (large) {
		cold.large_only = true;
		cold.max = large;
		hpl_isolate_partners(hms, nr_hms, entries, n, last, score,
				     &cold);
		cold.large_only = false;
		cold.max = hot.nr;
	}
	hpl_isolate_partners(hms, nr_hms, entries, n, last, score, &cold);
	if (hot.where)
		sort(hot.where, hot.nr_where, sizeof(*hot.where),
		     hpl_where_cmp, NULL);
	if (cold.where)
		sort(cold.where, cold.nr_where, sizeof(*cold.where),
		     hpl_where_cmp, NULL);
	/* At most one partner per hot page, split or not. */
	if (cold.nr) {
		max_pairs = min(cold.nr, hot.nr);
		pairs = kvmalloc_array(max_pairs, sizeof(*pairs), GFP_KERNEL);
	}
	/* Pair folios of the same size. */
	list_for_each_entry_safe(a, next, &hot.folios, lru) {
		if (!pairs)
			break;
		other = false;
		b = hpl_cold_partner(&cold.folios, a, &split, &other);
		if (!b) {
			unkind += other;
			if (folio_test_large(a)) {
				big_pages += folio_nr_pages(a);
				big_order = max(big_order, folio_order(a));
				list_move_tail(&a->lru, &big);
			}
			continue;
		}
		list_move_tail(&b->lru, &paired);
		pairs[nr].a = a;
		pairs[nr].b = b;
		nr++;
	}
	if (big_pages)
		nr = hpl_pair_split(&big, big_pages, big_order, &cold.folios,
				    &paired, pairs, nr, max_pairs);
	list_splice_tail(&big, &hot.folios);
	/*
	 * Hot folios left unpaired while cold folios of another size were
	 * there: skipped for their order, counted with the order refusals;
	 * those that saw only cold ones of their size they may not pair with
	 * (shmem of another memcg) with those of type.
	 */
	if (!list_empty(&cold.folios)) {
		count_vm_events(EXCHANGE_FAIL_ORDER,
				list_count_nodes(&hot.folios) - nr - unkind);
		count_vm_events(EXCHANGE_FAIL_TYPE, unkind);
	}
	for (i = 0; i < nr && !hpl_time_up(); i += k) {
		k = min(nr - i, HPL_EXCHANGE_CHUNK);
		hpl_tried = true;
		done += hpl_exchange_pairs(pairs + i, k, &hot, &cold);
		n_tried += k;
	}
	trace_hplacement_exchange_batch(hot.nr, cold.nr, n_tried, done);
	unpaired = hot.nr;
	for (i = 0; i < n_tried; i++) {
		unpaired -= folio_nr_pages(pairs[i].a);
		if (!pairs[i].err)
			pages += folio_nr_pages(pairs[i].a);
	}
	kvfree(pairs);
	kvfree(hot.where);
	kvfree(cold.where);
	/* Out of time: the cold folios stay, the rest of the hot set waits. */
	if (n_tried < nr)
		unpaired = 0;
	/*
	 * Hot folios larger than every cold one found no partner: as many
	 * cold pages are demoted, isolated already, so that they can be
	 * promoted next time.  The other cold folios stay in FMEM.
	 */
	list_for_each_entry_safe(b, next, &cold.folios, lru) {
		if (!unpaired || smem == NUMA_NO_NODE)
			break;
		unpaired -= min(unpaired, folio_nr_pages(b));
		list_move_tail(&b->lru, &demote.folios);
	}
	if (!list_empty(&demote.folios))
		demoted = hpl_migrate_list(&demote, fmem, smem, &tried);
	pages += demoted;
	putback_movable_pages(&hot.folios);
	putback_movable_pages(&cold.folios);
	putback_movable_pages(&demote.folios);
	putback_movable_pages(&paired);
	count_vm_events(HPL_EXCHANGES, done);
	count_vm_events(HPL_EXCHANGE_FAIL, n_tried - done);
	count_vm_events(HPL_DEMOTE_FAIL, tried - demoted);
	return pages;
}

/*
 * The hot set of the last interval, split between the tiers in
 * proportion to where each hot range's samples fell; 0 in @valid while
 * HPlacement is off.
 */
static struct {
	seqlock_t lock;
	bool valid;
	u64 hot[2];		/* SMEM, FMEM */
} hpl_hotness = { .lock = __SEQLOCK_UNLOCKED(hpl_hotness.lock) };

static void hpl_hotness_set(const struct hpl_rank_entry *entries,
			    unsigned int n)
{
	u64 hot[2] = {}, f, sm;
	unsigned int i;

	for (i = 0; i < n && entries[i].class != HPL_COLD; i++) {
		f = entries[i].last_fmem;
		sm = entries[i].last_smem;
		if (!f && !sm) {
			/* No sample in the last interval: assumed on FMEM. */
			hot[1] += entries[i].hot_bytes;
			continue;
		}
		hot[1] += mul_u64_u64_div_u64(entries[i].hot_bytes, f, f + sm);
		hot[0] += entries[i].hot_bytes -
			  mul_u64_u64_div_u64(entries[i].hot_bytes, f, f + sm);
	}
	write_seqlock(&hpl_hotness.lock);
	hpl_hotness.valid = true;
	hpl_hotness.hot[0] = hot[0];
	hpl_hotness.hot[1] = hot[1];
	write_sequnlock(&hpl_hotness.lock);
}

void hpl_hotness_clear(void)
{
	write_seqlock(&hpl_hotness.lock);
	hpl_hotness.valid = false;
	write_sequnlock(&hpl_hotness.lock);
}

/**
 * hpl_node_hotness - hot and cold memory of a node, as HPlacement sees it
 * @nid: node
 * @hot: bytes of the hot set on @nid
 * @cold: the other bytes in use on @nid
 *
 * The hot bytes of a tier are shared among its nodes in proportion to
 * their managed memory; cold bytes are the rest of the node's memory in
 * use, ballooned pages excluded.
 *
 * Return: 0, or -ENODATA while HPlacement is not classifying.
 */
int hpl_node_hotness(int nid, u64 *hot, u64 *cold)
{
	unsigned long tier = 0, mine = 0, room, used, pages;
	bool fmem = node_is_toptier(nid);
	unsigned int seq;
	u64 tier_hot;
	bool valid;
	int n;

	do {
		seq = read_seqbegin(&hpl_hotness.lock);
		valid = hpl_hotness.valid;
		tier_hot = hpl_hotness.hot[fmem];
	} while (read_seqretry(&hpl_hotness.lock, seq));
	if (!valid || !node_state(nid, N_MEMORY))
		return -ENODATA;
	for_each_node_state(n, N_MEMORY) {
		if (node_is_toptier(n) != fmem)
			continue;
		pages = hpl_node_pages(n, &room);
		tier += pages;
		if (n == nid)
			mine = pages;
	}
	used = mine - min(mine, sum_zone_node_page_state(nid, NR_FREE_PAGES));
	*hot = tier ? mul_u64_u64_div_u64(tier_hot, mine, tier) : 0;
	*hot = min_t(u64, *hot, (u64)used << PAGE_SHIFT);
	*cold = ((u64)used << PAGE_SHIFT) - *hot;
	return 0;
}
EXPORT_SYMBOL_GPL(hpl_node_hotness);

/* Pages that balloons still want from each node (hpl_balloon_want()). */
static unsigned long hpl_balloon_wanted[MAX_NUMNODES];

/**
 * hpl_balloon_want - a balloon is waiting for memory of a node
 * @nid: node
 * @pages: pages the balloon still wants from @nid; 0 once it has them
 *
 * A host that shrinks the FMEM of a guest below what the guest uses
 * gets it only when the guest moves data out.  While HPlacement runs, it
 * keeps this much FMEM free on top of its headroom, demoting the coldest
 * pages to make room, within its CPU budget.
 */
void hpl_balloon_want(int nid, unsigned long pages)
{
	if (nid < 0 || nid >= MAX_NUMNODES ||
	    READ_ONCE(hpl_balloon_wanted[nid]) == pages)
		return;
	WRITE_ONCE(hpl_balloon_wanted[nid], pages);
	if (pages)
		hpl_wake();
}
EXPORT_SYMBOL_GPL(hpl_balloon_want);

/* The SMEM node that FMEM node @nid demotes to. */
static int hpl_demotion_target(int nid)
{
	int target = next_demotion_node(nid);

	if (target != NUMA_NO_NODE)
		return target;
	for_each_node_state(target, N_MEMORY)
		if (!node_is_toptier(target))
			return target;
	return NUMA_NO_NODE;
}

/*
 * FMEM has less free memory than the headroom: demote the FMEM pages of
 * the cold ranges (@entries sorted by rank, hottest first), coldest
 * first, @max pages at most.  Returns the pages demoted.
 */
static unsigned long hpl_demote(struct hpl_mm **hms, unsigned int nr_hms,
				struct hpl_rank_entry *entries,
				unsigned int n, int from, int nid,
				unsigned long max, unsigned long *failed)
{
	unsigned long done = 0;
	struct mm_struct *mm;

	while (n-- > 0 && done < max && !hpl_walk_time_up()) {
		if (entries[n].class != HPL_COLD)
			break;
		mm = hpl_find_mm(hms, nr_hms, entries[n].space_id);
		if (!mm)
			continue;
		done += hpl_move_range(mm, entries[n].start, entries[n].end,
				       from, nid, max - done, 0, true, failed);
		cond_resched();
	}
	return done;
}

/* Whether this interval counted its warm ranges as held. */
static bool hpl_held;

/*
 * The hot set's core (hpl_fit_result.nr_core) moves on the whole credit;
 * its warm rest only on what is above the part kept for the core.  Warm
 * ranges are worth moving too (the rest of a buffer that fits FMEM, in
 * place of idle memory), but a pair at a time they spent the credit as it
 * came, and a hot set that showed or moved found none for a burst: it
 * then took a pair per interval, seconds at the default budget.
 *
 * Switch the stage to the warm ranges' allowance: false when they have
 * none.  An interval whose warm ranges had samples on SMEM and wait for
 * it counts as held.
 */
static bool hpl_warm_up(const struct hpl_rank_entry *entries, unsigned int n,
			unsigned int nr_core,
			const struct hpl_allowance *allow)
{
	unsigned int i;

	if (allow->warm_stop_ns) {
		hpl_stop_ns = min(hpl_stop_ns, allow->warm_stop_ns);
		return true;
	}
	for (i = nr_core; i < n && !hpl_held; i++) {
		if (entries[i].class == HPL_COLD)
			break;
		if (entries[i].last_smem) {
			count_vm_event(HPL_WARM_HELD);
			hpl_held = true;
		}
	}
	return false;
}

/*
 * Exchange for the core, then for the warm ranges; the stop time the
 * stage had is restored after them.  Returns the pages moved.
 */
static unsigned long hpl_exchange_tiers(struct hpl_mm **hms, unsigned int nr,
					struct hpl_rank_entry *entries,
					unsigned int n, unsigned int nr_core,
					int fmem, int smem, unsigned long max,
					struct hpl_allowance *allow)
{
	unsigned long moved = 0;
	u64 stop = hpl_stop_ns;

	if (nr_core) {
		moved = hpl_exchange(hms, nr, entries, n, 0, nr_core, fmem,
				     smem, max);
		allow->core_moved += moved;
	}
	if (moved < max && hpl_warm_up(entries, n, nr_core, allow))
		moved += hpl_exchange(hms, nr, entries, n, nr_core, n, fmem,
				      smem, min(max - moved, allow->warm_cap));
	hpl_stop_ns = stop;
	return moved;
}

/**
 * struct hpl_up - a step up into free FMEM (hpl_move_up())
 * @max: pages to promote at most
 * @hint_max: of them, around this interval's samples
 * @exchange_max: pages to exchange first, when FMEM has too little room
 * @avail: free FMEM pages above the headroom
 * @promoted: pages promoted so far
 * @exchanged: pages exchanged so far
 * @failed: pages isolated that did not move
 */
struct hpl_up {
	unsigned long max;
	unsigned long hint_max;
	unsigned long exchange_max;
	unsigned long avail;
	unsigned long promoted;
	unsigned long exchanged;
	unsigned long failed;
};

/*
 * Promote the SMEM pages of @entries[@from..@to) into free FMEM, with
 * exchanges where it has too little room.
 */
static void hpl_move_up(struct hpl_mm **hms, unsigned int nr,
			struct hpl_rank_entry *entries, unsigned int n,
			unsigned int from, unsigned int to, int target,
			int smem, struct hpl_up *up)
{
	unsigned long done = up->promoted, failed = up->failed;
	unsigned long max = min(up->max, up->avail), limit, start, end;
	struct hpl_mm *hm;
	unsigned int i, h;

	/*
	 * Less room than the pages to move, or than a THP (the first of a
	 * batch goes however small the cap): exchange too.
	 */
	if (up->avail < up->max || up->avail < HPL_PMD_PAGES)
		up->exchanged += hpl_exchange(hms, nr, entries, n, from, to,
					      target, smem, up->exchange_max);
	/*
	 * The SMEM pages around this interval's samples first, up to the
	 * budget's time rather than the page cap: the cap prices every page
	 * alike, and a THP's pages cost a tenth of 4 KiB ones or less.
	 */
	for (i = from; i < to && done < up->hint_max && !hpl_walk_time_up();
	     i++) {
		if (entries[i].class == HPL_COLD)
			break;
		hm = hpl_find_hm(hms, nr, entries[i].space_id);
		limit = hpl_hint_limit(&entries[i], done, up->hint_max);
		for (h = 0; hm && h < hm->nr_hints && done < limit; h++) {
			if (!hpl_hint_window(&entries[i], hm->hints[h].addr,
					     &start, &end))
				continue;
			done += hpl_move_range(hm->mm, start, end,
					       NUMA_NO_NODE, target,
					       limit - done, up->avail - done,
					       false, &up->failed);
		}
	}
	/*
	 * Then whole hot ranges.  A partly hot range moves only where it was
	 * sampled: in address order, its cold part could go first.  So does
	 * a range of a process that is first touching its memory: the write
	 * front's samples make its range look hot, the pages behind the
	 * front are not, and moving them in address order would fill FMEM
	 * before the program's hot set shows.
	 */
	for (i = from; i < to && done < max && !hpl_walk_time_up(); i++) {
		if (entries[i].class != HPL_HOT)
			break;
		hm = hpl_find_hm(hms, nr, entries[i].space_id);
		if (!hm || hm->growing)
			continue;
		done += hpl_move_range(hm->mm, entries[i].start, entries[i].end,
				       NUMA_NO_NODE, target, max - done,
				       up->avail - done, false, &up->failed);
		cond_resched();
	}
	/* FMEM had less room than it seemed: exchange instead. */
	if (up->failed > failed && done < max)
		up->exchanged += hpl_exchange(hms, nr, entries, n, from, to,
					      target, smem, max - done);
	up->promoted = done;
}

/**
 * hpl_migrate - move the hot set of the spaces into FMEM
 * @hms: the spaces classified in this interval, their mms referenced by
 *	the caller
 * @nr: number of spaces
 * @scale: work scale of the interval
 * @headroom: bytes of FMEM to keep free
 * @allow: what the rest of the CPU budget of the interval can move
 *
 * Return: pages moved (promoted, exchanged and demoted).
 */
unsigned long hpl_migrate(struct hpl_mm **hms, unsigned int nr, u32 scale,
			  u64 headroom, struct hpl_allowance *allow)
{
	unsigned long room = 0, node_room, max, capacity = 0, limit;
	unsigned long demoted = 0, demote_failed = 0, moved = 0;
	unsigned long cap = allow->cap;
	struct hpl_rank_entry *entries;
	unsigned int i, total = 0, n = 0, nr_core;
	int nid, smem, target = NUMA_NO_NODE;
	struct hpl_fit_result res;
	struct hpl_up up = {};

	hpl_stop_ns = allow->stop_ns;
	hpl_tried = false;
	hpl_held = false;
	allow->core_moved = 0;
	for_each_node_state(nid, N_MEMORY) {
		if (!node_is_toptier(nid))
			continue;
		capacity += hpl_node_pages(nid, &node_room);
		if (target == NUMA_NO_NODE) {
			target = nid;
			room = node_room;
		}
	}
	if (target == NUMA_NO_NODE || !nr)
		return 0;
	smem = hpl_demotion_target(target);

	for (i = 0; i < nr; i++)
		total += hms[i]->space.nr_ranges;
	if (!total)
		return 0;
	entries = kvmalloc_array(total, sizeof(*entries), GFP_KERNEL);
	if (!entries)
		return 0;
	for (i = 0; i < nr && n < total; i++)
		n += hpl_space_snapshot(&hms[i]->space, entries + n,
					total - n);
	hpl_fit(entries, n, (u64)capacity << PAGE_SHIFT, headroom, &res);
	hpl_hotness_set(entries, n);
	nr_core = res.nr_core;

	headroom >>= PAGE_SHIFT;
	headroom += READ_ONCE(hpl_balloon_wanted[target]);
	if (room < headroom) {
		/*
		 * Below the headroom: make room, coldest pages out, and with
		 * the time left exchange hot SMEM pages, which takes no room.
		 * The first batch of a step always goes, and one batch of
		 * demotions can take an interval's time (4 KiB pages copied by
		 * the host one request each, a debug kernel): every other
		 * interval the exchange goes first, so neither starves.
		 */
		limit = min3(headroom - room, cap,
			     hpl_scale_amount(scale, HPL_DEMOTE_PAGES));
		max = min(hpl_scale_amount(scale, HPL_EXCHANGE_PAGES), cap);
		hpl_up_first = !hpl_up_first;
		if (smem != NUMA_NO_NODE) {
			if (hpl_up_first)
				moved = hpl_exchange_tiers(hms, nr, entries, n,
							   nr_core, target,
							   smem, max, allow);
			if (!hpl_walk_time_up())
				demoted = hpl_demote(hms, nr, entries, n,
						     target, smem, limit,
						     &demote_failed);
			if (!hpl_up_first && !hpl_walk_time_up())
				moved = hpl_exchange_tiers(hms, nr, entries, n,
							   nr_core, target,
							   smem,
							   max - min(max,
								     demoted),
							   allow);
		}
		count_vm_events(HPL_DEMOTE_FAIL, demote_failed);
		trace_hplacement_migrate(res.hot_bytes, room, headroom, 0,
					 demoted, demote_failed, nr_core,
					 hpl_held);
		kvfree(entries);
		return demoted + moved;
	}
	up.avail = room - headroom;
	up.max = min(hpl_scale_amount(scale, HPL_PROMOTE_PAGES), cap);
	up.hint_max = min(hpl_scale_amount(scale, HPL_PROMOTE_PAGES),
			  up.avail);
	up.exchange_max = min(hpl_scale_amount(scale, HPL_EXCHANGE_PAGES),
			      cap);
	if (nr_core)
		hpl_move_up(hms, nr, entries, n, 0, nr_core, target, smem,
			    &up);
	allow->core_moved = up.promoted + up.exchanged;
	if (hpl_warm_up(entries, n, nr_core, allow)) {
		/* Within the warm part of the credit, on top of the core's. */
		up.max = min(up.max, up.promoted + allow->warm_cap);
		up.hint_max = min(up.hint_max,
				  up.promoted + allow->warm_cap);
		up.exchange_max = min(up.exchange_max, allow->warm_cap);
		hpl_move_up(hms, nr, entries, n, nr_core, n, target, smem,
			    &up);
	}
	kvfree(entries);
	count_vm_events(HPL_PROMOTIONS, up.promoted);
	count_vm_events(HPL_PROMOTE_FAIL, up.failed);
	trace_hplacement_migrate(res.hot_bytes, room, headroom, up.promoted,
				 0, up.failed, nr_core, hpl_held);
	return up.exchanged + up.promoted;
}

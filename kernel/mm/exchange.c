// SPDX-License-Identifier: GPL-2.0
/*
 * Folio exchange: swap the contents and the mappings of two anonymous or
 * shmem folios of the same order, typically a hot folio on a slow memory
 * node and a cold folio on a fast one, without needing free memory on
 * either node.
 *
 * Each pair goes through the steps of a migration, done for both folios at
 * once: both are locked and unmapped to migration entries; after one TLB
 * flush for the whole batch, the reference counts of both are frozen, the
 * contents are swapped word by word (by a device that registered as the
 * folio copier, for the whole batch in one request, or by the CPU), the
 * metadata that belongs to
 * the contents (anon_vma and index, dirty and LRU-age flags, memcg, NUMA
 * information) is swapped, and the migration entries of each folio are
 * replaced by mappings of the other.  Everything that belongs to the
 * physical memory (node, zone, page owner, waiters) stays where it is.
 *
 * Statistics need no extra care: unmapping and remapping go through the
 * rmap functions, which account NR_ANON_MAPPED and NR_ANON_THPS to the node
 * and memcg of the folio at that time, and each folio is put back on the
 * LRU of its own node by the caller (anonymous and shmem folios are both
 * on the anonymous LRU).  Each virtual page keeps its kind of mapping, so
 * the RSS counters stay as they are; the page cache counters of shmem
 * contents that trade places with anonymous ones move between the nodes
 * (exchange_cache_stats()).
 */

#include <linux/debugfs.h>
#include <linux/exchange.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/memory-tiers.h>
#include <linux/migrate.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mmu_notifier.h>
#include <linux/page_idle.h>
#include <linux/pagewalk.h>
#include <linux/ptrace.h>
#include <linux/rmap.h>
#include <linux/rwsem.h>
#include <linux/shmem_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/sysctl.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/vmstat.h>

#include <asm/tlbflush.h>

#include "internal.h"

static void exchange_count(int err, unsigned int nr)
{
	enum vm_event_item item;

	switch (err) {
	case 0:
		item = EXCHANGE_SUCCESS;
		break;
	case -EXDEV:
		item = EXCHANGE_FAIL_ORDER;
		break;
	case -EBUSY:
		item = EXCHANGE_FAIL_BUSY;
		break;
	default:
		item = EXCHANGE_FAIL_TYPE;
		break;
	}
	count_vm_events(item, nr);
}

/*
 * A folio of shmem's page cache (tmpfs, memfd, shared anonymous memory),
 * small or large (one multi-index slot, mapped by PTEs or a PMD).  Its
 * page cache slot is swapped with its partner's; other file systems would
 * need their private data and dirty accounting handled.
 */
static bool exchange_shmem(struct folio *folio)
{
	struct address_space *mapping = READ_ONCE(folio->mapping);

	return !folio_test_anon(folio) && mapping && shmem_mapping(mapping);
}

/**
 * folio_may_pair - whether exchange_folios() takes these two folios together
 * @a: a folio that folio_may_exchange() takes
 * @b: another
 *
 * Anonymous folios pair with any; a shmem folio only with one of its memcg
 * (the page cache counters of two memcgs would have to move).
 *
 * Return: true if @a and @b may be exchanged, sizes aside.
 */
bool folio_may_pair(struct folio *a, struct folio *b)
{
	return (folio_test_anon(a) && folio_test_anon(b)) ||
	       folio_memcg(a) == folio_memcg(b);
}

/**
 * folio_may_exchange - whether exchange_folios() takes folios of this kind
 * @folio: the folio, locked or not (then the answer is only a hint)
 *
 * Return: true for anonymous folios (not KSM) and shmem folios.
 */
bool folio_may_exchange(struct folio *folio)
{
	if (folio_test_anon(folio))
		return !folio_test_ksm(folio);
	return exchange_shmem(folio);
}

/*
 * Whether @folio is of a kind that can be exchanged: -EOPNOTSUPP for the
 * kinds we refuse, -EBUSY for transient states, 0 otherwise.  The folio is
 * locked, so none of this changes under us except the reference count.
 */
static int exchange_check(struct folio *folio)
{
	if (folio_test_hugetlb(folio) || folio_is_zone_device(folio))
		return -EOPNOTSUPP;
	/* Shmem truncated since the caller found it: gone, not refused. */
	if (!folio_test_anon(folio) && !folio->mapping &&
	    folio_test_swapbacked(folio))
		return -EBUSY;
	if (!folio_may_exchange(folio))
		return -EOPNOTSUPP;
	/* Swap cache, lazyfree, mlock and poison each need work we do not do. */
	if (folio_test_swapcache(folio) || !folio_test_swapbacked(folio) ||
	    folio_test_mlocked(folio) || folio_test_unevictable(folio) ||
	    folio_test_private(folio) || folio_test_hwpoison(folio) ||
	    (folio_test_large(folio) && folio_test_has_hwpoisoned(folio)))
		return -EOPNOTSUPP;
	/* A PMD mapping cannot become a migration entry here. */
	if (folio_test_pmd_mappable(folio) && !thp_migration_supported())
		return -EOPNOTSUPP;
	/* The caller must have isolated it. */
	if (WARN_ON_ONCE(folio_test_lru(folio)))
		return -EOPNOTSUPP;
	/*
	 * Not uptodate: shmem is still filling it (fallocate, a fault).  An
	 * anonymous folio no longer mapped is on its way to be freed; shmem
	 * stays in the page cache unmapped (as the tails of a split shmem
	 * THP do), and nothing maps it while we hold its lock.
	 */
	if (folio_test_writeback(folio) || folio_maybe_dma_pinned(folio) ||
	    (folio_test_anon(folio) && !folio_mapped(folio)) ||
	    !folio_test_uptodate(folio))
		return -EBUSY;
	/* Mappings plus our isolation reference, and nobody else. */
	if (folio_ref_count(folio) != folio_expected_ref_count(folio) + 1)
		return -EBUSY;
	return 0;
}

/*
 * A caller of exchange_folios_mm() found the folios in the page tables of
 * an mm and holds its mmap_lock, so it knows where each is mapped and the
 * VMAs stay.  A small folio mapped only there is unmapped and remapped at
 * that address directly, as try_to_migrate() and remove_migration_ptes()
 * would do it, without their walks through the rmap (anon_vma lock and
 * interval tree, both ways for both folios: about a third of an exchange
 * under TCG).  Its TLB entries are flushed once for the batch.
 */
struct exchange_direct {
	struct mm_struct *mm;
	struct vm_area_struct *last;	/* the last VMA looked up */
};

/* The migration entry of @page for a mapping of these bits. */
static swp_entry_t exchange_migration_entry(struct page *page, bool write,
					    bool excl, bool young, bool dirty)
{
	swp_entry_t entry;

	if (write)
		entry = make_writable_migration_entry(page_to_pfn(page));
	else if (excl)
		entry = make_readable_exclusive_migration_entry(page_to_pfn(page));
	else
		entry = make_readable_migration_entry(page_to_pfn(page));
	if (young)
		entry = make_migration_entry_young(entry);
	if (dirty)
		entry = make_migration_entry_dirty(entry);
	return entry;
}

/*
 * Replace the PTE at @addr that maps small @folio by a migration entry;
 * false if it does not map @folio.
 */
static bool exchange_unmap_pte(struct exchange_direct *d, struct folio *folio,
			       struct vm_area_struct *vma, unsigned long addr)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, addr, 0);
	struct page *page = folio_page(folio, 0);
	struct mmu_notifier_range range;
	pte_t pteval, swp_pte;
	swp_entry_t entry;
	bool excl;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, d->mm, addr,
				addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	if (!page_vma_mapped_walk(&pvmw)) {
		mmu_notifier_invalidate_range_end(&range);
		return false;
	}

	/* PG_anon_exclusive is PG_mappedtodisk on page cache. */
	excl = folio_test_anon(folio) && PageAnonExclusive(page);
	flush_cache_page(vma, addr, folio_pfn(folio));
	/*
	 * The flush waits for the batch, as try_to_migrate() lets it with
	 * TTU_BATCH_FLUSH, and is recorded as pending for the mm: a racing
	 * MADV_DONTNEED, which needs the mmap_lock for reading only, may zap
	 * the migration entry, and must flush before its caller refaults,
	 * or a stale TLB entry lets it write into the folio being exchanged.
	 */
	pteval = ptep_get_and_clear_batched(vma, addr, pvmw.pte);
	if (pte_dirty(pteval))
		folio_mark_dirty(folio);
	update_hiwater_rss(d->mm);

	/* See folio_try_share_anon_rmap_pte(): clear the PTE first. */
	if (arch_unmap_one(d->mm, vma, addr, pteval) < 0 ||
	    (excl && folio_try_share_anon_rmap_pte(folio, page))) {
		set_pte_at(d->mm, addr, pvmw.pte, pteval);
		goto done;
	}
	entry = exchange_migration_entry(page, pte_write(pteval), excl,
					 pte_young(pteval), pte_dirty(pteval));
	swp_pte = swp_entry_to_pte(entry);
	if (pte_soft_dirty(pteval))
		swp_pte = pte_swp_mksoft_dirty(swp_pte);
	if (pte_uffd_wp(pteval))
		swp_pte = pte_swp_mkuffd_wp(swp_pte);
	set_pte_at(d->mm, addr, pvmw.pte, swp_pte);
	folio_remove_rmap_pte(folio, page, vma);
	/* The reference of the mapping, as try_to_migrate() drops it. */
	folio_put(folio);
done:
	page_vma_mapped_walk_done(&pvmw);
	mmu_notifier_invalidate_range_end(&range);
	return true;
}

#ifdef CONFIG_ARCH_ENABLE_THP_MIGRATION
/*
 * Replace the PMD at @addr that maps THP @folio by a migration entry, as
 * set_pmd_migration_entry() does, but with the TLB flush batched as for a
 * PTE (see pmdp_huge_get_and_clear_batched()); false if it does not map
 * @folio by a PMD there.
 */
static bool exchange_unmap_pmd(struct exchange_direct *d, struct folio *folio,
			       struct vm_area_struct *vma, unsigned long addr)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, addr, 0);
	struct page *page = folio_page(folio, 0);
	struct mmu_notifier_range range;
	pmd_t pmdval, pmdswp;
	swp_entry_t entry;
	bool excl, ret = false;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, d->mm, addr,
				addr + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	if (!page_vma_mapped_walk(&pvmw))
		goto out;
	/* Mapped by PTEs: the rmap walks them. */
	if (pvmw.pte || pvmw.address != addr) {
		page_vma_mapped_walk_done(&pvmw);
		goto out;
	}
	ret = true;

	excl = folio_test_anon(folio) && PageAnonExclusive(page);
	flush_cache_range(vma, addr, addr + HPAGE_PMD_SIZE);
	pmdval = pmdp_huge_get_and_clear_batched(vma, addr, pvmw.pmd);
	/* See folio_try_share_anon_rmap_pmd(): clear the PMD first. */
	if (excl && folio_try_share_anon_rmap_pmd(folio, page)) {
		set_pmd_at(d->mm, addr, pvmw.pmd, pmdval);
		goto done;
	}
	if (pmd_dirty(pmdval))
		folio_mark_dirty(folio);
	entry = exchange_migration_entry(page, pmd_write(pmdval), excl,
					 pmd_young(pmdval), pmd_dirty(pmdval));
	pmdswp = swp_entry_to_pmd(entry);
	if (pmd_soft_dirty(pmdval))
		pmdswp = pmd_swp_mksoft_dirty(pmdswp);
	if (pmd_uffd_wp(pmdval))
		pmdswp = pmd_swp_mkuffd_wp(pmdswp);
	set_pmd_at(d->mm, addr, pvmw.pmd, pmdswp);
	folio_remove_rmap_pmd(folio, page, vma);
	/* The reference of the mapping, as try_to_migrate() drops it. */
	folio_put(folio);
done:
	page_vma_mapped_walk_done(&pvmw);
out:
	mmu_notifier_invalidate_range_end(&range);
	return ret;
}
#else
static bool exchange_unmap_pmd(struct exchange_direct *d, struct folio *folio,
			       struct vm_area_struct *vma, unsigned long addr)
{
	return false;
}
#endif

/*
 * The address where a folio that maps @addr starts, if @d's mm may be able
 * to unmap it directly: a small folio, or a THP that a PMD maps (an mTHP
 * is left to the rmap).
 */
static unsigned long exchange_direct_addr(struct folio *folio,
					  unsigned long addr)
{
	if (!folio_test_large(folio))
		return addr & PAGE_MASK;
	if (thp_migration_supported() && folio_test_pmd_mappable(folio))
		return addr & HPAGE_PMD_MASK;
	return 0;
}

/*
 * Unmap @folio directly if @d's mm maps it once, at @addr: a small folio
 * by its PTE, a THP by its PMD (then *@pmd is set); returns the VMA, or
 * NULL to leave it to try_to_migrate() (also when it is not there: a
 * wrong address is only a missed shortcut).
 */
static struct vm_area_struct *exchange_unmap_direct(struct exchange_direct *d,
						    struct folio *folio,
						    unsigned long addr,
						    bool *pmd)
{
	struct vm_area_struct *vma;

	if (!d->mm || folio_mapcount(folio) != 1)
		return NULL;
	addr = exchange_direct_addr(folio, addr);
	if (!addr)
		return NULL;
	/* Pairs tend to come in address order: often the same VMA. */
	vma = d->last;
	if (!vma || addr < vma->vm_start || addr >= vma->vm_end)
		vma = vma_lookup(d->mm, addr);
	/* exec's temporary stack: try_to_migrate() leaves it alone too. */
	if (!vma || vma_is_temporary_stack(vma))
		return NULL;
	d->last = vma;
	if (!folio_test_large(folio)) {
		if (!exchange_unmap_pte(d, folio, vma, addr))
			return NULL;
	} else {
		/* The whole THP inside the VMA, as a PMD maps it. */
		if (addr + HPAGE_PMD_SIZE > vma->vm_end ||
		    !exchange_unmap_pmd(d, folio, vma, addr))
			return NULL;
		*pmd = true;
	}
	count_vm_event(EXCHANGE_DIRECT);
	return vma;
}

/*
 * Map @new wherever @old was unmapped to migration entries: at @addr of
 * @vma, if unmapped directly, as an rmap walk would (unless the entry was
 * zapped meanwhile: MADV_DONTNEED needs mmap_lock for reading only).
 */
static void exchange_remap(struct folio *old, struct folio *new,
			   struct vm_area_struct *vma, unsigned long addr)
{
	struct rmap_walk_arg arg = { .folio = old };

	if (vma)
		remove_migration_pte(new, vma, exchange_direct_addr(old, addr),
				     &arg);
	else
		remove_migration_ptes(old, new, 0);
}

/*
 * Whether large @folio was unmapped from the PMD that maps @addr in @d's
 * mm: the PMD holds a migration entry of it, which only our unmap can have
 * put there while we hold the folio lock.
 */
static bool exchange_unmapped_pmd(struct exchange_direct *d,
				  struct folio *folio, unsigned long addr)
{
	bool ret = false;
	spinlock_t *ptl;	/* the PMD's page table lock */
	pmd_t *pmd, val;

	if (!IS_ENABLED(CONFIG_ARCH_ENABLE_THP_MIGRATION) || !d->mm ||
	    !folio_test_pmd_mappable(folio))
		return false;
	pmd = mm_find_pmd(d->mm, addr & HPAGE_PMD_MASK);
	if (!pmd)
		return false;
	ptl = pmd_lock(d->mm, pmd);
	val = pmdp_get(pmd);
	if (is_pmd_migration_entry(val))
		ret = pfn_swap_entry_folio(pmd_to_swp_entry(val)) == folio;
	spin_unlock(ptl);
	return ret;
}

/*
 * Lock both folios, check them and unmap them to migration entries; the TLB
 * flush is left to the caller (TTU_BATCH_FLUSH, @da and @db: where the mms
 * of the a and b folios of exchange_folios_mm() map them).  @may_sleep: we hold no
 * other folio lock, so we may wait for the first one.
 */
static int exchange_unmap(struct folio_exchange *x,
			  struct exchange_direct *da,
			  struct exchange_direct *db, bool may_sleep)
{
	struct folio *a = x->a, *b = x->b;
	int err, err_b;

	if (!a || !b || a == b)
		return -EINVAL;
	if (may_sleep)
		folio_lock(a);
	else if (!folio_trylock(a))
		return -EBUSY;
	if (!folio_trylock(b)) {
		folio_unlock(a);
		return -EBUSY;
	}

	/*
	 * Permanent reasons first: a kind we refuse or a pair we refuse
	 * (shmem of two memcgs), then different orders.
	 */
	err = exchange_check(a);
	err_b = exchange_check(b);
	if (err != -EOPNOTSUPP && err_b == -EOPNOTSUPP)
		err = err_b;
	else if (err != -EOPNOTSUPP && !folio_may_pair(a, b))
		err = -EOPNOTSUPP;
	else if (err != -EOPNOTSUPP && folio_order(a) != folio_order(b))
		err = -EXDEV;
	else if (!err)
		err = err_b;
	if (err)
		goto unlock;

	/*
	 * Keep the anon_vmas of anonymous folios unmapped through the rmap
	 * alive while they are unmapped, as migration does.  None means the
	 * folio was unmapped meanwhile.  A directly unmapped folio's stays
	 * with its VMA; a locked shmem folio's mapping stays with its inode.
	 */
	x->vma_a = exchange_unmap_direct(da, a, x->addr_a, &x->pmd_a);
	if (!x->vma_a && folio_test_anon(a))
		x->anon_vma_a = folio_get_anon_vma(a);
	x->vma_b = exchange_unmap_direct(db, b, x->addr_b, &x->pmd_b);
	if (!x->vma_b && folio_test_anon(b))
		x->anon_vma_b = folio_get_anon_vma(b);
	if ((folio_test_anon(a) && !x->vma_a && !x->anon_vma_a) ||
	    (folio_test_anon(b) && !x->vma_b && !x->anon_vma_b)) {
		/*
		 * Back where it was, if one was unmapped directly; nothing
		 * went through the rmap yet (and an unmapped folio's anon_vma
		 * may be gone: no rmap walk for it).
		 */
		if (x->vma_a)
			exchange_remap(a, a, x->vma_a, x->addr_a);
		if (x->vma_b)
			exchange_remap(b, b, x->vma_b, x->addr_b);
		err = -EBUSY;
		goto put;
	}

	if (!x->vma_a) {
		try_to_migrate(a, TTU_BATCH_FLUSH);
		x->pmd_a = exchange_unmapped_pmd(da, a, x->addr_a);
	}
	if (!x->vma_b) {
		try_to_migrate(b, TTU_BATCH_FLUSH);
		x->pmd_b = exchange_unmapped_pmd(db, b, x->addr_b);
	}
	x->unmapped = true;
	return 0;

put:
	if (x->anon_vma_a)
		put_anon_vma(x->anon_vma_a);
	if (x->anon_vma_b)
		put_anon_vma(x->anon_vma_b);
	x->anon_vma_a = NULL;
	x->anon_vma_b = NULL;
unlock:
	folio_unlock(b);
	folio_unlock(a);
	return err;
}

/*
 * Swap two pages word by word: each line is read and written once on each
 * side (a copy through a bounce page moves every byte three times), and no
 * page has to be allocated.
 */
static void exchange_page_contents(struct page *pa, struct page *pb)
{
	u64 *a = kmap_local_page(pa), *b = kmap_local_page(pb);
	unsigned int i;

	/* A cache line a step: fewer instructions for the loop itself. */
	for (i = 0; i < PAGE_SIZE / sizeof(u64); i += 8) {
		swap(a[i], b[i]);
		swap(a[i + 1], b[i + 1]);
		swap(a[i + 2], b[i + 2]);
		swap(a[i + 3], b[i + 3]);
		swap(a[i + 4], b[i + 4]);
		swap(a[i + 5], b[i + 5]);
		swap(a[i + 6], b[i + 6]);
		swap(a[i + 7], b[i + 7]);
	}
	kunmap_local(b);
	kunmap_local(a);
}

/*
 * @resched: whether the caller may be scheduled out between pages; not
 * with a page cache folio frozen (see exchange_cached_pair()).
 */
static void exchange_contents(struct folio *a, struct folio *b, bool resched)
{
	long i, nr = folio_nr_pages(a);

	for (i = 0; i < nr; i++) {
		exchange_page_contents(folio_page(a, i), folio_page(b, i));
		if (resched && i + 1 < nr)
			cond_resched();
	}
	flush_dcache_folio(a);
	flush_dcache_folio(b);
}

/* Head page flags that describe the contents: dirty and LRU age. */
static const int exchange_flags[] = {
	PG_dirty, PG_referenced, PG_active, PG_workingset,
};

/*
 * PG_anon_exclusive travels in the migration entries of the mapped pages;
 * swap what is left on unmapped subpages along with them (a stale flag
 * would make a page that a non-exclusive entry maps again exclusive).
 * A THP unmapped from a PMD has none left: while a PMD maps it, only
 * that mapping's exclusivity is recorded, on the head page, and the unmap
 * moved it into the entry.  Looking at 512 tail pages each costs more
 * than the rest of the metadata, when the memory map of a slow node is on
 * that node.
 */
static void exchange_anon_exclusive(struct folio_exchange *x)
{
	struct folio *a = x->a, *b = x->b;
	long i;

	if (x->pmd_a && x->pmd_b) {
		for (i = 0; IS_ENABLED(CONFIG_DEBUG_VM) &&
		     i < folio_nr_pages(a); i++) {
			VM_WARN_ON_ONCE_FOLIO(PageAnonExclusive(folio_page(a, i)),
					      a);
			VM_WARN_ON_ONCE_FOLIO(PageAnonExclusive(folio_page(b, i)),
					      b);
		}
		return;
	}
	for (i = 0; i < folio_nr_pages(a); i++) {
		struct page *pa = folio_page(a, i), *pb = folio_page(b, i);
		bool excl = PageAnonExclusive(pa);

		if (excl == PageAnonExclusive(pb))
			continue;
		if (excl) {
			ClearPageAnonExclusive(pa);
			SetPageAnonExclusive(pb);
		} else {
			SetPageAnonExclusive(pa);
			ClearPageAnonExclusive(pb);
		}
	}
}

/*
 * A mixed pair, after the swap of mappings: @anon now holds the anonymous
 * contents that @cache held.  The PG_anon_exclusive bits left on subpages
 * the unmap did not reach go with them; on page cache the bit is
 * PG_mappedtodisk, which shmem never sets.  Raw bit operations, as
 * PageAnonExclusive() wants a page that is anonymous now.
 */
static void exchange_anon_exclusive_mixed(struct folio *cache,
					  struct folio *anon)
{
	long i;

	for (i = 0; i < folio_nr_pages(anon); i++) {
		struct page *pc = folio_page(cache, i);
		struct page *pa = folio_page(anon, i);

		if (test_and_clear_bit(PG_anon_exclusive, &pc->flags))
			set_bit(PG_anon_exclusive, &pa->flags);
		else if (test_bit(PG_anon_exclusive, &pa->flags))
			clear_bit(PG_anon_exclusive, &pa->flags);
	}
}

/*
 * Swap what belongs to the contents rather than to the memory.  Both folios
 * are locked, unmapped and frozen.  The flags are swapped with atomic bit
 * operations because others may still set PG_waiters in the same word.
 */
static void exchange_metadata(struct folio_exchange *x)
{
	struct folio *a = x->a, *b = x->b;
	struct address_space *mapping = a->mapping;
	pgoff_t index = a->index;
	int cpupid_a, cpupid_b;
	unsigned int f;

	WRITE_ONCE(a->mapping, b->mapping);
	a->index = b->index;
	WRITE_ONCE(b->mapping, mapping);
	b->index = index;

	for (f = 0; f < ARRAY_SIZE(exchange_flags); f++) {
		int bit = exchange_flags[f];

		/* Toggle both where they differ: swaps the bit. */
		if (test_bit(bit, &a->flags) != test_bit(bit, &b->flags)) {
			change_bit(bit, &a->flags);
			change_bit(bit, &b->flags);
		}
	}
	/* Page idle tracking, in page flags or in page_ext. */
	if (folio_test_young(a) != folio_test_young(b)) {
		if (folio_test_clear_young(a))
			folio_set_young(b);
		else if (folio_test_clear_young(b))
			folio_set_young(a);
	}
	if (folio_test_idle(a) != folio_test_idle(b)) {
		if (folio_test_idle(a)) {
			folio_clear_idle(a);
			folio_set_idle(b);
		} else {
			folio_set_idle(a);
			folio_clear_idle(b);
		}
	}
	if (folio_test_anon(a) && folio_test_anon(b))
		exchange_anon_exclusive(x);
	else if (folio_test_anon(a))
		exchange_anon_exclusive_mixed(b, a);
	else if (folio_test_anon(b))
		exchange_anon_exclusive_mixed(a, b);

	/*
	 * NUMA balancing state; in memory tiering mode it records an access
	 * time on slow nodes only, so reset it across tiers as migration does.
	 */
	cpupid_a = folio_xchg_last_cpupid(a, -1);
	cpupid_b = folio_xchg_last_cpupid(b, -1);
	if (!(sysctl_numa_balancing_mode & NUMA_BALANCING_MEMORY_TIERING) ||
	    node_is_toptier(folio_nid(a)) == node_is_toptier(folio_nid(b))) {
		folio_xchg_last_cpupid(a, cpupid_b);
		folio_xchg_last_cpupid(b, cpupid_a);
	}

#ifdef CONFIG_MEMCG
	/*
	 * Each folio keeps its charge and its css reference, swapped with
	 * the contents; both are the same size, so the counters of both
	 * memcgs stay right.  The per-node statistics follow in the rmap and
	 * LRU functions, which look at the memcg of the folio at the time.
	 */
	swap(a->memcg_data, b->memcg_data);
#endif
}

/*
 * Whether a large folio is on the deferred split queue, and how.  It is
 * unmapped and locked, so nobody can queue it now; the split shrinker can
 * still take it off, which folio_unqueue_deferred_split() rechecks under
 * the queue lock, as migration does.
 */
static void exchange_deferred(struct folio *folio, bool *queued,
			      bool *partially)
{
	*queued = folio_order(folio) > 1 && folio_test_large_rmappable(folio) &&
		  /* see above */
		  !data_race(list_empty(&folio->_deferred_list));
	*partially = *queued && folio_test_partially_mapped(folio);
}

/*
 * A device that moves contents for the CPU: exchange_folios() uses it from
 * any task, migration copies only from the tasks between
 * folio_copier_begin() and folio_copier_end().
 */
static DECLARE_RWSEM(folio_copier_sem);
static struct folio_copier *folio_copier;
/* The tasks whose migrations may use it: a daemon or two, not many. */
#define FOLIO_COPIER_TASKS	4
static struct task_struct *folio_copier_tasks[FOLIO_COPIER_TASKS];

/* Folios of a migration batch the copier copies ahead, at most. */
#define FOLIO_COPIER_AHEAD	512

/**
 * struct folio_copier_ahead - what the copier copied of a migration batch
 * @src: the sources, in the order of the batch
 * @dst: their destinations; NULL once folio_copier_copy() took the copy
 * @nr: pairs copied
 * @next: the first pair not taken yet
 * @busy: folio_copier_copy_ahead() is in the copier: a migration nested in
 *	the copier's request (its allocation compacting) leaves this alone
 *
 * Only its task uses it, from folio_copier_begin() to folio_copier_end().
 */
struct folio_copier_ahead {
	struct folio *src[FOLIO_COPIER_AHEAD];
	struct folio *dst[FOLIO_COPIER_AHEAD];
	unsigned int nr;
	unsigned int next;
	bool busy;
};

static struct folio_copier_ahead *folio_copier_ahead[FOLIO_COPIER_TASKS];

/* The slot of the current task in folio_copier_tasks, or -1. */
static int folio_copier_slot(void)
{
	int i;

	for (i = 0; i < FOLIO_COPIER_TASKS; i++)
		if (READ_ONCE(folio_copier_tasks[i]) == current)
			return i;
	return -1;
}

static bool folio_copier_task(void)
{
	return folio_copier_slot() >= 0;
}

/**
 * folio_copier_register - let a device move folio contents for the CPU
 * @c: the copier, registered until folio_copier_unregister()
 *
 * Return: 0, or -EBUSY if another copier is registered.
 */
int folio_copier_register(struct folio_copier *c)
{
	int err = 0;

	down_write(&folio_copier_sem);
	if (folio_copier)
		err = -EBUSY;
	else
		folio_copier = c;
	up_write(&folio_copier_sem);
	return err;
}
EXPORT_SYMBOL_GPL(folio_copier_register);

/* Waits until no exchange or copy uses @c any more. */
void folio_copier_unregister(struct folio_copier *c)
{
	down_write(&folio_copier_sem);
	if (folio_copier == c)
		folio_copier = NULL;
	up_write(&folio_copier_sem);
}
EXPORT_SYMBOL_GPL(folio_copier_unregister);

/**
 * folio_copier_begin - let the copier copy for this task's migrations
 *
 * For a few tasks, such as a tiering daemon: the copy waits for the
 * device, which would add latency to other migrations (faults, compaction)
 * that do not care about CPU time.
 *
 * Return: true, or false if FOLIO_COPIER_TASKS tasks have begun already.
 */
bool folio_copier_begin(void)
{
	int i;

	if (folio_copier_task())
		return true;
	for (i = 0; i < FOLIO_COPIER_TASKS; i++) {
		if (cmpxchg(&folio_copier_tasks[i], NULL, current))
			continue;
		/* Without it, each folio is copied on its own. */
		folio_copier_ahead[i] = kvzalloc(sizeof(*folio_copier_ahead[i]),
						 GFP_KERNEL);
		return true;
	}
	return false;
}
EXPORT_SYMBOL_GPL(folio_copier_begin);

void folio_copier_end(void)
{
	int i = folio_copier_slot();

	if (i < 0)
		return;
	kvfree(folio_copier_ahead[i]);
	folio_copier_ahead[i] = NULL;
	cmpxchg(&folio_copier_tasks[i], current, NULL);
}
EXPORT_SYMBOL_GPL(folio_copier_end);

/*
 * Whether the copier may copy @src to @dst ahead of the move: anonymous,
 * unmapped and held by nobody but the migration (no pin, no swap cache,
 * not KSM's), nothing can write it any more.
 */
static bool folio_copier_ahead_ok(struct folio *src, struct folio *dst)
{
	return folio_test_anon(src) && !folio_test_ksm(src) &&
	       !folio_test_swapcache(src) && !folio_mapped(src) &&
	       folio_ref_count(src) == 1 && !folio_test_hwpoison(src) &&
	       !(folio_test_large(src) && folio_test_has_hwpoisoned(src)) &&
	       folio_size(dst) == folio_size(src);
}

/**
 * folio_copier_copy_ahead - let the copier copy a migration batch at once
 * @src: the batch's folios, locked and unmapped, their TLB entries flushed
 * @dst: their destinations, locked, in the same order
 *
 * Called by migrate_pages() between unmapping a batch and moving it, in
 * the task of folio_copier_begin(): the copier copies the folios that
 * nothing can write any more in one request, and folio_copier_copy() then
 * finds them copied.  A 4 KiB folio's own request costs more than its
 * copy; in a batch, a fraction.  folio_copier_ahead_done() ends the batch.
 */
void folio_copier_copy_ahead(struct list_head *src, struct list_head *dst)
{
	struct folio_copier_ahead *ahead;
	struct folio *s, *d;
	unsigned int n = 0;
	int i = -1, done = -EOPNOTSUPP;

	if (READ_ONCE(folio_copier))
		i = folio_copier_slot();
	if (i < 0 || !folio_copier_ahead[i] || folio_copier_ahead[i]->busy)
		return;
	ahead = folio_copier_ahead[i];
	ahead->nr = 0;
	ahead->next = 0;
	d = list_first_entry(dst, struct folio, lru);
	list_for_each_entry(s, src, lru) {
		if (n == FOLIO_COPIER_AHEAD)
			break;
		if (folio_copier_ahead_ok(s, d)) {
			ahead->src[n] = s;
			ahead->dst[n] = d;
			n++;
		}
		d = list_next_entry(d, lru);
	}
	if (!n)
		return;
	ahead->busy = true;
	down_read(&folio_copier_sem);
	if (folio_copier && folio_copier->copy_folios)
		done = folio_copier->copy_folios(folio_copier, ahead->dst,
						 ahead->src, n);
	up_read(&folio_copier_sem);
	ahead->busy = false;
	if (done > 0) {
		ahead->nr = min_t(unsigned int, done, n);
		count_vm_events(COPIER_COPY, ahead->nr);
	} else if (done != -EOPNOTSUPP) {
		count_vm_event(COPIER_FAIL);
	}
}

/* The end of the batch of folio_copier_copy_ahead(): no copy is left. */
void folio_copier_ahead_done(void)
{
	int i = folio_copier_slot();

	if (i >= 0 && folio_copier_ahead[i] && !folio_copier_ahead[i]->busy) {
		folio_copier_ahead[i]->nr = 0;
		folio_copier_ahead[i]->next = 0;
	}
}

/*
 * Whether the copier copied @src to @dst ahead; the copy is taken once (a
 * retried move copies again).  Moves come in the order of the batch, so
 * the search starts at the first pair not taken.
 */
static bool folio_copier_ahead_take(struct folio_copier_ahead *ahead,
				    struct folio *dst, struct folio *src)
{
	unsigned int k;

	if (!ahead || ahead->busy)
		return false;
	for (k = ahead->next; k < ahead->nr; k++) {
		if (ahead->dst[k] != dst)
			continue;
		ahead->dst[k] = NULL;
		while (ahead->next < ahead->nr && !ahead->dst[ahead->next])
			ahead->next++;
		return ahead->src[k] == src;
	}
	return false;
}

/**
 * folio_copier_copy - copy a folio being migrated with the copier
 * @dst: the destination, locked, not mapped
 * @src: the source, locked and unmapped
 *
 * Return: 0 if the copier copied @src, now or ahead of the move
 * (folio_copier_copy_ahead()), or a negative errno when the caller must
 * copy: no copier, not the task of folio_copier_begin(), or the copier
 * declined or failed.
 */
int folio_copier_copy(struct folio *dst, struct folio *src)
{
	int err = -EOPNOTSUPP, i;

	/*
	 * Every migration passes here: nothing but a load without a copier
	 * (one that went since it copied ahead leaves the copy to the CPU).
	 */
	if (!READ_ONCE(folio_copier))
		return err;
	i = folio_copier_slot();
	if (i < 0)
		return err;
	if (folio_copier_ahead_take(folio_copier_ahead[i], dst, src))
		return 0;
	/* Nested in the copier's request: the CPU copies. */
	if (folio_copier_ahead[i] && folio_copier_ahead[i]->busy)
		return err;
	down_read(&folio_copier_sem);
	if (folio_copier && folio_copier->copy_folio)
		err = folio_copier->copy_folio(folio_copier, dst, src);
	up_read(&folio_copier_sem);
	if (!err)
		count_vm_event(COPIER_COPY);
	else if (err != -EOPNOTSUPP)
		count_vm_event(COPIER_FAIL);
	return err;
}

/* Counts what a copier did of @n pairs; returns how many it swapped. */
static int exchange_copier_count(int done, unsigned int n)
{
	if (done > 0)
		count_vm_events(COPIER_SWAP, done);
	/* Declining (not offered, device busy) is no failure. */
	if (done < (int)n && done != -EOPNOTSUPP && done != -EBUSY)
		count_vm_event(COPIER_FAIL);
	return clamp(done, 0, (int)n);
}

/*
 * Swap the contents of the frozen anonymous pairs: what the copier does
 * not, the CPU does.  @fa has room for 2 * @nr folios (the copier's two
 * arrays), or is NULL.
 */
static void exchange_swap_contents(struct folio_exchange *pairs,
				   unsigned int nr, struct folio **fa)
{
	unsigned int i, n = 0;
	int done = 0;

	down_read(&folio_copier_sem);
	if (fa && folio_copier && folio_copier->exchange) {
		struct folio **fb = fa + nr;

		for (i = 0; i < nr; i++) {
			if (!pairs[i].frozen)
				continue;
			fa[n] = pairs[i].a;
			fb[n++] = pairs[i].b;
		}
		done = exchange_copier_count(folio_copier->exchange(folio_copier,
								    fa, fb, n),
					     n);
	}
	up_read(&folio_copier_sem);

	/* The copier swapped the first done frozen pairs. */
	for (i = 0; i < nr; i++) {
		struct folio_exchange *x = &pairs[i];

		if (!x->frozen)
			continue;
		if (done > 0)
			done--;
		else
			exchange_contents(x->a, x->b, true);
	}
}

/*
 * The references of an unmapped, isolated folio: ours, and for shmem one
 * per page from the page cache.
 */
static int exchange_refs(struct folio *folio)
{
	return folio_expected_ref_count(folio) + 1;
}

/*
 * Put @new in the page cache slot of @old (a large folio has one entry
 * of its order).  Both are frozen, so a lookup that finds either retries
 * until they thaw; the slot's marks stay, as the flags they mirror go
 * with the contents.
 */
static void exchange_cache_store(struct folio *old, struct folio *new)
{
	XA_STATE(xas, &old->mapping->i_pages, old->index);

	xas_lock_irq(&xas);
	VM_WARN_ON_ONCE_FOLIO(xas_load(&xas) != old, old);
	xas_store(&xas, new);
	xas_unlock_irq(&xas);
}

/*
 * After the batch's TLB flush: check that both folios are unmapped and
 * only ours, and freeze their reference counts, so that no new reference
 * (a PFN walker, GUP-fast racing with the unmap) can see a folio whose
 * contents change under it.  On failure, restores the mappings.
 */
static int exchange_freeze(struct folio_exchange *x)
{
	struct folio *a = x->a, *b = x->b;

	/*
	 * Still mapped: a racing fork or GUP kept a mapping (such as an
	 * exclusive anon page that became pinned).  Extra references: GUP,
	 * a pipe, a racing lookup.  Refuse both alike.
	 */
	if (folio_mapped(a) || folio_mapped(b))
		return -EBUSY;

	exchange_deferred(a, &x->queued_a, &x->partially_a);
	exchange_deferred(b, &x->queued_b, &x->partially_b);

	if (!folio_ref_freeze(a, exchange_refs(a)))
		return -EBUSY;
	if (!folio_ref_freeze(b, exchange_refs(b))) {
		folio_ref_unfreeze(a, exchange_refs(a));
		return -EBUSY;
	}

	/* Off the deferred split queue while frozen and memcg still set. */
	if (x->queued_a)
		folio_unqueue_deferred_split(a);
	if (x->queued_b)
		folio_unqueue_deferred_split(b);
	x->frozen = true;
	return 0;
}

/*
 * Shmem contents in @cache are about to move to @to, which held anonymous
 * ones: its node's page cache counters lose them, @to's gain them (for the
 * memcg of both), as __folio_migrate_mapping() moves them for migration.
 */
static void exchange_cache_stats(struct folio *cache, struct folio *to)
{
	struct pglist_data *from = folio_pgdat(cache), *dst = folio_pgdat(to);
	struct mem_cgroup *memcg = folio_memcg(cache);
	struct lruvec *old_lruvec, *new_lruvec;
	long nr = folio_nr_pages(cache);

	if (from == dst)
		return;
	old_lruvec = mem_cgroup_lruvec(memcg, from);
	new_lruvec = mem_cgroup_lruvec(memcg, dst);
	mod_lruvec_state(old_lruvec, NR_FILE_PAGES, -nr);
	mod_lruvec_state(new_lruvec, NR_FILE_PAGES, nr);
	mod_lruvec_state(old_lruvec, NR_SHMEM, -nr);
	mod_lruvec_state(new_lruvec, NR_SHMEM, nr);
	if (folio_test_pmd_mappable(cache)) {
		mod_lruvec_state(old_lruvec, NR_SHMEM_THPS, -nr);
		mod_lruvec_state(new_lruvec, NR_SHMEM_THPS, nr);
	}
}

/*
 * With the contents swapped: swap the page cache slots (of one folio, for
 * a mixed pair) and the metadata, and thaw both folios at the references
 * their new metadata expects: a folio that takes a page cache slot takes
 * its references too.
 */
static void exchange_commit(struct folio_exchange *x)
{
	struct folio *a = x->a, *b = x->b;
	bool cache_a = !folio_test_anon(a), cache_b = !folio_test_anon(b);

	if (cache_a)
		exchange_cache_store(a, b);
	if (cache_b)
		exchange_cache_store(b, a);
	if (cache_a && !cache_b)
		exchange_cache_stats(a, b);
	else if (cache_b && !cache_a)
		exchange_cache_stats(b, a);
	exchange_metadata(x);

	folio_ref_unfreeze(b, exchange_refs(b));
	folio_ref_unfreeze(a, exchange_refs(a));
	x->frozen = false;
}

/*
 * Last step of a pair: with the contents swapped (@err == 0), commit the
 * pair (unless exchange_cached_pair() did) and map each folio where the
 * other was; otherwise restore the mappings.  Unlocks both folios.
 */
static int exchange_finish(struct folio_exchange *x, int err)
{
	struct folio *a = x->a, *b = x->b;

	if (err)
		goto restore;

	if (x->frozen)
		exchange_commit(x);

	/*
	 * Requeue each folio as the contents it now holds were queued, while
	 * it is still unmapped: once it is mapped again a racing partial
	 * munmap may mark it partially mapped, and a requeue as not
	 * partially mapped would then be wrong (the same order as upstream's
	 * fix of migration, "mm: fix deferred split queue races during
	 * migration").
	 */
	if (x->queued_a)
		deferred_split_folio(b, x->partially_a);
	if (x->queued_b)
		deferred_split_folio(a, x->partially_b);

	/* a's old mappings now map b, and b's map a. */
	exchange_remap(a, b, x->vma_a, x->addr_a);
	exchange_remap(b, a, x->vma_b, x->addr_b);
	goto out;

restore:
	exchange_remap(a, a, x->vma_a, x->addr_a);
	exchange_remap(b, b, x->vma_b, x->addr_b);
out:
	folio_unlock(b);
	folio_unlock(a);
	if (x->anon_vma_a)
		put_anon_vma(x->anon_vma_a);
	if (x->anon_vma_b)
		put_anon_vma(x->anon_vma_b);
	x->anon_vma_a = NULL;
	x->anon_vma_b = NULL;
	x->unmapped = false;
	return err;
}

/*
 * A page cache lookup that finds a frozen folio retries at once, without
 * sleeping or yielding the CPU; were the task that froze it scheduled out,
 * lookups could hold every CPU and never let it thaw the folio.  So a
 * pair with a page cache folio is frozen, swapped and thawed with
 * preemption off, as the page cache's own freezes are under the i_pages
 * lock, and one pair at a time, so that each is frozen for its own swap
 * only.  A large pair goes to a copier that swaps without sleeping: its
 * request takes less than the CPU's swap of a THP pair.  A 4 KiB pair
 * costs the CPU about as much either way.
 */
static int exchange_cached_pair(struct folio_exchange *x)
{
	bool large = folio_test_large(x->a);
	struct folio_copier *c = NULL;
	int err, done = 0;

	if (large) {
		down_read(&folio_copier_sem);
		c = folio_copier;
	}
	preempt_disable();
	err = exchange_freeze(x);
	if (!err) {
		if (c && c->exchange_atomic)
			done = exchange_copier_count(c->exchange_atomic(c, &x->a,
									&x->b, 1),
						     1);
		if (!done)
			exchange_contents(x->a, x->b, false);
		exchange_commit(x);
	}
	preempt_enable();
	if (large)
		up_read(&folio_copier_sem);
	return err;
}

/**
 * exchange_folios - exchange the contents and mappings of pairs of folios
 * @pairs: the pairs; exchange_folios() sets the err member of each
 * @nr: number of pairs
 *
 * For each pair, swap the contents of the two folios and make every page
 * table entry that mapped one of them map the other, so that each virtual
 * page keeps its data while the data of the two folios trade their physical
 * places (and nodes).  No free memory is needed.  The folios of all pairs
 * are unmapped before one TLB flush for the whole batch and frozen; then
 * the contents of all pairs are swapped, by a registered folio_copier
 * (such as the hypervisor, through virtio-hballoon) or else by the CPU,
 * and each folio is mapped where the other was.
 *
 * Each folio of a pair must be anonymous (mapped, not KSM, not in the
 * swap cache, not lazyfree) or of shmem's page cache (uptodate, mapped or
 * not), not mlocked, and both of the same order; large folios (THP, mTHP)
 * are exchanged whole, mapped by PMD or by PTEs.  A shmem folio pairs with
 * a folio of its memcg only (folio_may_pair()); its page cache slot goes
 * to the other folio, and such a pair is frozen and swapped with
 * preemption off (a lookup spins on a frozen folio), one at a time: large
 * ones by a copier that can without sleeping, the rest by the CPU.  The
 * caller must have isolated every folio from the LRU (with
 * folio_isolate_lru(), NR_ISOLATED_* accounted as for migrate_pages())
 * and hold no reference to it besides that isolation reference; the
 * folios stay isolated, and the caller puts them back, for example with
 * putback_movable_pages().  The caller must not hold any folio lock, nor
 * mmap_lock if the folios may be mapped by its own mm in ways it could
 * fault on.  May sleep.
 *
 * Nothing is retried: each pair is tried once and its err member tells
 * what happened, counted in /proc/vmstat as exchange_*:
 * 0 (exchange_success), -EBUSY when a folio is locked, pinned, referenced
 * from elsewhere, under writeback, anonymous and no longer mapped, or
 * truncated (exchange_fail_busy),
 * -EOPNOTSUPP or -EINVAL for a folio of a kind that cannot be exchanged
 * (exchange_fail_type), -EXDEV for folios of different orders
 * (exchange_fail_order).  A batch that unmapped anything
 * counts one exchange_tlb_flush, and exchange_folios_mm() counts the folios
 * it unmapped without the rmap in exchange_direct; pairs a copier swapped
 * count as copier_swap, and a copier's failure (the CPU then swaps) as
 * copier_fail.
 *
 * Return: the number of pairs exchanged.
 */
int exchange_folios(struct folio_exchange *pairs, unsigned int nr)
{
	return exchange_folios_mm(NULL, NULL, pairs, nr);
}

/**
 * exchange_folios_mm - exchange_folios() for folios found in page tables
 * @mm_a: the mm that maps the a folios of @pairs at their addr_a, or NULL
 * @mm_b: the mm that maps the b folios at their addr_b (may be @mm_a), or
 *	NULL
 * @pairs: the pairs, with addr_a and addr_b
 * @nr: number of pairs
 *
 * As exchange_folios(), for a caller that found the folios in the page
 * tables of @mm_a and @mm_b and still holds their mmap_lock for reading
 * (so the VMAs stay, and no mremap() moves a migration entry): a small
 * folio that its mm maps once, at its address, or a THP that its mm maps
 * once, by the PMD there, is unmapped and remapped there directly,
 * without walks through the rmap, and the TLB of each mm is flushed once
 * for all of them; a THP unmapped from the PMD at its address needs no
 * look at its tail pages.  The addresses are checked, not trusted: a
 * folio mapped elsewhere, an mTHP, a THP mapped by PTEs or a folio shared
 * with another mm takes the rmap as in exchange_folios().
 *
 * Return: the number of pairs exchanged.
 */
int exchange_folios_mm(struct mm_struct *mm_a, struct mm_struct *mm_b,
		       struct folio_exchange *pairs, unsigned int nr)
{
	struct exchange_direct d[2] = {
		{ .mm = mm_a },
		{ .mm = mm_b },
	};
	/* One mm for both sides: one VMA cache for both. */
	struct exchange_direct *db = mm_b == mm_a ? &d[0] : &d[1];
	unsigned int i, frozen = 0;
	struct folio **fa = NULL;
	bool locked = false;
	int done = 0;

	might_sleep();
	if (mm_a)
		mmap_assert_locked(mm_a);
	if (mm_b)
		mmap_assert_locked(mm_b);
	if (!nr)
		return 0;
	for (i = 0; i < nr; i++) {
		struct folio_exchange *x = &pairs[i];

		x->unmapped = false;
		x->frozen = false;
		x->pmd_a = false;
		x->pmd_b = false;
		x->anon_vma_a = NULL;
		x->anon_vma_b = NULL;
		x->vma_a = NULL;
		x->vma_b = NULL;
		x->err = exchange_unmap(x, &d[0], db, !locked);
		if (!x->err)
			locked = true;
		else
			exchange_count(x->err, 1);
	}
	if (!locked)
		return 0;

	/*
	 * The copier takes the batch as two arrays (one allocation); before
	 * anything is frozen (no allocation with reference counts frozen),
	 * and only a speedup: without it the CPU swaps.
	 */
	if (READ_ONCE(folio_copier))
		fa = kmalloc_array(2 * nr, sizeof(*fa),
				   GFP_KERNEL | __GFP_NOWARN);

	/* One TLB flush for every mapping the batch has cleared. */
	try_to_unmap_flush();
	count_vm_event(EXCHANGE_TLB_FLUSH);

	for (i = 0; i < nr; i++) {
		struct folio_exchange *x = &pairs[i];

		if (!x->unmapped)
			continue;
		if (!folio_test_anon(x->a) || !folio_test_anon(x->b)) {
			x->err = exchange_cached_pair(x);
			cond_resched();
		} else {
			x->err = exchange_freeze(x);
		}
		if (x->err) {
			exchange_finish(x, x->err);
			exchange_count(x->err, 1);
		} else if (!x->frozen) {
			x->err = exchange_finish(x, 0);
			done++;
		} else {
			frozen++;
		}
	}
	if (frozen)
		exchange_swap_contents(pairs, nr, fa);
	for (i = 0; frozen && i < nr; i++) {
		struct folio_exchange *x = &pairs[i];

		if (!x->frozen)
			continue;
		x->err = exchange_finish(x, 0);
		done++;
	}
	exchange_count(0, done);
	kfree(fa);
	return done;
}

#ifdef CONFIG_FOLIO_EXCHANGE_DEBUGFS
/*
 * /sys/kernel/debug/exchange/pair, for tests: write "PID ADDR_A ADDR_B"
 * (addresses in hex, more pairs may follow) to exchange the folios that map
 * those user addresses of process PID.  The write fails with the errno of
 * the first pair that was refused (see exchange_folios()), or with EINVAL
 * for malformed input, ESRCH for no such process, EFAULT for an address
 * outside any VMA and ENOENT for one with no page present.
 */
#define EXCHANGE_DEBUGFS_PAIRS	512
/* A pid and two addresses of up to "0x" and 16 digits per pair, blanks. */
#define EXCHANGE_DEBUGFS_LEN	(16 + EXCHANGE_DEBUGFS_PAIRS * 2 * 20)

struct exchange_debugfs_req {
	struct folio_exchange x[EXCHANGE_DEBUGFS_PAIRS];
	unsigned long addr[2 * EXCHANGE_DEBUGFS_PAIRS];
	struct folio *folio[2 * EXCHANGE_DEBUGFS_PAIRS];
};

/* A hex digit's value, 16 for any other character. */
static inline unsigned int exchange_debugfs_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;	/* lower case */
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : 16;
}

/*
 * Parse one number of @base at *@p, which the caller has put at a non-blank
 * character; leaves *@p after it.  A plain loop: with 1024 addresses a
 * write, strsep() and kstrtoul() took an eighth of an exchange's time.
 */
static int exchange_debugfs_number(const char **p, unsigned int base,
				   unsigned long *val)
{
	const char *s = *p;
	unsigned long v = 0;
	unsigned int d;

	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (*p = s; **p && !isspace(**p); (*p)++) {
		d = exchange_debugfs_digit(**p);
		if (d >= base || v > (ULONG_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	if (*p == s)
		return -EINVAL;
	*val = v;
	return 0;
}

static int exchange_debugfs_parse(const char *buf, pid_t *pid,
				  unsigned long *addr, unsigned int *nr)
{
	unsigned long val;
	unsigned int n = 0;

	buf = skip_spaces(buf);
	if (exchange_debugfs_number(&buf, 10, &val) || !val || val > INT_MAX)
		return -EINVAL;
	*pid = val;
	while (*(buf = skip_spaces(buf))) {
		if (n == 2 * EXCHANGE_DEBUGFS_PAIRS ||
		    exchange_debugfs_number(&buf, 16, &addr[n]))
			return -EINVAL;
		n++;
	}
	if (!n || n % 2)
		return -EINVAL;
	*nr = n / 2;
	return 0;
}

/*
 * Isolate the folio mapping @addr onto @list and store it in @folios[@i];
 * mmap_lock is held.
 */
static int exchange_debugfs_isolate(struct mm_struct *mm, unsigned long addr,
				    struct vm_area_struct **last,
				    struct list_head *list,
				    struct folio **folios, unsigned int i)
{
	struct vm_area_struct *vma = *last;
	struct folio_walk fw;
	struct folio *folio;
	unsigned int j;
	int err = 0;

	if (!vma || addr < vma->vm_start || addr >= vma->vm_end)
		vma = vma_lookup(mm, addr);
	if (!vma)
		return -EFAULT;
	*last = vma;
	folio = folio_walk_start(&fw, vma, addr, 0);
	if (!folio)
		return -ENOENT;
	/* Off the LRU: isolated by someone, maybe by this write already. */
	for (j = 0; !folio_test_lru(folio) && j < i; j++)
		if (folios[j] == folio)
			err = -EINVAL;	/* the same folio twice */
	if (err)
		goto out;
	if (folio_is_zone_device(folio) || folio_test_hugetlb(folio) ||
	    __folio_test_movable(folio)) {
		/* Not on an LRU: refuse it here, as exchange_folios() would. */
		err = -EOPNOTSUPP;
		exchange_count(err, 1);
	} else if (!folio_isolate_lru(folio)) {
		/* Isolated by someone else, or being freed. */
		err = -EBUSY;
		exchange_count(err, 1);
	} else {
		list_add_tail(&folio->lru, list);
		node_stat_mod_folio(folio, NR_ISOLATED_ANON +
				    folio_is_file_lru(folio),
				    folio_nr_pages(folio));
		folios[i] = folio;
	}
out:
	folio_walk_end(&fw, vma);
	return err;
}

static ssize_t exchange_debugfs_write(struct file *file,
				      const char __user *ubuf, size_t len,
				      loff_t *ppos)
{
	struct vm_area_struct *vma = NULL;
	struct exchange_debugfs_req *req;
	struct task_struct *task;
	struct mm_struct *mm;
	unsigned int nr, i;
	LIST_HEAD(isolated);
	pid_t pid;
	char *buf;
	int err;

	if (!len || len >= EXCHANGE_DEBUGFS_LEN)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	if (buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	req = kvzalloc(sizeof(*req), GFP_KERNEL);
	err = req ? exchange_debugfs_parse(buf, &pid, req->addr, &nr) : -ENOMEM;
	kfree(buf);
	if (err)
		goto out;

	err = -ESRCH;
	task = find_get_task_by_vpid(pid);
	if (!task)
		goto out;
	mm = mm_access(task, PTRACE_MODE_ATTACH_REALCREDS);
	put_task_struct(task);
	if (IS_ERR_OR_NULL(mm)) {
		err = mm ? PTR_ERR(mm) : -EINVAL;
		goto out;
	}

	/* Folios in per-CPU LRU batches are not on the LRU yet. */
	lru_add_drain_all();
	err = 0;
	mmap_read_lock(mm);
	for (i = 0; i < 2 * nr && !err; i++) {
		req->addr[i] = untagged_addr_remote(mm, req->addr[i]);
		err = exchange_debugfs_isolate(mm, req->addr[i], &vma,
					       &isolated, req->folio, i);
	}
	if (!err) {
		for (i = 0; i < nr; i++) {
			req->x[i].a = req->folio[2 * i];
			req->x[i].b = req->folio[2 * i + 1];
			req->x[i].addr_a = req->addr[2 * i];
			req->x[i].addr_b = req->addr[2 * i + 1];
		}
		/* Where they are mapped is known: no rmap walks. */
		exchange_folios_mm(mm, mm, req->x, nr);
		for (i = 0; i < nr && !err; i++)
			err = req->x[i].err;
	}
	mmap_read_unlock(mm);
	putback_movable_pages(&isolated);
	mmput(mm);
out:
	kvfree(req);
	return err ? err : len;
}

static const struct file_operations exchange_debugfs_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = exchange_debugfs_write,
	.llseek = noop_llseek,
};

static int __init exchange_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("exchange", NULL);

	debugfs_create_file("pair", 0200, dir, NULL, &exchange_debugfs_fops);
	return 0;
}
late_initcall(exchange_debugfs_init);
#endif /* CONFIG_FOLIO_EXCHANGE_DEBUGFS */

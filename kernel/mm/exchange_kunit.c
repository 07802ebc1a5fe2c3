// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of exchange_folios() on real anonymous memory of the test's
 * own mm (kunit_vm_mmap()): contents and mappings swapped crosswise, data
 * seen through the mappings unchanged, references given back, and the
 * refusals leaving everything as it was.  A fake folio copier checks what
 * a device is handed and that the CPU swaps what the copier did not.
 */

#include <kunit/test.h>
#include <linux/exchange.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/migrate.h>
#include <linux/mount.h>
#include <linux/pagewalk.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/swap.h>
#include <linux/uaccess.h>

#include "internal.h"

#define XT_PAGES	8

struct xt {
	unsigned long base;
	struct folio *folio[XT_PAGES];
	int ref[XT_PAGES];
	struct list_head isolated;
};

static int xt_init(struct kunit *test, struct xt *x)
{
	u8 buf[64];
	int i;

	x->base = kunit_vm_mmap(test, NULL, 0, XT_PAGES * PAGE_SIZE,
				PROT_READ | PROT_WRITE,
				MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (IS_ERR_VALUE(x->base) || !x->base)
		return -ENOMEM;
	/* Page i starts with 64 bytes of value i + 1: faults it in. */
	for (i = 0; i < XT_PAGES; i++) {
		memset(buf, i + 1, sizeof(buf));
		if (copy_to_user((void __user *)(x->base + i * PAGE_SIZE), buf,
				 sizeof(buf)))
			return -EFAULT;
	}
	INIT_LIST_HEAD(&x->isolated);
	return 0;
}

/* The folio mapping @addr, without a reference; NULL if none. */
static struct folio *xt_folio_at(unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct folio_walk fw;
	struct folio *folio = NULL;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma) {
		folio = folio_walk_start(&fw, vma, addr, 0);
		if (folio)
			folio_walk_end(&fw, vma);
	}
	mmap_read_unlock(mm);
	return folio;
}

/* The folio mapping page @i, without a reference; NULL if none. */
static struct folio *xt_folio(struct xt *x, int i)
{
	return xt_folio_at(x->base + i * PAGE_SIZE);
}

/* Isolate the folios of pages [0, @n), as a tiering policy would. */
static void xt_isolate(struct kunit *test, struct xt *x, int n)
{
	int i;

	lru_add_drain_all();
	for (i = 0; i < n; i++) {
		x->folio[i] = xt_folio(x, i);
		KUNIT_ASSERT_NOT_NULL(test, x->folio[i]);
		x->ref[i] = folio_ref_count(x->folio[i]);
		KUNIT_ASSERT_TRUE(test, folio_isolate_lru(x->folio[i]));
		list_add_tail(&x->folio[i]->lru, &x->isolated);
		node_stat_mod_folio(x->folio[i], NR_ISOLATED_ANON, 1);
	}
}

/* Put the folios back; the LRU batch's references go with a drain. */
static void xt_putback(struct xt *x)
{
	putback_movable_pages(&x->isolated);
	lru_add_drain_all();
}

/* First byte of page @i, read through its mapping. */
static int xt_read(struct xt *x, int i)
{
	u8 v;

	if (copy_from_user(&v, (void __user *)(x->base + i * PAGE_SIZE), 1))
		return -1;
	return v;
}

static void xt_test_swap(struct kunit *test)
{
	struct folio_exchange p[2] = {};
	struct xt x;
	int i;

	KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
	xt_isolate(test, &x, 4);
	p[0].a = x.folio[0];
	p[0].b = x.folio[1];
	p[1].a = x.folio[2];
	p[1].b = x.folio[3];
	KUNIT_EXPECT_EQ(test, exchange_folios(p, 2), 2);
	KUNIT_EXPECT_EQ(test, p[0].err, 0);
	KUNIT_EXPECT_EQ(test, p[1].err, 0);
	xt_putback(&x);

	/* The mappings were swapped crosswise ... */
	KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 0), x.folio[1]);
	KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 1), x.folio[0]);
	KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 2), x.folio[3]);
	KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 3), x.folio[2]);
	/* ... with the contents, so every address reads what it wrote ... */
	for (i = 0; i < XT_PAGES; i++)
		KUNIT_EXPECT_EQ(test, xt_read(&x, i), i + 1);
	/* ... and no reference was lost or leaked. */
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, folio_ref_count(x.folio[i]), x.ref[i]);
		KUNIT_EXPECT_EQ(test, folio_mapcount(x.folio[i]), 1);
		KUNIT_EXPECT_TRUE(test, folio_test_anon(x.folio[i]));
	}
}

static void xt_expect_untouched(struct kunit *test, struct xt *x, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_PTR_EQ(test, xt_folio(x, i), x->folio[i]);
		KUNIT_EXPECT_EQ(test, folio_ref_count(x->folio[i]), x->ref[i]);
	}
	for (i = 0; i < XT_PAGES; i++)
		KUNIT_EXPECT_EQ(test, xt_read(x, i), i + 1);
}

/* A folio referenced from elsewhere (e.g. pinned) is refused. */
static void xt_test_busy(struct kunit *test)
{
	struct folio_exchange p = {};
	struct xt x;

	KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
	xt_isolate(test, &x, 2);
	folio_get(x.folio[1]);
	p.a = x.folio[0];
	p.b = x.folio[1];
	KUNIT_EXPECT_EQ(test, exchange_folios(&p, 1), 0);
	KUNIT_EXPECT_EQ(test, p.err, -EBUSY);
	folio_put(x.folio[1]);
	xt_putback(&x);
	xt_expect_untouched(test, &x, 2);
}

/* A folio that is not anonymous memory is refused, and its pair kept. */
static void xt_test_type(struct kunit *test)
{
	struct folio_exchange p = {};
	struct folio *kernel;
	struct xt x;

	KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
	xt_isolate(test, &x, 1);
	kernel = folio_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, kernel);
	p.a = x.folio[0];
	p.b = kernel;
	KUNIT_EXPECT_EQ(test, exchange_folios(&p, 1), 0);
	KUNIT_EXPECT_TRUE(test, p.err == -EOPNOTSUPP || p.err == -EINVAL);
	KUNIT_EXPECT_EQ(test, folio_ref_count(kernel), 1);
	folio_put(kernel);
	xt_putback(&x);
	xt_expect_untouched(test, &x, 1);
}

/* Exchanging a pair twice gives the original placement back. */
static void xt_test_twice(struct kunit *test)
{
	struct folio_exchange p = {};
	struct xt x;
	int i;

	KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
	xt_isolate(test, &x, 2);
	for (i = 0; i < 2; i++) {
		p.a = x.folio[0];
		p.b = x.folio[1];
		KUNIT_EXPECT_EQ(test, exchange_folios(&p, 1), 1);
		KUNIT_EXPECT_EQ(test, p.err, 0);
	}
	xt_putback(&x);
	xt_expect_untouched(test, &x, 2);
}

static unsigned long xt_direct_count(struct kunit *test)
{
	unsigned long *ev = kunit_kcalloc(test, NR_VM_EVENT_ITEMS, sizeof(*ev),
					  GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ev);
	all_vm_events(ev);
	return ev[EXCHANGE_DIRECT];
}

/*
 * exchange_folios_mm(): folios at the addresses given are remapped there
 * without the rmap; a wrong address (page 7 maps another folio) or one in
 * no VMA only sends that folio through the rmap.  Swapped crosswise all
 * the same.
 */
static void xt_test_mm(struct kunit *test)
{
	struct folio_exchange p[3] = {};
	unsigned long direct;
	struct mm_struct *mm;
	struct xt x;
	int i;

	KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
	/* kunit_vm_mmap() gave this kthread an mm. */
	mm = current->mm;
	xt_isolate(test, &x, 6);
	for (i = 0; i < 3; i++) {
		p[i].a = x.folio[2 * i];
		p[i].b = x.folio[2 * i + 1];
		p[i].addr_a = x.base + 2 * i * PAGE_SIZE;
		p[i].addr_b = x.base + (2 * i + 1) * PAGE_SIZE;
	}
	p[1].addr_b = x.base + 7 * PAGE_SIZE;
	p[2].addr_a = 0;
	direct = xt_direct_count(test);
	mmap_read_lock(mm);
	KUNIT_EXPECT_EQ(test, exchange_folios_mm(mm, mm, p, 3), 3);
	mmap_read_unlock(mm);
	KUNIT_EXPECT_EQ(test, xt_direct_count(test) - direct, 4UL);
	xt_putback(&x);

	for (i = 0; i < 6; i++) {
		KUNIT_EXPECT_EQ(test, p[i / 2].err, 0);
		/* Page i now maps the other folio of its pair. */
		KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, i), x.folio[i ^ 1]);
		KUNIT_EXPECT_EQ(test, folio_ref_count(x.folio[i]), x.ref[i]);
		KUNIT_EXPECT_EQ(test, folio_mapcount(x.folio[i]), 1);
	}
	for (i = 0; i < XT_PAGES; i++)
		KUNIT_EXPECT_EQ(test, xt_read(&x, i), i + 1);
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/* Page @i of THP @j holds the tag @j * HPAGE_PMD_NR + @i + 1 at its start. */
static int xt_thp_tags(unsigned long base, bool check)
{
	unsigned int i, j;
	u16 tag, v;

	for (j = 0; j < 2; j++) {
		for (i = 0; i < HPAGE_PMD_NR; i++) {
			void __user *p = (void __user *)(base + j * HPAGE_PMD_SIZE +
							 i * PAGE_SIZE);

			tag = j * HPAGE_PMD_NR + i + 1;
			if (!check && copy_to_user(p, &tag, sizeof(tag)))
				return -EFAULT;
			if (check && (copy_from_user(&v, p, sizeof(v)) ||
				      v != tag))
				return -EIO;
		}
	}
	return 0;
}

/*
 * After an exchange, @folio maps @addr by a PMD, exclusively (as the
 * migration entry recorded it), and no tail page says it is exclusive.
 */
static void xt_expect_thp_at(struct kunit *test, struct folio *folio,
			     unsigned long addr, int ref)
{
	long i, excl = 0;

	KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(addr), folio);
	KUNIT_EXPECT_EQ(test, folio_ref_count(folio), ref);
	KUNIT_EXPECT_EQ(test, folio_entire_mapcount(folio), 1);
	KUNIT_EXPECT_TRUE(test, PageAnonExclusive(folio_page(folio, 0)));
	for (i = 1; i < folio_nr_pages(folio); i++)
		excl += PageAnonExclusive(folio_page(folio, i));
	KUNIT_EXPECT_EQ(test, excl, 0);
}

/*
 * Two THPs mapped by PMDs are exchanged whole, there and back: with their
 * addresses (unmapped from their PMDs directly, the tail pages not looked
 * at) and through the rmap alone; each time the data stays at its
 * address, each address maps the other folio, exclusively.
 */
static void xt_test_thp(struct kunit *test)
{
	struct folio_exchange p = {};
	struct mm_struct *mm;
	unsigned long map, base, direct;
	struct folio *f[2];
	LIST_HEAD(isolated);
	int ref[2], j;

	map = kunit_vm_mmap(test, NULL, 0, 3 * HPAGE_PMD_SIZE,
			    PROT_READ | PROT_WRITE,
			    MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(map) || !map);
	mm = current->mm;
	base = ALIGN(map, HPAGE_PMD_SIZE);
	KUNIT_ASSERT_EQ(test, do_madvise(mm, base, 2 * HPAGE_PMD_SIZE,
					 MADV_HUGEPAGE), 0);
	KUNIT_ASSERT_EQ(test, xt_thp_tags(base, false), 0);
	lru_add_drain_all();
	for (j = 0; j < 2; j++) {
		f[j] = xt_folio_at(base + j * HPAGE_PMD_SIZE);
		KUNIT_ASSERT_NOT_NULL(test, f[j]);
		/* Boot-time memory has free 2 MiB blocks to fault THPs in. */
		KUNIT_ASSERT_TRUE(test, folio_test_pmd_mappable(f[j]));
		ref[j] = folio_ref_count(f[j]);
		KUNIT_ASSERT_TRUE(test, folio_isolate_lru(f[j]));
		list_add_tail(&f[j]->lru, &isolated);
		node_stat_mod_folio(f[j], NR_ISOLATED_ANON,
				    folio_nr_pages(f[j]));
	}

	p.a = f[0];
	p.b = f[1];
	p.addr_a = base;
	p.addr_b = base + HPAGE_PMD_SIZE;
	direct = xt_direct_count(test);
	mmap_read_lock(mm);
	KUNIT_EXPECT_EQ(test, exchange_folios_mm(mm, mm, &p, 1), 1);
	mmap_read_unlock(mm);
	KUNIT_EXPECT_EQ(test, p.err, 0);
	KUNIT_EXPECT_TRUE(test, p.pmd_a && p.pmd_b);
	/* Both PMDs cleared and set again directly, without the rmap. */
	KUNIT_EXPECT_EQ(test, xt_direct_count(test) - direct, 2UL);
	/* Still isolated: one reference more. */
	xt_expect_thp_at(test, f[1], base, ref[1] + 1);
	xt_expect_thp_at(test, f[0], base + HPAGE_PMD_SIZE, ref[0] + 1);
	KUNIT_EXPECT_EQ(test, xt_thp_tags(base, true), 0);

	direct = xt_direct_count(test);
	KUNIT_EXPECT_EQ(test, exchange_folios(&p, 1), 1);
	KUNIT_EXPECT_EQ(test, p.err, 0);
	KUNIT_EXPECT_FALSE(test, p.pmd_a || p.pmd_b);
	KUNIT_EXPECT_EQ(test, xt_direct_count(test) - direct, 0UL);
	putback_movable_pages(&isolated);
	lru_add_drain_all();
	xt_expect_thp_at(test, f[0], base, ref[0]);
	xt_expect_thp_at(test, f[1], base + HPAGE_PMD_SIZE, ref[1]);
	KUNIT_EXPECT_EQ(test, xt_thp_tags(base, true), 0);
}
#else
static void xt_test_thp(struct kunit *test)
{
	kunit_skip(test, "no transparent huge pages");
}
#endif

/* A folio copier that swaps the first @swap_first pairs, or fails. */
struct xt_copier {
	struct folio_copier c;
	int swap_first;
	int ret;		/* < 0: fail with it */
	int calls;
	unsigned int last_nr;
	bool all_frozen;	/* every folio handed over frozen, unmapped */
	int copies;
	int batch_first;	/* copy_folios copies this many, or fails */
	int batch_calls;
	unsigned int batch_nr;
	bool batch_unmapped;	/* its sources unmapped, held by nobody */
	int atomic_first;	/* exchange_atomic swaps this many, or fails */
	int atomic_calls;
	unsigned int atomic_nr;
	bool atomic_frozen;	/* handed over frozen, preemption off */
};

static void xt_swap_folio(struct folio *a, struct folio *b)
{
	size_t off;
	u8 *pa, *pb;
	unsigned int i;

	for (off = 0; off < folio_size(a); off += PAGE_SIZE) {
		pa = kmap_local_folio(a, off);
		pb = kmap_local_folio(b, off);
		for (i = 0; i < PAGE_SIZE; i++)
			swap(pa[i], pb[i]);
		kunmap_local(pb);
		kunmap_local(pa);
	}
}

/*
 * Whether all @nr pairs came frozen and unmapped, in *@frozen; swaps the
 * first @first of them, or fails with it if negative.
 */
static int xt_copier_swap(struct folio **a, struct folio **b, unsigned int nr,
			  bool *frozen, int first)
{
	unsigned int i, n;

	for (i = 0; i < nr; i++)
		*frozen &= !folio_ref_count(a[i]) && !folio_ref_count(b[i]) &&
			   !folio_mapped(a[i]) && !folio_mapped(b[i]);
	if (first < 0)
		return first;
	n = min_t(unsigned int, nr, first);
	for (i = 0; i < n; i++)
		xt_swap_folio(a[i], b[i]);
	return n;
}

static int xt_copier_exchange(struct folio_copier *c, struct folio **a,
			      struct folio **b, unsigned int nr)
{
	struct xt_copier *xc = container_of(c, struct xt_copier, c);

	xc->calls++;
	xc->last_nr = nr;
	return xt_copier_swap(a, b, nr, &xc->all_frozen,
			      xc->ret < 0 ? xc->ret : xc->swap_first);
}

static int xt_copier_exchange_atomic(struct folio_copier *c,
				     struct folio **a, struct folio **b,
				     unsigned int nr)
{
	struct xt_copier *xc = container_of(c, struct xt_copier, c);

	xc->atomic_calls++;
	xc->atomic_nr = nr;
	/* preemptible() is known only with PREEMPT_COUNT (the debug kernel). */
	xc->atomic_frozen &= !IS_ENABLED(CONFIG_PREEMPT_COUNT) || !preemptible();
	return xt_copier_swap(a, b, nr, &xc->atomic_frozen, xc->atomic_first);
}

static int xt_copier_copy(struct folio_copier *c, struct folio *dst,
			  struct folio *src)
{
	struct xt_copier *xc = container_of(c, struct xt_copier, c);

	xc->copies++;
	if (!xc->ret)
		folio_copy(dst, src);
	return xc->ret;
}

static int xt_copier_copy_folios(struct folio_copier *c, struct folio **dst,
				 struct folio **src, unsigned int nr)
{
	struct xt_copier *xc = container_of(c, struct xt_copier, c);
	unsigned int i;

	xc->batch_calls++;
	xc->batch_nr = nr;
	for (i = 0; i < nr; i++)
		xc->batch_unmapped &= !folio_mapped(src[i]) &&
				      folio_ref_count(src[i]) == 1;
	if (xc->batch_first < 0)
		return xc->batch_first;
	nr = min_t(unsigned int, nr, xc->batch_first);
	for (i = 0; i < nr; i++)
		folio_copy(dst[i], src[i]);
	return nr;
}

static void xt_copier_init(struct kunit *test, struct xt_copier *xc,
			   int swap_first, int ret)
{
	*xc = (struct xt_copier){ .swap_first = swap_first, .ret = ret,
				  .all_frozen = true, .batch_unmapped = true,
				  .atomic_frozen = true };
	xc->c.exchange = xt_copier_exchange;
	xc->c.copy_folio = xt_copier_copy;
	xc->c.copy_folios = xt_copier_copy_folios;
	/* A device (virtio-hballoon) may hold the place. */
	if (folio_copier_register(&xc->c))
		kunit_skip(test, "another folio copier is registered");
}

/*
 * Four pairs in one batch reach the copier at once, frozen and unmapped;
 * what it swaps (all, the first one, none after a failure), plus what the
 * CPU swaps after it, leaves every address reading its own data.
 */
static void xt_test_copier(struct kunit *test)
{
	static const int cases[][2] = { { 4, 0 }, { 1, 0 }, { 4, -EIO } };
	struct folio_exchange p[4] = {};
	struct xt_copier xc;
	unsigned int c;
	struct xt x;
	int i;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		xt_copier_init(test, &xc, cases[c][0], cases[c][1]);
		KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
		xt_isolate(test, &x, XT_PAGES);
		for (i = 0; i < 4; i++) {
			p[i].a = x.folio[2 * i];
			p[i].b = x.folio[2 * i + 1];
		}
		KUNIT_EXPECT_EQ(test, exchange_folios(p, 4), 4);
		folio_copier_unregister(&xc.c);
		xt_putback(&x);
		KUNIT_EXPECT_EQ(test, xc.calls, 1);
		KUNIT_EXPECT_EQ(test, xc.last_nr, 4U);
		KUNIT_EXPECT_TRUE(test, xc.all_frozen);
		for (i = 0; i < XT_PAGES; i++) {
			KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, i),
					    x.folio[i ^ 1]);
			KUNIT_EXPECT_EQ(test, xt_read(&x, i), i + 1);
			KUNIT_EXPECT_EQ(test, folio_ref_count(x.folio[i]),
					x.ref[i]);
		}
	}
}

/* Migration copies go to the copier only inside folio_copier_begin/end. */
static void xt_test_copier_copy(struct kunit *test)
{
	struct folio *src, *dst;
	struct xt_copier xc;

	xt_copier_init(test, &xc, 0, 0);
	src = folio_alloc(GFP_KERNEL, 0);
	dst = folio_alloc(GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, src);
	KUNIT_ASSERT_NOT_NULL(test, dst);
	KUNIT_EXPECT_EQ(test, folio_copier_copy(dst, src), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, xc.copies, 0);
	KUNIT_EXPECT_TRUE(test, folio_copier_begin());
	KUNIT_EXPECT_EQ(test, folio_copier_copy(dst, src), 0);
	xc.ret = -EIO;
	KUNIT_EXPECT_EQ(test, folio_copier_copy(dst, src), -EIO);
	folio_copier_end();
	KUNIT_EXPECT_EQ(test, folio_copier_copy(dst, src), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, xc.copies, 2);
	folio_copier_unregister(&xc.c);
	folio_put(dst);
	folio_put(src);
}

/*
 * A migration batch's copies reach the copier in one call, between unmap
 * and move, but for a folio somebody else holds; what it did not copy,
 * the per-folio path does, and every address reads its own data.
 */
static void xt_test_copier_ahead(struct kunit *test)
{
	static const int cases[] = { XT_PAGES, 3, -EIO };
	struct migration_target_control mtc = {
		.nid = NUMA_NO_NODE,
		.gfp_mask = GFP_HIGHUSER_MOVABLE,
		.reason = MR_SYSCALL,
	};
	unsigned int c, ok, ahead;
	struct xt_copier xc;
	struct xt x;
	int i;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		xt_copier_init(test, &xc, 0, 0);
		xc.batch_first = cases[c];
		KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
		xt_isolate(test, &x, XT_PAGES);
		/* Held by somebody (a pin, say): not copied ahead, not moved. */
		folio_get(x.folio[1]);
		KUNIT_ASSERT_TRUE(test, folio_copier_begin());
		ok = 0;
		migrate_pages(&x.isolated, alloc_migration_target, NULL,
			      (unsigned long)&mtc, MIGRATE_ASYNC, MR_SYSCALL,
			      &ok);
		folio_copier_end();
		folio_put(x.folio[1]);
		xt_putback(&x);
		ahead = clamp(cases[c], 0, XT_PAGES - 1);
		KUNIT_EXPECT_EQ(test, ok, XT_PAGES - 1);
		KUNIT_EXPECT_EQ(test, xc.batch_calls, 1);
		KUNIT_EXPECT_EQ(test, xc.batch_nr, XT_PAGES - 1);
		KUNIT_EXPECT_TRUE(test, xc.batch_unmapped);
		KUNIT_EXPECT_EQ(test, xc.copies, XT_PAGES - 1 - ahead);
		KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 1), x.folio[1]);
		for (i = 0; i < XT_PAGES; i++)
			KUNIT_EXPECT_EQ(test, xt_read(&x, i), i + 1);
		folio_copier_unregister(&xc.c);
	}
}

/* Two shmem files of XT_SHMEM_PAGES, each mapped shared in the test's mm. */
#define XT_SHMEM_PAGES	2

struct xt_shmem {
	struct file *file[2];
	unsigned long base[2];
	struct folio *folio[2][XT_SHMEM_PAGES];
	int ref[2][XT_SHMEM_PAGES];
};

static void xt_shmem_put(void *data)
{
	struct xt_shmem *s = data;

	int f;

	for (f = 0; f < 2; f++)
		if (!IS_ERR_OR_NULL(s->file[f]))
			fput(s->file[f]);
}

/* The tag of page @i of file @f: 64 + 16 * @f + @i. */
static int xt_shmem_tag(int f, int i)
{
	return 64 + 16 * f + i;
}

static void xt_shmem_init(struct kunit *test, struct xt_shmem *s,
			  struct list_head *isolated)
{
	u8 buf[64];
	int f, i;

	for (f = 0; f < 2; f++) {
		s->file[f] = shmem_file_setup("xt_shmem",
					      XT_SHMEM_PAGES * PAGE_SIZE, 0);
		KUNIT_ASSERT_FALSE(test, IS_ERR(s->file[f]));
		s->base[f] = kunit_vm_mmap(test, s->file[f], 0,
					   XT_SHMEM_PAGES * PAGE_SIZE,
					   PROT_READ | PROT_WRITE, MAP_SHARED,
					   0);
		KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(s->base[f]) ||
				   !s->base[f]);
		for (i = 0; i < XT_SHMEM_PAGES; i++) {
			memset(buf, xt_shmem_tag(f, i), sizeof(buf));
			KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)
							   (s->base[f] + i * PAGE_SIZE),
							   buf, sizeof(buf)), 0UL);
		}
	}
	lru_add_drain_all();
	for (f = 0; f < 2; f++) {
		for (i = 0; i < XT_SHMEM_PAGES; i++) {
			struct folio *folio;

			folio = xt_folio_at(s->base[f] + i * PAGE_SIZE);
			KUNIT_ASSERT_NOT_NULL(test, folio);
			KUNIT_ASSERT_FALSE(test, folio_test_anon(folio));
			s->folio[f][i] = folio;
			s->ref[f][i] = folio_ref_count(folio);
			KUNIT_ASSERT_TRUE(test, folio_isolate_lru(folio));
			list_add_tail(&folio->lru, isolated);
			node_stat_mod_folio(folio, NR_ISOLATED_ANON +
					    folio_is_file_lru(folio), 1);
		}
	}
}

/* Page @i of file @f reads @tag through the mapping and through the file. */
static void xt_expect_shmem(struct kunit *test, struct xt_shmem *s, int f,
			    int i, int tag)
{
	loff_t pos = i * PAGE_SIZE;
	u8 v = 0, w = 0;

	KUNIT_EXPECT_EQ(test, copy_from_user(&v, (void __user *)
					     (s->base[f] + i * PAGE_SIZE), 1),
			0UL);
	KUNIT_EXPECT_EQ(test, v, tag);
	KUNIT_EXPECT_EQ(test, kernel_read(s->file[f], &w, 1, &pos), 1L);
	KUNIT_EXPECT_EQ(test, w, tag);
}

/*
 * Small shmem folios: a pair within one file and a pair across two files
 * are exchanged, in one batch with an anonymous pair, while a copier is
 * registered.  The copier, without exchange_atomic, gets the anonymous
 * pair only (a page cache lookup spins on a frozen folio, so the CPU swaps
 * shmem pairs at once).
 * After, each page cache slot and mapping holds the other folio of its
 * pair, which reads the data written there, through the mapping and the
 * file; references are as before.  A shmem folio, unmapped, paired with
 * an anonymous one (swapped by the CPU too) takes its anonymous mapping,
 * and the anonymous folio its page cache slot, with the references of
 * each; the page is mapped again at the next access.
 */
static void xt_test_shmem(struct kunit *test)
{
	struct folio_exchange p[4] = {};
	struct xt_shmem *s;
	struct xt_copier xc;
	struct folio *got;
	struct xt x;
	int f, i;

	s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, xt_shmem_put, s),
			0);
	KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
	xt_isolate(test, &x, 3);
	xt_shmem_init(test, s, &x.isolated);

	/*
	 * File 0's pages with each other; file 1's page 1, unmapped (as the
	 * tails of a split shmem THP are) but in the page cache, with an
	 * anonymous one.
	 */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, s->base[1] + PAGE_SIZE,
					 PAGE_SIZE, MADV_DONTNEED), 0);
	KUNIT_ASSERT_FALSE(test, folio_mapped(s->folio[1][1]));
	p[0].a = s->folio[0][0];
	p[0].b = s->folio[0][1];
	p[1].a = x.folio[0];
	p[1].b = x.folio[1];
	p[2].a = s->folio[1][1];
	p[2].b = x.folio[2];
	xt_copier_init(test, &xc, 4, 0);
	KUNIT_EXPECT_EQ(test, exchange_folios(p, 3), 3);
	folio_copier_unregister(&xc.c);
	KUNIT_EXPECT_EQ(test, p[0].err, 0);
	KUNIT_EXPECT_EQ(test, p[1].err, 0);
	KUNIT_EXPECT_EQ(test, p[2].err, 0);
	KUNIT_EXPECT_EQ(test, xc.calls, 1);
	KUNIT_EXPECT_EQ(test, xc.last_nr, 1U);
	KUNIT_EXPECT_TRUE(test, xc.all_frozen);

	/* Across files: file 1's page 0 with file 0's page 1 (now folio 0). */
	p[3].a = s->folio[1][0];
	p[3].b = s->folio[0][0];
	KUNIT_EXPECT_EQ(test, exchange_folios(&p[3], 1), 1);
	KUNIT_EXPECT_EQ(test, p[3].err, 0);
	xt_putback(&x);

	/* Page 0 of file 0 ... */
	xt_expect_shmem(test, s, 0, 0, xt_shmem_tag(0, 0));
	KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(s->base[0]), s->folio[0][1]);
	/* ... page 1 of file 0 and page 0 of file 1 ... */
	xt_expect_shmem(test, s, 0, 1, xt_shmem_tag(0, 1));
	KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(s->base[0] + PAGE_SIZE),
			    s->folio[1][0]);
	xt_expect_shmem(test, s, 1, 0, xt_shmem_tag(1, 0));
	KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(s->base[1]), s->folio[0][0]);
	/* ... and page 1 of file 1, now in the anonymous folio, refaulted. */
	xt_expect_shmem(test, s, 1, 1, xt_shmem_tag(1, 1));
	KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(s->base[1] + PAGE_SIZE),
			    x.folio[2]);
	KUNIT_EXPECT_FALSE(test, folio_test_anon(x.folio[2]));
	/* The fault may have queued it for activation, with a reference. */
	lru_add_drain_all();
	/* What each page cache slot holds, and the folios' place in it. */
	for (f = 0; f < 2; f++) {
		for (i = 0; i < XT_SHMEM_PAGES; i++) {
			got = filemap_get_folio(s->file[f]->f_mapping, i);
			KUNIT_ASSERT_FALSE(test, IS_ERR(got));
			KUNIT_EXPECT_PTR_EQ(test, got,
					    xt_folio_at(s->base[f] +
							i * PAGE_SIZE));
			KUNIT_EXPECT_PTR_EQ(test, got->mapping,
					    s->file[f]->f_mapping);
			KUNIT_EXPECT_EQ(test, got->index, (pgoff_t)i);
			folio_put(got);
			/* Whichever folio the slot holds now. */
			KUNIT_EXPECT_EQ(test, folio_ref_count(got),
					s->ref[f][i]);
			KUNIT_EXPECT_EQ(test, folio_mapcount(got), 1);
		}
	}
	/*
	 * The anonymous pair was exchanged by the copier; the third page
	 * is mapped by the shmem folio, anonymous now, with its references.
	 */
	KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 0), x.folio[1]);
	KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 2), s->folio[1][1]);
	KUNIT_EXPECT_TRUE(test, folio_test_anon(s->folio[1][1]));
	KUNIT_EXPECT_EQ(test, folio_ref_count(s->folio[1][1]), x.ref[2]);
	KUNIT_EXPECT_EQ(test, folio_mapcount(s->folio[1][1]), 1);
	for (i = 0; i < XT_PAGES; i++)
		KUNIT_EXPECT_EQ(test, xt_read(&x, i), i + 1);
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
#define XT_HUGE		4	/* THPs: one anonymous, then three of shmem */

static void xt_kern_unmount(void *mnt)
{
	kern_unmount(mnt);
}

static void xt_fput(void *file)
{
	fput(file);
}

/* Page @k from @base holds the tag @k + 1 at its start. */
static int xt_huge_tags(unsigned long base, bool check)
{
	unsigned int k;
	u16 tag, v;

	for (k = 0; k < XT_HUGE * HPAGE_PMD_NR; k++) {
		void __user *p = (void __user *)(base + k * PAGE_SIZE);

		tag = k + 1;
		if (!check && copy_to_user(p, &tag, sizeof(tag)))
			return -EFAULT;
		if (check && (copy_from_user(&v, p, sizeof(v)) || v != tag))
			return -EIO;
	}
	return 0;
}

/*
 * An anonymous THP at the returned address, then three shmem THPs of a
 * file of @mnt (a tmpfs mounted huge=always, whatever shmem_enabled says),
 * all tagged and isolated in @f.
 */
static unsigned long xt_huge_init(struct kunit *test, struct vfsmount *mnt,
				  struct folio **f, struct list_head *isolated)
{
	unsigned long map, base;
	struct file *file;
	int j;

	map = kunit_vm_mmap(test, NULL, 0, (XT_HUGE + 1) * HPAGE_PMD_SIZE,
			    PROT_READ | PROT_WRITE,
			    MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(map) || !map);
	base = ALIGN(map, HPAGE_PMD_SIZE);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, base, HPAGE_PMD_SIZE,
					 MADV_HUGEPAGE), 0);
	file = shmem_file_setup_with_mnt(mnt, "xt_huge",
					 (XT_HUGE - 1) * HPAGE_PMD_SIZE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, xt_fput, file),
			0);
	KUNIT_ASSERT_EQ(test, kunit_vm_mmap(test, file, base + HPAGE_PMD_SIZE,
					    (XT_HUGE - 1) * HPAGE_PMD_SIZE,
					    PROT_READ | PROT_WRITE,
					    MAP_SHARED | MAP_FIXED, 0),
			base + HPAGE_PMD_SIZE);
	KUNIT_ASSERT_EQ(test, xt_huge_tags(base, false), 0);
	lru_add_drain_all();
	for (j = 0; j < XT_HUGE; j++) {
		f[j] = xt_folio_at(base + j * HPAGE_PMD_SIZE);
		KUNIT_ASSERT_NOT_NULL(test, f[j]);
		/* Boot-time memory has free 2 MiB blocks to fault THPs in. */
		KUNIT_ASSERT_TRUE(test, folio_test_pmd_mappable(f[j]));
		KUNIT_ASSERT_EQ(test, folio_test_anon(f[j]), !j);
		KUNIT_ASSERT_TRUE(test, folio_isolate_lru(f[j]));
		list_add_tail(&f[j]->lru, isolated);
		node_stat_mod_folio(f[j], NR_ISOLATED_ANON, folio_nr_pages(f[j]));
	}
	return base;
}

/*
 * A copier that swaps without sleeping gets each of a batch's large page
 * cache pairs (two shmem THPs; an anonymous THP with a shmem one) in an
 * exchange_atomic call of its own, frozen and with preemption off; the
 * batch's anonymous pair goes to exchange, and its 4 KiB shmem pair to
 * the CPU.  Whether the copier swaps, is busy or fails (the CPU swaps),
 * every page reads its data afterwards, through the mapping and the
 * file, and each address maps the other folio of its pair.
 */
static void xt_test_shmem_atomic(struct kunit *test)
{
	static const int cases[] = { 1, -EBUSY, -EIO };
	char opts[] = "huge=always";	/* parsed in place */
	struct file_system_type *type;
	struct folio_exchange p[4] = {};
	struct folio *f[XT_HUGE];
	struct vfsmount *mnt;
	struct xt_copier xc;
	struct xt_shmem *s;
	unsigned long base;
	unsigned int c;
	struct xt x;
	int i;

	type = get_fs_type("tmpfs");
	KUNIT_ASSERT_NOT_NULL(test, type);
	mnt = vfs_kern_mount(type, SB_KERNMOUNT, type->name, opts);
	KUNIT_ASSERT_FALSE(test, IS_ERR(mnt));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, xt_kern_unmount,
							mnt), 0);
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, s);
		KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
								xt_shmem_put,
								s), 0);
		KUNIT_ASSERT_EQ(test, xt_init(test, &x), 0);
		xt_isolate(test, &x, 2);
		xt_shmem_init(test, s, &x.isolated);
		base = xt_huge_init(test, mnt, f, &x.isolated);
		p[0].a = f[1];
		p[0].b = f[2];
		p[1].a = f[0];
		p[1].b = f[3];
		p[2].a = x.folio[0];
		p[2].b = x.folio[1];
		p[3].a = s->folio[0][0];
		p[3].b = s->folio[0][1];
		xt_copier_init(test, &xc, 4, 0);
		xc.atomic_first = cases[c];
		xc.c.exchange_atomic = xt_copier_exchange_atomic;
		KUNIT_EXPECT_EQ(test, exchange_folios(p, 4), 4);
		folio_copier_unregister(&xc.c);
		xt_putback(&x);
		for (i = 0; i < 4; i++)
			KUNIT_EXPECT_EQ(test, p[i].err, 0);
		KUNIT_EXPECT_EQ(test, xc.atomic_calls, 2);
		KUNIT_EXPECT_EQ(test, xc.atomic_nr, 1U);
		KUNIT_EXPECT_TRUE(test, xc.atomic_frozen);
		KUNIT_EXPECT_EQ(test, xc.calls, 1);
		KUNIT_EXPECT_EQ(test, xc.last_nr, 1U);

		KUNIT_EXPECT_EQ(test, xt_huge_tags(base, true), 0);
		KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(base), f[3]);
		KUNIT_EXPECT_TRUE(test, folio_test_anon(f[3]));
		KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(base + HPAGE_PMD_SIZE),
				    f[2]);
		KUNIT_EXPECT_PTR_EQ(test,
				    xt_folio_at(base + 2 * HPAGE_PMD_SIZE),
				    f[1]);
		KUNIT_EXPECT_PTR_EQ(test,
				    xt_folio_at(base + 3 * HPAGE_PMD_SIZE),
				    f[0]);
		KUNIT_EXPECT_FALSE(test, folio_test_anon(f[0]));
		xt_expect_shmem(test, s, 0, 0, xt_shmem_tag(0, 0));
		xt_expect_shmem(test, s, 0, 1, xt_shmem_tag(0, 1));
		KUNIT_EXPECT_PTR_EQ(test, xt_folio_at(s->base[0]),
				    s->folio[0][1]);
		KUNIT_EXPECT_PTR_EQ(test, xt_folio(&x, 0), x.folio[1]);
		for (i = 0; i < XT_PAGES; i++)
			KUNIT_EXPECT_EQ(test, xt_read(&x, i), i + 1);
	}
}
#else
static void xt_test_shmem_atomic(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_TRANSPARENT_HUGEPAGE");
}
#endif

static struct kunit_case xt_cases[] = {
	KUNIT_CASE(xt_test_swap),
	KUNIT_CASE(xt_test_busy),
	KUNIT_CASE(xt_test_type),
	KUNIT_CASE(xt_test_twice),
	KUNIT_CASE(xt_test_mm),
	KUNIT_CASE(xt_test_thp),
	KUNIT_CASE(xt_test_shmem),
	KUNIT_CASE(xt_test_shmem_atomic),
	KUNIT_CASE(xt_test_copier),
	KUNIT_CASE(xt_test_copier_copy),
	KUNIT_CASE(xt_test_copier_ahead),
	{}
};

static struct kunit_suite xt_suite = {
	.name = "folio-exchange",
	.test_cases = xt_cases,
};

kunit_test_suite(xt_suite);

MODULE_DESCRIPTION("KUnit tests of exchange_folios()");
MODULE_LICENSE("GPL");

// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of exchange_folios() on real anonymous memory of the test's
 * own mm (kunit_vm_mmap()): contents and mappings swapped crosswise, data
 * seen through the mappings unchanged, references given back, and the
 * refusals leaving everything as it was.
 */

#include <kunit/test.h>
#include <linux/exchange.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/migrate.h>
#include <linux/pagewalk.h>
#include <linux/sched/mm.h>
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

/* The folio mapping page @i, without a reference; NULL if none. */
static struct folio *xt_folio(struct xt *x, int i)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct folio_walk fw;
	struct folio *folio = NULL;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, x->base + i * PAGE_SIZE);
	if (vma) {
		folio = folio_walk_start(&fw, vma, x->base + i * PAGE_SIZE, 0);
		if (folio)
			folio_walk_end(&fw, vma);
	}
	mmap_read_unlock(mm);
	return folio;
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

static struct kunit_case xt_cases[] = {
	KUNIT_CASE(xt_test_swap),
	KUNIT_CASE(xt_test_busy),
	KUNIT_CASE(xt_test_type),
	KUNIT_CASE(xt_test_twice),
	{}
};

static struct kunit_suite xt_suite = {
	.name = "folio-exchange",
	.test_cases = xt_cases,
};

kunit_test_suite(xt_suite);

MODULE_DESCRIPTION("KUnit tests of exchange_folios()");
MODULE_LICENSE("GPL");

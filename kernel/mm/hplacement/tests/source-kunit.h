/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of HPlacement's source selection and sample rings.
 * Included at the end of source.c.
 */

#ifdef CONFIG_HPLACEMENT_KUNIT_TEST

#ifndef _HPLACEMENT_SOURCE_KUNIT_H
#define _HPLACEMENT_SOURCE_KUNIT_H

#include <kunit/test.h>

#define HPL_T_ALL	(HPL_SOURCE_BIT(HPL_SOURCE_ABIT) | \
			 HPL_SOURCE_BIT(HPL_SOURCE_PEBS) | \
			 HPL_SOURCE_BIT(HPL_SOURCE_IBS))

static void hpl_test_source_pick_auto(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_SOURCE_AUTO, HPL_T_ALL),
			HPL_SOURCE_PEBS);
	KUNIT_EXPECT_EQ(test,
			hpl_source_pick(HPL_SOURCE_AUTO,
					HPL_SOURCE_BIT(HPL_SOURCE_ABIT) |
					HPL_SOURCE_BIT(HPL_SOURCE_IBS)),
			HPL_SOURCE_IBS);
	KUNIT_EXPECT_EQ(test,
			hpl_source_pick(HPL_SOURCE_AUTO,
					HPL_SOURCE_BIT(HPL_SOURCE_ABIT)),
			HPL_SOURCE_ABIT);
	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_SOURCE_AUTO, 0), -ENODEV);
	/* A mask bit for auto itself changes nothing. */
	KUNIT_EXPECT_EQ(test,
			hpl_source_pick(HPL_SOURCE_AUTO,
					HPL_SOURCE_BIT(HPL_SOURCE_AUTO) |
					HPL_SOURCE_BIT(HPL_SOURCE_ABIT)),
			HPL_SOURCE_ABIT);
}

static void hpl_test_source_pick_explicit(struct kunit *test)
{
	unsigned int abit = HPL_SOURCE_BIT(HPL_SOURCE_ABIT);

	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_SOURCE_ABIT, abit),
			HPL_SOURCE_ABIT);
	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_SOURCE_PEBS, abit), -ENODEV);
	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_SOURCE_IBS, abit), -ENODEV);
	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_SOURCE_IBS, HPL_T_ALL),
			HPL_SOURCE_IBS);
	/* Never something else than what was asked for. */
	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_SOURCE_ABIT, HPL_T_ALL),
			HPL_SOURCE_ABIT);
	KUNIT_EXPECT_EQ(test, hpl_source_pick(HPL_NR_SOURCES, HPL_T_ALL),
			-EINVAL);
}

/* No machine lacks the accessed bits. */
static void hpl_test_source_available(struct kunit *test)
{
	unsigned int avail = hpl_sources_available(HPL_SOURCE_ABIT);

	KUNIT_EXPECT_TRUE(test, avail & HPL_SOURCE_BIT(HPL_SOURCE_ABIT));
	KUNIT_EXPECT_GE(test, hpl_source_pick(HPL_SOURCE_AUTO, avail), 0);
	/* A running PMU source is available without a probe. */
	KUNIT_EXPECT_TRUE(test, hpl_sources_available(HPL_SOURCE_IBS) &
			  HPL_SOURCE_BIT(HPL_SOURCE_IBS));
}

static struct hpl_raw_sample hpl_t_sample(unsigned long addr)
{
	return (struct hpl_raw_sample){
		.mm = (struct mm_struct *)0x1000, .addr = addr,
		.origin = HPL_ORIGIN_INJECT,
	};
}

static void hpl_test_ring_order(struct kunit *test)
{
	struct hpl_raw_sample slots[8], out[8], s;
	struct hpl_ring r;
	unsigned int i;

	hpl_ring_init(&r, slots, 8);
	KUNIT_EXPECT_EQ(test, hpl_ring_room(&r), 8U);
	KUNIT_EXPECT_EQ(test, hpl_ring_pop(&r, out, 8), 0U);
	for (i = 0; i < 5; i++) {
		s = hpl_t_sample(i * PAGE_SIZE);
		KUNIT_EXPECT_TRUE(test, hpl_ring_push(&r, &s));
	}
	KUNIT_EXPECT_EQ(test, hpl_ring_room(&r), 3U);
	/* Partial pops keep the order and the rest. */
	KUNIT_ASSERT_EQ(test, hpl_ring_pop(&r, out, 2), 2U);
	KUNIT_EXPECT_EQ(test, out[0].addr, 0UL);
	KUNIT_EXPECT_EQ(test, out[1].addr, PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, hpl_ring_pop(&r, out, 8), 3U);
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ(test, out[i].addr, (i + 2) * PAGE_SIZE);
		KUNIT_EXPECT_PTR_EQ(test, out[i].mm, (struct mm_struct *)0x1000);
		KUNIT_EXPECT_EQ(test, out[i].origin, (u8)HPL_ORIGIN_INJECT);
	}
	KUNIT_EXPECT_EQ(test, r.nr_lost, 0ULL);
}

static void hpl_test_ring_full(struct kunit *test)
{
	struct hpl_raw_sample slots[4], out[4], s;
	struct hpl_ring r;
	unsigned int i;

	hpl_ring_init(&r, slots, 4);
	for (i = 0; i < 6; i++) {
		s = hpl_t_sample(i);
		KUNIT_EXPECT_EQ(test, hpl_ring_push(&r, &s), i < 4);
	}
	KUNIT_EXPECT_EQ(test, r.nr_lost, 2ULL);
	KUNIT_EXPECT_EQ(test, hpl_ring_room(&r), 0U);
	/* The oldest samples are kept, the newest dropped. */
	KUNIT_ASSERT_EQ(test, hpl_ring_pop(&r, out, 4), 4U);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, out[i].addr, (unsigned long)i);
}

/* Indices wrap around u32 without losing or repeating a sample. */
static void hpl_test_ring_wrap(struct kunit *test)
{
	struct hpl_raw_sample slots[4], out[4], s;
	struct hpl_ring r;
	unsigned int i, j, n;
	unsigned long next = 0, want = 0;

	hpl_ring_init(&r, slots, 4);
	r.head = U32_MAX - 5;
	r.tail = U32_MAX - 5;
	for (i = 0; i < 10; i++) {
		for (j = 0; j < 3; j++) {
			s = hpl_t_sample(next++);
			KUNIT_ASSERT_TRUE(test, hpl_ring_push(&r, &s));
		}
		n = hpl_ring_pop(&r, out, 4);
		KUNIT_ASSERT_EQ(test, n, 3U);
		for (j = 0; j < n; j++)
			KUNIT_EXPECT_EQ(test, out[j].addr, want++);
	}
	KUNIT_EXPECT_LT(test, r.head, 32U);
	KUNIT_EXPECT_EQ(test, r.nr_lost, 0ULL);
}

static struct kunit_case hpl_source_test_cases[] = {
	KUNIT_CASE(hpl_test_source_pick_auto),
	KUNIT_CASE(hpl_test_source_pick_explicit),
	KUNIT_CASE(hpl_test_source_available),
	KUNIT_CASE(hpl_test_ring_order),
	KUNIT_CASE(hpl_test_ring_full),
	KUNIT_CASE(hpl_test_ring_wrap),
	{}
};

static struct kunit_suite hpl_source_test_suite = {
	.name = "hplacement-source",
	.test_cases = hpl_source_test_cases,
};

kunit_test_suite(hpl_source_test_suite);

#endif /* _HPLACEMENT_SOURCE_KUNIT_H */

#endif /* CONFIG_HPLACEMENT_KUNIT_TEST */

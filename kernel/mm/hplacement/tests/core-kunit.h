/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of khplacement's THP rounds and hints.  Included at the end
 * of core.c so that they can use its static functions.
 */

#ifdef CONFIG_HPLACEMENT_KUNIT_TEST

#ifndef _HPLACEMENT_CORE_KUNIT_H
#define _HPLACEMENT_CORE_KUNIT_H

#include <kunit/test.h>

static const struct hpl_rank_entry hpl_t_ranges[] = {
	/* Less than a whole PMD: no THP to test. */
	{ .start = 0x400000 + 0x1000, .end = 0x400000 + 0x3000 },
	/* Three whole PMDs between unaligned ends. */
	{ .start = 0x10000000 + 0x1000, .end = 0x10800000 + 0x1000 },
	/* 128 PMDs. */
	{ .start = 0x40000000, .end = 0x50000000 },
};

/* The last interval's hints, sorted, in whole PMDs of the ranges. */
static const unsigned long hpl_t_prev[] = {
	0x10200000, 0x40000000, 0x40200000, 0x47e00000, 0x4fe00000,
};

static void hpl_t_spans(struct kunit *test, unsigned long max,
			unsigned int nr_prev)
{
	unsigned int nr = ARRAY_SIZE(hpl_t_ranges), i, j, n;
	struct hpl_area spans[ARRAY_SIZE(hpl_t_ranges) +
			      2 * ARRAY_SIZE(hpl_t_prev)];
	unsigned long total = 0, first, h, want;

	n = hpl_round_spans(spans, hpl_t_ranges, nr, max, hpl_t_prev,
			    nr_prev);
	KUNIT_EXPECT_LE(test, n, 2U + 3 * nr_prev);
	/* The hints first, in order, as many as @max allows. */
	first = min_t(unsigned long, nr_prev, max);
	for (i = 0, h = 0; i < n && h < first; i++)
		for (want = spans[i].start; want < spans[i].end;
		     want += PMD_SIZE)
			KUNIT_EXPECT_EQ(test, want, hpl_t_prev[h++]);
	KUNIT_EXPECT_EQ(test, h, first);
	/* No THP twice. */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			KUNIT_EXPECT_TRUE_MSG(test,
					      spans[i].end <= spans[j].start ||
					      spans[j].end <= spans[i].start,
					      "spans %u and %u overlap", i, j);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_TRUE(test, IS_ALIGNED(spans[i].start, PMD_SIZE));
		KUNIT_EXPECT_TRUE(test, IS_ALIGNED(spans[i].end, PMD_SIZE));
		KUNIT_EXPECT_LT(test, spans[i].start, spans[i].end);
		for (j = 0; j < nr; j++)
			if (spans[i].start >= hpl_t_ranges[j].start &&
			    spans[i].end <= hpl_t_ranges[j].end)
				break;
		KUNIT_EXPECT_LT_MSG(test, j, nr, "span %u outside the ranges", i);
		total += (spans[i].end - spans[i].start) >> PMD_SHIFT;
	}
	/*
	 * As many as allowed, of the 131 there are; less by the hints in
	 * the part of a range that a random place left out.
	 */
	KUNIT_EXPECT_LE(test, total, min(max, 131UL));
	first = min_t(unsigned long, nr_prev, max);
	KUNIT_EXPECT_GE(test, total, min(max, 131UL) - first);
	if (!nr_prev)
		KUNIT_EXPECT_EQ(test, total, min(max, 131UL));
}

static void hpl_test_round_spans(struct kunit *test)
{
	struct hpl_area span;
	unsigned int p;
	int i;

	/* Random start range and place: a few draws of each size. */
	for (i = 0; i < 32; i++) {
		for (p = 0; p <= ARRAY_SIZE(hpl_t_prev); p += 2) {
			hpl_t_spans(test, 1000, p);
			hpl_t_spans(test, 131, p);
			hpl_t_spans(test, 16, p);
			hpl_t_spans(test, 2, p);
			hpl_t_spans(test, 1, p);
		}
	}
	KUNIT_EXPECT_EQ(test, hpl_round_spans(&span, hpl_t_ranges, 1, 512,
					      NULL, 0), 0U);
}

/* What the credit paid, which the controller leaves out of its judgement. */
static void hpl_test_saved(struct kunit *test)
{
	u64 ns[HPL_NR_STAGES] = { 4 * NSEC_PER_MSEC, 2 * NSEC_PER_MSEC,
				  20 * NSEC_PER_MSEC };
	struct hpl_budget_params bp;
	u64 s = NSEC_PER_SEC;

	hpl_budget_params_init(&bp);
	/* 1 s at 1 %: 10 ms, 6 of them sampling, 4 left: 16 ms saved */
	KUNIT_EXPECT_EQ(test, hpl_saved_ns(&bp, ns, s, 0, false),
			16 * NSEC_PER_MSEC);
	/* sampling beyond the budget is the scale's business */
	ns[HPL_STAGE_SAMPLE] = 12 * NSEC_PER_MSEC;
	KUNIT_EXPECT_EQ(test, hpl_saved_ns(&bp, ns, s, 100 * NSEC_PER_MSEC,
					   false), 20 * NSEC_PER_MSEC);
	/* early, 100 ms long: all beyond its 1 ms, up to the credit */
	KUNIT_EXPECT_EQ(test, hpl_saved_ns(&bp, ns, s / 10,
					   100 * NSEC_PER_MSEC, true),
			33 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, hpl_saved_ns(&bp, ns, s / 10,
					   30 * NSEC_PER_MSEC, true),
			30 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, hpl_saved_ns(&bp, ns, s / 10, -1, true), 0ULL);
	/* nothing beyond the budget */
	ns[HPL_STAGE_SAMPLE] = 0;
	ns[HPL_STAGE_CLASSIFY] = 0;
	ns[HPL_STAGE_MIGRATE] = NSEC_PER_MSEC;
	KUNIT_EXPECT_EQ(test, hpl_saved_ns(&bp, ns, s / 10, NSEC_PER_SEC,
					   true), 0ULL);
	KUNIT_EXPECT_EQ(test, hpl_saved_ns(&bp, ns, s, 0, false), 0ULL);
}

/* The hints to test first: sorted, once each, only in whole PMDs. */
static void hpl_test_round_prev(struct kunit *test)
{
	static const unsigned long hints[] = {
		0x4fe00000, 0x40200000, 0x400000, 0x10200000, 0x40200000,
		0x10800000, 0x50000000, 0x40000000, 0x47e00000, 0x60000000,
	};
	unsigned long prev[ARRAY_SIZE(hints)];
	struct hpl_mm *hm;
	unsigned int i, n;

	hm = kunit_kzalloc(test, sizeof(*hm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, hm);
	for (i = 0; i < ARRAY_SIZE(hints); i++)
		hm->hints[i].addr = hints[i];
	n = hpl_round_prev(hm, ARRAY_SIZE(hints), hpl_t_ranges,
			   ARRAY_SIZE(hpl_t_ranges), prev);
	KUNIT_ASSERT_EQ(test, n, (unsigned int)ARRAY_SIZE(hpl_t_prev));
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, prev[i], hpl_t_prev[i]);
	KUNIT_EXPECT_EQ(test, hpl_round_prev(hm, 0, hpl_t_ranges,
					     ARRAY_SIZE(hpl_t_ranges), prev),
			0U);
}

/* Hints of the interval before found again, whatever their order. */
static void hpl_test_hints_waiting(struct kunit *test)
{
	static const unsigned long before[] = {
		0x40200000, 0x600000, 0x10000000, 0x7fe00000,
	};
	static const unsigned long now[] = {
		0x10000000, 0x800000, 0x40200000, 0x40400000, 0x600000,
	};
	struct hpl_mm *hm;
	unsigned int i;

	hm = kunit_kzalloc(test, sizeof(*hm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, hm);
	KUNIT_EXPECT_EQ(test, hpl_hints_waiting(hm), 0U);
	for (i = 0; i < ARRAY_SIZE(before); i++)
		hm->hints[i].addr = before[i];
	hm->nr_hints = ARRAY_SIZE(before);
	hpl_hints_remember(hm);
	KUNIT_EXPECT_EQ(test, hpl_hints_waiting(hm), 4U);
	for (i = 0; i < ARRAY_SIZE(now); i++)
		hm->hints[i].addr = now[i];
	hm->nr_hints = ARRAY_SIZE(now);
	KUNIT_EXPECT_EQ(test, hpl_hints_waiting(hm), 3U);
	hpl_hints_remember(hm);
	hm->nr_hints = 0;
	KUNIT_EXPECT_EQ(test, hpl_hints_waiting(hm), 0U);
}

static void hpl_test_abit_defer(struct kunit *test)
{
	struct hpl_mm *hm;

	hm = kunit_kzalloc(test, sizeof(*hm), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, hm);
	/* A share young at the low mark: not deferred. */
	hpl_abit_defer(hm, 1000, HPL_ABIT_YOUNG_LOW * 10);
	KUNIT_EXPECT_FALSE(test, hm->deferred);
	/* Too few tested to judge, then (1 of 80) deferred. */
	hpl_abit_defer(hm, 40, 0);
	KUNIT_EXPECT_FALSE(test, hm->deferred);
	hpl_abit_defer(hm, 40, 1);
	KUNIT_EXPECT_TRUE(test, hm->deferred);
	KUNIT_EXPECT_EQ(test, hm->abit_tested, 0UL);
	/* Deferred, a hot part's share young keeps it so; most, back. */
	hpl_abit_defer(hm, 1000, HPL_ABIT_YOUNG_HIGH * 10 + 1);
	KUNIT_EXPECT_TRUE(test, hm->deferred);
	hpl_abit_defer(hm, 1000, HPL_ABIT_DEFERRED_HIGH * 10);
	KUNIT_EXPECT_TRUE(test, hm->deferred);
	hpl_abit_defer(hm, 1000, HPL_ABIT_DEFERRED_HIGH * 10 + 1);
	KUNIT_EXPECT_FALSE(test, hm->deferred);
	/* Between the marks: stays as it is. */
	hpl_abit_defer(hm, 1000, HPL_ABIT_YOUNG_LOW * 10);
	KUNIT_EXPECT_FALSE(test, hm->deferred);
}

static void hpl_t_sample(struct hpl_batch *ab, unsigned long addr, bool fmem)
{
	ab->samples[ab->nr].addr = addr;
	ab->samples[ab->nr].fmem = fmem;
	ab->nr++;
}

static bool hpl_t_hinted(struct hpl_mm *hm, unsigned long addr)
{
	unsigned int i;

	for (i = 0; i < hm->nr_hints; i++)
		if (hm->hints[i].addr == addr)
			return true;
	return false;
}

static void hpl_test_hints(struct kunit *test)
{
	struct hpl_mm *hm = kunit_kzalloc(test, sizeof(*hm), GFP_KERNEL);
	struct hpl_batch *ab = kunit_kzalloc(test, sizeof(*ab), GFP_KERNEL);
	unsigned long hot = 0x80000000UL;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, hm);
	KUNIT_ASSERT_NOT_NULL(test, ab);
	ab->space = &hm->space;

	/* One sample in each of HPL_NR_HINTS PMDs fills the table. */
	for (i = 0; i < HPL_NR_HINTS; i++) {
		hpl_t_sample(ab, i * PMD_SIZE + 0x1000, false);
		if (ab->nr == HPL_ABIT_BATCH) {
			hpl_batch_hints(ab);
			ab->nr = 0;
		}
	}
	hpl_batch_hints(ab);
	ab->nr = 0;
	KUNIT_EXPECT_EQ(test, hm->nr_hints, (unsigned int)HPL_NR_HINTS);
	KUNIT_EXPECT_EQ(test, hm->hints[0].addr, 0UL);
	KUNIT_EXPECT_EQ(test, hm->hints[0].nr, 1U);

	/* Samples on FMEM name no PMD to promote. */
	hpl_t_sample(ab, hot + 0x5000, true);
	hpl_batch_hints(ab);
	ab->nr = 0;
	KUNIT_EXPECT_FALSE(test, hpl_t_hinted(hm, hot));

	/*
	 * A PMD young in every round after the table filled up still gets
	 * in (space-saving), and trimming keeps it alone.
	 */
	for (i = 0; i < 4; i++)
		hpl_t_sample(ab, hot + i * PAGE_SIZE, false);
	hpl_batch_hints(ab);
	ab->nr = 0;
	KUNIT_EXPECT_EQ(test, hm->nr_hints, (unsigned int)HPL_NR_HINTS);
	KUNIT_EXPECT_TRUE(test, hpl_t_hinted(hm, hot));
	hpl_hints_trim(hm);
	KUNIT_EXPECT_EQ(test, hm->nr_hints, 1U);
	KUNIT_EXPECT_EQ(test, hm->hints[0].addr, hot);
	KUNIT_EXPECT_GE(test, hm->hints[0].nr, 4U);
	KUNIT_EXPECT_FALSE(test, hm->hints[0].page);

	/* A window's sample marks its PMD's hint as a 4 KiB page's. */
	ab->pages = true;
	hpl_t_sample(ab, hot + 0x3000, false);
	hpl_batch_hints(ab);
	ab->nr = 0;
	KUNIT_EXPECT_TRUE(test, hm->hints[0].page);
}

static void hpl_test_hints_trim(struct kunit *test)
{
	struct hpl_mm *hm = kunit_kzalloc(test, sizeof(*hm), GFP_KERNEL);
	static const unsigned int nr[] = { 1, 3, 4, 2, 1, 4 };
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, hm);
	for (i = 0; i < ARRAY_SIZE(nr); i++) {
		hm->hints[i].addr = (ARRAY_SIZE(nr) - i) * PMD_SIZE;
		hm->hints[i].nr = nr[i];
	}
	hm->nr_hints = ARRAY_SIZE(nr);
	hpl_hints_trim(hm);
	/* 4, 4 (lower address first), 3, 2: at least half of 4. */
	KUNIT_ASSERT_EQ(test, hm->nr_hints, 4U);
	KUNIT_EXPECT_EQ(test, hm->hints[0].nr, 4U);
	KUNIT_EXPECT_EQ(test, hm->hints[0].addr, 1 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hm->hints[1].addr, 4 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hm->hints[2].nr, 3U);
	KUNIT_EXPECT_EQ(test, hm->hints[3].nr, 2U);

	/* One hint, or none, stays as it is. */
	hm->nr_hints = 1;
	hpl_hints_trim(hm);
	KUNIT_EXPECT_EQ(test, hm->nr_hints, 1U);
	hm->nr_hints = 0;
	hpl_hints_trim(hm);
	KUNIT_EXPECT_EQ(test, hm->nr_hints, 0U);
}

static void hpl_test_hints_keep(struct kunit *test)
{
	struct hpl_mm *hm = kunit_kzalloc(test, sizeof(*hm), GFP_KERNEL);
	/* The last round's THPs, spans wrapped around: not sorted. */
	static const unsigned long young[] = {
		9 * PMD_SIZE, 2 * PMD_SIZE, 5 * PMD_SIZE,
	};
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, hm);
	for (i = 0; i < 8; i++) {
		hm->hints[i].addr = (i + 2) * PMD_SIZE;
		hm->hints[i].nr = 10 - i;
	}
	hm->nr_hints = 8;
	hpl_hints_keep(hm, young, ARRAY_SIZE(young));
	/* 2, 5 and 9 stay, in their order, with their samples. */
	KUNIT_ASSERT_EQ(test, hm->nr_hints, 3U);
	KUNIT_EXPECT_EQ(test, hm->hints[0].addr, 2 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hm->hints[0].nr, 10U);
	KUNIT_EXPECT_EQ(test, hm->hints[1].addr, 5 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hm->hints[1].nr, 7U);
	KUNIT_EXPECT_EQ(test, hm->hints[2].addr, 9 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hm->hints[2].nr, 3U);

	/* Nothing young in the last round: no hint... */
	hpl_hints_keep(hm, young, 0);
	KUNIT_EXPECT_EQ(test, hm->nr_hints, 0U);

	/* ...but those of 4 KiB pages (deferred windows) stay. */
	for (i = 0; i < 4; i++) {
		hm->hints[i].addr = (i + 2) * PMD_SIZE;
		hm->hints[i].nr = 1;
		hm->hints[i].page = i & 1;
	}
	hm->nr_hints = 4;
	hpl_hints_keep(hm, young, 0);
	KUNIT_ASSERT_EQ(test, hm->nr_hints, 2U);
	KUNIT_EXPECT_EQ(test, hm->hints[0].addr, 3 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hm->hints[1].addr, 5 * PMD_SIZE);
}

static void hpl_test_rounds_go_on(struct kunit *test)
{
	unsigned int r;

	/* The first HPL_ABIT_ROUNDS tests whatever they keep. */
	for (r = 1; r <= HPL_ABIT_ROUNDS; r++) {
		KUNIT_EXPECT_TRUE(test, hpl_rounds_go_on(r, 100, 100));
		KUNIT_EXPECT_TRUE(test, hpl_rounds_go_on(r, 100, 1));
	}
	r = HPL_ABIT_ROUNDS + 1;
	/* A round that dropped more than an eighth: cold ones still go. */
	KUNIT_EXPECT_TRUE(test, hpl_rounds_go_on(r, 40, 29));
	KUNIT_EXPECT_TRUE(test, hpl_rounds_go_on(r, 8, 6));
	/* An eighth or less: only hot ones are left. */
	KUNIT_EXPECT_FALSE(test, hpl_rounds_go_on(r, 40, 35));
	KUNIT_EXPECT_FALSE(test, hpl_rounds_go_on(r, 16, 16));
	KUNIT_EXPECT_FALSE(test, hpl_rounds_go_on(r, 8, 7));
	/* HPL_ABIT_ROUNDS_MAX tests at most. */
	KUNIT_EXPECT_TRUE(test, hpl_rounds_go_on(HPL_ABIT_ROUNDS_MAX, 40, 20));
	KUNIT_EXPECT_FALSE(test,
			   hpl_rounds_go_on(HPL_ABIT_ROUNDS_MAX + 1, 40, 20));
	KUNIT_EXPECT_FALSE(test, hpl_rounds_go_on(r, UINT_MAX, UINT_MAX));
	KUNIT_EXPECT_TRUE(test, hpl_rounds_go_on(r, UINT_MAX, UINT_MAX / 2));
}

/* A round again over @ab's list, the THPs of @young[] young. */
static void hpl_t_round(struct hpl_batch *ab, const bool *young)
{
	unsigned int i;

	hpl_round_start(ab);
	ab->run_end = ab->nr_last;
	for (i = 0; i < ab->nr_last; i++)
		hpl_round_keep(ab, ab->last[i] & PMD_MASK, young[i]);
	ab->run_end = 0;
}

static void hpl_test_round_misses(struct kunit *test)
{
	unsigned long a[8], b[8];
	struct hpl_batch ab = { .young = a, .last = b, .max_young = 8 };
	const bool r1[] = { true, false, true, false };
	const bool r2[] = { false, false, true, false };
	const bool r3[] = { false, true };
	const bool none[] = { false };

	a[0] = 4 * PMD_SIZE;
	a[1] = 5 * PMD_SIZE;
	a[2] = 9 * PMD_SIZE;
	a[3] = 12 * PMD_SIZE;
	ab.nr_young = 4;
	/* A first miss keeps a THP, marked. */
	hpl_t_round(&ab, r1);
	KUNIT_ASSERT_EQ(test, ab.nr_young, 4U);
	KUNIT_EXPECT_EQ(test, ab.young[0], 4 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, ab.young[1], 5 * PMD_SIZE | HPL_ROUND_MISSED);
	KUNIT_EXPECT_EQ(test, ab.young[2], 9 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, ab.young[3], 12 * PMD_SIZE | HPL_ROUND_MISSED);
	/* A second one in a row drops it. */
	hpl_t_round(&ab, r2);
	KUNIT_ASSERT_EQ(test, ab.nr_young, 2U);
	KUNIT_EXPECT_EQ(test, ab.young[0], 4 * PMD_SIZE | HPL_ROUND_MISSED);
	KUNIT_EXPECT_EQ(test, ab.young[1], 9 * PMD_SIZE);
	/* Young again after a miss: unmarked. */
	hpl_t_round(&ab, r3);
	KUNIT_ASSERT_EQ(test, ab.nr_young, 1U);
	KUNIT_EXPECT_EQ(test, ab.young[0], 9 * PMD_SIZE);
	/* A round undone (a stall) leaves the list as it was. */
	hpl_t_round(&ab, none);
	KUNIT_EXPECT_EQ(test, ab.nr_young, 1U);
	KUNIT_EXPECT_EQ(test, ab.young[0], 9 * PMD_SIZE | HPL_ROUND_MISSED);
	hpl_round_undo(&ab);
	KUNIT_ASSERT_EQ(test, ab.nr_young, 1U);
	KUNIT_EXPECT_EQ(test, ab.young[0], 9 * PMD_SIZE);
	/* Outside a round again nothing is listed but the young. */
	hpl_round_keep(&ab, 20 * PMD_SIZE, false);
	hpl_round_keep(&ab, 21 * PMD_SIZE, true);
	KUNIT_ASSERT_EQ(test, ab.nr_young, 2U);
	KUNIT_EXPECT_EQ(test, ab.young[1], 21 * PMD_SIZE);
	/* A THP not in the run (a hole in the walk) is not found. */
	hpl_round_start(&ab);
	ab.run_end = ab.nr_last;
	KUNIT_EXPECT_EQ(test, hpl_round_last(&ab, 10 * PMD_SIZE), 0UL);
	KUNIT_EXPECT_EQ(test, hpl_round_last(&ab, 21 * PMD_SIZE), 21 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hpl_round_last(&ab, 22 * PMD_SIZE), 0UL);
}

static void hpl_test_growth_goes_on(struct kunit *test)
{
	/*
	 * 256 MiB growing: 16 MiB (4096 pages) an interval of 250 jiffies
	 * makes it growing, 1/8 of that rate goes on.  First touch at 32 MiB
	 * a second, looked at every 1/8 s:
	 */
	KUNIT_EXPECT_TRUE(test, hpl_growth_goes_on(65536, 1024, 31, 250));
	/* 512 pages in 250 jiffies is 1/8 of the rate: on, one less: not. */
	KUNIT_EXPECT_TRUE(test, hpl_growth_goes_on(65536, 512, 250, 250));
	KUNIT_EXPECT_FALSE(test, hpl_growth_goes_on(65536, 511, 250, 250));
	/* Settled: nothing more. */
	KUNIT_EXPECT_FALSE(test, hpl_growth_goes_on(65536, 0, 31, 250));
	/* A look in the same jiffy tells nothing. */
	KUNIT_EXPECT_TRUE(test, hpl_growth_goes_on(65536, 0, 0, 250));
	/* A late look: the rate counts, not the pages. */
	KUNIT_EXPECT_FALSE(test, hpl_growth_goes_on(65536, 1024, 2500, 250));
	/* A longer interval makes a slower growth growing. */
	KUNIT_EXPECT_TRUE(test, hpl_growth_goes_on(65536, 64, 31, 4000));
}

static unsigned int hpl_t_hurry(u32 ppm, u64 sample_ns, u64 classify_ns,
				s64 credit, unsigned int interval_ms)
{
	struct hpl_budget_params bp;
	u64 stage_ns[HPL_NR_STAGES] = {};

	hpl_budget_params_init(&bp);
	bp.budget_ppm = ppm;
	stage_ns[HPL_STAGE_SAMPLE] = sample_ns;
	stage_ns[HPL_STAGE_CLASSIFY] = classify_ns;
	stage_ns[HPL_STAGE_MIGRATE] = 50 * NSEC_PER_MSEC;	/* not counted */
	return hpl_early_ms(&bp, stage_ns, credit,
			    hpl_hurry_min_ms(interval_ms), interval_ms);
}

static void hpl_test_hurry(struct kunit *test)
{
	/* 1 %: 3 ms of sampling, twice over, takes 600 ms of budget. */
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 2500000, 500000, 0, 1000),
			600U);
	/* A debt is not added. */
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 2500000, 500000, -NSEC_PER_SEC,
					  1000), 600U);
	/* What was saved pays first: 12 ms of 20 leave 800 ms. */
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 8000000, 2000000,
					  12 * NSEC_PER_MSEC, 1000), 800U);
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 2500000, 500000,
					  7 * NSEC_PER_MSEC, 1000), 250U);
	/* A quarter interval at least. */
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(200000, 2500000, 500000, 0, 1000),
			250U);
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 0, 0, 0, 1000), 250U);
	/* And HPL_INTERVAL_MS_MIN. */
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(HPL_PPM, 1000, 0, 0, 20), 10U);
	/* A whole interval or more: no hurry. */
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 5000000, 0, 0, 1000), 0U);
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 4000000, 1000000, 0, 1000),
			0U);
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 4000000, 1000000,
					  NSEC_PER_MSEC, 1000), 900U);
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(1, U64_MAX, U64_MAX, S64_MAX, 60000),
			15000U);
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(1, U64_MAX, U64_MAX, 0, 60000), 0U);
	KUNIT_EXPECT_EQ(test, hpl_t_hurry(10000, 2500000, 0, 0, 60000), 15000U);
}

/* The allowance of a migration stage after a 1 s interval at 1 %. */
static void hpl_t_allow(s64 credit, struct hpl_allowance *allow)
{
	u64 stage_ns[HPL_NR_STAGES] = { 2 * NSEC_PER_MSEC, NSEC_PER_MSEC };
	struct hpl_budget_params bp;

	hpl_budget_params_init(&bp);
	hpl_credit_ns = credit;
	hpl_migrate_allow(&bp, stage_ns, NSEC_PER_SEC, allow);
}

/* Half of the most credit (100 ms at 1 % over 10 s) is kept for the core. */
static void hpl_test_allow(struct kunit *test)
{
	unsigned int window_ms = hpl_config.window_ms;
	s64 credit = hpl_credit_ns;
	u64 page_ns = hpl_page_ns;
	struct hpl_budget_params bp;
	struct hpl_allowance a;

	hpl_config.window_ms = 10000;
	hpl_page_ns = 10 * NSEC_PER_USEC;
	hpl_budget_params_init(&bp);
	KUNIT_EXPECT_EQ(test, hpl_credit_kept(&bp), 50 * NSEC_PER_MSEC);

	/* 10 ms of budget, 3 of them sampling: all for the core */
	hpl_t_allow(0, &a);
	KUNIT_EXPECT_EQ(test, hpl_credit_ns, 7 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, a.cap, 700UL);
	KUNIT_EXPECT_EQ(test, a.warm_cap, 0UL);
	KUNIT_EXPECT_EQ(test, a.warm_stop_ns, 0ULL);

	/* 80 ms: 30 above the kept 50 for the warm ranges */
	hpl_t_allow(73 * NSEC_PER_MSEC, &a);
	KUNIT_EXPECT_EQ(test, a.cap, 8000UL);
	KUNIT_EXPECT_EQ(test, a.warm_cap, 3000UL);
	KUNIT_EXPECT_EQ(test, a.stop_ns - a.warm_stop_ns, 50 * NSEC_PER_MSEC);

	/* the credit stops at the most: 100 ms */
	hpl_t_allow(NSEC_PER_SEC, &a);
	KUNIT_EXPECT_EQ(test, hpl_credit_ns, 100 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, a.cap, 10000UL);
	KUNIT_EXPECT_EQ(test, a.warm_cap, 5000UL);

	/* a little above the kept part: a batch and 1 ms at least */
	hpl_t_allow(43 * NSEC_PER_MSEC + 100 * NSEC_PER_USEC, &a);
	KUNIT_EXPECT_EQ(test, a.warm_cap, (unsigned long)HPL_MIGRATE_BATCH_MIN);
	KUNIT_EXPECT_EQ(test, a.stop_ns - a.warm_stop_ns,
			49 * NSEC_PER_MSEC + 100 * NSEC_PER_USEC);

	/* in debt: nothing but the first batch, by HPL_MIGRATE_MIN_NS */
	hpl_t_allow(-20 * NSEC_PER_MSEC, &a);
	KUNIT_EXPECT_EQ(test, a.cap, 0UL);
	KUNIT_EXPECT_EQ(test, a.warm_stop_ns, 0ULL);
	KUNIT_EXPECT_GT(test, a.stop_ns, 0ULL);

	hpl_config.window_ms = window_ms;
	hpl_credit_ns = credit;
	hpl_page_ns = page_ns;
}

static struct kunit_case hpl_core_test_cases[] = {
	KUNIT_CASE(hpl_test_round_spans),
	KUNIT_CASE(hpl_test_round_prev),
	KUNIT_CASE(hpl_test_hints_waiting),
	KUNIT_CASE(hpl_test_abit_defer),
	KUNIT_CASE(hpl_test_saved),
	KUNIT_CASE(hpl_test_hints),
	KUNIT_CASE(hpl_test_hints_trim),
	KUNIT_CASE(hpl_test_hints_keep),
	KUNIT_CASE(hpl_test_rounds_go_on),
	KUNIT_CASE(hpl_test_round_misses),
	KUNIT_CASE(hpl_test_growth_goes_on),
	KUNIT_CASE(hpl_test_hurry),
	KUNIT_CASE(hpl_test_allow),
	{}
};

static struct kunit_suite hpl_core_test_suite = {
	.name = "hplacement-core",
	.test_cases = hpl_core_test_cases,
};

kunit_test_suite(hpl_core_test_suite);

#endif /* _HPLACEMENT_CORE_KUNIT_H */

#endif /* CONFIG_HPLACEMENT_KUNIT_TEST */

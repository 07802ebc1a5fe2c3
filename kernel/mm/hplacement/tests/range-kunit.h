/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of HPlacement's range classification.  Included at the end
 * of range.c so that they can use its static functions.
 */

#ifdef CONFIG_HPLACEMENT_KUNIT_TEST

#ifndef _HPLACEMENT_RANGE_KUNIT_H
#define _HPLACEMENT_RANGE_KUNIT_H

#include <kunit/test.h>

/* Addresses in units of PMDs from a PMD-aligned base. */
#define HPL_T_BASE	(64 * PMD_SIZE)
#define HPL_T(n)	(HPL_T_BASE + (n) * PMD_SIZE)

static void hpl_t_space_free(void *space)
{
	hpl_space_destroy(space);
}

static struct hpl_space *hpl_t_space(struct kunit *test, u64 id)
{
	struct hpl_space *space = kunit_kzalloc(test, sizeof(*space),
						GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, space);
	hpl_space_init(space, id);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, hpl_t_space_free,
						  space));
	return space;
}

/* Test parameters: PMD granularity, no decay surprises. */
static void hpl_t_params(struct hpl_params *p)
{
	hpl_params_init(p);
	p->min_range_size = PMD_SIZE;
	p->max_range_size = 4 * PMD_SIZE;
	p->max_nr_ranges = 64;
	p->decay = HPL_DECAY_ONE / 2;
	p->split_ratio = 200;
	p->split_min_samples = 4;
	p->merge_ratio = 125;
}

/* Put a range straight into the tree. */
static struct hpl_range *hpl_t_add(struct kunit *test, struct hpl_space *space,
				   const struct hpl_params *p,
				   unsigned long start, unsigned long end,
				   u64 score, unsigned int age)
{
	struct hpl_range *r = hpl_range_alloc(start, end, p->min_range_size);
	int err;

	KUNIT_ASSERT_NOT_NULL(test, r);
	r->score = score;
	r->age = age;
	mutex_lock(&space->lock);
	err = hpl_tree_store(space, start, end, r);
	if (!err)
		space->nr_ranges++;
	mutex_unlock(&space->lock);
	if (err)
		kfree(r);
	KUNIT_ASSERT_EQ(test, err, 0);
	return r;
}

/* The range that holds @addr, or NULL. */
static struct hpl_range *hpl_t_range(struct hpl_space *space,
				     unsigned long addr)
{
	MA_STATE(mas, &space->tree, addr, addr);
	struct hpl_range *r;

	mutex_lock(&space->lock);
	r = mas_walk(&mas);
	mutex_unlock(&space->lock);
	return r;
}

/* The ranges of @space are exactly @want, in order. */
static void hpl_t_expect_ranges(struct kunit *test, struct hpl_space *space,
				const struct hpl_area *want, unsigned int nr)
{
	struct hpl_range *r;
	unsigned int i = 0;

	mutex_lock(&space->lock);
	for (r = hpl_range_from(space, 0); r;
	     r = hpl_range_from(space, r->end), i++) {
		if (i >= nr)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, r->start, want[i].start, "range %u", i);
		KUNIT_EXPECT_EQ_MSG(test, r->end, want[i].end, "range %u", i);
		KUNIT_EXPECT_FALSE_MSG(test, r->flags, "range %u", i);
	}
	mutex_unlock(&space->lock);
	KUNIT_EXPECT_EQ(test, i, nr);
	KUNIT_EXPECT_EQ(test, space->nr_ranges, nr);
}

/*
 * The ranges of @space tile the union of @areas exactly: no range outside
 * an area, no mapped byte without a range.
 */
static void hpl_t_expect_cover(struct kunit *test, struct hpl_space *space,
			       const struct hpl_area *areas, unsigned int nr)
{
	unsigned long start, end, pos;
	unsigned int i, n = 0;
	struct hpl_range *r;
	bool ok = true;

	mutex_lock(&space->lock);
	r = hpl_range_from(space, 0);
	for (i = 0; i < nr && ok; ) {
		start = areas[i].start;
		end = areas[i].end;
		while (++i < nr && areas[i].start == end)
			end = areas[i].end;
		for (pos = start; pos < end && ok; r = hpl_range_from(space, pos)) {
			ok = r && r->start == pos && r->end <= end &&
			     !r->flags;
			KUNIT_EXPECT_TRUE_MSG(test, ok,
					      "no range tiles %lx..%lx at %lx",
					      start, end, pos);
			if (ok)
				pos = r->end;
			n++;
		}
	}
	if (ok)
		KUNIT_EXPECT_NULL(test, r);
	mutex_unlock(&space->lock);
	if (ok)
		KUNIT_EXPECT_EQ(test, space->nr_ranges, n);
}

static void hpl_test_params(struct kunit *test)
{
	struct hpl_params p;

	hpl_params_init(&p);
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), 0);
	p.decay = 0;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), 0);

	hpl_params_init(&p);
	p.min_range_size = 3 * PAGE_SIZE;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
	hpl_params_init(&p);
	p.min_range_size = PAGE_SIZE / 2;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
	hpl_params_init(&p);
	p.max_range_size = p.min_range_size / 2;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
	hpl_params_init(&p);
	p.max_range_size = 2 * HPL_RANGE_SIZE_LIMIT;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
	hpl_params_init(&p);
	p.max_nr_ranges = 0;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
	hpl_params_init(&p);
	p.decay = HPL_DECAY_ONE;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
	hpl_params_init(&p);
	p.merge_ratio = 99;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
	hpl_params_init(&p);
	p.split_ratio = p.merge_ratio;
	KUNIT_EXPECT_EQ(test, hpl_params_check(&p), -EINVAL);
}

/* Fixed-point helpers: density, moving average, exact 96-bit compare. */
static void hpl_test_decay_math(struct kunit *test)
{
	u64 one = div64_u64(1ULL << HPL_SCORE_SHIFT, PAGE_SIZE);
	u64 s = 0;
	int i;

	/* one sample per page */
	KUNIT_EXPECT_EQ(test, hpl_density(1, PAGE_SIZE), one);
	KUNIT_EXPECT_EQ(test, hpl_density(3, 3 * PAGE_SIZE), one);
	KUNIT_EXPECT_EQ(test, hpl_density(1, 4 * PAGE_SIZE), one / 4);
	KUNIT_EXPECT_EQ(test, hpl_density(0, PAGE_SIZE), 0ULL);
	KUNIT_EXPECT_EQ(test, hpl_density(5, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, hpl_density(U32_MAX + 10ULL, PAGE_SIZE),
			(u64)U32_MAX * one);
	if (PAGE_SIZE == SZ_4K)
		KUNIT_EXPECT_EQ(test, one, 4294967296ULL);

	KUNIT_EXPECT_EQ(test, hpl_ema(1000, 0, 512), 500ULL);
	KUNIT_EXPECT_EQ(test, hpl_ema(0, 1000, 512), 500ULL);
	KUNIT_EXPECT_EQ(test, hpl_ema(1000, 3000, 768), 1500ULL);
	KUNIT_EXPECT_EQ(test, hpl_ema(1000, 3000, 0), 3000ULL);
	KUNIT_EXPECT_EQ(test, hpl_ema(3, 0, 512), 1ULL);
	KUNIT_EXPECT_EQ(test, hpl_ema(U64_MAX, U64_MAX, 512), U64_MAX - 1);
	KUNIT_EXPECT_EQ(test, hpl_ema(U64_MAX, U64_MAX, 1023), U64_MAX - 1);

	/* a steady density is approached by halves */
	for (i = 0; i < 10; i++)
		s = hpl_ema(s, 1 << 20, 512);
	KUNIT_EXPECT_EQ(test, s, 1047552ULL);
	/* and forgotten by halves */
	for (i = 0; i < 3; i++)
		s = hpl_ema(s, 0, 512);
	KUNIT_EXPECT_EQ(test, s, 130944ULL);

	KUNIT_EXPECT_EQ(test, hpl_cmp_mul(1ULL << 63, 4, 1ULL << 62, 8), 0);
	KUNIT_EXPECT_EQ(test, hpl_cmp_mul(U64_MAX, 2, U64_MAX, 3), -1);
	KUNIT_EXPECT_EQ(test, hpl_cmp_mul(U64_MAX, U32_MAX, U64_MAX - 1,
					  U32_MAX), 1);
	KUNIT_EXPECT_EQ(test, hpl_cmp_mul(5, 100, 2, 250), 0);
	KUNIT_EXPECT_EQ(test, hpl_cmp_mul(5, 100, 2, 249), 1);
	KUNIT_EXPECT_EQ(test, hpl_cmp_mul(0, 100, 0, 200), 0);
}

/* The score of a range over intervals, through hpl_space_end_interval(). */
static void hpl_test_decay_interval(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area area = { HPL_T(0), HPL_T(0) + 4 * PAGE_SIZE };
	u64 one = hpl_density(1, PAGE_SIZE);
	struct hpl_interval_stats st;
	struct hpl_params p;
	struct hpl_range *r;
	int i;

	hpl_t_params(&p);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &area, 1), 0);
	r = hpl_t_range(space, area.start);
	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_EXPECT_EQ(test, r->score, 0ULL);
	KUNIT_EXPECT_EQ(test, r->age, 0U);

	/* 4 samples in 4 pages: one per page, half of it after one interval */
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_TRUE(test,
				  hpl_space_record(space, area.start +
						   i * PAGE_SIZE, i & 1));
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, &st), 0);
	KUNIT_EXPECT_EQ(test, r->score, one / 2);
	KUNIT_EXPECT_EQ(test, r->age, 1U);
	KUNIT_EXPECT_EQ(test, r->last_fmem, 2U);
	KUNIT_EXPECT_EQ(test, r->last_smem, 2U);
	KUNIT_EXPECT_EQ(test, r->nr_lo + r->nr_hi + r->nr_fmem + r->nr_smem, 0U);
	KUNIT_EXPECT_EQ(test, st.nr_ranges, 1U);

	/* an idle interval halves it */
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, NULL), 0);
	KUNIT_EXPECT_EQ(test, r->score, one / 4);
	KUNIT_EXPECT_EQ(test, r->last_fmem, 0U);

	/* 8 samples: half the old score plus half of two per page */
	for (i = 0; i < 8; i++)
		hpl_space_record(space, area.start, true);
	hpl_space_end_interval(space, &p, NULL);
	KUNIT_EXPECT_EQ(test, r->score, one / 8 + one);
	KUNIT_EXPECT_EQ(test, r->age, 3U);

	/* without decay only the last interval counts */
	p.decay = 0;
	hpl_space_record(space, area.start, true);
	hpl_space_end_interval(space, &p, NULL);
	KUNIT_EXPECT_EQ(test, r->score, one / 4);
	hpl_space_end_interval(space, &p, NULL);
	KUNIT_EXPECT_EQ(test, r->score, 0ULL);
}

static void hpl_test_record(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area areas[] = {
		{ HPL_T(0), HPL_T(2) },
		{ HPL_T(4), HPL_T(6) },
	};
	struct hpl_sample batch[] = {
		{ HPL_T(0) + 8, true },
		{ HPL_T(3), true },
		{ HPL_T(5), false },
		{ HPL_T(6), false },
	};
	struct hpl_params p;
	struct hpl_range *r;

	hpl_t_params(&p);
	p.max_range_size = 2 * PMD_SIZE;
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(0), true));
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, areas, 2), 0);
	hpl_t_expect_ranges(test, space, areas, 2);
	r = hpl_t_range(space, HPL_T(0));
	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_EXPECT_EQ(test, r->mid, HPL_T(1));

	KUNIT_EXPECT_TRUE(test, hpl_space_record(space, HPL_T(0), true));
	KUNIT_EXPECT_TRUE(test, hpl_space_record(space, HPL_T(1) - 1, false));
	KUNIT_EXPECT_TRUE(test, hpl_space_record(space, HPL_T(1), true));
	KUNIT_EXPECT_TRUE(test, hpl_space_record(space, HPL_T(2) - 1, true));
	KUNIT_EXPECT_EQ(test, r->nr_lo, 2U);
	KUNIT_EXPECT_EQ(test, r->nr_hi, 2U);
	KUNIT_EXPECT_EQ(test, r->nr_fmem, 3U);
	KUNIT_EXPECT_EQ(test, r->nr_smem, 1U);

	/* the end is exclusive; holes and the outside drop */
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(2), true));
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(0) - 1, true));
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(6), true));
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, 0, true));
	KUNIT_EXPECT_TRUE(test, hpl_space_record(space, HPL_T(4) + 5, false));
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(4))->nr_smem, 1U);
	KUNIT_EXPECT_EQ(test, space->nr_samples, 5ULL);
	KUNIT_EXPECT_EQ(test, space->nr_dropped, 5ULL);

	KUNIT_EXPECT_EQ(test, hpl_space_record_batch(space, batch, 4), 2U);
	KUNIT_EXPECT_EQ(test, r->nr_lo, 3U);
	KUNIT_EXPECT_EQ(test, space->nr_samples, 7ULL);
	KUNIT_EXPECT_EQ(test, space->nr_dropped, 7ULL);
}

static void hpl_test_split_point(struct kunit *test)
{
	unsigned long b = HPL_T(0);

	KUNIT_EXPECT_EQ(test, hpl_split_point(b, b + 4 * PMD_SIZE, PMD_SIZE),
			b + 2 * PMD_SIZE);
	/* nearest PMD boundary to the middle */
	KUNIT_EXPECT_EQ(test, hpl_split_point(b - PAGE_SIZE, b + 2 * PMD_SIZE,
					      PMD_SIZE), b + PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hpl_split_point(b, b + 3 * PMD_SIZE, PMD_SIZE),
			b + 2 * PMD_SIZE);
	/* exactly two minimum ranges; less is not split */
	KUNIT_EXPECT_EQ(test, hpl_split_point(b, b + 2 * PMD_SIZE, PMD_SIZE),
			b + PMD_SIZE);
	KUNIT_EXPECT_EQ(test, hpl_split_point(b, b + 2 * PMD_SIZE - PAGE_SIZE,
					      PMD_SIZE), 0UL);
	KUNIT_EXPECT_EQ(test, hpl_split_point(b - PAGE_SIZE, b + 2 * PMD_SIZE,
					      2 * PMD_SIZE), 0UL);
	/* under two PMDs: the page boundary at or below the middle */
	KUNIT_EXPECT_EQ(test, hpl_split_point(b, b + 3 * PAGE_SIZE, PAGE_SIZE),
			b + PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, hpl_split_point(b, b + 2 * PAGE_SIZE, PAGE_SIZE),
			b + PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, hpl_split_point(b, b + PAGE_SIZE, PAGE_SIZE), 0UL);
	/* the PMD boundary would leave a piece under the minimum */
	KUNIT_EXPECT_EQ(test, hpl_split_point(b - PMD_SIZE / 2,
					      b + 3 * PMD_SIZE / 2, PMD_SIZE),
			b + PMD_SIZE / 2);
	KUNIT_EXPECT_EQ(test, hpl_split_point(b - PMD_SIZE / 2,
					      b + 3 * PMD_SIZE / 2,
					      PMD_SIZE / 2), b + PMD_SIZE);
}

/* New areas get aligned ranges; bad area lists change nothing. */
static void hpl_test_sync_create(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area areas[] = {
		{ HPL_T(1) + 3 * PAGE_SIZE, HPL_T(10) + 5 * PAGE_SIZE },
		{ HPL_T(16), HPL_T(18) },
		{ HPL_T(18), HPL_T(22) },
	};
	struct hpl_area want[] = {
		{ HPL_T(1) + 3 * PAGE_SIZE, HPL_T(4) },
		{ HPL_T(4), HPL_T(8) },
		{ HPL_T(8), HPL_T(10) + 5 * PAGE_SIZE },
		{ HPL_T(16), HPL_T(20) },
		{ HPL_T(20), HPL_T(22) },
	};
	struct hpl_area bad[2];
	struct hpl_params p;

	hpl_t_params(&p);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, areas, 3), 0);
	hpl_t_expect_ranges(test, space, want, 5);
	hpl_t_range(space, HPL_T(4))->score = 42;

	/* the same areas again change nothing */
	KUNIT_EXPECT_EQ(test, hpl_space_sync(space, &p, areas, 3), 0);
	hpl_t_expect_ranges(test, space, want, 5);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(4))->score, 42ULL);

	bad[0] = areas[1];
	bad[1] = areas[0];
	KUNIT_EXPECT_EQ(test, hpl_space_sync(space, &p, bad, 2), -EINVAL);
	bad[0] = (struct hpl_area){ HPL_T(0), HPL_T(2) };
	bad[1] = (struct hpl_area){ HPL_T(1), HPL_T(3) };
	KUNIT_EXPECT_EQ(test, hpl_space_sync(space, &p, bad, 2), -EINVAL);
	bad[1] = (struct hpl_area){ HPL_T(3), HPL_T(4) + 1 };
	KUNIT_EXPECT_EQ(test, hpl_space_sync(space, &p, bad, 2), -EINVAL);
	bad[1] = (struct hpl_area){ HPL_T(3), HPL_T(3) };
	KUNIT_EXPECT_EQ(test, hpl_space_sync(space, &p, bad, 2), -EINVAL);
	hpl_t_expect_ranges(test, space, want, 5);
}

/* munmap in the middle: both sides keep score and age, counts restart. */
static void hpl_test_sync_hole(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area whole = { HPL_T(0), HPL_T(16) };
	struct hpl_area holed[] = {
		{ HPL_T(0), HPL_T(4) },
		{ HPL_T(8), HPL_T(16) },
	};
	struct hpl_area twice[] = {
		{ HPL_T(0), HPL_T(1) },
		{ HPL_T(2), HPL_T(4) },
		{ HPL_T(8), HPL_T(16) },
	};
	struct hpl_params p;
	struct hpl_range *r;

	hpl_t_params(&p);
	p.max_range_size = 16 * PMD_SIZE;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &whole, 1), 0);
	hpl_t_expect_ranges(test, space, &whole, 1);
	r = hpl_t_range(space, HPL_T(0));
	r->score = 1000;
	r->age = 3;
	KUNIT_EXPECT_TRUE(test, hpl_space_record(space, HPL_T(1), true));
	KUNIT_EXPECT_TRUE(test, hpl_space_record(space, HPL_T(12), true));

	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, holed, 2), 0);
	hpl_t_expect_ranges(test, space, holed, 2);
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(4), true));
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(8) - 1, true));
	r = hpl_t_range(space, HPL_T(0));
	KUNIT_EXPECT_EQ(test, r->score, 1000ULL);
	KUNIT_EXPECT_EQ(test, r->age, 3U);
	KUNIT_EXPECT_EQ(test, r->nr_lo + r->nr_hi + r->nr_fmem, 0U);
	KUNIT_EXPECT_EQ(test, r->mid, HPL_T(2));
	r = hpl_t_range(space, HPL_T(8));
	KUNIT_EXPECT_EQ(test, r->score, 1000ULL);
	KUNIT_EXPECT_EQ(test, r->age, 3U);
	KUNIT_EXPECT_EQ(test, r->nr_lo + r->nr_hi + r->nr_fmem, 0U);

	/* another hole inside the first piece */
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, twice, 3), 0);
	hpl_t_expect_ranges(test, space, twice, 3);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(2))->score, 1000ULL);
}

/* A VMA that grows keeps its range and gets new ones for the new part. */
static void hpl_test_sync_grow(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area small = { HPL_T(0), HPL_T(2) };
	struct hpl_area grown = { HPL_T(0), HPL_T(10) };
	struct hpl_area down = { HPL_T(-2), HPL_T(10) };
	struct hpl_area want[] = {
		{ HPL_T(-2), HPL_T(0) },
		{ HPL_T(0), HPL_T(2) },
		{ HPL_T(2), HPL_T(4) },
		{ HPL_T(4), HPL_T(8) },
		{ HPL_T(8), HPL_T(10) },
	};
	struct hpl_params p;

	hpl_t_params(&p);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &small, 1), 0);
	hpl_t_range(space, HPL_T(0))->score = 77;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &grown, 1), 0);
	hpl_t_expect_ranges(test, space, want + 1, 4);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->score, 77ULL);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(2))->score, 0ULL);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(8))->score, 0ULL);

	/* and downwards, like a stack */
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &down, 1), 0);
	hpl_t_expect_ranges(test, space, want, 5);
}

/* Shrinking, removed and remapped areas; everything unmapped. */
static void hpl_test_sync_remove(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area areas[] = {
		{ HPL_T(0), HPL_T(4) },
		{ HPL_T(8), HPL_T(12) },
	};
	struct hpl_area shrunk = { HPL_T(1), HPL_T(3) };
	struct hpl_area moved = { HPL_T(32), HPL_T(34) };
	struct hpl_params p;

	hpl_t_params(&p);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, areas, 2), 0);
	hpl_t_expect_ranges(test, space, areas, 2);
	hpl_t_range(space, HPL_T(0))->score = 5;

	/* the first shrinks at both ends, the second goes */
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &shrunk, 1), 0);
	hpl_t_expect_ranges(test, space, &shrunk, 1);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(1))->score, 5ULL);
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(0), true));
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(3), true));
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(8), true));

	/* mremap: the old place loses its range, the new one starts cold */
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &moved, 1), 0);
	hpl_t_expect_ranges(test, space, &moved, 1);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(32))->score, 0ULL);

	/* exit: nothing mapped */
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, NULL, 0), 0);
	hpl_t_expect_ranges(test, space, NULL, 0);
	KUNIT_EXPECT_FALSE(test, hpl_space_record(space, HPL_T(32), true));
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, NULL), 0);
	KUNIT_EXPECT_EQ(test, space->nr_ranges, 0U);
}

static u32 hpl_t_rand(u32 *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return *seed >> 8;
}

/*
 * Random mappings, samples and intervals: the ranges always tile the
 * mapped areas exactly and a sample is dropped iff it is not mapped.
 */
static void hpl_test_sync_random(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	const unsigned long unit = 16 * PAGE_SIZE;
	struct hpl_area areas[8];
	unsigned int round, nr, i, k;
	unsigned long pos, addr;
	struct hpl_params p;
	bool mapped;
	u32 seed = 1;

	hpl_t_params(&p);
	p.min_range_size = PAGE_SIZE;
	p.split_min_samples = 2;
	for (round = 0; round < 60; round++) {
		nr = hpl_t_rand(&seed) % ARRAY_SIZE(areas);
		pos = HPL_T(0);
		for (i = 0; i < nr; i++) {
			areas[i].start = pos + (hpl_t_rand(&seed) % 4) * unit;
			areas[i].end = areas[i].start +
				       (1 + hpl_t_rand(&seed) % 300) * unit;
			pos = areas[i].end;
		}
		KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, areas, nr), 0);
		hpl_t_expect_cover(test, space, areas, nr);

		for (k = 0; k < 200; k++) {
			addr = (unsigned long)hpl_t_rand(&seed) << 12 ^
			       hpl_t_rand(&seed);
			addr = HPL_T(0) + addr % (pos - HPL_T(0) + unit);
			/* skewed: most samples in the first eighth */
			if (k & 1)
				addr = HPL_T(0) + (addr - HPL_T(0)) / 8;
			mapped = false;
			for (i = 0; i < nr; i++)
				if (addr >= areas[i].start && addr < areas[i].end)
					mapped = true;
			KUNIT_EXPECT_EQ_MSG(test, hpl_space_record(space, addr,
								   k & 2),
					    mapped, "round %u addr %lx",
					    round, addr);
		}
		KUNIT_ASSERT_EQ(test, hpl_space_end_interval(space, &p, NULL),
				0);
		hpl_t_expect_cover(test, space, areas, nr);
	}
}

/* A split needs enough samples; the halves fold in their own densities. */
static void hpl_test_split_samples(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area area = { HPL_T(0), HPL_T(4) };
	struct hpl_area halves[] = {
		{ HPL_T(0), HPL_T(2) },
		{ HPL_T(2), HPL_T(4) },
	};
	struct hpl_interval_stats st;
	struct hpl_range *lo, *hi;
	struct hpl_params p;
	u64 score;
	int i;

	hpl_t_params(&p);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &area, 1), 0);

	/* 3 samples, all in the lower half: not enough */
	for (i = 0; i < 3; i++)
		hpl_space_record(space, HPL_T(0), true);
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, &st), 0);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 0U);
	hpl_t_expect_ranges(test, space, &area, 1);
	score = hpl_ema(0, hpl_density(3, 4 * PMD_SIZE), p.decay);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->score, score);

	/* as many in both halves: no reason to split */
	for (i = 0; i < 10; i++) {
		hpl_space_record(space, HPL_T(0), true);
		hpl_space_record(space, HPL_T(3), true);
	}
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 0U);
	score = hpl_ema(score, hpl_density(20, 4 * PMD_SIZE), p.decay);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->score, score);

	/* 4 samples in the lower half, 3 FMEM and 1 SMEM: split */
	for (i = 0; i < 4; i++)
		hpl_space_record(space, HPL_T(1) - PAGE_SIZE, i);
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, &st), 0);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 1U);
	KUNIT_EXPECT_EQ(test, st.nr_ranges, 2U);
	KUNIT_EXPECT_EQ(test, space->nr_splits, 1ULL);
	hpl_t_expect_ranges(test, space, halves, 2);
	lo = hpl_t_range(space, HPL_T(0));
	hi = hpl_t_range(space, HPL_T(2));
	KUNIT_EXPECT_EQ(test, lo->score,
			hpl_ema(score, hpl_density(4, 2 * PMD_SIZE), p.decay));
	KUNIT_EXPECT_EQ(test, hi->score, hpl_ema(score, 0, p.decay));
	KUNIT_EXPECT_EQ(test, lo->age, 0U);
	KUNIT_EXPECT_EQ(test, hi->age, 0U);
	KUNIT_EXPECT_EQ(test, lo->last_fmem, 3U);
	KUNIT_EXPECT_EQ(test, lo->last_smem, 1U);
	KUNIT_EXPECT_EQ(test, hi->last_fmem + hi->last_smem, 0U);
	KUNIT_EXPECT_EQ(test, lo->mid, HPL_T(1));
	KUNIT_EXPECT_EQ(test, hi->mid, HPL_T(3));
	KUNIT_EXPECT_EQ(test, lo->nr_lo + lo->nr_fmem, 0U);
}

/* Densities, not counts, must differ by more than split_ratio. */
static void hpl_test_split_ratio(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area area = { HPL_T(0), HPL_T(4) };
	/* halves of 2 PMDs + 1 page and 2 PMDs */
	struct hpl_area odd = { HPL_T(8) - PAGE_SIZE, HPL_T(12) };
	unsigned long pages = 2 * PMD_SIZE / PAGE_SIZE;
	struct hpl_interval_stats st;
	struct hpl_params p;
	unsigned long i;

	hpl_t_params(&p);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &area, 1), 0);
	/* exactly twice as dense: not more than 200 % */
	for (i = 0; i < 12; i++)
		hpl_space_record(space, HPL_T(0), true);
	for (i = 0; i < 6; i++)
		hpl_space_record(space, HPL_T(3), true);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 0U);
	/* 13 to 6 is */
	for (i = 0; i < 13; i++)
		hpl_space_record(space, HPL_T(0), true);
	for (i = 0; i < 6; i++)
		hpl_space_record(space, HPL_T(3), true);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 1U);

	/*
	 * Halves of pages + 1 and pages pages: 2 * pages + 2 samples against
	 * pages is more than twice the count but exactly twice the density.
	 */
	p.max_range_size = 16 * PMD_SIZE;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &odd, 1), 0);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, odd.start)->mid, HPL_T(10));
	for (i = 0; i < 2 * pages + 2; i++)
		hpl_space_record(space, odd.start, true);
	for (i = 0; i < pages; i++)
		hpl_space_record(space, HPL_T(11), true);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 0U);
	for (i = 0; i < 2 * pages + 3; i++)
		hpl_space_record(space, odd.start, true);
	for (i = 0; i < pages; i++)
		hpl_space_record(space, HPL_T(11), true);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 1U);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, odd.start)->end, HPL_T(10));
}

/* Splits stop at the minimum size and align to PMDs when they can. */
static void hpl_test_split_size(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area area = { HPL_T(0), HPL_T(0) + 4 * PAGE_SIZE };
	struct hpl_area odd = { HPL_T(8) - PAGE_SIZE, HPL_T(10) };
	struct hpl_area want[] = {
		{ HPL_T(0), HPL_T(0) + PAGE_SIZE },
		{ HPL_T(0) + PAGE_SIZE, HPL_T(0) + 2 * PAGE_SIZE },
		{ HPL_T(0) + 2 * PAGE_SIZE, HPL_T(0) + 4 * PAGE_SIZE },
	};
	struct hpl_interval_stats st;
	struct hpl_params p;
	int round, i;

	hpl_t_params(&p);
	p.min_range_size = PAGE_SIZE;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &area, 1), 0);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 8; i++)
			hpl_space_record(space, HPL_T(0), true);
		hpl_space_end_interval(space, &p, &st);
		KUNIT_EXPECT_EQ_MSG(test, st.nr_splits, round < 2 ? 1U : 0U,
				    "round %d", round);
	}
	hpl_t_expect_ranges(test, space, want, 3);

	/* with a minimum of two pages the first split is the last */
	p.min_range_size = 2 * PAGE_SIZE;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, NULL, 0), 0);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &area, 1), 0);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 8; i++)
			hpl_space_record(space, HPL_T(0), true);
		hpl_space_end_interval(space, &p, &st);
		KUNIT_EXPECT_EQ_MSG(test, st.nr_splits, round < 1 ? 1U : 0U,
				    "round %d", round);
	}
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->end,
			HPL_T(0) + 2 * PAGE_SIZE);

	/* an unaligned range of two PMDs and a page splits at a PMD */
	p.min_range_size = PAGE_SIZE;
	p.max_range_size = 16 * PMD_SIZE;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &odd, 1), 0);
	for (i = 0; i < 8; i++)
		hpl_space_record(space, odd.start, true);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 1U);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, odd.start)->end, HPL_T(9));
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(hpl_t_range(space, HPL_T(9))->start,
					   PMD_SIZE));
}

/* At the maximum count, the candidates with the most samples split. */
static void hpl_test_split_room(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area areas[] = {
		{ HPL_T(0), HPL_T(4) },
		{ HPL_T(8), HPL_T(12) },
	};
	struct hpl_area want[] = {
		{ HPL_T(0), HPL_T(4) },
		{ HPL_T(8), HPL_T(10) },
		{ HPL_T(10), HPL_T(12) },
	};
	struct hpl_interval_stats st;
	struct hpl_params p;
	int i;

	hpl_t_params(&p);
	p.max_nr_ranges = 3;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, areas, 2), 0);
	for (i = 0; i < 10; i++)
		hpl_space_record(space, HPL_T(0), true);
	for (i = 0; i < 20; i++)
		hpl_space_record(space, HPL_T(8), true);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 1U);
	hpl_t_expect_ranges(test, space, want, 3);
	/* the one that could not split folded its samples as a whole */
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->score,
			hpl_ema(0, hpl_density(10, 4 * PMD_SIZE), p.decay));
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->age, 1U);
}

/* Alike neighbours merge, within the maximum size, never over a hole. */
static void hpl_test_merge_alike(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area want[] = {
		{ HPL_T(0), HPL_T(2) },
		{ HPL_T(2), HPL_T(5) },
		{ HPL_T(6), HPL_T(7) },
		{ HPL_T(7), HPL_T(10) },
		{ HPL_T(10), HPL_T(12) },
	};
	struct hpl_interval_stats st;
	struct hpl_params p;
	struct hpl_range *r;

	hpl_t_params(&p);
	p.max_range_size = 2 * PMD_SIZE;
	hpl_t_add(test, space, &p, HPL_T(0), HPL_T(1), 1000, 1);
	hpl_t_add(test, space, &p, HPL_T(1), HPL_T(2), 1100, 2);
	hpl_t_add(test, space, &p, HPL_T(2), HPL_T(4), 3000, 1);
	hpl_t_add(test, space, &p, HPL_T(4), HPL_T(5), 3000, 1);
	/* hole */
	hpl_t_add(test, space, &p, HPL_T(6), HPL_T(7), 3000, 1);
	hpl_t_add(test, space, &p, HPL_T(7), HPL_T(8), 0, 1);
	hpl_t_add(test, space, &p, HPL_T(8), HPL_T(9), 0, 1);
	hpl_t_add(test, space, &p, HPL_T(9), HPL_T(10), 0, 1);
	hpl_t_add(test, space, &p, HPL_T(10), HPL_T(12), 0, 1);

	/*
	 * With max 4 PMDs, scores halve to 500 550 3000/2 1500 | 1500 0 0 0 0
	 * (sizes 1 1 2 1 | 1 1 1 1 2): 500 and 550 merge, 1500 and 1500 merge,
	 * the zeros merge up to 3 PMDs, the last would make 5.
	 */
	p.max_range_size = 4 * PMD_SIZE;
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, &st), 0);
	KUNIT_EXPECT_EQ(test, st.nr_merges, 4U);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 0U);
	hpl_t_expect_ranges(test, space, want, 5);
	r = hpl_t_range(space, HPL_T(0));
	KUNIT_EXPECT_EQ(test, r->score, 525ULL);	/* size-weighted */
	KUNIT_EXPECT_EQ(test, r->age, 2U);		/* the younger */
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(2))->score, 1500ULL);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(6))->score, 1500ULL);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(7))->score, 0ULL);
	KUNIT_EXPECT_EQ(test, space->nr_merges, 4ULL);

	/* unequal sizes: 1 PMD at 100, 3 PMDs at 120 give 115 */
	hpl_space_sync(space, &p, NULL, 0);
	hpl_t_add(test, space, &p, HPL_T(0), HPL_T(1), 200, 1);
	hpl_t_add(test, space, &p, HPL_T(1), HPL_T(4), 240, 1);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_merges, 1U);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->score, 115ULL);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->end, HPL_T(4));
}

/* The halves of a split are not merged back in the same interval. */
static void hpl_test_merge_after_split(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area area = { HPL_T(0), HPL_T(4) };
	struct hpl_interval_stats st;
	struct hpl_params p;
	int i;

	hpl_t_params(&p);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, &area, 1), 0);
	/* a high old score makes both halves alike after the split */
	hpl_t_range(space, HPL_T(0))->score = 1ULL << 50;
	for (i = 0; i < 8; i++)
		hpl_space_record(space, HPL_T(0), true);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_splits, 1U);
	KUNIT_EXPECT_EQ(test, st.nr_merges, 0U);
	KUNIT_EXPECT_EQ(test, st.nr_ranges, 2U);
	/* next interval, without samples, they are alike neighbours */
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_merges, 1U);
	hpl_t_expect_ranges(test, space, &area, 1);
}

/* Over the maximum count the most alike neighbours merge, any size. */
static void hpl_test_merge_max_count(struct kunit *test)
{
	struct hpl_space *space = hpl_t_space(test, 1);
	struct hpl_area want[] = {
		{ HPL_T(0), HPL_T(1) },
		{ HPL_T(1), HPL_T(4) },
	};
	struct hpl_area holes[] = {
		{ HPL_T(0), HPL_T(1) },
		{ HPL_T(2), HPL_T(3) },
	};
	struct hpl_area areas[] = {
		{ HPL_T(0), HPL_T(1) },
		{ HPL_T(1), HPL_T(2) },
		{ HPL_T(2), HPL_T(3) },
		{ HPL_T(3), HPL_T(4) },
	};
	struct hpl_interval_stats st;
	struct hpl_params p;

	hpl_t_params(&p);
	p.max_range_size = PMD_SIZE;	/* no merge of alike neighbours */
	p.max_nr_ranges = 2;
	hpl_t_add(test, space, &p, HPL_T(0), HPL_T(1), 10, 1);
	hpl_t_add(test, space, &p, HPL_T(1), HPL_T(2), 100, 1);
	hpl_t_add(test, space, &p, HPL_T(2), HPL_T(3), 105, 1);
	hpl_t_add(test, space, &p, HPL_T(3), HPL_T(4), 1000, 1);
	/* halved: 5 50 52 500; 50+52 first, then 51+500 (9.8x) before 5+51 */
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, &st), 0);
	KUNIT_EXPECT_EQ(test, st.nr_merges, 2U);
	KUNIT_EXPECT_EQ(test, st.nr_ranges, 2U);
	hpl_t_expect_ranges(test, space, want, 2);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->score, 5ULL);
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(1))->score, 200ULL);

	/* ranges created by a sync are brought down too */
	p.max_nr_ranges = 3;
	hpl_space_sync(space, &p, NULL, 0);
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, areas, 4), 0);
	KUNIT_EXPECT_EQ(test, space->nr_ranges, 4U);
	hpl_space_end_interval(space, &p, &st);
	KUNIT_EXPECT_EQ(test, st.nr_ranges, 3U);
	KUNIT_EXPECT_EQ(test, st.nr_merges, 1U);
	/* all alike (0): the lowest pair goes first */
	KUNIT_EXPECT_EQ(test, hpl_t_range(space, HPL_T(0))->end, HPL_T(2));

	/* never over a hole: two separate areas stay two ranges */
	p.max_nr_ranges = 1;
	KUNIT_ASSERT_EQ(test, hpl_space_sync(space, &p, holes, 2), 0);
	KUNIT_EXPECT_EQ(test, hpl_space_end_interval(space, &p, &st), 0);
	KUNIT_EXPECT_EQ(test, st.nr_merges, 0U);
	hpl_t_expect_ranges(test, space, holes, 2);
}

static void hpl_t_entry(struct hpl_rank_entry *e, u64 id, unsigned long start,
			unsigned long pages, u64 score, unsigned int age)
{
	memset(e, 0, sizeof(*e));
	e->space_id = id;
	e->start = start;
	e->end = start + pages * PAGE_SIZE;
	e->bytes = pages * PAGE_SIZE;
	e->score = score;
	e->age = age;
	e->class = HPL_PARTIAL;		/* hpl_fit() must reset it */
	e->hot_bytes = 1;
}

/* A..D: 4 pages at 400, 2 at 300, 8 at 200, 1 at 100, shuffled. */
static void hpl_t_entries(struct hpl_rank_entry *e)
{
	hpl_t_entry(&e[0], 1, HPL_T(2), 8, 200, 1);	/* C */
	hpl_t_entry(&e[1], 1, HPL_T(0), 4, 400, 1);	/* A */
	hpl_t_entry(&e[2], 1, HPL_T(3), 1, 100, 1);	/* D */
	hpl_t_entry(&e[3], 1, HPL_T(1), 2, 300, 1);	/* B */
}

static void hpl_test_fit_exact(struct kunit *test)
{
	struct hpl_rank_entry e[4];
	struct hpl_fit_result res;
	const u64 scores[] = { 400, 300, 200, 100 };
	int i;

	hpl_t_entries(e);
	hpl_fit(e, 4, 6 * PAGE_SIZE, 0, &res);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, e[i].score, scores[i]);
	KUNIT_EXPECT_EQ(test, e[0].class, HPL_HOT);
	KUNIT_EXPECT_EQ(test, e[0].hot_bytes, 4 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, e[1].class, HPL_HOT);
	KUNIT_EXPECT_EQ(test, e[1].hot_bytes, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, e[2].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, e[2].hot_bytes, 0ULL);
	/* D would fit in nothing left */
	KUNIT_EXPECT_EQ(test, e[3].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, res.budget, 6 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 6 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 2U);
	KUNIT_EXPECT_EQ(test, res.nr_partial, 0U);
	KUNIT_EXPECT_EQ(test, res.threshold, 300ULL);

	/* the same with a headroom */
	hpl_t_entries(e);
	hpl_fit(e, 4, 8 * PAGE_SIZE, 2 * PAGE_SIZE, &res);
	KUNIT_EXPECT_EQ(test, res.budget, 6 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 6 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 2U);
	KUNIT_EXPECT_EQ(test, res.nr_partial, 0U);
	KUNIT_EXPECT_EQ(test, e[2].class, HPL_COLD);

	/* everything fits */
	hpl_t_entries(e);
	hpl_fit(e, 4, 100 * PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 4U);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 15 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.threshold, 100ULL);
}

/* The boundary range gets what is left; colder ranges never jump it. */
static void hpl_test_fit_partial(struct kunit *test)
{
	struct hpl_rank_entry e[4];
	struct hpl_fit_result res;

	hpl_t_entries(e);
	hpl_fit(e, 4, 9 * PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, e[0].class, HPL_HOT);
	KUNIT_EXPECT_EQ(test, e[1].class, HPL_HOT);
	KUNIT_EXPECT_EQ(test, e[2].class, HPL_PARTIAL);
	KUNIT_EXPECT_EQ(test, e[2].hot_bytes, 3 * PAGE_SIZE);
	/* D (1 page) would fit in C's place but is colder */
	KUNIT_EXPECT_EQ(test, e[3].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, e[3].hot_bytes, 0ULL);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 9 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 2U);
	KUNIT_EXPECT_EQ(test, res.nr_partial, 1U);
	KUNIT_EXPECT_EQ(test, res.threshold, 200ULL);

	/* what is left is rounded down to pages */
	hpl_t_entries(e);
	hpl_fit(e, 4, 9 * PAGE_SIZE + 100, 0, &res);
	KUNIT_EXPECT_EQ(test, e[2].class, HPL_PARTIAL);
	KUNIT_EXPECT_EQ(test, e[2].hot_bytes, 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 9 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, res.budget, 9 * PAGE_SIZE + 100);

	/* less than a page left: no partial range */
	hpl_t_entries(e);
	hpl_fit(e, 4, 6 * PAGE_SIZE + 100, 0, &res);
	KUNIT_EXPECT_EQ(test, e[2].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, e[2].hot_bytes, 0ULL);
	KUNIT_EXPECT_EQ(test, res.nr_partial, 0U);
	KUNIT_EXPECT_EQ(test, res.threshold, 300ULL);

	/* the hottest range is already too big */
	hpl_t_entries(e);
	hpl_fit(e, 4, 3 * PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, e[0].class, HPL_PARTIAL);
	KUNIT_EXPECT_EQ(test, e[0].hot_bytes, 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, e[1].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 0U);
	KUNIT_EXPECT_EQ(test, res.threshold, 400ULL);
}

static void hpl_test_fit_zero(struct kunit *test)
{
	struct hpl_rank_entry e[4];
	struct hpl_fit_result res;
	int i;

	hpl_t_entries(e);
	hpl_fit(e, 4, 0, 0, &res);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, e[i].class, HPL_COLD);
		KUNIT_EXPECT_EQ(test, e[i].hot_bytes, 0ULL);
	}
	KUNIT_EXPECT_EQ(test, res.budget, 0ULL);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 0ULL);
	KUNIT_EXPECT_EQ(test, res.nr_hot + res.nr_partial, 0U);
	KUNIT_EXPECT_EQ(test, res.threshold, U64_MAX);

	/* headroom larger than the capacity */
	hpl_t_entries(e);
	hpl_fit(e, 4, 4 * PAGE_SIZE, 5 * PAGE_SIZE, &res);
	KUNIT_EXPECT_EQ(test, res.budget, 0ULL);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 0ULL);
	KUNIT_EXPECT_EQ(test, e[0].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, res.threshold, U64_MAX);

	/* ranges without samples are never hot, however much room */
	hpl_t_entries(e);
	e[2].score = 0;
	e[3].score = 0;
	hpl_fit(e, 4, 100 * PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 2U);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 12 * PAGE_SIZE);	/* A and C */
	KUNIT_EXPECT_EQ(test, e[2].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, e[3].class, HPL_COLD);

	/* nothing to rank */
	hpl_fit(e, 0, 100 * PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 0ULL);
	KUNIT_EXPECT_EQ(test, res.threshold, U64_MAX);
}

/*
 * A..D as hpl_t_entries() in PMDs, and E: one page, far denser than
 * anything.
 */
static void hpl_t_core_entries(struct hpl_rank_entry *e)
{
	const unsigned long pmd = PMD_SIZE >> PAGE_SHIFT;

	hpl_t_entry(&e[0], 1, HPL_T(8), 8 * pmd, 200, 1);	/* C */
	hpl_t_entry(&e[1], 1, HPL_T(0), 4 * pmd, 400, 1);	/* A */
	hpl_t_entry(&e[2], 1, HPL_T(16), 1 * pmd, 100, 1);	/* D */
	hpl_t_entry(&e[3], 1, HPL_T(4), 2 * pmd, 300, 1);	/* B */
	hpl_t_entry(&e[4], 1, HPL_T(20), 1, 10000000, 1);	/* E */
}

/* The hot set's core: the prefix at least as dense as its mean. */
static void hpl_test_fit_core(struct kunit *test)
{
	struct hpl_rank_entry e[5];
	struct hpl_fit_result res;
	int i;

	/* E, A and B fit: mean (400 * 4 + 300 * 2) / 6, E left out of it */
	hpl_t_core_entries(e);
	hpl_fit(e, 5, 6 * PMD_SIZE + PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.nr_hot, 3U);
	KUNIT_EXPECT_EQ(test, res.mean, 266ULL + 100);
	KUNIT_EXPECT_EQ(test, res.nr_core, 2U);
	KUNIT_EXPECT_EQ(test, e[1].score, 400ULL);

	/* all fit: (1600 + 600 + 1600 + 100) / 15, rounded down per range */
	hpl_t_core_entries(e);
	hpl_fit(e, 5, 100 * PMD_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.mean, 106ULL + 40 + 106 + 6);
	KUNIT_EXPECT_EQ(test, res.nr_core, 3U);

	/* a partial range weighs with the bytes it got: 3 of C's 8 PMDs */
	hpl_t_core_entries(e);
	hpl_fit(e, 5, 9 * PMD_SIZE + PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.nr_partial, 1U);
	KUNIT_EXPECT_EQ(test, res.mean, 177ULL + 66 + 66);
	KUNIT_EXPECT_EQ(test, res.nr_core, 2U);

	/* a hot set alike throughout is all core */
	hpl_t_core_entries(e);
	for (i = 0; i < 5; i++)
		e[i].score = 50;
	hpl_fit(e, 5, 100 * PMD_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.nr_core, 5U);

	/* no range of a PMD or more: all core */
	hpl_t_entries(e);
	hpl_fit(e, 4, 100 * PAGE_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, res.mean, 0ULL);
	KUNIT_EXPECT_EQ(test, res.nr_core, 4U);

	/* no hot set, no core */
	hpl_t_core_entries(e);
	hpl_fit(e, 5, 0, 0, &res);
	KUNIT_EXPECT_EQ(test, res.mean, 0ULL);
	KUNIT_EXPECT_EQ(test, res.nr_core, 0U);
}

/* Equal scores: older first, then lower space id, then lower address. */
static void hpl_test_fit_ties(struct kunit *test)
{
	static const unsigned int perm[][5] = {
		{ 0, 1, 2, 3, 4 }, { 4, 3, 2, 1, 0 }, { 2, 0, 4, 1, 3 },
	};
	struct hpl_rank_entry in[5], e[5];
	struct hpl_fit_result res;
	unsigned int k, i;

	hpl_t_entry(&in[0], 2, HPL_T(0), 1, 100, 1);
	hpl_t_entry(&in[1], 1, HPL_T(5), 1, 100, 1);
	hpl_t_entry(&in[2], 1, HPL_T(3), 1, 100, 1);
	hpl_t_entry(&in[3], 3, HPL_T(9), 1, 100, 5);
	hpl_t_entry(&in[4], 1, HPL_T(1), 1, 101, 0);

	for (k = 0; k < ARRAY_SIZE(perm); k++) {
		for (i = 0; i < 5; i++)
			e[i] = in[perm[k][i]];
		hpl_fit(e, 5, 3 * PAGE_SIZE, 0, &res);
		KUNIT_EXPECT_EQ(test, e[0].score, 101ULL);
		KUNIT_EXPECT_EQ(test, e[1].space_id, 3ULL);
		KUNIT_EXPECT_EQ(test, e[2].space_id, 1ULL);
		KUNIT_EXPECT_EQ(test, e[2].start, HPL_T(3));
		KUNIT_EXPECT_EQ(test, e[3].space_id, 1ULL);
		KUNIT_EXPECT_EQ(test, e[3].start, HPL_T(5));
		KUNIT_EXPECT_EQ(test, e[4].space_id, 2ULL);
		for (i = 0; i < 5; i++)
			KUNIT_EXPECT_EQ_MSG(test, e[i].class,
					    i < 3 ? HPL_HOT : HPL_COLD,
					    "perm %u entry %u", k, i);
		KUNIT_EXPECT_EQ(test, res.threshold, 100ULL);
	}
}

/* Snapshots of two spaces ranked together. */
static void hpl_test_fit_spaces(struct kunit *test)
{
	struct hpl_space *a = hpl_t_space(test, 1), *b = hpl_t_space(test, 2);
	struct hpl_rank_entry e[4];
	struct hpl_fit_result res;
	struct hpl_params p;
	unsigned int n;

	hpl_t_params(&p);
	hpl_t_add(test, a, &p, HPL_T(0), HPL_T(1), 10, 1);
	hpl_t_add(test, a, &p, HPL_T(1), HPL_T(3), 30, 1)->last_fmem = 7;
	hpl_t_add(test, b, &p, HPL_T(0), HPL_T(1), 20, 1);

	n = hpl_space_snapshot(a, e, 4);
	KUNIT_ASSERT_EQ(test, n, 2U);
	KUNIT_EXPECT_EQ(test, e[1].start, HPL_T(1));
	KUNIT_EXPECT_EQ(test, e[1].bytes, 2 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, e[1].last_fmem, 7U);
	KUNIT_EXPECT_EQ(test, hpl_space_snapshot(b, e + n, 0), 0U);
	n += hpl_space_snapshot(b, e + n, 4 - n);
	KUNIT_ASSERT_EQ(test, n, 3U);

	hpl_fit(e, n, 3 * PMD_SIZE, 0, &res);
	KUNIT_EXPECT_EQ(test, e[0].space_id, 1ULL);
	KUNIT_EXPECT_EQ(test, e[0].class, HPL_HOT);
	KUNIT_EXPECT_EQ(test, e[1].space_id, 2ULL);
	KUNIT_EXPECT_EQ(test, e[1].class, HPL_HOT);
	KUNIT_EXPECT_EQ(test, e[2].class, HPL_COLD);
	KUNIT_EXPECT_EQ(test, res.hot_bytes, 3 * PMD_SIZE);
	KUNIT_EXPECT_EQ(test, res.threshold, 20ULL);
}

static struct kunit_case hpl_range_test_cases[] = {
	KUNIT_CASE(hpl_test_params),
	KUNIT_CASE(hpl_test_decay_math),
	KUNIT_CASE(hpl_test_decay_interval),
	KUNIT_CASE(hpl_test_record),
	KUNIT_CASE(hpl_test_split_point),
	KUNIT_CASE(hpl_test_sync_create),
	KUNIT_CASE(hpl_test_sync_hole),
	KUNIT_CASE(hpl_test_sync_grow),
	KUNIT_CASE(hpl_test_sync_remove),
	KUNIT_CASE(hpl_test_sync_random),
	KUNIT_CASE(hpl_test_split_samples),
	KUNIT_CASE(hpl_test_split_ratio),
	KUNIT_CASE(hpl_test_split_size),
	KUNIT_CASE(hpl_test_split_room),
	KUNIT_CASE(hpl_test_merge_alike),
	KUNIT_CASE(hpl_test_merge_after_split),
	KUNIT_CASE(hpl_test_merge_max_count),
	KUNIT_CASE(hpl_test_fit_exact),
	KUNIT_CASE(hpl_test_fit_partial),
	KUNIT_CASE(hpl_test_fit_zero),
	KUNIT_CASE(hpl_test_fit_core),
	KUNIT_CASE(hpl_test_fit_ties),
	KUNIT_CASE(hpl_test_fit_spaces),
	{}
};

static struct kunit_suite hpl_range_test_suite = {
	.name = "hplacement-range",
	.test_cases = hpl_range_test_cases,
};

kunit_test_suite(hpl_range_test_suite);

#endif /* _HPLACEMENT_RANGE_KUNIT_H */

#endif /* CONFIG_HPLACEMENT_KUNIT_TEST */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of HPlacement's CPU budget controller.  Included at the end
 * of budget.c so that they can use its static functions.
 */

#ifdef CONFIG_HPLACEMENT_KUNIT_TEST

#ifndef _HPLACEMENT_BUDGET_KUNIT_H
#define _HPLACEMENT_BUDGET_KUNIT_H

#include <kunit/test.h>

#define HPL_T_MS	1000000ULL

/* Feed one interval of 100 ms in which all stages used @ppm of a CPU. */
static u32 hpl_t_feed(struct hpl_budget *b, const struct hpl_budget_params *p,
		      u64 ppm)
{
	/* 100 ms: 1 ppm is 100 ns; split over the stages as 2:1:1 */
	u64 ns[HPL_NR_STAGES] = { ppm * 50, ppm * 25, ppm * 25 };

	return hpl_budget_update(b, p, ns, 0, 0, 100 * HPL_T_MS);
}

static void hpl_test_budget_params(struct kunit *test)
{
	struct hpl_budget_params p;
	struct hpl_budget b;

	hpl_budget_params_init(&p);
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), 0);
	KUNIT_EXPECT_EQ(test, p.budget_ppm, 10000U);
	hpl_budget_init(&b, &p);
	KUNIT_EXPECT_EQ(test, b.scale, HPL_SCALE_ONE);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 0ULL);

	p.budget_ppm = 0;
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), -EINVAL);
	p.budget_ppm = HPL_PPM + 1;
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), -EINVAL);
	hpl_budget_params_init(&p);
	p.min_scale = 0;
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), -EINVAL);
	hpl_budget_params_init(&p);
	p.min_scale = p.max_scale + 1;
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), -EINVAL);
	hpl_budget_params_init(&p);
	p.max_scale = HPL_SCALE_LIMIT + 1;
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), -EINVAL);
	hpl_budget_params_init(&p);
	p.step = 0;
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), -EINVAL);
	hpl_budget_params_init(&p);
	p.low_pct = 101;
	KUNIT_EXPECT_EQ(test, hpl_budget_params_check(&p), -EINVAL);
}

static void hpl_test_budget_used(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(HPL_T_MS, 100 * HPL_T_MS), 10000U);
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(0, 100 * HPL_T_MS), 0U);
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(3, 1000), 3000U);
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(1, 3), 333333U);
	/* more than a CPU (several threads) */
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(250, 100), 2500000U);
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(5, 0), U32_MAX);
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(U64_MAX, U64_MAX), HPL_PPM);
	KUNIT_EXPECT_EQ(test, hpl_used_ppm(U64_MAX, 1), U32_MAX);
}

/* Over budget the scale shrinks in proportion and a throttle counts. */
static void hpl_test_budget_over(struct kunit *test)
{
	u64 ns[HPL_NR_STAGES] = { HPL_T_MS, HPL_T_MS / 2, HPL_T_MS / 2 };
	struct hpl_budget_params p;
	struct hpl_budget b;

	hpl_budget_params_init(&p);
	hpl_budget_init(&b, &p);
	/* 2 ms in 100 ms: 20000 ppm, twice the budget */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 0, 0, 100 * HPL_T_MS),
			512U);
	KUNIT_EXPECT_EQ(test, b.used_ppm, 20000U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 1ULL);
	KUNIT_EXPECT_EQ(test, b.nr_intervals, 1ULL);
	KUNIT_EXPECT_EQ(test, b.stage_ns[HPL_STAGE_SAMPLE], HPL_T_MS);
	KUNIT_EXPECT_EQ(test, b.stage_ns[HPL_STAGE_MIGRATE], HPL_T_MS / 2);

	/* 1.5 times the budget: 512 * 2 / 3 */
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 15000), 341U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 2ULL);
	KUNIT_EXPECT_EQ(test, b.stage_ns[HPL_STAGE_SAMPLE],
			HPL_T_MS + 15000 * 50);

	/* just over */
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 10001), 340U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 3ULL);
}

/* Well under budget the scale grows by a step; near it, it holds. */
static void hpl_test_budget_under(struct kunit *test)
{
	u64 ns[HPL_NR_STAGES] = { 7, 8, 9 };
	struct hpl_budget_params p;
	struct hpl_budget b;

	hpl_budget_params_init(&p);
	hpl_budget_init(&b, &p);
	b.scale = 512;
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 5000), 576U);
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 7999), 640U);
	/* 80 % and up to the budget: hold */
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 8000), 640U);
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 9999), 640U);
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 10000), 640U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 0ULL);
	KUNIT_EXPECT_EQ(test, b.nr_intervals, 5ULL);

	/* an empty interval changes nothing but the stage totals */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 0, 0, 0), 640U);
	KUNIT_EXPECT_EQ(test, b.nr_intervals, 5ULL);
	KUNIT_EXPECT_EQ(test, b.stage_ns[HPL_STAGE_CLASSIFY],
			(5000ULL + 7999 + 8000 + 9999 + 10000) * 25 + 8);
}

/* What saved budget paid counts as used, not against the scale. */
static void hpl_test_budget_saved(struct kunit *test)
{
	u64 ns[HPL_NR_STAGES] = { HPL_T_MS / 2, HPL_T_MS / 4, 5 * HPL_T_MS };
	struct hpl_budget_params p;
	struct hpl_budget b;

	hpl_budget_params_init(&p);
	hpl_budget_init(&b, &p);
	b.scale = 512;
	/* 5.75 ms in 100 ms, all of the migration saved: 7500 ppm judged */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 5 * HPL_T_MS, 0,
						100 * HPL_T_MS), 576U);
	KUNIT_EXPECT_EQ(test, b.used_ppm, 57500U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 0ULL);
	/* 4 ms saved: 17500 ppm judged, over */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 4 * HPL_T_MS, 0,
						100 * HPL_T_MS), 329U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 1ULL);
	/* no more saved than the interval used */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 10 * HPL_T_MS, 0,
						100 * HPL_T_MS), 393U);
	KUNIT_EXPECT_EQ(test, b.used_ppm, 57500U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 1ULL);
	KUNIT_EXPECT_EQ(test, b.stage_ns[HPL_STAGE_MIGRATE], 15 * HPL_T_MS);
	/*
	 * An early interval's sampling paid from the credit: 6 ms in
	 * 100 ms, 5 ms saved, 10000 ppm judged: at the budget, held.
	 */
	ns[HPL_STAGE_SAMPLE] = 6 * HPL_T_MS;
	ns[HPL_STAGE_CLASSIFY] = 0;
	ns[HPL_STAGE_MIGRATE] = 0;
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 5 * HPL_T_MS, 0,
						100 * HPL_T_MS), 393U);
	KUNIT_EXPECT_EQ(test, b.used_ppm, 60000U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 1ULL);
}

/* Budget held back for migration counts against the scale, not as used. */
static void hpl_test_budget_reserve(struct kunit *test)
{
	u64 ns[HPL_NR_STAGES] = { 85 * HPL_T_MS / 100, 0, 0 };
	struct hpl_budget_params p;
	struct hpl_budget b;

	hpl_budget_params_init(&p);
	hpl_budget_init(&b, &p);
	b.scale = 512;
	/* 0.85 ms of 1 ms allowed in 100 ms: within the band, held */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 0, 0,
						100 * HPL_T_MS), 512U);
	/* half the budget held back: 13500 ppm judged, cut */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 0, HPL_T_MS / 2,
						100 * HPL_T_MS), 379U);
	KUNIT_EXPECT_EQ(test, b.used_ppm, 8500U);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 1ULL);
}

static void hpl_test_budget_clamp(struct kunit *test)
{
	u64 ns[HPL_NR_STAGES] = { U64_MAX, U64_MAX, 1 };
	struct hpl_budget_params p;
	struct hpl_budget b;

	hpl_budget_params_init(&p);
	hpl_budget_init(&b, &p);
	/* at the top already */
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 0), HPL_SCALE_ONE);
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 100), HPL_SCALE_ONE);
	/* 100 times over: 10, clamped to the minimum */
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 1000000), HPL_SCALE_ONE / 64);
	/* still over at the minimum: stays, and still counts */
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 20000), HPL_SCALE_ONE / 64);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 2ULL);
	/* saturated stage times */
	KUNIT_EXPECT_EQ(test, hpl_budget_update(&b, &p, ns, 0, 0, 1),
			HPL_SCALE_ONE / 64);
	KUNIT_EXPECT_EQ(test, b.used_ppm, U32_MAX);
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 3ULL);
	/* grows back one step at a time, up to the maximum */
	p.step = 500;
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 0), 516U);
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 0), 1016U);
	KUNIT_EXPECT_EQ(test, hpl_t_feed(&b, &p, 0), HPL_SCALE_ONE);
}

/* Work that costs in proportion to the scale settles inside the budget. */
static void hpl_test_budget_converge(struct kunit *test)
{
	static const u32 want[] = { 256, 256, 320, 384, 448, 448 };
	struct hpl_budget_params p;
	struct hpl_budget b;
	u64 full = 40000;	/* ppm at scale 1.0 */
	unsigned int i;

	hpl_budget_params_init(&p);
	hpl_budget_init(&b, &p);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		if (i == 2)
			full = 20000;	/* the load halves */
		hpl_t_feed(&b, &p, full * b.scale / HPL_SCALE_ONE);
		KUNIT_EXPECT_EQ_MSG(test, b.scale, want[i], "interval %u", i);
	}
	KUNIT_EXPECT_EQ(test, b.nr_throttles, 1ULL);
}

static void hpl_test_budget_apply(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, hpl_scale_amount(512, 100), 50UL);
	KUNIT_EXPECT_EQ(test, hpl_scale_amount(HPL_SCALE_ONE, 100), 100UL);
	KUNIT_EXPECT_EQ(test, hpl_scale_amount(2048, 100), 200UL);
	KUNIT_EXPECT_EQ(test, hpl_scale_amount(1, 100), 1UL);
	KUNIT_EXPECT_EQ(test, hpl_scale_amount(512, 0), 0UL);

	KUNIT_EXPECT_EQ(test, hpl_scale_period(HPL_SCALE_ONE, 4093), 4093ULL);
	KUNIT_EXPECT_EQ(test, hpl_scale_period(512, 4093), 8186ULL);
	KUNIT_EXPECT_EQ(test, hpl_scale_period(16, 4093), 261952ULL);
	KUNIT_EXPECT_EQ(test, hpl_scale_period(2048, 3), 1ULL);
	KUNIT_EXPECT_EQ(test, hpl_scale_period(4096, 1), 1ULL);
	KUNIT_EXPECT_EQ(test, hpl_scale_period(0, 5), 5120ULL);
}

static struct kunit_case hpl_budget_test_cases[] = {
	KUNIT_CASE(hpl_test_budget_params),
	KUNIT_CASE(hpl_test_budget_used),
	KUNIT_CASE(hpl_test_budget_over),
	KUNIT_CASE(hpl_test_budget_under),
	KUNIT_CASE(hpl_test_budget_saved),
	KUNIT_CASE(hpl_test_budget_reserve),
	KUNIT_CASE(hpl_test_budget_clamp),
	KUNIT_CASE(hpl_test_budget_converge),
	KUNIT_CASE(hpl_test_budget_apply),
	{}
};

static struct kunit_suite hpl_budget_test_suite = {
	.name = "hplacement-budget",
	.test_cases = hpl_budget_test_cases,
};

kunit_test_suite(hpl_budget_test_suite);

#endif /* _HPLACEMENT_BUDGET_KUNIT_H */

#endif /* CONFIG_HPLACEMENT_KUNIT_TEST */

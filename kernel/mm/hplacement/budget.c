// SPDX-License-Identifier: GPL-2.0
/*
 * HPlacement: CPU budget controller.
 *
 * All of HPlacement's work (taking samples, classifying, migrating) runs
 * under a CPU budget, in parts per million of one CPU.  At the end of each
 * interval the controller gets the time each stage spent and sets a work
 * scale for the next one; the stages scale what they do by it (sample
 * period, pages scanned per range, migration batch).
 *
 * Over budget, the scale shrinks in proportion to the overshoot, to what
 * would have fit had the work cost been proportional to the scale; this
 * brings a burst back under budget in one interval.  Well under budget
 * (below low_pct percent of it), the scale grows by a fixed step, so that
 * it probes upwards slowly and does not oscillate.  In between it holds.
 * The scale stays within [min_scale, max_scale].  Every interval over
 * budget counts as a throttle event.
 *
 * Migration is paced on its own, by a credit of budget saved in earlier
 * intervals (core.c): what the credit pays is counted in the CPU time
 * used, but not against the scale, which would cut sampling after every
 * burst of moves that the budget had already paid for, and after every
 * early interval (sampled sooner because the credit paid for it).
 */

#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/string.h>

#include "internal.h"

void hpl_budget_params_init(struct hpl_budget_params *p)
{
	p->budget_ppm = 10000;		/* 1 % of one CPU */
	p->min_scale = HPL_SCALE_ONE / 64;
	p->max_scale = HPL_SCALE_ONE;
	p->step = HPL_SCALE_ONE / 16;
	p->low_pct = 80;
}

int hpl_budget_params_check(const struct hpl_budget_params *p)
{
	if (!p->budget_ppm || p->budget_ppm > HPL_PPM)
		return -EINVAL;
	if (!p->min_scale || p->min_scale > p->max_scale ||
	    p->max_scale > HPL_SCALE_LIMIT)
		return -EINVAL;
	if (!p->step || !p->low_pct || p->low_pct > 100)
		return -EINVAL;
	return 0;
}

void hpl_budget_init(struct hpl_budget *b, const struct hpl_budget_params *p)
{
	memset(b, 0, sizeof(*b));
	b->scale = p->max_scale;
}

/* CPU time @used_ns in @interval_ns, in ppm of one CPU, saturated. */
static u32 hpl_used_ppm(u64 used_ns, u64 interval_ns)
{
	u64 ppm;

	while (used_ns > U64_MAX / HPL_PPM) {
		used_ns >>= 1;
		interval_ns >>= 1;
	}
	if (!interval_ns)
		return U32_MAX;
	ppm = div64_u64(used_ns * HPL_PPM, interval_ns);
	return min_t(u64, ppm, U32_MAX);
}

/* The scale after an interval that used @used_ppm at @scale. */
static u32 hpl_budget_next_scale(const struct hpl_budget_params *p,
				 u32 scale, u32 used_ppm, bool *throttled)
{
	u64 next = scale;

	*throttled = used_ppm > p->budget_ppm;
	if (*throttled)
		next = div_u64((u64)scale * p->budget_ppm, used_ppm);
	else if ((u64)used_ppm * 100 < (u64)p->budget_ppm * p->low_pct)
		next += p->step;
	return clamp_t(u64, next, p->min_scale, p->max_scale);
}

/**
 * hpl_budget_update - feed one interval to the controller
 * @b: the controller
 * @p: its parameters
 * @stage_ns: ns spent by each stage in the interval
 * @saved_ns: ns paid from budget saved in earlier intervals (at most
 *	what the interval used)
 * @reserve_ns: ns of the interval's budget held back for migration that
 *	waited for it: judged as used, so that the work scale leaves it
 * @interval_ns: length of the interval; 0 leaves the scale alone
 *
 * Return: the work scale for the next interval.
 */
u32 hpl_budget_update(struct hpl_budget *b, const struct hpl_budget_params *p,
		      const u64 stage_ns[HPL_NR_STAGES], u64 saved_ns,
		      u64 reserve_ns, u64 interval_ns)
{
	u64 used = 0, sum, judged;
	bool throttled;
	int i;

	for (i = 0; i < HPL_NR_STAGES; i++) {
		used = check_add_overflow(used, stage_ns[i], &sum) ? U64_MAX : sum;
		b->stage_ns[i] += stage_ns[i];
	}
	if (!interval_ns)
		return b->scale;

	b->used_ppm = hpl_used_ppm(used, interval_ns);
	saved_ns = min(saved_ns, used);
	if (check_add_overflow(used - saved_ns, reserve_ns, &judged))
		judged = U64_MAX;
	b->scale = hpl_budget_next_scale(p, b->scale,
					 hpl_used_ppm(judged, interval_ns),
					 &throttled);
	if (throttled)
		b->nr_throttles++;
	b->nr_intervals++;
	return b->scale;
}

/**
 * hpl_scale_amount - scale an amount of work (pages, folios, ranges)
 * @scale: work scale
 * @nominal: the amount at HPL_SCALE_ONE
 *
 * Return: @nominal * @scale, at least 1 unless @nominal is 0.
 */
unsigned long hpl_scale_amount(u32 scale, unsigned long nominal)
{
	u64 amount = mul_u64_u32_shr(nominal, scale, HPL_SCALE_SHIFT);

	if (!nominal)
		return 0;
	return clamp_t(u64, amount, 1, ULONG_MAX);
}

/**
 * hpl_scale_period - scale a period (events between samples)
 * @scale: work scale, not 0
 * @nominal: the period at HPL_SCALE_ONE, at most U64_MAX >> HPL_SCALE_SHIFT
 *
 * Less work means a longer period.
 *
 * Return: @nominal / @scale, at least 1.
 */
u64 hpl_scale_period(u32 scale, u64 nominal)
{
	u64 period;

	nominal = min(nominal, U64_MAX >> HPL_SCALE_SHIFT);
	period = div_u64(nominal << HPL_SCALE_SHIFT, max(scale, 1U));
	return max(period, 1ULL);
}

#include "tests/budget-kunit.h"

// SPDX-License-Identifier: GPL-2.0
/*
 * HPlacement: range-based hotness classification.
 *
 * Each address space ("space", one per mm) is covered by ranges of virtual
 * addresses kept in a maple tree.  Sampled accesses are counted in the
 * range that holds them; the hotness of a range is its decayed number of
 * samples per byte.  Classifying by virtual address keeps the locality of
 * the program (an array, a heap arena, a hash table stay together), needs
 * no translation per sample and costs O(samples + ranges) per interval,
 * never O(RSS).
 *
 * Ranges adapt at the end of each interval:
 *  - a range whose halves got clearly different densities of samples is
 *    split in two, at a PMD boundary when it spans two PMDs or more (so
 *    that THPs stay whole), at a page boundary otherwise, never into
 *    pieces below the minimum range size, and only when enough samples
 *    back the decision;
 *  - contiguous ranges whose scores are alike are merged again while the
 *    result stays within the maximum range size, so that ranges which
 *    cooled down or were split by noise do not accumulate;
 *  - a space keeps at most the maximum number of ranges: splits stop
 *    there, and a space that has more (after a sync added ranges for new
 *    mappings) merges its most alike neighbours until it fits.  Ranges
 *    never span a hole, so only a space with more separate mappings than
 *    that keeps more.
 *
 * Ranges follow the VMAs: hpl_space_sync() gets the space's mapped areas
 * and trims or removes every range that is no longer mapped, so that no
 * range ever covers addresses outside a mapping, and creates ranges for
 * mapped areas that have none.
 *
 * hpl_fit() ranks the ranges of any number of spaces by score and picks
 * the hot set: the hottest prefix of the ranking that fits in the FMEM
 * capacity minus a headroom.  The range at the boundary, the one that does
 * not fit entirely, gets the bytes that are left (a partial budget)
 * instead of being skipped for colder ranges that would fit: within a
 * range all bytes have the same estimated density, so these bytes are
 * worth more than any byte of a colder range, the hot set stays a true
 * prefix with a single threshold score, and the capacity is used fully.
 * The boundary range is also the one whose split pays off most.
 *
 * Locking: every operation on a space takes its mutex, which is also the
 * maple tree's external lock; ranges are only ever read under it.
 */

#include <linux/bitmap.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include <trace/events/hplacement.h>

#include "internal.h"

/* Fixed point of hpl_unlikeness(): a ratio of 1 is 1 << 16. */
#define HPL_RATIO_SHIFT		16

void hpl_params_init(struct hpl_params *p)
{
	p->min_range_size = PMD_SIZE;
	p->max_range_size = SZ_256M;
	p->max_nr_ranges = 1024;
	p->decay = HPL_DECAY_ONE / 2;
	p->split_ratio = 200;
	p->split_min_samples = 8;
	p->merge_ratio = 125;
}

int hpl_params_check(const struct hpl_params *p)
{
	if (!is_power_of_2(p->min_range_size) ||
	    p->min_range_size < PAGE_SIZE)
		return -EINVAL;
	if (!is_power_of_2(p->max_range_size) ||
	    p->max_range_size < p->min_range_size ||
	    p->max_range_size > HPL_RANGE_SIZE_LIMIT)
		return -EINVAL;
	if (!p->max_nr_ranges || p->decay >= HPL_DECAY_ONE)
		return -EINVAL;
	if (p->merge_ratio < 100 || p->split_ratio <= p->merge_ratio)
		return -EINVAL;
	return 0;
}

static inline void hpl_inc(u32 *counter)
{
	if (*counter != U32_MAX)
		(*counter)++;
}

static inline u32 hpl_add(u32 a, u32 b)
{
	u32 sum;

	return check_add_overflow(a, b, &sum) ? U32_MAX : sum;
}

/* Samples per byte (HPL_SCORE_SHIFT fixed point) of @nr samples in @bytes. */
static u64 hpl_density(u64 nr, unsigned long bytes)
{
	unsigned long pages = bytes >> PAGE_SHIFT;

	/* nr < 2^32 shifted must fit in 64 bits */
	BUILD_BUG_ON(PAGE_SHIFT > HPL_SCORE_SHIFT);
	BUILD_BUG_ON(PAGE_SHIFT + 32 < HPL_SCORE_SHIFT);
	if (!pages)
		return 0;
	nr = min_t(u64, nr, U32_MAX);
	return div64_u64(nr << (HPL_SCORE_SHIFT - PAGE_SHIFT), pages);
}

/*
 * Exponential moving average: @decay/HPL_DECAY_ONE of the old score plus
 * the rest of the new density.  Each term is rounded down; the sum never
 * exceeds the larger input, so it cannot overflow.
 */
static u64 hpl_ema(u64 old, u64 density, unsigned int decay)
{
	return mul_u64_u32_shr(old, decay, HPL_DECAY_SHIFT) +
	       mul_u64_u32_shr(density, HPL_DECAY_ONE - decay, HPL_DECAY_SHIFT);
}

/* Compare @a * @x with @b * @y exactly (96-bit products): <0, 0 or >0. */
static int hpl_cmp_mul(u64 a, u32 x, u64 b, u32 y)
{
	u64 al = (u64)lower_32_bits(a) * x, bl = (u64)lower_32_bits(b) * y;
	u64 ah = (u64)upper_32_bits(a) * x + upper_32_bits(al);
	u64 bh = (u64)upper_32_bits(b) * y + upper_32_bits(bl);

	if (ah != bh)
		return ah < bh ? -1 : 1;
	if (lower_32_bits(al) != lower_32_bits(bl))
		return lower_32_bits(al) < lower_32_bits(bl) ? -1 : 1;
	return 0;
}

/*
 * Where [@start, @end) would be split: the PMD boundary nearest to the
 * middle when the range spans at least two PMDs and both pieces keep
 * @min_size, else the page boundary at (or just below) the middle.
 * 0 when the range is smaller than two minimum ranges.
 */
static unsigned long hpl_split_point(unsigned long start, unsigned long end,
				     unsigned long min_size)
{
	unsigned long len = end - start, mid, point;

	if (len / 2 < min_size)
		return 0;
	mid = start + ((len / 2) & PAGE_MASK);
	if (len >= 2 * PMD_SIZE) {
		point = ALIGN_DOWN(mid + PMD_SIZE / 2, PMD_SIZE);
		if (point > start && point < end &&
		    point - start >= min_size && end - point >= min_size)
			return point;
	}
	return mid;
}

static void hpl_range_set(struct hpl_range *r, unsigned long start,
			  unsigned long end, unsigned long min_size)
{
	r->start = start;
	r->end = end;
	r->mid = hpl_split_point(start, end, min_size) ?: end;
}

static void hpl_range_reset_counts(struct hpl_range *r)
{
	r->nr_lo = 0;
	r->nr_hi = 0;
	r->nr_fmem = 0;
	r->nr_smem = 0;
}

static struct hpl_range *hpl_range_alloc(unsigned long start,
					 unsigned long end,
					 unsigned long min_size)
{
	struct hpl_range *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (r)
		hpl_range_set(r, start, end, min_size);
	return r;
}

static int hpl_tree_store(struct hpl_space *space, unsigned long start,
			  unsigned long end, struct hpl_range *r)
{
	MA_STATE(mas, &space->tree, start, end - 1);

	return mas_store_gfp(&mas, r, GFP_KERNEL);
}

/* The first range, dead or alive, that ends after @addr. */
static struct hpl_range *hpl_range_from(struct hpl_space *space,
					unsigned long addr)
{
	MA_STATE(mas, &space->tree, addr, addr);

	return mas_find(&mas, ULONG_MAX);
}

static inline bool hpl_range_live(const struct hpl_range *r)
{
	return !(r->flags & HPL_RANGE_DEAD);
}

/*
 * Take @r out of the tree and free it.  If the tree cannot be changed
 * (no memory for its nodes), @r stays in it as a dead range: it takes no
 * samples, is never ranked, and its removal is retried by the next sync.
 */
static void hpl_range_remove(struct hpl_space *space, struct hpl_range *r)
{
	if (hpl_tree_store(space, r->start, r->end, NULL)) {
		r->flags |= HPL_RANGE_DEAD;
		return;
	}
	space->nr_ranges--;
	kfree(r);
}

void hpl_space_init(struct hpl_space *space, u64 id)
{
	memset(space, 0, sizeof(*space));
	mutex_init(&space->lock);
	mt_init_flags(&space->tree, MT_FLAGS_LOCK_EXTERN);
	mt_set_external_lock(&space->tree, &space->lock);
	space->id = id;
}

void hpl_space_destroy(struct hpl_space *space)
{
	MA_STATE(mas, &space->tree, 0, 0);
	struct hpl_range *r;

	mutex_lock(&space->lock);
	mas_for_each(&mas, r, ULONG_MAX)
		kfree(r);
	__mt_destroy(&space->tree);
	space->nr_ranges = 0;
	mutex_unlock(&space->lock);
	mutex_destroy(&space->lock);
}

static bool __hpl_record(struct hpl_space *space, struct ma_state *mas,
			 unsigned long addr, bool fmem)
{
	struct hpl_range *r;

	mas_set(mas, addr);
	r = mas_walk(mas);
	if (!r || !hpl_range_live(r)) {
		space->nr_dropped++;
		return false;
	}
	hpl_inc(addr < r->mid ? &r->nr_lo : &r->nr_hi);
	hpl_inc(fmem ? &r->nr_fmem : &r->nr_smem);
	space->nr_samples++;
	return true;
}

/**
 * hpl_space_record - count one sampled access
 * @space: the address space of the access
 * @addr: its virtual address
 * @fmem: the page was on FMEM
 *
 * Context: process context; takes the space's mutex.
 * Return: true if a range took the sample, false if it was dropped
 * because no range covers @addr.
 */
bool hpl_space_record(struct hpl_space *space, unsigned long addr, bool fmem)
{
	MA_STATE(mas, &space->tree, addr, addr);
	bool ret;

	mutex_lock(&space->lock);
	ret = __hpl_record(space, &mas, addr, fmem);
	mutex_unlock(&space->lock);
	return ret;
}

/**
 * hpl_space_record_batch - count sampled accesses of one address space
 * @space: the address space
 * @samples: the samples
 * @nr: how many
 *
 * Context: process context; takes the space's mutex once.
 * Return: the number of samples dropped because no range covers them.
 */
unsigned int hpl_space_record_batch(struct hpl_space *space,
				    const struct hpl_sample *samples,
				    unsigned int nr)
{
	MA_STATE(mas, &space->tree, 0, 0);
	unsigned int i, dropped = 0;

	mutex_lock(&space->lock);
	for (i = 0; i < nr; i++)
		if (!__hpl_record(space, &mas, samples[i].addr, samples[i].fmem))
			dropped++;
	mutex_unlock(&space->lock);
	return dropped;
}

static int hpl_areas_check(const struct hpl_area *areas, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (areas[i].start >= areas[i].end ||
		    !PAGE_ALIGNED(areas[i].start) || !PAGE_ALIGNED(areas[i].end))
			return -EINVAL;
		if (i && areas[i].start < areas[i - 1].end)
			return -EINVAL;
	}
	return 0;
}

/*
 * Fit @r to the mapped areas, @idx being the first area that ends after
 * @r->start.  A range that is mapped entirely is left alone.  Otherwise
 * it is taken out of the tree and each mapped piece of it goes back as a
 * range with the same score and age (a density per byte stays valid for a
 * part of the range) and fresh counts.  A piece that cannot be stored is
 * left uncovered: that only drops samples until a sync covers it again.
 */
static void hpl_sync_range(struct hpl_space *space, const struct hpl_params *p,
			   struct hpl_range *r, const struct hpl_area *areas,
			   unsigned int nr, unsigned int idx)
{
	unsigned long start = r->start, end = r->end, pstart, pend;
	unsigned int i, age = r->age;
	struct hpl_range *piece;
	u64 score = r->score;

	/* Mapped without a hole from start to end? */
	if (idx < nr && areas[idx].start <= start) {
		for (i = idx; areas[i].end < end; i++)
			if (i + 1 == nr || areas[i + 1].start != areas[i].end)
				break;
		if (areas[i].end >= end)
			return;
	}

	if (hpl_tree_store(space, start, end, NULL)) {
		r->flags |= HPL_RANGE_DEAD;
		return;
	}
	space->nr_ranges--;

	for (i = idx; i < nr && areas[i].start < end; i++) {
		pstart = max(start, areas[i].start);
		while (i + 1 < nr && areas[i + 1].start == areas[i].end &&
		       areas[i].end < end)
			i++;
		pend = min(end, areas[i].end);

		if (r) {
			piece = r;
			r = NULL;
			hpl_range_set(piece, pstart, pend, p->min_range_size);
			hpl_range_reset_counts(piece);
		} else {
			piece = hpl_range_alloc(pstart, pend,
						p->min_range_size);
			if (!piece)
				continue;
			piece->score = score;
			piece->age = age;
		}
		if (hpl_tree_store(space, pstart, pend, piece)) {
			kfree(piece);
			continue;
		}
		space->nr_ranges++;
	}
	kfree(r);
}

/*
 * Cover [@start, @end) with new ranges, cut at multiples of the maximum
 * range size so that they are aligned to it.
 */
static int hpl_sync_fill(struct hpl_space *space, const struct hpl_params *p,
			 unsigned long start, unsigned long end)
{
	unsigned long boundary, next;
	struct hpl_range *r;
	int ret = 0;

	for (; start < end; start = next) {
		boundary = ALIGN_DOWN(start, p->max_range_size) +
			   p->max_range_size;
		next = boundary > start && boundary < end ? boundary : end;
		r = hpl_range_alloc(start, next, p->min_range_size);
		if (!r) {
			ret = -ENOMEM;
			continue;
		}
		if (hpl_tree_store(space, start, next, r)) {
			kfree(r);
			ret = -ENOMEM;
			continue;
		}
		space->nr_ranges++;
	}
	return ret;
}

/**
 * hpl_space_sync - make the ranges follow the mappings
 * @space: the address space
 * @p: parameters
 * @areas: the mapped areas to classify (the mm's anonymous VMAs), sorted,
 *	not overlapping; contiguous areas are treated as one
 * @nr: number of areas, 0 when everything is unmapped
 *
 * Ranges are trimmed to the areas or removed, so that no range covers an
 * address outside them; then every part of an area that no range covers
 * gets new ranges of at most the maximum range size, with no score.
 *
 * Return: 0; -EINVAL if @areas is not sorted, page aligned and disjoint
 * (nothing is changed then); -ENOMEM if some mapped part could not be
 * covered (no range is left outside the areas even then).
 */
int hpl_space_sync(struct hpl_space *space, const struct hpl_params *p,
		   const struct hpl_area *areas, unsigned int nr)
{
	unsigned long cursor = 0, start, end, gap_end;
	unsigned int idx = 0, i;
	struct hpl_range *r;
	int ret;

	ret = hpl_areas_check(areas, nr);
	if (ret)
		return ret;

	mutex_lock(&space->lock);
	/* Trim or remove what is no longer mapped. */
	while ((r = hpl_range_from(space, cursor))) {
		cursor = r->end;
		if (!hpl_range_live(r)) {
			hpl_range_remove(space, r);
			continue;
		}
		while (idx < nr && areas[idx].end <= r->start)
			idx++;
		hpl_sync_range(space, p, r, areas, nr, idx);
	}

	/* Cover what is mapped and has no range. */
	for (i = 0; i < nr; ) {
		start = areas[i].start;
		end = areas[i].end;
		while (++i < nr && areas[i].start == end)
			end = areas[i].end;
		while (start < end) {
			r = hpl_range_from(space, start);
			if (r && r->start <= start) {
				start = r->end;
				continue;
			}
			gap_end = r && r->start < end ? r->start : end;
			if (hpl_sync_fill(space, p, start, gap_end))
				ret = -ENOMEM;
			start = gap_end;
		}
	}
	mutex_unlock(&space->lock);
	return ret;
}

/*
 * Should @r be split at @point?  Only at the point its samples were
 * counted against, with enough samples, and when the denser half has more
 * than split_ratio percent of the sparser half's density.  Densities are
 * compared as lo * pages(hi) against hi * pages(lo): both stay below 2^60.
 */
static bool hpl_want_split(const struct hpl_range *r,
			   const struct hpl_params *p, unsigned long point)
{
	u64 lo = r->nr_lo, hi = r->nr_hi;

	if (!point || point != r->mid || lo + hi < p->split_min_samples)
		return false;
	lo *= (r->end - point) >> PAGE_SHIFT;
	hi *= (point - r->start) >> PAGE_SHIFT;
	if (lo < hi)
		swap(lo, hi);
	return hpl_cmp_mul(lo, 100, hi, p->split_ratio) > 0;
}

/* Fold the interval's samples of @r into its score and start a new one. */
static void hpl_range_fold(struct hpl_range *r, const struct hpl_params *p)
{
	u64 nr = (u64)r->nr_lo + r->nr_hi;

	r->score = hpl_ema(r->score, hpl_density(nr, r->end - r->start),
			   p->decay);
	r->last_fmem = r->nr_fmem;
	r->last_smem = r->nr_smem;
	hpl_range_reset_counts(r);
	r->mid = hpl_split_point(r->start, r->end, p->min_range_size) ?: r->end;
	if (r->age != UINT_MAX)
		r->age++;
	r->flags &= ~HPL_RANGE_SPLIT;
}

/*
 * Split @r at @r->mid.  Each half's score folds in the density of its own
 * half, both start at age 0.  FMEM/SMEM counts are shared in proportion
 * to the halves' samples.
 */
static bool hpl_range_split(struct hpl_space *space,
			    const struct hpl_params *p, struct hpl_range *r)
{
	unsigned long point = r->mid;
	u64 nr = (u64)r->nr_lo + r->nr_hi;
	struct hpl_range *hi;

	hi = hpl_range_alloc(point, r->end, p->min_range_size);
	if (!hi)
		return false;
	if (hpl_tree_store(space, point, r->end, hi)) {
		kfree(hi);
		return false;
	}
	space->nr_ranges++;

	hi->score = hpl_ema(r->score, hpl_density(r->nr_hi, r->end - point),
			    p->decay);
	hi->last_fmem = div64_u64((u64)r->nr_fmem * r->nr_hi, nr);
	hi->last_smem = div64_u64((u64)r->nr_smem * r->nr_hi, nr);
	r->score = hpl_ema(r->score, hpl_density(r->nr_lo, point - r->start),
			   p->decay);
	r->last_fmem = r->nr_fmem - hi->last_fmem;
	r->last_smem = r->nr_smem - hi->last_smem;
	trace_hplacement_split(space->id, r->start, point, hi->end, r->nr_lo,
			       r->nr_hi);
	hpl_range_set(r, r->start, point, p->min_range_size);
	hpl_range_reset_counts(r);
	r->age = 0;
	r->flags &= ~HPL_RANGE_SPLIT;
	return true;
}

static inline bool hpl_mergeable(const struct hpl_range *a,
				 const struct hpl_range *b)
{
	return a->end == b->start && !(a->flags & HPL_RANGE_DEAD) &&
	       !(b->flags & HPL_RANGE_DEAD) && !(a->flags & HPL_RANGE_SPLIT) &&
	       !(b->flags & HPL_RANGE_SPLIT);
}

/* Scores within merge_ratio percent of each other (two zeros are alike). */
static bool hpl_alike(const struct hpl_range *a, const struct hpl_range *b,
		      unsigned int ratio)
{
	return hpl_cmp_mul(max(a->score, b->score), 100,
			   min(a->score, b->score), ratio) <= 0;
}

/* How unlike two scores are: their ratio, 1 << HPL_RATIO_SHIFT for equal. */
static u64 hpl_unlikeness(const struct hpl_range *a, const struct hpl_range *b)
{
	u64 hi = max(a->score, b->score), lo = min(a->score, b->score);

	if (hi == lo)
		return 1ULL << HPL_RATIO_SHIFT;
	if (!lo || (hi >> (64 - HPL_RATIO_SHIFT)) >= lo)
		return U64_MAX;
	return mul_u64_u64_div_u64(hi, 1ULL << HPL_RATIO_SHIFT, lo);
}

/*
 * Merge @b, which follows @a, into @a.  The score is the average of both
 * weighted by size; the age is the smaller one.
 */
static int hpl_range_merge(struct hpl_space *space, const struct hpl_params *p,
			   struct hpl_range *a, struct hpl_range *b)
{
	u64 alen = a->end - a->start, blen = b->end - b->start;

	if (hpl_tree_store(space, a->start, b->end, a))
		return -ENOMEM;
	if (a->score <= b->score)
		a->score += mul_u64_u64_div_u64(b->score - a->score, blen,
						alen + blen);
	else
		a->score = b->score + mul_u64_u64_div_u64(a->score - b->score,
							  alen, alen + blen);
	a->last_fmem = hpl_add(a->last_fmem, b->last_fmem);
	a->last_smem = hpl_add(a->last_smem, b->last_smem);
	a->age = min(a->age, b->age);
	trace_hplacement_merge(space->id, a->start, b->start, b->end,
			       a->score);
	hpl_range_set(a, a->start, b->end, p->min_range_size);
	space->nr_ranges--;
	space->nr_merges++;
	kfree(b);
	return 0;
}

/* Merge contiguous alike ranges while they stay within max_range_size. */
static unsigned int hpl_merge_alike(struct hpl_space *space,
				    const struct hpl_params *p)
{
	struct hpl_range *r = hpl_range_from(space, 0), *next;
	unsigned int merges = 0;

	while (r) {
		next = hpl_range_from(space, r->end);
		if (next && hpl_mergeable(r, next) &&
		    next->end - r->start <= p->max_range_size &&
		    hpl_alike(r, next, p->merge_ratio) &&
		    !hpl_range_merge(space, p, r, next)) {
			merges++;
			continue;	/* r grew: try its new neighbour */
		}
		r = next;
	}
	return merges;
}

struct hpl_pair {
	unsigned int idx;
	u64 unlikeness;
};

static int hpl_pair_cmp(const void *a, const void *b)
{
	const struct hpl_pair *x = a, *y = b;

	if (x->unlikeness != y->unlikeness)
		return x->unlikeness < y->unlikeness ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * One round of max count enforcement: merge the most alike contiguous
 * pairs (lowest address first among equals), each range at most once,
 * until the space fits.  The maximum range size does not apply here: the
 * count bounds memory and time, it wins.  Returns the merges done (0 when
 * no contiguous ranges are left) or -ENOMEM.
 */
static int hpl_enforce_round(struct hpl_space *space,
			     const struct hpl_params *p)
{
	unsigned int n = space->nr_ranges, nr_pairs = 0, merges = 0, i, k;
	unsigned int excess = space->nr_ranges - p->max_nr_ranges;
	struct hpl_range **v, *r;
	struct hpl_pair *pairs;
	unsigned long *used;
	int ret = -ENOMEM;

	v = kvmalloc_array(n, sizeof(*v), GFP_KERNEL);
	pairs = kvmalloc_array(n, sizeof(*pairs), GFP_KERNEL);
	used = bitmap_zalloc(n, GFP_KERNEL);
	if (!v || !pairs || !used)
		goto out;

	for (i = 0, r = hpl_range_from(space, 0); r && i < n;
	     r = hpl_range_from(space, r->end))
		v[i++] = r;
	n = i;
	for (i = 0; i + 1 < n; i++)
		if (hpl_mergeable(v[i], v[i + 1]) &&
		    v[i + 1]->end - v[i]->start <= HPL_RANGE_SIZE_LIMIT) {
			pairs[nr_pairs].idx = i;
			pairs[nr_pairs].unlikeness = hpl_unlikeness(v[i],
								    v[i + 1]);
			nr_pairs++;
		}
	sort(pairs, nr_pairs, sizeof(*pairs), hpl_pair_cmp, NULL);

	for (k = 0; k < nr_pairs && merges < excess; k++) {
		i = pairs[k].idx;
		if (test_bit(i, used) || test_bit(i + 1, used))
			continue;
		if (hpl_range_merge(space, p, v[i], v[i + 1]))
			continue;
		__set_bit(i, used);
		__set_bit(i + 1, used);
		merges++;
	}
	ret = merges;
out:
	bitmap_free(used);
	kvfree(pairs);
	kvfree(v);
	return ret;
}

static int hpl_range_cand_cmp(const void *a, const void *b)
{
	const struct hpl_range *x = *(const struct hpl_range **)a;
	const struct hpl_range *y = *(const struct hpl_range **)b;
	u64 nx = (u64)x->nr_lo + x->nr_hi, ny = (u64)y->nr_lo + y->nr_hi;

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return x->start < y->start ? -1 : 1;
}

/*
 * Split the candidates while the space has room, those with the most
 * samples first; fold the others.  Returns the number of splits.
 */
static unsigned int hpl_split_candidates(struct hpl_space *space,
					 const struct hpl_params *p,
					 unsigned int nr_cand)
{
	unsigned int room = 0, splits = 0, i;
	struct hpl_range **cand, *r;

	if (p->max_nr_ranges > space->nr_ranges)
		room = p->max_nr_ranges - space->nr_ranges;
	if (nr_cand > room && room) {
		cand = kvmalloc_array(nr_cand, sizeof(*cand), GFP_KERNEL);
		if (cand) {
			i = 0;
			for (r = hpl_range_from(space, 0); r;
			     r = hpl_range_from(space, r->end))
				if ((r->flags & HPL_RANGE_SPLIT) && i < nr_cand)
					cand[i++] = r;
			sort(cand, i, sizeof(*cand), hpl_range_cand_cmp, NULL);
			while (i > room)
				hpl_range_fold(cand[--i], p);
			kvfree(cand);
		}
	}

	for (r = hpl_range_from(space, 0); r; r = hpl_range_from(space, r->end)) {
		if (!(r->flags & HPL_RANGE_SPLIT))
			continue;
		if (room && hpl_range_split(space, p, r)) {
			room--;
			splits++;
			/* r is now the lower half: skip the upper one too */
			r = hpl_range_from(space, r->end);
		} else {
			hpl_range_fold(r, p);
		}
	}
	return splits;
}

/**
 * hpl_space_end_interval - fold an interval's samples and adapt the ranges
 * @space: the address space
 * @p: parameters
 * @stats: if not NULL, what was done
 *
 * Every range's score decays and takes in the density of the interval's
 * samples, its age grows by one and its counts restart from zero.  Then
 * alike neighbours merge, ranges whose halves differ split (the halves
 * start at age 0 and are not merged before the next interval), and a space
 * with more than max_nr_ranges ranges merges its most alike neighbours.
 * Only a space with more separate areas than max_nr_ranges keeps more
 * ranges: a range never spans a hole.
 *
 * Return: 0, or -ENOMEM when the maximum number of ranges could not be
 * enforced for lack of memory.
 */
int hpl_space_end_interval(struct hpl_space *space, const struct hpl_params *p,
			   struct hpl_interval_stats *stats)
{
	unsigned int nr_cand = 0, merges, splits;
	unsigned long point;
	struct hpl_range *r;
	int ret = 0, round;

	mutex_lock(&space->lock);
	for (r = hpl_range_from(space, 0); r; r = hpl_range_from(space, r->end)) {
		if (!hpl_range_live(r))
			continue;
		point = hpl_split_point(r->start, r->end, p->min_range_size);
		if (hpl_want_split(r, p, point)) {
			r->flags |= HPL_RANGE_SPLIT;
			nr_cand++;
			continue;
		}
		hpl_range_fold(r, p);
	}

	merges = hpl_merge_alike(space, p);
	splits = hpl_split_candidates(space, p, nr_cand);
	space->nr_splits += splits;

	while (space->nr_ranges > p->max_nr_ranges) {
		round = hpl_enforce_round(space, p);
		if (round <= 0) {
			ret = round;
			break;
		}
		merges += round;
	}

	if (stats) {
		stats->nr_splits = splits;
		stats->nr_merges = merges;
		stats->nr_ranges = space->nr_ranges;
	}
	mutex_unlock(&space->lock);
	return ret;
}

/**
 * hpl_space_snapshot - copy the live ranges of a space for the ranking
 * @space: the address space
 * @entries: where to copy them, in address order
 * @max: room in @entries
 *
 * Return: the number of entries filled.
 */
unsigned int hpl_space_snapshot(struct hpl_space *space,
				struct hpl_rank_entry *entries,
				unsigned int max)
{
	struct hpl_rank_entry *e;
	unsigned int n = 0;
	struct hpl_range *r;

	mutex_lock(&space->lock);
	for (r = hpl_range_from(space, 0); r && n < max;
	     r = hpl_range_from(space, r->end)) {
		if (!hpl_range_live(r))
			continue;
		e = &entries[n++];
		e->space_id = space->id;
		e->start = r->start;
		e->end = r->end;
		e->bytes = r->end - r->start;
		e->score = r->score;
		e->age = r->age;
		e->last_fmem = r->last_fmem;
		e->last_smem = r->last_smem;
		e->class = HPL_COLD;
		e->hot_bytes = 0;
	}
	mutex_unlock(&space->lock);
	return n;
}

/*
 * Ranking order: score descending; among equal scores the older range
 * first (its score rests on more intervals), then the lower space id, then
 * the lower address.  Ranges of one space do not overlap, so this is a
 * total order and the result does not depend on the input order.
 */
static int hpl_rank_cmp(const void *a, const void *b)
{
	const struct hpl_rank_entry *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->age != y->age)
		return x->age > y->age ? -1 : 1;
	if (x->space_id != y->space_id)
		return x->space_id < y->space_id ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/**
 * hpl_fit - choose the hot set that fits in FMEM
 * @entries: ranges of any number of spaces; sorted by rank on return
 * @nr: number of entries
 * @capacity: FMEM bytes
 * @headroom: FMEM bytes to keep free
 * @res: totals
 *
 * The hot set is the hottest prefix of the ranking whose bytes fit in
 * @capacity - @headroom.  Ranges in it are HPL_HOT.  The first range that
 * does not fit entirely is HPL_PARTIAL with the page-aligned bytes that
 * are left as its &hpl_rank_entry.hot_bytes; it and every colder range end
 * the hot set, even if a colder range would fit, so that the hot set is
 * always a prefix and a colder range never displaces a hotter one.
 * Ranges without any score are never hot.
 */
/* Ranges smaller than this are left out of the hot set's mean. */
#define HPL_CORE_MIN_BYTES	PMD_SIZE

/*
 * The hot set's core: its ranges at least as dense as its mean (their
 * densities weighted by their hot bytes), a prefix of the ranking.  A hot
 * set alike throughout is all core; one that leaves FMEM room for the
 * warm rest of a buffer has its core where the buffer is hot.  The mean
 * leaves out ranges smaller than a PMD (stacks, small heaps, a library's
 * data): dense by their size alone, a handful of them raised it to the
 * density of a 32 MiB hot set, and a hot set that moved stayed warm.
 * Without a range that large, all of the hot set is core.
 */
static void hpl_fit_core(const struct hpl_rank_entry *entries,
			 struct hpl_fit_result *res)
{
	unsigned int i, nr = res->nr_hot + res->nr_partial;
	u64 mean = 0, bytes = 0;

	for (i = 0; i < nr; i++)
		if (entries[i].bytes >= HPL_CORE_MIN_BYTES)
			bytes += entries[i].hot_bytes;
	for (i = 0; i < nr && bytes; i++)
		if (entries[i].bytes >= HPL_CORE_MIN_BYTES)
			mean += mul_u64_u64_div_u64(entries[i].score,
						    entries[i].hot_bytes,
						    bytes);
	res->mean = mean;
	for (i = 0; i < nr && entries[i].score >= mean; i++)
		;
	res->nr_core = i;
}

void hpl_fit(struct hpl_rank_entry *entries, unsigned int nr, u64 capacity,
	     u64 headroom, struct hpl_fit_result *res)
{
	u64 left = capacity > headroom ? capacity - headroom : 0;
	struct hpl_rank_entry *e;
	unsigned int i;

	sort(entries, nr, sizeof(*entries), hpl_rank_cmp, NULL);
	memset(res, 0, sizeof(*res));
	res->budget = left;
	res->threshold = U64_MAX;
	for (i = 0; i < nr; i++) {
		entries[i].class = HPL_COLD;
		entries[i].hot_bytes = 0;
	}

	for (i = 0; i < nr; i++) {
		e = &entries[i];
		if (!e->score)
			break;
		if (e->bytes <= left) {
			e->class = HPL_HOT;
			e->hot_bytes = e->bytes;
			res->nr_hot++;
		} else {
			e->hot_bytes = ALIGN_DOWN(left, PAGE_SIZE);
			if (!e->hot_bytes)
				break;
			e->class = HPL_PARTIAL;
			res->nr_partial = 1;
		}
		left -= e->hot_bytes;
		res->hot_bytes += e->hot_bytes;
		res->threshold = e->score;
		if (e->class == HPL_PARTIAL)
			break;
	}
	hpl_fit_core(entries, res);
}

#include "tests/range-kunit.h"

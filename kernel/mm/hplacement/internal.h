/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HPlacement: sampled, range-based placement for tiered memory.
 *
 * Internal interfaces of the pure-logic core: the per address space range
 * classification (range.c) and the CPU budget controller (budget.c).
 */
#ifndef _MM_HPLACEMENT_INTERNAL_H
#define _MM_HPLACEMENT_INTERNAL_H

#include <linux/bits.h>
#include <linux/maple_tree.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/types.h>

/*
 * Scores are samples per byte, unsigned fixed point with HPL_SCORE_SHIFT
 * fraction bits: one sample per 16 TiB is a score of 1.  A range that
 * gets N samples in an interval has a density of
 * (N << (HPL_SCORE_SHIFT - PAGE_SHIFT)) / nr_pages, which cannot overflow
 * for N < 2^32.  The score is an exponential moving average of the
 * densities of past intervals, so it never exceeds the largest density
 * seen and a steady range's score equals its density.
 */
#define HPL_SCORE_SHIFT		44

/* Decay: weight of the old score per interval, in 1/HPL_DECAY_ONE. */
#define HPL_DECAY_SHIFT		10
#define HPL_DECAY_ONE		BIT(HPL_DECAY_SHIFT)

/* Largest max_range_size: keeps page counts below 2^28. */
#define HPL_RANGE_SIZE_LIMIT	\
	((unsigned long)min_t(u64, SZ_1T, ULONG_MAX / 2 + 1))

/**
 * struct hpl_params - classification parameters, shared by all spaces
 * @min_range_size: splits never make a range smaller (power of two, at
 *	least PAGE_SIZE).  A range may still be smaller when its VMA is.
 * @max_range_size: new ranges and merges stay within it (power of two,
 *	at least @min_range_size, at most HPL_RANGE_SIZE_LIMIT).
 * @max_nr_ranges: per space; splits stop there and the most alike
 *	neighbours are merged while a space has more.
 * @decay: weight of the old score at the end of an interval, in
 *	1/HPL_DECAY_ONE (0: only the last interval counts).
 * @split_ratio: split a range when the sample density of one half exceeds
 *	the other's by more than this, in percent (> 100).
 * @split_min_samples: and only when both halves got at least this many
 *	samples together in the interval, so that noise does not split.
 * @merge_ratio: merge contiguous ranges whose scores differ by at most
 *	this, in percent (>= 100, < @split_ratio so that merges do not undo
 *	splits).
 */
struct hpl_params {
	unsigned long min_range_size;
	unsigned long max_range_size;
	unsigned int max_nr_ranges;
	unsigned int decay;
	unsigned int split_ratio;
	unsigned int split_min_samples;
	unsigned int merge_ratio;
};

/* struct hpl_range flags */
#define HPL_RANGE_DEAD		0x1	/* removal failed: covers nothing */
#define HPL_RANGE_SPLIT		0x2	/* end of interval: split candidate */

/**
 * struct hpl_range - a virtual address range of a space
 * @start: first byte
 * @end: one past the last byte; both page aligned
 * @mid: split point: samples below it count in @nr_lo, others in @nr_hi
 * @nr_lo: samples of the current interval in [@start, @mid)
 * @nr_hi: samples of the current interval in [@mid, @end)
 * @nr_fmem: samples of the current interval on FMEM
 * @nr_smem: samples of the current interval on SMEM
 * @last_fmem: @nr_fmem of the last finished interval
 * @last_smem: @nr_smem of the last finished interval
 * @score: decayed samples per byte (see HPL_SCORE_SHIFT)
 * @age: finished intervals since the range got its shape
 * @flags: HPL_RANGE_*
 */
struct hpl_range {
	unsigned long start;
	unsigned long end;
	unsigned long mid;
	u32 nr_lo;
	u32 nr_hi;
	u32 nr_fmem;
	u32 nr_smem;
	u32 last_fmem;
	u32 last_smem;
	u64 score;
	unsigned int age;
	unsigned int flags;
};

/**
 * struct hpl_space - the ranges of one address space
 * @lock: serialises every operation on the space; external lock of @tree
 * @tree: [start, end - 1] -> struct hpl_range
 * @id: stable identifier, the last tie breaker of the ranking
 * @nr_ranges: ranges in @tree, dead ones included
 * @nr_samples: samples recorded in a range, since init
 * @nr_dropped: samples that hit no range, since init
 * @nr_splits: splits since init
 * @nr_merges: merges since init
 */
struct hpl_space {
	struct mutex lock;		/* serialises all of the space */
	struct maple_tree tree;
	u64 id;
	unsigned int nr_ranges;
	u64 nr_samples;
	u64 nr_dropped;
	u64 nr_splits;
	u64 nr_merges;
};

/**
 * struct hpl_area - a [start, end) interval of mapped memory
 * @start: page aligned
 * @end: page aligned, > @start
 */
struct hpl_area {
	unsigned long start;
	unsigned long end;
};

/**
 * struct hpl_sample - one sampled access
 * @addr: virtual address
 * @fmem: the page was on FMEM (else SMEM)
 */
struct hpl_sample {
	unsigned long addr;
	bool fmem;
};

/**
 * struct hpl_interval_stats - what the end of an interval did to a space
 * @nr_splits: ranges split
 * @nr_merges: merges of alike neighbours, max count enforcement included
 * @nr_ranges: ranges afterwards
 */
struct hpl_interval_stats {
	unsigned int nr_splits;
	unsigned int nr_merges;
	unsigned int nr_ranges;
};

enum hpl_class {
	HPL_COLD,
	HPL_HOT,	/* all of the range belongs in FMEM */
	HPL_PARTIAL,	/* @hot_bytes of it fit in FMEM, the rest does not */
};

/**
 * struct hpl_rank_entry - a range as seen by the ranking
 * @space_id: &hpl_space.id
 * @start: the range
 * @end: the range
 * @bytes: bytes the range would take in FMEM
 * @score: &hpl_range.score
 * @age: &hpl_range.age
 * @last_fmem: &hpl_range.last_fmem
 * @last_smem: &hpl_range.last_smem
 * @class: output of hpl_fit()
 * @hot_bytes: output of hpl_fit(): bytes of the range that belong in FMEM
 */
struct hpl_rank_entry {
	u64 space_id;
	unsigned long start;
	unsigned long end;
	u64 bytes;
	u64 score;
	unsigned int age;
	u32 last_fmem;
	u32 last_smem;
	enum hpl_class class;
	u64 hot_bytes;
};

/**
 * struct hpl_fit_result - totals of hpl_fit()
 * @budget: bytes available for the hot set: capacity - headroom, or 0
 * @hot_bytes: sum of &hpl_rank_entry.hot_bytes
 * @nr_hot: entries classified HPL_HOT
 * @nr_partial: entries classified HPL_PARTIAL (0 or 1)
 * @threshold: score of the coldest entry with hot bytes; U64_MAX if none.
 *	Entries with a higher score are hot, entries with a lower one cold.
 * @mean: the hot set's mean score, weighted by hot bytes; 0 if none
 * @nr_core: entries first in the ranking that have hot bytes and a score
 *	of @mean or more: the hot set's core
 */
struct hpl_fit_result {
	u64 budget;
	u64 hot_bytes;
	unsigned int nr_hot;
	unsigned int nr_partial;
	u64 threshold;
	u64 mean;
	unsigned int nr_core;
};

void hpl_params_init(struct hpl_params *p);
int hpl_params_check(const struct hpl_params *p);

void hpl_space_init(struct hpl_space *space, u64 id);
void hpl_space_destroy(struct hpl_space *space);
bool hpl_space_record(struct hpl_space *space, unsigned long addr, bool fmem);
unsigned int hpl_space_record_batch(struct hpl_space *space,
				    const struct hpl_sample *samples,
				    unsigned int nr);
int hpl_space_sync(struct hpl_space *space, const struct hpl_params *p,
		   const struct hpl_area *areas, unsigned int nr);
int hpl_space_end_interval(struct hpl_space *space, const struct hpl_params *p,
			   struct hpl_interval_stats *stats);
unsigned int hpl_space_snapshot(struct hpl_space *space,
				struct hpl_rank_entry *entries,
				unsigned int max);
void hpl_fit(struct hpl_rank_entry *entries, unsigned int nr, u64 capacity,
	     u64 headroom, struct hpl_fit_result *res);

/* CPU budget controller (budget.c) */

enum hpl_stage {
	HPL_STAGE_SAMPLE,
	HPL_STAGE_CLASSIFY,
	HPL_STAGE_MIGRATE,
	HPL_NR_STAGES,
};

/* Work scales are fixed point with HPL_SCALE_SHIFT fraction bits. */
#define HPL_SCALE_SHIFT		10
#define HPL_SCALE_ONE		BIT(HPL_SCALE_SHIFT)
#define HPL_SCALE_LIMIT		(1024U * HPL_SCALE_ONE)

#define HPL_PPM			1000000U

/**
 * struct hpl_budget_params - CPU budget controller parameters
 * @budget_ppm: CPU time allowed, in parts per million of one CPU
 * @min_scale: lowest work scale
 * @max_scale: highest work scale (HPL_SCALE_ONE: the nominal work)
 * @step: additive increase per interval well under budget
 * @low_pct: "well under" is under this percentage of the budget
 */
struct hpl_budget_params {
	u32 budget_ppm;
	u32 min_scale;
	u32 max_scale;
	u32 step;
	u32 low_pct;
};

/**
 * struct hpl_budget - CPU budget controller state
 * @scale: current work scale
 * @used_ppm: CPU time used in the last interval, ppm of one CPU
 * @nr_intervals: intervals fed to the controller
 * @nr_throttles: intervals that went over budget and shrank the scale
 * @stage_ns: ns spent per stage, since init
 */
struct hpl_budget {
	u32 scale;
	u32 used_ppm;
	u64 nr_intervals;
	u64 nr_throttles;
	u64 stage_ns[HPL_NR_STAGES];
};

void hpl_budget_params_init(struct hpl_budget_params *p);
int hpl_budget_params_check(const struct hpl_budget_params *p);
void hpl_budget_init(struct hpl_budget *b, const struct hpl_budget_params *p);
u32 hpl_budget_update(struct hpl_budget *b, const struct hpl_budget_params *p,
		      const u64 stage_ns[HPL_NR_STAGES], u64 saved_ns,
		      u64 reserve_ns, u64 interval_ns);
unsigned long hpl_scale_amount(u32 scale, unsigned long nominal);
u64 hpl_scale_period(u32 scale, u64 nominal);

#endif /* _MM_HPLACEMENT_INTERNAL_H */

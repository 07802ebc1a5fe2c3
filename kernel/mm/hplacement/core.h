/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HPlacement: state shared by the daemon (core.c) and its sysfs
 * interface (sysfs.c).
 */
#ifndef _MM_HPLACEMENT_CORE_H
#define _MM_HPLACEMENT_CORE_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/types.h>

#include "internal.h"

#define HPL_INTERVAL_MS_DEFAULT	1000
#define HPL_INTERVAL_MS_MIN	10
#define HPL_INTERVAL_MS_MAX	60000
#define HPL_WINDOW_MS_DEFAULT	10000
#define HPL_WINDOW_MS_MIN	HPL_INTERVAL_MS_MIN
#define HPL_WINDOW_MS_MAX	3600000
/* After an interval that moved pages, the next may come this much sooner. */
#define HPL_HURRY_DIV		4

/*
 * SMEM samples remembered per space and interval: the PMD around each is
 * promoted before the rest of its range, so that a hot set moves first
 * even while its range is still too coarse to tell it from cold data.
 */
#define HPL_NR_HINTS		64
/* A space whose mm grew by more than 1/16 in an interval is growing. */
#define HPL_GROWING_SHIFT	4
/*
 * While a space grows, its resident memory is looked at every
 * HPL_SETTLE_POLL_MS (or half an interval_ms if shorter); once it grows at
 * less than 1/HPL_SETTLE_RATE of the rate that makes a space growing, it
 * has settled (hpl_growth_goes_on()).
 */
#define HPL_SETTLE_POLL_MS	125
#define HPL_SETTLE_RATE		8

/* Command names that sysfs "exclude" can hold. */
#define HPL_MAX_EXCLUDE		8

enum hpl_source {
	HPL_SOURCE_AUTO,
	HPL_SOURCE_ABIT,
	HPL_SOURCE_PEBS,
	HPL_SOURCE_IBS,
	HPL_NR_SOURCES,
};

/**
 * struct hpl_config - what sysfs sets, under hpl_lock
 * @enabled: the daemon samples and classifies
 * @source: enum hpl_source
 * @interval_ms: interval length
 * @window_ms: the budget holds on average over this long: budget unused
 *	for up to this long is saved and may be spent at once
 * @headroom: bytes of FMEM kept free of the hot set
 * @params: classification parameters
 * @budget: CPU budget parameters
 * @exclude: command names of processes left alone
 * @nr_exclude: entries of @exclude
 */
struct hpl_config {
	bool enabled;
	enum hpl_source source;
	unsigned int interval_ms;
	unsigned int window_ms;
	u64 headroom;
	struct hpl_params params;
	struct hpl_budget_params budget;
	char exclude[HPL_MAX_EXCLUDE][TASK_COMM_LEN];
	unsigned int nr_exclude;
};

/**
 * struct hpl_stats - what the last interval left, for the stats file
 * @nr_spaces: spaces (mms) classified
 * @nr_idle: of those, not sampled: none of their threads had run
 * @nr_growing: of those, not sampled: first touching their memory
 * @nr_ranges: their ranges
 * @scale: work scale for the next interval
 * @used_ppm: CPU time used, ppm of one CPU
 * @nr_intervals: intervals since boot
 * @nr_settled: of those, brought forward because a space settled
 * @source: enum hpl_source that samples
 */
struct hpl_stats {
	unsigned int nr_spaces;
	unsigned int nr_idle;
	unsigned int nr_growing;
	u64 nr_ranges;
	u32 scale;
	u32 used_ppm;
	u64 nr_intervals;
	u64 nr_settled;
	enum hpl_source source;
};

/**
 * struct hpl_hint - a PMD with samples on SMEM
 * @addr: its first byte
 * @nr: samples in it
 * @page: some of them are 4 KiB pages' (abit windows), not only a THP's
 */
struct hpl_hint {
	unsigned long addr;
	unsigned int nr;
	bool page;
};

/**
 * struct hpl_mm - the space of one mm
 * @node: in the daemon's hash table, hashed by @mm
 * @mm: held with mmgrab()
 * @gen: last interval the mm was found in a process
 * @runtime: CPU time of the threads that use it, when last sampled
 * @ran: the same, summed up in this interval
 * @space: its ranges
 * @windows: the abit source's windows of the current interval (of the
 *	last one, to test, when @deferred)
 * @nr_windows: entries of @windows
 * @abit_tested: pages its windows tested since @deferred was last judged
 * @abit_young: of them, found young
 * @deferred: its windows are tested at its next interval, not after the
 *	abit delay, which left few of their pages young (hpl_abit_defer())
 * @hints: the PMDs where this interval's samples on SMEM fell, with
 *	their number of samples; sorted by it, most first, before migration
 * @nr_hints: entries of @hints
 * @last_hints: the addresses of the interval before's hints, sorted
 * @nr_last_hints: entries of @last_hints
 * @nr_waiting: hints that were hints the interval before too: hot pages
 *	that stayed on SMEM for an interval (any source)
 * @rss: its resident pages when last sampled
 * @growing: @rss grew by more than an HPL_GROWING_SHIFT share of itself
 *	since the interval before: memory is being first touched
 * @poll_rss: resident pages at the last look between intervals
 * @poll_at: jiffies of that look
 * @poll_grew: that look found it still growing (hpl_poll_settled())
 * @settled: a look found it no longer growing: the next interval does
 *	not count it as growing
 * @seen: an interval has seen it before: @rss is a size it grew from
 */
struct hpl_mm {
	struct hlist_node node;
	struct mm_struct *mm;
	u64 gen;
	u64 runtime;
	u64 ran;
	struct hpl_space space;
	struct hpl_area *windows;
	unsigned int nr_windows;
	unsigned long abit_tested;
	unsigned long abit_young;
	bool deferred;
	struct hpl_hint hints[HPL_NR_HINTS];
	unsigned int nr_hints;
	unsigned long last_hints[HPL_NR_HINTS];
	unsigned int nr_last_hints;
	unsigned int nr_waiting;
	unsigned long rss;
	unsigned long poll_rss;
	unsigned long poll_at;
	bool growing;
	bool poll_grew;
	bool settled;
	bool seen;
};

extern struct mutex hpl_lock;
extern struct hpl_config hpl_config;
extern struct hpl_stats hpl_stats;
extern const char * const hpl_source_names[HPL_NR_SOURCES];

/**
 * struct hpl_allowance - what the migration stage of an interval may spend
 * @cap: pages that the credit can move
 * @stop_ns: khplacement's CPU time (task_sched_runtime()) at which the
 *	credit is spent; one batch moves in any case
 * @warm_cap: pages that the credit above the part kept for the hot set's
 *	core (hpl_fit_result.nr_core) can move, for the rest of the hot set
 * @warm_stop_ns: the CPU time at which that part is spent; 0 when there is
 *	none, and the warm ranges wait
 * @core_moved: set by hpl_migrate(): pages it moved for the core
 */
struct hpl_allowance {
	unsigned long cap;
	u64 stop_ns;
	unsigned long warm_cap;
	u64 warm_stop_ns;
	unsigned long core_moved;
};

void hpl_wake(void);
unsigned long hpl_migrate(struct hpl_mm **hms, unsigned int nr, u32 scale,
			  u64 headroom, struct hpl_allowance *allow);
void hpl_hotness_clear(void);
int hpl_sysfs_init(void);

#endif /* _MM_HPLACEMENT_CORE_H */

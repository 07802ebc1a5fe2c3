/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hplacement

#if !defined(_TRACE_HPLACEMENT_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_HPLACEMENT_H

#include <linux/tracepoint.h>

/* A range split at @mid: [@start, @mid) had @nr_lo samples, the rest @nr_hi. */
TRACE_EVENT(hplacement_split,

	TP_PROTO(u64 space, unsigned long start, unsigned long mid,
		 unsigned long end, u32 nr_lo, u32 nr_hi),

	TP_ARGS(space, start, mid, end, nr_lo, nr_hi),

	TP_STRUCT__entry(
		__field(u64, space)
		__field(unsigned long, start)
		__field(unsigned long, mid)
		__field(unsigned long, end)
		__field(u32, nr_lo)
		__field(u32, nr_hi)
	),

	TP_fast_assign(
		__entry->space = space;
		__entry->start = start;
		__entry->mid = mid;
		__entry->end = end;
		__entry->nr_lo = nr_lo;
		__entry->nr_hi = nr_hi;
	),

	TP_printk("space=%llu range=0x%lx-0x%lx at=0x%lx samples=%u/%u",
		  __entry->space, __entry->start, __entry->end, __entry->mid,
		  __entry->nr_lo, __entry->nr_hi)
);

/* Two neighbours [@start, @mid) and [@mid, @end) merged. */
TRACE_EVENT(hplacement_merge,

	TP_PROTO(u64 space, unsigned long start, unsigned long mid,
		 unsigned long end, u64 score),

	TP_ARGS(space, start, mid, end, score),

	TP_STRUCT__entry(
		__field(u64, space)
		__field(unsigned long, start)
		__field(unsigned long, mid)
		__field(unsigned long, end)
		__field(u64, score)
	),

	TP_fast_assign(
		__entry->space = space;
		__entry->start = start;
		__entry->mid = mid;
		__entry->end = end;
		__entry->score = score;
	),

	TP_printk("space=%llu range=0x%lx-0x%lx at=0x%lx score=%llu",
		  __entry->space, __entry->start, __entry->end, __entry->mid,
		  __entry->score)
);

/* One batch given to exchange_folios(): @nr_pairs paired, @nr_done done. */
TRACE_EVENT(hplacement_exchange_batch,

	TP_PROTO(unsigned long nr_hot, unsigned long nr_cold,
		 unsigned int nr_pairs, unsigned int nr_done),

	TP_ARGS(nr_hot, nr_cold, nr_pairs, nr_done),

	TP_STRUCT__entry(
		__field(unsigned long, nr_hot)
		__field(unsigned long, nr_cold)
		__field(unsigned int, nr_pairs)
		__field(unsigned int, nr_done)
	),

	TP_fast_assign(
		__entry->nr_hot = nr_hot;
		__entry->nr_cold = nr_cold;
		__entry->nr_pairs = nr_pairs;
		__entry->nr_done = nr_done;
	),

	TP_printk("hot_pages=%lu cold_pages=%lu pairs=%u exchanged=%u",
		  __entry->nr_hot, __entry->nr_cold, __entry->nr_pairs,
		  __entry->nr_done)
);

/*
 * What the migration stage of an interval did, in pages; how many ranges
 * the hot set's core had, and whether its warm rest waited for credit.
 */
TRACE_EVENT(hplacement_migrate,

	TP_PROTO(u64 hot_bytes, unsigned long room, unsigned long headroom,
		 unsigned long promoted, unsigned long demoted,
		 unsigned long failed, unsigned int core, bool held),

	TP_ARGS(hot_bytes, room, headroom, promoted, demoted, failed, core,
		held),

	TP_STRUCT__entry(
		__field(u64, hot_bytes)
		__field(unsigned long, room)
		__field(unsigned long, headroom)
		__field(unsigned long, promoted)
		__field(unsigned long, demoted)
		__field(unsigned long, failed)
		__field(unsigned int, core)
		__field(bool, held)
	),

	TP_fast_assign(
		__entry->hot_bytes = hot_bytes;
		__entry->room = room;
		__entry->headroom = headroom;
		__entry->promoted = promoted;
		__entry->demoted = demoted;
		__entry->failed = failed;
		__entry->core = core;
		__entry->held = held;
	),

	TP_printk("hot_bytes=%llu fmem_room=%lu headroom=%lu promoted=%lu demoted=%lu failed=%lu core_ranges=%u warm_held=%d",
		  __entry->hot_bytes, __entry->room, __entry->headroom,
		  __entry->promoted,
		  __entry->demoted, __entry->failed, __entry->core,
		  __entry->held)
);

/*
 * The abit source's rounds over one chunk of THPs: @tested in the first,
 * walked in @walk_ns of wall time; @young of them young in the last of
 * @rounds rounds, @wait_us apart (spinning if @spin), which took @cpu_ns
 * of khplacement's CPU time in all.
 */
TRACE_EVENT(hplacement_abit_chunk,

	TP_PROTO(u64 space, unsigned long start, u32 tested, u64 walk_ns,
		 u32 rounds, u32 young, u32 wait_us, bool spin, u64 cpu_ns),

	TP_ARGS(space, start, tested, walk_ns, rounds, young, wait_us, spin,
		cpu_ns),

	TP_STRUCT__entry(
		__field(u64, space)
		__field(unsigned long, start)
		__field(u64, walk_ns)
		__field(u64, cpu_ns)
		__field(u32, tested)
		__field(u32, rounds)
		__field(u32, young)
		__field(u32, wait_us)
		__field(bool, spin)
	),

	TP_fast_assign(
		__entry->space = space;
		__entry->start = start;
		__entry->walk_ns = walk_ns;
		__entry->cpu_ns = cpu_ns;
		__entry->tested = tested;
		__entry->rounds = rounds;
		__entry->young = young;
		__entry->wait_us = wait_us;
		__entry->spin = spin;
	),

	TP_printk("space=%llu from=0x%lx tested=%u walk_ns=%llu rounds=%u young=%u wait_us=%u%s cpu_ns=%llu",
		  __entry->space, __entry->start, __entry->tested,
		  __entry->walk_ns, __entry->rounds, __entry->young,
		  __entry->wait_us, __entry->spin ? " spin" : "",
		  __entry->cpu_ns)
);

/* The budget controller's decision at the end of an interval. */
TRACE_EVENT(hplacement_budget,

	TP_PROTO(u64 sample_ns, u64 classify_ns, u64 migrate_ns, u32 used_ppm,
		 u32 budget_ppm, u32 old_scale, u32 new_scale),

	TP_ARGS(sample_ns, classify_ns, migrate_ns, used_ppm, budget_ppm,
		old_scale, new_scale),

	TP_STRUCT__entry(
		__field(u64, sample_ns)
		__field(u64, classify_ns)
		__field(u64, migrate_ns)
		__field(u32, used_ppm)
		__field(u32, budget_ppm)
		__field(u32, old_scale)
		__field(u32, new_scale)
	),

	TP_fast_assign(
		__entry->sample_ns = sample_ns;
		__entry->classify_ns = classify_ns;
		__entry->migrate_ns = migrate_ns;
		__entry->used_ppm = used_ppm;
		__entry->budget_ppm = budget_ppm;
		__entry->old_scale = old_scale;
		__entry->new_scale = new_scale;
	),

	TP_printk("sample_ns=%llu classify_ns=%llu migrate_ns=%llu used_ppm=%u budget_ppm=%u scale=%u->%u%s",
		  __entry->sample_ns, __entry->classify_ns,
		  __entry->migrate_ns, __entry->used_ppm, __entry->budget_ppm,
		  __entry->old_scale, __entry->new_scale,
		  __entry->new_scale < __entry->old_scale ? " throttled" : "")
);

#endif /* _TRACE_HPLACEMENT_H */

/* This part must be outside protection */
#include <trace/define_trace.h>

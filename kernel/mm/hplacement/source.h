/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HPlacement: sampling sources.
 *
 * The PMU sources (PEBS on Intel, IBS on AMD) run in NMI context and only
 * append raw samples to a per-CPU ring; the debugfs injector appends to a
 * ring of its own.  khplacement drains the rings once per interval,
 * resolves each address to its page in process context, and records the
 * samples in the ranges of their space.  The accessed-bit source (abit,
 * core.c) needs no PMU and records its samples directly.
 */
#ifndef _MM_HPLACEMENT_SOURCE_H
#define _MM_HPLACEMENT_SOURCE_H

#include <linux/types.h>

#include "core.h"

struct mm_struct;
struct perf_sample_data;
struct pt_regs;

/* Where a raw sample came from; also indexes the per-origin counters. */
enum hpl_origin {
	HPL_ORIGIN_PEBS,
	HPL_ORIGIN_IBS,
	HPL_ORIGIN_INJECT,
	HPL_NR_ORIGINS,
};

/**
 * struct hpl_raw_sample - a sampled data access, not resolved yet
 * @mm: the address space, as an identity only: never dereferenced
 * @addr: user virtual address of the access
 * @origin: enum hpl_origin
 * @store: the access was a store
 */
struct hpl_raw_sample {
	struct mm_struct *mm;
	unsigned long addr;
	u8 origin;
	u8 store;
};

/**
 * struct hpl_ring - a single-producer single-consumer ring of samples
 * @head: next slot the producer writes; only the producer stores it
 * @tail: next slot the consumer reads; only the consumer stores it
 * @mask: number of slots - 1, the number of slots a power of two
 * @nr_lost: samples the producer found no room for
 * @handler_ns: time the producer spent in its sampling handler
 * @slots: the samples
 */
struct hpl_ring {
	u32 head;
	u32 tail;
	u32 mask;
	u64 nr_lost;
	u64 handler_ns;
	struct hpl_raw_sample *slots;
};

void hpl_ring_init(struct hpl_ring *r, struct hpl_raw_sample *slots,
		   u32 nr_slots);
u32 hpl_ring_room(const struct hpl_ring *r);
bool hpl_ring_push(struct hpl_ring *r, const struct hpl_raw_sample *s);
unsigned int hpl_ring_pop(struct hpl_ring *r, struct hpl_raw_sample *out,
			  unsigned int max);

/* Bit of enum hpl_source in a mask of available sources. */
#define HPL_SOURCE_BIT(src)	BIT(src)

int hpl_source_pick(enum hpl_source want, unsigned int avail);
unsigned int hpl_sources_available(enum hpl_source running);

/* PMU sources (pmu.c); without PERF_EVENTS on x86 none is available. */
#if defined(CONFIG_X86) && defined(CONFIG_PERF_EVENTS)
bool hpl_pebs_decode(const struct perf_sample_data *data,
		     struct pt_regs *regs, unsigned long *addr);
bool hpl_ibs_decode(const void *raw, u32 size, unsigned long *addr,
		    bool *store);
int hpl_pmu_probe(enum hpl_source src);
int hpl_pmu_start(enum hpl_source src, u32 scale);
void hpl_pmu_stop(void);
void hpl_pmu_set_scale(u32 scale);
#else
static inline int hpl_pmu_probe(enum hpl_source src)
{
	return -ENODEV;
}

static inline int hpl_pmu_start(enum hpl_source src, u32 scale)
{
	return -ENODEV;
}

static inline void hpl_pmu_stop(void)
{
}

static inline void hpl_pmu_set_scale(u32 scale)
{
}
#endif

/* The rings (source.c). */
int hpl_pmu_rings_alloc(void);
void hpl_pmu_ring_push(struct mm_struct *mm, unsigned long addr,
		       enum hpl_origin origin, bool store, u64 t0);
unsigned int hpl_rings_drain(struct hpl_raw_sample *out, unsigned int max,
			     u64 *lost, u64 *handler_ns);
int hpl_source_debugfs_init(void);

#endif /* _MM_HPLACEMENT_SOURCE_H */

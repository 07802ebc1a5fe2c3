/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Slow-tier emulation under TCG: guest data accesses to the RAM of NUMA
 * nodes that ACPI HMAT describes as slower than the fastest node pay the
 * difference in latency, and are counted per node and per vCPU.
 *
 * Copyright (c) 2026 hetero-tiering
 */
#ifndef ACCEL_TCG_TIER_EMULATION_H
#define ACCEL_TCG_TIER_EMULATION_H

#include "exec/mmu-access-type.h"

/* Kinds of access the slow path reports. */
typedef enum TierAccessKind {
    TIER_ACCESS_LOAD,
    TIER_ACCESS_STORE,
    TIER_ACCESS_RMW,            /* atomic read-modify-write */
} TierAccessKind;

typedef struct TierEmuCPU TierEmuCPU;

/* True when -accel tcg,tier-emulation=on; never changes once vCPUs run. */
extern bool tier_emu_enabled;

/*
 * tier_emu_page_node:
 * @cpu: the vCPU filling its TLB
 * @mr: the RAM MemoryRegion the page resolved to
 *
 * Returns the NUMA node whose memory backend is @mr when accesses of @cpu
 * to it must take the slow path (the node is slower than the fastest node
 * for @cpu's initiator, or tier-stats=all), else -1.
 */
int tier_emu_page_node(CPUState *cpu, MemoryRegion *mr);

/*
 * tier_emu_access:
 * @cpu: the accessing vCPU (its own thread)
 * @node: the node from tier_emu_page_node()
 * @paddr: guest physical address of the access
 * @size: bytes accessed
 * @kind: load, store or atomic read-modify-write
 *
 * Count the access and, when it misses the vCPU's cache filter, charge the
 * node's extra latency; busy-waits once the charged latency exceeds a
 * quantum.
 */
void tier_emu_access(CPUState *cpu, unsigned node, uint64_t paddr,
                     unsigned size, TierAccessKind kind);

static inline TierAccessKind tier_emu_kind(MMUAccessType type)
{
    return type == MMU_DATA_STORE ? TIER_ACCESS_STORE : TIER_ACCESS_LOAD;
}

/*
 * tier_emu_dma_delay_ns:
 * @mr: a RAM MemoryRegion
 * @len: bytes a device reads and writes in @mr, line by line
 *
 * Returns the latency node 0's CPUs would be charged for loading @len
 * bytes of @mr once (one miss per line), or 0 when @mr is not a slower
 * node's memory or tier emulation is off.  Devices that move guest memory
 * for the guest wait this long, so that they are no faster than the
 * emulated slow tier.
 */
uint64_t tier_emu_dma_delay_ns(MemoryRegion *mr, uint64_t len);

/* vCPU life cycle (tcg_exec_realizefn/unrealizefn). */
bool tier_emu_cpu_realize(CPUState *cpu, Error **errp);
void tier_emu_cpu_unrealize(CPUState *cpu);

/* Add the tier-* properties to the TCG accelerator class. */
void tier_emu_accel_class_init(ObjectClass *oc);

#endif

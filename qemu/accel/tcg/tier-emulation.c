/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Slow-tier emulation under TCG.
 *
 * With -accel tcg,tier-emulation=on, the TLB entries of pages that belong
 * to the memory backend of a NUMA node slower than the fastest node (per
 * ACPI HMAT, for the vCPU's initiator node) get TLB_TIER, which forces
 * guest data accesses to them through the slow path.  There
 * tier_emu_access() counts the access per vCPU and node, looks its line
 * up in a small per-vCPU set-associative tag array (the cache filter),
 * and charges the node's extra latency on a miss.  Charged latency
 * accumulates per vCPU and is paid by busy-waiting on the host clock once
 * it exceeds a quantum, so the clock is read rarely.
 *
 * A page that moves between nodes gets a new guest-physical address: the
 * guest flushes its TLB entry and the refill resolves the new node.
 *
 * Copyright (c) 2026 hetero-tiering
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-commands-tier.h"
#include "qapi/qapi-types-tier.h"
#include "qom/object.h"
#include "hw/core/cpu.h"
#include "hw/boards.h"
#include "system/hostmem.h"
#include "system/numa.h"
#include "system/system.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qobject/qdict.h"
#include "accel/tcg/tier-emulation.h"
#include "trace.h"

#define TIER_LINE_BITS      6
#define TIER_LINE_SIZE      (1u << TIER_LINE_BITS)
#define TIER_MAX_WAYS       64
#define TIER_MAX_CACHE      (1 * GiB)
/* Busy-wait once this much latency is owed; bounds clock reads. */
#define TIER_QUANTUM_NS     10000
#define TIER_MAX_CREDIT_NS  (100 * 1000 * 1000)

typedef struct TierCounters {
    uint64_t loads;
    uint64_t stores;
    uint64_t load_misses;
    uint64_t store_misses;
    uint64_t delay_ns;
} TierCounters;

struct TierEmuCPU {
    int initiator;
    /* Cache filter: sets * ways line tags (line number + 1; 0 = empty). */
    uint64_t *tags;
    uint64_t set_mask;
    /* Latency owed (positive) or overpaid (negative), ns. */
    int64_t debt_ns;
    uint64_t stall_ns;
    /* Written by the vCPU thread only; read with qatomic_read_u64. */
    TierCounters cnt[MAX_NODES];
    /* Snapshot taken at the last reset (BQL). */
    TierCounters base[MAX_NODES];
    uint64_t stall_base;
};

typedef struct TierLat {
    uint32_t load_ns, store_ns;
    uint32_t extra_load_ns, extra_store_ns;
    bool slow_path;
} TierLat;

bool tier_emu_enabled;

static struct {
    TierStatsMode stats;
    uint64_t cache_size;
    uint32_t cache_ways;
    bool ready;                         /* tables below are built */
    int nr_nodes;
    MemoryRegion *node_mr[MAX_NODES];
    TierLat *lat;                       /* [initiator * nr_nodes + target] */
    Notifier init_done;
} tier = {
    .stats = TIER_STATS_MODE_SLOW,
    .cache_size = 1 * MiB,
    .cache_ways = 8,
};

static inline TierLat *tier_lat(int initiator, int target)
{
    return &tier.lat[initiator * tier.nr_nodes + target];
}

/* --- configuration -------------------------------------------------- */

static bool tier_check_cache(uint64_t size, uint32_t ways, Error **errp)
{
    uint64_t sets;

    if (size == 0) {
        return true;
    }
    sets = size / TIER_LINE_SIZE / ways;
    if (size % (TIER_LINE_SIZE * ways) || !is_power_of_2(sets)) {
        error_setg(errp, "tier-cache-size %" PRIu64 " must be 0 or a "
                   "power-of-two number of sets of tier-cache-ways (%u) "
                   "%u-byte lines", size, ways, TIER_LINE_SIZE);
        return false;
    }
    return true;
}

/* HMAT latency in ns from initiator to target, or 0 if not given. */
static uint64_t tier_hmat_latency(NumaState *ns, int type, int initiator,
                                  int target)
{
    HMAT_LB_Info *lb = ns->hmat_lb[HMAT_LB_MEM_MEMORY][type];
    unsigned i;

    if (!lb) {
        return 0;
    }
    for (i = 0; i < lb->list->len; i++) {
        HMAT_LB_Data *d = &g_array_index(lb->list, HMAT_LB_Data, i);

        if (d->initiator == initiator && d->target == target) {
            return d->data;
        }
    }
    return 0;
}

static int tier_cpu_node(CPUState *cpu)
{
    int64_t node = -1;

    if (object_property_find(OBJECT(cpu), "node-id")) {
        node = object_property_get_int(OBJECT(cpu), "node-id", NULL);
    }
    return node >= 0 && node < tier.nr_nodes ? node : 0;
}

static void tier_build_tables(MachineState *ms)
{
    NumaState *ns = ms->numa_state;
    int n = ns ? ns->num_nodes : 0;
    bool any_slow = false;
    int i, t;

    if (n == 0) {
        error_report("tier-emulation=on needs NUMA nodes (-numa node,memdev=)");
        exit(1);
    }
    tier.nr_nodes = n;
    tier.lat = g_new0(TierLat, n * n);
    for (t = 0; t < n; t++) {
        if (ns->nodes[t].node_memdev) {
            tier.node_mr[t] =
                host_memory_backend_get_memory(ns->nodes[t].node_memdev);
        }
    }
    for (i = 0; i < n; i++) {
        uint64_t min_load = UINT64_MAX, min_store = UINT64_MAX;

        for (t = 0; t < n; t++) {
            TierLat *l = tier_lat(i, t);
            uint64_t acc = tier_hmat_latency(ns, HMAT_LB_DATA_ACCESS_LATENCY,
                                             i, t);
            uint64_t rd = tier_hmat_latency(ns, HMAT_LB_DATA_READ_LATENCY,
                                            i, t);
            uint64_t wr = tier_hmat_latency(ns, HMAT_LB_DATA_WRITE_LATENCY,
                                            i, t);

            l->load_ns = MIN(rd ? rd : acc, UINT32_MAX);
            l->store_ns = MIN(wr ? wr : acc, UINT32_MAX);
            if (tier.node_mr[t] && l->load_ns) {
                min_load = MIN(min_load, l->load_ns);
            }
            if (tier.node_mr[t] && l->store_ns) {
                min_store = MIN(min_store, l->store_ns);
            }
        }
        for (t = 0; t < n; t++) {
            TierLat *l = tier_lat(i, t);

            if (!tier.node_mr[t]) {
                continue;
            }
            l->extra_load_ns = l->load_ns ? l->load_ns - min_load : 0;
            l->extra_store_ns = l->store_ns ? l->store_ns - min_store : 0;
            l->slow_path = tier.stats == TIER_STATS_MODE_ALL ||
                           l->extra_load_ns || l->extra_store_ns;
            any_slow |= l->extra_load_ns || l->extra_store_ns;
            trace_tier_emu_latency(i, t, l->load_ns, l->store_ns,
                                   l->extra_load_ns, l->extra_store_ns,
                                   l->slow_path);
        }
    }
    if (!any_slow) {
        warn_report("tier-emulation: no node is slower than the fastest one "
                    "(-numa hmat-lb,hierarchy=memory,data-type=access-latency)"
                    "; no latency is added");
    }
}

static void tier_machine_init_done(Notifier *notifier, void *data)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    CPUState *cpu;

    if (!tier_emu_enabled) {
        return;                 /* turned on, then off again */
    }
    tier_build_tables(ms);
    CPU_FOREACH(cpu) {
        if (cpu->tier_emu) {
            cpu->tier_emu->initiator = tier_cpu_node(cpu);
        }
    }
    /* Before any vCPU runs; no TLB entry was filled yet. */
    qatomic_store_release(&tier.ready, true);
}

/* The tables and every vCPU's filter are sized once, at start-up. */
static bool tier_settable(const char *name, Error **errp)
{
    if (phase_check(PHASE_MACHINE_READY)) {
        error_setg(errp, "%s cannot change at run time", name);
        return false;
    }
    return true;
}

static bool tier_get_enabled(Object *obj, Error **errp)
{
    return tier_emu_enabled;
}

static void tier_set_enabled(Object *obj, bool value, Error **errp)
{
    if (!tier_settable("tier-emulation", errp)) {
        return;
    }
    if (value && !tier.init_done.notify) {
        tier.init_done.notify = tier_machine_init_done;
        qemu_add_machine_init_done_notifier(&tier.init_done);
    }
    tier_emu_enabled = value;
}

static int tier_get_stats(Object *obj, Error **errp)
{
    return tier.stats;
}

static void tier_set_stats(Object *obj, int value, Error **errp)
{
    if (!tier_settable("tier-stats", errp)) {
        return;
    }
    tier.stats = value;
}

static void tier_get_cache_size(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    uint64_t value = tier.cache_size;

    visit_type_size(v, name, &value, errp);
}

static void tier_set_cache_size(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    uint64_t value;

    if (!tier_settable(name, errp) || !visit_type_size(v, name, &value, errp)) {
        return;
    }
    if (value > TIER_MAX_CACHE) {
        error_setg(errp, "tier-cache-size %" PRIu64 " exceeds %" PRIu64,
                   value, (uint64_t)TIER_MAX_CACHE);
        return;
    }
    tier.cache_size = value;
}

static void tier_get_cache_ways(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    uint32_t value = tier.cache_ways;

    visit_type_uint32(v, name, &value, errp);
}

static void tier_set_cache_ways(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    uint32_t value;

    if (!tier_settable(name, errp) ||
        !visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value < 1 || value > TIER_MAX_WAYS) {
        error_setg(errp, "tier-cache-ways %u is not in 1..%d",
                   value, TIER_MAX_WAYS);
        return;
    }
    tier.cache_ways = value;
}

void tier_emu_accel_class_init(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "tier-emulation",
                                   tier_get_enabled, tier_set_enabled);
    object_class_property_set_description(oc, "tier-emulation",
        "Add the HMAT latency difference to accesses to slower NUMA nodes "
        "and count accesses per node and vCPU");
    object_class_property_add_enum(oc, "tier-stats", "TierStatsMode",
                                   &TierStatsMode_lookup,
                                   tier_get_stats, tier_set_stats);
    object_class_property_set_description(oc, "tier-stats",
        "Which accesses are counted: slow (slower nodes only) or all");
    object_class_property_add(oc, "tier-cache-size", "size",
                              tier_get_cache_size, tier_set_cache_size,
                              NULL, NULL);
    object_class_property_set_description(oc, "tier-cache-size",
        "Bytes of the per-vCPU cache filter (0: every access misses)");
    object_class_property_add(oc, "tier-cache-ways", "uint32",
                              tier_get_cache_ways, tier_set_cache_ways,
                              NULL, NULL);
    object_class_property_set_description(oc, "tier-cache-ways",
        "Associativity of the per-vCPU cache filter");
}

/* --- vCPUs ---------------------------------------------------------- */

bool tier_emu_cpu_realize(CPUState *cpu, Error **errp)
{
    TierEmuCPU *t;
    uint64_t lines;

    if (!tier_emu_enabled) {
        return true;
    }
    if (!tier_check_cache(tier.cache_size, tier.cache_ways, errp)) {
        return false;
    }
    t = g_new0(TierEmuCPU, 1);
    lines = tier.cache_size / TIER_LINE_SIZE;
    if (lines) {
        t->tags = g_new0(uint64_t, lines);
        t->set_mask = lines / tier.cache_ways - 1;
    }
    if (qatomic_load_acquire(&tier.ready)) {
        t->initiator = tier_cpu_node(cpu);      /* hot-plugged */
    }
    cpu->tier_emu = t;
    return true;
}

void tier_emu_cpu_unrealize(CPUState *cpu)
{
    TierEmuCPU *t = cpu->tier_emu;

    cpu->tier_emu = NULL;
    if (t) {
        g_free(t->tags);
        g_free(t);
    }
}

int tier_emu_page_node(CPUState *cpu, MemoryRegion *mr)
{
    TierEmuCPU *t = cpu->tier_emu;
    int node;

    if (!t || !qatomic_load_acquire(&tier.ready)) {
        return -1;
    }
    for (node = 0; node < tier.nr_nodes; node++) {
        if (tier.node_mr[node] == mr) {
            bool slow = tier_lat(t->initiator, node)->slow_path;

            trace_tier_emu_page(cpu->cpu_index, node, slow);
            return slow ? node : -1;
        }
    }
    return -1;
}

uint64_t tier_emu_dma_delay_ns(MemoryRegion *mr, uint64_t len)
{
    int node;

    if (!tier_emu_enabled || !qatomic_load_acquire(&tier.ready)) {
        return 0;
    }
    for (node = 0; node < tier.nr_nodes; node++) {
        if (tier.node_mr[node] == mr) {
            return (len >> TIER_LINE_BITS) * tier_lat(0, node)->extra_load_ns;
        }
    }
    return 0;
}

/* Look a line up in the cache filter and insert it (LRU); true on a hit. */
static bool tier_cache_access(TierEmuCPU *t, uint64_t line)
{
    uint32_t ways = tier.cache_ways;
    uint64_t tag = line + 1;
    uint64_t *set;
    uint32_t i;
    bool hit;

    if (!t->tags) {
        return false;
    }
    set = &t->tags[(line & t->set_mask) * ways];
    for (i = 0; i < ways; i++) {
        if (set[i] == tag) {
            break;
        }
    }
    hit = i < ways;
    if (!hit) {
        i = ways - 1;                   /* evict the least recently used */
    }
    memmove(&set[1], &set[0], i * sizeof(*set));
    set[0] = tag;
    return hit;
}

static void tier_stall(CPUState *cpu, TierEmuCPU *t)
{
    int64_t start = get_clock(), deadline = start + t->debt_ns, now;

    do {
        cpu_relax();
        now = get_clock();
    } while (now < deadline);
    trace_tier_emu_stall(cpu->cpu_index, t->debt_ns, now - start);
    qatomic_set_u64(&t->stall_ns, t->stall_ns + (now - start));
    /*
     * Waiting longer than owed (the host descheduled the vCPU thread)
     * leaves credit, so that the guest loses no more time than charged;
     * bounded, so that a long preemption is not paid back at once.
     */
    t->debt_ns = MAX(t->debt_ns - (now - start), -TIER_MAX_CREDIT_NS);
}

static inline void tier_inc(uint64_t *c, uint64_t v)
{
    qatomic_set_u64(c, *c + v);
}

void tier_emu_access(CPUState *cpu, unsigned node, uint64_t paddr,
                     unsigned size, TierAccessKind kind)
{
    TierEmuCPU *t = cpu->tier_emu;
    TierCounters *c = &t->cnt[node];
    const TierLat *l = tier_lat(t->initiator, node);
    uint64_t line = paddr >> TIER_LINE_BITS;
    uint64_t last = (paddr + MAX(size, 1) - 1) >> TIER_LINE_BITS;
    bool miss = false;
    uint32_t extra;

    for (; line <= last; line++) {
        miss |= !tier_cache_access(t, line);
    }
    if (kind != TIER_ACCESS_STORE) {
        tier_inc(&c->loads, 1);
    }
    if (kind != TIER_ACCESS_LOAD) {
        tier_inc(&c->stores, 1);
    }
    if (!miss) {
        return;
    }
    /* A read-modify-write misses once, on its read for ownership. */
    if (kind == TIER_ACCESS_STORE) {
        tier_inc(&c->store_misses, 1);
        extra = l->extra_store_ns;
    } else {
        tier_inc(&c->load_misses, 1);
        extra = l->extra_load_ns;
    }
    if (extra) {
        tier_inc(&c->delay_ns, extra);
        t->debt_ns += extra;
        if (t->debt_ns >= TIER_QUANTUM_NS) {
            tier_stall(cpu, t);
        }
    }
}

/* --- QMP and HMP ---------------------------------------------------- */

static void tier_read_counters(TierEmuCPU *t, int node, TierCounters *out)
{
    const TierCounters *c = &t->cnt[node], *b = &t->base[node];

    out->loads = qatomic_read_u64(&c->loads) - b->loads;
    out->stores = qatomic_read_u64(&c->stores) - b->stores;
    out->load_misses = qatomic_read_u64(&c->load_misses) - b->load_misses;
    out->store_misses = qatomic_read_u64(&c->store_misses) - b->store_misses;
    out->delay_ns = qatomic_read_u64(&c->delay_ns) - b->delay_ns;
}

static void tier_reset_counters(TierEmuCPU *t)
{
    int node;

    for (node = 0; node < tier.nr_nodes; node++) {
        const TierCounters *c = &t->cnt[node];
        TierCounters *b = &t->base[node];

        b->loads = qatomic_read_u64(&c->loads);
        b->stores = qatomic_read_u64(&c->stores);
        b->load_misses = qatomic_read_u64(&c->load_misses);
        b->store_misses = qatomic_read_u64(&c->store_misses);
        b->delay_ns = qatomic_read_u64(&c->delay_ns);
    }
    t->stall_base = qatomic_read_u64(&t->stall_ns);
}

static TierNodeAccessStats *tier_node_stats(int node, const TierCounters *c)
{
    TierNodeAccessStats *s = g_new0(TierNodeAccessStats, 1);

    s->node = node;
    s->loads = c->loads;
    s->stores = c->stores;
    s->load_misses = c->load_misses;
    s->store_misses = c->store_misses;
    s->delay_ns = c->delay_ns;
    return s;
}

TierAccessStats *qmp_query_tier_access_stats(bool has_cpu_index,
                                             int64_t cpu_index,
                                             bool has_reset, bool reset,
                                             Error **errp)
{
    TierAccessStats *info;
    TierCounters total[MAX_NODES] = { };
    TierVCPUAccessStatsList **vtail;
    TierNodeAccessStatsList **ntail;
    TierLatencyList **ltail;
    CPUState *cpu;
    int i, node;

    if (has_cpu_index && !qemu_get_cpu(cpu_index)) {
        error_setg(errp, "cpu-index %" PRId64 ": no such vCPU", cpu_index);
        return NULL;
    }
    info = g_new0(TierAccessStats, 1);
    info->enabled = tier_emu_enabled && qatomic_load_acquire(&tier.ready);
    info->stats = tier.stats;
    info->cache_size = tier.cache_size;
    info->cache_ways = tier.cache_ways;
    info->line_size = TIER_LINE_SIZE;
    if (!info->enabled) {
        return info;
    }

    ltail = &info->latencies;
    for (i = 0; i < tier.nr_nodes; i++) {
        for (node = 0; node < tier.nr_nodes; node++) {
            const TierLat *l = tier_lat(i, node);
            TierLatency *e;

            if (!tier.node_mr[node] || (!l->load_ns && !l->store_ns)) {
                continue;
            }
            e = g_new0(TierLatency, 1);
            e->initiator = i;
            e->target = node;
            e->load_ns = l->load_ns;
            e->store_ns = l->store_ns;
            e->extra_load_ns = l->extra_load_ns;
            e->extra_store_ns = l->extra_store_ns;
            e->counted = l->slow_path;
            QAPI_LIST_APPEND(ltail, e);
        }
    }

    vtail = &info->vcpus;
    CPU_FOREACH(cpu) {
        TierEmuCPU *t = cpu->tier_emu;
        TierVCPUAccessStats *v;
        TierNodeAccessStatsList **vn;

        if (!t || (has_cpu_index && cpu->cpu_index != cpu_index)) {
            continue;
        }
        v = g_new0(TierVCPUAccessStats, 1);
        v->cpu_index = cpu->cpu_index;
        v->qom_path = object_get_canonical_path(OBJECT(cpu));
        v->initiator = t->initiator;
        v->stall_ns = qatomic_read_u64(&t->stall_ns) - t->stall_base;
        vn = &v->nodes;
        for (node = 0; node < tier.nr_nodes; node++) {
            TierCounters c;

            if (!tier.node_mr[node]) {
                continue;
            }
            tier_read_counters(t, node, &c);
            total[node].loads += c.loads;
            total[node].stores += c.stores;
            total[node].load_misses += c.load_misses;
            total[node].store_misses += c.store_misses;
            total[node].delay_ns += c.delay_ns;
            QAPI_LIST_APPEND(vn, tier_node_stats(node, &c));
        }
        QAPI_LIST_APPEND(vtail, v);
        if (has_reset && reset) {
            trace_tier_emu_reset(cpu->cpu_index);
            tier_reset_counters(t);
        }
    }

    ntail = &info->nodes;
    for (node = 0; node < tier.nr_nodes; node++) {
        if (tier.node_mr[node]) {
            QAPI_LIST_APPEND(ntail, tier_node_stats(node, &total[node]));
        }
    }
    return info;
}

static void hmp_tier_node_line(Monitor *mon, const char *who,
                               TierNodeAccessStats *n)
{
    monitor_printf(mon, "  %-6s node %-3" PRIu32 " loads %" PRIu64
                   " (%" PRIu64 " missed)  stores %" PRIu64
                   " (%" PRIu64 " missed)  delay %" PRIu64 " ns\n",
                   who, n->node, n->loads, n->load_misses, n->stores,
                   n->store_misses, n->delay_ns);
}

void hmp_info_tier_access(Monitor *mon, const QDict *qdict)
{
    bool reset = qdict_get_try_bool(qdict, "reset", false);
    Error *err = NULL;
    TierAccessStats *info;
    TierLatencyList *l;
    TierNodeAccessStatsList *n;
    TierVCPUAccessStatsList *v;

    info = qmp_query_tier_access_stats(false, 0, true, reset, &err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!info->enabled) {
        monitor_printf(mon, "tier emulation is off "
                       "(-accel tcg,tier-emulation=on)\n");
        goto out;
    }
    monitor_printf(mon, "tier emulation: stats=%s, cache filter %" PRIu64
                   " bytes, %" PRIu32 "-way, %" PRIu32 "-byte lines\n",
                   TierStatsMode_str(info->stats), info->cache_size,
                   info->cache_ways, info->line_size);
    for (l = info->latencies; l; l = l->next) {
        monitor_printf(mon, "  initiator %" PRIu32 " -> node %" PRIu32
                       ": load %" PRIu64 " ns (+%" PRIu64 "), store %"
                       PRIu64 " ns (+%" PRIu64 ")%s\n",
                       l->value->initiator, l->value->target,
                       l->value->load_ns, l->value->extra_load_ns,
                       l->value->store_ns, l->value->extra_store_ns,
                       l->value->counted ? "" : ", fast path, not counted");
    }
    for (n = info->nodes; n; n = n->next) {
        hmp_tier_node_line(mon, "all", n->value);
    }
    for (v = info->vcpus; v; v = v->next) {
        g_autofree char *who = g_strdup_printf("cpu%" PRId64,
                                               v->value->cpu_index);

        for (n = v->value->nodes; n; n = n->next) {
            hmp_tier_node_line(mon, who, n->value);
        }
        monitor_printf(mon, "  %-6s stalled %" PRIu64 " ns\n", who,
                       v->value->stall_ns);
    }
    if (reset) {
        monitor_printf(mon, "counters reset\n");
    }
out:
    qapi_free_TierAccessStats(info);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * HPlacement: the PMU sampling sources, PEBS (Intel) and IBS (AMD).
 *
 * Both run as per-CPU, system-wide kernel counters, so every thread of
 * every process is sampled without an attach step, and a CPU that comes
 * online gets its counters from a CPU hotplug callback.  The overflow
 * handler runs in NMI context: it decodes the data address of the sample
 * and appends it to its CPU's ring, nothing more.  Which tier a sample
 * hit is decided later from the node of the page, never from the event.
 *
 * PEBS counts retired loads that missed the L3 and all retired stores,
 * user space only; PEBS records carry the data linear address.  IBS tags
 * micro-ops; its raw record says whether the op was a load or a store
 * and holds the linear address when valid.  IBS cannot exclude the
 * kernel, so the handler keeps user addresses of user tasks only.
 *
 * The sample period of each counter follows the CPU budget: it is the
 * nominal period divided by the work scale of the budget controller.
 */

#include <linux/cpuhotplug.h>
#include <linux/mm.h>
#include <linux/perf_event.h>
#include <linux/processor.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/unaligned.h>
#include <asm/amd-ibs.h>
#include <asm/perf_event.h>

#include "source.h"

#define HPL_PMU_MAX_EVENTS	2

/**
 * struct hpl_pmu_event - one counter of a source, on each CPU
 * @config: raw event
 * @period: sample period at the nominal work scale
 * @store: it counts stores (else loads, or both for IBS)
 */
struct hpl_pmu_event {
	u64 config;
	u64 period;
	bool store;
};

/**
 * struct hpl_pmu_source - a PMU source
 * @src: enum hpl_source
 * @origin: enum hpl_origin of its samples
 * @vendor: X86_VENDOR_* of the CPUs that have it
 * @feature: X86_FEATURE_* that it needs
 * @precise_ip: precision asked for; on AMD a precise event is IBS
 * @exclude_kernel: the PMU can count user space only
 * @sample_type: PERF_SAMPLE_* the decoder needs
 * @events: its counters
 * @nr_events: entries of @events
 */
struct hpl_pmu_source {
	enum hpl_source src;
	enum hpl_origin origin;
	u8 vendor;
	u16 feature;
	u8 precise_ip;
	bool exclude_kernel;
	u64 sample_type;
	struct hpl_pmu_event events[HPL_PMU_MAX_EVENTS];
	unsigned int nr_events;
};

static const struct hpl_pmu_source hpl_pebs = {
	.src = HPL_SOURCE_PEBS,
	.origin = HPL_ORIGIN_PEBS,
	.vendor = X86_VENDOR_INTEL,
	.feature = X86_FEATURE_PEBS,
	.precise_ip = 1,
	.exclude_kernel = true,
	.sample_type = PERF_SAMPLE_ADDR,
	.events = {
		/* MEM_LOAD_RETIRED.L3_MISS */
		{ .config = 0x20d1, .period = 997 },
		/* MEM_INST_RETIRED.ALL_STORES */
		{ .config = 0x82d0, .period = 100003, .store = true },
	},
	.nr_events = 2,
};

static const struct hpl_pmu_source hpl_ibs = {
	.src = HPL_SOURCE_IBS,
	.origin = HPL_ORIGIN_IBS,
	.vendor = X86_VENDOR_AMD,
	.feature = X86_FEATURE_IBS,
	/* Precise "retired micro-ops" is forwarded to the IBS op PMU. */
	.precise_ip = 2,
	.sample_type = PERF_SAMPLE_RAW,
	.events = {
		/* IBS op periods are multiples of 16 micro-ops. */
		{ .config = 0x00c1, .period = 0x10000 },
	},
	.nr_events = 1,
};

/* Index of a register in the raw IBS op record (MSR - IbsOpCtl). */
#define HPL_IBS_OPCTL		0
#define HPL_IBS_OPDATA3		(MSR_AMD64_IBSOPDATA3 - MSR_AMD64_IBSOPCTL)
#define HPL_IBS_DCLINAD		(MSR_AMD64_IBSDCLINAD - MSR_AMD64_IBSOPCTL)

/**
 * hpl_pebs_decode - the user data address of a PEBS sample
 * @data: the sample, as the PEBS drain filled it
 * @regs: the registers of the sampled instruction
 * @addr: the address, when true is returned
 *
 * Return: whether the sample holds a user-space access with its address.
 */
bool hpl_pebs_decode(const struct perf_sample_data *data,
		     struct pt_regs *regs, unsigned long *addr)
{
	if (!(data->sample_flags & PERF_SAMPLE_ADDR) || !user_mode(regs))
		return false;
	if (!data->addr || data->addr >= TASK_SIZE_MAX)
		return false;
	*addr = data->addr;
	return true;
}

/**
 * hpl_ibs_decode - the user data address of a raw IBS op record
 * @raw: the record: u32 capabilities, then the IBS op registers as u64
 *	from IbsOpCtl on (unaligned)
 * @size: its bytes
 * @addr: the linear address of the access, when true is returned
 * @store: whether the op was a store
 *
 * Return: whether the record is a valid load or store op with a valid
 * user linear address.
 */
bool hpl_ibs_decode(const void *raw, u32 size, unsigned long *addr,
		    bool *store)
{
	const u8 *regs = (const u8 *)raw + sizeof(u32);
	union ibs_op_data3 op3;
	u64 ctl, lin;

	if (!raw || size < sizeof(u32) + (HPL_IBS_DCLINAD + 1) * sizeof(u64))
		return false;
	ctl = get_unaligned((const u64 *)regs + HPL_IBS_OPCTL);
	op3.val = get_unaligned((const u64 *)regs + HPL_IBS_OPDATA3);
	lin = get_unaligned((const u64 *)regs + HPL_IBS_DCLINAD);
	if (!(ctl & IBS_OP_VAL) || !op3.dc_lin_addr_valid)
		return false;
	/* A locked read-modify-write op is both: a store. */
	if (!op3.ld_op && !op3.st_op)
		return false;
	if (!lin || lin >= TASK_SIZE_MAX)
		return false;
	*addr = lin;
	*store = op3.st_op;
	return true;
}

static void hpl_pmu_overflow(struct perf_event *event,
			     struct perf_sample_data *data,
			     struct pt_regs *regs)
{
	const struct hpl_pmu_event *ev = event->overflow_handler_context;
	struct mm_struct *mm = current->mm;
	u64 t0 = local_clock();
	unsigned long addr;
	bool store = ev->store;

	if (!mm || (current->flags & PF_KTHREAD))
		return;
	if (event->attr.sample_type & PERF_SAMPLE_RAW) {
		if (!(data->sample_flags & PERF_SAMPLE_RAW) || !data->raw ||
		    !hpl_ibs_decode(data->raw->frag.data,
				    data->raw->frag.size, &addr, &store))
			return;
		hpl_pmu_ring_push(mm, addr, HPL_ORIGIN_IBS, store, t0);
		return;
	}
	if (hpl_pebs_decode(data, regs, &addr))
		hpl_pmu_ring_push(mm, addr, HPL_ORIGIN_PEBS, store, t0);
}

/* The running source, its state serialised by the daemon. */
static const struct hpl_pmu_source *hpl_pmu_running;
static enum cpuhp_state hpl_pmu_cpuhp;
static DEFINE_PER_CPU(struct perf_event *, hpl_pmu_events[HPL_PMU_MAX_EVENTS]);
static u32 hpl_pmu_scale = HPL_SCALE_ONE;

static const struct hpl_pmu_source *hpl_pmu_source(enum hpl_source src)
{
	const struct hpl_pmu_source *ps;

	if (src == HPL_SOURCE_PEBS)
		ps = &hpl_pebs;
	else if (src == HPL_SOURCE_IBS)
		ps = &hpl_ibs;
	else
		return NULL;
	if (boot_cpu_data.x86_vendor != ps->vendor ||
	    !boot_cpu_has(ps->feature))
		return NULL;
	return ps;
}

/* The period of @ev at work @scale: more work, shorter periods. */
static u64 hpl_pmu_period(const struct hpl_pmu_source *ps,
			  const struct hpl_pmu_event *ev, u32 scale)
{
	u64 period = clamp(hpl_scale_period(scale, ev->period),
			   max(ev->period / 16, 16ULL), ev->period * 1024);

	if (ps->src == HPL_SOURCE_IBS)
		period = ALIGN(period, 16);
	return period;
}

static struct perf_event *hpl_pmu_create(const struct hpl_pmu_source *ps,
					 const struct hpl_pmu_event *ev,
					 int cpu, u32 scale)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_RAW,
		.size = sizeof(attr),
		.config = ev->config,
		.sample_period = hpl_pmu_period(ps, ev, scale),
		.sample_type = ps->sample_type,
		.precise_ip = ps->precise_ip,
		.exclude_kernel = ps->exclude_kernel,
		.exclude_hv = ps->exclude_kernel,
		/*
		 * One record per interrupt: with large PEBS the records but
		 * the last would bypass the overflow handler.
		 */
		.wakeup_events = 1,
	};

	return perf_event_create_kernel_counter(&attr, cpu, NULL,
						hpl_pmu_overflow,
						(void *)ev);
}

static void hpl_pmu_release_cpu(unsigned int cpu)
{
	struct perf_event **events = per_cpu(hpl_pmu_events, cpu);
	int i;

	for (i = 0; i < HPL_PMU_MAX_EVENTS; i++) {
		if (events[i])
			perf_event_release_kernel(events[i]);
		events[i] = NULL;
	}
}

static int hpl_pmu_cpu_online(unsigned int cpu)
{
	const struct hpl_pmu_source *ps = hpl_pmu_running;
	struct perf_event **events = per_cpu(hpl_pmu_events, cpu);
	struct perf_event *event;
	unsigned int i;

	for (i = 0; ps && i < ps->nr_events; i++) {
		event = hpl_pmu_create(ps, &ps->events[i], cpu,
				       READ_ONCE(hpl_pmu_scale));
		if (IS_ERR(event)) {
			hpl_pmu_release_cpu(cpu);
			return PTR_ERR(event);
		}
		events[i] = event;
	}
	return 0;
}

static int hpl_pmu_cpu_offline(unsigned int cpu)
{
	hpl_pmu_release_cpu(cpu);
	return 0;
}

/**
 * hpl_pmu_probe - whether a PMU source can run here
 * @src: HPL_SOURCE_PEBS or HPL_SOURCE_IBS
 *
 * Creates its counters on one CPU and releases them.
 *
 * Return: 0, or -ENODEV (not this CPU), or the error of the counter.
 */
int hpl_pmu_probe(enum hpl_source src)
{
	const struct hpl_pmu_source *ps = hpl_pmu_source(src);
	struct perf_event *event;
	unsigned int i;
	int cpu, ret = 0;

	if (!ps)
		return -ENODEV;
	cpus_read_lock();
	cpu = cpumask_first(cpu_online_mask);
	for (i = 0; i < ps->nr_events && !ret; i++) {
		event = hpl_pmu_create(ps, &ps->events[i], cpu, HPL_SCALE_ONE);
		if (IS_ERR(event))
			ret = PTR_ERR(event);
		else
			perf_event_release_kernel(event);
	}
	cpus_read_unlock();
	return ret;
}

/**
 * hpl_pmu_start - run a PMU source on every online CPU, and on CPUs that
 *	come online later
 * @src: HPL_SOURCE_PEBS or HPL_SOURCE_IBS
 * @scale: work scale of the budget controller
 *
 * Return: 0 or an error, in which case nothing runs.
 */
int hpl_pmu_start(enum hpl_source src, u32 scale)
{
	const struct hpl_pmu_source *ps = hpl_pmu_source(src);
	int ret;

	if (!ps)
		return -ENODEV;
	if (hpl_pmu_running)
		return -EBUSY;
	ret = hpl_pmu_rings_alloc();
	if (ret)
		return ret;
	WRITE_ONCE(hpl_pmu_scale, scale);
	hpl_pmu_running = ps;
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "mm/hplacement:pmu",
				hpl_pmu_cpu_online, hpl_pmu_cpu_offline);
	if (ret < 0) {
		hpl_pmu_running = NULL;
		return ret;
	}
	hpl_pmu_cpuhp = ret;
	return 0;
}

/* Stop the running PMU source: no handler runs once this returns. */
void hpl_pmu_stop(void)
{
	if (!hpl_pmu_running)
		return;
	cpuhp_remove_state(hpl_pmu_cpuhp);
	hpl_pmu_running = NULL;
}

/* Follow the budget: periods of the running source for work @scale. */
void hpl_pmu_set_scale(u32 scale)
{
	const struct hpl_pmu_source *ps = hpl_pmu_running;
	struct perf_event *event;
	unsigned int i;
	int cpu;

	if (!ps || scale == READ_ONCE(hpl_pmu_scale))
		return;
	WRITE_ONCE(hpl_pmu_scale, scale);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		for (i = 0; i < ps->nr_events; i++) {
			event = per_cpu(hpl_pmu_events, cpu)[i];
			if (event)
				perf_event_period(event,
						  hpl_pmu_period(ps,
								 &ps->events[i],
								 scale));
		}
	}
	cpus_read_unlock();
}

#include "tests/pmu-kunit.h"

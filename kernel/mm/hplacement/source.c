// SPDX-License-Identifier: GPL-2.0
/*
 * HPlacement: source selection and the sample rings.
 *
 * A PMU sampling handler runs in NMI context on its CPU and must neither
 * lock nor allocate, so each CPU has a single-producer single-consumer
 * ring: the handler is the only producer of its CPU's ring, khplacement
 * the only consumer of all rings.  The debugfs injector has a ring of its
 * own whose writers are serialised by a mutex.  A full ring drops the new
 * sample and counts it as lost.
 */

#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/sched/mm.h>
#include <linux/sched/clock.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "source.h"

/* Samples a CPU's ring holds: a few intervals' worth at the nominal rate. */
#define HPL_PMU_RING_SLOTS	4096
#define HPL_INJECT_RING_SLOTS	16384
#define HPL_INJECT_MAX		HPL_INJECT_RING_SLOTS

void hpl_ring_init(struct hpl_ring *r, struct hpl_raw_sample *slots,
		   u32 nr_slots)
{
	WARN_ON_ONCE(!is_power_of_2(nr_slots));
	r->head = 0;
	r->tail = 0;
	r->mask = nr_slots - 1;
	r->nr_lost = 0;
	r->handler_ns = 0;
	r->slots = slots;
}

/* Free slots, as the producer sees them. */
u32 hpl_ring_room(const struct hpl_ring *r)
{
	/* Pairs with the release of the tail in hpl_ring_pop(). */
	return r->mask + 1 - (r->head - smp_load_acquire(&r->tail));
}

/* Producer side: false, and the sample counted as lost, when full. */
bool hpl_ring_push(struct hpl_ring *r, const struct hpl_raw_sample *s)
{
	u32 head = r->head;

	/* Pairs with the release of the tail in hpl_ring_pop(). */
	if (head - smp_load_acquire(&r->tail) > r->mask) {
		WRITE_ONCE(r->nr_lost, r->nr_lost + 1);
		return false;
	}
	r->slots[head & r->mask] = *s;
	/* Publish the slot before the head that covers it. */
	smp_store_release(&r->head, head + 1);
	return true;
}

/* Consumer side: take up to @max samples, oldest first. */
unsigned int hpl_ring_pop(struct hpl_ring *r, struct hpl_raw_sample *out,
			  unsigned int max)
{
	/* Pairs with the release of the head in hpl_ring_push(). */
	u32 tail = r->tail, head = smp_load_acquire(&r->head);
	unsigned int n = min(head - tail, max), i;

	for (i = 0; i < n; i++)
		out[i] = r->slots[(tail + i) & r->mask];
	/* The slots are read before the producer may reuse them. */
	smp_store_release(&r->tail, tail + n);
	return n;
}

const char * const hpl_source_names[HPL_NR_SOURCES] = {
	[HPL_SOURCE_AUTO] = "auto",
	[HPL_SOURCE_ABIT] = "abit",
	[HPL_SOURCE_PEBS] = "pebs",
	[HPL_SOURCE_IBS] = "ibs",
};

/**
 * hpl_source_pick - the source to run
 * @want: what sysfs asked for
 * @avail: mask of HPL_SOURCE_BIT() of the sources this machine can run
 *
 * auto takes the most precise source available: PEBS, then IBS, then the
 * accessed bits, which every machine has.
 *
 * Return: the source, or -ENODEV when @want is not available.
 */
int hpl_source_pick(enum hpl_source want, unsigned int avail)
{
	static const enum hpl_source order[] = {
		HPL_SOURCE_PEBS, HPL_SOURCE_IBS, HPL_SOURCE_ABIT,
	};
	unsigned int i;

	if (want >= HPL_NR_SOURCES)
		return -EINVAL;
	if (want != HPL_SOURCE_AUTO)
		return avail & HPL_SOURCE_BIT(want) ? want : -ENODEV;
	for (i = 0; i < ARRAY_SIZE(order); i++)
		if (avail & HPL_SOURCE_BIT(order[i]))
			return order[i];
	return -ENODEV;
}

/*
 * The sources this machine can run now.  A PMU source is probed by
 * creating one of its counters; the one that is @running is available
 * without a probe (IBS has a single counter per CPU).
 */
unsigned int hpl_sources_available(enum hpl_source running)
{
	unsigned int avail = HPL_SOURCE_BIT(HPL_SOURCE_ABIT);

	if (running == HPL_SOURCE_PEBS || !hpl_pmu_probe(HPL_SOURCE_PEBS))
		avail |= HPL_SOURCE_BIT(HPL_SOURCE_PEBS);
	if (running == HPL_SOURCE_IBS || !hpl_pmu_probe(HPL_SOURCE_IBS))
		avail |= HPL_SOURCE_BIT(HPL_SOURCE_IBS);
	return avail;
}

static DEFINE_PER_CPU(struct hpl_ring, hpl_pmu_rings);
/* Set once, when a PMU source first starts; never freed. */
static bool hpl_pmu_rings_ready;
static DEFINE_MUTEX(hpl_rings_lock);

static struct hpl_ring hpl_inject_ring;
static DEFINE_MUTEX(hpl_inject_lock);	/* the injector's producers */

/* Consumer-side bookkeeping of the counters the producers increment. */
static DEFINE_PER_CPU(u64, hpl_seen_lost);
static DEFINE_PER_CPU(u64, hpl_seen_ns);
static u64 hpl_inject_seen_lost;

/* Give every possible CPU its ring, before the first PMU counter exists. */
int hpl_pmu_rings_alloc(void)
{
	struct hpl_raw_sample *slots;
	int cpu, ret = 0;

	mutex_lock(&hpl_rings_lock);
	if (hpl_pmu_rings_ready)
		goto out;
	for_each_possible_cpu(cpu) {
		struct hpl_ring *r = per_cpu_ptr(&hpl_pmu_rings, cpu);

		if (r->slots)
			continue;
		slots = kvcalloc_node(HPL_PMU_RING_SLOTS, sizeof(*slots),
				      GFP_KERNEL, cpu_to_node(cpu));
		if (!slots) {
			ret = -ENOMEM;
			goto out;
		}
		hpl_ring_init(r, slots, HPL_PMU_RING_SLOTS);
	}
	/* The handlers see the rings only after they are complete. */
	smp_store_release(&hpl_pmu_rings_ready, true);
out:
	mutex_unlock(&hpl_rings_lock);
	return ret;
}

/**
 * hpl_pmu_ring_push - append a PMU sample to this CPU's ring
 * @mm: address space of the access
 * @addr: its user virtual address
 * @origin: HPL_ORIGIN_PEBS or HPL_ORIGIN_IBS
 * @store: the access was a store
 * @t0: local_clock() when the handler started, for its time
 *
 * Called from the overflow handler, in NMI context.
 */
void hpl_pmu_ring_push(struct mm_struct *mm, unsigned long addr,
		       enum hpl_origin origin, bool store, u64 t0)
{
	struct hpl_raw_sample s = {
		.mm = mm, .addr = addr, .origin = origin, .store = store,
	};
	struct hpl_ring *r;

	/* Pairs with the release in hpl_pmu_rings_alloc(). */
	if (!smp_load_acquire(&hpl_pmu_rings_ready))
		return;
	r = this_cpu_ptr(&hpl_pmu_rings);
	hpl_ring_push(r, &s);
	WRITE_ONCE(r->handler_ns, r->handler_ns + local_clock() - t0);
}

/**
 * hpl_rings_drain - take the samples of all rings
 * @out: room for @max samples
 * @max: take no more; the rest waits in the rings
 * @lost: samples lost to full rings since the last drain
 * @handler_ns: time spent in sampling handlers since the last drain
 *
 * Return: samples taken.
 */
unsigned int hpl_rings_drain(struct hpl_raw_sample *out, unsigned int max,
			     u64 *lost, u64 *handler_ns)
{
	static unsigned int first;
	unsigned int n = 0, i, nr = nr_cpu_ids;
	u64 v;
	int cpu;

	*lost = 0;
	*handler_ns = 0;
	if (hpl_inject_ring.slots) {
		n += hpl_ring_pop(&hpl_inject_ring, out, max);
		v = READ_ONCE(hpl_inject_ring.nr_lost);
		*lost += v - hpl_inject_seen_lost;
		hpl_inject_seen_lost = v;
	}
	/* Pairs with the release in hpl_pmu_rings_alloc(). */
	if (!smp_load_acquire(&hpl_pmu_rings_ready))
		return n;
	/* Start at another CPU each time so that none starves. */
	first = (first + 1) % nr;
	for (i = 0; i < nr; i++) {
		struct hpl_ring *r;

		cpu = (first + i) % nr;
		if (!cpu_possible(cpu))
			continue;
		r = per_cpu_ptr(&hpl_pmu_rings, cpu);
		n += hpl_ring_pop(r, out + n, max - n);
		v = READ_ONCE(r->nr_lost);
		*lost += v - per_cpu(hpl_seen_lost, cpu);
		per_cpu(hpl_seen_lost, cpu) = v;
		v = READ_ONCE(r->handler_ns);
		*handler_ns += v - per_cpu(hpl_seen_ns, cpu);
		per_cpu(hpl_seen_ns, cpu) = v;
	}
	return n;
}

#ifdef CONFIG_DEBUG_FS
/*
 * "<pid> <start> <end> <count>": @count samples of process @pid, spread
 * evenly over [@start, @end), as if a PMU had taken them.  All or none:
 * -ENOSPC when the ring cannot take them all.
 */
static ssize_t hpl_inject_write(struct file *file, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	struct hpl_raw_sample s = { .origin = HPL_ORIGIN_INJECT };
	long start, end;
	unsigned int count, i;
	struct task_struct *task;
	char buf[96];
	int pid, pos = 0;
	ssize_t ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(strim(buf), "%d %li %li %u%n", &pid, &start, &end, &count,
		   &pos) != 4 || pos != strlen(strim(buf)))
		return -EINVAL;
	if (start < 0 || end <= start || end > TASK_SIZE_MAX || !count ||
	    count > HPL_INJECT_MAX)
		return -EINVAL;

	task = find_get_task_by_vpid(pid);
	if (!task)
		return -ESRCH;
	s.mm = get_task_mm(task);
	put_task_struct(task);
	if (!s.mm)
		return -ESRCH;
	/* The samples keep @mm as an identity; no reference is needed. */
	mmput(s.mm);

	mutex_lock(&hpl_inject_lock);
	ret = -ENOSPC;
	if (hpl_ring_room(&hpl_inject_ring) < count)
		goto out;
	for (i = 0; i < count; i++) {
		s.addr = start + (u64)(end - start) * i / count;
		hpl_ring_push(&hpl_inject_ring, &s);
	}
	ret = len;
out:
	mutex_unlock(&hpl_inject_lock);
	return ret;
}

static const struct file_operations hpl_inject_fops = {
	.owner = THIS_MODULE,
	.write = hpl_inject_write,
	.llseek = noop_llseek,
};

int __init hpl_source_debugfs_init(void)
{
	struct hpl_raw_sample *slots;
	struct dentry *dir;

	slots = kvcalloc(HPL_INJECT_RING_SLOTS, sizeof(*slots), GFP_KERNEL);
	if (!slots)
		return -ENOMEM;
	hpl_ring_init(&hpl_inject_ring, slots, HPL_INJECT_RING_SLOTS);
	dir = debugfs_create_dir("hplacement", NULL);
	debugfs_create_file("inject", 0200, dir, NULL, &hpl_inject_fops);
	return 0;
}
#else
int __init hpl_source_debugfs_init(void)
{
	return 0;
}
#endif

#include "tests/source-kunit.h"

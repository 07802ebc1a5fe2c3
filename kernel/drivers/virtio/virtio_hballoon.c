// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio hetero-balloon: one memory balloon per guest NUMA node.
 *
 * The device sets, for each NUMA node it manages, how many bytes of that
 * node the driver should hand back.  Each node has its own balloon, filled
 * only with memory of that node, so the host can resize the memory tiers of
 * a guest (for example DRAM on node 0 and CXL memory on node 1)
 * independently.
 *
 * Memory is taken in 2 MiB chunks where the buddy allocator has them and in
 * base pages otherwise.  Base pages sit in a balloon_dev_info per node, so
 * that compaction can move them, but only within their node.  Chunks are
 * unmovable.  The device learns about both as guest-physical ranges.
 *
 * The driver never touches another node's memory: allocations use
 * __GFP_THISNODE, and migration of a balloon page to another node is
 * refused.
 */

#include <linux/balloon_compaction.h>
#include <linux/cpuset.h>
#include <linux/delay.h>
#include <linux/exchange.h>
#include <linux/hplacement.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/mempolicy.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/oom.h>
#include <linux/sched.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_hballoon.h>
#include <linux/vmstat.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <acpi/acpi_numa.h>

/* Chunks are 2 MiB, whatever the base page size. */
#define HB_CHUNK_SIZE		SZ_2M
#define HB_CHUNK_ORDER		(ilog2(HB_CHUNK_SIZE) - PAGE_SHIFT)
#define HB_CHUNK_PAGES		(HB_CHUNK_SIZE / PAGE_SIZE)

/*
 * Chunks are unmovable: no __GFP_MOVABLE, so they never come from
 * ZONE_MOVABLE, where they would block memory offlining.  A node with
 * only ZONE_MOVABLE memory is ballooned with base pages.  Unlike base
 * pages they are not marked PageOffline, so that offlining their memory
 * block fails at once instead of waiting for a driver that will not
 * release them.
 */
#define HB_CHUNK_GFP	(GFP_HIGHUSER | __GFP_THISNODE | __GFP_NOMEMALLOC | \
			 __GFP_NORETRY | __GFP_NOWARN)
#define HB_PAGE_GFP	(balloon_mapping_gfp_mask() | __GFP_THISNODE | \
			 __GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN)

/*
 * One request buffer per device.  64 KiB holds 4095 ranges, one less than
 * the device accepts, and avoids a 128 KiB allocation.
 */
#define HB_REQ_BYTES		SZ_64K
#define HB_MAX_RANGES		((HB_REQ_BYTES - sizeof(struct virtio_hballoon_req)) / \
				 sizeof(struct virtio_hballoon_range))

/*
 * Pages of a batch are allocated before they are accounted to the balloon,
 * so the OOM notifier cannot give them back.  Keep batches small.
 */
#define HB_BATCH_CHUNKS		32

/* Nothing could be allocated: wait this long before the next try. */
#define HB_RETRY_DELAY		msecs_to_jiffies(200)

/*
 * Deflate on OOM: at most 1 MiB of base pages per notification, or one
 * chunk where a node has no base pages left...
 */
#define HB_OOM_PAGES		(SZ_1M >> PAGE_SHIFT)
/* ...then do not inflate that node again for this long. */
#define HB_OOM_BACKOFF		(5 * HZ)
#define HB_OOM_NOTIFY_PRIORITY	80

/* MEMTOT, MEMFREE and AVAIL per node. */
#define HB_STATS_PER_NODE	5

/* Base pages to the 4 KiB units of the vmstat events and the protocol. */
#define HB_TO_4K(nr)		((nr) << (PAGE_SHIFT - VIRTIO_HBALLOON_PAGE_SHIFT))

struct hb_dev;

struct hb_node {
	struct hb_dev *hb;
	/* Index in the config space's nodes[]. */
	unsigned int idx;
	/* Node id as the device names it, possibly an ACPI PXM. */
	u32 dev_id;
	/* Linux node id. */
	int nid;
	/*
	 * Serializes inflation, deflation and migration of this node's
	 * balloon, from telling the device to accounting the pages.
	 * Taken before hb_dev.vq_lock.
	 */
	struct mutex lock;
	/* Ballooned base pages; movable within this node. */
	struct balloon_dev_info b_dev_info;
	/* Ballooned 2 MiB chunks, linked through page->lru. */
	struct list_head chunks;
	unsigned long nr_chunks;
	/* Base pages in b_dev_info, isolated ones included. */
	unsigned long nr_pages;
	/* After an OOM deflate, no inflation before oom_until. */
	bool oom_backoff;
	unsigned long oom_until;
	/* The last inflation got nothing; only the size work uses it. */
	bool stalled;
};

struct hb_dev {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq;
	struct virtqueue *deflate_vq;
	struct virtqueue *stats_vq;

	/* Moves the balloons towards their targets. */
	struct delayed_work size_work;
	/* Refreshes and returns the stats buffer. */
	struct work_struct stats_work;

	/* Protects stop_update against the virtqueue and config callbacks. */
	spinlock_t stop_lock;
	bool stop_update;

	/* Serializes the use of req and of the inflate and deflate queues. */
	struct mutex vq_lock;
	/* The device failed a request: no more requests.  Under vq_lock. */
	bool broken;
	/* Woken when the device returns an inflate or deflate buffer. */
	wait_queue_head_t acked;
	struct virtio_hballoon_req *req;

	struct virtio_hballoon_stat *stats;
	struct notifier_block oom_nb;

	/* With VIRTIO_HBALLOON_F_EXCHANGE: the host moves folio contents. */
	struct virtqueue *exchange_vq;
	struct folio_copier copier;
	/* Serializes the use of xreq, xstatus and the exchange queue. */
	struct mutex xchg_lock;
	/* The device failed an exchange request: the CPU does them. */
	bool xchg_broken;
	struct virtio_hballoon_exchange_req *xreq;
	u8 xstatus;

	unsigned int nr_nodes;
	struct hb_node nodes[];
};

/* Pages taken from or going into one node's balloon. */
struct hb_batch {
	struct list_head chunks;
	struct list_head pages;
	unsigned long nr_chunks;
	unsigned long nr_pages;
};

/* What the size work should do after one step on a node. */
enum hb_step {
	HB_STEP_DONE,	/* at target */
	HB_STEP_AGAIN,	/* made progress, run again now */
	HB_STEP_RETRY,	/* stalled, retry after HB_RETRY_DELAY */
	HB_STEP_WAIT,	/* OOM backoff, retry at node->oom_until */
};

static void hb_build_checks(void)
{
	/* The wire format. */
	BUILD_BUG_ON(sizeof(struct virtio_hballoon_node_config) != 32);
	BUILD_BUG_ON(sizeof(struct virtio_hballoon_config) != 8);
	BUILD_BUG_ON(sizeof(struct virtio_hballoon_range) != 16);
	BUILD_BUG_ON(sizeof(struct virtio_hballoon_req) != 8);
	BUILD_BUG_ON(sizeof(struct virtio_hballoon_stat) != 16);

	BUILD_BUG_ON(PAGE_SHIFT < VIRTIO_HBALLOON_PAGE_SHIFT);
	BUILD_BUG_ON(HB_CHUNK_SIZE < PAGE_SIZE);
	BUILD_BUG_ON(HB_CHUNK_ORDER > MAX_PAGE_ORDER);
	BUILD_BUG_ON(HB_MAX_RANGES > VIRTIO_HBALLOON_MAX_RANGES);
	BUILD_BUG_ON(HB_MAX_RANGES <= HB_BATCH_CHUNKS);
}

static void hb_batch_init(struct hb_batch *b)
{
	INIT_LIST_HEAD(&b->chunks);
	INIT_LIST_HEAD(&b->pages);
	b->nr_chunks = 0;
	b->nr_pages = 0;
}

static unsigned long hb_batch_pages(const struct hb_batch *b)
{
	return b->nr_chunks * HB_CHUNK_PAGES + b->nr_pages;
}

static u64 hb_node_bytes(struct hb_node *node)
{
	u64 bytes;

	mutex_lock(&node->lock);
	bytes = ((u64)node->nr_chunks << (HB_CHUNK_ORDER + PAGE_SHIFT)) +
		((u64)node->nr_pages << PAGE_SHIFT);
	mutex_unlock(&node->lock);
	return bytes;
}

/* Called with node->lock held. */
static bool hb_node_backoff(struct hb_node *node)
{
	if (node->oom_backoff && time_after_eq(jiffies, node->oom_until))
		node->oom_backoff = false;
	return node->oom_backoff;
}

static void hb_queue_size_work(struct hb_dev *hb, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&hb->stop_lock, flags);
	if (!hb->stop_update) {
		/* A later wakeup never delays an earlier one. */
		if (delay)
			queue_delayed_work(system_freezable_wq, &hb->size_work,
					   delay);
		else
			mod_delayed_work(system_freezable_wq, &hb->size_work, 0);
	}
	spin_unlock_irqrestore(&hb->stop_lock, flags);
}

/* Virtqueues */

static void hb_ack(struct virtqueue *vq)
{
	struct hb_dev *hb = vq->vdev->priv;

	wake_up(&hb->acked);
}

static void hb_stats_request(struct virtqueue *vq)
{
	struct hb_dev *hb = vq->vdev->priv;
	unsigned long flags;

	/* Collecting stats can sleep: not in the interrupt handler. */
	spin_lock_irqsave(&hb->stop_lock, flags);
	if (!hb->stop_update)
		queue_work(system_freezable_wq, &hb->stats_work);
	spin_unlock_irqrestore(&hb->stop_lock, flags);
}

static int hb_range_cmp(const void *a, const void *b)
{
	u64 x = le64_to_cpu(((const struct virtio_hballoon_range *)a)->addr);
	u64 y = le64_to_cpu(((const struct virtio_hballoon_range *)b)->addr);

	return x < y ? -1 : x > y;
}

/* Sorts ranges by address and merges adjacent ones; returns the count. */
static u32 hb_merge_ranges(struct virtio_hballoon_range *r, u32 nr)
{
	u32 i, out = 0;

	if (!nr)
		return 0;
	sort(r, nr, sizeof(*r), hb_range_cmp, NULL);
	for (i = 1; i < nr; i++) {
		u64 end = le64_to_cpu(r[out].addr) + le64_to_cpu(r[out].len);

		if (end == le64_to_cpu(r[i].addr))
			le64_add_cpu(&r[out].len, le64_to_cpu(r[i].len));
		else
			r[++out] = r[i];
	}
	return out + 1;
}

static void hb_req_add(struct hb_dev *hb, u32 *nr, struct page *page,
		       unsigned int order)
{
	struct virtio_hballoon_range *r = &hb->req->ranges[(*nr)++];

	r->addr = cpu_to_le64(page_to_phys(page));
	r->len = cpu_to_le64(PAGE_SIZE << order);
}

/*
 * A device that finds a protocol violation does not use the buffer but
 * sets NEEDS_RESET.  The status is a device register: each read exits to
 * the host.
 */
static bool hb_needs_reset(struct hb_dev *hb)
{
	return hb->vdev->config->get_status(hb->vdev) &
	       VIRTIO_CONFIG_S_NEEDS_RESET;
}

/*
 * Whether the device has used the request on @vq (*err = 0) or never will
 * (*err = -EIO): the queue is broken or the device needs a reset.
 */
static bool hb_req_done(struct hb_dev *hb, struct virtqueue *vq, int *err)
{
	unsigned int len;

	*err = 0;
	if (virtqueue_get_buf(vq, &len))
		return true;
	*err = -EIO;
	return virtqueue_is_broken(vq) || hb_needs_reset(hb);
}

/* hb_req_done() without sleeping; the status looked at now and then only. */
static int hb_req_spin(struct hb_dev *hb, struct virtqueue *vq)
{
	unsigned int len, spins = 0;

	while (!virtqueue_get_buf(vq, &len)) {
		if (virtqueue_is_broken(vq) ||
		    (!(++spins % 1024) && hb_needs_reset(hb)))
			return -EIO;
		cpu_relax();
	}
	return 0;
}

/*
 * Posts one request (@nr_out device-readable buffers, then @nr_in
 * device-writable ones) on @vq and waits until the device has used it:
 * asleep, or spinning if @atomic.  The caller serializes the use of @vq,
 * so the queue is empty.
 */
static int hb_roundtrip(struct hb_dev *hb, struct virtqueue *vq,
			struct scatterlist *sgs[], unsigned int nr_out,
			unsigned int nr_in, bool atomic)
{
	int err;

	/*
	 * The queue is empty, so the request always fits.  No allocation
	 * here: the OOM notifier may be waiting for our locks.
	 */
	err = virtqueue_add_sgs(vq, sgs, nr_out, nr_in, hb,
				GFP_NOWAIT | __GFP_NOWARN);
	if (err) {
		dev_warn_ratelimited(&hb->vdev->dev, "%s: cannot queue request: %d\n",
				     vq->name, err);
		return err;
	}
	virtqueue_kick(vq);

	/*
	 * The caller cannot sleep, nor leave the request to the device, which
	 * may be writing the pages: the device's answer, NEEDS_RESET or a
	 * broken queue (a surprise removal) ends the wait.
	 */
	if (atomic)
		return hb_req_spin(hb, vq);

	/*
	 * NEEDS_RESET comes with a config interrupt, which wakes us; a
	 * removed device sends nothing, so look again now and then.
	 */
	while (!wait_event_timeout(hb->acked, hb_req_done(hb, vq, &err), HZ))
		;
	return err;
}

/*
 * Sends the request in hb->req and waits until the device has used it.
 * Called with hb->vq_lock held.
 */
static int hb_tell_host(struct hb_dev *hb, struct virtqueue *vq, u32 nr)
{
	struct scatterlist sg, *sgs[] = { &sg };
	int err;

	if (hb->broken)
		return -EIO;
	hb->req->nr_ranges = cpu_to_le32(nr);
	sg_init_one(&sg, hb->req, struct_size(hb->req, ranges, nr));
	err = hb_roundtrip(hb, vq, sgs, 1, 0, false);
	if (err == -EIO) {
		dev_err(&hb->vdev->dev,
			"%s: device failed the request, stopping\n", vq->name);
		WRITE_ONCE(hb->broken, true);
	}
	return err;
}

/* Tells the device about all pages of @b.  Called with node->lock held. */
static int hb_send_batch(struct hb_dev *hb, struct hb_node *node,
			 struct virtqueue *vq, struct hb_batch *b)
{
	struct page *page;
	u32 nr = 0;
	int err;

	mutex_lock(&hb->vq_lock);
	hb->req->node_id = cpu_to_le32(node->dev_id);
	list_for_each_entry(page, &b->chunks, lru)
		hb_req_add(hb, &nr, page, HB_CHUNK_ORDER);
	list_for_each_entry(page, &b->pages, lru)
		hb_req_add(hb, &nr, page, 0);
	nr = hb_merge_ranges(hb->req->ranges, nr);
	err = hb_tell_host(hb, vq, nr);
	mutex_unlock(&hb->vq_lock);
	return err;
}

/* Exchange: the host moves folio contents for folio exchange and migration */

static bool exchange_offload = true;
module_param(exchange_offload, bool, 0644);
MODULE_PARM_DESC(exchange_offload,
		 "Let the host swap the contents of exchanged folios and copy those HPlacement migrates (needs VIRTIO_HBALLOON_F_EXCHANGE)");

/* Below this a request costs more than the CPU's own copy. */
static unsigned int exchange_min_kb = 64;
module_param(exchange_min_kb, uint, 0644);
MODULE_PARM_DESC(exchange_min_kb,
		 "Smallest exchange or migration batch, in KiB, the host moves");

#define HB_XREQ_BYTES	struct_size_t(struct virtio_hballoon_exchange_req, x, \
				      VIRTIO_HBALLOON_MAX_EXCHANGES)

static struct hb_dev *hb_from_copier(struct folio_copier *c)
{
	return container_of(c, struct hb_dev, copier);
}

static bool hb_offload(struct hb_dev *hb, unsigned long bytes)
{
	return READ_ONCE(exchange_offload) && !READ_ONCE(hb->xchg_broken) &&
	       bytes >= (unsigned long)READ_ONCE(exchange_min_kb) * SZ_1K;
}

static void hb_xchg_add(struct hb_dev *hb, unsigned int i, struct folio *a,
			struct folio *b)
{
	struct virtio_hballoon_exchange *e = &hb->xreq->x[i];

	e->addr_a = cpu_to_le64(PFN_PHYS(folio_pfn(a)));
	e->addr_b = cpu_to_le64(PFN_PHYS(folio_pfn(b)));
	e->len = cpu_to_le64(folio_size(a));
}

/*
 * Sends the first @nr entries of hb->xreq and waits until the device has
 * used them (spinning if @atomic).  Called with hb->xchg_lock held.
 */
static int hb_xchg_send(struct hb_dev *hb, unsigned int nr, u32 flags,
			bool atomic)
{
	struct scatterlist out, in, *sgs[] = { &out, &in };
	int err;

	if (hb->xchg_broken)
		return -EIO;
	hb->xreq->nr = cpu_to_le32(nr);
	hb->xreq->flags = cpu_to_le32(flags);
	hb->xstatus = U8_MAX;
	sg_init_one(&out, hb->xreq, struct_size(hb->xreq, x, nr));
	sg_init_one(&in, &hb->xstatus, sizeof(hb->xstatus));
	err = hb_roundtrip(hb, hb->exchange_vq, sgs, 1, 1, atomic);
	if (!err && hb->xstatus != VIRTIO_HBALLOON_EXCHANGE_OK)
		err = -EIO;
	/*
	 * The device failed: the CPU moves folios from now on.  A request
	 * not queued (no memory) fails alone.
	 */
	if (err == -EIO) {
		dev_err(&hb->vdev->dev,
			"exchange: device failed a request (status %u), the CPU moves folios from now on\n",
			hb->xstatus);
		WRITE_ONCE(hb->xchg_broken, true);
	}
	return err;
}

/*
 * Swaps (@flags 0) or copies (VIRTIO_HBALLOON_EXCHANGE_F_COPY, @a[i] to
 * @b[i]) of @nr pairs of folios of equal sizes, in requests of up to
 * VIRTIO_HBALLOON_MAX_EXCHANGES entries: small folios, too small for a
 * request each, share one.  @atomic: without sleeping (-EBUSY if another
 * task has the queue).  Returns the pairs done, or a negative errno when
 * none was.
 */
static int hb_xchg_pairs(struct hb_dev *hb, struct folio **a,
			 struct folio **b, unsigned int nr, u32 flags,
			 bool atomic)
{
	unsigned long bytes = 0;
	unsigned int i, n, done = 0;
	int err = 0;

	for (i = 0; i < nr; i++) {
		if (folio_size(a[i]) != folio_size(b[i]))
			return -EOPNOTSUPP;
		bytes += folio_size(a[i]);
	}
	if (!hb_offload(hb, bytes))
		return -EOPNOTSUPP;
	if (!atomic)
		mutex_lock(&hb->xchg_lock);
	else if (!mutex_trylock(&hb->xchg_lock))
		return -EBUSY;
	while (done < nr) {
		n = min(nr - done, VIRTIO_HBALLOON_MAX_EXCHANGES);
		for (i = 0; i < n; i++)
			hb_xchg_add(hb, i, a[done + i], b[done + i]);
		err = hb_xchg_send(hb, n, flags, atomic);
		if (err)
			break;
		done += n;
	}
	mutex_unlock(&hb->xchg_lock);
	return done ? done : err;
}

static int hb_copier_swap(struct folio_copier *c, struct folio **a,
			  struct folio **b, unsigned int nr)
{
	return hb_xchg_pairs(hb_from_copier(c), a, b, nr, 0, false);
}

/* Pairs with a frozen page cache folio, swapped with preemption off. */
static int hb_copier_swap_atomic(struct folio_copier *c, struct folio **a,
				 struct folio **b, unsigned int nr)
{
	return hb_xchg_pairs(hb_from_copier(c), a, b, nr, 0, true);
}

static int hb_copier_copy(struct folio_copier *c, struct folio *dst,
			  struct folio *src)
{
	int done = hb_xchg_pairs(hb_from_copier(c), &src, &dst, 1,
				 VIRTIO_HBALLOON_EXCHANGE_F_COPY, false);

	return done < 0 ? done : 0;
}

/* A migration batch's copies (folio_copier_copy_ahead()). */
static int hb_copier_copy_folios(struct folio_copier *c, struct folio **dst,
				 struct folio **src, unsigned int nr)
{
	return hb_xchg_pairs(hb_from_copier(c), src, dst, nr,
			     VIRTIO_HBALLOON_EXCHANGE_F_COPY, false);
}

/* After DRIVER_OK: exchanges and migrations may use the queue at once. */
static void hb_init_exchange(struct hb_dev *hb)
{
	int err;

	if (!hb->exchange_vq)
		return;
	/* Without it, exchanges and migrations just use the CPU. */
	hb->xreq = kzalloc(HB_XREQ_BYTES, GFP_KERNEL);
	if (!hb->xreq)
		return;
	hb->copier.exchange = hb_copier_swap;
	hb->copier.exchange_atomic = hb_copier_swap_atomic;
	hb->copier.copy_folio = hb_copier_copy;
	hb->copier.copy_folios = hb_copier_copy_folios;
	err = folio_copier_register(&hb->copier);
	if (err)
		dev_warn(&hb->vdev->dev,
			 "exchange: cannot register as folio copier: %d\n", err);
}

/*
 * Waits for the exchange or migration that uses the copier; nothing to do
 * if it was never registered.
 */
static void hb_exit_exchange(struct hb_dev *hb)
{
	folio_copier_unregister(&hb->copier);
}

/* Inflation */

static struct page *hb_alloc(struct hb_node *node, gfp_t gfp,
			     unsigned int order)
{
	struct page *page = alloc_pages_node(node->nid, gfp, order);

	/* __GFP_THISNODE promises this; a balloon must never cross tiers. */
	if (page && WARN_ON_ONCE(page_to_nid(page) != node->nid)) {
		__free_pages(page, order);
		return NULL;
	}
	return page;
}

/*
 * Allocates up to @bytes of @node's memory into @b, 2 MiB chunks first.
 * Runs without locks: the allocations may reclaim and compact, and
 * compaction may try to migrate our own balloon pages.
 * Returns false if an allocation of base pages failed.
 */
static bool hb_alloc_batch(struct hb_node *node, u64 bytes,
			   struct hb_batch *b)
{
	struct page *page;

	while (bytes >= HB_CHUNK_SIZE) {
		if (b->nr_chunks == HB_BATCH_CHUNKS)
			return true;
		page = hb_alloc(node, HB_CHUNK_GFP, HB_CHUNK_ORDER);
		if (!page) {
			count_vm_event(HBALLOON_ALLOC_FALLBACK);
			break;
		}
		count_vm_event(HBALLOON_ALLOC_HUGE);
		list_add(&page->lru, &b->chunks);
		b->nr_chunks++;
		bytes -= HB_CHUNK_SIZE;
	}

	/* Each base page may need a range of its own. */
	while (bytes >= PAGE_SIZE &&
	       b->nr_chunks + b->nr_pages < HB_MAX_RANGES) {
		page = hb_alloc(node, HB_PAGE_GFP, 0);
		if (!page)
			return false;
		list_add(&page->lru, &b->pages);
		b->nr_pages++;
		bytes -= PAGE_SIZE;
	}
	return true;
}

static void hb_free_batch(struct hb_batch *b)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, &b->chunks, lru) {
		list_del(&page->lru);
		__free_pages(page, HB_CHUNK_ORDER);
	}
	list_for_each_entry_safe(page, next, &b->pages, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
	hb_batch_init(b);
}

/*
 * Moves the pages of @b, which the device now knows about, into the
 * balloon.  Called with node->lock held.
 */
static void hb_batch_to_balloon(struct hb_node *node, struct hb_batch *b)
{
	unsigned long nr = hb_batch_pages(b);
	struct page *page;

	/*
	 * Managed pages are adjusted also with DEFLATE_ON_OOM, so that the
	 * node's MemTotal is the usable size of the tier.
	 */
	list_for_each_entry(page, &b->chunks, lru)
		adjust_managed_page_count(page, -(long)HB_CHUNK_PAGES);
	list_for_each_entry(page, &b->pages, lru)
		adjust_managed_page_count(page, -1);

	list_splice_init(&b->chunks, &node->chunks);
	node->nr_chunks += b->nr_chunks;
	balloon_page_list_enqueue(&node->b_dev_info, &b->pages);
	node->nr_pages += b->nr_pages;

	mod_node_page_state(NODE_DATA(node->nid), NR_HBALLOON_PAGES, nr);
	count_vm_events(HBALLOON_INFLATE, HB_TO_4K(nr));
	hb_batch_init(b);
}

/* Returns the next step for the size work. */
static enum hb_step hb_inflate(struct hb_dev *hb, struct hb_node *node,
			       u64 bytes)
{
	struct hb_batch b;
	bool ok;
	int err;

	hb_batch_init(&b);
	ok = hb_alloc_batch(node, bytes, &b);
	if (!b.nr_chunks && !b.nr_pages) {
		/* Once per stall, not at every retry. */
		if (!node->stalled)
			dev_info(&hb->vdev->dev,
				 "node %d: out of memory to inflate, retrying\n",
				 node->nid);
		node->stalled = true;
		return HB_STEP_RETRY;
	}
	node->stalled = false;

	mutex_lock(&node->lock);
	/* The node ran out of memory while we allocated: give it back. */
	if (hb_node_backoff(node)) {
		mutex_unlock(&node->lock);
		hb_free_batch(&b);
		return HB_STEP_WAIT;
	}
	err = hb_send_batch(hb, node, hb->inflate_vq, &b);
	if (!err)
		hb_batch_to_balloon(node, &b);
	mutex_unlock(&node->lock);

	if (err) {
		hb_free_batch(&b);
		return HB_STEP_RETRY;
	}
	return ok ? HB_STEP_AGAIN : HB_STEP_RETRY;
}

/* Deflation */

static void hb_take_chunk(struct hb_node *node, struct hb_batch *b)
{
	list_move(node->chunks.next, &b->chunks);
	node->nr_chunks--;
	b->nr_chunks++;
}

static void hb_take_pages(struct hb_node *node, struct hb_batch *b,
			  unsigned long nr)
{
	size_t got;

	/* Gets fewer if some pages are isolated for migration. */
	got = balloon_page_list_dequeue(&node->b_dev_info, &b->pages, nr);
	node->nr_pages -= got;
	b->nr_pages += got;
}

/*
 * Takes up to @bytes out of @node's balloon into @b.  Called with
 * node->lock held.
 *
 * Normally whole chunks go first; base pages make up the rest, and if
 * there are none left, one more chunk goes and the size work fills the
 * difference with base pages.  On OOM (@small_first), base pages go first
 * so that chunks stay intact, and one chunk only if there are no base pages.
 */
static void hb_take(struct hb_node *node, u64 bytes, bool small_first,
		    struct hb_batch *b)
{
	u64 want = bytes >> PAGE_SHIFT;

	if (small_first) {
		hb_take_pages(node, b, min_t(u64, want, HB_MAX_RANGES));
		if (!b->nr_pages && !node->nr_pages && node->nr_chunks)
			hb_take_chunk(node, b);
		return;
	}

	while (want >= HB_CHUNK_PAGES && node->nr_chunks &&
	       b->nr_chunks < HB_BATCH_CHUNKS) {
		hb_take_chunk(node, b);
		want -= HB_CHUNK_PAGES;
	}
	hb_take_pages(node, b, min_t(u64, want, HB_MAX_RANGES - b->nr_chunks));
	want -= b->nr_pages;
	if (want && !node->nr_pages && node->nr_chunks &&
	    b->nr_chunks < HB_BATCH_CHUNKS)
		hb_take_chunk(node, b);
}

/* The device refused to hear about @b: back into the balloon. */
static void hb_put_back(struct hb_node *node, struct hb_batch *b)
{
	list_splice_init(&b->chunks, &node->chunks);
	node->nr_chunks += b->nr_chunks;
	balloon_page_list_enqueue(&node->b_dev_info, &b->pages);
	node->nr_pages += b->nr_pages;
	hb_batch_init(b);
}

/* Gives the pages of @b, which the device has released, back to the guest. */
static void hb_release(struct hb_node *node, struct hb_batch *b)
{
	unsigned long nr = hb_batch_pages(b);
	struct page *page, *next;

	list_for_each_entry_safe(page, next, &b->chunks, lru) {
		list_del(&page->lru);
		adjust_managed_page_count(page, HB_CHUNK_PAGES);
		__free_pages(page, HB_CHUNK_ORDER);
	}
	list_for_each_entry_safe(page, next, &b->pages, lru) {
		list_del(&page->lru);
		adjust_managed_page_count(page, 1);
		put_page(page); /* the balloon's reference */
	}
	mod_node_page_state(NODE_DATA(node->nid), NR_HBALLOON_PAGES, -(long)nr);
	count_vm_events(HBALLOON_DEFLATE, HB_TO_4K(nr));
	hb_batch_init(b);
}

/*
 * Deflates up to @bytes of @node (see hb_take()), telling the device
 * first.  @oom: called from the OOM notifier.  Returns the number of base
 * pages given back to the guest, or a negative error.
 */
static long hb_deflate(struct hb_dev *hb, struct hb_node *node, u64 bytes,
		       bool oom)
{
	struct hb_batch b;
	long nr;
	int err;

	hb_batch_init(&b);
	mutex_lock(&node->lock);
	hb_take(node, bytes, oom, &b);
	nr = hb_batch_pages(&b);
	if (!nr) {
		mutex_unlock(&node->lock);
		return 0;
	}

	err = hb_send_batch(hb, node, hb->deflate_vq, &b);
	if (err) {
		hb_put_back(node, &b);
		mutex_unlock(&node->lock);
		return err;
	}
	hb_release(node, &b);
	if (oom) {
		node->oom_backoff = true;
		WRITE_ONCE(node->oom_until, jiffies + HB_OOM_BACKOFF);
		count_vm_events(HBALLOON_OOM_DEFLATE, HB_TO_4K(nr));
	}
	mutex_unlock(&node->lock);
	return nr;
}

/* Size work */

/* The node's target in bytes, at most its size, in whole base pages. */
static u64 hb_node_target(struct hb_dev *hb, struct hb_node *node)
{
	u64 target, size;

	virtio_cread_le(hb->vdev, struct virtio_hballoon_config,
			nodes[node->idx].target, &target);
	virtio_cread_le(hb->vdev, struct virtio_hballoon_config,
			nodes[node->idx].size, &size);
	if (target > size) {
		dev_warn_ratelimited(&hb->vdev->dev,
				     "node %d: target %llu exceeds size %llu\n",
				     node->nid, target, size);
		target = size;
	}
	return round_down(target, PAGE_SIZE);
}

static enum hb_step hb_balance_node(struct hb_dev *hb, struct hb_node *node)
{
	u64 target = hb_node_target(hb, node);
	u64 cur = hb_node_bytes(node);
	enum hb_step step;
	bool backoff;
	long nr;

	if (target < cur) {
		nr = hb_deflate(hb, node, cur - target, false);
		/* Nothing taken: pages are isolated for migration. */
		step = nr > 0 ? HB_STEP_AGAIN : HB_STEP_RETRY;
	} else if (target == cur) {
		step = HB_STEP_DONE;
	} else {
		/*
		 * Re-inflating right after an OOM deflate would run the node
		 * out of memory again and again: wait until the backoff has
		 * expired.
		 */
		mutex_lock(&node->lock);
		backoff = hb_node_backoff(node);
		mutex_unlock(&node->lock);
		step = backoff ? HB_STEP_WAIT :
				 hb_inflate(hb, node, target - cur);
	}

	/*
	 * An inflation short of free memory on the node: HPlacement may make
	 * room by demoting its coldest pages (FMEM).  Only then, so that it
	 * does not demote what the balloon could have had anyway.
	 */
	cur = hb_node_bytes(node);
	hpl_balloon_want(node->nid, step == HB_STEP_RETRY && target > cur ?
			 (target - cur) >> PAGE_SHIFT : 0);
	return step;
}

static void hb_size_work(struct work_struct *work)
{
	struct hb_dev *hb = container_of(to_delayed_work(work), struct hb_dev,
					 size_work);
	unsigned long delay = MAX_JIFFY_OFFSET;
	unsigned int i;

	/* One batch per node and run, so that no node starves the others. */
	for (i = 0; i < hb->nr_nodes && !READ_ONCE(hb->broken); i++) {
		struct hb_node *node = &hb->nodes[i];
		long left;

		switch (hb_balance_node(hb, node)) {
		case HB_STEP_DONE:
			break;
		case HB_STEP_AGAIN:
			delay = 0;
			break;
		case HB_STEP_RETRY:
			delay = min(delay, HB_RETRY_DELAY);
			break;
		case HB_STEP_WAIT:
			left = max_t(long, READ_ONCE(node->oom_until) - jiffies,
				     1);
			delay = min_t(unsigned long, delay, left);
			break;
		}
	}
	if (delay != MAX_JIFFY_OFFSET && !READ_ONCE(hb->broken))
		hb_queue_size_work(hb, delay);
}

/* Deflate on OOM */

/* The nodes the OOMing task may allocate from, as far as we can tell. */
static void hb_oom_nodes(nodemask_t *nodes)
{
	struct mempolicy *pol = current->mempolicy;

	*nodes = cpuset_current_mems_allowed;
	/* Only current changes its own policy: no lock needed to read it. */
	if (pol && pol->mode == MPOL_BIND)
		nodes_and(*nodes, *nodes, pol->nodes);
}

static unsigned long hb_oom_deflate(struct hb_dev *hb, struct hb_node *node,
				    unsigned long nr)
{
	long got = hb_deflate(hb, node, (u64)nr << PAGE_SHIFT, true);

	if (got <= 0)
		return 0;
	/* Re-inflate when the backoff expires. */
	hb_queue_size_work(hb, HB_OOM_BACKOFF);
	return got;
}

static int hb_oom_notify(struct notifier_block *nb, unsigned long dummy,
			 void *parm)
{
	struct hb_dev *hb = container_of(nb, struct hb_dev, oom_nb);
	unsigned long *freed = parm;
	unsigned long got = 0;
	int local = numa_node_id();
	nodemask_t nodes;
	unsigned int i;

	hb_oom_nodes(&nodes);

	/* The local node first, then the other allowed ones. */
	for (i = 0; i < hb->nr_nodes; i++) {
		struct hb_node *node = &hb->nodes[i];

		if (node->nid == local && node_isset(local, nodes))
			got += hb_oom_deflate(hb, node, HB_OOM_PAGES);
	}
	for (i = 0; i < hb->nr_nodes && got < HB_OOM_PAGES; i++) {
		struct hb_node *node = &hb->nodes[i];

		if (node->nid != local && node_isset(node->nid, nodes))
			got += hb_oom_deflate(hb, node, HB_OOM_PAGES - got);
	}
	*freed += got;
	return NOTIFY_OK;
}

/* Balloon compaction */

/*
 * Migrates a balloon page for compaction: tells the device about the new
 * page, then releases the old one.  Called with both pages locked.
 */
static int hb_migratepage(struct balloon_dev_info *b_dev_info,
			  struct page *newpage, struct page *page,
			  enum migrate_mode mode)
{
	struct hb_node *node = container_of(b_dev_info, struct hb_node,
					    b_dev_info);
	struct hb_dev *hb = node->hb;
	unsigned long flags;
	u32 nr = 0;
	int err;

	/* Balloon capacity never moves between tiers. */
	if (page_to_nid(newpage) != page_to_nid(page)) {
		count_vm_event(HBALLOON_MIGRATE_REFUSED);
		return -EBUSY;
	}

	/*
	 * Do not wait for the locks, like virtio_balloon: their holder may
	 * be waiting for the device, and compaction must not stall on it.
	 * The migration is simply retried later.
	 */
	if (!mutex_trylock(&node->lock))
		return -EAGAIN;
	if (!mutex_trylock(&hb->vq_lock)) {
		mutex_unlock(&node->lock);
		return -EAGAIN;
	}

	hb->req->node_id = cpu_to_le32(node->dev_id);
	hb_req_add(hb, &nr, newpage, 0);
	err = hb_tell_host(hb, hb->inflate_vq, nr);
	if (err) {
		mutex_unlock(&hb->vq_lock);
		mutex_unlock(&node->lock);
		return -EAGAIN;
	}

	get_page(newpage); /* the balloon's reference */
	/* Same node, but maybe another zone: move the managed page. */
	if (page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}
	spin_lock_irqsave(&b_dev_info->pages_lock, flags);
	balloon_page_insert(b_dev_info, newpage);
	b_dev_info->isolated_pages--;
	spin_unlock_irqrestore(&b_dev_info->pages_lock, flags);

	/*
	 * This fails only when the device is broken; it then needs a reset,
	 * which forgets all ballooned pages anyway.
	 */
	nr = 0;
	hb_req_add(hb, &nr, page, 0);
	hb_tell_host(hb, hb->deflate_vq, nr);

	mutex_unlock(&hb->vq_lock);
	mutex_unlock(&node->lock);

	count_vm_event(HBALLOON_MIGRATE);
	balloon_page_finalize(page);
	put_page(page); /* the balloon's reference */
	return MIGRATEPAGE_SUCCESS;
}

/* Stats */

/*
 * AVAIL is free plus file LRU pages: a cheap per-node approximation of
 * MemAvailable, which the kernel computes only globally.  The zone
 * counters are used because si_meminfo_node() and node_page_state() are
 * not exported to modules.
 */
static void hb_node_meminfo(int nid, u64 *total, u64 *free, u64 *avail)
{
	struct pglist_data *pgdat = NODE_DATA(nid);
	unsigned long managed = 0, nr_free = 0, file = 0;
	int i;

	for (i = 0; i < MAX_NR_ZONES; i++) {
		struct zone *zone = &pgdat->node_zones[i];

		managed += zone_managed_pages(zone);
		nr_free += zone_page_state(zone, NR_FREE_PAGES);
		file += zone_page_state(zone, NR_ZONE_INACTIVE_FILE) +
			zone_page_state(zone, NR_ZONE_ACTIVE_FILE);
	}
	*total = (u64)managed << PAGE_SHIFT;
	*free = (u64)nr_free << PAGE_SHIFT;
	*avail = (u64)(nr_free + file) << PAGE_SHIFT;
}

static void hb_set_stat(struct virtio_hballoon_stat *s, u16 tag,
			struct hb_node *node, u64 val)
{
	s->tag = cpu_to_le16(tag);
	s->padding = 0;
	s->node_id = cpu_to_le32(node->dev_id);
	s->val = cpu_to_le64(val);
}

/* HOT and COLD only while HPlacement classifies the node's memory. */
static unsigned int hb_fill_stats(struct hb_dev *hb)
{
	struct virtio_hballoon_stat *s = hb->stats;
	u64 total, free, avail, hot, cold;
	unsigned int i;

	for (i = 0; i < hb->nr_nodes; i++) {
		struct hb_node *node = &hb->nodes[i];

		hb_node_meminfo(node->nid, &total, &free, &avail);
		hb_set_stat(s++, VIRTIO_HBALLOON_S_MEMTOT, node, total);
		hb_set_stat(s++, VIRTIO_HBALLOON_S_MEMFREE, node, free);
		hb_set_stat(s++, VIRTIO_HBALLOON_S_AVAIL, node, avail);
		if (hpl_node_hotness(node->nid, &hot, &cold))
			continue;
		hb_set_stat(s++, VIRTIO_HBALLOON_S_HOT, node, hot);
		hb_set_stat(s++, VIRTIO_HBALLOON_S_COLD, node, cold);
	}
	return s - hb->stats;
}

/* Only the stats work and probe use the stats queue. */
static int hb_post_stats(struct hb_dev *hb)
{
	unsigned int nr = hb_fill_stats(hb);
	struct scatterlist sg;
	int err;

	sg_init_one(&sg, hb->stats, nr * sizeof(*hb->stats));
	err = virtqueue_add_outbuf(hb->stats_vq, &sg, 1, hb, GFP_KERNEL);
	if (err)
		return err;
	virtqueue_kick(hb->stats_vq);
	return 0;
}

static void hb_stats_work(struct work_struct *work)
{
	struct hb_dev *hb = container_of(work, struct hb_dev, stats_work);
	unsigned int len;
	int err;

	/* The device returns the buffer to ask for fresh stats. */
	if (!virtqueue_get_buf(hb->stats_vq, &len))
		return;
	err = hb_post_stats(hb);
	if (err)
		dev_warn_ratelimited(&hb->vdev->dev,
				     "cannot queue stats: %d\n", err);
}

/* Probe and remove */

/* The Linux node for the device's node id, or NUMA_NO_NODE. */
static int hb_map_node(struct hb_dev *hb, u32 id)
{
	if (virtio_has_feature(hb->vdev, VIRTIO_HBALLOON_F_ACPI_PXM)) {
		if (id > INT_MAX)
			return NUMA_NO_NODE;
		return pxm_to_node(id);
	}
	if (id >= MAX_NUMNODES)
		return NUMA_NO_NODE;
	return id;
}

static bool hb_node_usable(struct hb_dev *hb, u32 id, int nid)
{
	struct device *dev = &hb->vdev->dev;
	unsigned int i;

	if (nid < 0 || nid >= MAX_NUMNODES || !node_online(nid) ||
	    !node_state(nid, N_MEMORY)) {
		dev_warn(dev, "node id %u: no online node with memory, ignored\n",
			 id);
		return false;
	}
	for (i = 0; i < hb->nr_nodes; i++) {
		if (hb->nodes[i].nid == nid) {
			dev_warn(dev, "node id %u: node %d listed twice, ignored\n",
				 id, nid);
			return false;
		}
	}
	return true;
}

static void hb_init_node(struct hb_dev *hb, struct hb_node *node,
			 unsigned int idx, u32 id, int nid)
{
	node->hb = hb;
	node->idx = idx;
	node->dev_id = id;
	node->nid = nid;
	mutex_init(&node->lock);
	balloon_devinfo_init(&node->b_dev_info);
	if (IS_ENABLED(CONFIG_BALLOON_COMPACTION))
		node->b_dev_info.migratepage = hb_migratepage;
	INIT_LIST_HEAD(&node->chunks);
}

static int hb_init_nodes(struct hb_dev *hb, u32 num)
{
	unsigned int i;
	u32 id;
	int nid;

	for (i = 0; i < num; i++) {
		virtio_cread_le(hb->vdev, struct virtio_hballoon_config,
				nodes[i].node_id, &id);
		nid = hb_map_node(hb, id);
		if (!hb_node_usable(hb, id, nid))
			continue;
		hb_init_node(hb, &hb->nodes[hb->nr_nodes], i, id, nid);
		hb->nr_nodes++;
		dev_info(&hb->vdev->dev, "node id %u: balloon for node %d\n",
			 id, nid);
	}
	if (!hb->nr_nodes) {
		dev_err(&hb->vdev->dev, "no usable node\n");
		return -ENODEV;
	}
	return 0;
}

static int hb_init_vqs(struct hb_dev *hb)
{
	struct virtqueue_info vqs_info[VIRTIO_HBALLOON_VQ_EXCHANGE + 1] = {
		[VIRTIO_HBALLOON_VQ_INFLATE] = { "inflate", hb_ack },
		[VIRTIO_HBALLOON_VQ_DEFLATE] = { "deflate", hb_ack },
		[VIRTIO_HBALLOON_VQ_STATS] = { "stats", hb_stats_request },
	};
	struct virtqueue *vqs[VIRTIO_HBALLOON_VQ_EXCHANGE + 1];
	unsigned int nvqs = VIRTIO_HBALLOON_VQ_NUM;
	int err;

	if (virtio_has_feature(hb->vdev, VIRTIO_HBALLOON_F_EXCHANGE)) {
		vqs_info[VIRTIO_HBALLOON_VQ_EXCHANGE] =
			(struct virtqueue_info){ "exchange", hb_ack };
		nvqs = VIRTIO_HBALLOON_VQ_EXCHANGE + 1;
	}
	err = virtio_find_vqs(hb->vdev, nvqs, vqs, vqs_info, NULL);
	if (err)
		return err;
	hb->inflate_vq = vqs[VIRTIO_HBALLOON_VQ_INFLATE];
	hb->deflate_vq = vqs[VIRTIO_HBALLOON_VQ_DEFLATE];
	hb->stats_vq = vqs[VIRTIO_HBALLOON_VQ_STATS];
	if (nvqs > VIRTIO_HBALLOON_VQ_EXCHANGE)
		hb->exchange_vq = vqs[VIRTIO_HBALLOON_VQ_EXCHANGE];
	return 0;
}

static void hb_free(struct hb_dev *hb)
{
	kfree(hb->xreq);
	kfree(hb->stats);
	kfree(hb->req);
	kfree(hb);
}

static int hb_probe(struct virtio_device *vdev)
{
	struct hb_dev *hb;
	u32 num;
	int err;

	hb_build_checks();

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config access disabled\n");
		return -EINVAL;
	}
	virtio_cread_le(vdev, struct virtio_hballoon_config, num_nodes, &num);
	if (!num || num > VIRTIO_HBALLOON_MAX_NODES) {
		dev_err(&vdev->dev, "invalid num_nodes %u\n", num);
		return -EINVAL;
	}

	hb = kzalloc(struct_size(hb, nodes, num), GFP_KERNEL);
	if (!hb)
		return -ENOMEM;
	hb->vdev = vdev;
	vdev->priv = hb;
	INIT_DELAYED_WORK(&hb->size_work, hb_size_work);
	INIT_WORK(&hb->stats_work, hb_stats_work);
	spin_lock_init(&hb->stop_lock);
	mutex_init(&hb->vq_lock);
	mutex_init(&hb->xchg_lock);
	init_waitqueue_head(&hb->acked);

	hb->req = kmalloc(HB_REQ_BYTES, GFP_KERNEL);
	hb->stats = kcalloc(num * HB_STATS_PER_NODE, sizeof(*hb->stats),
			    GFP_KERNEL);
	if (!hb->req || !hb->stats) {
		err = -ENOMEM;
		goto err_free;
	}

	err = hb_init_nodes(hb, num);
	if (err)
		goto err_free;
	err = hb_init_vqs(hb);
	if (err)
		goto err_free;

	if (virtio_has_feature(vdev, VIRTIO_HBALLOON_F_DEFLATE_ON_OOM)) {
		hb->oom_nb.notifier_call = hb_oom_notify;
		hb->oom_nb.priority = HB_OOM_NOTIFY_PRIORITY;
		err = register_oom_notifier(&hb->oom_nb);
		if (err)
			goto err_del_vqs;
	}

	virtio_device_ready(vdev);
	hb_init_exchange(hb);

	/* Stats are optional: the balloons work without them. */
	err = hb_post_stats(hb);
	if (err)
		dev_warn(&vdev->dev, "cannot queue stats: %d\n", err);

	hb_queue_size_work(hb, 0);
	return 0;

err_del_vqs:
	vdev->config->del_vqs(vdev);
err_free:
	hb_free(hb);
	return err;
}

/* Tells the device; stops at the first failure. */
static void hb_deflate_all(struct hb_dev *hb)
{
	unsigned int i;
	long nr;

	for (i = 0; i < hb->nr_nodes; i++) {
		while (hb_node_bytes(&hb->nodes[i])) {
			nr = hb_deflate(hb, &hb->nodes[i], U64_MAX, false);
			if (nr < 0)
				return;
			/* Pages isolated for migration come back soon. */
			if (!nr)
				msleep(20);
		}
	}
}

/*
 * After a reset the device has forgotten its balloons, so what is still
 * in them is the guest's again without telling anyone.
 */
static void hb_release_all(struct hb_dev *hb)
{
	struct hb_batch b;
	unsigned int i;

	for (i = 0; i < hb->nr_nodes; i++) {
		struct hb_node *node = &hb->nodes[i];

		mutex_lock(&node->lock);
		while (node->nr_chunks || node->nr_pages) {
			hb_batch_init(&b);
			hb_take(node, U64_MAX, false, &b);
			if (hb_batch_pages(&b)) {
				hb_release(node, &b);
				continue;
			}
			/* Isolated pages come back when migration fails. */
			mutex_unlock(&node->lock);
			msleep(20);
			mutex_lock(&node->lock);
		}
		mutex_unlock(&node->lock);
	}
}

static void hb_remove(struct virtio_device *vdev)
{
	struct hb_dev *hb = vdev->priv;
	unsigned int i;

	spin_lock_irq(&hb->stop_lock);
	hb->stop_update = true;
	spin_unlock_irq(&hb->stop_lock);

	if (virtio_has_feature(vdev, VIRTIO_HBALLOON_F_DEFLATE_ON_OOM))
		unregister_oom_notifier(&hb->oom_nb);
	cancel_delayed_work_sync(&hb->size_work);
	cancel_work_sync(&hb->stats_work);

	hb_deflate_all(hb);
	for (i = 0; i < hb->nr_nodes; i++)
		hpl_balloon_want(hb->nodes[i].nid, 0);

	/* Migration must not use the queues of a reset device. */
	mutex_lock(&hb->vq_lock);
	WRITE_ONCE(hb->broken, true);
	mutex_unlock(&hb->vq_lock);
	hb_exit_exchange(hb);
	virtio_reset_device(vdev);
	/* Only left if the device failed. */
	hb_release_all(hb);

	vdev->config->del_vqs(vdev);
	hb_free(hb);
}

static void hb_config_changed(struct virtio_device *vdev)
{
	struct hb_dev *hb = vdev->priv;

	/* A request waiting for the device may be waiting in vain. */
	wake_up(&hb->acked);
	/* Called in interrupt context; reading the config may sleep. */
	hb_queue_size_work(hb, 0);
}

static int hb_validate(struct virtio_device *vdev)
{
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev, "device is not VIRTIO_F_VERSION_1\n");
		return -ENODEV;
	}
	/* Ranges are guest-physical addresses, not DMA addresses. */
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	/* Without ACPI NUMA we cannot map PXMs: use Linux node ids. */
	if (!IS_ENABLED(CONFIG_ACPI_NUMA))
		__virtio_clear_bit(vdev, VIRTIO_HBALLOON_F_ACPI_PXM);
	return 0;
}

static const struct virtio_device_id id_table[] = {
	{ VIRTIO_ID_HBALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static const unsigned int features[] = {
	VIRTIO_HBALLOON_F_DEFLATE_ON_OOM,
	VIRTIO_HBALLOON_F_ACPI_PXM,
	VIRTIO_HBALLOON_F_EXCHANGE,
};

static struct virtio_driver virtio_hballoon_driver = {
	.feature_table = features,
	.feature_table_size = ARRAY_SIZE(features),
	.driver.name = KBUILD_MODNAME,
	.id_table = id_table,
	.validate = hb_validate,
	.probe = hb_probe,
	.remove = hb_remove,
	.config_changed = hb_config_changed,
};

module_virtio_driver(virtio_hballoon_driver);
MODULE_DEVICE_TABLE(virtio, id_table);
MODULE_DESCRIPTION("Virtio hetero-balloon driver: one balloon per NUMA node");
MODULE_LICENSE("GPL");

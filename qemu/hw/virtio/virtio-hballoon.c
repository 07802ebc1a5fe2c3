/*
 * Virtio hetero-balloon: one memory balloon per guest NUMA node
 *
 * The host sets, per NUMA node, how much of that node's memory the guest
 * may use; the guest hands the rest back as guest-physical ranges of that
 * node.  Every range is checked against the node's memory backend and the
 * pages the host already holds before anything is discarded: a driver
 * that sends anything else gets virtio_error() and no memory is touched.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/iov.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-commands-hballoon.h"
#include "qapi/qapi-events-hballoon.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio-hballoon.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "exec/memory.h"
#include "exec/ramblock.h"
#include "exec/address-spaces.h"
#include "block/thread-pool.h"
#include "system/dma.h"
#include "system/numa.h"
#include "system/runstate.h"
#include "trace.h"
#ifdef CONFIG_TCG
#include "accel/tcg/tier-emulation.h"
#endif

#define HBALLOON_QUEUE_SIZE 128
#define HBALLOON_PAGE_SIZE VIRTIO_HBALLOON_PAGE_SIZE
#define HBALLOON_PAGE_SHIFT VIRTIO_HBALLOON_PAGE_SHIFT
/* A kick deferred longer only delays the request (see the kick handler). */
#define HBALLOON_MAX_KICK_DELAY_US 10000

/* Only one device: the QMP commands address it by node. */
static VirtIOHBalloon *hballoon_dev;

static HBalloonNode *hballoon_find_node(VirtIOHBalloon *s, uint32_t node_id)
{
    for (uint32_t i = 0; i < s->num_nodes; i++) {
        if (s->nodes[i].node_id == node_id) {
            return &s->nodes[i];
        }
    }
    return NULL;
}

static uint64_t hballoon_ballooned_bytes(const HBalloonNode *n)
{
    return n->nr_ballooned << HBALLOON_PAGE_SHIFT;
}

/* Discard the host pages fully inside [offset, offset + len) of the node. */
static void hballoon_discard(VirtIOHBalloon *s, HBalloonNode *n,
                             uint64_t offset, uint64_t len)
{
    uint64_t start = QEMU_ALIGN_UP(offset, n->page_size);
    uint64_t end = QEMU_ALIGN_DOWN(offset + len, n->page_size);
    int ret;

    if (ram_block_discard_is_disabled() ||
        migration_in_incoming_postcopy() || migration_in_bg_snapshot()) {
        s->nr_discard_skipped++;
        trace_virtio_hballoon_discard_skipped(n->node_id, offset, len);
        return;
    }
    if (start >= end) {
        return;
    }
    ret = ram_block_discard_range(n->mr->ram_block, start, end - start);
    trace_virtio_hballoon_discard(n->node_id, start, end - start, ret);
}

typedef struct HBalloonRange {
    uint64_t offset;        /* in the node's memory backend */
    uint64_t len;
} HBalloonRange;

/*
 * The managed node whose memory backend holds all of [addr, addr + len),
 * with the range's offset in it, else NULL.
 */
static HBalloonNode *hballoon_range_node(VirtIOHBalloon *s, uint64_t addr,
                                         uint64_t len, uint64_t *offset)
{
    MemoryRegionSection section;
    HBalloonNode *n = NULL;

    section = memory_region_find(get_system_memory(), addr, len);
    if (!section.mr) {
        return NULL;
    }
    for (uint32_t i = 0; i < s->num_nodes; i++) {
        if (s->nodes[i].mr == section.mr &&
            int128_get64(section.size) == len) {
            n = &s->nodes[i];
            *offset = section.offset_within_region;
        }
    }
    memory_region_unref(section.mr);
    return n;
}

/*
 * Check one range of a request and mark it in the node's bitmap.  Returns
 * NULL on success or what is wrong, in which case nothing was marked.
 */
static const char *hballoon_mark_range(VirtIOHBalloon *s, HBalloonNode *n,
                                       uint64_t addr, uint64_t len,
                                       bool inflate, HBalloonRange *out)
{
    uint64_t offset, first, nr;

    if (!len || !QEMU_IS_ALIGNED(addr | len, HBALLOON_PAGE_SIZE)) {
        return "range not 4 KiB aligned or empty";
    }
    if (addr + len < addr || len > n->size) {
        return "range larger than the node";
    }
    if (hballoon_range_node(s, addr, len, &offset) != n) {
        return "range outside the node's memory";
    }
    first = offset >> HBALLOON_PAGE_SHIFT;
    nr = len >> HBALLOON_PAGE_SHIFT;
    if (inflate) {
        if (find_next_bit(n->ballooned, first + nr, first) < first + nr) {
            return "inflate of pages the host already holds";
        }
        bitmap_set(n->ballooned, first, nr);
    } else {
        if (find_next_zero_bit(n->ballooned, first + nr, first) <
            first + nr) {
            return "deflate of pages that are not ballooned";
        }
        bitmap_clear(n->ballooned, first, nr);
    }
    out->offset = offset;
    out->len = len;
    return NULL;
}

static void hballoon_unmark(HBalloonNode *n, const HBalloonRange *r,
                            bool inflate)
{
    if (inflate) {
        bitmap_clear(n->ballooned, r->offset >> HBALLOON_PAGE_SHIFT,
                     r->len >> HBALLOON_PAGE_SHIFT);
    } else {
        bitmap_set(n->ballooned, r->offset >> HBALLOON_PAGE_SHIFT,
                   r->len >> HBALLOON_PAGE_SHIFT);
    }
}

/*
 * Apply all ranges of a request or none: every range is checked (also
 * against the ranges before it in the same request) before anything is
 * discarded.  Returns false after a protocol violation.
 */
static bool hballoon_handle_req(VirtIOHBalloon *s, VirtQueueElement *elem,
                                bool inflate)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    struct virtio_hballoon_req req;
    struct virtio_hballoon_range r;
    size_t size = iov_size(elem->out_sg, elem->out_num);
    g_autofree HBalloonRange *ranges = NULL;
    uint64_t addr = 0, len = 0, pages = 0;
    uint32_t node_id = UINT32_MAX, nr, i;
    HBalloonNode *n;
    const char *err;

    if (iov_to_buf(elem->out_sg, elem->out_num, 0, &req, sizeof(req)) !=
        sizeof(req)) {
        err = "request too short";
        goto violation;
    }
    node_id = le32_to_cpu(req.node_id);
    nr = le32_to_cpu(req.nr_ranges);
    n = hballoon_find_node(s, node_id);
    if (!n) {
        err = "unknown node";
        goto violation;
    }
    if (!nr || nr > VIRTIO_HBALLOON_MAX_RANGES ||
        size != sizeof(req) + (size_t)nr * sizeof(r)) {
        err = "bad number of ranges";
        goto violation;
    }
    trace_virtio_hballoon_req(inflate, node_id, nr);
    ranges = g_new(HBalloonRange, nr);
    for (i = 0; i < nr; i++) {
        iov_to_buf(elem->out_sg, elem->out_num, sizeof(req) + i * sizeof(r),
                   &r, sizeof(r));
        addr = le64_to_cpu(r.addr);
        len = le64_to_cpu(r.len);
        err = hballoon_mark_range(s, n, addr, len, inflate, &ranges[i]);
        if (err) {
            while (i--) {
                hballoon_unmark(n, &ranges[i], inflate);
            }
            goto violation;
        }
        pages += len >> HBALLOON_PAGE_SHIFT;
    }
    if (inflate) {
        n->nr_ballooned += pages;
        for (i = 0; i < nr; i++) {
            hballoon_discard(s, n, ranges[i].offset, ranges[i].len);
        }
    } else {
        n->nr_ballooned -= pages;
    }
    qapi_event_send_hballoon_change(node_id,
                                    n->size - hballoon_ballooned_bytes(n));
    return true;

violation:
    s->nr_violations++;
    trace_virtio_hballoon_violation(node_id, addr, len, err);
    virtio_error(vdev, "virtio-hballoon: %s request for node %" PRIu32
                 ": %s (range 0x%" PRIx64 "+0x%" PRIx64 ")",
                 inflate ? "inflate" : "deflate", node_id, err, addr, len);
    return false;
}

static void hballoon_handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(vdev);
    VirtQueueElement *elem;

    while ((elem = virtqueue_pop(vq, sizeof(VirtQueueElement)))) {
        if (!hballoon_handle_req(s, elem, vq == s->ivq)) {
            virtqueue_detach_element(vq, elem, 0);
            g_free(elem);
            return;
        }
        virtqueue_push(vq, elem, 0);
        virtio_notify(vdev, vq);
        g_free(elem);
    }
}

/*
 * Exchange: the driver unmaps a hot page of a slow node and a cold page of
 * a fast node and asks us to swap their contents, which costs the guest no
 * CPU time.  A bottom half checks and maps a request and hands the data
 * to a worker thread, so that neither the vCPU that kicked nor anything
 * that needs the BQL (other vCPUs' MMIO) waits for the copy; the guest's
 * thread sleeps until the interrupt.  Under tier emulation the request is
 * used only after the latency the guest's CPU would have paid for the
 * slow lines, so that the offload is not faster than the emulated memory.
 */

typedef struct HBalloonExchange {
    HBalloonNode *na, *nb;
    uint64_t addr_a, addr_b, len;
    void *ha, *hb;              /* mapped */
    dma_addr_t la, lb;
} HBalloonExchange;

struct HBalloonXchgReq {
    VirtIOHBalloon *s;
    VirtQueueElement *elem;
    HBalloonExchange *x;
    uint32_t nr;
    bool copy;
    uint8_t status;
    uint64_t bytes, delay_ns;
    int64_t host_ns;            /* written by the worker */
    bool worker_done;           /* atomic */
    bool finished;              /* unmapped, elem passed on or dropped */
};

/* hballoon_range_node(), and the range holds no ballooned page. */
static HBalloonNode *hballoon_xchg_node(VirtIOHBalloon *s, uint64_t addr,
                                        uint64_t len, const char **err)
{
    uint64_t offset, first, nr;
    HBalloonNode *n = hballoon_range_node(s, addr, len, &offset);

    if (!n) {
        *err = "range outside the memory of the managed nodes";
        return NULL;
    }
    first = offset >> HBALLOON_PAGE_SHIFT;
    nr = len >> HBALLOON_PAGE_SHIFT;
    if (find_next_bit(n->ballooned, first + nr, first) < first + nr) {
        *err = "range holds ballooned pages";
        return NULL;
    }
    return n;
}

static const char *hballoon_xchg_check(VirtIOHBalloon *s, HBalloonExchange *x)
{
    const char *err = NULL;

    if (!x->len || x->len > VIRTIO_HBALLOON_MAX_EXCHANGE_LEN ||
        !QEMU_IS_ALIGNED(x->addr_a | x->addr_b | x->len,
                         HBALLOON_PAGE_SIZE)) {
        return "length or address not 4 KiB aligned, empty or too long";
    }
    if (x->addr_a + x->len < x->addr_a || x->addr_b + x->len < x->addr_b) {
        return "range wraps";
    }
    if (x->addr_a < x->addr_b + x->len && x->addr_b < x->addr_a + x->len) {
        return "ranges overlap";
    }
    x->na = hballoon_xchg_node(s, x->addr_a, x->len, &err);
    if (x->na) {
        x->nb = hballoon_xchg_node(s, x->addr_b, x->len, &err);
    }
    return err;
}

/* Slow-tier latency the guest CPU would have paid to swap or copy @x. */
static uint64_t hballoon_xchg_delay_ns(const HBalloonExchange *x, bool copy)
{
#ifdef CONFIG_TCG
    return tier_emu_dma_delay_ns(x->na->mr, x->len) +
           (copy ? 0 : tier_emu_dma_delay_ns(x->nb->mr, x->len));
#else
    return 0;
#endif
}

/*
 * Parse and check every entry of a request.  Returns NULL after a protocol
 * violation (nothing mapped, nothing moved).
 */
static HBalloonXchgReq *hballoon_xchg_parse(VirtIOHBalloon *s,
                                            VirtQueueElement *elem)
{
    struct virtio_hballoon_exchange_req hdr;
    struct virtio_hballoon_exchange e;
    size_t size = iov_size(elem->out_sg, elem->out_num);
    g_autofree HBalloonExchange *x = NULL;
    const char *err = NULL;
    HBalloonXchgReq *req;
    uint32_t nr, flags, i = 0;

    if (iov_to_buf(elem->out_sg, elem->out_num, 0, &hdr, sizeof(hdr)) !=
        sizeof(hdr)) {
        err = "request too short";
        goto violation;
    }
    nr = le32_to_cpu(hdr.nr);
    flags = le32_to_cpu(hdr.flags);
    if (flags & ~VIRTIO_HBALLOON_EXCHANGE_F_COPY) {
        err = "unknown flags";
        goto violation;
    }
    if (!nr || nr > VIRTIO_HBALLOON_MAX_EXCHANGES ||
        size != sizeof(hdr) + (size_t)nr * sizeof(e)) {
        err = "bad number of entries";
        goto violation;
    }
    if (iov_size(elem->in_sg, elem->in_num) < 1) {
        err = "no status byte";
        goto violation;
    }
    x = g_new0(HBalloonExchange, nr);
    for (i = 0; i < nr; i++) {
        iov_to_buf(elem->out_sg, elem->out_num, sizeof(hdr) + i * sizeof(e),
                   &e, sizeof(e));
        x[i].addr_a = le64_to_cpu(e.addr_a);
        x[i].addr_b = le64_to_cpu(e.addr_b);
        x[i].len = le64_to_cpu(e.len);
        err = hballoon_xchg_check(s, &x[i]);
        if (err) {
            goto violation;
        }
    }
    req = g_new0(HBalloonXchgReq, 1);
    req->s = s;
    req->elem = elem;
    req->x = g_steal_pointer(&x);
    req->nr = nr;
    req->copy = flags & VIRTIO_HBALLOON_EXCHANGE_F_COPY;
    trace_virtio_hballoon_exchange(nr, req->copy);
    return req;

violation:
    s->nr_violations++;
    trace_virtio_hballoon_exchange_violation(i, err);
    virtio_error(VIRTIO_DEVICE(s), "virtio-hballoon: exchange request, "
                 "entry %" PRIu32 ": %s", i, err);
    return NULL;
}

/*
 * Map every entry through the DMA API (unmapping marks both ranges dirty
 * for migration and drops translated code from them).  False when one
 * does not map whole: only a racing memory unplug gets there.
 */
static bool hballoon_xchg_map(HBalloonXchgReq *req)
{
    AddressSpace *as = &address_space_memory;

    for (uint32_t i = 0; i < req->nr; i++) {
        HBalloonExchange *x = &req->x[i];

        x->la = x->lb = x->len;
        x->ha = dma_memory_map(as, x->addr_a, &x->la,
                               DMA_DIRECTION_FROM_DEVICE,
                               MEMTXATTRS_UNSPECIFIED);
        x->hb = dma_memory_map(as, x->addr_b, &x->lb,
                               DMA_DIRECTION_FROM_DEVICE,
                               MEMTXATTRS_UNSPECIFIED);
        if (!x->ha || !x->hb || x->la != x->len || x->lb != x->len) {
            error_report("virtio-hballoon: cannot map exchange range "
                         "0x%" PRIx64 "/0x%" PRIx64 "+0x%" PRIx64,
                         x->addr_a, x->addr_b, x->len);
            return false;
        }
    }
    return true;
}

/* @moved: the worker wrote the ranges, which must be marked dirty. */
static void hballoon_xchg_unmap(HBalloonXchgReq *req, bool moved)
{
    AddressSpace *as = &address_space_memory;

    for (uint32_t i = 0; i < req->nr; i++) {
        HBalloonExchange *x = &req->x[i];

        if (x->hb) {
            dma_memory_unmap(as, x->hb, x->lb, DMA_DIRECTION_FROM_DEVICE,
                             moved ? x->lb : 0);
        }
        if (x->ha) {
            dma_memory_unmap(as, x->ha, x->la, DMA_DIRECTION_FROM_DEVICE,
                             moved && !req->copy ? x->la : 0);
        }
        x->ha = x->hb = NULL;
    }
}

static void hballoon_swap_words(uint64_t *a, uint64_t *b, size_t len)
{
    for (size_t i = 0; i < len / sizeof(uint64_t); i++) {
        uint64_t t = a[i];

        a[i] = b[i];
        b[i] = t;
    }
}

/* Worker thread: no BQL, the mappings stay until the request finishes. */
static int hballoon_xchg_worker(void *opaque)
{
    HBalloonXchgReq *req = opaque;
    int64_t t0 = get_clock();

    for (uint32_t i = 0; i < req->nr; i++) {
        HBalloonExchange *x = &req->x[i];

        if (req->copy) {
            memcpy(x->hb, x->ha, x->len);
        } else {
            hballoon_swap_words(x->ha, x->hb, x->len);
        }
    }
    req->host_ns = get_clock() - t0;
    qatomic_store_release(&req->worker_done, true);
    return 0;
}

static void hballoon_xchg_push(VirtIOHBalloon *s)
{
    if (s->xchg_elem) {
        virtqueue_push(s->xvq, s->xchg_elem, 1);
        virtio_notify(VIRTIO_DEVICE(s), s->xvq);
        g_free(s->xchg_elem);
        s->xchg_elem = NULL;
    }
}

/*
 * The worker is done (or never ran): unmap, count, and pass the element
 * on, after the emulated latency (@wait) or at once.  BQL held.
 */
static void hballoon_xchg_finish(VirtIOHBalloon *s, HBalloonXchgReq *req,
                                 bool ran, bool wait)
{
    hballoon_xchg_unmap(req, ran);
    req->finished = true;
    s->xchg_req = NULL;
    if (ran) {
        s->xchg.requests++;
        s->xchg.entries += req->nr;
        s->xchg.copies += req->copy ? req->nr : 0;
        s->xchg.bytes += req->bytes;
        s->xchg.host_ns += req->host_ns;
        s->xchg.delay_ns += req->delay_ns;
    } else {
        req->status = 1;
    }
    iov_from_buf(req->elem->in_sg, req->elem->in_num, 0, &req->status, 1);
    s->xchg_elem = req->elem;
    req->elem = NULL;
    if (wait && req->delay_ns && runstate_is_running()) {
        timer_mod(s->xchg_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + req->delay_ns);
        return;
    }
    hballoon_xchg_push(s);
    qemu_bh_schedule(s->xchg_bh);
}

/* Thread pool completion, in the main loop. */
static void hballoon_xchg_done(void *opaque, int ret)
{
    HBalloonXchgReq *req = opaque;

    if (!req->finished) {
        hballoon_xchg_finish(req->s, req, true, true);
    }
    g_free(req->elem);
    g_free(req->x);
    g_free(req);
}

/* Wait for the worker of the request in flight (a stop, reset, unplug). */
static HBalloonXchgReq *hballoon_xchg_drain(VirtIOHBalloon *s)
{
    HBalloonXchgReq *req = s->xchg_req;

    if (!req) {
        return NULL;
    }
    /* The worker takes no lock: it ends soon, and its callback frees. */
    while (!qatomic_load_acquire(&req->worker_done)) {
        g_usleep(50);
    }
    return req;
}

static void hballoon_xchg_bh(void *opaque)
{
    VirtIOHBalloon *s = opaque;
    VirtQueueElement *elem;
    HBalloonXchgReq *req;

    if (!virtio_vdev_has_feature(VIRTIO_DEVICE(s),
                                 VIRTIO_HBALLOON_F_EXCHANGE)) {
        if (virtio_queue_get_desc_addr(VIRTIO_DEVICE(s),
                                       VIRTIO_HBALLOON_VQ_EXCHANGE)) {
            s->nr_violations++;
            virtio_error(VIRTIO_DEVICE(s), "virtio-hballoon: exchange queue "
                         "used without VIRTIO_HBALLOON_F_EXCHANGE");
        }
        return;
    }
    /*
     * One request at a time: the next waits for this one's latency.  None
     * while stopped: a migration's last pass may be copying the RAM.
     */
    if (s->xchg_req || s->xchg_elem || !runstate_is_running()) {
        return;
    }
    elem = virtqueue_pop(s->xvq, sizeof(VirtQueueElement));
    if (!elem) {
        return;
    }
    req = hballoon_xchg_parse(s, elem);
    if (!req) {
        virtqueue_detach_element(s->xvq, elem, 0);
        g_free(elem);
        return;
    }
    for (uint32_t i = 0; i < req->nr; i++) {
        req->bytes += req->x[i].len;
        req->delay_ns += hballoon_xchg_delay_ns(&req->x[i], req->copy);
    }
    s->xchg_req = req;
    if (!hballoon_xchg_map(req)) {
        hballoon_xchg_finish(s, req, false, false);
        g_free(req->x);
        g_free(req);
        return;
    }
    thread_pool_submit_aio(hballoon_xchg_worker, req, hballoon_xchg_done,
                           req);
}

static void hballoon_xchg_timer(void *opaque)
{
    VirtIOHBalloon *s = opaque;

    hballoon_xchg_push(s);
    qemu_bh_schedule(s->xchg_bh);
}

/*
 * On a stop (such as the end of a migration) finish the request now, so
 * that the RAM it wrote is marked dirty before the last pass and no
 * element stays popped.
 */
static void hballoon_xchg_vm_state(void *opaque, bool running,
                                   RunState state)
{
    VirtIOHBalloon *s = opaque;
    HBalloonXchgReq *req;

    if (running) {
        qemu_bh_schedule(s->xchg_bh);
        return;
    }
    req = hballoon_xchg_drain(s);
    if (req) {
        hballoon_xchg_finish(s, req, true, false);
    }
    timer_del(s->xchg_timer);
    /* The kick is not lost: running again schedules the bottom half. */
    timer_del(s->xchg_kick_timer);
    hballoon_xchg_push(s);
}

/* Reset and unplug: the new driver does not wait for what was in flight. */
static void hballoon_xchg_forget(VirtIOHBalloon *s)
{
    HBalloonXchgReq *req = hballoon_xchg_drain(s);

    if (req) {
        hballoon_xchg_unmap(req, true);
        req->finished = true;
        s->xchg_req = NULL;
    }
    timer_del(s->xchg_timer);
    timer_del(s->xchg_kick_timer);
    qemu_bh_cancel(s->xchg_bh);
    g_free(s->xchg_elem);
    s->xchg_elem = NULL;
}

/*
 * Without an ioeventfd (TCG, say) the kick runs in the thread of the vCPU
 * that wrote the notify register, which holds the BQL.  A bottom half
 * scheduled now wakes the main loop, which then waits for the BQL; on a
 * host without a free core the vCPU loses its core to it as soon as it
 * drops the BQL, and the guest counts mapping the request and starting the
 * copy as CPU time of the thread that kicked, which was about to sleep
 * until the answer (under TCG, 1-5 ms on a third of the kicks).  Starting
 * the request exchange-kick-delay-us later lets that thread sleep first.
 */
static void hballoon_handle_exchange(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(vdev);

    if (!current_cpu || !s->xchg_kick_delay_us) {
        qemu_bh_schedule(s->xchg_bh);
        return;
    }
    if (!timer_pending(s->xchg_kick_timer)) {
        timer_mod(s->xchg_kick_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                  s->xchg_kick_delay_us * SCALE_US);
    }
}

static void hballoon_xchg_kick_timer(void *opaque)
{
    VirtIOHBalloon *s = opaque;

    qemu_bh_schedule(s->xchg_bh);
}

/* Stats: the driver posts a buffer, we give it back to ask for a refresh. */
static void hballoon_stats_arm(VirtIOHBalloon *s)
{
    if (s->stats_timer && s->stats_interval_ms) {
        timer_mod(s->stats_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  s->stats_interval_ms);
    }
}

static void hballoon_stats_poll(void *opaque)
{
    VirtIOHBalloon *s = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);

    if (!s->stats_elem) {
        hballoon_stats_arm(s);
        return;
    }
    virtqueue_push(s->svq, s->stats_elem, 0);
    virtio_notify(vdev, s->svq);
    g_free(s->stats_elem);
    s->stats_elem = NULL;
}

static void hballoon_receive_stats(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(vdev);
    struct virtio_hballoon_stat st;
    int64_t now = g_get_real_time() / G_USEC_PER_SEC;
    VirtQueueElement *elem;
    size_t off = 0;

    elem = virtqueue_pop(vq, sizeof(VirtQueueElement));
    if (!elem) {
        return;
    }
    if (s->stats_elem) {
        /* A driver that posts twice gets the older buffer back. */
        virtqueue_push(vq, s->stats_elem, 0);
        virtio_notify(vdev, vq);
        g_free(s->stats_elem);
    }
    s->stats_elem = elem;
    /* Each buffer is a whole snapshot: a tag left out is no longer valid. */
    for (uint32_t i = 0; i < s->num_nodes; i++) {
        s->nodes[i].stats_valid = 0;
    }
    while (iov_to_buf(elem->out_sg, elem->out_num, off, &st, sizeof(st)) ==
           sizeof(st)) {
        uint16_t tag = le16_to_cpu(st.tag);
        HBalloonNode *n = hballoon_find_node(s, le32_to_cpu(st.node_id));

        off += sizeof(st);
        if (!n || tag >= VIRTIO_HBALLOON_S_NR) {
            continue;
        }
        n->stats[tag] = le64_to_cpu(st.val);
        n->stats_valid |= 1u << tag;
        n->last_update = now;
    }
    trace_virtio_hballoon_stats(off / sizeof(st));
    hballoon_stats_arm(s);
}

static void hballoon_get_stats_interval(Object *obj, Visitor *v,
                                        const char *name, void *opaque,
                                        Error **errp)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(obj);

    visit_type_uint32(v, name, &s->stats_interval_ms, errp);
}

static void hballoon_set_stats_interval(Object *obj, Visitor *v,
                                        const char *name, void *opaque,
                                        Error **errp)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(obj);
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    s->stats_interval_ms = value;
    if (!s->stats_timer) {
        return;     /* not realized yet */
    }
    if (value) {
        hballoon_stats_arm(s);
    } else {
        timer_del(s->stats_timer);
    }
}

static void hballoon_get_config(VirtIODevice *vdev, uint8_t *config_data)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(vdev);
    struct virtio_hballoon_config *cfg = (void *)config_data;

    stl_le_p(&cfg->num_nodes, s->num_nodes);
    stl_le_p(&cfg->padding, 0);
    for (uint32_t i = 0; i < s->num_nodes; i++) {
        struct virtio_hballoon_node_config *nc = &cfg->nodes[i];
        HBalloonNode *n = &s->nodes[i];

        stl_le_p(&nc->node_id, n->node_id);
        stl_le_p(&nc->padding, 0);
        stq_le_p(&nc->size, n->size);
        stq_le_p(&nc->target, n->target);
        stq_le_p(&nc->actual, hballoon_ballooned_bytes(n));
    }
}

static uint64_t hballoon_get_features(VirtIODevice *vdev, uint64_t f,
                                      Error **errp)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(vdev);

    return f | s->host_features;
}

static void hballoon_set_status(VirtIODevice *vdev, uint8_t status)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(vdev);

    /* After migration, take back the stats buffer the source held. */
    if (!s->stats_elem && vdev->vm_running &&
        (status & VIRTIO_CONFIG_S_DRIVER_OK) && virtqueue_rewind(s->svq, 1)) {
        hballoon_receive_stats(vdev, s->svq);
    }
}

static void hballoon_reset(VirtIODevice *vdev)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(vdev);

    /*
     * A new driver starts with all memory usable: what it ballooned before
     * was discarded and reads as zero.  Targets stay; the new driver
     * inflates to them again.
     */
    for (uint32_t i = 0; i < s->num_nodes; i++) {
        HBalloonNode *n = &s->nodes[i];

        bitmap_zero(n->ballooned, n->nr_pages);
        n->nr_ballooned = 0;
        n->stats_valid = 0;
    }
    if (s->stats_elem) {
        virtqueue_unpop(s->svq, s->stats_elem, 0);
        g_free(s->stats_elem);
        s->stats_elem = NULL;
    }
    hballoon_xchg_forget(s);
}

static bool hballoon_init_nodes(VirtIOHBalloon *s, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    NumaState *numa = ms->numa_state;
    uint32_t count = 0;

    for (int i = 0; numa && i < numa->num_nodes; i++) {
        count += !!numa->nodes[i].node_memdev;
    }
    if (!count) {
        error_setg(errp, "virtio-hballoon needs guest NUMA nodes with "
                   "memory backends (-numa node,memdev=...)");
        return false;
    }
    if (count > VIRTIO_HBALLOON_MAX_NODES) {
        error_setg(errp, "virtio-hballoon supports at most %d nodes",
                   VIRTIO_HBALLOON_MAX_NODES);
        return false;
    }
    s->nodes = g_new0(HBalloonNode, count);
    for (int i = 0; i < numa->num_nodes; i++) {
        HostMemoryBackend *be = numa->nodes[i].node_memdev;
        HBalloonNode *n = &s->nodes[s->num_nodes];

        if (!be) {
            continue;
        }
        n->node_id = i;
        n->memdev = be;
        n->mr = host_memory_backend_get_memory(be);
        n->size = memory_region_size(n->mr);
        n->page_size = qemu_ram_pagesize(n->mr->ram_block);
        if (n->size >> HBALLOON_PAGE_SHIFT > INT32_MAX) {
            error_setg(errp, "virtio-hballoon: node %d is too large", i);
            return false;
        }
        n->nr_pages = n->size >> HBALLOON_PAGE_SHIFT;
        n->ballooned = bitmap_new(n->nr_pages);
        s->num_nodes++;
    }
    return true;
}

static void hballoon_free_nodes(VirtIOHBalloon *s)
{
    for (uint32_t i = 0; s->nodes && i < s->num_nodes; i++) {
        g_free(s->nodes[i].ballooned);
    }
    g_free(s->nodes);
    s->nodes = NULL;
    s->num_nodes = 0;
}

static void hballoon_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOHBalloon *s = VIRTIO_HBALLOON(dev);

    if (hballoon_dev) {
        error_setg(errp, "only one virtio-hballoon device is supported");
        return;
    }
    if (s->xchg_kick_delay_us > HBALLOON_MAX_KICK_DELAY_US) {
        error_setg(errp, "virtio-hballoon: exchange-kick-delay-us must be at "
                   "most %u", HBALLOON_MAX_KICK_DELAY_US);
        return;
    }
    if (!hballoon_init_nodes(s, errp)) {
        hballoon_free_nodes(s);
        return;
    }
    virtio_init(vdev, VIRTIO_ID_HBALLOON,
                sizeof(struct virtio_hballoon_config) +
                s->num_nodes * sizeof(struct virtio_hballoon_node_config));
    s->ivq = virtio_add_queue(vdev, HBALLOON_QUEUE_SIZE,
                              hballoon_handle_output);
    s->dvq = virtio_add_queue(vdev, HBALLOON_QUEUE_SIZE,
                              hballoon_handle_output);
    s->svq = virtio_add_queue(vdev, HBALLOON_QUEUE_SIZE,
                              hballoon_receive_stats);
    s->xvq = virtio_add_queue(vdev, HBALLOON_QUEUE_SIZE,
                              hballoon_handle_exchange);
    s->stats_timer = timer_new_ms(QEMU_CLOCK_VIRTUAL, hballoon_stats_poll, s);
    s->xchg_bh = qemu_bh_new_guarded(hballoon_xchg_bh, s,
                                     &DEVICE(s)->mem_reentrancy_guard);
    s->xchg_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, hballoon_xchg_timer, s);
    s->xchg_kick_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                      hballoon_xchg_kick_timer, s);
    s->xchg_vmstate = qemu_add_vm_change_state_handler(hballoon_xchg_vm_state,
                                                       s);
    hballoon_dev = s;
}

static void hballoon_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOHBalloon *s = VIRTIO_HBALLOON(dev);

    timer_free(s->stats_timer);
    s->stats_timer = NULL;
    g_free(s->stats_elem);
    s->stats_elem = NULL;
    qemu_del_vm_change_state_handler(s->xchg_vmstate);
    hballoon_xchg_forget(s);
    timer_free(s->xchg_timer);
    timer_free(s->xchg_kick_timer);
    qemu_bh_delete(s->xchg_bh);
    virtio_delete_queue(s->ivq);
    virtio_delete_queue(s->dvq);
    virtio_delete_queue(s->svq);
    virtio_delete_queue(s->xvq);
    virtio_cleanup(vdev);
    hballoon_free_nodes(s);
    hballoon_dev = NULL;
}

/* QMP */

static VirtIOHBalloon *hballoon_get(bool need_driver, Error **errp)
{
    if (!hballoon_dev) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_ACTIVE,
                  "No virtio-hballoon device");
        return NULL;
    }
    if (need_driver &&
        !(VIRTIO_DEVICE(hballoon_dev)->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_ACTIVE,
                  "The virtio-hballoon guest driver is not ready");
        return NULL;
    }
    return hballoon_dev;
}

void qmp_hballoon_set_size(uint32_t node, uint64_t size, Error **errp)
{
    VirtIOHBalloon *s = hballoon_get(true, errp);
    MachineState *ms = MACHINE(qdev_get_machine());
    HBalloonNode *n;
    uint64_t floor;

    if (!s) {
        return;
    }
    n = hballoon_find_node(s, node);
    if (!n) {
        if (node >= ms->numa_state->num_nodes) {
            error_setg(errp, "Parameter 'node': there is no NUMA node %u",
                       node);
        } else {
            error_setg(errp, "Parameter 'node': node %u has no memory "
                       "managed by virtio-hballoon", node);
        }
        return;
    }
    if (size > n->size) {
        error_setg(errp, "Parameter 'size': %" PRIu64 " exceeds the %" PRIu64
                   " bytes of node %u", size, n->size, node);
        return;
    }
    floor = MIN(s->min_size, n->size);
    if (size < floor) {
        error_setg(errp, "Parameter 'size': %" PRIu64 " is below the minimum"
                   " of %" PRIu64 " bytes (property min-size)", size, floor);
        return;
    }
    if (!QEMU_IS_ALIGNED(size, MAX(n->page_size, HBALLOON_PAGE_SIZE))) {
        error_setg(errp, "Parameter 'size' must be a multiple of %" PRIu64,
                   MAX(n->page_size, HBALLOON_PAGE_SIZE));
        return;
    }
    n->target = n->size - size;
    trace_virtio_hballoon_set_size(node, size);
    virtio_notify_config(VIRTIO_DEVICE(s));
}

static HBalloonNodeInfo *hballoon_node_info(HBalloonNode *n)
{
    HBalloonNodeInfo *info = g_new0(HBalloonNodeInfo, 1);

    info->node = n->node_id;
    info->memdev = g_strdup(object_get_canonical_path_component(
                                OBJECT(n->memdev)));
    info->total = n->size;
    info->target = n->size - n->target;
    info->ballooned = hballoon_ballooned_bytes(n);
    info->actual = n->size - info->ballooned;
#define HBALLOON_STAT(field, tag)                                   \
    do {                                                            \
        info->has_##field = n->stats_valid & (1u << (tag));         \
        info->field = n->stats[tag];                                \
    } while (0)
    HBALLOON_STAT(stat_total, VIRTIO_HBALLOON_S_MEMTOT);
    HBALLOON_STAT(stat_free, VIRTIO_HBALLOON_S_MEMFREE);
    HBALLOON_STAT(stat_available, VIRTIO_HBALLOON_S_AVAIL);
    HBALLOON_STAT(stat_hot, VIRTIO_HBALLOON_S_HOT);
    HBALLOON_STAT(stat_cold, VIRTIO_HBALLOON_S_COLD);
#undef HBALLOON_STAT
    info->has_last_update = n->last_update != 0;
    info->last_update = n->last_update;
    return info;
}

HBalloonNodeInfoList *qmp_query_hballoon(Error **errp)
{
    VirtIOHBalloon *s = hballoon_get(false, errp);
    HBalloonNodeInfoList *head = NULL, **tail = &head;

    if (!s) {
        return NULL;
    }
    for (uint32_t i = 0; i < s->num_nodes; i++) {
        QAPI_LIST_APPEND(tail, hballoon_node_info(&s->nodes[i]));
    }
    return head;
}

HBalloonExchangeInfo *qmp_query_hballoon_exchange(Error **errp)
{
    VirtIOHBalloon *s = hballoon_get(false, errp);
    HBalloonExchangeInfo *info;

    if (!s) {
        return NULL;
    }
    info = g_new0(HBalloonExchangeInfo, 1);
    info->enabled = virtio_vdev_has_feature(VIRTIO_DEVICE(s),
                                            VIRTIO_HBALLOON_F_EXCHANGE);
    info->requests = s->xchg.requests;
    info->entries = s->xchg.entries;
    info->copies = s->xchg.copies;
    info->bytes = s->xchg.bytes;
    info->host_ns = s->xchg.host_ns;
    info->delay_ns = s->xchg.delay_ns;
    return info;
}

/* Migration */

static const VMStateDescription vmstate_hballoon_node = {
    .name = "virtio-hballoon-node",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(node_id, HBalloonNode, NULL),
        VMSTATE_UINT64_EQUAL(size, HBalloonNode, NULL),
        VMSTATE_UINT64(target, HBalloonNode),
        VMSTATE_UINT64(nr_ballooned, HBalloonNode),
        VMSTATE_BITMAP(ballooned, HBalloonNode, 0, nr_pages),
        VMSTATE_END_OF_LIST()
    },
};

static int hballoon_post_load(void *opaque, int version_id)
{
    VirtIOHBalloon *s = opaque;

    for (uint32_t i = 0; i < s->num_nodes; i++) {
        HBalloonNode *n = &s->nodes[i];

        if (n->target > n->size ||
            n->nr_ballooned != bitmap_count_one(n->ballooned, n->nr_pages)) {
            return -EINVAL;
        }
    }
    return 0;
}

static const VMStateDescription vmstate_virtio_hballoon_device = {
    .name = "virtio-hballoon-device",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = hballoon_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(num_nodes, VirtIOHBalloon, NULL),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(nodes, VirtIOHBalloon, num_nodes,
                                             vmstate_hballoon_node,
                                             HBalloonNode),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_hballoon = {
    .name = "virtio-hballoon",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static const Property hballoon_properties[] = {
    DEFINE_PROP_BIT64("deflate-on-oom", VirtIOHBalloon, host_features,
                      VIRTIO_HBALLOON_F_DEFLATE_ON_OOM, true),
    DEFINE_PROP_BIT64("acpi-pxm", VirtIOHBalloon, host_features,
                      VIRTIO_HBALLOON_F_ACPI_PXM, true),
    DEFINE_PROP_BIT64("exchange", VirtIOHBalloon, host_features,
                      VIRTIO_HBALLOON_F_EXCHANGE, true),
    DEFINE_PROP_SIZE("min-size", VirtIOHBalloon, min_size, 128 * MiB),
    DEFINE_PROP_UINT32("exchange-kick-delay-us", VirtIOHBalloon,
                       xchg_kick_delay_us, 100),
};

static void hballoon_instance_init(Object *obj)
{
    VirtIOHBalloon *s = VIRTIO_HBALLOON(obj);

    s->stats_interval_ms = 1000;
    object_property_add(obj, "stats-interval", "uint32",
                        hballoon_get_stats_interval,
                        hballoon_set_stats_interval, NULL, NULL);
    object_property_set_description(obj, "stats-interval",
        "milliseconds between guest stats reports, 0 = off");
}

static void hballoon_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, hballoon_properties);
    dc->vmsd = &vmstate_virtio_hballoon;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = hballoon_realize;
    vdc->unrealize = hballoon_unrealize;
    vdc->reset = hballoon_reset;
    vdc->get_config = hballoon_get_config;
    vdc->get_features = hballoon_get_features;
    vdc->set_status = hballoon_set_status;
    vdc->vmsd = &vmstate_virtio_hballoon_device;
}

static const TypeInfo hballoon_info = {
    .name = TYPE_VIRTIO_HBALLOON,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIOHBalloon),
    .instance_init = hballoon_instance_init,
    .class_init = hballoon_class_init,
};

static void hballoon_register_types(void)
{
    type_register_static(&hballoon_info);
}

type_init(hballoon_register_types)

/*
 * QTest for virtio-hballoon: config space, QMP/HMP, exchange and a hostile
 * driver
 *
 * The test plays the guest driver itself, so it can send every kind of
 * bad request: the device must refuse it (NEEDS_RESET), QEMU must keep
 * running, and no memory may be discarded anywhere.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/virtio-pci.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_hballoon.h"

#define NODE_SIZE       (128 * MiB)
#define NODE1_BASE      NODE_SIZE           /* node 0 is [0, 128M) */
#define PROBE_NODE0     (100 * MiB)         /* far from the allocator */
#define PROBE_NODE1     (NODE1_BASE + 64 * MiB)
#define TIMEOUT_US      (5 * 1000 * 1000)

typedef struct HBTest {
    QOSState *qs;
    QTestState *qts;
    QVirtioPCIDevice *dev;
    QVirtQueue *vq[VIRTIO_HBALLOON_VQ_EXCHANGE + 1];
    int nvqs;
} HBTest;

static HBTest *hb_start_features(bool driver_ok, bool exchange)
{
    uint64_t features;

    HBTest *t = g_new0(HBTest, 1);

    t->qs = qtest_pc_boot("-m 384M "
                   "-object memory-backend-ram,id=m0,size=128M "
                   "-object memory-backend-ram,id=m1,size=128M "
                   "-object memory-backend-ram,id=m2,size=128M "
                   "-numa node,nodeid=0,memdev=m0 "
                   "-numa node,nodeid=1,memdev=m1 "
                   "-numa node,nodeid=2,memdev=m2 "
                   "-device virtio-hballoon-pci,id=hb,addr=04.0,"
                   "min-size=16M");
    t->qts = t->qs->qts;
    t->dev = virtio_pci_new(t->qs->pcibus,
                            &(QPCIAddress) { .devfn = QPCI_DEVFN(4, 0) });
    g_assert_nonnull(t->dev);
    g_assert_cmpint(t->dev->vdev.device_type, ==, VIRTIO_ID_HBALLOON);
    qvirtio_pci_device_enable(t->dev);
    qvirtio_start_device(&t->dev->vdev);
    features = qvirtio_get_features(&t->dev->vdev);
    g_assert_true(features & (1ull << VIRTIO_HBALLOON_F_EXCHANGE));
    if (!exchange) {
        features &= ~(1ull << VIRTIO_HBALLOON_F_EXCHANGE);
    }
    qvirtio_set_features(&t->dev->vdev, features);
    /* The exchange queue is set up even without the feature. */
    t->nvqs = VIRTIO_HBALLOON_VQ_EXCHANGE + 1;
    for (int i = 0; i < t->nvqs; i++) {
        t->vq[i] = qvirtqueue_setup(&t->dev->vdev, &t->qs->alloc, i);
    }
    if (driver_ok) {
        qvirtio_set_driver_ok(&t->dev->vdev);
    }
    return t;
}

static HBTest *hb_start(bool driver_ok)
{
    return hb_start_features(driver_ok, true);
}

static void hb_stop(HBTest *t)
{
    for (int i = 0; i < t->nvqs; i++) {
        qvirtqueue_cleanup(t->dev->vdev.bus, t->vq[i], &t->qs->alloc);
    }
    qvirtio_pci_device_disable(t->dev);
    qos_object_destroy((QOSGraphObject *)t->dev);
    qtest_shutdown(t->qs);
    g_free(t);
}

static uint64_t cfg_node(HBTest *t, int i, size_t field)
{
    return qvirtio_config_readq(&t->dev->vdev,
                                sizeof(struct virtio_hballoon_config) +
                                i * sizeof(struct virtio_hballoon_node_config)
                                + field);
}

/* Post one request; returns true if the device used it. */
static bool hb_send(HBTest *t, int vq, uint32_t node, uint32_t nr_hdr,
                    const uint64_t *ranges, uint32_t nr)
{
    size_t len = sizeof(struct virtio_hballoon_req) + nr * 16;
    g_autofree uint8_t *buf = g_malloc0(len);
    uint64_t req = guest_alloc(&t->qs->alloc, len);
    uint32_t head;
    bool used = false;

    stl_le_p(buf, node);
    stl_le_p(buf + 4, nr_hdr);
    for (uint32_t i = 0; i < nr; i++) {
        stq_le_p(buf + 8 + i * 16, ranges[2 * i]);
        stq_le_p(buf + 16 + i * 16, ranges[2 * i + 1]);
    }
    qtest_memwrite(t->qts, req, buf, len);
    head = qvirtqueue_add(t->qts, t->vq[vq], req, len, false, false);
    qvirtqueue_kick(t->qts, &t->dev->vdev, t->vq[vq], head);
    for (int i = 0; i < 1000 && !used; i++) {
        used = qvirtqueue_get_buf(t->qts, t->vq[vq], NULL, NULL);
        if (!used && (t->dev->vdev.bus->get_status(&t->dev->vdev) &
                      VIRTIO_CONFIG_S_NEEDS_RESET)) {
            break;
        }
        g_usleep(1000);
    }
    guest_free(&t->qs->alloc, req);
    return used;
}

static bool needs_reset(HBTest *t)
{
    return t->dev->vdev.bus->get_status(&t->dev->vdev) &
           VIRTIO_CONFIG_S_NEEDS_RESET;
}

static void fill(HBTest *t, uint64_t addr, uint8_t val)
{
    qtest_memset(t->qts, addr, val, 2 * MiB);
}

/* Every byte of [addr, addr + 2M) is val. */
static bool intact(HBTest *t, uint64_t addr, uint8_t val)
{
    g_autofree uint8_t *buf = g_malloc(2 * MiB);

    qtest_memread(t->qts, addr, buf, 2 * MiB);
    for (size_t i = 0; i < 2 * MiB; i++) {
        if (buf[i] != val) {
            return false;
        }
    }
    return true;
}

static QDict *node_info(HBTest *t, uint32_t node)
{
    QDict *rsp = qtest_qmp(t->qts, "{'execute': 'query-hballoon'}");
    QList *list = qdict_get_qlist(rsp, "return");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(list, e) {
        QDict *n = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(n, "node") == node) {
            qobject_ref(n);
            qobject_unref(rsp);
            return n;
        }
    }
    g_assert_not_reached();
}

static void test_config(void)
{
    HBTest *t = hb_start(true);

    g_assert_cmpint(qvirtio_config_readl(&t->dev->vdev, 0), ==, 3);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(cfg_node(t, i, 0) & 0xffffffff, ==, i);
        g_assert_cmpint(cfg_node(t, i, 8), ==, NODE_SIZE);
        g_assert_cmpint(cfg_node(t, i, 16), ==, 0);
        g_assert_cmpint(cfg_node(t, i, 24), ==, 0);
    }
    g_assert_true(qvirtio_get_features(&t->dev->vdev) &
                  (1ull << VIRTIO_HBALLOON_F_DEFLATE_ON_OOM));
    hb_stop(t);
}

static void G_GNUC_PRINTF(4, 5)
assert_qmp_error(QTestState *qts, const char *cls, const char *needle,
                 const char *fmt, ...)
{
    va_list ap;
    QDict *rsp, *err;

    va_start(ap, fmt);
    rsp = qtest_vqmp(qts, fmt, ap);
    va_end(ap);
    err = qdict_get_qdict(rsp, "error");
    g_assert_nonnull(err);
    g_assert_cmpstr(qdict_get_str(err, "class"), ==, cls);
    if (!strstr(qdict_get_str(err, "desc"), needle)) {
        g_error("'%s' not in '%s'", needle, qdict_get_str(err, "desc"));
    }
    qobject_unref(rsp);
}

static void test_qmp_errors(void)
{
    HBTest *t = hb_start(false);
    const char *set = "{'execute': 'hballoon-set-size', "
                      "'arguments': {'node': %d, 'size': %" PRIu64 "}}";

    assert_qmp_error(t->qts, "DeviceNotActive", "not ready", set, 1,
                     64 * MiB);
    qvirtio_set_driver_ok(&t->dev->vdev);
    assert_qmp_error(t->qts, "GenericError", "'node'", set, 7, 64 * MiB);
    assert_qmp_error(t->qts, "GenericError", "'size'", set, 1,
                     NODE_SIZE + 4096);
    assert_qmp_error(t->qts, "GenericError", "min-size", set, 1, 8 * MiB);
    assert_qmp_error(t->qts, "GenericError", "multiple", set, 1,
                     64 * MiB + 512);
    assert_qmp_error(t->qts, "GenericError", "'size'",
                     "{'execute': 'hballoon-set-size', "
                     "'arguments': {'node': 1, 'size': -1}}");
    /* Nothing changed. */
    g_assert_cmpint(cfg_node(t, 1, 16), ==, 0);
    hb_stop(t);
}

/* A bad property fails device_add with its name, and nothing is added. */
static void test_bad_kick_delay(void)
{
    QTestState *qts = qtest_init("-machine pc -m 256M");
    QDict *rsp;

    assert_qmp_error(qts, "GenericError", "exchange-kick-delay-us",
                     "{'execute': 'device_add', 'arguments': {"
                     "'driver': 'virtio-hballoon-pci', 'id': 'hb', "
                     "'exchange-kick-delay-us': 20000}}");
    rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments': {"
                    "'path': '/machine/peripheral/hb', 'property': 'type'}}");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    qtest_quit(qts);
}

static void test_inflate_deflate(void)
{
    HBTest *t = hb_start(true);
    uint64_t r[] = { PROBE_NODE1, 2 * MiB };
    g_autofree char *hmp = NULL;
    QDict *n;

    qtest_qmp_assert_success(t->qts, "{'execute': 'hballoon-set-size', "
                             "'arguments': {'node': 1, 'size': %" PRIu64
                             "}}", (uint64_t)(NODE_SIZE - 2 * MiB));
    g_assert_cmpint(cfg_node(t, 1, 16), ==, 2 * MiB);

    fill(t, PROBE_NODE1, 0xa5);
    fill(t, PROBE_NODE0, 0x5a);
    g_assert_true(hb_send(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, 1, r, 1));
    g_assert_cmpint(cfg_node(t, 1, 24), ==, 2 * MiB);
    n = node_info(t, 1);
    g_assert_cmpint(qdict_get_int(n, "ballooned"), ==, 2 * MiB);
    g_assert_cmpint(qdict_get_int(n, "actual"), ==, NODE_SIZE - 2 * MiB);
    g_assert_cmpint(qdict_get_int(n, "target"), ==, NODE_SIZE - 2 * MiB);
    g_assert_cmpstr(qdict_get_str(n, "memdev"), ==, "m1");
    qobject_unref(n);
    n = qtest_qmp_eventwait_ref(t->qts, "HBALLOON_CHANGE");
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(n, "data"), "node"), ==, 1);
    qobject_unref(n);

    /* The host discarded exactly the ballooned range. */
    g_assert_true(intact(t, PROBE_NODE1, 0));
    g_assert_true(intact(t, PROBE_NODE0, 0x5a));

    g_assert_true(hb_send(t, VIRTIO_HBALLOON_VQ_DEFLATE, 1, 1, r, 1));
    g_assert_cmpint(cfg_node(t, 1, 24), ==, 0);
    g_assert_false(needs_reset(t));

    hmp = qtest_hmp(t->qts, "hballoon 2 64M");
    g_assert_cmpstr(hmp, ==, "");
    g_free(hmp);
    hmp = qtest_hmp(t->qts, "info hballoon");
    g_assert_nonnull(strstr(hmp, "node 2 (m2): total 128 MiB, target 64 MiB"));
    hb_stop(t);
}

/*
 * Post one exchange request of @nr entries (addr_a, addr_b, len) with
 * @nr_hdr in its header; returns true if the device used it, with the
 * status byte in *status.
 */
static bool hb_exchange(HBTest *t, uint32_t nr_hdr, uint32_t flags,
                        const uint64_t *x, uint32_t nr, bool with_status,
                        uint8_t *status)
{
    size_t len = sizeof(struct virtio_hballoon_exchange_req) + nr * 24;
    g_autofree uint8_t *buf = g_malloc0(len);
    uint64_t req = guest_alloc(&t->qs->alloc, len);
    uint64_t st = guest_alloc(&t->qs->alloc, 8);
    QVirtQueue *vq = t->vq[VIRTIO_HBALLOON_VQ_EXCHANGE];
    uint32_t head;
    bool used = false;

    stl_le_p(buf, nr_hdr);
    stl_le_p(buf + 4, flags);
    for (uint32_t i = 0; i < 3 * nr; i++) {
        stq_le_p(buf + 8 + i * 8, x[i]);
    }
    qtest_memwrite(t->qts, req, buf, len);
    qtest_writeb(t->qts, st, 0xee);
    head = qvirtqueue_add(t->qts, vq, req, len, false, with_status);
    if (with_status) {
        qvirtqueue_add(t->qts, vq, st, 1, true, false);
    }
    qvirtqueue_kick(t->qts, &t->dev->vdev, vq, head);
    for (int i = 0; i < 1000 && !used; i++) {
        used = qvirtqueue_get_buf(t->qts, vq, NULL, NULL);
        if (!used && needs_reset(t)) {
            break;
        }
        g_usleep(1000);
    }
    if (status) {
        *status = qtest_readb(t->qts, st);
    }
    guest_free(&t->qs->alloc, st);
    guest_free(&t->qs->alloc, req);
    return used;
}

static QDict *exchange_info(HBTest *t)
{
    QDict *rsp = qtest_qmp(t->qts, "{'execute': 'query-hballoon-exchange'}");
    QDict *ret = qdict_get_qdict(rsp, "return");

    g_assert_nonnull(ret);
    qobject_ref(ret);
    qobject_unref(rsp);
    return ret;
}

static void test_exchange(void)
{
    HBTest *t = hb_start(true);
    /* A 2 MiB pair across nodes 1 and 0, then two 4 KiB pairs. */
    uint64_t big[] = { PROBE_NODE1, PROBE_NODE0, 2 * MiB };
    uint64_t small[] = { PROBE_NODE1 + 4 * MiB, PROBE_NODE0 + 4 * MiB, 4096,
                         PROBE_NODE1 + 8 * MiB, PROBE_NODE1 + 12 * MiB,
                         4096 };
    g_autofree char *hmp = NULL;
    uint8_t status;
    QDict *n;

    n = exchange_info(t);
    g_assert_true(qdict_get_bool(n, "enabled"));
    g_assert_cmpint(qdict_get_int(n, "requests"), ==, 0);
    qobject_unref(n);

    fill(t, PROBE_NODE1, 0xa5);
    fill(t, PROBE_NODE0, 0x5a);
    g_assert_true(hb_exchange(t, 1, 0, big, 1, true, &status));
    g_assert_cmpint(status, ==, VIRTIO_HBALLOON_EXCHANGE_OK);
    g_assert_true(intact(t, PROBE_NODE1, 0x5a));
    g_assert_true(intact(t, PROBE_NODE0, 0xa5));

    /* Copy: the source stays, the destination gets its contents. */
    fill(t, PROBE_NODE1, 0x11);
    g_assert_true(hb_exchange(t, 1, VIRTIO_HBALLOON_EXCHANGE_F_COPY, big, 1,
                              true, &status));
    g_assert_cmpint(status, ==, VIRTIO_HBALLOON_EXCHANGE_OK);
    g_assert_true(intact(t, PROBE_NODE1, 0x11));
    g_assert_true(intact(t, PROBE_NODE0, 0x11));

    /* Only the 4 KiB of each entry move, within a node too. */
    fill(t, PROBE_NODE1 + 4 * MiB, 0x01);
    fill(t, PROBE_NODE0 + 4 * MiB, 0x02);
    fill(t, PROBE_NODE1 + 8 * MiB, 0x03);
    fill(t, PROBE_NODE1 + 12 * MiB, 0x04);
    g_assert_true(hb_exchange(t, 2, 0, small, 2, true, &status));
    g_assert_cmpint(status, ==, VIRTIO_HBALLOON_EXCHANGE_OK);
    g_assert_cmpint(qtest_readb(t->qts, PROBE_NODE1 + 4 * MiB), ==, 0x02);
    g_assert_cmpint(qtest_readb(t->qts, PROBE_NODE1 + 4 * MiB + 4095), ==,
                    0x02);
    g_assert_cmpint(qtest_readb(t->qts, PROBE_NODE1 + 4 * MiB + 4096), ==,
                    0x01);
    g_assert_cmpint(qtest_readb(t->qts, PROBE_NODE0 + 4 * MiB), ==, 0x01);
    g_assert_cmpint(qtest_readb(t->qts, PROBE_NODE1 + 8 * MiB), ==, 0x04);
    g_assert_cmpint(qtest_readb(t->qts, PROBE_NODE1 + 12 * MiB), ==, 0x03);
    g_assert_cmpint(qtest_readb(t->qts, PROBE_NODE1 + 12 * MiB + 4096), ==,
                    0x04);
    g_assert_false(needs_reset(t));

    n = exchange_info(t);
    g_assert_cmpint(qdict_get_int(n, "requests"), ==, 3);
    g_assert_cmpint(qdict_get_int(n, "entries"), ==, 4);
    g_assert_cmpint(qdict_get_int(n, "copies"), ==, 1);
    g_assert_cmpint(qdict_get_int(n, "bytes"), ==, 4 * MiB + 8192);
    /* No tier emulation under qtest: nothing added. */
    g_assert_cmpint(qdict_get_int(n, "delay-ns"), ==, 0);
    qobject_unref(n);
    hmp = qtest_hmp(t->qts, "info hballoon");
    g_assert_nonnull(strstr(hmp, "exchange: 3 requests, 4 pairs, 4104 KiB"));
    hb_stop(t);
}

/* The exchange queue without the feature: refused, nothing swapped. */
static void test_exchange_not_negotiated(void)
{
    HBTest *t = hb_start_features(true, false);
    uint64_t big[] = { PROBE_NODE1, PROBE_NODE0, 2 * MiB };
    QDict *n;

    fill(t, PROBE_NODE1, 0xa5);
    fill(t, PROBE_NODE0, 0x5a);
    g_assert_false(hb_exchange(t, 1, 0, big, 1, true, NULL));
    g_assert_true(needs_reset(t));
    g_assert_true(intact(t, PROBE_NODE1, 0xa5));
    g_assert_true(intact(t, PROBE_NODE0, 0x5a));
    n = exchange_info(t);
    g_assert_false(qdict_get_bool(n, "enabled"));
    g_assert_cmpint(qdict_get_int(n, "requests"), ==, 0);
    qobject_unref(n);
    hb_stop(t);
}

/* A bad exchange request: refused before anything is swapped. */
typedef struct HostileExchange {
    const char *name;
    int32_t nr_hdr;         /* -1: the number of entries sent */
    uint32_t flags;
    uint64_t x[6];
    uint32_t nr;
    bool no_status;
    bool balloon_first;     /* inflate [PROBE_NODE1, +2M) first */
} HostileExchange;

static const HostileExchange hostile_exchange[] = {
    { "unaligned", -1, 0, { PROBE_NODE1 + 8, PROBE_NODE0, 4096 }, 1 },
    { "unaligned-len", -1, 0, { PROBE_NODE1, PROBE_NODE0, 4097 }, 1 },
    { "empty", -1, 0, { PROBE_NODE1, PROBE_NODE0, 0 }, 1 },
    { "overlap", -1, 0, { PROBE_NODE1, PROBE_NODE1 + MiB, 2 * MiB }, 1 },
    { "out-of-ram", -1, 0, { 8 * GiB, PROBE_NODE0, 2 * MiB }, 1 },
    { "straddles-nodes", -1, 0, { NODE1_BASE - MiB, PROBE_NODE0, 2 * MiB },
      1 },
    { "wrapping", -1, 0, { -(uint64_t)MiB, PROBE_NODE0, 2 * MiB }, 1 },
    { "too-long", -1, 0, { PROBE_NODE1, PROBE_NODE0, 2 * GiB }, 1 },
    { "ballooned", -1, 0, { PROBE_NODE1, PROBE_NODE0, 2 * MiB }, 1, false,
      true },
    /* The first entry is fine: it must not be swapped either. */
    { "bad-second-entry", -1, 0,
      { PROBE_NODE1, PROBE_NODE0, 2 * MiB, 8 * GiB, PROBE_NODE0, 4096 }, 2 },
    { "unknown-flags", -1, 2, { PROBE_NODE1, PROBE_NODE0, 2 * MiB }, 1 },
    { "no-entries", 0, 0, { 0 }, 0 },
    { "count-mismatch", 2, 0, { PROBE_NODE1, PROBE_NODE0, 2 * MiB }, 1 },
    { "too-many", VIRTIO_HBALLOON_MAX_EXCHANGES + 1, 0,
      { PROBE_NODE1, PROBE_NODE0, 2 * MiB }, 1 },
    { "no-status", -1, 0, { PROBE_NODE1, PROBE_NODE0, 2 * MiB }, 1, true },
};

static void test_hostile_exchange(const void *data)
{
    const HostileExchange *h = data;
    HBTest *t = hb_start(true);
    uint32_t nr_hdr = h->nr_hdr < 0 ? h->nr : h->nr_hdr;
    uint64_t r[] = { PROBE_NODE1, 2 * MiB };
    QDict *n;

    if (h->balloon_first) {
        g_assert_true(hb_send(t, VIRTIO_HBALLOON_VQ_INFLATE, 1, 1, r, 1));
    } else {
        fill(t, PROBE_NODE1, 0xa5);
    }
    fill(t, PROBE_NODE0, 0x5a);
    g_assert_false(hb_exchange(t, nr_hdr, h->flags, h->x, h->nr,
                               !h->no_status, NULL));
    g_assert_true(needs_reset(t));
    g_assert_true(intact(t, PROBE_NODE0, 0x5a));
    if (!h->balloon_first) {
        g_assert_true(intact(t, PROBE_NODE1, 0xa5));
    }
    n = exchange_info(t);
    g_assert_cmpint(qdict_get_int(n, "requests"), ==, 0);
    qobject_unref(n);
    hb_stop(t);
}

/* A bad request: refused, QEMU alive, nothing discarded. */
typedef struct Hostile {
    const char *name;
    int vq;
    uint32_t node;
    int32_t nr_hdr;         /* -1: the number of ranges sent */
    uint64_t ranges[4];
    uint32_t nr;
    bool inflate_first;     /* inflate ranges[0..1] of node 1 first */
} Hostile;

static const Hostile hostile[] = {
    { "out-of-node", 0, 1, -1, { PROBE_NODE0, 2 * MiB }, 1 },
    { "straddles-nodes", 0, 1, -1, { NODE1_BASE - MiB, 2 * MiB }, 1 },
    { "out-of-ram", 0, 1, -1, { 8 * GiB, 2 * MiB }, 1 },
    { "unaligned", 0, 1, -1, { PROBE_NODE1 + 512, 2 * MiB }, 1 },
    { "unaligned-len", 0, 1, -1, { PROBE_NODE1, 2 * MiB + 1 }, 1 },
    { "empty-range", 0, 1, -1, { PROBE_NODE1, 0 }, 1 },
    { "oversized", 0, 1, -1, { NODE1_BASE, 2 * NODE_SIZE }, 1 },
    { "wrapping", 0, 1, -1, { PROBE_NODE1, -(uint64_t)PROBE_NODE1 }, 1 },
    { "overlap-in-request", 0, 1, -1,
      { PROBE_NODE1, 2 * MiB, PROBE_NODE1 + MiB, 2 * MiB }, 2 },
    { "overlap-with-state", 0, 1, -1, { PROBE_NODE1, 2 * MiB }, 1, true },
    { "deflate-not-ballooned", 1, 1, -1, { PROBE_NODE1, 2 * MiB }, 1 },
    { "unknown-node", 0, 9, -1, { PROBE_NODE1, 2 * MiB }, 1 },
    { "no-ranges", 0, 1, 0, { 0 }, 0 },
    { "count-mismatch", 0, 1, 3, { PROBE_NODE1, 2 * MiB }, 1 },
    { "too-many-ranges", 0, 1, VIRTIO_HBALLOON_MAX_RANGES + 1,
      { PROBE_NODE1, 2 * MiB }, 1 },
};

static void test_hostile(const void *data)
{
    const Hostile *h = data;
    HBTest *t = hb_start(true);
    uint32_t nr_hdr = h->nr_hdr < 0 ? h->nr : h->nr_hdr;
    QDict *n;

    if (h->inflate_first) {
        g_assert_true(hb_send(t, 0, 1, 1, h->ranges, 1));
    }
    fill(t, PROBE_NODE0, 0x5a);
    fill(t, PROBE_NODE1 + 4 * MiB, 0x3c);
    if (!h->inflate_first) {
        fill(t, PROBE_NODE1, 0xa5);
    }
    g_assert_false(hb_send(t, h->vq, h->node, nr_hdr, h->ranges, h->nr));
    g_assert_true(needs_reset(t));

    /* QEMU is alive and nothing else was discarded or counted. */
    n = node_info(t, 1);
    g_assert_cmpint(qdict_get_int(n, "ballooned"), ==,
                    (h->inflate_first ? 2 * MiB : 0));
    qobject_unref(n);
    g_assert_true(intact(t, PROBE_NODE0, 0x5a));
    g_assert_true(intact(t, PROBE_NODE1 + 4 * MiB, 0x3c));
    if (!h->inflate_first) {
        g_assert_true(intact(t, PROBE_NODE1, 0xa5));
    }
    hb_stop(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virtio-hballoon/config", test_config);
    qtest_add_func("/virtio-hballoon/qmp-errors", test_qmp_errors);
    qtest_add_func("/virtio-hballoon/bad-kick-delay", test_bad_kick_delay);
    qtest_add_func("/virtio-hballoon/inflate-deflate", test_inflate_deflate);
    qtest_add_func("/virtio-hballoon/exchange", test_exchange);
    qtest_add_func("/virtio-hballoon/exchange-not-negotiated",
                   test_exchange_not_negotiated);
    for (size_t i = 0; i < G_N_ELEMENTS(hostile); i++) {
        g_autofree char *path = g_strdup_printf("/virtio-hballoon/hostile/%s",
                                                hostile[i].name);

        qtest_add_data_func(path, &hostile[i], test_hostile);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(hostile_exchange); i++) {
        g_autofree char *path = g_strdup_printf(
            "/virtio-hballoon/hostile-exchange/%s", hostile_exchange[i].name);

        qtest_add_data_func(path, &hostile_exchange[i],
                            test_hostile_exchange);
    }
    return g_test_run();
}

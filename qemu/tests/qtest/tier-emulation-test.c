/*
 * QTest for TCG tier emulation: exact access counts of a known program
 *
 * A 64 KiB BIOS switches to flat 32-bit protected mode and does a known
 * number of loads and stores to node 1, then one store to node 0, and
 * halts.  No other code runs on the vCPU, so the counters of
 * query-tier-access-stats must match exactly, cache-filter misses and
 * charged latency included.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qobject/qlist.h"

#define BIOS_SIZE       (64 * KiB)
#define CODE_OFFSET     0xf000          /* linear 0xfffff000 */
#define RESET_OFFSET    0xfff0
#define DONE_ADDR       0x1000          /* in node 0 */
#define DONE_MAGIC      0x600df00d
#define LAT0            100
#define LAT1            300

/* Loads: 16384 lines once, then 512 lines twice; stores: 256 lines. */
#define STREAM_LOADS    16384
#define REUSED_LINES    512
#define LOADS           (STREAM_LOADS + 2 * REUSED_LINES)
#define STORES          256

/*
 *  .code16
 *  start: cli
 *         lgdtl  %cs:gdt_desc
 *         movl   %cr0, %eax; orb $1, %al; movl %eax, %cr0
 *         ljmpl  $0x08, $(0xffff0000 + pm32)
 *  .code32
 *  pm32:  movw $0x10, %ax; movw %ax, %ds; movw %ax, %es; movw %ax, %ss
 *         movl $0x08000000, %esi; movl $16384, %ecx
 *  1:     movl (%esi), %eax; addl $64, %esi; decl %ecx; jnz 1b
 *         movl $2, %edx
 *  2:     movl $0x08100000, %esi; movl $512, %ecx
 *  3:     movl (%esi), %eax; addl $64, %esi; decl %ecx; jnz 3b
 *         decl %edx; jnz 2b
 *         movl $0x08200000, %edi; movl $256, %ecx
 *  4:     movl %ecx, (%edi); addl $64, %edi; decl %ecx; jnz 4b
 *         movl $0x600df00d, 0x1000
 *  5:     hlt; jmp 5b
 *  gdt:   null, flat 32-bit code (0x08), flat data (0x10); gdt_desc
 *
 * assembled at 0xf000 (as --32; ld -Ttext 0xf000 --oformat binary).
 */
static const uint8_t code[] = {
    0xfa, 0x2e, 0x66, 0x0f, 0x01, 0x16, 0x88, 0xf0, 0x0f, 0x20, 0xc0, 0x0c,
    0x01, 0x0f, 0x22, 0xc0, 0x66, 0xea, 0x18, 0xf0, 0xff, 0xff, 0x08, 0x00,
    0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbe, 0x00,
    0x00, 0x00, 0x08, 0xb9, 0x00, 0x40, 0x00, 0x00, 0x8b, 0x06, 0x83, 0xc6,
    0x40, 0x49, 0x75, 0xf8, 0xba, 0x02, 0x00, 0x00, 0x00, 0xbe, 0x00, 0x00,
    0x10, 0x08, 0xb9, 0x00, 0x02, 0x00, 0x00, 0x8b, 0x06, 0x83, 0xc6, 0x40,
    0x49, 0x75, 0xf8, 0x4a, 0x75, 0xeb, 0xbf, 0x00, 0x00, 0x20, 0x08, 0xb9,
    0x00, 0x01, 0x00, 0x00, 0x89, 0x0f, 0x83, 0xc7, 0x40, 0x49, 0x75, 0xf8,
    0xc7, 0x05, 0x00, 0x10, 0x00, 0x00, 0x0d, 0xf0, 0x0d, 0x60, 0xf4, 0xeb,
    0xfd, 0x8d, 0x76, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x92, 0xcf, 0x00, 0x17, 0x00, 0x70, 0xf0, 0xff, 0xff,
};

/* jmp start (near, so that CS keeps its reset base 0xffff0000) */
static const uint8_t reset_vector[] = { 0xe9, 0x0d, 0xf0 };

static char *write_bios(void)
{
    g_autofree uint8_t *img = g_malloc0(BIOS_SIZE);
    char *path = NULL;
    int fd;

    memcpy(img + CODE_OFFSET, code, sizeof(code));
    memcpy(img + RESET_OFFSET, reset_vector, sizeof(reset_vector));
    fd = g_file_open_tmp("tier-emulation-bios-XXXXXX", &path, NULL);
    g_assert(fd >= 0);
    g_assert(write(fd, img, BIOS_SIZE) == BIOS_SIZE);
    close(fd);
    return path;
}

static QTestState *start(const char *accel_opts)
{
    g_autofree char *bios = write_bios();
    QTestState *qts;

    qts = qtest_initf("-accel tcg%s -bios %s -nodefaults "
        "-machine q35,hmat=on -smp 2 -m 256M "
        "-object memory-backend-ram,id=m0,size=128M "
        "-object memory-backend-ram,id=m1,size=128M "
        "-numa node,nodeid=0,cpus=0-1,memdev=m0 "
        "-numa node,nodeid=1,memdev=m1,initiator=0 "
        "-numa hmat-lb,initiator=0,target=0,hierarchy=memory,"
        "data-type=access-latency,latency=%d "
        "-numa hmat-lb,initiator=0,target=1,hierarchy=memory,"
        "data-type=access-latency,latency=%d",
        accel_opts, bios, LAT0, LAT1);
    unlink(bios);
    return qts;
}

static void wait_done(QTestState *qts)
{
    int i;

    for (i = 0; i < 30000; i++) {
        if (qtest_readl(qts, DONE_ADDR) == DONE_MAGIC) {
            return;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

static QDict *query(QTestState *qts, const char *args)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-tier-access-stats', "
                           "'arguments': %p}",
                           qobject_from_json(args, &error_abort));
    QDict *ret;

    g_assert(qdict_haskey(rsp, "return"));
    ret = qdict_get_qdict(rsp, "return");
    qobject_ref(ret);
    qobject_unref(rsp);
    return ret;
}

/* The counters of @node in @nodes (a list of TierNodeAccessStats). */
static QDict *node_of(QList *nodes, int node)
{
    const QListEntry *e;

    QLIST_FOREACH_ENTRY(nodes, e) {
        QDict *n = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(n, "node") == node) {
            return n;
        }
    }
    g_assert_not_reached();
}

static QDict *vcpu_of(QDict *st, int cpu)
{
    const QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "vcpus"), e) {
        QDict *v = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(v, "cpu-index") == cpu) {
            return v;
        }
    }
    g_assert_not_reached();
}

static void assert_node(QDict *n, int64_t loads, int64_t stores,
                        int64_t load_misses, int64_t store_misses,
                        int64_t delay_ns)
{
    g_assert_cmpint(qdict_get_int(n, "loads"), ==, loads);
    g_assert_cmpint(qdict_get_int(n, "stores"), ==, stores);
    g_assert_cmpint(qdict_get_int(n, "load-misses"), ==, load_misses);
    g_assert_cmpint(qdict_get_int(n, "store-misses"), ==, store_misses);
    g_assert_cmpint(qdict_get_int(n, "delay-ns"), ==, delay_ns);
}

static void assert_idle_vcpu(QDict *st, int cpu)
{
    QList *nodes = qdict_get_qlist(vcpu_of(st, cpu), "nodes");

    assert_node(node_of(nodes, 0), 0, 0, 0, 0, 0);
    assert_node(node_of(nodes, 1), 0, 0, 0, 0, 0);
}

/* tier-stats=all, a 64 KiB filter: exact counts on both nodes. */
static void test_exact_all(void)
{
    QTestState *qts = start(",tier-emulation=on,tier-stats=all,"
                            "tier-cache-size=64K,tier-cache-ways=4");
    int64_t misses = STREAM_LOADS + REUSED_LINES;
    int64_t delay = (misses + STORES) * (LAT1 - LAT0);
    QDict *st, *v0;
    QList *nodes;
    char *hmp;

    wait_done(qts);
    st = query(qts, "{}");
    g_assert(qdict_get_bool(st, "enabled"));
    g_assert_cmpstr(qdict_get_str(st, "stats"), ==, "all");
    g_assert_cmpint(qdict_get_int(st, "cache-size"), ==, 64 * KiB);
    g_assert_cmpint(qdict_get_int(st, "cache-ways"), ==, 4);

    v0 = vcpu_of(st, 0);
    nodes = qdict_get_qlist(v0, "nodes");
    g_assert_cmpint(qdict_get_int(v0, "initiator"), ==, 0);
    /* The streamed lines miss once, the reused ones on first touch. */
    assert_node(node_of(nodes, 1), LOADS, STORES, misses, STORES, delay);
    /* One store, the done flag; the fastest node is charged nothing. */
    assert_node(node_of(nodes, 0), 0, 1, 0, 1, 0);
    /* Owed latency below the 10 us quantum may still be unpaid. */
    g_assert_cmpint(qdict_get_int(v0, "stall-ns"), >=, delay - 10000);
    /* vCPU 1 waits for INIT/SIPI and never runs. */
    assert_idle_vcpu(st, 1);
    assert_node(node_of(qdict_get_qlist(st, "nodes"), 1),
                LOADS, STORES, misses, STORES, delay);
    qobject_unref(st);

    /* Only vCPU 0, then reset: the next read starts from zero. */
    st = query(qts, "{'cpu-index': 0, 'reset': true}");
    g_assert_cmpint(qlist_size(qdict_get_qlist(st, "vcpus")), ==, 1);
    qobject_unref(st);
    st = query(qts, "{}");
    assert_idle_vcpu(st, 0);
    qobject_unref(st);

    hmp = qtest_hmp(qts, "info tier-access");
    g_assert(strstr(hmp, "initiator 0 -> node 1: load 300 ns (+200)"));
    g_assert(strstr(hmp, "cpu0   node 1   loads 0"));
    g_free(hmp);
    qtest_quit(qts);
}

/* Default tier-stats=slow and no filter: node 0 is not counted. */
static void test_exact_slow(void)
{
    QTestState *qts = start(",tier-emulation=on,tier-cache-size=0");
    QDict *st, *rsp, *lat;
    QList *nodes;
    const QListEntry *e;
    int counted = 0;

    wait_done(qts);
    st = query(qts, "{}");
    g_assert_cmpstr(qdict_get_str(st, "stats"), ==, "slow");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "latencies"), e) {
        lat = qobject_to(QDict, qlist_entry_obj(e));
        if (qdict_get_bool(lat, "counted")) {
            g_assert_cmpint(qdict_get_int(lat, "target"), ==, 1);
            g_assert_cmpint(qdict_get_int(lat, "extra-load-ns"), ==,
                            LAT1 - LAT0);
            counted++;
        } else {
            g_assert_cmpint(qdict_get_int(lat, "target"), ==, 0);
            g_assert_cmpint(qdict_get_int(lat, "extra-load-ns"), ==, 0);
        }
    }
    g_assert_cmpint(counted, ==, 1);
    nodes = qdict_get_qlist(vcpu_of(st, 0), "nodes");
    /* No filter: every access misses. */
    assert_node(node_of(nodes, 1), LOADS, STORES, LOADS, STORES,
                (int64_t)(LOADS + STORES) * (LAT1 - LAT0));
    assert_node(node_of(nodes, 0), 0, 0, 0, 0, 0);
    qobject_unref(st);

    rsp = qtest_qmp(qts, "{'execute': 'query-tier-access-stats', "
                    "'arguments': {'cpu-index': 7}}");
    g_assert(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"),
                    "cpu-index"));
    qobject_unref(rsp);
    qtest_quit(qts);
}

/* Off by default: the same program, nothing counted. */
static void test_off(void)
{
    QTestState *qts = start("");
    QDict *st;
    char *hmp;

    wait_done(qts);
    st = query(qts, "{'reset': true}");
    g_assert(!qdict_get_bool(st, "enabled"));
    g_assert_cmpint(qlist_size(qdict_get_qlist(st, "vcpus")), ==, 0);
    g_assert_cmpint(qlist_size(qdict_get_qlist(st, "nodes")), ==, 0);
    qobject_unref(st);
    hmp = qtest_hmp(qts, "info tier-access");
    g_assert(strstr(hmp, "tier emulation is off"));
    g_free(hmp);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_accel("tcg")) {
        g_test_skip("TCG is not available");
        return g_test_run();
    }
    qtest_add_func("/tier-emulation/exact-all", test_exact_all);
    qtest_add_func("/tier-emulation/exact-slow", test_exact_slow);
    qtest_add_func("/tier-emulation/off", test_off);
    return g_test_run();
}

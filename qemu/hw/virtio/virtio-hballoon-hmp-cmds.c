/*
 * HMP commands of virtio-hballoon, on top of its QMP commands
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-hballoon.h"
#include "qobject/qdict.h"

void hmp_hballoon(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qmp_hballoon_set_size(qdict_get_int(qdict, "node"),
                          qdict_get_int(qdict, "size"), &err);
    hmp_handle_error(mon, err);
}

void hmp_info_hballoon(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(HBalloonNodeInfoList) list = qmp_query_hballoon(&err);
    g_autoptr(HBalloonExchangeInfo) xchg = NULL;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    for (HBalloonNodeInfoList *l = list; l; l = l->next) {
        HBalloonNodeInfo *n = l->value;

        monitor_printf(mon, "node %u (%s): total %" PRIu64 " MiB, target %"
                       PRIu64 " MiB, actual %" PRIu64 " MiB, ballooned %"
                       PRIu64 " MiB", n->node, n->memdev, n->total >> 20,
                       n->target >> 20, n->actual >> 20, n->ballooned >> 20);
        if (n->has_stat_free) {
            monitor_printf(mon, ", guest free %" PRIu64 " MiB",
                           n->stat_free >> 20);
        }
        monitor_printf(mon, "\n");
    }
    xchg = qmp_query_hballoon_exchange(NULL);
    if (xchg && xchg->enabled) {
        monitor_printf(mon, "exchange: %" PRIu64 " requests, %" PRIu64
                       " pairs, %" PRIu64 " KiB, host %" PRIu64
                       " us, added latency %" PRIu64 " us\n",
                       xchg->requests, xchg->entries, xchg->bytes >> 10,
                       xchg->host_ns / 1000, xchg->delay_ns / 1000);
    }
}

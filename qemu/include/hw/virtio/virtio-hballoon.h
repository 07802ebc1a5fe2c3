/*
 * Virtio hetero-balloon: one memory balloon per guest NUMA node
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_VIRTIO_HBALLOON_H
#define QEMU_VIRTIO_HBALLOON_H

#include "standard-headers/linux/virtio_hballoon.h"
#include "hw/virtio/virtio.h"
#include "system/hostmem.h"
#include "qom/object.h"

#define TYPE_VIRTIO_HBALLOON "virtio-hballoon-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOHBalloon, VIRTIO_HBALLOON)

/* The balloon of one guest NUMA node. */
typedef struct HBalloonNode {
    uint32_t node_id;
    HostMemoryBackend *memdev;
    MemoryRegion *mr;
    uint64_t size;          /* bytes of the node's memory backend */
    uint64_t page_size;     /* the backend's host page size */
    uint64_t target;        /* bytes the guest should balloon */
    /* One bit per 4 KiB page of the backend: handed to the host. */
    unsigned long *ballooned;
    int32_t nr_pages;
    uint64_t nr_ballooned;
    uint64_t stats[VIRTIO_HBALLOON_S_NR];
    uint32_t stats_valid;   /* bit per tag */
    int64_t last_update;    /* seconds since the Epoch, 0 = never */
} HBalloonNode;

typedef struct HBalloonXchgReq HBalloonXchgReq;

/* What the exchange queue did, for query-hballoon-exchange. */
typedef struct HBalloonExchangeCounters {
    uint64_t requests;
    uint64_t entries;
    uint64_t copies;        /* entries copied one way, not swapped */
    uint64_t bytes;         /* swapped, counting one side of each entry */
    uint64_t host_ns;       /* host time spent swapping */
    uint64_t delay_ns;      /* emulated slow-tier latency added */
} HBalloonExchangeCounters;

struct VirtIOHBalloon {
    VirtIODevice parent_obj;

    VirtQueue *ivq;
    VirtQueue *dvq;
    VirtQueue *svq;
    VirtQueue *xvq;
    uint32_t num_nodes;
    HBalloonNode *nodes;

    /* properties */
    uint64_t host_features;
    uint64_t min_size;
    uint32_t stats_interval_ms;
    uint32_t xchg_kick_delay_us;

    QEMUTimer *stats_timer;
    VirtQueueElement *stats_elem;
    uint64_t nr_violations;     /* guest requests refused */

    /* Exchange requests start in a bottom half, move in a worker. */
    QEMUBH *xchg_bh;
    /* In the worker; its completion frees it. */
    HBalloonXchgReq *xchg_req;
    /* Moved, used once the emulated latency has passed. */
    VirtQueueElement *xchg_elem;
    QEMUTimer *xchg_timer;
    /* Starts the bottom half a little after a kick from a vCPU thread. */
    QEMUTimer *xchg_kick_timer;
    VMChangeStateEntry *xchg_vmstate;
    HBalloonExchangeCounters xchg;
    uint64_t nr_discard_skipped; /* ranges kept because discard is off */
};

#endif

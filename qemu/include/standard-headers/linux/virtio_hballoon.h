/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Virtio hetero-balloon: one memory balloon per guest NUMA node.
 *
 * The device manages the memory of some guest NUMA nodes (memory tiers such
 * as DRAM and CXL).  For each node the device sets a target: how many bytes
 * of that node the driver should hand back.  The driver inflates with pages
 * of exactly that node and reports them as guest-physical ranges, so a
 * 2 MiB chunk is one entry; the device checks every range against the
 * node's memory before it discards the memory, and keeps the authoritative
 * count ("actual") in the config space.
 *
 * Queues are fixed, whatever the negotiated features:
 *   0 inflateq  driver -> device: struct virtio_hballoon_req + ranges
 *   1 deflateq  driver -> device: struct virtio_hballoon_req + ranges
 *   2 statsq    driver -> device: struct virtio_hballoon_stat entries;
 *               the device returns the buffer to ask for fresh stats.
 *   3 exchangeq driver -> device: struct virtio_hballoon_exchange_req,
 *               then one device-writable status byte; only with
 *               VIRTIO_HBALLOON_F_EXCHANGE.
 *
 * A request the device refuses (outside the node, unaligned, overlapping
 * what the device holds, ...) is not used: the device sets NEEDS_RESET.
 * A reset forgets all ballooned pages but keeps the targets.
 *
 * VIRTIO_ID_HBALLOON is not allocated by OASIS; it is a value below 64
 * that no allocated or reserved device uses.
 */
#ifndef _LINUX_VIRTIO_HBALLOON_H
#define _LINUX_VIRTIO_HBALLOON_H

#include "standard-headers/linux/types.h"
#include "standard-headers/linux/virtio_types.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_config.h"

/* The driver may deflate without being asked when a node runs out of memory. */
#define VIRTIO_HBALLOON_F_DEFLATE_ON_OOM	0
/* node_id in the config space is an ACPI proximity domain. */
#define VIRTIO_HBALLOON_F_ACPI_PXM		1
/* The device swaps the contents of guest memory ranges for the driver. */
#define VIRTIO_HBALLOON_F_EXCHANGE		2

#define VIRTIO_HBALLOON_VQ_INFLATE	0
#define VIRTIO_HBALLOON_VQ_DEFLATE	1
#define VIRTIO_HBALLOON_VQ_STATS	2
#define VIRTIO_HBALLOON_VQ_EXCHANGE	3
#define VIRTIO_HBALLOON_VQ_NUM		3	/* without F_EXCHANGE */

/* Range addresses and lengths are bytes, multiples of 4 KiB. */
#define VIRTIO_HBALLOON_PAGE_SHIFT	12
#define VIRTIO_HBALLOON_PAGE_SIZE	(1UL << VIRTIO_HBALLOON_PAGE_SHIFT)

#define VIRTIO_HBALLOON_MAX_NODES	64
/* Most ranges one request may carry. */
#define VIRTIO_HBALLOON_MAX_RANGES	4096

/* Per node; all fields are written by the device, read-only for the driver. */
struct virtio_hballoon_node_config {
	/* Guest NUMA node (an ACPI PXM with VIRTIO_HBALLOON_F_ACPI_PXM). */
	uint32_t node_id;
	uint32_t padding;
	/* Bytes of this node's memory the device manages. */
	uint64_t size;
	/* Bytes of this node the driver should have in the balloon. */
	uint64_t target;
	/* Bytes of this node the device holds as ballooned. */
	uint64_t actual;
};

struct virtio_hballoon_config {
	/* Number of entries in nodes[]. */
	uint32_t num_nodes;
	uint32_t padding;
	struct virtio_hballoon_node_config nodes[];
};

/* Guest-physical range, both values multiples of 4 KiB, len > 0. */
struct virtio_hballoon_range {
	uint64_t addr;
	uint64_t len;
};

/* One inflate or deflate request: all ranges belong to node_id's memory. */
struct virtio_hballoon_req {
	uint32_t node_id;
	uint32_t nr_ranges;
	struct virtio_hballoon_range ranges[];
};

/*
 * Exchange: swap the contents of [addr_a, addr_a + len) and
 * [addr_b, addr_b + len), or copy the first to the second; for example a
 * hot page on a slow node and a cold page on a fast one whose mappings the
 * driver then swaps.  Both ranges are 4 KiB aligned, lie within the
 * memory of nodes the device manages, hold no ballooned page and do not
 * overlap.  The device checks every entry of a
 * request before it swaps anything, and swaps them in order; a request it
 * refuses is not used (NEEDS_RESET), so the driver knows nothing was
 * swapped.  The driver must keep the ranges from being accessed until the
 * device has used the request.
 */
struct virtio_hballoon_exchange {
	uint64_t addr_a;
	uint64_t addr_b;
	uint64_t len;
};

#define VIRTIO_HBALLOON_MAX_EXCHANGES	1024
/* Most bytes one entry may swap on each side. */
#define VIRTIO_HBALLOON_MAX_EXCHANGE_LEN	0x40000000UL	/* 1 GiB */

struct virtio_hballoon_exchange_req {
	uint32_t nr;
	uint32_t flags;
	struct virtio_hballoon_exchange x[];
};

/*
 * Copy each addr_a range to its addr_b range instead of swapping them
 * (migration: addr_b is a free page, addr_a must stay intact).
 */
#define VIRTIO_HBALLOON_EXCHANGE_F_COPY	1

/* The status byte the device writes after the request. */
#define VIRTIO_HBALLOON_EXCHANGE_OK	0

#define VIRTIO_HBALLOON_S_MEMTOT	0	/* node memory, bytes */
#define VIRTIO_HBALLOON_S_MEMFREE	1	/* free memory, bytes */
#define VIRTIO_HBALLOON_S_AVAIL		2	/* free + reclaimable, bytes */
#define VIRTIO_HBALLOON_S_HOT		3	/* hot memory (HPlacement), bytes */
#define VIRTIO_HBALLOON_S_COLD		4	/* cold memory (HPlacement), bytes */
#define VIRTIO_HBALLOON_S_NR		5

/* Stats entry; the device ignores unknown tags and unknown nodes. */
struct virtio_hballoon_stat {
	uint16_t tag;
	uint16_t padding;
	uint32_t node_id;
	uint64_t val;
};

#endif /* _LINUX_VIRTIO_HBALLOON_H */

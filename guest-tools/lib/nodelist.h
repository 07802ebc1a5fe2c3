/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel node lists ("0", "0-1,3", as in /sys/devices/system/node/has_memory)
 * as bit masks, so tools can list every memory node, also the empty ones.
 */
#ifndef HT_NODELIST_H
#define HT_NODELIST_H

#include <stdint.h>

/* Nodes must be below 64 (HT_MAX_NODES).  0, or -1 on a malformed list. */
int ht_parse_nodelist(const char *s, uint64_t *mask);

/* Read and parse a sysfs node list file.  0 or -errno (-EINVAL: malformed). */
int ht_read_nodelist(const char *path, uint64_t *mask);

#define HT_NODES_WITH_MEMORY "/sys/devices/system/node/has_memory"

#endif

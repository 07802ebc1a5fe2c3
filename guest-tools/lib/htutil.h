/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the hetero-tiering guest tools: size parsing and
 * page placement queries through move_pages(2).
 */
#ifndef HTUTIL_H
#define HTUTIL_H

#include <stddef.h>
#include <stdint.h>

#define HT_MAX_NODES 64

/* Parse "4096", "64K", "2M", "1G", "1T" (binary units). -1 on error. */
int ht_parse_size(const char *s, uint64_t *out);

struct ht_placement {
	uint64_t pages;			/* pages queried */
	uint64_t on_node[HT_MAX_NODES];	/* resident pages per node */
	uint64_t not_present;		/* -ENOENT: not faulted in */
	uint64_t other_error;		/* any other per-page status */
};

/*
 * Count the pages of [addr, addr + len) per NUMA node with a move_pages(2)
 * query (nodes == NULL moves nothing).  Returns 0 or -errno.
 */
int ht_query_placement(int pid, const void *addr, size_t len,
		       struct ht_placement *p);

#endif

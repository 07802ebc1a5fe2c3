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

/* Seconds of CLOCK_MONOTONIC. */
double ht_now(void);

/* MemFree of NUMA node @node in KiB, from sysfs; -1 if unknown. */
long ht_node_free_kb(int node);

/* Parse "4096", "64K", "2M", "1G", "1T" (binary units). -1 on error. */
int ht_parse_size(const char *s, uint64_t *out);

/* Print "PROG: OPT: message" to stderr and exit 2 (bad command line). */
void __attribute__((noreturn, format(printf, 3, 4)))
ht_die_opt(const char *prog, const char *opt, const char *fmt, ...);

/*
 * The inverse of ht_parse_size for messages: the largest binary unit that
 * divides v exactly ("64M", "1536K", "4097").  Returns buf.
 */
char *ht_format_size(uint64_t v, char *buf, size_t len);

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

/*
 * As ht_query_placement, but query at most max_pages pages spread evenly over
 * the range (all of them when it has fewer, or max_pages is 0), so that a
 * large range can be watched at a fixed cost.  p->pages is the number queried.
 */
int ht_query_placement_sampled(int pid, const void *addr, size_t len,
			       uint64_t max_pages, struct ht_placement *p);

#endif

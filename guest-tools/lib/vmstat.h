/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /proc/vmstat as name/value pairs, to print deltas of chosen counters.
 */
#ifndef HT_VMSTAT_H
#define HT_VMSTAT_H

#include <stddef.h>
#include <stdint.h>

#define HT_VMSTAT_NAME_MAX 64

struct ht_vmstat_entry {
	char name[HT_VMSTAT_NAME_MAX];
	uint64_t value;
};

struct ht_vmstat {
	struct ht_vmstat_entry *e;	/* in file order */
	size_t n, cap;
};

/*
 * Parse "name value" lines (the last one may lack its newline) into vs,
 * replacing what it held.  0, -EINVAL on a malformed line or a name of
 * HT_VMSTAT_NAME_MAX bytes or more, or -ENOMEM.
 */
int ht_vmstat_parse(const char *text, struct ht_vmstat *vs);

/* Read and parse a whole file, normally /proc/vmstat.  0 or -errno. */
int ht_vmstat_read(const char *path, struct ht_vmstat *vs);

/* 0 and *value set, or -ENOENT. */
int ht_vmstat_get(const struct ht_vmstat *vs, const char *name,
		  uint64_t *value);

/* Whether name starts with any of the n prefixes. */
int ht_vmstat_match(const char *name, const char *const *prefixes, int n);

void ht_vmstat_free(struct ht_vmstat *vs);

#endif

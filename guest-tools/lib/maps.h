/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One line of /proc/PID/maps, parsed.  The path is everything after the inode
 * field, so it may hold spaces; the kernel escapes only newlines in it.
 */
#ifndef HT_MAPS_H
#define HT_MAPS_H

#include <stdbool.h>
#include <stdint.h>

struct ht_map {
	uint64_t start, end;		/* [start, end) */
	char perms[5];			/* "rw-p" */
	uint64_t offset;
	unsigned int dev_major, dev_minor;
	uint64_t inode;
	const char *path;		/* into the line; "" for anonymous */
	bool deleted;			/* " (deleted)" was cut off path */
};

/*
 * Parse line in place: the trailing newline and a " (deleted)" suffix are cut
 * off, and m->path points into line.  0, or -1 on a malformed line.
 */
int ht_maps_parse_line(char *line, struct ht_map *m);

/*
 * Mappings whose pages are not the process's own memory, such as [vsyscall],
 * [vvar] or [vdso]: every bracketed name but [heap], [stack...] and [anon:...].
 */
bool ht_map_is_special(const struct ht_map *m);

static inline bool ht_map_readable(const struct ht_map *m)
{
	return m->perms[0] == 'r';
}

#endif

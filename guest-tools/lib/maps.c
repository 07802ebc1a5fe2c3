// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

#define DELETED " (deleted)"

/*
 * One hex number followed by sep.  The first digit is checked by hand because
 * strtoull also accepts leading spaces and signs, which would let a broken
 * line through.
 */
static int hex_field(char **s, char sep, uint64_t *v)
{
	char *end;

	if (!isxdigit((unsigned char)**s))
		return -1;
	errno = 0;
	*v = strtoull(*s, &end, 16);
	if (errno || *end != sep)
		return -1;
	*s = end + 1;
	return 0;
}

int ht_maps_parse_line(char *line, struct ht_map *m)
{
	size_t len, dlen = strlen(DELETED);
	uint64_t major, minor;
	char *s = line;

	memset(m, 0, sizeof(*m));
	if (hex_field(&s, '-', &m->start) || hex_field(&s, ' ', &m->end))
		return -1;
	if (strlen(s) < 5 || s[4] != ' ')
		return -1;
	memcpy(m->perms, s, 4);
	s += 5;
	if (hex_field(&s, ' ', &m->offset) || hex_field(&s, ':', &major) ||
	    hex_field(&s, ' ', &minor))
		return -1;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	m->inode = strtoull(s, &s, 10);
	if (errno || (*s && *s != ' ' && *s != '\n'))
		return -1;
	if (m->end <= m->start || major > 0xfff || minor > 0xfffff)
		return -1;
	m->dev_major = major;
	m->dev_minor = minor;

	while (*s == ' ')
		s++;
	len = strlen(s);
	if (len && s[len - 1] == '\n')
		s[--len] = '\0';
	if (len >= dlen && !strcmp(s + len - dlen, DELETED)) {
		s[len - dlen] = '\0';
		m->deleted = true;
	}
	m->path = s;
	return 0;
}

bool ht_map_is_special(const struct ht_map *m)
{
	if (m->path[0] != '[')
		return false;
	return strcmp(m->path, "[heap]") && strncmp(m->path, "[stack", 6) &&
	       strncmp(m->path, "[anon:", 6) &&
	       strncmp(m->path, "[anon_shmem:", 12);
}

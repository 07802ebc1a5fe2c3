// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "nodelist.h"

static int parse_node(const char *s, char **end, unsigned long *node)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*node = strtoul(s, end, 10);
	return errno || *node >= 64 ? -1 : 0;
}

int ht_parse_nodelist(const char *s, uint64_t *mask)
{
	uint64_t m = 0;
	char *end;

	/* sysfs prints an empty line for an empty mask */
	if (*s == '\n' || !*s)
		goto done;
	for (;;) {
		unsigned long lo, hi;

		if (parse_node(s, &end, &lo))
			return -1;
		hi = lo;
		if (*end == '-' && parse_node(end + 1, &end, &hi))
			return -1;
		if (hi < lo)
			return -1;
		for (; lo <= hi; lo++)
			m |= 1ULL << lo;
		s = end;
		if (*s != ',')
			break;
		s++;
	}
	if (*s == '\n')
		s++;
	if (*s)
		return -1;
done:
	*mask = m;
	return 0;
}

int ht_read_nodelist(const char *path, uint64_t *mask)
{
	char buf[512];
	FILE *f = fopen(path, "r");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f))
		err = ferror(f) ? -EIO : -EINVAL;
	else if (ht_parse_nodelist(buf, mask))
		err = -EINVAL;
	fclose(f);
	return err;
}

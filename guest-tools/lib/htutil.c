// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "htutil.h"

int ht_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

#define QUERY_BATCH 1024

int ht_query_placement(int pid, const void *addr, size_t len,
		       struct ht_placement *p)
{
	long psz = sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(psz - 1);
	uintptr_t end = (uintptr_t)addr + len;
	void *pages[QUERY_BATCH];
	int status[QUERY_BATCH];

	memset(p, 0, sizeof(*p));
	while (start < end) {
		unsigned long n = 0, i;

		while (n < QUERY_BATCH && start < end) {
			pages[n++] = (void *)start;
			start += psz;
		}
		if (syscall(SYS_move_pages, pid, n, pages, NULL, status, 0))
			return -errno;
		for (i = 0; i < n; i++) {
			int s = status[i];

			p->pages++;
			if (s >= 0 && s < HT_MAX_NODES)
				p->on_node[s]++;
			else if (s == -ENOENT)
				p->not_present++;
			else
				p->other_error++;
		}
	}
	return 0;
}

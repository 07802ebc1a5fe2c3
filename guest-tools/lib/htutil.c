// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "htutil.h"

void ht_die_opt(const char *prog, const char *opt, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", prog, opt);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

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

char *ht_format_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (v && !(v & 1023) && u < 3) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	return buf;
}

#define QUERY_BATCH 1024

static int query_batch(int pid, void **pages, unsigned long n,
		       struct ht_placement *p)
{
	int status[QUERY_BATCH];
	unsigned long i;

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
	return 0;
}

int ht_query_placement_sampled(int pid, const void *addr, size_t len,
			       uint64_t max_pages, struct ht_placement *p)
{
	uint64_t psz = sysconf(_SC_PAGESIZE);
	uintptr_t first = (uintptr_t)addr & ~(uintptr_t)(psz - 1);
	uint64_t total = len ? ((uintptr_t)addr + len - first + psz - 1) / psz : 0;
	uint64_t want = max_pages && max_pages < total ? max_pages : total;
	void *pages[QUERY_BATCH];
	uint64_t i = 0;

	memset(p, 0, sizeof(*p));
	while (i < want) {
		unsigned long n = 0;
		int err;

		for (; n < QUERY_BATCH && i < want; i++) {
			/* 128-bit product: i * total overflows for huge ranges */
			uint64_t idx = (__uint128_t)i * total / want;

			pages[n++] = (void *)(first + idx * psz);
		}
		err = query_batch(pid, pages, n, p);
		if (err)
			return err;
	}
	return 0;
}

int ht_query_placement(int pid, const void *addr, size_t len,
		       struct ht_placement *p)
{
	return ht_query_placement_sampled(pid, addr, len, 0, p);
}

double ht_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

long ht_node_free_kb(int node)
{
	char path[80], line[160];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
		 node);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Node %*d MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of the guest-tools helper library, printed as TAP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../../guest-tools/lib/htutil.h"
#include "tap.h"

static void test_parse_size(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t val;
	} cases[] = {
		{ "4096", 0, 4096 },
		{ "0x1000", 0, 4096 },
		{ "64K", 0, 64ULL << 10 },
		{ "2M", 0, 2ULL << 20 },
		{ "3G", 0, 3ULL << 30 },
		{ "1T", 0, 1ULL << 40 },
		{ "2MiB", 0, 2ULL << 20 },
		{ "2MB", 0, 2ULL << 20 },
		{ "", -1, 0 },
		{ "-1", -1, 0 },
		{ "M", -1, 0 },
		{ "12Q", -1, 0 },
		{ "2Mx", -1, 0 },
		{ "99999999999999999999", -1, 0 },
		{ "20000000T", -1, 0 },
	};
	unsigned int i;
	char name[80];

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 0;
		int r = ht_parse_size(cases[i].in, &v);

		snprintf(name, sizeof(name), "parse_size(\"%s\")", cases[i].in);
		ok(r == cases[i].ret && (r || v == cases[i].val), name);
	}
}

static void test_placement(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t len = 64 * psz;
	struct ht_placement p;
	uint64_t sum = 0;
	char *buf;
	int i;

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(buf != MAP_FAILED, "mmap");
	if (buf == MAP_FAILED)
		return;
	madvise(buf, len, MADV_NOHUGEPAGE);
	ok(ht_query_placement(0, buf, len, &p) == 0 &&
	   p.pages == 64 && p.not_present == 64,
	   "untouched pages are reported not present");
	memset(buf, 1, 16 * psz);
	ok(ht_query_placement(0, buf, len, &p) == 0, "query after touch");
	for (i = 0; i < HT_MAX_NODES; i++)
		sum += p.on_node[i];
	ok(p.pages == 64 && sum == 16 && p.not_present == 48 &&
	   !p.other_error, "touched pages are counted on a node");
	ok(ht_query_placement(0, buf + 1, psz, &p) == 0 && p.pages == 2,
	   "unaligned range covers both pages");
	ok(ht_query_placement(-1, buf, len, &p) == -ESRCH,
	   "bad pid reports -ESRCH");
	munmap(buf, len);
}

static void test_format_size(void)
{
	static const struct {
		uint64_t in;
		const char *out;
	} cases[] = {
		{ 0, "0" },
		{ 4097, "4097" },
		{ 4096, "4K" },
		{ 1536ULL << 10, "1536K" },
		{ 64ULL << 20, "64M" },
		{ 1ULL << 30, "1G" },
		{ 3ULL << 40, "3T" },
		{ 1ULL << 50, "1024T" },
	};
	unsigned int i;
	char buf[32], name[80];

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(name, sizeof(name), "format_size(%llu) = %s",
			 (unsigned long long)cases[i].in, cases[i].out);
		ok(!strcmp(ht_format_size(cases[i].in, buf, sizeof(buf)),
			   cases[i].out), name);
	}
}

static void test_placement_sampled(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t len = 1000 * psz;
	struct ht_placement p;
	char *buf;
	int i;

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(buf != MAP_FAILED, "mmap 1000 pages");
	if (buf == MAP_FAILED)
		return;
	/* with THP "always", one touch would fault in 512 pages at once */
	madvise(buf, len, MADV_NOHUGEPAGE);
	ok(ht_query_placement_sampled(0, buf, len, 0, &p) == 0 &&
	   p.pages == 1000, "sampled with max 0 queries every page");
	ok(ht_query_placement_sampled(0, buf, len, 5000, &p) == 0 &&
	   p.pages == 1000, "sampled with max above the range queries all");
	/* the first half only: a sample spread evenly sees half of it */
	memset(buf, 1, len / 2);
	ok(ht_query_placement_sampled(0, buf, len, 64, &p) == 0 &&
	   p.pages == 64 && p.not_present == 32,
	   "sample of 64 is spread over the whole range");
	/* touch every 10th page: an even sample of 100 sees exactly those */
	for (i = 0; i < 1000; i += 10)
		buf[(size_t)i * psz] = 1;
	ok(ht_query_placement_sampled(0, buf, len, 100, &p) == 0 &&
	   p.pages == 100 && p.not_present == 0,
	   "even sample of 100 hits every 10th page");
	ok(ht_query_placement_sampled(0, buf, 0, 64, &p) == 0 && !p.pages,
	   "empty range queries nothing");
	munmap(buf, len);
}

int main(void)
{
	printf("TAP version 13\n");
	test_parse_size();
	test_placement();
	test_format_size();
	test_placement_sampled();
	return tap_done();
}

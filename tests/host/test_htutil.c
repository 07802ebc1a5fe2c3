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

static int n_tests, n_failed;

static void ok(int cond, const char *name)
{
	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n_tests, name);
}

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

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
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

int main(void)
{
	printf("TAP version 13\n");
	test_parse_size();
	test_placement();
	printf("1..%d\n", n_tests);
	return n_failed != 0;
}

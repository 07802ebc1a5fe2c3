// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of the /proc/vmstat reader, printed as TAP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../guest-tools/lib/vmstat.h"
#include "tap.h"

static const char sample[] =
	"nr_free_pages 1234567\n"
	"numa_hit 18446744073709551615\n"
	"numa_miss 0\n"
	"pgmigrate_success 42\n"
	"pgmigrate_fail 3\n"
	"hballoon_inflate_pages 7";	/* no newline after the last line */

static void test_parse(void)
{
	struct ht_vmstat vs = { };
	uint64_t v = 0;

	ok(ht_vmstat_parse(sample, &vs) == 0 && vs.n == 6,
	   "sample parses into 6 counters");
	ok(!strcmp(vs.e[0].name, "nr_free_pages") && vs.e[0].value == 1234567,
	   "first counter in file order");
	ok(ht_vmstat_get(&vs, "numa_hit", &v) == 0 && v == UINT64_MAX,
	   "largest u64 value");
	ok(ht_vmstat_get(&vs, "hballoon_inflate_pages", &v) == 0 && v == 7,
	   "last line without newline");
	ok(ht_vmstat_get(&vs, "numa", &v) == -ENOENT,
	   "get needs the full name, not a prefix");
	ok(ht_vmstat_parse("", &vs) == 0 && vs.n == 0,
	   "empty text gives no counters");
	ok(ht_vmstat_parse("a 1\nb 2\n", &vs) == 0 && vs.n == 2,
	   "parse replaces what vs held");
	ht_vmstat_free(&vs);
	ok(!vs.e && !vs.n, "free resets");
}

static void test_bad(void)
{
	static const char *const bad[] = {
		"nr_free_pages\n",
		"nr_free_pages \n",
		" 12\n",
		"nr_free_pages -1\n",
		"nr_free_pages +1\n",
		"nr_free_pages 12x\n",
		"nr_free_pages 1 2\n",
		"nr_free_pages 18446744073709551616\n",
		"a 1\n\nb 2\n",
		"this_name_is_far_too_long_for_a_vmstat_counter_and_so_rejected_x 1\n",
	};
	struct ht_vmstat vs = { };
	unsigned int i;
	char name[160];

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(name, sizeof(name), "reject \"%.*s\"",
			 (int)strcspn(bad[i], "\n"), bad[i]);
		ok(ht_vmstat_parse(bad[i], &vs) == -EINVAL, name);
	}
	ht_vmstat_free(&vs);
}

static void test_match(void)
{
	static const char *const prefixes[] = { "pgmigrate", "numa_" };

	ok(ht_vmstat_match("pgmigrate_success", prefixes, 2),
	   "prefix pgmigrate matches pgmigrate_success");
	ok(ht_vmstat_match("numa_hit", prefixes, 2),
	   "second prefix matches");
	ok(!ht_vmstat_match("nr_free_pages", prefixes, 2),
	   "other names do not match");
	ok(!ht_vmstat_match("numa", prefixes, 2),
	   "a name shorter than the prefix does not match");
	ok(!ht_vmstat_match("numa_hit", prefixes, 0), "no prefixes, no match");
}

static void test_proc(void)
{
	struct ht_vmstat vs = { };
	uint64_t v;

	ok(ht_vmstat_read("/proc/vmstat", &vs) == 0 && vs.n > 50 &&
	   ht_vmstat_get(&vs, "nr_free_pages", &v) == 0 && v > 0,
	   "/proc/vmstat reads, nr_free_pages > 0");
	ok(ht_vmstat_read("/nonexistent/vmstat", &vs) == -ENOENT,
	   "missing file gives -ENOENT");
	ht_vmstat_free(&vs);
}

int main(void)
{
	printf("TAP version 13\n");
	test_parse();
	test_bad();
	test_match();
	test_proc();
	return tap_done();
}

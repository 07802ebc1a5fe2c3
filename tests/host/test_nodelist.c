// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of the sysfs node list parser, printed as TAP.
 */
#include <stdio.h>

#include "../../guest-tools/lib/nodelist.h"
#include "tap.h"

#define UNTOUCHED 0xdeadULL

/* the input without its newlines, which would break the TAP line */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; *s && i + 3 < len; s++) {
		if (*s == '\n') {
			buf[i++] = '\\';
			buf[i++] = 'n';
		} else {
			buf[i++] = *s;
		}
	}
	buf[i] = '\0';
	return buf;
}

static void test_parse(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t mask;
	} cases[] = {
		{ "0\n", 0, 0x1 },
		{ "0", 0, 0x1 },
		{ "0-1\n", 0, 0x3 },
		{ "0,2-3,5\n", 0, 0x2d },
		{ "63", 0, 1ULL << 63 },
		{ "0-63", 0, UINT64_MAX },
		{ "\n", 0, 0 },
		{ "", 0, 0 },
		{ "64", -1, 0 },
		{ "3-1", -1, 0 },
		{ "1-", -1, 0 },
		{ "-1", -1, 0 },
		{ "1,", -1, 0 },
		{ "1,,2", -1, 0 },
		{ "a", -1, 0 },
		{ " 1", -1, 0 },
		{ "1\n\n", -1, 0 },
		{ "1 2", -1, 0 },
	};
	unsigned int i;
	char name[80], in[32];

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t m = UNTOUCHED, want;
		int r = ht_parse_nodelist(cases[i].in, &m);

		snprintf(name, sizeof(name), "parse_nodelist(\"%s\")",
			 shown(cases[i].in, in, sizeof(in)));
		/* on error the mask must be left alone */
		want = r ? UNTOUCHED : cases[i].mask;
		ok(r == cases[i].ret && m == want, name);
	}
}

static void test_sysfs(void)
{
	uint64_t m = 0;

	ok(ht_read_nodelist("/sys/devices/system/node/online", &m) == 0 &&
	   (m & 1), "sysfs online nodes include node 0");
	ok(ht_read_nodelist("/nonexistent", &m) < 0, "missing file fails");
}

int main(void)
{
	printf("TAP version 13\n");
	test_parse();
	test_sysfs();
	return tap_done();
}

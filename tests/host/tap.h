/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP output for the host unit tests: ok() per test point, then
 * tap_done() prints the plan and gives main's exit status.
 */
#ifndef HT_TEST_TAP_H
#define HT_TEST_TAP_H

#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int n_tests, n_failed;

static inline void ok(int cond, const char *name)
{
	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n_tests, name);
}

static inline int tap_done(void)
{
	printf("1..%d\n", n_tests);
	return n_failed != 0;
}

#endif

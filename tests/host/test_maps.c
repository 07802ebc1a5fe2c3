// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of the /proc/PID/maps line parser, printed as TAP.
 */
#include <stdio.h>
#include <string.h>

#include "../../guest-tools/lib/maps.h"
#include "tap.h"

struct good_case {
	const char *line;
	uint64_t start, end, offset, inode;
	const char *perms, *path;
	unsigned int major, minor;
	bool deleted, special;
};

static const struct good_case good[] = {
	{ "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n",
	  0x400000, 0x452000, 0, 173521, "r-xp", "/usr/bin/dbus-daemon",
	  8, 2, false, false },
	/* anonymous: the kernel prints no padding and no path */
	{ "7f0e5a2b1000-7f0e5a2b3000 rw-p 00000000 00:00 0\n",
	  0x7f0e5a2b1000, 0x7f0e5a2b3000, 0, 0, "rw-p", "", 0, 0, false,
	  false },
	{ "7f0e5a2b1000-7f0e5a2b3000 rw-p 00000000 00:00 0 \n",
	  0x7f0e5a2b1000, 0x7f0e5a2b3000, 0, 0, "rw-p", "", 0, 0, false,
	  false },
	{ "7f0e5a2b1000-7f0e5a2b3000 rw-p 00000000 00:00 0",
	  0x7f0e5a2b1000, 0x7f0e5a2b3000, 0, 0, "rw-p", "", 0, 0, false,
	  false },
	{ "55d4c4a9e000-55d4c4abf000 rw-p 00000000 00:00 0                          [heap]\n",
	  0x55d4c4a9e000, 0x55d4c4abf000, 0, 0, "rw-p", "[heap]", 0, 0,
	  false, false },
	{ "7ffc1b7d5000-7ffc1b7f6000 rw-p 00000000 00:00 0                          [stack]\n",
	  0x7ffc1b7d5000, 0x7ffc1b7f6000, 0, 0, "rw-p", "[stack]", 0, 0,
	  false, false },
	{ "7f1000000000-7f1000200000 rw-p 00000000 00:00 0      [anon:jemalloc]\n",
	  0x7f1000000000, 0x7f1000200000, 0, 0, "rw-p", "[anon:jemalloc]",
	  0, 0, false, false },
	{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
	  0xffffffffff600000, 0xffffffffff601000, 0, 0, "--xp", "[vsyscall]",
	  0, 0, false, true },
	{ "7ffc1b7fa000-7ffc1b7fe000 r--p 00000000 00:00 0                          [vvar]\n",
	  0x7ffc1b7fa000, 0x7ffc1b7fe000, 0, 0, "r--p", "[vvar]", 0, 0,
	  false, true },
	{ "7ffc1b7fe000-7ffc1b800000 r-xp 00000000 00:00 0                          [vdso]\n",
	  0x7ffc1b7fe000, 0x7ffc1b800000, 0, 0, "r-xp", "[vdso]", 0, 0,
	  false, true },
	{ "7f2a00000000-7f2a00001000 rw-s 00002000 00:1f 42     /tmp/my file  with spaces.dat\n",
	  0x7f2a00000000, 0x7f2a00001000, 0x2000, 42, "rw-s",
	  "/tmp/my file  with spaces.dat", 0, 0x1f, false, false },
	{ "7f2a00000000-7f2a00001000 r--p 00000000 fd:01 1234567 /var/tmp/gone (deleted)\n",
	  0x7f2a00000000, 0x7f2a00001000, 0, 1234567, "r--p", "/var/tmp/gone",
	  0xfd, 1, true, false },
	{ "7f2a00000000-7f2a00400000 rw-s 00000000 00:01 2049    /memfd:guest ram (deleted)\n",
	  0x7f2a00000000, 0x7f2a00400000, 0, 2049, "rw-s", "/memfd:guest ram",
	  0, 1, true, false },
	/* "(deleted)" inside the name is part of the name */
	{ "1000-2000 r--p 00000000 08:02 7 /a (deleted)/b\n",
	  0x1000, 0x2000, 0, 7, "r--p", "/a (deleted)/b", 8, 2, false,
	  false },
	{ "7f0e5a2b1000-7f0e5a2b3000 ---p 00010000 103:05 99 /lib/x86_64-linux-gnu/libc.so.6\n",
	  0x7f0e5a2b1000, 0x7f0e5a2b3000, 0x10000, 99, "---p",
	  "/lib/x86_64-linux-gnu/libc.so.6", 0x103, 5, false, false },
};

static const char *const bad[] = {
	"",
	"\n",
	"garbage\n",
	"00400000 r-xp 00000000 08:02 173521 /bin/x\n",
	"00400000-00452000\n",
	"00400000-00452000 r-xp\n",
	"00400000-00452000 r-xp 00000000 08:02\n",
	"00400000-00452000 r-xp 00000000 0802 1 /bin/x\n",
	"00452000-00400000 r-xp 00000000 08:02 1 /bin/x\n",
	"00400000-00400000 r-xp 00000000 08:02 1 /bin/x\n",
	"-400000-452000 r-xp 00000000 08:02 1 /bin/x\n",
	"00400000- 452000 r-xp 00000000 08:02 1 /bin/x\n",
	"00400000-00452000 r-xp 00000000 08:02 -1 /bin/x\n",
	"00400000-00452000 r-xp 00000000 08:02 12x /bin/x\n",
	"00400000-00452000 rxp 00000000 08:02 1 /bin/x\n",
	"1ffffffffffffffff-2ffffffffffffffff r-xp 0 08:02 1 /bin/x\n",
};

static void test_good(void)
{
	unsigned int i;
	char line[256], name[160];
	struct ht_map m;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		const struct good_case *c = &good[i];
		int r;

		snprintf(line, sizeof(line), "%s", c->line);
		r = ht_maps_parse_line(line, &m);
		snprintf(name, sizeof(name), "parse \"%.*s\"",
			 (int)strcspn(c->line, "\n"), c->line);
		ok(r == 0 && m.start == c->start && m.end == c->end &&
		   m.offset == c->offset && m.inode == c->inode &&
		   !strcmp(m.perms, c->perms) && !strcmp(m.path, c->path) &&
		   m.dev_major == c->major && m.dev_minor == c->minor &&
		   m.deleted == c->deleted, name);
		snprintf(name, sizeof(name), "%s is %sspecial",
			 *c->path ? c->path : "anonymous",
			 c->special ? "" : "not ");
		ok(r == 0 && ht_map_is_special(&m) == c->special, name);
	}
}

static void test_bad(void)
{
	unsigned int i;
	char line[256], name[160];
	struct ht_map m;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(line, sizeof(line), "%s", bad[i]);
		snprintf(name, sizeof(name), "reject \"%.*s\"",
			 (int)strcspn(bad[i], "\n"), bad[i]);
		ok(ht_maps_parse_line(line, &m) == -1, name);
	}
}

static void test_readable(void)
{
	char a[] = "1000-2000 r--p 00000000 00:00 0\n";
	char b[] = "1000-2000 ---p 00000000 00:00 0\n";
	struct ht_map m;

	ok(!ht_maps_parse_line(a, &m) && ht_map_readable(&m), "r--p is readable");
	ok(!ht_maps_parse_line(b, &m) && !ht_map_readable(&m),
	   "---p (guard) is not readable");
}

/* The parser must take every line this very process has. */
static void test_self(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int lines = 0, failed = 0, stacks = 0;
	char line[4096];
	struct ht_map m;

	ok(!!f, "open /proc/self/maps");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		if (ht_maps_parse_line(line, &m))
			failed++;
		else if (!strcmp(m.path, "[stack]"))
			stacks++;
	}
	fclose(f);
	ok(lines > 3 && !failed && stacks == 1,
	   "every line of /proc/self/maps parses, [stack] found");
}

int main(void)
{
	printf("TAP version 13\n");
	test_good();
	test_bad();
	test_readable();
	test_self();
	return tap_done();
}

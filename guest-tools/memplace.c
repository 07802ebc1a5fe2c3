// SPDX-License-Identifier: GPL-2.0
/*
 * memplace - allocate and touch memory, then report on which NUMA node each
 * page landed (move_pages(2) query).  Run it under numactl to check that a
 * memory policy is honoured:  numactl --membind=1 memplace --json 64M
 * With --hold it then keeps the memory, untouched, for tests that need an
 * idle process with memory on a known node.  With --stripes N the memory is
 * touched a page of each of N equal parts in turn, so that the page frames
 * of each part are scattered: freeing one part leaves no free huge page.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/htutil.h"

static void usage(void)
{
	fprintf(stderr, "usage: memplace [--json] [--hold S] [--stripes N] SIZE\n"
		"  SIZE         bytes to allocate and touch, e.g. 64M\n"
		"  --hold S     then keep the memory S seconds without touching it\n"
		"  --stripes N  touch a page of each of N parts in turn (1-64)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "hold", required_argument, NULL, 'H' },
		{ "stripes", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct ht_placement p;
	int json = 0, c, err, n;
	unsigned long hold = 0, stripes = 1;
	uint64_t size, part, off, s;
	long page = sysconf(_SC_PAGESIZE);
	char *end;
	char *buf;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'H') {
			errno = 0;
			hold = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || hold > 86400)
				ht_die_opt("memplace", "--hold",
					   "invalid seconds '%s'", optarg);
		} else if (c == 'S') {
			errno = 0;
			stripes = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || !stripes ||
			    stripes > 64)
				ht_die_opt("memplace", "--stripes",
					   "invalid count '%s' (1-64)", optarg);
		} else {
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (ht_parse_size(argv[optind], &size) || !size) {
		fprintf(stderr, "memplace: invalid SIZE '%s'\n", argv[optind]);
		return 2;
	}
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("memplace: mmap");
		return 1;
	}
	/* Whole pages of each part in turn; the rest (if any) after. */
	part = size / stripes / page * page;
	for (off = 0; off < part; off += page)
		for (s = 0; s < stripes; s++)
			memset(buf + s * part + off, 0xa5, page);
	memset(buf + stripes * part, 0xa5, size - stripes * part);
	err = ht_query_placement(0, buf, size, &p);
	if (err) {
		fprintf(stderr, "memplace: move_pages: %s\n", strerror(-err));
		return 1;
	}
	if (json) {
		printf("{\"addr\": \"%p\", \"pages\": %llu, \"not_present\": %llu, \"errors\": %llu, \"nodes\": {",
		       (void *)buf, (unsigned long long)p.pages,
		       (unsigned long long)p.not_present,
		       (unsigned long long)p.other_error);
		for (c = 0, n = 0; c < HT_MAX_NODES; c++) {
			if (!p.on_node[c])
				continue;
			printf("%s\"%d\": %llu", n++ ? ", " : "", c,
			       (unsigned long long)p.on_node[c]);
		}
		printf("}}\n");
	} else {
		printf("addr %p\npages %llu\n", (void *)buf,
		       (unsigned long long)p.pages);
		for (c = 0; c < HT_MAX_NODES; c++)
			if (p.on_node[c])
				printf("node%d %llu\n", c,
				       (unsigned long long)p.on_node[c]);
		if (p.not_present)
			printf("not_present %llu\n",
			       (unsigned long long)p.not_present);
		if (p.other_error)
			printf("errors %llu\n",
			       (unsigned long long)p.other_error);
	}
	if (hold) {
		fflush(stdout);
		sleep(hold);
	}
	return 0;
}

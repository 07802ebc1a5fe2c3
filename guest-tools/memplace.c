// SPDX-License-Identifier: GPL-2.0
/*
 * memplace - allocate and touch memory, then report on which NUMA node each
 * page landed (move_pages(2) query).  Run it under numactl to check that a
 * memory policy is honoured:  numactl --membind=1 memplace --json 64M
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/htutil.h"

static void usage(void)
{
	fprintf(stderr, "usage: memplace [--json] SIZE\n"
		"  SIZE  bytes to allocate and touch, e.g. 64M\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct ht_placement p;
	int json = 0, c, err, n;
	uint64_t size;
	char *buf;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else
			usage();
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
	memset(buf, 0xa5, size);
	err = ht_query_placement(0, buf, size, &p);
	if (err) {
		fprintf(stderr, "memplace: move_pages: %s\n", strerror(-err));
		return 1;
	}
	if (json) {
		printf("{\"pages\": %llu, \"not_present\": %llu, \"errors\": %llu, \"nodes\": {",
		       (unsigned long long)p.pages,
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
		printf("pages %llu\n", (unsigned long long)p.pages);
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
	return 0;
}

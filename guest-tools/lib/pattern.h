/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Self-describing page images for integrity checks.  A 4 KiB page written
 * with generation gen at address addr holds
 *   word 0: addr, word 1: gen, word 2: checksum of words 3..511,
 *   word i >= 3: ht_pat_word(addr, gen, i)
 * so that a page found where it should not be can be told apart: all zero,
 * an intact image of an older or newer generation (a lost or misplaced
 * write), an intact image of another address (a page mapped at the wrong
 * place), torn (its own header, wrong body), or garbage.
 */
#ifndef HT_PATTERN_H
#define HT_PATTERN_H

#include <stdint.h>

#define HT_PAT_PAGE	4096
#define HT_PAT_WORDS	(HT_PAT_PAGE / 8)
#define HT_PAT_HDR	3		/* addr, gen, checksum */

enum ht_pat_kind {
	HT_PAT_OK,
	HT_PAT_ZERO,		/* every word 0 */
	HT_PAT_STALE,		/* intact image of this address, other gen */
	HT_PAT_MOVED,		/* intact image of another address */
	HT_PAT_TORN,		/* header of this address, body or sum wrong */
	HT_PAT_GARBAGE,		/* none of the above */
};

struct ht_pat_err {
	enum ht_pat_kind kind;
	unsigned int word;		/* first word that differs */
	unsigned int bad_words;		/* words that differ */
	uint64_t expected, found;	/* of that first word */
	uint64_t found_addr, found_gen;	/* header words as found */
};

/* Body word i (HT_PAT_HDR <= i < HT_PAT_WORDS) of (addr, gen). */
static inline uint64_t ht_pat_word(uint64_t addr, uint64_t gen, unsigned int i)
{
	return (addr + 8 * (uint64_t)i) ^ (gen * 0x9e3779b97f4a7c15ULL) ^
	       0x5ca1ab1e00000000ULL;
}

/* Checksum of the body words 3..511 of a page image. */
uint64_t ht_pat_sum(const uint64_t *w);

/* Write the image of (addr, gen) into page (HT_PAT_PAGE bytes). */
void ht_pat_fill(void *page, uint64_t addr, uint64_t gen);

/*
 * Whether page holds the image of (addr, gen): 0, or 1 with e (may be NULL)
 * describing the first difference and classifying what was found.
 */
int ht_pat_check(const void *page, uint64_t addr, uint64_t gen,
		 struct ht_pat_err *e);

const char *ht_pat_kind_name(enum ht_pat_kind kind);

#endif

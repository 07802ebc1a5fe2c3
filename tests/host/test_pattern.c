// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side unit tests of the integrity page images (guest-tools/lib/pattern),
 * printed as TAP: every kind of damage is caught and classified.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../guest-tools/lib/pattern.h"
#include "tap.h"

static uint64_t page[HT_PAT_WORDS] __attribute__((aligned(4096)));
static uint64_t other[HT_PAT_WORDS] __attribute__((aligned(4096)));

#define A 0x7f1234560000ULL
#define B 0x7f1234561000ULL

static void test_good(void)
{
	struct ht_pat_err e = { .kind = HT_PAT_GARBAGE };
	uint64_t g;
	int good = 1;

	for (g = 0; g < 100; g++) {
		ht_pat_fill(page, A, g);
		good &= !ht_pat_check(page, A, g, &e);
	}
	ok(good, "fill then check: 100 generations pass");
	ok(page[0] == A && page[1] == 99 && page[2] == ht_pat_sum(page),
	   "header: address, generation, checksum");
	ok(ht_pat_word(A, 1, 3) != ht_pat_word(A, 2, 3) &&
	   ht_pat_word(A, 1, 3) != ht_pat_word(B, 1, 3) &&
	   ht_pat_word(A, 1, 3) != ht_pat_word(A, 1, 4),
	   "body words differ by address, generation and position");
	ht_pat_fill(page, A, 0);
	ok(!ht_pat_check(page, A, 0, NULL) && ht_pat_check(page, A, 1, NULL),
	   "generation 0 is a real image (not all zero), gen 1 does not match it");
}

static void test_every_word(void)
{
	struct ht_pat_err e;
	unsigned int i, caught = 0, where = 0, kind = 0;

	for (i = 0; i < HT_PAT_WORDS; i++) {
		ht_pat_fill(page, A, 7);
		page[i] ^= 1ULL << (i % 64);
		if (ht_pat_check(page, A, 7, &e)) {
			caught++;
			where += e.word == i && e.found == page[i] &&
				 e.bad_words >= 1;
			/* a flipped address word: no longer its own header */
			kind += e.kind == (i == 0 ? HT_PAT_GARBAGE : HT_PAT_TORN);
		}
	}
	ok(caught == HT_PAT_WORDS, "a single flipped bit in any of the 512 words is caught");
	ok(where == HT_PAT_WORDS, "and reported at its word with the value found");
	ok(kind == HT_PAT_WORDS, "classified torn (garbage when the address word is hit)");
	ht_pat_fill(page, A, 7);
	((unsigned char *)page)[2049] ^= 0x80;
	ok(ht_pat_check(page, A, 7, &e) && e.word == 256 && e.bad_words == 2 &&
	   e.expected == ht_pat_word(A, 7, 256) && e.kind == HT_PAT_TORN,
	   "a flipped byte: its word, expected value, body and sum both counted");
}

static void test_kinds(void)
{
	struct ht_pat_err e;
	unsigned int i;

	memset(page, 0, sizeof(page));
	ok(ht_pat_check(page, A, 3, &e) && e.kind == HT_PAT_ZERO &&
	   e.word == 0 && e.found == 0 && e.expected == A,
	   "an all-zero page (lost, or a fresh page mapped) is zero");

	ht_pat_fill(page, A, 3);
	ok(ht_pat_check(page, A, 4, &e) && e.kind == HT_PAT_STALE &&
	   e.word == 1 && e.found_gen == 3 && e.expected == 4 &&
	   e.bad_words == HT_PAT_WORDS - 2,
	   "the previous generation (a lost write) is stale, found gen 3");
	ok(ht_pat_check(page, A, 2, &e) && e.kind == HT_PAT_STALE,
	   "a newer generation than expected is stale too");

	ht_pat_fill(page, B, 3);
	ok(ht_pat_check(page, A, 3, &e) && e.kind == HT_PAT_MOVED &&
	   e.word == 0 && e.found_addr == B,
	   "the image of another address (a page mapped at the wrong place) is moved");

	ht_pat_fill(page, A, 5);
	ht_pat_fill(other, A, 6);
	memcpy(page + 256, other + 256, 2048);	/* half old, half new */
	ok(ht_pat_check(page, A, 5, &e) && e.kind == HT_PAT_TORN &&
	   e.word == 256 && e.bad_words == 257,
	   "half of the page from the next generation is torn at word 256");

	ht_pat_fill(page, A, 5);
	page[2] ^= 4;
	ok(ht_pat_check(page, A, 5, &e) && e.kind == HT_PAT_TORN && e.word == 2 &&
	   e.bad_words == 1,
	   "only the checksum word wrong: torn at word 2");

	ht_pat_fill(page, A, 5);
	for (i = 0; i < HT_PAT_WORDS; i++)
		page[i] = 0x0123456789abcdefULL * (i + 1);
	ok(ht_pat_check(page, A, 5, &e) && e.kind == HT_PAT_GARBAGE,
	   "unrelated data is garbage");

	ht_pat_fill(page, A, 5);
	ht_pat_fill(other, A, 5);
	page[10] = other[11];
	page[11] = other[10];
	ok(ht_pat_check(page, A, 5, &e) && e.word == 10 && e.bad_words == 3,
	   "two swapped words are caught");
	ok(!strcmp(ht_pat_kind_name(HT_PAT_MOVED), "moved") &&
	   !strcmp(ht_pat_kind_name((enum ht_pat_kind)99), "?"),
	   "kind names");
}

int main(void)
{
	test_good();
	test_every_word();
	test_kinds();
	return tap_done();
}

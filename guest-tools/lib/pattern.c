// SPDX-License-Identifier: GPL-2.0
/*
 * Self-describing page images for integrity checks (see pattern.h).
 */
#include <stddef.h>

#include "pattern.h"

uint64_t ht_pat_sum(const uint64_t *w)
{
	uint64_t s = 0;
	unsigned int i;

	/* position-weighted: swapped or shifted words change the sum */
	for (i = HT_PAT_HDR; i < HT_PAT_WORDS; i++)
		s += w[i] * (2 * (uint64_t)i + 1);
	return s ^ 0xc4ec5e11ULL;
}

void ht_pat_fill(void *page, uint64_t addr, uint64_t gen)
{
	volatile uint64_t *w = page;
	uint64_t s = 0, v;
	unsigned int i;

	/*
	 * Body first, header last, each word written once (volatile: no
	 * vectorised or reordered stores the kernel could see half done in
	 * another order than the checks below assume).
	 */
	for (i = HT_PAT_HDR; i < HT_PAT_WORDS; i++) {
		v = ht_pat_word(addr, gen, i);
		w[i] = v;
		s += v * (2 * (uint64_t)i + 1);
	}
	w[2] = s ^ 0xc4ec5e11ULL;
	w[1] = gen;
	w[0] = addr;
}

/* Whether w is an intact image of its own header's (addr, gen). */
static int self_consistent(const uint64_t *w)
{
	unsigned int i;

	for (i = HT_PAT_HDR; i < HT_PAT_WORDS; i++)
		if (w[i] != ht_pat_word(w[0], w[1], i))
			return 0;
	return w[2] == ht_pat_sum(w);
}

int ht_pat_check(const void *page, uint64_t addr, uint64_t gen,
		 struct ht_pat_err *e)
{
	const volatile uint64_t *vw = page;
	uint64_t w[HT_PAT_WORDS], want;
	unsigned int i, bad = 0, first = 0;
	int zero = 1;

	/* one snapshot, so that the classification sees what was compared */
	for (i = 0; i < HT_PAT_WORDS; i++)
		w[i] = vw[i];
	for (i = 0; i < HT_PAT_WORDS; i++) {
		want = i == 0 ? addr : i == 1 ? gen :
		       i == 2 ? 0 : ht_pat_word(addr, gen, i);
		if (i == 2)
			continue;	/* the sum, below */
		if (w[i] != want && !bad++)
			first = i;
		zero &= !w[i];
	}
	zero &= !w[2];
	if (!bad && w[2] == ht_pat_sum(w))
		return 0;
	if (!bad) {
		bad = 1;
		first = 2;
	} else if (w[2] != ht_pat_sum(w)) {
		bad++;
	}
	if (!e)
		return 1;
	e->word = first;
	e->bad_words = bad;
	e->found = w[first];
	e->expected = first == 0 ? addr : first == 1 ? gen :
		      first == 2 ? ht_pat_sum(w) : ht_pat_word(addr, gen, first);
	e->found_addr = w[0];
	e->found_gen = w[1];
	if (zero)
		e->kind = HT_PAT_ZERO;
	else if (self_consistent(w))
		e->kind = w[0] == addr ? HT_PAT_STALE : HT_PAT_MOVED;
	else if (w[0] == addr)
		e->kind = HT_PAT_TORN;
	else
		e->kind = HT_PAT_GARBAGE;
	return 1;
}

const char *ht_pat_kind_name(enum ht_pat_kind kind)
{
	static const char *const names[] = {
		[HT_PAT_OK] = "ok", [HT_PAT_ZERO] = "zero",
		[HT_PAT_STALE] = "stale", [HT_PAT_MOVED] = "moved",
		[HT_PAT_TORN] = "torn", [HT_PAT_GARBAGE] = "garbage",
	};

	return (unsigned int)kind < sizeof(names) / sizeof(names[0]) ?
	       names[kind] : "?";
}

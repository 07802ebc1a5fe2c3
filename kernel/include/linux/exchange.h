/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Exchange of two folios: swap their contents and mappings in place, so that
 * a hot folio on a slow node and a cold folio on a fast node trade places
 * without needing free memory on either node.
 */
#ifndef _LINUX_EXCHANGE_H
#define _LINUX_EXCHANGE_H

#include <linux/errno.h>
#include <linux/types.h>

struct anon_vma;
struct folio;

/**
 * struct folio_exchange - one pair of folios for exchange_folios()
 * @a: one folio, for example a hot folio on a slow node
 * @b: the other folio, for example a cold folio on a fast node
 * @err: set by exchange_folios(): 0 if the pair was exchanged, or why not
 *
 * The caller fills in @a and @b; the remaining members are private to
 * exchange_folios().
 */
struct folio_exchange {
	struct folio *a;
	struct folio *b;
	int err;
	/* private: kept between the unmap and the move phase of a batch */
	struct anon_vma *anon_vma_a;
	struct anon_vma *anon_vma_b;
	bool unmapped;
};

#ifdef CONFIG_FOLIO_EXCHANGE
int exchange_folios(struct folio_exchange *pairs, unsigned int nr);
#else
static inline int exchange_folios(struct folio_exchange *pairs,
				  unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		pairs[i].err = -EOPNOTSUPP;
	return 0;
}
#endif

#endif /* _LINUX_EXCHANGE_H */

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
struct list_head;
struct mm_struct;
struct vm_area_struct;

/**
 * struct folio_exchange - one pair of folios for exchange_folios()
 * @a: one folio, for example a hot folio on a slow node
 * @b: the other folio, for example a cold folio on a fast node
 * @addr_a: for exchange_folios_mm(): where its mm_a maps @a
 * @addr_b: for exchange_folios_mm(): where its mm_b maps @b
 * @err: set by exchange_folios(): 0 if the pair was exchanged, or why not
 *
 * The caller fills in @a and @b (and for exchange_folios_mm() @addr_a and
 * @addr_b); the remaining members are private to exchange_folios().
 */
struct folio_exchange {
	struct folio *a;
	struct folio *b;
	unsigned long addr_a;
	unsigned long addr_b;
	int err;
	/* private: kept between the unmap and the move phase of a batch */
	struct anon_vma *anon_vma_a;
	struct anon_vma *anon_vma_b;
	struct vm_area_struct *vma_a;	/* @a unmapped at @addr_a directly */
	struct vm_area_struct *vma_b;
	bool unmapped;
	bool frozen;
	bool pmd_a, pmd_b;		/* unmapped from a PMD of mm_a, mm_b */
	bool queued_a, partially_a, queued_b, partially_b;
};

/**
 * struct folio_copier - a device that moves folio contents for the CPU
 * @exchange: swap the contents of @a[i] and @b[i] for each i < @nr, in order;
 *	returns how many pairs it swapped (the CPU swaps the rest), or a
 *	negative errno when it swapped none
 * @copy_folio: copy the contents of @src to @dst; 0, or a negative errno when
 *	it copied nothing
 * @copy_folios: copy the contents of @src[i] to @dst[i] for each i < @nr, in
 *	order, in as few requests as it can; returns how many it copied (the
 *	CPU copies the rest), or a negative errno when it copied none.
 *	Optional.
 * @exchange_atomic: as @exchange, but called with preemption off and must
 *	not sleep: for pairs with a page cache folio frozen, which lookups
 *	spin on.  -EBUSY when the device is in use.  Optional.
 *
 * All are called with the folios locked and unmapped, so nothing but the
 * copier accesses them meanwhile, and all but @exchange_atomic may sleep.
 * A virtualized guest's hypervisor or a DMA engine can move the data
 * without the CPU time that a tiering policy's budget is charged for.
 */
struct folio_copier {
	int (*exchange)(struct folio_copier *c, struct folio **a,
			struct folio **b, unsigned int nr);
	int (*exchange_atomic)(struct folio_copier *c, struct folio **a,
			       struct folio **b, unsigned int nr);
	int (*copy_folio)(struct folio_copier *c, struct folio *dst,
			  struct folio *src);
	int (*copy_folios)(struct folio_copier *c, struct folio **dst,
			   struct folio **src, unsigned int nr);
};

#ifdef CONFIG_FOLIO_EXCHANGE
bool folio_may_exchange(struct folio *folio);
bool folio_may_pair(struct folio *a, struct folio *b);
int exchange_folios(struct folio_exchange *pairs, unsigned int nr);
int exchange_folios_mm(struct mm_struct *mm_a, struct mm_struct *mm_b,
		       struct folio_exchange *pairs, unsigned int nr);
int folio_copier_register(struct folio_copier *c);
void folio_copier_unregister(struct folio_copier *c);
bool folio_copier_begin(void);
void folio_copier_end(void);
int folio_copier_copy(struct folio *dst, struct folio *src);
void folio_copier_copy_ahead(struct list_head *src, struct list_head *dst);
void folio_copier_ahead_done(void);
#else
static inline bool folio_may_exchange(struct folio *folio)
{
	return false;
}

static inline bool folio_may_pair(struct folio *a, struct folio *b)
{
	return false;
}

static inline int exchange_folios(struct folio_exchange *pairs,
				  unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		pairs[i].err = -EOPNOTSUPP;
	return 0;
}

static inline int exchange_folios_mm(struct mm_struct *mm_a,
				     struct mm_struct *mm_b,
				     struct folio_exchange *pairs,
				     unsigned int nr)
{
	return exchange_folios(pairs, nr);
}

static inline int folio_copier_register(struct folio_copier *c)
{
	return -EOPNOTSUPP;
}

static inline void folio_copier_unregister(struct folio_copier *c)
{
}

static inline bool folio_copier_begin(void)
{
	return false;
}

static inline void folio_copier_end(void)
{
}

static inline int folio_copier_copy(struct folio *dst, struct folio *src)
{
	return -EOPNOTSUPP;
}

static inline void folio_copier_copy_ahead(struct list_head *src,
					   struct list_head *dst)
{
}

static inline void folio_copier_ahead_done(void)
{
}
#endif

#endif /* _LINUX_EXCHANGE_H */

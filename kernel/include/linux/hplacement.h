/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HPlacement: what other subsystems may ask of it.
 */
#ifndef _LINUX_HPLACEMENT_H
#define _LINUX_HPLACEMENT_H

#include <linux/errno.h>
#include <linux/types.h>

#ifdef CONFIG_HPLACEMENT
int hpl_node_hotness(int nid, u64 *hot, u64 *cold);
void hpl_balloon_want(int nid, unsigned long pages);
#else
static inline int hpl_node_hotness(int nid, u64 *hot, u64 *cold)
{
	return -ENODATA;
}

static inline void hpl_balloon_want(int nid, unsigned long pages)
{
}
#endif

#endif /* _LINUX_HPLACEMENT_H */

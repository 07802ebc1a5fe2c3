/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests of the decoding of PEBS samples and raw IBS op records,
 * with synthetic records laid out as the x86 PMU drivers fill them.
 * Included at the end of pmu.c.
 */

#ifdef CONFIG_HPLACEMENT_KUNIT_TEST

#ifndef _HPLACEMENT_PMU_KUNIT_H
#define _HPLACEMENT_PMU_KUNIT_H

#include <kunit/test.h>
#include <asm/segment.h>

#define HPL_T_UADDR	0x7f12345678c0UL
#define HPL_T_KADDR	0xffff888012345000UL

static void hpl_t_regs(struct pt_regs *regs, bool user)
{
	memset(regs, 0, sizeof(*regs));
	regs->cs = user ? __USER_CS : __KERNEL_CS;
	regs->ip = user ? 0x401000 : 0xffffffff81000000UL;
}

static void hpl_test_pebs_decode(struct kunit *test)
{
	struct perf_sample_data data;
	unsigned long addr = 0;
	struct pt_regs regs;

	perf_sample_data_init(&data, 0, 997);
	hpl_t_regs(&regs, true);
	/* No data address in the record. */
	KUNIT_EXPECT_FALSE(test, hpl_pebs_decode(&data, &regs, &addr));

	data.addr = HPL_T_UADDR;
	data.sample_flags |= PERF_SAMPLE_ADDR;
	KUNIT_EXPECT_TRUE(test, hpl_pebs_decode(&data, &regs, &addr));
	KUNIT_EXPECT_EQ(test, addr, HPL_T_UADDR);

	/* A kernel instruction, or a kernel or null address: not ours. */
	hpl_t_regs(&regs, false);
	KUNIT_EXPECT_FALSE(test, hpl_pebs_decode(&data, &regs, &addr));
	hpl_t_regs(&regs, true);
	data.addr = HPL_T_KADDR;
	KUNIT_EXPECT_FALSE(test, hpl_pebs_decode(&data, &regs, &addr));
	data.addr = 0;
	KUNIT_EXPECT_FALSE(test, hpl_pebs_decode(&data, &regs, &addr));
	data.addr = TASK_SIZE_MAX;
	KUNIT_EXPECT_FALSE(test, hpl_pebs_decode(&data, &regs, &addr));
	data.addr = TASK_SIZE_MAX - PAGE_SIZE;
	KUNIT_EXPECT_TRUE(test, hpl_pebs_decode(&data, &regs, &addr));
	KUNIT_EXPECT_EQ(test, addr, TASK_SIZE_MAX - PAGE_SIZE);
}

/* A raw IBS op record as perf_ibs_handle_irq() hands it out. */
struct hpl_t_ibs {
	u8 bytes[sizeof(u32) + 8 * sizeof(u64)];
	u32 size;
};

static void hpl_t_ibs(struct hpl_t_ibs *r, u64 ctl, u64 op3, u64 lin)
{
	u64 regs[8] = {};

	regs[HPL_IBS_OPCTL] = ctl;
	regs[HPL_IBS_OPDATA3] = op3;
	regs[HPL_IBS_DCLINAD] = lin;
	memset(r->bytes, 0, sizeof(r->bytes));
	/* capabilities, then the registers at an unaligned offset */
	put_unaligned((u32)0x3ff, (u32 *)r->bytes);
	memcpy(r->bytes + sizeof(u32), regs, sizeof(regs));
	r->size = sizeof(r->bytes);
}

#define HPL_T_LD	BIT_ULL(0)
#define HPL_T_ST	BIT_ULL(1)
#define HPL_T_LINV	BIT_ULL(17)

static void hpl_test_ibs_decode(struct kunit *test)
{
	unsigned long addr = 0;
	struct hpl_t_ibs r;
	bool store = true;

	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_LD | HPL_T_LINV, HPL_T_UADDR);
	KUNIT_EXPECT_TRUE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	KUNIT_EXPECT_EQ(test, addr, HPL_T_UADDR);
	KUNIT_EXPECT_FALSE(test, store);

	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_ST | HPL_T_LINV, HPL_T_UADDR + 64);
	KUNIT_EXPECT_TRUE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	KUNIT_EXPECT_EQ(test, addr, HPL_T_UADDR + 64);
	KUNIT_EXPECT_TRUE(test, store);

	/* Locked read-modify-write: counted as a store. */
	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_LD | HPL_T_ST | HPL_T_LINV,
		  HPL_T_UADDR);
	KUNIT_EXPECT_TRUE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	KUNIT_EXPECT_TRUE(test, store);
}

static void hpl_test_ibs_reject(struct kunit *test)
{
	unsigned long addr = 0;
	struct hpl_t_ibs r;
	bool store;

	/* Op not valid, address not valid, not a memory op. */
	hpl_t_ibs(&r, 0, HPL_T_LD | HPL_T_LINV, HPL_T_UADDR);
	KUNIT_EXPECT_FALSE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_LD, HPL_T_UADDR);
	KUNIT_EXPECT_FALSE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_LINV, HPL_T_UADDR);
	KUNIT_EXPECT_FALSE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	/* Kernel and null addresses. */
	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_LD | HPL_T_LINV, HPL_T_KADDR);
	KUNIT_EXPECT_FALSE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_LD | HPL_T_LINV, 0);
	KUNIT_EXPECT_FALSE(test, hpl_ibs_decode(r.bytes, r.size, &addr, &store));
	/* Too short to hold IbsDcLinAd, or no record. */
	hpl_t_ibs(&r, IBS_OP_VAL, HPL_T_LD | HPL_T_LINV, HPL_T_UADDR);
	KUNIT_EXPECT_FALSE(test, hpl_ibs_decode(r.bytes,
						sizeof(u32) + HPL_IBS_DCLINAD * 8,
						&addr, &store));
	KUNIT_EXPECT_TRUE(test, hpl_ibs_decode(r.bytes,
					       sizeof(u32) +
					       (HPL_IBS_DCLINAD + 1) * 8,
					       &addr, &store));
	KUNIT_EXPECT_FALSE(test, hpl_ibs_decode(NULL, r.size, &addr, &store));
	KUNIT_EXPECT_EQ(test, addr, HPL_T_UADDR);
}

/* Periods follow the work scale, within bounds; IBS in steps of 16. */
static void hpl_test_pmu_period(struct kunit *test)
{
	const struct hpl_pmu_event *ld = &hpl_pebs.events[0];
	const struct hpl_pmu_event *op = &hpl_ibs.events[0];

	KUNIT_EXPECT_EQ(test, hpl_pmu_period(&hpl_pebs, ld, HPL_SCALE_ONE),
			ld->period);
	KUNIT_EXPECT_EQ(test, hpl_pmu_period(&hpl_pebs, ld, HPL_SCALE_ONE / 2),
			2 * ld->period);
	KUNIT_EXPECT_EQ(test, hpl_pmu_period(&hpl_pebs, ld, HPL_SCALE_LIMIT),
			ld->period / 16);
	KUNIT_EXPECT_EQ(test, hpl_pmu_period(&hpl_pebs, ld, 0),
			ld->period * 1024);
	KUNIT_EXPECT_EQ(test, hpl_pmu_period(&hpl_ibs, op, 3 * HPL_SCALE_ONE) %
			16, 0ULL);
	KUNIT_EXPECT_EQ(test, hpl_pmu_period(&hpl_ibs, op, HPL_SCALE_ONE),
			op->period);
}

static struct kunit_case hpl_pmu_test_cases[] = {
	KUNIT_CASE(hpl_test_pebs_decode),
	KUNIT_CASE(hpl_test_ibs_decode),
	KUNIT_CASE(hpl_test_ibs_reject),
	KUNIT_CASE(hpl_test_pmu_period),
	{}
};

static struct kunit_suite hpl_pmu_test_suite = {
	.name = "hplacement-pmu",
	.test_cases = hpl_pmu_test_cases,
};

kunit_test_suite(hpl_pmu_test_suite);

#endif /* _HPLACEMENT_PMU_KUNIT_H */

#endif /* CONFIG_HPLACEMENT_KUNIT_TEST */

// SPDX-License-Identifier: GPL-2.0
/*
 * HPlacement: /sys/kernel/mm/hplacement/.
 *
 * Every write is parsed and validated first and changes nothing when it
 * fails.
 */

#include <linux/ctype.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "core.h"
#include "source.h"

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(hpl_config.enabled));
}

static ssize_t enabled_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	unsigned int val;
	int ret;

	ret = kstrtouint(buf, 0, &val);
	if (ret)
		return ret;
	if (val > 1)
		return -EINVAL;
	mutex_lock(&hpl_lock);
	WRITE_ONCE(hpl_config.enabled, val);
	mutex_unlock(&hpl_lock);
	hpl_wake();
	return count;
}

static ssize_t source_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  hpl_source_names[READ_ONCE(hpl_config.source)]);
}

static ssize_t source_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	int src = sysfs_match_string(hpl_source_names, buf);

	if (src < 0)
		return -EINVAL;
	/* A source this machine cannot run is refused, not deferred. */
	if (hpl_source_pick(src,
			    hpl_sources_available(READ_ONCE(hpl_stats.source))) < 0)
		return -ENODEV;
	mutex_lock(&hpl_lock);
	WRITE_ONCE(hpl_config.source, src);
	mutex_unlock(&hpl_lock);
	return count;
}

static ssize_t budget_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(hpl_config.budget.budget_ppm));
}

static ssize_t budget_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	struct hpl_budget_params bp;
	u32 val;
	int ret;

	ret = kstrtou32(buf, 0, &val);
	if (ret)
		return ret;
	mutex_lock(&hpl_lock);
	bp = hpl_config.budget;
	bp.budget_ppm = val;
	ret = hpl_budget_params_check(&bp);
	if (!ret)
		hpl_config.budget = bp;
	mutex_unlock(&hpl_lock);
	return ret ? ret : count;
}

static ssize_t interval_ms_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(hpl_config.interval_ms));
}

static ssize_t interval_ms_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	unsigned int val;
	int ret;

	ret = kstrtouint(buf, 0, &val);
	if (ret)
		return ret;
	if (val < HPL_INTERVAL_MS_MIN || val > HPL_INTERVAL_MS_MAX)
		return -EINVAL;
	mutex_lock(&hpl_lock);
	WRITE_ONCE(hpl_config.interval_ms, val);
	mutex_unlock(&hpl_lock);
	return count;
}

static ssize_t window_ms_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(hpl_config.window_ms));
}

static ssize_t window_ms_store(struct kobject *kobj,
			       struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	unsigned int val;
	int ret;

	ret = kstrtouint(buf, 0, &val);
	if (ret)
		return ret;
	if (val < HPL_WINDOW_MS_MIN || val > HPL_WINDOW_MS_MAX)
		return -EINVAL;
	mutex_lock(&hpl_lock);
	WRITE_ONCE(hpl_config.window_ms, val);
	mutex_unlock(&hpl_lock);
	return count;
}

static ssize_t headroom_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(hpl_config.headroom));
}

static ssize_t headroom_store(struct kobject *kobj, struct kobj_attribute *attr,
			      const char *buf, size_t count)
{
	u64 val;
	int ret;

	ret = kstrtou64(buf, 0, &val);
	if (ret)
		return ret;
	if (!PAGE_ALIGNED(val) || val >> PAGE_SHIFT > totalram_pages())
		return -EINVAL;
	mutex_lock(&hpl_lock);
	WRITE_ONCE(hpl_config.headroom, val);
	mutex_unlock(&hpl_lock);
	return count;
}

static ssize_t hpl_range_store(const char *buf, size_t count, bool max)
{
	struct hpl_params p;
	unsigned long val;
	int ret;

	ret = kstrtoul(buf, 0, &val);
	if (ret)
		return ret;
	mutex_lock(&hpl_lock);
	p = hpl_config.params;
	if (max)
		p.max_range_size = val;
	else
		p.min_range_size = val;
	ret = hpl_params_check(&p);
	if (!ret)
		hpl_config.params = p;
	mutex_unlock(&hpl_lock);
	return ret ? ret : count;
}

static ssize_t min_range_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(hpl_config.params.min_range_size));
}

static ssize_t min_range_store(struct kobject *kobj,
			       struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	return hpl_range_store(buf, count, false);
}

static ssize_t max_range_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(hpl_config.params.max_range_size));
}

static ssize_t max_range_store(struct kobject *kobj,
			       struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	return hpl_range_store(buf, count, true);
}

static ssize_t exclude_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	ssize_t len = 0;
	unsigned int i;

	mutex_lock(&hpl_lock);
	for (i = 0; i < hpl_config.nr_exclude; i++)
		len += sysfs_emit_at(buf, len, "%s%s", i ? " " : "",
				     hpl_config.exclude[i]);
	mutex_unlock(&hpl_lock);
	return len + sysfs_emit_at(buf, len, "\n");
}

/*
 * Blank-separated command names (as in /proc/PID/comm, at most
 * TASK_COMM_LEN - 1 bytes each); an empty write clears the list.
 */
static ssize_t exclude_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	char names[HPL_MAX_EXCLUDE][TASK_COMM_LEN] = {};
	unsigned int n = 0;
	const char *p = buf, *end = buf + count;
	size_t len;

	while (p < end) {
		while (p < end && isspace(*p))
			p++;
		if (p == end)
			break;
		for (len = 0; p + len < end && !isspace(p[len]); len++)
			if (!isprint(p[len]))
				return -EINVAL;
		if (n == HPL_MAX_EXCLUDE || len >= TASK_COMM_LEN)
			return -EINVAL;
		memcpy(names[n++], p, len);
		p += len;
	}
	mutex_lock(&hpl_lock);
	memcpy(hpl_config.exclude, names, sizeof(names));
	hpl_config.nr_exclude = n;
	mutex_unlock(&hpl_lock);
	return count;
}

static ssize_t stats_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf,
			  "source %s\nspaces %u\nidle %u\ngrowing %u\nranges %llu\nscale %u\nused_ppm %u\nintervals %llu\nsettled %llu\n",
			  hpl_source_names[READ_ONCE(hpl_stats.source)],
			  READ_ONCE(hpl_stats.nr_spaces),
			  READ_ONCE(hpl_stats.nr_idle),
			  READ_ONCE(hpl_stats.nr_growing),
			  READ_ONCE(hpl_stats.nr_ranges),
			  READ_ONCE(hpl_stats.scale),
			  READ_ONCE(hpl_stats.used_ppm),
			  READ_ONCE(hpl_stats.nr_intervals),
			  READ_ONCE(hpl_stats.nr_settled));
}

static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);
static struct kobj_attribute source_attr = __ATTR_RW(source);
static struct kobj_attribute budget_attr = __ATTR_RW(budget);
static struct kobj_attribute interval_ms_attr = __ATTR_RW(interval_ms);
static struct kobj_attribute window_ms_attr = __ATTR_RW(window_ms);
static struct kobj_attribute headroom_attr = __ATTR_RW(headroom);
static struct kobj_attribute min_range_attr = __ATTR_RW(min_range);
static struct kobj_attribute max_range_attr = __ATTR_RW(max_range);
static struct kobj_attribute exclude_attr = __ATTR_RW(exclude);
static struct kobj_attribute stats_attr = __ATTR_RO(stats);

static struct attribute *hpl_attrs[] = {
	&enabled_attr.attr,
	&source_attr.attr,
	&budget_attr.attr,
	&interval_ms_attr.attr,
	&window_ms_attr.attr,
	&headroom_attr.attr,
	&min_range_attr.attr,
	&max_range_attr.attr,
	&exclude_attr.attr,
	&stats_attr.attr,
	NULL,
};

static const struct attribute_group hpl_group = {
	.attrs = hpl_attrs,
};

int __init hpl_sysfs_init(void)
{
	struct kobject *kobj;
	int ret;

	kobj = kobject_create_and_add("hplacement", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kobj, &hpl_group);
	if (ret)
		kobject_put(kobj);
	return ret;
}

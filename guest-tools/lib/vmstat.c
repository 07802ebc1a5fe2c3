// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmstat.h"

static int parse_line(const char *s, size_t len, struct ht_vmstat_entry *e)
{
	const char *sp = memchr(s, ' ', len);
	const char *p;
	uint64_t v = 0;

	if (!sp || sp == s || sp - s >= HT_VMSTAT_NAME_MAX)
		return -EINVAL;
	/* digits only: strtoull would take a sign or stop at garbage */
	if (sp + 1 == s + len)
		return -EINVAL;
	for (p = sp + 1; p < s + len; p++) {
		unsigned int d = *p - '0';

		if (!isdigit((unsigned char)*p) || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	memcpy(e->name, s, sp - s);
	e->name[sp - s] = '\0';
	e->value = v;
	return 0;
}

int ht_vmstat_parse(const char *text, struct ht_vmstat *vs)
{
	vs->n = 0;
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		int err;

		if (vs->n == vs->cap) {
			size_t cap = vs->cap ? 2 * vs->cap : 256;
			void *e = realloc(vs->e, cap * sizeof(*vs->e));

			if (!e)
				return -ENOMEM;
			vs->e = e;
			vs->cap = cap;
		}
		err = parse_line(text, len, &vs->e[vs->n]);
		if (err)
			return err;
		vs->n++;
		text += len + !!nl;
	}
	return 0;
}

int ht_vmstat_read(const char *path, struct ht_vmstat *vs)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap);
	int fd, err = 0;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* procfs reports size 0, so read until EOF and grow as needed */
	for (;;) {
		if (len + 1 == cap) {
			char *b = realloc(buf, 2 * cap);

			if (!b) {
				err = -ENOMEM;
				goto out_close;
			}
			buf = b;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out_close;
		}
		if (!r)
			break;
		len += r;
	}
	buf[len] = '\0';
	err = ht_vmstat_parse(buf, vs);
out_close:
	close(fd);
out:
	free(buf);
	return err;
}

int ht_vmstat_get(const struct ht_vmstat *vs, const char *name,
		  uint64_t *value)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		if (!strcmp(vs->e[i].name, name)) {
			*value = vs->e[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

int ht_vmstat_match(const char *name, const char *const *prefixes, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

void ht_vmstat_free(struct ht_vmstat *vs)
{
	free(vs->e);
	vs->e = NULL;
	vs->n = 0;
	vs->cap = 0;
}

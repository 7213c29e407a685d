// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "disk.h"

int disk_parse_spec(const char *spec, char **path, struct disk_opts *opts, struct lkvm_err *e)
{
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);

	memset(opts, 0, sizeof(*opts));
	if (!plen)
		return err_set(e, "-d %s: no file name", spec);
	while (comma) {
		const char *opt = comma + 1;
		size_t olen;

		comma = strchr(opt, ',');
		olen = comma ? (size_t)(comma - opt) : strlen(opt);
		if (olen == 2 && !strncmp(opt, "ro", 2))
			opts->ro = true;
		else if (olen == 6 && !strncmp(opt, "direct", 6))
			opts->direct = true;
		else
			return err_set(e, "-d %s: unknown disk option '%.*s' (ro, direct)", spec,
				       (int)olen, opt);
	}
	*path = strndup(spec, plen);
	if (!*path)
		return err_set(e, "out of memory");
	return 0;
}

int disk_open(struct disk **out, const char *path, const struct disk_opts *opts,
	      struct lkvm_err *e)
{
	struct disk *d = calloc(1, sizeof(*d));

	if (!d)
		return err_set(e, "out of memory");
	d->fd = -1;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return err_set(e, "out of memory");
	}
	if (disk_raw_open(d, opts, e)) {
		free(d->path);
		free(d);
		return -1;
	}
	*out = d;
	return 0;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	if (d->ops && d->ops->close)
		d->ops->close(d);
	free(d->path);
	free(d);
}

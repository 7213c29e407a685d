// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

const char *log_level_name(enum log_level level)
{
	return level < ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

int log_parse_level(const char *s, enum log_level *out)
{
	unsigned int i;

	/* kvmtool's name for it */
	if (!strcmp(s, "warning")) {
		*out = LOG_WARN;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!strcmp(s, level_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

/*
 * One write(2) per message so lines from vCPU and device threads never
 * interleave mid-line. The console may be in raw mode: end with \r\n then.
 */
void log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
{
	char buf[1024], raw[768];
	va_list ap;
	int n;

	if (!log_enabled(lg, level))
		return;
	n = snprintf(buf, sizeof(buf), "lkvm: %s%s", level == LOG_ERROR ? "" : log_level_name(level),
		     level == LOG_ERROR ? "" : ": ");
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* one message, one line: a guest- or user-supplied string is escaped */
	n += err_escape(buf + n, sizeof(buf) - n - 2, raw);
	if (lg->crlf)
		buf[n++] = '\r';
	buf[n++] = '\n';
	if (write(lg->fd, buf, n) < 0) {
		/* nowhere left to report it */
	}
}

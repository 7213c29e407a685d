/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_LOG_H
#define LKVM_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

struct logger {
	enum log_level level;
	int fd; /* stderr unless redirected */
	bool crlf; /* the terminal is in raw mode: end lines with \r\n */
};

void log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int log_parse_level(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

#define log_err(lg, ...) log_msg(lg, LOG_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_msg(lg, LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_msg(lg, LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_msg(lg, LOG_DEBUG, __VA_ARGS__)

static inline bool log_enabled(const struct logger *lg, enum log_level level)
{
	return level <= lg->level;
}

#endif

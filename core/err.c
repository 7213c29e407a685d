// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

size_t err_escape(char *dst, size_t size, const char *src)
{
	static const char hx[] = "0123456789abcdef";
	size_t n = 0;

	if (!size)
		return 0;
	for (; *src; src++) {
		unsigned char c = *src;
		char esc[5];
		size_t k = 0;

		if (c == '\n') {
			esc[k++] = '\\';
			esc[k++] = 'n';
		} else if (c == '\t') {
			esc[k++] = '\\';
			esc[k++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hx[c >> 4];
			esc[k++] = hx[c & 15];
		} else {
			esc[k++] = c;
		}
		if (n + k >= size)
			break;
		memcpy(dst + n, esc, k);
		n += k;
	}
	dst[n] = 0;
	return n;
}

static void err_vformat(struct lkvm_err *e, const char *fmt, va_list ap)
{
	char raw[sizeof(e->msg)];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	err_escape(e->msg, sizeof(e->msg), raw);
}

int err_set(struct lkvm_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vformat(e, fmt, ap);
	va_end(ap);
	return -1;
}

int err_errno(struct lkvm_err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	err_vformat(e, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	return -1;
}

void err_print(const char *fmt, ...)
{
	struct lkvm_err e;
	va_list ap;

	va_start(ap, fmt);
	err_vformat(&e, fmt, ap);
	va_end(ap);
	fprintf(stderr, "lkvm: %s\n", e.msg);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Messages to standard error: ZIO_DEBUG=1's and ZIO_STATS=1's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"

/**
 * zio_vsay() - write "libzio[PID]: " and a formatted line to stderr
 * @fmt: printf format
 * @ap: its arguments
 *
 * Without stdio, which may be gone at exit or locked in a signal handler.
 */
void zio_vsay(const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf), "libzio[%d]: ", (int)getpid());
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

void zio_debug(const char *fmt, ...)
{
	va_list ap;

	if (!zio_settings.debug)
		return;
	va_start(ap, fmt);
	zio_vsay(fmt, ap);
	va_end(ap);
}

void zio_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zio_vsay(fmt, ap);
	va_end(ap);
}

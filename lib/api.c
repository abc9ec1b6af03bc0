// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The explicit API of <libzio.h>, for programs that link with -lzio.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

ZIO_EXPORT void *zio_alloc(size_t size)
{
	void *p = zio_arena_alloc(size, 0, true);

	if (p)
		return p;
	if (zio_next.posix_memalign(&p, sysconf(_SC_PAGESIZE), size)) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

/* zio_free() is the allocator's free, zio_dealloc() (alloc.c). */

ZIO_EXPORT void *zio_copy(void *dst, const void *src, size_t len)
{
	return zio_move(dst, src, len, (uintptr_t)__builtin_return_address(0), false);
}

ZIO_EXPORT int zio_owns(const void *ptr)
{
	return zio_in_arena(ptr, 1);
}

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

ZIO_EXPORT int zio_lib_stats(struct zio_lib_stats *st)
{
	struct zio_stats ms = { 0 };
	unsigned int sites, disabled;

	memset(st, 0, sizeof(*st));
	st->arena_bytes = __atomic_load_n(&zio_arena.len, __ATOMIC_ACQUIRE);
	if (st->arena_bytes) {
		pthread_mutex_lock(&zio_arena.lock);
		st->arena_used = (unsigned long long)(zio_arena.pages_used -
						      zio_arena.cached_pages) << zio_arena.page_shift;
		pthread_mutex_unlock(&zio_arena.lock);
	}
#define GET(f) (st->f = __atomic_load_n(&zio_counts.f, __ATOMIC_RELAXED))
	GET(arena_allocs);
	GET(arena_frees);
	GET(arena_fallbacks);
	GET(arena_recycled);
	GET(realloc_in_place);
	GET(realloc_moved);
	GET(copies_module);
	GET(copies_short);
	GET(copies_failed);
	GET(copies_policy);
	GET(bytes_deferred);
	GET(bytes_kernel);
	GET(discards_failed);
	GET(io_writes);
	GET(io_reads);
	GET(io_bytes_written);
	GET(io_bytes_read);
	GET(io_fallbacks);
#undef GET
	zio_policy_sites(&sites, &disabled);
	st->sites = sites;
	st->sites_disabled = disabled;
	if (!zio_module_stats(&ms)) {
		st->module_ok = 1;
		st->module = ms.counters;
	}
	return 0;
}

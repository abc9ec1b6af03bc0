// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The interposed functions: the malloc family, forwarded to the allocator
 * (alloc.c), and memcpy/memmove/mempcpy with their fortified variants; and
 * the library's start-up and exit.
 *
 * Below the threshold everything goes straight to the next allocator or to
 * libc through a function pointer: the fast paths are one compare and one
 * indirect jump (after the allocator's direct one). Until the constructor
 * has run (and for ever with ZIO_DISABLE=1) the thresholds are SIZE_MAX, so
 * nothing else is done. The functions after libzio's, zio_next, are
 * resolved by next.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

extern void __chk_fail(void) __attribute__((noreturn));

/* Without ZIO_THRESHOLD or advice from the module (struct zio_info). */
#define ZIO_THRESHOLD_DEFAULT	(64 << 10)

/* The malloc family: forwards to the allocator (alloc.c). */

ZIO_EXPORT void *malloc(size_t size)
{
	return zio_malloc(size);
}

ZIO_EXPORT void free(void *ptr)
{
	zio_dealloc(ptr);
}

ZIO_EXPORT void *calloc(size_t n, size_t size)
{
	return zio_calloc(n, size);
}

ZIO_EXPORT void *realloc(void *ptr, size_t size)
{
	return zio_realloc(ptr, size);
}

ZIO_EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
	return zio_reallocarray(ptr, n, size);
}

ZIO_EXPORT int posix_memalign(void **ptr, size_t align, size_t size)
{
	return zio_posix_memalign(ptr, align, size);
}

ZIO_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return zio_aligned_alloc(align, size);
}

ZIO_EXPORT void *memalign(size_t align, size_t size)
{
	return zio_memalign(align, size);
}

ZIO_EXPORT void *valloc(size_t size)
{
	return zio_valloc(size);
}

ZIO_EXPORT void *pvalloc(size_t size)
{
	return zio_pvalloc(size);
}

ZIO_EXPORT size_t malloc_usable_size(void *ptr)
{
	return zio_usable_size(ptr);
}

/* The copies. The tag of a copy is its caller's return address. */

#define TAG ((uintptr_t)__builtin_return_address(0))

ZIO_EXPORT void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	if (unlikely(n >= zio_copy_min))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memcpy(dst, src, n);
}

ZIO_EXPORT void *memmove(void *dst, const void *src, size_t n)
{
	if (unlikely(n >= zio_copy_min))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memmove(dst, src, n);
}

ZIO_EXPORT void *mempcpy(void *restrict dst, const void *restrict src, size_t n)
{
	if (unlikely(n >= zio_copy_min))
		zio_move(dst, src, n, TAG, true);
	else
		zio_next.memcpy(dst, src, n);
	return (char *)dst + n;
}

ZIO_EXPORT void *__mempcpy(void *restrict dst, const void *restrict src, size_t n)
{
	if (unlikely(n >= zio_copy_min))
		zio_move(dst, src, n, TAG, true);
	else
		zio_next.memcpy(dst, src, n);
	return (char *)dst + n;
}

ZIO_EXPORT void *__memcpy_chk(void *restrict dst, const void *restrict src, size_t n,
			      size_t dstlen)
{
	if (unlikely(dstlen < n))
		__chk_fail();
	if (unlikely(n >= zio_copy_min))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memcpy(dst, src, n);
}

ZIO_EXPORT void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (unlikely(dstlen < n))
		__chk_fail();
	if (unlikely(n >= zio_copy_min))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memmove(dst, src, n);
}

ZIO_EXPORT void *__mempcpy_chk(void *restrict dst, const void *restrict src, size_t n,
			       size_t dstlen)
{
	if (unlikely(dstlen < n))
		__chk_fail();
	if (unlikely(n >= zio_copy_min))
		zio_move(dst, src, n, TAG, true);
	else
		zio_next.memcpy(dst, src, n);
	return (char *)dst + n;
}

/* Start-up, fork and exit. */

static bool env_flag(const char *name, bool dflt)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return dflt;
	return strcmp(v, "0") && strcasecmp(v, "no") && strcasecmp(v, "off");
}

static void env_threshold(void)
{
	const char *v = getenv("ZIO_THRESHOLD");
	unsigned long long n;
	char *end;

	if (!v || !*v)
		return;
	errno = 0;
	n = strtoull(v, &end, 0);
	switch (*end) {
	case 'k': case 'K':
		n <<= 10, end++;
		break;
	case 'm': case 'M':
		n <<= 20, end++;
		break;
	case 'g': case 'G':
		n <<= 30, end++;
		break;
	}
	if (errno || *end || !n) {
		zio_debug("ZIO_THRESHOLD=%s ignored", v);
		return;
	}
	if (n < (unsigned long long)sysconf(_SC_PAGESIZE))
		n = sysconf(_SC_PAGESIZE);
	zio_settings.threshold = n;
}

static void atfork_prepare(void)
{
	zio_arena_atfork_prepare();
	zio_policy_atfork_prepare();
}

static void atfork_release(void)
{
	zio_policy_atfork_release();
	zio_arena_atfork_release();
}

__attribute__((constructor)) static void zio_init(void)
{
	zio_next_resolve();
	zio_settings.debug = env_flag("ZIO_DEBUG", false);
	zio_settings.stats = env_flag("ZIO_STATS", false);
	zio_settings.disable = env_flag("ZIO_DISABLE", false);
	zio_settings.policy = env_flag("ZIO_POLICY", true);
	zio_settings.io = env_flag("ZIO_IO", true);
	env_threshold();
	if (zio_settings.disable) {
		zio_debug("ZIO_DISABLE is set: passthrough");
		return;
	}
	if (pthread_atfork(atfork_prepare, atfork_release, atfork_release)) {
		zio_debug("pthread_atfork failed: passthrough");
		return;
	}
	zio_arena_init();
	if (!zio_arena.len)
		return;
	if (!zio_settings.threshold)
		zio_settings.threshold = zio_arena.copy_threshold;
	if (!zio_settings.threshold)
		zio_settings.threshold = ZIO_THRESHOLD_DEFAULT;
	if (zio_settings.threshold < zio_arena.page_size)
		zio_settings.threshold = zio_arena.page_size;
	__atomic_store_n(&zio_alloc_min, zio_settings.threshold, __ATOMIC_RELEASE);
	__atomic_store_n(&zio_copy_min, zio_settings.threshold, __ATOMIC_RELEASE);
	if (zio_arena.io_ok && zio_settings.io)
		__atomic_store_n(&zio_io_min, zio_settings.threshold, __ATOMIC_RELEASE);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zio_vsay(fmt, ap);
	va_end(ap);
}

__attribute__((destructor)) static void zio_fini(void)
{
	struct zio_lib_stats st;
	const struct zio_counters *m = &st.module;

	if (!zio_settings.stats)
		return;
	zio_lib_stats(&st);
	if (!st.arena_bytes) {
		say("passthrough: no arena");
		return;
	}
	say("arena %llu MiB, %llu KiB in use; %llu allocs (%llu reused), %llu frees, %llu fallbacks; realloc: %llu in place, %llu moved",
	    st.arena_bytes >> 20, st.arena_used >> 10, st.arena_allocs, st.arena_recycled,
	    st.arena_frees, st.arena_fallbacks, st.realloc_in_place, st.realloc_moved);
	say("copies: %llu to the module (%llu short, %llu refused), %llu by libc for the policy; %llu bytes deferred, %llu copied by the kernel; %llu failed discards",
	    st.copies_module, st.copies_short, st.copies_failed, st.copies_policy,
	    st.bytes_deferred, st.bytes_kernel, st.discards_failed);
	say("policy: %llu call sites, %llu switched to memcpy", st.sites, st.sites_disabled);
	say("I/O: %llu writes (%llu bytes) and %llu reads (%llu bytes) by the module, %llu left to libc",
	    st.io_writes, st.io_bytes_written, st.io_reads, st.io_bytes_read, st.io_fallbacks);
	if (st.module_ok)
		say("module: copies %llu, bytes deferred %llu, bytes copied %llu, pages live %llu shared %llu pending %llu cow %llu materialized %llu fallback %llu, faults %llu, discards %llu, I/O bytes written %llu read %llu",
		    m->copies, m->bytes_deferred, m->bytes_copied, m->pages_live,
		    m->pages_shared, m->pages_pending, m->pages_cow,
		    m->pages_materialized, m->pages_fallback, m->faults, m->discards,
		    m->io_bytes_written, m->io_bytes_read);
}

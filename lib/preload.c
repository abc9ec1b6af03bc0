// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The interposed functions: the malloc family, forwarded to the allocator
 * (alloc.c), memcpy/memmove/mempcpy with their fortified variants, and the
 * I/O calls, forwarded to io.c; and the library's start-up and exit.
 *
 * Below the threshold everything goes straight to the next allocator or to
 * libc through a function pointer: the fast paths are one compare and one
 * indirect jump (after the allocator's direct one). Until the constructor
 * has run (and for ever with ZIO_DISABLE=1) the thresholds are SIZE_MAX, so
 * nothing else is done. The functions after libzio's, zio_next, are
 * resolved by next.c.
 */
#include <errno.h>
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
	if (unlikely(n >= zio_copy_min) && !zio_policy_hinted_off(TAG))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memcpy(dst, src, n);
}

ZIO_EXPORT void *memmove(void *dst, const void *src, size_t n)
{
	if (unlikely(n >= zio_copy_min) && !zio_policy_hinted_off(TAG))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memmove(dst, src, n);
}

ZIO_EXPORT void *mempcpy(void *restrict dst, const void *restrict src, size_t n)
{
	if (unlikely(n >= zio_copy_min) && !zio_policy_hinted_off(TAG))
		zio_move(dst, src, n, TAG, true);
	else
		zio_next.memcpy(dst, src, n);
	return (char *)dst + n;
}

ZIO_EXPORT void *__mempcpy(void *restrict dst, const void *restrict src, size_t n)
{
	if (unlikely(n >= zio_copy_min) && !zio_policy_hinted_off(TAG))
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
	if (unlikely(n >= zio_copy_min) && !zio_policy_hinted_off(TAG))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memcpy(dst, src, n);
}

ZIO_EXPORT void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	if (unlikely(dstlen < n))
		__chk_fail();
	if (unlikely(n >= zio_copy_min) && !zio_policy_hinted_off(TAG))
		return zio_move(dst, src, n, TAG, true);
	return zio_next.memmove(dst, src, n);
}

ZIO_EXPORT void *__mempcpy_chk(void *restrict dst, const void *restrict src, size_t n,
			       size_t dstlen)
{
	if (unlikely(dstlen < n))
		__chk_fail();
	if (unlikely(n >= zio_copy_min) && !zio_policy_hinted_off(TAG))
		zio_move(dst, src, n, TAG, true);
	else
		zio_next.memcpy(dst, src, n);
	return (char *)dst + n;
}

/* The I/O calls: forwards to io.c. */

ZIO_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	return zio_write(fd, buf, n);
}

ZIO_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	return zio_read(fd, buf, n);
}

ZIO_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset)
{
	return zio_pwrite(fd, buf, n, offset);
}

ZIO_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t offset)
{
	return zio_pread(fd, buf, n, offset);
}

/* off_t is 64 bits wide here: the *64 names are the same calls. */
ZIO_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset)
	__attribute__((alias("pwrite")));
ZIO_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t offset)
	__attribute__((alias("pread")));

ZIO_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return zio_send(fd, buf, n, flags);
}

ZIO_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return zio_recv(fd, buf, n, flags);
}

ZIO_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *to, socklen_t tolen)
{
	return zio_sendto(fd, buf, n, flags, to, tolen);
}

ZIO_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			    struct sockaddr *from, socklen_t *fromlen)
{
	return zio_recvfrom(fd, buf, n, flags, from, fromlen);
}

ZIO_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	return zio_writev(fd, iov, cnt);
}

ZIO_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	return zio_readv(fd, iov, cnt);
}

ZIO_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t offset)
{
	return zio_pwritev(fd, iov, cnt, offset);
}

ZIO_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t offset)
{
	return zio_preadv(fd, iov, cnt, offset);
}

ZIO_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t offset)
	__attribute__((alias("pwritev")));
ZIO_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t offset)
	__attribute__((alias("preadv")));

ZIO_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return zio_sendmsg(fd, msg, flags);
}

ZIO_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	return zio_recvmsg(fd, msg, flags);
}

/* The fortified forms (_FORTIFY_SOURCE), with their buffer checks. */

ZIO_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (unlikely(n > buflen))
		__chk_fail();
	return read(fd, buf, n);
}

ZIO_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t offset, size_t buflen)
{
	if (unlikely(n > buflen))
		__chk_fail();
	return pread(fd, buf, n, offset);
}

ZIO_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t offset, size_t buflen)
	__attribute__((alias("__pread_chk")));

ZIO_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (unlikely(n > buflen))
		__chk_fail();
	return recv(fd, buf, n, flags);
}

ZIO_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				  struct sockaddr *from, socklen_t *fromlen)
{
	if (unlikely(n > buflen))
		__chk_fail();
	return recvfrom(fd, buf, n, flags, from, fromlen);
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
	zio_arena.before_discard = zio_policy_before_free;
	zio_arena_init();
	if (!zio_arena.len)
		return;
	zio_policy_init();
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

__attribute__((destructor)) static void zio_fini(void)
{
	if (zio_settings.stats)
		zio_stats_report();
}

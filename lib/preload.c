// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The interposed functions: the malloc family and memcpy/memmove/mempcpy
 * with their fortified variants.
 *
 * Below the threshold everything goes straight to the next allocator or to
 * libc through a function pointer: the fast paths are one compare and one
 * indirect jump. Until the constructor has run (and for ever with
 * ZIO_DISABLE=1) the thresholds are SIZE_MAX, so nothing else is done.
 *
 * Bootstrap: the function pointers start out at boot_*() functions that
 * resolve the next symbols with dlsym(RTLD_NEXT). dlsym() may itself call
 * malloc() or calloc(): while resolving, those are served from a small
 * static buffer, whose blocks free() ignores.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

extern void __chk_fail(void) __attribute__((noreturn));

/* Without ZIO_THRESHOLD or advice from the module (struct zio_info). */
#define ZIO_THRESHOLD_DEFAULT	(64 << 10)

/* Bootstrap allocations: 16-byte header holding the size. */
#define BOOT_SIZE	(64 << 10)
#define BOOT_HDR	16

static char boot_buf[BOOT_SIZE] __attribute__((aligned(64)));
static size_t boot_used;
static int resolving, resolved;

static bool is_boot(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot_buf < BOOT_SIZE;
}

static void *boot_alloc(size_t size, size_t align)
{
	size_t old, start, end;

	if (align < BOOT_HDR)
		align = BOOT_HDR;
	if (size > BOOT_SIZE)
		return NULL;
	old = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
	do {
		start = (old + BOOT_HDR + align - 1) & ~(align - 1);
		end = start + ((size + 15) & ~15UL);
		if (end > BOOT_SIZE)
			return NULL;
	} while (!__atomic_compare_exchange_n(&boot_used, &old, end, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	*(size_t *)(boot_buf + start - BOOT_HDR) = size;
	/* Static memory is zero and never reused: good for calloc too. */
	return boot_buf + start;
}

static size_t boot_size(const void *p)
{
	return *(const size_t *)((const char *)p - BOOT_HDR);
}

/* A plain byte copy that the compiler cannot turn into a memcpy() call. */
static void *boot_copy(void *dst, const void *src, size_t n)
{
	volatile char *d = dst;
	const volatile char *s = src;

	if (d < s) {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	} else {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

static void resolve(void);

static void *boot_malloc(size_t size)
{
	resolve();
	return resolved ? zio_next.malloc(size) : boot_alloc(size, 0);
}

static void *boot_calloc(size_t n, size_t size)
{
	size_t total;

	resolve();
	if (resolved)
		return zio_next.calloc(n, size);
	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	return boot_alloc(total, 0);
}

static void *boot_realloc(void *ptr, size_t size)
{
	resolve();
	return resolved ? zio_next.realloc(ptr, size) : NULL;
}

static void boot_free(void *ptr)
{
	resolve();
	if (resolved)
		zio_next.free(ptr);
}

static int boot_posix_memalign(void **ptr, size_t align, size_t size)
{
	resolve();
	if (resolved)
		return zio_next.posix_memalign(ptr, align, size);
	*ptr = boot_alloc(size, align);
	return *ptr ? 0 : ENOMEM;
}

static void *boot_aligned_alloc(size_t align, size_t size)
{
	resolve();
	return resolved ? zio_next.aligned_alloc(align, size) : boot_alloc(size, align);
}

static void *boot_memalign(size_t align, size_t size)
{
	resolve();
	return resolved ? zio_next.memalign(align, size) : boot_alloc(size, align);
}

static size_t boot_malloc_usable_size(void *ptr)
{
	resolve();
	return resolved ? zio_next.malloc_usable_size(ptr) : 0;
}

static void *boot_memcpy(void *dst, const void *src, size_t n)
{
	resolve();
	return resolved ? zio_next.memcpy(dst, src, n) : boot_copy(dst, src, n);
}

static void *boot_memmove(void *dst, const void *src, size_t n)
{
	resolve();
	return resolved ? zio_next.memmove(dst, src, n) : boot_copy(dst, src, n);
}

/*
 * The I/O calls before resolve(): the system calls themselves (send and
 * recv are sendto and recvfrom without an address).
 */
#define BOOT_IO(name, params, args, sysargs)			\
static ssize_t boot_##name params				\
{								\
	resolve();						\
	if (resolved)						\
		return zio_next.name args;			\
	return syscall sysargs;					\
}

BOOT_IO(read, (int fd, void *buf, size_t n), (fd, buf, n), (SYS_read, fd, buf, n))
BOOT_IO(write, (int fd, const void *buf, size_t n), (fd, buf, n), (SYS_write, fd, buf, n))
BOOT_IO(pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off),
	(SYS_pread64, fd, buf, n, off))
BOOT_IO(pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off),
	(SYS_pwrite64, fd, buf, n, off))
BOOT_IO(readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt),
	(SYS_readv, fd, iov, cnt))
BOOT_IO(writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt),
	(SYS_writev, fd, iov, cnt))
BOOT_IO(preadv, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off),
	(SYS_preadv, fd, iov, cnt, off, 0L))
BOOT_IO(pwritev, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off),
	(SYS_pwritev, fd, iov, cnt, off, 0L))
BOOT_IO(recv, (int fd, void *buf, size_t n, int flags), (fd, buf, n, flags),
	(SYS_recvfrom, fd, buf, n, flags, NULL, NULL))
BOOT_IO(send, (int fd, const void *buf, size_t n, int flags), (fd, buf, n, flags),
	(SYS_sendto, fd, buf, n, flags, NULL, 0))
BOOT_IO(recvfrom, (int fd, void *buf, size_t n, int flags, struct sockaddr *from,
		   socklen_t *fromlen), (fd, buf, n, flags, from, fromlen),
	(SYS_recvfrom, fd, buf, n, flags, from, fromlen))
BOOT_IO(sendto, (int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
		 socklen_t tolen), (fd, buf, n, flags, to, tolen),
	(SYS_sendto, fd, buf, n, flags, to, tolen))
BOOT_IO(recvmsg, (int fd, struct msghdr *msg, int flags), (fd, msg, flags),
	(SYS_recvmsg, fd, msg, flags))
BOOT_IO(sendmsg, (int fd, const struct msghdr *msg, int flags), (fd, msg, flags),
	(SYS_sendmsg, fd, msg, flags))

struct zio_next zio_next = {
	.malloc = boot_malloc,
	.calloc = boot_calloc,
	.realloc = boot_realloc,
	.free = boot_free,
	.posix_memalign = boot_posix_memalign,
	.aligned_alloc = boot_aligned_alloc,
	.memalign = boot_memalign,
	.malloc_usable_size = boot_malloc_usable_size,
	.memcpy = boot_memcpy,
	.memmove = boot_memmove,
	.read = boot_read,
	.write = boot_write,
	.pread = boot_pread,
	.pwrite = boot_pwrite,
	.readv = boot_readv,
	.writev = boot_writev,
	.preadv = boot_preadv,
	.pwritev = boot_pwritev,
	.recv = boot_recv,
	.send = boot_send,
	.recvfrom = boot_recvfrom,
	.sendto = boot_sendto,
	.recvmsg = boot_recvmsg,
	.sendmsg = boot_sendmsg,
};

#define NEXT(name) do {						\
	void *sym = dlsym(RTLD_NEXT, #name);			\
	if (sym)						\
		__atomic_store_n((void **)&zio_next.name, sym,	\
				 __ATOMIC_RELEASE);		\
	else							\
		missing = #name;				\
} while (0)

/*
 * Resolve the next allocator and libc's copies. Re-entry (dlsym calling
 * malloc) and concurrent callers return at once and use the static buffer.
 */
static void resolve(void)
{
	const char *missing = NULL;

	if (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE) ||
	    __atomic_exchange_n(&resolving, 1, __ATOMIC_ACQ_REL))
		return;
	NEXT(memcpy);
	NEXT(memmove);
	NEXT(malloc);
	NEXT(calloc);
	NEXT(realloc);
	NEXT(free);
	NEXT(posix_memalign);
	NEXT(aligned_alloc);
	NEXT(memalign);
	NEXT(malloc_usable_size);
	NEXT(read);
	NEXT(write);
	NEXT(pread);
	NEXT(pwrite);
	NEXT(readv);
	NEXT(writev);
	NEXT(preadv);
	NEXT(pwritev);
	NEXT(recv);
	NEXT(send);
	NEXT(recvfrom);
	NEXT(sendto);
	NEXT(recvmsg);
	NEXT(sendmsg);
	if (missing) {
		static const char msg[] = "libzio: dlsym(RTLD_NEXT) found no allocator or libc\n";

		syscall(SYS_write, STDERR_FILENO, msg, sizeof(msg) - 1);
		_exit(127);
	}
	__atomic_store_n(&resolved, 1, __ATOMIC_RELEASE);
}

/* The malloc family. */

ZIO_EXPORT void *malloc(size_t size)
{
	void *p;

	if (unlikely(size >= zio_alloc_min)) {
		p = zio_arena_alloc(size, 0, false);
		if (p)
			return p;
	}
	return zio_next.malloc(size);
}

ZIO_EXPORT void free(void *ptr)
{
	if (unlikely(zio_in_arena(ptr, 1))) {
		zio_arena_free(ptr);
		return;
	}
	if (unlikely(is_boot(ptr)))
		return;
	zio_next.free(ptr);
}

ZIO_EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (unlikely(__builtin_mul_overflow(n, size, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	if (unlikely(total >= zio_alloc_min)) {
		p = zio_arena_alloc(total, 0, true);
		if (p)
			return p;
	}
	return zio_next.calloc(n, size);
}

static size_t usable(void *ptr)
{
	if (zio_in_arena(ptr, 1))
		return zio_arena_usable(ptr);
	if (is_boot(ptr))
		return boot_size(ptr);
	return zio_next.malloc_usable_size(ptr);
}

/* Move @ptr to a new block of @size bytes: malloc, copy, free. */
static void *realloc_move(void *ptr, size_t size)
{
	size_t old = usable(ptr);
	void *p = malloc(size);

	if (!p)
		return NULL;
	zio_move(p, ptr, old < size ? old : size, 0, false);
	free(ptr);
	return p;
}

ZIO_EXPORT void *realloc(void *ptr, size_t size)
{
	void *p;

	if (!ptr)
		return malloc(size);
	if (likely(!zio_in_arena(ptr, 1) && !is_boot(ptr))) {
		/* Growing into the arena's range: move there. */
		if (unlikely(size >= zio_alloc_min)) {
			p = zio_arena_alloc(size, 0, false);
			if (p) {
				size_t old = zio_next.malloc_usable_size(ptr);

				zio_next.memcpy(p, ptr, old < size ? old : size);
				zio_next.free(ptr);
				return p;
			}
		}
		return zio_next.realloc(ptr, size);
	}
	if (!size) {
		free(ptr);
		return NULL;
	}
	if (zio_in_arena(ptr, 1) && size >= zio_alloc_min) {
		p = zio_arena_realloc(ptr, size);
		if (p)
			return p;
	}
	return realloc_move(ptr, size);
}

ZIO_EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(ptr, total);
}

static bool bad_align(size_t align)
{
	return !align || (align & (align - 1));
}

ZIO_EXPORT int posix_memalign(void **ptr, size_t align, size_t size)
{
	void *p;

	if (bad_align(align) || align % sizeof(void *))
		return EINVAL;
	if (unlikely(size >= zio_alloc_min)) {
		p = zio_arena_alloc(size, align, false);
		if (p) {
			*ptr = p;
			return 0;
		}
	}
	return zio_next.posix_memalign(ptr, align, size);
}

ZIO_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (unlikely(size >= zio_alloc_min) && !bad_align(align)) {
		p = zio_arena_alloc(size, align, false);
		if (p)
			return p;
	}
	return zio_next.aligned_alloc(align, size);
}

ZIO_EXPORT void *memalign(size_t align, size_t size)
{
	void *p;

	if (unlikely(size >= zio_alloc_min) && !bad_align(align)) {
		p = zio_arena_alloc(size, align, false);
		if (p)
			return p;
	}
	return zio_next.memalign(align, size);
}

ZIO_EXPORT void *valloc(size_t size)
{
	return memalign(sysconf(_SC_PAGESIZE), size);
}

ZIO_EXPORT void *pvalloc(size_t size)
{
	size_t page = sysconf(_SC_PAGESIZE);

	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return memalign(page, (size + page - 1) & ~(page - 1));
}

ZIO_EXPORT size_t malloc_usable_size(void *ptr)
{
	return ptr ? usable(ptr) : 0;
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
	resolve();
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

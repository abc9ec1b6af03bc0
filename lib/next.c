// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The functions that come after libzio's: the next allocator and libc's
 * copies and I/O calls, in zio_next.
 *
 * Bootstrap: the function pointers start out at boot_*() functions that
 * resolve the next symbols with dlsym(RTLD_NEXT). dlsym() may itself call
 * malloc() or calloc(): while resolving, those are served from a small
 * static buffer, whose blocks free() ignores (zio_boot_owns()).
 */
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Bootstrap allocations: a header of BOOT_HDR bytes holds the size. */
#define BOOT_SIZE	ZIO_BOOT_SIZE
#define BOOT_HDR	ZIO_BOOT_HDR

char zio_boot_buf[BOOT_SIZE] __attribute__((aligned(64)));
static size_t boot_used;
static int resolving, resolved;

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
	*(size_t *)(zio_boot_buf + start - BOOT_HDR) = size;
	/* Static memory is zero and never reused: good for calloc too. */
	return zio_boot_buf + start;
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

static void *boot_malloc(size_t size)
{
	zio_next_resolve();
	return resolved ? zio_next.malloc(size) : boot_alloc(size, 0);
}

static void *boot_calloc(size_t n, size_t size)
{
	size_t total;

	zio_next_resolve();
	if (resolved)
		return zio_next.calloc(n, size);
	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	return boot_alloc(total, 0);
}

static void *boot_realloc(void *ptr, size_t size)
{
	zio_next_resolve();
	return resolved ? zio_next.realloc(ptr, size) : NULL;
}

static void boot_free(void *ptr)
{
	zio_next_resolve();
	if (resolved)
		zio_next.free(ptr);
}

static int boot_posix_memalign(void **ptr, size_t align, size_t size)
{
	zio_next_resolve();
	if (resolved)
		return zio_next.posix_memalign(ptr, align, size);
	*ptr = boot_alloc(size, align);
	return *ptr ? 0 : ENOMEM;
}

static void *boot_aligned_alloc(size_t align, size_t size)
{
	zio_next_resolve();
	return resolved ? zio_next.aligned_alloc(align, size) : boot_alloc(size, align);
}

static void *boot_memalign(size_t align, size_t size)
{
	zio_next_resolve();
	return resolved ? zio_next.memalign(align, size) : boot_alloc(size, align);
}

static size_t boot_malloc_usable_size(void *ptr)
{
	zio_next_resolve();
	return resolved ? zio_next.malloc_usable_size(ptr) : 0;
}

static void *boot_memcpy(void *dst, const void *src, size_t n)
{
	zio_next_resolve();
	return resolved ? zio_next.memcpy(dst, src, n) : boot_copy(dst, src, n);
}

static void *boot_memmove(void *dst, const void *src, size_t n)
{
	zio_next_resolve();
	return resolved ? zio_next.memmove(dst, src, n) : boot_copy(dst, src, n);
}

/*
 * The I/O calls before resolve(): the system calls themselves (send and
 * recv are sendto and recvfrom without an address).
 */
#define BOOT_IO(name, params, args, sysargs)			\
static ssize_t boot_##name params				\
{								\
	zio_next_resolve();					\
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

/**
 * zio_next_resolve() - resolve the next allocator and libc's functions
 *
 * Re-entry (dlsym calling malloc) and concurrent callers return at once
 * and use the static buffer.
 */
void zio_next_resolve(void)
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

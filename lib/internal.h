/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libzio internals, shared by the library's source files only.
 *
 * Locking: zio_arena.lock (the page allocator) and zio_policy_lock (the
 * evaluation of copy records) are never held together, never held across
 * a call to the next allocator, and both are taken by the pthread_atfork()
 * handlers in that order. memcpy() never takes zio_arena.lock and only
 * ever try-locks zio_policy_lock, so a large copy from a signal handler
 * cannot deadlock.
 */
#ifndef ZIO_INTERNAL_H
#define ZIO_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "libzio.h"

#define ZIO_EXPORT	__attribute__((visibility("default")))
#define ZIO_HIDDEN	__attribute__((visibility("hidden")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* The allocator and libc functions that come after libzio. */
struct zio_next {
	void *(*malloc)(size_t size);
	void *(*calloc)(size_t n, size_t size);
	void *(*realloc)(void *ptr, size_t size);
	void (*free)(void *ptr);
	int (*posix_memalign)(void **ptr, size_t align, size_t size);
	void *(*aligned_alloc)(size_t align, size_t size);
	void *(*memalign)(size_t align, size_t size);
	size_t (*malloc_usable_size)(void *ptr);
	void *(*memcpy)(void *dst, const void *src, size_t n);
	void *(*memmove)(void *dst, const void *src, size_t n);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t offset);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t offset);
	ssize_t (*readv)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*writev)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*preadv)(int fd, const struct iovec *iov, int cnt, off_t offset);
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int cnt, off_t offset);
	ssize_t (*recv)(int fd, void *buf, size_t n, int flags);
	ssize_t (*send)(int fd, const void *buf, size_t n, int flags);
	ssize_t (*recvfrom)(int fd, void *buf, size_t n, int flags,
			    struct sockaddr *from, socklen_t *fromlen);
	ssize_t (*sendto)(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *to, socklen_t tolen);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
};

extern struct zio_next zio_next ZIO_HIDDEN;

/* The recycling of freed blocks (see struct zio_arena). */
#define ZIO_CACHE_BLOCKS	64
#define ZIO_CACHE_BYTES		(64UL << 20)	/* in all */
#define ZIO_CACHE_BLOCK_MAX	(8UL << 20)	/* one block */
#define ZIO_STASH_PAGES		16
/* The module's runs: aligned chunks of this many slots (design.rst). */
#define ZIO_RUN_PAGES		64

/*
 * The one arena: a MAP_SHARED mapping of /dev/zio, carved into page-aligned
 * blocks. Its metadata (bitmap of used pages, block lengths) lives in
 * anonymous memory outside the arena. base/len are 0 until the arena is up,
 * and never change afterwards, so ownership tests need no lock.
 */
struct zio_arena {
	uintptr_t base;
	size_t len;
	size_t page_size;
	unsigned int page_shift;
	size_t npages;
	int fd;
	size_t copy_threshold;	/* the module's advice (struct zio_info) */
	bool copy_ok;		/* ZIO_IOC_COPY usable */
	bool stats_ok;		/* ZIO_IOC_STATS with records usable */
	bool io_ok;		/* ZIO_IOC_WRITE and ZIO_IOC_READ usable */
	bool io_socket_ok;	/* ZIO_IO_SOCKET understood */
	bool zero_free;		/* every free page reads as zero */
	pthread_mutex_t lock;	/* protects used ... cached_pages */
	uint64_t *used;		/* bit per page: allocated */
	uint32_t *blocks;	/* at a block's first page: its length in pages */
	/*
	 * Per page: what the library left in its slot that a write or read
	 * would have to work around, zio_arena_mark(); ZIO_MARK_LANES pages
	 * to a word. Read and written without the lock: a stale mark costs
	 * speed only, never data.
	 */
	uint64_t *marks;
	size_t marked_words;	/* words of marks not 0: none, no page to look at */
	size_t hint;		/* no free page below this word of used[] */
	size_t pages_used;
	/*
	 * Freed blocks kept as they are (mapped, not discarded) for the next
	 * malloc of about their size, oldest first: what glibc's heap does
	 * for its free chunks, without faulting every page in again.
	 */
	size_t cached[ZIO_CACHE_BLOCKS];
	unsigned int nr_cached;
	size_t cached_pages;
	/*
	 * The small block (ZIO_STASH_PAGES at most) freed last, its first
	 * page + 1, or 0: kept like the cache's, but taken and given back
	 * without the lock, as glibc's tcache does for a malloc() and free()
	 * of one size in a loop. Atomic.
	 */
	size_t stash;
	/*
	 * Called before freed blocks are discarded, which drops their copy
	 * records: zio_policy_before_free(), set once the arena is up.
	 */
	void (*before_discard)(void);
};

extern struct zio_arena zio_arena ZIO_HIDDEN;

/* state.c: the settings (environment, read once at start-up)... */
struct zio_settings {
	size_t threshold;	/* 0: not set, the module's copy_threshold */
	bool disable;
	bool stats;
	bool debug;
	bool policy;
	bool io;
};

extern struct zio_settings zio_settings ZIO_HIDDEN;

/*
 * Smallest size that the allocator serves from the arena and that
 * memcpy() sends to the module; SIZE_MAX while disabled.
 */
extern size_t zio_alloc_min ZIO_HIDDEN;
extern size_t zio_copy_min ZIO_HIDDEN;
/* Smallest arena buffer that read(), write()... hand to the module. */
extern size_t zio_io_min ZIO_HIDDEN;

/* Counters of the library, for zio_lib_stats() and ZIO_STATS=1. */
struct zio_counts {
	unsigned long arena_allocs;
	unsigned long arena_frees;
	unsigned long arena_fallbacks;
	unsigned long arena_recycled;
	unsigned long realloc_in_place;
	unsigned long realloc_moved;
	unsigned long copies_module;
	unsigned long copies_short;
	unsigned long copies_failed;
	unsigned long copies_policy;
	unsigned long bytes_deferred;
	unsigned long bytes_kernel;
	unsigned long discards_failed;
	unsigned long evaluations;
	unsigned long io_writes;
	unsigned long io_reads;
	unsigned long io_bytes_written;
	unsigned long io_bytes_read;
	unsigned long io_fallbacks;
};

extern struct zio_counts zio_counts ZIO_HIDDEN;

#define zio_count(field, n) __atomic_fetch_add(&zio_counts.field, (n), __ATOMIC_RELAXED)

static inline bool zio_in_arena(const void *p, size_t n)
{
	uintptr_t off = (uintptr_t)p - zio_arena.base;

	return off < zio_arena.len && n <= zio_arena.len - off;
}

/* next.c: the bootstrap buffer, for dlsym()'s allocations while resolving. */
#define ZIO_BOOT_SIZE	(64 << 10)
#define ZIO_BOOT_HDR	16		/* holds the block's size */

extern char zio_boot_buf[ZIO_BOOT_SIZE] ZIO_HIDDEN;

static inline bool zio_boot_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)zio_boot_buf < ZIO_BOOT_SIZE;
}

static inline size_t zio_boot_size(const void *p)
{
	return *(const size_t *)((const char *)p - ZIO_BOOT_HDR);
}

void zio_next_resolve(void) ZIO_HIDDEN;

/* log.c */
void zio_vsay(const char *fmt, va_list ap) ZIO_HIDDEN __attribute__((format(printf, 1, 0)));
void zio_debug(const char *fmt, ...) ZIO_HIDDEN __attribute__((format(printf, 1, 2)));
void zio_say(const char *fmt, ...) ZIO_HIDDEN __attribute__((format(printf, 1, 2)));

/* device.c */
int zio_dev_open(void) ZIO_HIDDEN;
int zio_dev_info(int fd, struct zio_info *info) ZIO_HIDDEN;
int zio_dev_copy(int fd, struct zio_copy *c) ZIO_HIDDEN;
int zio_dev_discard(int fd, uintptr_t addr, size_t len) ZIO_HIDDEN;
int zio_dev_stats(int fd, struct zio_stats *st) ZIO_HIDDEN;
int zio_dev_io(int fd, bool write, struct zio_io *io) ZIO_HIDDEN;

/* arena.c */
void zio_arena_init(void) ZIO_HIDDEN;
void *zio_arena_alloc(size_t size, size_t align, bool zero) ZIO_HIDDEN;
void zio_arena_free(void *ptr, bool keep) ZIO_HIDDEN;
bool zio_arena_resize(void *ptr, size_t size, size_t *old) ZIO_HIDDEN;
size_t zio_arena_usable(const void *ptr) ZIO_HIDDEN;
int zio_module_stats(struct zio_stats *st) ZIO_HIDDEN;

/*
 * Page marks: a page that a module copy left shared or pending holds
 * ZIO_MARK_DEST (it is the copy's destination), or for its source, the
 * copying call site's zio_policy_site_mark() (ZIO_MARK_SOURCE when the
 * policy knows no site). A discard clears them.
 */
#define ZIO_MARK_LANES	4
#define ZIO_MARK_DEST	UINT16_MAX
#define ZIO_MARK_SOURCE	(UINT16_MAX - 1)
void zio_arena_mark(uintptr_t addr, size_t len, uint16_t mark) ZIO_HIDDEN;
bool zio_arena_marked(uintptr_t addr, size_t len) ZIO_HIDDEN;
void zio_arena_unmark(uintptr_t addr, size_t len,
		      void (*fn)(uint16_t mark, size_t pages)) ZIO_HIDDEN;
void zio_arena_atfork_prepare(void) ZIO_HIDDEN;
void zio_arena_atfork_release(void) ZIO_HIDDEN;

/* policy.c */

/*
 * The site this thread last found switched off, and how many more of its
 * calls go to libc before zio_policy_allow() is asked again (left, of
 * ahead): the thread's next zio_policy_allow() counts the calls that did
 * in the site's calls, so that its probes come on schedule, and in
 * copies_policy; so does the thread's exit (a pthread key's destructor,
 * registered at its first hint). A site switched on again meanwhile keeps
 * its next few calls in libc, at most ZIO_HINT_CALLS. The memcpy() family
 * looks at the hint first, before the arena and anything else: the calls
 * of a site switched off cost a compare and a decrement.
 */
struct zio_policy_hint {
	uintptr_t tag;
	unsigned int left;
	unsigned int ahead;
	bool registered;	/* the thread's exit counts its calls */
};

extern __thread struct zio_policy_hint zio_policy_hint
	__attribute__((tls_model("initial-exec"))) ZIO_HIDDEN;

/* Does @tag's call go to libc without asking zio_policy_allow()? */
static inline bool zio_policy_hinted_off(uintptr_t tag)
{
	struct zio_policy_hint *h = &zio_policy_hint;
	unsigned int left = h->left;

	/* One load of left: a signal handler's copy may run in between. */
	if (h->tag != tag || !left)
		return false;
	h->left = left - 1;
	return true;
}

void zio_policy_init(void) ZIO_HIDDEN;
bool zio_policy_allow(uintptr_t tag, uintptr_t dst, size_t n) ZIO_HIDDEN;
uint16_t zio_policy_site_mark(uintptr_t tag) ZIO_HIDDEN;
void zio_policy_overwritten(uint16_t mark, size_t pages) ZIO_HIDDEN;
void zio_policy_copied(uintptr_t tag) ZIO_HIDDEN;
void zio_policy_before_free(void) ZIO_HIDDEN;
void zio_policy_sites(unsigned int *sites, unsigned int *disabled) ZIO_HIDDEN;
unsigned int zio_policy_hinted_calls(void) ZIO_HIDDEN;
void zio_policy_atfork_prepare(void) ZIO_HIDDEN;
void zio_policy_atfork_release(void) ZIO_HIDDEN;

/* copy.c */
void zio_split_copy(uintptr_t d, uintptr_t s, size_t n, uintptr_t tag) ZIO_HIDDEN;
void *zio_move(void *dst, const void *src, size_t n, uintptr_t tag, bool policy) ZIO_HIDDEN;

/* alloc.c: the malloc family; zio_dealloc() is free() (and zio_free()). */
void *zio_malloc(size_t size) ZIO_HIDDEN;
void zio_dealloc(void *ptr) ZIO_HIDDEN;
void *zio_calloc(size_t n, size_t size) ZIO_HIDDEN;
void *zio_realloc(void *ptr, size_t size) ZIO_HIDDEN;
void *zio_reallocarray(void *ptr, size_t n, size_t size) ZIO_HIDDEN;
int zio_posix_memalign(void **ptr, size_t align, size_t size) ZIO_HIDDEN;
void *zio_aligned_alloc(size_t align, size_t size) ZIO_HIDDEN;
void *zio_memalign(size_t align, size_t size) ZIO_HIDDEN;
void *zio_valloc(size_t size) ZIO_HIDDEN;
void *zio_pvalloc(size_t size) ZIO_HIDDEN;
size_t zio_usable_size(void *ptr) ZIO_HIDDEN;

/* io.c: the I/O calls behind read(), write()... */
ssize_t zio_write(int fd, const void *buf, size_t n) ZIO_HIDDEN;
ssize_t zio_read(int fd, void *buf, size_t n) ZIO_HIDDEN;
ssize_t zio_pwrite(int fd, const void *buf, size_t n, off_t offset) ZIO_HIDDEN;
ssize_t zio_pread(int fd, void *buf, size_t n, off_t offset) ZIO_HIDDEN;
ssize_t zio_send(int fd, const void *buf, size_t n, int flags) ZIO_HIDDEN;
ssize_t zio_recv(int fd, void *buf, size_t n, int flags) ZIO_HIDDEN;
ssize_t zio_sendto(int fd, const void *buf, size_t n, int flags,
		   const struct sockaddr *to, socklen_t tolen) ZIO_HIDDEN;
ssize_t zio_recvfrom(int fd, void *buf, size_t n, int flags,
		     struct sockaddr *from, socklen_t *fromlen) ZIO_HIDDEN;
ssize_t zio_writev(int fd, const struct iovec *iov, int cnt) ZIO_HIDDEN;
ssize_t zio_readv(int fd, const struct iovec *iov, int cnt) ZIO_HIDDEN;
ssize_t zio_pwritev(int fd, const struct iovec *iov, int cnt, off_t offset) ZIO_HIDDEN;
ssize_t zio_preadv(int fd, const struct iovec *iov, int cnt, off_t offset) ZIO_HIDDEN;
ssize_t zio_sendmsg(int fd, const struct msghdr *msg, int flags) ZIO_HIDDEN;
ssize_t zio_recvmsg(int fd, struct msghdr *msg, int flags) ZIO_HIDDEN;

/* stats.c */
void zio_stats_report(void) ZIO_HIDDEN;

#endif /* ZIO_INTERNAL_H */

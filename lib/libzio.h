/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libzio: the explicit API, for programs that use zio without LD_PRELOAD.
 */
#ifndef LIBZIO_H
#define LIBZIO_H

#include <stddef.h>
#include <linux/zio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ask the module what it offers. Returns 0, or -errno (-ENOENT: not loaded). */
int zio_get_info(struct zio_info *info);

/*
 * The explicit API. A program linked with -lzio (pkg-config --libs zio)
 * gets the same interposed allocator and copies as with LD_PRELOAD, and
 * can in addition ask for arena buffers and module copies directly.
 */

/*
 * A page-aligned buffer of at least @size bytes, from the zio arena when
 * there is one (then its pages read as zero), else from the next allocator
 * (contents undefined). NULL with errno ENOMEM when neither has memory.
 * Free it with zio_free() or free().
 */
void *zio_alloc(size_t size);

/* Release a buffer of zio_alloc(), malloc()... NULL is a no-op. */
void zio_free(void *ptr);

/*
 * memmove(@dst, @src, @len), whatever the size: the whole destination
 * pages go to the module when both ranges lie in the arena, the rest (and
 * everything on any failure) is copied by libc. Returns @dst.
 */
void *zio_copy(void *dst, const void *src, size_t len);

/* Nonzero when @ptr points into the zio arena of this process. */
int zio_owns(const void *ptr);

/**
 * struct zio_lib_stats - what libzio did in this process
 * @arena_bytes: size of the arena mapping (0: no arena, passthrough)
 * @arena_used: bytes of arena blocks allocated now (not counting freed
 *	blocks kept for reuse)
 * @arena_allocs: buffers served from the arena
 * @arena_frees: arena buffers freed (their pages discarded, or kept for reuse)
 * @arena_fallbacks: large requests the arena could not serve (next allocator)
 * @arena_recycled: of @arena_allocs, blocks made of blocks freed before,
 *	reused without a discard (whole, cut from a larger one, or grown
 *	over those that follow)
 * @realloc_in_place: arena reallocs that grew or shrank in place
 * @realloc_moved: arena reallocs that moved pages with ZIO_IOC_COPY
 * @copies_module: copies sent to the module
 * @copies_short: of those, copies the module did only in part
 * @copies_failed: copies the module refused (done by libc)
 * @copies_policy: large arena copies done by libc because the policy said so,
 *	or because their ranges overlap; and every large copy of a call site
 *	switched off, in the arena or not (a thread's last ones, 64 at most,
 *	count at its next call to the policy, or when it exits, unless it
 *	is the main thread: exit() runs no thread-specific destructor)
 * @bytes_deferred: bytes the module shared or made pending
 * @bytes_kernel: bytes the module copied itself
 * @discards_failed: discards the module refused
 * @sites: copy call sites seen
 * @sites_disabled: of those, sites the policy switched to plain memcpy
 * @io_writes: write(), send()... calls the module did (ZIO_IOC_WRITE)
 * @io_reads: read(), recv()... calls the module did (ZIO_IOC_READ)
 * @io_bytes_written: bytes of those writes
 * @io_bytes_read: bytes of those reads
 * @io_fallbacks: arena I/O the module did not take (done by libc)
 * @module_ok: 1 when @module holds this process's module counters
 * @module: the module's counters for this process (ZIO_IOC_STATS)
 */
struct zio_lib_stats {
	unsigned long long arena_bytes;
	unsigned long long arena_used;
	unsigned long long arena_allocs;
	unsigned long long arena_frees;
	unsigned long long arena_fallbacks;
	unsigned long long arena_recycled;
	unsigned long long realloc_in_place;
	unsigned long long realloc_moved;
	unsigned long long copies_module;
	unsigned long long copies_short;
	unsigned long long copies_failed;
	unsigned long long copies_policy;
	unsigned long long bytes_deferred;
	unsigned long long bytes_kernel;
	unsigned long long discards_failed;
	unsigned long long sites;
	unsigned long long sites_disabled;
	unsigned long long io_writes;
	unsigned long long io_reads;
	unsigned long long io_bytes_written;
	unsigned long long io_bytes_read;
	unsigned long long io_fallbacks;
	unsigned long long module_ok;
	struct zio_counters module;
};

/* Fill @st. Returns 0 (the library's counters are always there). */
int zio_lib_stats(struct zio_lib_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* LIBZIO_H */

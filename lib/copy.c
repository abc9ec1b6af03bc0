// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The copy engine: memmove() with the whole destination pages inside the
 * arena done by the module (ZIO_IOC_COPY), the rest by libc.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/*
 * Copy @len bytes with the module, @dst and @src in the arena. Returns what
 * the module did, from the start of the range when @dst <= @src, from its
 * end otherwise; 0 when it refused.
 */
static size_t module_copy(uintptr_t dst, uintptr_t src, size_t len, uintptr_t tag)
{
	struct zio_copy c = { .dst = dst, .src = src, .len = len, .tag = tag };
	size_t done;
	int ret = zio_dev_copy(zio_arena.fd, &c);

	if (ret) {
		int err = -ret;

		zio_count(copies_failed, 1);
		zio_debug("ZIO_IOC_COPY %#lx <- %#lx +%zu: %s", (unsigned long)dst,
			  (unsigned long)src, len, strerror(err));
		if (err == EBADF || err == ENOTTY || err == EOPNOTSUPP) {
			/*
			 * The fd is gone (closed by the program), or the
			 * administrator turned copies off: stop trying.
			 */
			__atomic_store_n(&zio_copy_min, SIZE_MAX, __ATOMIC_RELAXED);
			__atomic_store_n(&zio_arena.copy_ok, false, __ATOMIC_RELAXED);
		}
		return 0;
	}
	done = c.bytes_deferred + c.bytes_copied;
	if (done > len)
		done = len;
	if (c.bytes_deferred) {
		/* Both ranges may now hold shared or pending pages. */
		zio_arena_mark(dst, len, ZIO_MARK_DEST);
		zio_arena_mark(src, len, zio_policy_site_mark(tag));
	}
	zio_count(copies_module, 1);
	zio_count(bytes_deferred, c.bytes_deferred);
	zio_count(bytes_kernel, c.bytes_copied);
	if (done < len)
		zio_count(copies_short, 1);
	zio_policy_copied(tag);
	return done;
}

/*
 * memmove() with the whole destination pages of [dst, dst + n) done by the
 * module. Forward (dst < src): head, pages, rest; backward: tail, pages,
 * rest. Each part only writes bytes that no later part reads, so overlap
 * is safe. The module itself works backward only when its ranges overlap
 * and dst > src: a short module copy leaves the tail of the pages
 * (forward) or their head (backward), which memmove() then completes.
 */
void zio_split_copy(uintptr_t d, uintptr_t s, size_t n, uintptr_t tag)
{
	size_t page = zio_arena.page_size;
	size_t head = ((d + page - 1) & ~(page - 1)) - d, mid, tail, done;

	if (head > n)
		head = n;
	mid = (n - head) & ~(page - 1);
	tail = n - head - mid;
	if (!mid) {
		zio_next.memmove((void *)d, (const void *)s, n);
		return;
	}
	if (d < s) {
		zio_next.memmove((void *)d, (const void *)s, head);
		done = module_copy(d + head, s + head, mid, tag);
		zio_next.memmove((void *)(d + head + done), (const void *)(s + head + done),
				 mid - done + tail);
	} else {
		zio_next.memmove((void *)(d + head + mid), (const void *)(s + head + mid), tail);
		done = module_copy(d + head, s + head, mid, tag);
		if (d - s < mid) {
			/* Overlapping pages: the module went backward. */
			zio_next.memmove((void *)d, (const void *)s, head + mid - done);
		} else {
			/* Apart: forward; none of this overlaps the head's source. */
			zio_next.memmove((void *)(d + head + done), (const void *)(s + head + done),
					 mid - done);
			zio_next.memmove((void *)d, (const void *)s, head);
		}
	}
}

/**
 * zio_move() - memmove() that sends whole pages to the module when it can
 * @dst: destination
 * @src: source
 * @n: bytes
 * @tag: the call site, for the module's copy records and the policy
 * @policy: ask the policy whether @tag's copies still go to the module
 *	(and keep moves whose ranges overlap for libc); the caller has
 *	found no hint for @tag first, zio_policy_hinted_off()
 *
 * Return: @dst.
 */
void *zio_move(void *dst, const void *src, size_t n, uintptr_t tag, bool policy)
{
	if (!zio_in_arena(dst, n) || !zio_in_arena(src, n) || dst == src ||
	    !__atomic_load_n(&zio_arena.copy_ok, __ATOMIC_RELAXED))
		return zio_next.memmove(dst, src, n);
	/*
	 * A move whose ranges overlap (Redis's sdsrange() shifting a
	 * request's value to the front) leaves each destination page pending
	 * on two pages that the move itself replaced, in a buffer its owner
	 * goes on writing: such a copy is done right away, as are the
	 * copies of a site the policy switched off.
	 */
	if (policy && ((uintptr_t)dst - (uintptr_t)src < n ||
		       (uintptr_t)src - (uintptr_t)dst < n ||
		       !zio_policy_allow(tag, (uintptr_t)dst, n))) {
		zio_count(copies_policy, 1);
		return zio_next.memmove(dst, src, n);
	}
	zio_split_copy((uintptr_t)dst, (uintptr_t)src, n, tag);
	return dst;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The allocator: the malloc family as named functions (zio_malloc(),
 * zio_dealloc() for free()...), which preload.c's interposed malloc(),
 * free()... forward to. Requests of zio_alloc_min
 * bytes or more come from the arena when it has room; everything else,
 * and every fallback, goes to the next allocator through one compare and
 * one indirect call. Until the constructor has run (and for ever with
 * ZIO_DISABLE=1) zio_alloc_min is SIZE_MAX, so nothing else is done.
 */
#include <errno.h>
#include <unistd.h>

#include "internal.h"

/* A tag no return address has: the records of realloc() moves. */
#define ZIO_TAG_REALLOC	1

void *zio_malloc(size_t size)
{
	void *p;

	if (unlikely(size >= zio_alloc_min)) {
		p = zio_arena_alloc(size, 0, false);
		if (p)
			return p;
	}
	return zio_next.malloc(size);
}

/* free(); also the explicit API's zio_free(), an alias below. */
void zio_dealloc(void *ptr)
{
	if (unlikely(zio_in_arena(ptr, 1))) {
		zio_arena_free(ptr, true);
		return;
	}
	if (unlikely(zio_boot_owns(ptr)))
		return;
	zio_next.free(ptr);
}

/* Not a call through the PLT: the same code as zio_dealloc(). */
ZIO_EXPORT void zio_free(void *ptr) __attribute__((alias("zio_dealloc")));

void *zio_calloc(size_t n, size_t size)
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

size_t zio_usable_size(void *ptr)
{
	if (!ptr)
		return 0;
	if (zio_in_arena(ptr, 1))
		return zio_arena_usable(ptr);
	if (zio_boot_owns(ptr))
		return zio_boot_size(ptr);
	return zio_next.malloc_usable_size(ptr);
}

/*
 * Resize the arena block @ptr: in place, else into a new arena block with
 * the module's copy. NULL when the arena has no block for it (or @ptr is
 * no block), @ptr untouched.
 */
static void *arena_realloc(void *ptr, size_t size)
{
	bool shared;
	size_t old;
	void *p;

	if (zio_arena_resize(ptr, size, &old))
		return ptr;
	if (!old)
		return NULL;
	p = zio_arena_alloc(size, 0, false);
	if (!p)
		return NULL;
	shared = __atomic_load_n(&zio_arena.copy_ok, __ATOMIC_RELAXED);
	if (shared)
		zio_split_copy((uintptr_t)p, (uintptr_t)ptr, old, ZIO_TAG_REALLOC);
	else
		zio_next.memcpy(p, ptr, old);
	/*
	 * The old block's pages are shared with the new one: kept, both
	 * would copy them on their next writes. Its discard leaves them to
	 * the new block alone.
	 */
	zio_arena_free(ptr, !shared);
	zio_count(realloc_moved, 1);
	return p;
}

/* Move @ptr to a new block of @size bytes: malloc, copy, free. */
static void *realloc_move(void *ptr, size_t size)
{
	size_t old = zio_usable_size(ptr);
	void *p = zio_malloc(size);

	if (!p)
		return NULL;
	zio_move(p, ptr, old < size ? old : size, 0, false);
	zio_dealloc(ptr);
	return p;
}

void *zio_realloc(void *ptr, size_t size)
{
	void *p;

	if (!ptr)
		return zio_malloc(size);
	if (likely(!zio_in_arena(ptr, 1) && !zio_boot_owns(ptr))) {
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
		zio_dealloc(ptr);
		return NULL;
	}
	if (zio_in_arena(ptr, 1) && size >= zio_alloc_min) {
		p = arena_realloc(ptr, size);
		if (p)
			return p;
	}
	return realloc_move(ptr, size);
}

void *zio_reallocarray(void *ptr, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return zio_realloc(ptr, total);
}

static bool bad_align(size_t align)
{
	return !align || (align & (align - 1));
}

int zio_posix_memalign(void **ptr, size_t align, size_t size)
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

void *zio_aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (unlikely(size >= zio_alloc_min) && !bad_align(align)) {
		p = zio_arena_alloc(size, align, false);
		if (p)
			return p;
	}
	return zio_next.aligned_alloc(align, size);
}

void *zio_memalign(size_t align, size_t size)
{
	void *p;

	if (unlikely(size >= zio_alloc_min) && !bad_align(align)) {
		p = zio_arena_alloc(size, align, false);
		if (p)
			return p;
	}
	return zio_next.memalign(align, size);
}

void *zio_valloc(size_t size)
{
	return zio_memalign(sysconf(_SC_PAGESIZE), size);
}

void *zio_pvalloc(size_t size)
{
	size_t page = sysconf(_SC_PAGESIZE);

	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return zio_memalign(page, (size + page - 1) & ~(page - 1));
}

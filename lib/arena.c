// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The zio arena: one MAP_SHARED mapping of /dev/zio per process, carved into
 * page-aligned blocks by a first-fit bitmap allocator whose metadata lives
 * in anonymous memory outside the arena, so that a buffer never shares a
 * page with anything but itself.
 *
 * Invariant (while zio_arena.zero_free holds): every page not in a block
 * reads as zero, because fresh pages of the device are zero and a block's
 * pages are discarded before they become free again. calloc() relies on it;
 * a failed discard clears zero_free for good and calloc() memsets again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

struct zio_arena zio_arena = {
	.fd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The smallest arena worth having, and the fd number the device moves to. */
#define ZIO_ARENA_MIN	(64UL << 20)
#define ZIO_FD_MIN	512

static void *meta_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Open the device and map the arena. Any failure leaves the arena empty:
 * the library then passes everything to the next allocator and libc.
 */
void zio_arena_init(void)
{
	struct zio_arena *a = &zio_arena;
	struct zio_info info = { 0 };
	size_t len, chunk, cap, words;
	void *base;
	int fd, hi, ret;

	fd = zio_dev_open();
	if (fd < 0) {
		zio_debug("%s: %s: passthrough", ZIO_DEVICE_PATH, strerror(-fd));
		return;
	}
	ret = zio_dev_info(fd, &info);
	if (ret) {
		zio_debug("ZIO_IOC_INFO: %s: passthrough", strerror(-ret));
		goto out_close;
	}
	if (!(info.features & ZIO_FEATURE_COPY)) {
		zio_debug("the module has no ZIO_FEATURE_COPY (features 0x%llx): passthrough",
			  (unsigned long long)info.features);
		goto out_close;
	}
	if (!info.enabled) {
		zio_debug("copies are turned off in the module: passthrough");
		goto out_close;
	}
	if (info.page_size != (unsigned long)sysconf(_SC_PAGESIZE) ||
	    info.page_size & (info.page_size - 1)) {
		zio_debug("page size %llu unsupported: passthrough",
			  (unsigned long long)info.page_size);
		goto out_close;
	}

	/* Keep clear of the low numbers a program may expect to get. */
	hi = fcntl(fd, F_DUPFD_CLOEXEC, ZIO_FD_MIN);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}

	a->page_size = info.page_size;
	a->page_shift = __builtin_ctzl(a->page_size);
	/*
	 * A whole number of bitmap words (64 pages), and so of words of
	 * marks, whatever the limit and however often the size is halved.
	 */
	chunk = a->page_size << 6;
	cap = (size_t)UINT32_MAX << a->page_shift & ~(chunk - 1);
	len = info.space_limit & ~(chunk - 1);
	if (len > cap)
		len = cap;
	for (base = MAP_FAILED; len >= ZIO_ARENA_MIN; len = len / 2 & ~(chunk - 1)) {
		base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_NORESERVE, fd, 0);
		if (base != MAP_FAILED)
			break;
	}
	if (base == MAP_FAILED) {
		zio_debug("mmap of the arena failed: %s: passthrough", strerror(errno));
		goto out_close;
	}

	a->npages = len >> a->page_shift;
	words = a->npages / 64;
	a->used = meta_alloc(words * sizeof(*a->used));
	a->blocks = meta_alloc(a->npages * sizeof(*a->blocks));
	a->marks = meta_alloc(a->npages / ZIO_MARK_LANES * sizeof(*a->marks));
	if (!a->used || !a->blocks || !a->marks) {
		zio_debug("no memory for the arena's metadata: passthrough");
		if (a->used)
			munmap(a->used, words * sizeof(*a->used));
		if (a->blocks)
			munmap(a->blocks, a->npages * sizeof(*a->blocks));
		if (a->marks)
			munmap(a->marks, a->npages / ZIO_MARK_LANES * sizeof(*a->marks));
		munmap(base, len);
		goto out_close;
	}
	a->fd = fd;
	a->copy_threshold = info.copy_threshold;
	a->copy_ok = true;
	a->stats_ok = !!(info.features & ZIO_FEATURE_STATS);
	a->io_ok = !!(info.features & ZIO_FEATURE_IO);
	a->io_socket_ok = !!(info.features & ZIO_FEATURE_IO_SOCKET);
	a->zero_free = true;
	/* Publish last: zio_in_arena() reads base and len without a lock. */
	a->base = (uintptr_t)base;
	__atomic_store_n(&a->len, len, __ATOMIC_RELEASE);
	zio_debug("arena of %zu MiB at %p, features 0x%llx", len >> 20, base,
		  (unsigned long long)info.features);
	return;

out_close:
	close(fd);
}

/* Bitmap helpers; the caller holds zio_arena.lock. */

static size_t next_bit(size_t i, bool set)
{
	const struct zio_arena *a = &zio_arena;
	size_t w = i / 64, words = a->npages / 64;
	uint64_t bits;

	if (i >= a->npages)
		return a->npages;
	bits = (set ? a->used[w] : ~a->used[w]) & (~0ULL << (i % 64));
	while (!bits) {
		if (++w >= words)
			return a->npages;
		bits = set ? a->used[w] : ~a->used[w];
	}
	return w * 64 + __builtin_ctzll(bits);
}

static void set_bits(size_t i, size_t n, bool set)
{
	uint64_t *used = zio_arena.used;

	while (n) {
		size_t bit = i % 64, k = 64 - bit < n ? 64 - bit : n;
		uint64_t mask = (k == 64 ? ~0ULL : ((1ULL << k) - 1)) << bit;

		if (set)
			used[i / 64] |= mask;
		else
			used[i / 64] &= ~mask;
		i += k;
		n -= k;
	}
}

static size_t find_free(size_t npg, size_t align_pg)
{
	struct zio_arena *a = &zio_arena;
	size_t i = a->hint * 64;

	while (i < a->npages) {
		size_t start = next_bit(i, false), end, at;

		if (start >= a->npages)
			break;
		end = next_bit(start, true);
		at = (start + align_pg - 1) & ~(align_pg - 1);
		if (at < end && end - at >= npg)
			return at;
		i = end;
	}
	return SIZE_MAX;
}

static size_t pages_of(size_t size)
{
	size_t pages = (size >> zio_arena.page_shift) +
		       !!(size & (zio_arena.page_size - 1));

	return pages ? pages : 1;
}

struct page_span {
	size_t first, last;	/* none when first > last */
};

/* The arena's pages that [@addr, @addr + @len) touches. */
static struct page_span pages_touched(uintptr_t addr, size_t len)
{
	struct zio_arena *a = &zio_arena;

	if (!len || !zio_in_arena((void *)addr, len))
		return (struct page_span){ 1, 0 };
	return (struct page_span){ (addr - a->base) >> a->page_shift,
				   (addr + len - 1 - a->base) >> a->page_shift };
}

/*
 * Page marks, ZIO_MARK_LANES to a word: page i is lane i % ZIO_MARK_LANES
 * (bits 16 * lane up) of word i / ZIO_MARK_LANES. A word is only ever read
 * and written whole, with atomics; a range that covers some of its lanes
 * changes those by compare-and-swap. A copy of 512 KiB marks 256 pages: a
 * word at a time, with nothing to count but words that become empty or
 * stop being so, that takes a fifth of the instructions that a page at a
 * time did.
 */
#define LANE_ONES	0x0001000100010001ULL	/* 1 in each lane */

/*
 * The lanes of mark word @w that pages [@first, @last] cover; @w is one of
 * the words those pages are in.
 */
static uint64_t lanes_in(size_t w, size_t first, size_t last)
{
	size_t lo = w * ZIO_MARK_LANES, hi = lo + ZIO_MARK_LANES - 1;
	uint64_t mask = ~0ULL;

	if (lo > first && hi < last)
		return mask;
	if (first > lo)
		mask <<= 16 * (first - lo);
	if (last < hi)
		mask &= ~0ULL >> 16 * (hi - last);
	return mask;
}

/* Put @val's lanes @mask into the mark word at @word; returns the word before. */
static inline uint64_t swap_lanes(uint64_t *word, uint64_t mask, uint64_t val)
{
	uint64_t old;

	if (mask == ~0ULL)
		return __atomic_exchange_n(word, val, __ATOMIC_RELAXED);
	old = __atomic_load_n(word, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(word, &old, (old & ~mask) | (val & mask), true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return old;
}

/*
 * Mark lanes @mask of the word at @word with @val's; 1 if it was empty. No
 * lane of @val is 0 (a mark never is), so the word is not empty after.
 */
static inline unsigned int mark_word(uint64_t *word, uint64_t mask, uint64_t val)
{
	if (!((__atomic_load_n(word, __ATOMIC_RELAXED) ^ val) & mask))
		return 0;
	return !swap_lanes(word, mask, val);
}

/**
 * zio_arena_mark() - note what a module copy left in the slots of a range
 * @addr: the range
 * @len: its length; every page it touches is marked
 * @mark: ZIO_MARK_DEST, or the copying site's zio_policy_site_mark()
 */
void zio_arena_mark(uintptr_t addr, size_t len, uint16_t mark)
{
	uint64_t *marks = zio_arena.marks, val = mark * LANE_ONES;
	struct page_span p = pages_touched(addr, len);
	size_t first_w, last_w, added;

	if (p.first > p.last)
		return;
	/* The words at the ends may be partly covered; those between are whole. */
	first_w = p.first / ZIO_MARK_LANES;
	last_w = p.last / ZIO_MARK_LANES;
	added = mark_word(&marks[first_w], lanes_in(first_w, p.first, p.last), val);
	for (size_t w = first_w + 1; w < last_w; w++)
		added += mark_word(&marks[w], ~0ULL, val);
	if (last_w != first_w)
		added += mark_word(&marks[last_w], lanes_in(last_w, p.first, p.last), val);
	if (added)
		__atomic_add_fetch(&zio_arena.marked_words, added, __ATOMIC_RELAXED);
}

/* Is there no mark to look for? Most programs copy nothing through zio. */
static bool no_marks(void)
{
	return !__atomic_load_n(&zio_arena.marked_words, __ATOMIC_RELAXED);
}

/** zio_arena_marked() - does a page of the range carry a mark? */
bool zio_arena_marked(uintptr_t addr, size_t len)
{
	struct page_span p;

	if (no_marks())
		return false;
	p = pages_touched(addr, len);
	if (p.first > p.last)
		return false;
	for (size_t w = p.first / ZIO_MARK_LANES; w <= p.last / ZIO_MARK_LANES; w++)
		if (__atomic_load_n(&zio_arena.marks[w], __ATOMIC_RELAXED) &
		    lanes_in(w, p.first, p.last))
			return true;
	return false;
}

/**
 * zio_arena_unmark() - clear the marks of a range
 * @addr: the range
 * @len: its length; every page it touches is cleared
 * @fn: NULL, or called with each mark cleared and its pages, once for each
 *	run of pages with that mark (unmarked pages between do not end a run)
 */
void zio_arena_unmark(uintptr_t addr, size_t len, void (*fn)(uint16_t mark, size_t pages))
{
	uint64_t *marks = zio_arena.marks;
	size_t emptied = 0, run = 0;
	uint16_t run_mark = 0;
	struct page_span p;

	if (no_marks())
		return;
	p = pages_touched(addr, len);
	if (p.first > p.last)
		return;
	for (size_t w = p.first / ZIO_MARK_LANES; w <= p.last / ZIO_MARK_LANES; w++) {
		uint64_t mask = lanes_in(w, p.first, p.last), old;

		if (!(__atomic_load_n(&marks[w], __ATOMIC_RELAXED) & mask))
			continue;
		old = swap_lanes(&marks[w], mask, 0);
		emptied += old && !(old & ~mask);
		if (!fn)
			continue;
		if (run && mask == ~0ULL && old == run_mark * LANE_ONES) {
			run += ZIO_MARK_LANES;
			continue;
		}
		for (unsigned int lane = 0; lane < ZIO_MARK_LANES; lane++) {
			uint16_t mark = (uint16_t)((old & mask) >> (16 * lane));

			if (!mark)
				continue;
			if (run && mark != run_mark) {
				fn(run_mark, run);
				run = 0;
			}
			run_mark = mark;
			run++;
		}
	}
	if (run)
		fn(run_mark, run);
	if (emptied)
		__atomic_sub_fetch(&zio_arena.marked_words, emptied, __ATOMIC_RELAXED);
}

/* A site's mark: neither none nor one of the two that name no site. */
static bool site_mark(uint16_t mark)
{
	return mark && mark != ZIO_MARK_DEST && mark != ZIO_MARK_SOURCE;
}

/* Source marks of pages [@idx, @idx + @npg) lose their site. */
static void forget_sites(size_t idx, size_t npg)
{
	if (no_marks() || !npg)
		return;
	for (size_t w = idx / ZIO_MARK_LANES; w <= (idx + npg - 1) / ZIO_MARK_LANES; w++) {
		uint64_t mask = lanes_in(w, idx, idx + npg - 1), new;
		uint64_t old = __atomic_load_n(&zio_arena.marks[w], __ATOMIC_RELAXED);

		if (!(old & mask))
			continue;
		/* Only over a site's mark: a page unmarked since stays unmarked. */
		do {
			new = old;
			for (unsigned int lane = 0; lane < ZIO_MARK_LANES; lane++) {
				uint64_t bits = 0xffffULL << (16 * lane);

				if ((mask & bits) && site_mark((uint16_t)(old >> (16 * lane))))
					new = (new & ~bits) | ((uint64_t)ZIO_MARK_SOURCE << (16 * lane));
			}
		} while (new != old &&
			 !__atomic_compare_exchange_n(&zio_arena.marks[w], &old, new, true,
						      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	}
}

static bool discard(uintptr_t addr, size_t len)
{
	int ret = zio_dev_discard(zio_arena.fd, addr, len);

	if (!ret) {
		/* Empty slots: nothing of a copy is left in them. */
		zio_arena_unmark(addr, len, NULL);
		return true;
	}
	zio_debug("ZIO_IOC_DISCARD %#lx+%zu: %s", (unsigned long)addr, len,
		  strerror(-ret));
	zio_count(discards_failed, 1);
	__atomic_store_n(&zio_arena.zero_free, false, __ATOMIC_RELAXED);
	return false;
}

/* Release pages [idx, idx + n) that are already discarded (or dirty). */
static void release_pages(size_t idx, size_t n)
{
	struct zio_arena *a = &zio_arena;

	set_bits(idx, n, false);
	a->pages_used -= n;
	if (idx / 64 < a->hint)
		a->hint = idx / 64;
}

/* Take entry @i out of the cache. Under the lock. */
static void cache_remove(unsigned int i)
{
	struct zio_arena *a = &zio_arena;

	a->cached_pages -= a->blocks[a->cached[i]];
	a->nr_cached--;
	memmove(&a->cached[i], &a->cached[i + 1], (a->nr_cached - i) * sizeof(a->cached[0]));
}

/* The cache entry of the block at @idx, or nr_cached. Under the lock. */
static unsigned int cache_find(size_t idx)
{
	struct zio_arena *a = &zio_arena;
	unsigned int i;

	for (i = 0; i < a->nr_cached; i++) {
		if (a->cached[i] == idx)
			break;
	}
	return i;
}

/*
 * Cut the first @npg pages of the cached block of entry @i off as a block
 * of their own, out of the cache; the rest stays cached, with the entry's
 * age. Under the lock.
 */
static size_t cache_split(unsigned int i, size_t npg)
{
	struct zio_arena *a = &zio_arena;
	size_t idx = a->cached[i], rest = a->blocks[idx] - npg;

	a->blocks[idx] = npg;
	a->blocks[idx + npg] = rest;
	a->cached[i] = idx + npg;
	a->cached_pages -= npg;
	return idx;
}

/* Is page @i in a block? Under the lock. */
static bool page_used(size_t i)
{
	return zio_arena.used[i / 64] >> (i % 64) & 1;
}

/*
 * Can pages [@j, @end) be had: kept blocks, whole, and free pages? Under
 * the lock.
 */
static bool can_absorb(size_t j, size_t end)
{
	struct zio_arena *a = &zio_arena;

	while (j < end) {
		if (a->blocks[j] && cache_find(j) < a->nr_cached)
			j += a->blocks[j];
		else if (!page_used(j))
			j++;
		else
			return false;
	}
	return true;
}

/*
 * Take pages [@j, @end) that can_absorb() allowed, for the block before
 * them: kept blocks leave the cache (the last one split if it goes
 * further), free pages become used. Under the lock.
 */
static void absorb(size_t j, size_t end)
{
	struct zio_arena *a = &zio_arena;

	while (j < end) {
		size_t n;

		if (a->blocks[j]) {
			unsigned int k = cache_find(j);

			n = a->blocks[j];
			if (j + n > end) {
				n = end - j;
				cache_split(k, n);
			} else {
				cache_remove(k);
			}
			a->blocks[j] = 0;
			j += n;
		} else {
			for (n = j + 1; n < end && !page_used(n); n++)
				;
			set_bits(j, n - j, true);
			a->pages_used += n - j;
			j = n;
		}
	}
}

/*
 * Grow the cached block of entry @i to @npg pages over what follows it.
 * Returns the block, out of the cache, or SIZE_MAX when a live block or
 * the arena's end comes first. Under the lock.
 */
static size_t cache_grow(unsigned int i, size_t npg)
{
	struct zio_arena *a = &zio_arena;
	size_t idx = a->cached[i], end = idx + npg;

	if (end > a->npages || !can_absorb(idx + a->blocks[idx], end))
		return SIZE_MAX;
	cache_remove(i);
	absorb(idx + a->blocks[idx], end);
	a->blocks[idx] = npg;
	return idx;
}

/*
 * A cached block for @npg pages at the alignment, taken out of the cache,
 * as jemalloc reuses the pages a free gave back whatever their size: the
 * best fit (at most a quarter more); else the head of the smallest larger
 * one, whose tail stays cached; else one grown over the cached blocks and
 * free pages after it. Its pages are mapped already, but for free pages
 * merged in. Under the lock.
 */
static size_t cache_take(size_t npg, size_t align_pg)
{
	struct zio_arena *a = &zio_arena;
	unsigned int i, best = a->nr_cached, larger = a->nr_cached;
	size_t idx, have;

	for (i = 0; i < a->nr_cached; i++) {
		idx = a->cached[i];
		have = a->blocks[idx];
		if (have < npg || idx & (align_pg - 1))
			continue;
		if (have > npg + npg / 4) {
			if (larger == a->nr_cached || have < a->blocks[a->cached[larger]])
				larger = i;
			continue;
		}
		if (best == a->nr_cached || have < a->blocks[a->cached[best]])
			best = i;
	}
	if (best < a->nr_cached) {
		idx = a->cached[best];
		cache_remove(best);
		return idx;
	}
	if (larger < a->nr_cached)
		return cache_split(larger, npg);
	for (i = 0; i < a->nr_cached; i++) {
		if (a->cached[i] & (align_pg - 1))
			continue;
		idx = cache_grow(i, npg);
		if (idx != SIZE_MAX)
			return idx;
	}
	return SIZE_MAX;
}

/*
 * Keep the block at @idx of @npg pages for reuse. Returns the oldest blocks
 * that make room in @evicted (their count), to be discarded by the caller
 * out of the lock, or -1 when the block is not for the cache. Under the
 * lock.
 */
static int cache_put(size_t idx, size_t npg, size_t *evicted)
{
	struct zio_arena *a = &zio_arena;
	int n = 0;

	if (npg << a->page_shift > ZIO_CACHE_BLOCK_MAX)
		return -1;
	while (a->nr_cached == ZIO_CACHE_BLOCKS ||
	       (a->cached_pages + npg) << a->page_shift > ZIO_CACHE_BYTES) {
		evicted[n++] = a->cached[0];
		a->cached_pages -= a->blocks[a->cached[0]];
		a->nr_cached--;
		memmove(&a->cached[0], &a->cached[1], a->nr_cached * sizeof(a->cached[0]));
	}
	a->cached[a->nr_cached++] = idx;
	a->cached_pages += npg;
	return n;
}

/* Discard a whole block and make its pages free. */
static void block_release(size_t idx, size_t npg)
{
	struct zio_arena *a = &zio_arena;

	discard(a->base + (idx << a->page_shift), npg << a->page_shift);
	pthread_mutex_lock(&a->lock);
	a->blocks[idx] = 0;
	release_pages(idx, npg);
	pthread_mutex_unlock(&a->lock);
}

/*
 * Keep the block at @idx of @npg pages for reuse (when @keep and it fits in
 * the cache), or discard it and make its pages free.
 */
static void put_block(size_t idx, size_t npg, bool keep)
{
	struct zio_arena *a = &zio_arena;
	size_t evicted[ZIO_CACHE_BLOCKS];
	int n;

	pthread_mutex_lock(&a->lock);
	n = keep ? cache_put(idx, npg, evicted) : -1;
	if (n >= 0) {
		/* The evicted blocks stay blocks, out of the cache, until discarded. */
		size_t sizes[ZIO_CACHE_BLOCKS];

		for (int i = 0; i < n; i++)
			sizes[i] = a->blocks[evicted[i]];
		pthread_mutex_unlock(&a->lock);
		if (n)
			a->before_discard();
		for (int i = 0; i < n; i++)
			block_release(evicted[i], sizes[i]);
	} else {
		pthread_mutex_unlock(&a->lock);
		a->before_discard();
		block_release(idx, npg);
	}
}

/**
 * zio_arena_alloc() - a block of the arena
 * @size: bytes, rounded up to whole pages
 * @align: 0, or a power of two: the block's alignment (at least a page)
 * @zero: the caller needs the block's bytes to read as zero
 *
 * Return: the block, or NULL when the arena is missing or full.
 */
void *zio_arena_alloc(size_t size, size_t align, bool zero)
{
	struct zio_arena *a = &zio_arena;
	size_t npg, align_pg = 1, idx;
	bool dirty;
	void *p;

	if (!__atomic_load_n(&a->len, __ATOMIC_ACQUIRE) || size > a->len)
		return NULL;
	npg = pages_of(size);
	if (align > a->page_size)
		align_pg = align >> a->page_shift;
	/*
	 * A large block starts where a run of the module's slots does: a
	 * copy between two such blocks then goes whole runs at a time, at no
	 * cost per page. Only address space is left between blocks.
	 */
	if (npg >= ZIO_RUN_PAGES && align_pg < ZIO_RUN_PAGES)
		align_pg = ZIO_RUN_PAGES;

	if (!zero && npg <= ZIO_STASH_PAGES && __atomic_load_n(&a->stash, __ATOMIC_RELAXED)) {
		size_t s = __atomic_exchange_n(&a->stash, 0, __ATOMIC_ACQ_REL);

		if (s) {
			size_t have = __atomic_load_n(&a->blocks[s - 1], __ATOMIC_RELAXED);

			idx = s - 1;
			if (have == npg && !(idx & (align_pg - 1))) {
				zio_count(arena_allocs, 1);
				zio_count(arena_recycled, 1);
				return (void *)(a->base + (idx << a->page_shift));
			}
			put_block(idx, have, true);
		}
	}

	pthread_mutex_lock(&a->lock);
	if (!zero) {
		idx = cache_take(npg, align_pg);
		if (idx != SIZE_MAX) {
			pthread_mutex_unlock(&a->lock);
			zio_count(arena_allocs, 1);
			zio_count(arena_recycled, 1);
			return (void *)(a->base + (idx << a->page_shift));
		}
	}
	idx = find_free(npg, align_pg);
	if (idx == SIZE_MAX) {
		pthread_mutex_unlock(&a->lock);
		zio_count(arena_fallbacks, 1);
		return NULL;
	}
	set_bits(idx, npg, true);
	a->blocks[idx] = npg;
	a->pages_used += npg;
	if (idx / 64 == a->hint)
		a->hint = next_bit(a->hint * 64, false) / 64;
	dirty = !__atomic_load_n(&a->zero_free, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&a->lock);

	p = (void *)(a->base + (idx << a->page_shift));
	if (zero && dirty)
		memset(p, 0, npg << a->page_shift);
	zio_count(arena_allocs, 1);
	return p;
}

/* The block that starts at @ptr, in pages; 0 when @ptr starts none. */
static size_t block_pages(const void *ptr, size_t *idx)
{
	struct zio_arena *a = &zio_arena;
	uintptr_t off = (uintptr_t)ptr - a->base;

	if (off & (a->page_size - 1))
		return 0;
	*idx = off >> a->page_shift;
	return __atomic_load_n(&a->blocks[*idx], __ATOMIC_RELAXED);
}

/**
 * zio_arena_free() - keep a block for reuse, or discard its pages and make
 *	them free
 * @ptr: a block's start; anything else in the arena is a bad free (ignored)
 * @keep: the block may be kept (else it is discarded)
 *
 * A small block kept goes to the stash, without the lock, and the block
 * that was there to the cache. A discard drops the copy records of the
 * blocks discarded: the policy reads them first (->before_discard). A
 * block kept keeps them.
 */
void zio_arena_free(void *ptr, bool keep)
{
	struct zio_arena *a = &zio_arena;
	size_t idx, npg = block_pages(ptr, &idx);

	if (!npg) {
		zio_debug("free(%p): not an arena block, ignored", ptr);
		return;
	}
	/*
	 * Whatever still shares the block's pages is no longer the copying
	 * site's doing once the source is freed: its reuse charges nobody.
	 */
	forget_sites(idx, npg);
	zio_count(arena_frees, 1);
	if (keep && npg <= ZIO_STASH_PAGES) {
		size_t old = __atomic_exchange_n(&a->stash, idx + 1, __ATOMIC_ACQ_REL);

		if (!old)
			return;
		if (old == idx + 1) {
			zio_debug("free(%p): freed twice, ignored", ptr);
			return;
		}
		idx = old - 1;
		npg = __atomic_load_n(&a->blocks[idx], __ATOMIC_RELAXED);
	}
	put_block(idx, npg, keep);
}

/** zio_arena_usable() - the usable size of the block at @ptr */
size_t zio_arena_usable(const void *ptr)
{
	size_t idx;

	return block_pages(ptr, &idx) << zio_arena.page_shift;
}

/**
 * zio_arena_resize() - resize an arena block in place, when it can
 * @ptr: the block
 * @size: the new size, at least zio_alloc_min
 * @old: the block's size in bytes before; 0 when @ptr starts no block or
 *	@size is beyond the arena
 *
 * Return: true when the block now holds @size bytes; false when a new
 * block is needed (or *@old is 0), @ptr untouched.
 */
bool zio_arena_resize(void *ptr, size_t size, size_t *old)
{
	struct zio_arena *a = &zio_arena;
	size_t idx, opg = block_pages(ptr, &idx), npg;

	*old = 0;
	if (!opg || size > a->len)
		return false;
	*old = opg << a->page_shift;
	npg = pages_of(size);
	if (npg == opg)
		return true;
	if (npg < opg) {
		discard((uintptr_t)ptr + (npg << a->page_shift),
			(opg - npg) << a->page_shift);
		pthread_mutex_lock(&a->lock);
		a->blocks[idx] = npg;
		release_pages(idx + npg, opg - npg);
		pthread_mutex_unlock(&a->lock);
		zio_count(realloc_in_place, 1);
		return true;
	}

	/* Over the free pages and kept blocks after it. */
	pthread_mutex_lock(&a->lock);
	if (idx + npg <= a->npages && can_absorb(idx + opg, idx + npg)) {
		absorb(idx + opg, idx + npg);
		a->blocks[idx] = npg;
		pthread_mutex_unlock(&a->lock);
		zio_count(realloc_in_place, 1);
		return true;
	}
	pthread_mutex_unlock(&a->lock);
	return false;
}

/** zio_module_stats() - ZIO_IOC_STATS on the arena's fd; 0 or -errno */
int zio_module_stats(struct zio_stats *st)
{
	if (!__atomic_load_n(&zio_arena.len, __ATOMIC_ACQUIRE) || !zio_arena.stats_ok)
		return -ENODEV;
	return zio_dev_stats(zio_arena.fd, st);
}

/** zio_arena_atfork() - lock or unlock the allocator around fork() */
void zio_arena_atfork_prepare(void)
{
	pthread_mutex_lock(&zio_arena.lock);
}

void zio_arena_atfork_release(void)
{
	pthread_mutex_unlock(&zio_arena.lock);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * ZIO_IOC_COPY and ZIO_IOC_DISCARD: the data is memmove()'s, byte for byte,
 * for every size, offset and alignment; sources and destinations stay
 * isolated afterwards; copy records and counters; bad input.
 *
 * Most checks compare the whole mapping with a shadow copy in anonymous
 * memory that receives the same operations through libc, so a stray write
 * anywhere in the mapping is caught as well.
 */
#include <time.h>

#include "zio_test.h"

#define NPAGES	96

FIXTURE(copy) {
	int fd;
	size_t ps;
	size_t len;
	char *map;
	char *shadow;
};

/* Whether every page is unmapped (MADV_DONTNEED) before each operation. */
FIXTURE_VARIANT(copy) {
	bool drop;
};

FIXTURE_VARIANT_ADD(copy, mapped) {
	.drop = false,
};

FIXTURE_VARIANT_ADD(copy, unmapped) {
	.drop = true,
};

FIXTURE_SETUP(copy)
{
	self->ps = zio_page_size();
	self->len = NPAGES * self->ps;
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	self->shadow = malloc(self->len);
	ASSERT_NE(NULL, self->shadow);
	memset(self->shadow, 0, self->len);
}

FIXTURE_TEARDOWN(copy)
{
	struct zio_counters c;

	munmap(self->map, self->len);
	free(self->shadow);
	/* Whatever the test did, unmapping freed every page of this open. */
	if (!zio_counters(self->fd, false, &c)) {
		EXPECT_EQ(0, c.pages_live);
		EXPECT_EQ(0, c.pages_pending);
	}
	close(self->fd);
}

/* Whole pages of [@addr, @addr + @len). */
static size_t whole_pages(uintptr_t addr, size_t len, size_t ps)
{
	uintptr_t first = (addr + ps - 1) & ~(ps - 1);
	uintptr_t end = (addr + len) & ~(ps - 1);

	return end > first ? (end - first) / ps : 0;
}

/* Fill the mapping and the shadow with the pattern of @salt. */
static void fill_both(FIXTURE_DATA(copy) *self, size_t off, size_t len,
		      uint64_t salt)
{
	zio_fill(self->map + off, len, salt);
	zio_fill(self->shadow + off, len, salt);
}

/*
 * Copy @len bytes at @src to @dst (offsets into the mapping) with the
 * ioctl, and memmove() them in the shadow: 0 or -errno; @out gets the
 * output fields.
 */
static int copy_both(FIXTURE_DATA(copy) *self, size_t dst, size_t src,
		     size_t len, struct zio_copy *out)
{
	int ret = zio_copy(self->fd, self->map + dst, self->map + src, len, out);

	if (!ret)
		memmove(self->shadow + dst, self->shadow + src, len);
	return ret;
}

static bool same_as_shadow(FIXTURE_DATA(copy) *self)
{
	return zio_diff(self->map, self->shadow, self->len) < 0;
}

static void drop(FIXTURE_DATA(copy) *self, const FIXTURE_VARIANT(copy) *variant)
{
	if (variant->drop)
		madvise(self->map, self->len, MADV_DONTNEED);
}

struct copy_case {
	size_t src, dst, len;	/* in bytes, "p" = pages */
};

#define P(n)	((n) * 4096UL)

static const struct copy_case cases[] = {
	{ P(0), P(48), P(8) },			/* aligned: share */
	{ P(0), P(48), P(8) + 100 },		/* and a partial tail */
	{ 100, P(48) + 100, P(8) },		/* same in-page offset */
	{ 0, P(48) + 1, P(8) },			/* dst unaligned: pending */
	{ 1, P(48), P(8) },			/* src unaligned: pending */
	{ P(2) + 2049, P(50) + 7, P(5) + 3000 },
	{ P(3) + 4095, P(60) + 1, P(1) },	/* no whole dst page */
	{ 10, P(48) + 20, 100 },		/* sub-page */
	{ 5, P(48) + 4000, 200 },		/* across a page boundary */
	{ P(1) + 17, P(49) + 17, 1 },		/* one byte */
	{ P(4), P(56), P(1) },			/* one page */
	{ P(1), P(50), P(40) },			/* large */
	{ P(47) + 3, P(48) + 3, P(1) },		/* adjacent, same offset */
	{ P(90), P(10), P(6) },			/* backwards in memory */
	{ P(90) + 33, P(10) + 1000, P(5) + 4000 },
};

TEST_F(copy, sizes_and_alignments)
{
	size_t ps = self->ps;

	ASSERT_EQ(4096, ps);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct copy_case *k = &cases[i];
		struct zio_copy out;
		size_t whole;

		fill_both(self, 0, self->len, 100 + i);
		drop(self, variant);
		ASSERT_EQ(0, copy_both(self, k->dst, k->src, k->len, &out)) {
			TH_LOG("case %zu: copy failed", i);
		}
		whole = whole_pages((uintptr_t)self->map + k->dst, k->len, ps);
		EXPECT_EQ(k->len, out.bytes_deferred + out.bytes_copied) {
			TH_LOG("case %zu: short copy", i);
		}
		EXPECT_EQ(whole * ps, out.bytes_deferred) {
			TH_LOG("case %zu: whole destination pages not deferred", i);
		}
		EXPECT_EQ(0, out.reserved);
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("case %zu: src %zu dst %zu len %zu", i, k->src, k->dst, k->len);
		}
		/* Afterwards, writes on either side stay on that side. */
		zio_fill(self->map + k->src, k->len / 2 + 1, 200 + i);
		zio_fill(self->shadow + k->src, k->len / 2 + 1, 200 + i);
		zio_fill(self->map + k->dst + k->len / 2, k->len - k->len / 2, 300 + i);
		zio_fill(self->shadow + k->dst + k->len / 2, k->len - k->len / 2, 300 + i);
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("case %zu: writes after the copy leaked", i);
		}
	}
}

/* Random copies (overlapping ones too) and random writes, against memmove. */
TEST_F(copy, random_against_memmove)
{
	uint64_t state = zio_seed() ^ 0x52414e44;
	size_t ps = self->ps;

	fill_both(self, 0, self->len, 1);
	for (int i = 0; i < 300; i++) {
		size_t len = zio_rand(&state) % (12 * ps) + 1;
		size_t src = zio_rand(&state) % (self->len - len + 1);
		size_t dst = zio_rand(&state) % (self->len - len + 1);
		struct zio_copy out;

		/* Mostly page-aligned ends, as the library makes them. */
		if (zio_rand(&state) % 2) {
			src &= ~(ps - 1);
			dst = (dst & ~(ps - 1)) + src % ps;
		}
		if (i % 8 == 0)
			drop(self, variant);
		ASSERT_EQ(0, copy_both(self, dst, src, len, &out)) {
			TH_LOG("copy %d: dst %zu src %zu len %zu", i, dst, src, len);
		}
		ASSERT_EQ(len, out.bytes_deferred + out.bytes_copied);
		if (src + len <= dst || dst + len <= src) {
			EXPECT_EQ(whole_pages((uintptr_t)self->map + dst, len, ps) * ps,
				  out.bytes_deferred);
		}
		/* A few bytes written here and there. */
		for (int j = 0; j < 4; j++) {
			size_t at = zio_rand(&state) % self->len;

			self->map[at] = self->shadow[at] = (char)zio_rand(&state);
		}
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("copy %d: dst %zu src %zu len %zu", i, dst, src, len);
		}
	}
}

TEST_F(copy, isolation_shared)
{
	size_t ps = self->ps;
	struct zio_counters c;

	fill_both(self, 0, P(8), 1);
	ASSERT_EQ(0, copy_both(self, P(32), 0, P(8), NULL));
	drop(self, variant);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(16, c.pages_live);
	EXPECT_EQ(16, c.pages_shared);
	EXPECT_EQ(0, c.pages_pending);
	EXPECT_EQ(1, c.copies);
	EXPECT_EQ(P(8), c.bytes_deferred);

	/* Read dst (maps the shared pages), then write src. */
	ASSERT_TRUE(same_as_shadow(self));
	fill_both(self, 0, ps, 2);
	self->map[P(1) + 5] = self->shadow[P(1) + 5] = 0x11;
	ASSERT_TRUE(same_as_shadow(self));
	/* Write dst: src stays. */
	fill_both(self, P(33), ps, 3);
	self->map[P(34) + ps - 1] = self->shadow[P(34) + ps - 1] = 0x22;
	ASSERT_TRUE(same_as_shadow(self));

	/*
	 * Pairs 0, 1 and 2 were broken by one copy each; dst page 33 was
	 * alone once src page 1 had its copy, so writing it copied nothing.
	 */
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(3, c.pages_cow);
	EXPECT_EQ(10, c.pages_shared);
}

TEST_F(copy, isolation_pending)
{
	struct zio_counters c;
	size_t ps = self->ps;

	fill_both(self, 0, P(9), 1);
	/* 8 whole dst pages, each from two source pages. */
	ASSERT_EQ(0, copy_both(self, P(32), 1000, P(8), NULL));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(8, c.pages_pending);
	EXPECT_EQ(0, c.pages_materialized);

	/* The source changes before the destination is touched. */
	drop(self, variant);
	fill_both(self, 0, P(9), 2);
	ASSERT_TRUE(same_as_shadow(self));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_pending);
	EXPECT_EQ(8, c.pages_materialized);

	/* A pending page written first, without a read before. */
	ASSERT_EQ(0, copy_both(self, P(48) + 5, 0, P(3), NULL));
	self->map[P(49) + 7] = self->shadow[P(49) + 7] = 0x33;
	fill_both(self, 0, ps, 4);
	ASSERT_TRUE(same_as_shadow(self));
}

/* Pending pages keep their data when their sources go away. */
TEST_F(copy, pending_source_discarded)
{
	fill_both(self, 0, P(9), 1);
	ASSERT_EQ(0, copy_both(self, P(32), 1000, P(8), NULL));
	ASSERT_EQ(0, copy_both(self, P(64), 0, P(8), NULL));
	ASSERT_EQ(0, zio_discard(self->fd, self->map, P(9)));
	memset(self->shadow, 0, P(9));
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, pending_source_unmapped)
{
	char *src;

	src = zio_map(self->fd, P(9), self->len);
	ASSERT_NE(MAP_FAILED, src);
	zio_fill(src, P(9), 1);
	zio_fill(self->shadow, P(9), 1);
	ASSERT_EQ(0, zio_copy(self->fd, self->map, src + 100, P(8), NULL));
	ASSERT_EQ(0, zio_copy(self->fd, self->map + P(16), src, P(8), NULL));
	memmove(self->shadow + P(16), self->shadow, P(8));
	memmove(self->shadow, self->shadow + 100, P(8));
	memset(self->shadow + P(8), 0, P(1));
	ASSERT_EQ(0, munmap(src, P(9)));
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, chains)
{
	/* A -> B -> C, shared and pending alike, then writes everywhere. */
	fill_both(self, 0, P(8), 1);
	ASSERT_EQ(0, copy_both(self, P(16), 0, P(8), NULL));
	ASSERT_EQ(0, copy_both(self, P(32), P(16), P(8), NULL));
	ASSERT_EQ(0, copy_both(self, P(48) + 10, P(32), P(8), NULL));
	ASSERT_EQ(0, copy_both(self, P(64) + 20, P(48) + 10, P(8), NULL));
	ASSERT_EQ(0, copy_both(self, P(80) + 20, P(64) + 20, P(8), NULL));
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));

	for (int i = 0; i < 6; i++) {
		size_t at = (size_t)i * P(16) + P(i % 8) + 100;

		fill_both(self, at, 3000, 10 + i);
		drop(self, variant);
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("after writing link %d", i);
		}
	}
}

TEST_F(copy, one_to_many)
{
	fill_both(self, 0, P(8), 1);
	for (int i = 1; i < 5; i++)
		ASSERT_EQ(0, copy_both(self, (size_t)i * P(16), 0, P(8), NULL));
	for (int i = 5; i < 6; i++)
		ASSERT_EQ(0, copy_both(self, (size_t)i * P(16) + 3, 0, P(8), NULL));
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));

	fill_both(self, P(16), P(8), 2);
	ASSERT_TRUE(same_as_shadow(self));
	fill_both(self, 0, P(8), 3);
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));
	fill_both(self, P(48), P(4), 4);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, overlap)
{
	static const long shifts[] = {
		4096, -4096, 8192 + 4096, -3 * 4096, 100, -100, 4097, -4095,
		3 * 4096 + 7, -(3 * 4096 + 7), 1, -1,
	};

	for (size_t i = 0; i < ARRAY_SIZE(shifts); i++) {
		size_t src = P(30) + (i % 3) * 1000;
		size_t dst = src + shifts[i];
		struct zio_copy out;

		fill_both(self, 0, self->len, 10 + i);
		drop(self, variant);
		ASSERT_EQ(0, copy_both(self, dst, src, P(20), &out));
		EXPECT_EQ(P(20), out.bytes_deferred + out.bytes_copied);
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("shift %ld", shifts[i]);
		}
		fill_both(self, src, P(10), 40 + i);
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("shift %ld, after a write", shifts[i]);
		}
	}
}

TEST_F(copy, onto_itself)
{
	struct zio_copy out;

	fill_both(self, 0, self->len, 1);
	ASSERT_EQ(0, copy_both(self, P(10), P(10), P(8), &out));
	EXPECT_EQ(P(8), out.bytes_deferred + out.bytes_copied);
	ASSERT_EQ(0, copy_both(self, 17, 17, P(3), &out));
	EXPECT_EQ(P(3), out.bytes_deferred + out.bytes_copied);
	ASSERT_TRUE(same_as_shadow(self));
	fill_both(self, P(11), 100, 2);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, untouched_source_gives_zeros)
{
	struct zio_copy out;

	/* The destination had data; the source was never touched. */
	fill_both(self, 0, P(48), 1);
	drop(self, variant);
	ASSERT_EQ(0, copy_both(self, 0, P(64), P(8), &out));
	EXPECT_EQ(P(8), out.bytes_deferred + out.bytes_copied);
	ASSERT_EQ(0, copy_both(self, P(16) + 7, P(72) + 3, P(8), &out));
	EXPECT_EQ(P(8), out.bytes_deferred + out.bytes_copied);
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));
	fill_both(self, P(70), P(8), 2);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, repeated_into_same_destination)
{
	for (int i = 0; i < 20; i++) {
		size_t src = (size_t)(i % 4) * P(8) + (i % 3) * 512;

		fill_both(self, src, P(6), 50 + i);
		if (i % 2)
			drop(self, variant);
		ASSERT_EQ(0, copy_both(self, P(64) + (i % 2) * 512, src, P(5), NULL));
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("round %d", i);
		}
	}
}

TEST_F(copy, between_mappings)
{
	char *other;

	other = zio_map(self->fd, P(8), self->len + P(16));
	ASSERT_NE(MAP_FAILED, other);
	zio_fill(other, P(8), 1);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + P(4), other, P(8), NULL));
	ASSERT_EQ(0, zio_copy(self->fd, self->map + P(20) + 1, other, P(6), NULL));
	memset(other, 0, P(2));
	EXPECT_TRUE(zio_check(self->map + P(4), P(8), 1));
	EXPECT_TRUE(zio_check(self->map + P(20) + 1, P(6), 1));
	ASSERT_EQ(0, zio_copy(self->fd, other, self->map + P(4), P(8), NULL));
	EXPECT_TRUE(zio_check(other, P(8), 1));
	munmap(other, P(8));
}

TEST_F(copy, across_split_vmas)
{
	/* Split the mapping in three VMAs. */
	fill_both(self, 0, self->len, 1);
	ASSERT_EQ(0, zio_split(self->map + P(4), P(4)));
	ASSERT_EQ(3, zio_vma_count(self->map, self->len));
	ASSERT_EQ(0, copy_both(self, P(40), P(2), P(8), NULL));
	ASSERT_EQ(0, copy_both(self, P(3) + 9, P(60), P(6), NULL));
	ASSERT_TRUE(same_as_shadow(self));
}

/*
 * A range over many VMAs of this file is still entirely inside its
 * mappings: the first 20 pages are split in 20 VMAs.
 */
TEST_F(copy, across_many_vmas)
{
	struct zio_copy out;

	fill_both(self, 0, self->len, 1);
	for (int i = 1; i < 20; i += 2)
		ASSERT_EQ(0, zio_split(self->map + P(i), P(1)));
	ASSERT_EQ(21, zio_vma_count(self->map, self->len));
	ASSERT_EQ(0, copy_both(self, P(40), 0, P(20), &out)) {
		TH_LOG("a range over 20 VMAs of the file was refused");
	}
	EXPECT_EQ(P(20), out.bytes_deferred + out.bytes_copied);
	ASSERT_EQ(0, copy_both(self, 100, P(60) + 100, P(20), &out));
	EXPECT_EQ(P(20), out.bytes_deferred + out.bytes_copied);
	ASSERT_EQ(0, zio_discard(self->fd, self->map + P(2), P(16)));
	memset(self->shadow + P(2), 0, P(16));
	ASSERT_TRUE(same_as_shadow(self));
}

/* Two adjacent mappings of unrelated offsets: one range over both. */
TEST_F(copy, across_adjacent_mappings)
{
	char *area, *x, *y;

	area = mmap(NULL, P(8), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	x = mmap(area, P(4), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, P(300));
	ASSERT_EQ(area, x);
	y = mmap(area + P(4), P(4), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, P(200));
	ASSERT_EQ(area + P(4), y);

	fill_both(self, 0, self->len, 1);
	ASSERT_EQ(0, zio_copy(self->fd, area + 10, self->map + 10, P(8) - 20, NULL));
	EXPECT_TRUE(zio_check_at(area + 10, 10, P(8) - 20, 1));
	ASSERT_EQ(0, zio_copy(self->fd, area + P(2), self->map + P(2), P(4), NULL));
	EXPECT_TRUE(zio_check_at(area + 10, 10, P(8) - 20, 1));
	ASSERT_EQ(0, copy_both(self, P(50), P(0), P(8), NULL));
	memcpy(self->map + P(60), area + 3, P(5));
	memcpy(self->shadow + P(60), area + 3, P(5));
	ASSERT_EQ(0, zio_copy(self->fd, self->map + P(70), area, P(8), NULL));
	memcpy(self->shadow + P(70), area, P(8));
	ASSERT_TRUE(same_as_shadow(self));
	EXPECT_TRUE(zio_check_at(area + 10, 10, P(8) - 20, 1));
	munmap(area, P(8));
}

/* The calling process may not write a read-only range, or read PROT_NONE. */
TEST_F(copy, protections)
{
	fill_both(self, 0, self->len, 1);
	ASSERT_EQ(0, mprotect(self->map + P(40), P(8), PROT_READ));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map + P(40), self->map, P(4), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map + P(38), self->map, P(4), NULL));
	EXPECT_EQ(-EFAULT, zio_discard(self->fd, self->map + P(40), P(4)));
	/* Reading from it is fine. */
	ASSERT_EQ(0, copy_both(self, P(10), P(40), P(4), NULL));
	ASSERT_EQ(0, mprotect(self->map + P(40), P(8), PROT_NONE));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map, self->map + P(40), P(4), NULL));
	ASSERT_EQ(0, mprotect(self->map + P(40), P(8), PROT_READ | PROT_WRITE));
	ASSERT_TRUE(same_as_shadow(self));
}

/* 16 MiB filled and checked: minutes under KASAN on a busy TCG host. */
TEST_F_TIMEOUT(copy, large, 300)
{
	size_t big = P(4096);	/* 16 MiB */
	struct zio_copy out;
	char *m;

	m = zio_map(self->fd, 2 * big, P(NPAGES));
	ASSERT_NE(MAP_FAILED, m);
	zio_fill(m, big, 1);
	drop(self, variant);
	ASSERT_EQ(0, zio_copy(self->fd, m + big, m, big, &out));
	EXPECT_EQ(big, out.bytes_deferred);
	EXPECT_EQ(0, out.bytes_copied);
	EXPECT_TRUE(zio_check(m + big, big, 1));
	ASSERT_EQ(0, zio_copy(self->fd, m + 1, m + big, big - 1, &out));
	EXPECT_EQ(big - P(1), out.bytes_deferred);
	EXPECT_EQ(P(1) - 1, out.bytes_copied);
	EXPECT_TRUE(zio_check(m + 1, big - 1, 1));
	EXPECT_TRUE(zio_check(m + big, big, 1));
	munmap(m, 2 * big);
}

/*
 * Destination right after the source, then read: munmap must still give
 * every page back (the teardown checks that the open holds none).
 */
TEST_F(copy, adjacent_then_unmapped)
{
	struct zio_counters c;

	for (size_t n = 1; n <= 32; n *= 2) {
		fill_both(self, 0, P(n), n);
		ASSERT_EQ(0, copy_both(self, P(n), 0, P(n), NULL));
		drop(self, variant);
		ASSERT_TRUE(same_as_shadow(self)) {
			TH_LOG("%zu pages", n);
		}
	}
	ASSERT_EQ(0, munmap(self->map, self->len));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_live);
	EXPECT_EQ(0, c.pages_shared);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	EXPECT_EQ(-1, zio_nonzero(self->map, self->len));
}

TEST_F(copy, len_zero)
{
	struct zio_counters before, after;
	struct zio_copy out;

	fill_both(self, 0, self->len, 1);
	ASSERT_EQ(0, zio_counters(self->fd, false, &before));
	ASSERT_EQ(0, copy_both(self, P(10), P(20), 0, &out));
	EXPECT_EQ(0, out.bytes_deferred);
	EXPECT_EQ(0, out.bytes_copied);
	ASSERT_EQ(0, zio_counters(self->fd, false, &after));
	EXPECT_EQ(before.bytes_deferred, after.bytes_deferred);
	EXPECT_EQ(before.bytes_copied, after.bytes_copied);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, discard)
{
	struct zio_counters c;

	fill_both(self, 0, self->len, 1);
	ASSERT_EQ(0, zio_discard(self->fd, self->map + P(10), P(5)));
	memset(self->shadow + P(10), 0, P(5));
	/* Before reading them: a read may give a hole a (zero) page again. */
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(NPAGES - 5, c.pages_live);
	EXPECT_EQ(5, c.discards);
	ASSERT_TRUE(same_as_shadow(self));

	/* Discarded pages are ordinary zero pages afterwards. */
	fill_both(self, P(11), 10, 2);
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));

	/* Discarding what was never touched is fine too. */
	ASSERT_EQ(0, zio_discard(self->fd, self->map, self->len));
	memset(self->shadow, 0, self->len);
	ASSERT_TRUE(same_as_shadow(self));
	ASSERT_EQ(0, zio_discard(self->fd, self->map, self->len));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_live);
}

/* Discards of every size around the batch sizes an implementation may use. */
TEST_F(copy, discard_sizes)
{
	static const size_t sizes[] = { 1, 2, 63, 64, 65, 95, 96 };
	struct zio_counters c;

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];

		fill_both(self, 0, self->len, 1 + i);
		drop(self, variant);
		ASSERT_EQ(0, zio_discard(self->fd, self->map + self->len - P(n), P(n)));
		memset(self->shadow + self->len - P(n), 0, P(n));
		ASSERT_EQ(0, zio_counters(self->fd, false, &c));
		EXPECT_EQ(NPAGES - n, c.pages_live) {
			TH_LOG("discard of the last %zu pages", n);
		}
		EXPECT_TRUE(same_as_shadow(self)) {
			TH_LOG("discard of the last %zu pages", n);
		}
	}
}

TEST_F(copy, discard_shared)
{
	fill_both(self, 0, P(8), 1);
	ASSERT_EQ(0, copy_both(self, P(16), 0, P(8), NULL));
	ASSERT_EQ(0, copy_both(self, P(32), 0, P(8), NULL));
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));

	/* The source goes: both destinations keep the data. */
	ASSERT_EQ(0, zio_discard(self->fd, self->map, P(8)));
	memset(self->shadow, 0, P(8));
	ASSERT_TRUE(same_as_shadow(self));
	/* One destination goes: the other keeps it. */
	ASSERT_EQ(0, zio_discard(self->fd, self->map + P(16), P(4)));
	memset(self->shadow + P(16), 0, P(4));
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));
	fill_both(self, P(32), 10, 2);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, discard_pending)
{
	struct zio_counters c;

	fill_both(self, 0, P(9), 1);
	ASSERT_EQ(0, copy_both(self, P(16), 5, P(8), NULL));
	/* Half of the pending destination is discarded before any touch. */
	ASSERT_EQ(0, zio_discard(self->fd, self->map + P(16), P(4)));
	memset(self->shadow + P(16), 0, P(4));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(4, c.pages_pending);
	drop(self, variant);
	ASSERT_TRUE(same_as_shadow(self));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_pending);
}

TEST_F(copy, discard_bad_input)
{
	struct zio_range r = { .addr = (uintptr_t)self->map, .len = P(1) };
	void *anon;

	fill_both(self, 0, self->len, 1);
	EXPECT_EQ(-EINVAL, zio_discard(self->fd, self->map + 1, P(1)));
	EXPECT_EQ(-EINVAL, zio_discard(self->fd, self->map, P(1) + 1));
	EXPECT_EQ(-EINVAL, zio_discard(self->fd, self->map, 100));
	r.flags = 1;
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_DISCARD, &r));
	r.flags = 0;
	r.reserved = 1;
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_DISCARD, &r));

	/* Outside the mapping, partly or wholly. */
	EXPECT_EQ(-EFAULT, zio_discard(self->fd, self->map + self->len - P(1), P(2)));
	EXPECT_EQ(-EFAULT, zio_discard(self->fd, self->map - P(1), P(2)));
	anon = mmap(NULL, P(4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	memset(anon, 1, P(4));
	EXPECT_EQ(-EFAULT, zio_discard(self->fd, anon, P(4)));
	EXPECT_EQ(1, ((char *)anon)[P(3)]);
	munmap(anon, P(4));
	EXPECT_EQ(-EFAULT, zio_discard(self->fd, (void *)0xffff888000000000ULL, P(1)));
	EXPECT_EQ(-EOVERFLOW, zio_discard(self->fd, (void *)-P(1), P(2)));
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_DISCARD, NULL));
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, bad_input)
{
	struct zio_counters before, after;
	struct zio_copy c = {
		.dst = (uintptr_t)self->map + P(40),
		.src = (uintptr_t)self->map,
		.len = P(4),
	};
	char *anon, *other;
	int fd2;

	fill_both(self, 0, self->len, 1);
	ASSERT_EQ(0, zio_counters(self->fd, false, &before));

	c.flags = 1;
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_COPY, &c));
	c.flags = 1ULL << 63;
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_COPY, &c));
	c.flags = 0;
	c.reserved = 1;
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_COPY, &c));
	c.reserved = 0;

	/* Overflowing ranges. */
	EXPECT_EQ(-EOVERFLOW, zio_copy(self->fd, self->map, (void *)-100L, 200, NULL));
	EXPECT_EQ(-EOVERFLOW, zio_copy(self->fd, (void *)-100L, self->map, 200, NULL));
	EXPECT_EQ(-EOVERFLOW, zio_copy(self->fd, self->map, self->map + P(1), -P(1), NULL));

	/* Not entirely inside this file's mappings. */
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map + self->len - P(1),
				    self->map, P(2), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map, self->map + self->len - 10,
				    P(1), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map - 1, self->map + P(4), 10, NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map, NULL, P(1), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, (void *)0xffff888000000000ULL,
				    self->map, P(1), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map, (void *)0xffff888000000000ULL,
				    P(1), NULL));

	anon = mmap(NULL, P(4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	memset(anon, 7, P(4));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, anon, self->map, P(4), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map, anon, P(4), NULL));
	EXPECT_EQ(7, anon[P(2)]);
	munmap(anon, P(4));

	/* Another open's mapping, either way round. */
	fd2 = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	other = zio_map(fd2, P(4), 0);
	ASSERT_NE(MAP_FAILED, other);
	memset(other, 9, P(4));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, other, self->map, P(4), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(self->fd, self->map, other, P(4), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(fd2, other, self->map, P(4), NULL));
	EXPECT_EQ(-EFAULT, zio_copy(fd2, self->map + P(8), self->map, P(4), NULL));
	EXPECT_EQ(9, other[P(1)]);
	munmap(other, P(4));
	close(fd2);

	/* The argument itself. */
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_COPY, NULL));
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_COPY, (void *)16));
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_COPY,
				     (void *)0xffff888000000000ULL));

	/* Nothing of that changed anything. */
	ASSERT_TRUE(same_as_shadow(self));
	ASSERT_EQ(0, zio_counters(self->fd, false, &after));
	EXPECT_EQ(before.copies, after.copies);
	EXPECT_EQ(before.bytes_deferred, after.bytes_deferred);
	EXPECT_EQ(before.bytes_copied, after.bytes_copied);
}

TEST_F(copy, records)
{
	struct zio_record rec[4];
	struct zio_stats s = {
		.records = (uintptr_t)rec,
		.records_cap = ARRAY_SIZE(rec),
	};
	struct timespec ts;
	__u64 now;

	fill_both(self, 0, P(16), 1);
	drop(self, variant);
	ASSERT_EQ(0, zio_copy_tag(self->fd, self->map + P(32), self->map, P(4) + 10,
				  0x1111, NULL));
	/* Defers nothing: no record. */
	ASSERT_EQ(0, zio_copy_tag(self->fd, self->map + P(40) + 1, self->map, 100,
				  0x3333, NULL));
	ASSERT_EQ(0, zio_copy_tag(self->fd, self->map + P(48) + 8, self->map, P(6),
				  0x2222, NULL));
	memset(rec, 0xff, sizeof(rec));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	ASSERT_EQ(2, s.records_count);
	EXPECT_EQ(2, s.records_total);
	EXPECT_EQ(3, s.counters.copies);

	/* Newest first. */
	EXPECT_EQ(0x2222, rec[0].tag);
	EXPECT_EQ((uintptr_t)self->map + P(48) + 8, rec[0].dst);
	EXPECT_EQ(P(6), rec[0].len);
	EXPECT_EQ(5, rec[0].pages_deferred);
	EXPECT_EQ(0, rec[0].pages_materialized);
	EXPECT_EQ(0x1111, rec[1].tag);
	EXPECT_EQ((uintptr_t)self->map + P(32), rec[1].dst);
	EXPECT_EQ(P(4) + 10, rec[1].len);
	EXPECT_EQ(4, rec[1].pages_deferred);
	EXPECT_EQ(0, rec[1].pages_materialized);
	EXPECT_LE(rec[1].time_ns, rec[0].time_ns);
	EXPECT_GE(now, rec[0].time_ns);
	EXPECT_LT(0, rec[1].time_ns);
	/* Untouched entries past the count. */
	EXPECT_EQ(~0ULL, rec[2].tag);

	/* Reading shared pages materializes nothing; writing does. */
	EXPECT_TRUE(zio_check(self->map + P(32), P(4), 1));
	self->map[P(33)] = 1;
	self->map[P(35) + 100] = 1;
	/* Touching pending pages materializes them, reads too. */
	EXPECT_NE(0, self->map[P(50) + 1]);
	self->map[P(51) + 1] = 2;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	ASSERT_EQ(2, s.records_count);
	EXPECT_EQ(2, rec[0].pages_materialized);
	EXPECT_EQ(2, rec[1].pages_materialized);

	/* Fewer entries than records. */
	memset(rec, 0, sizeof(rec));
	s.records_cap = 1;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	EXPECT_EQ(1, s.records_count);
	EXPECT_EQ(2, s.records_total);
	EXPECT_EQ(0x2222, rec[0].tag);
	EXPECT_EQ(0, rec[1].tag);
	s.records = 0;
	s.records_cap = 0;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	EXPECT_EQ(0, s.records_count);
	EXPECT_EQ(2, s.records_total);
}

FIXTURE(records_limit) {
	int fd;
	char *map;
	long long saved;
};

FIXTURE_SETUP(records_limit)
{
	self->saved = zio_param_get("max_records");
	if (self->saved < 0)
		SKIP(return, "the module has no max_records parameter");
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->map = zio_map(self->fd, P(64), 0);
	ASSERT_NE(MAP_FAILED, self->map);
}

FIXTURE_TEARDOWN(records_limit)
{
	zio_param_set("max_records", self->saved);
	munmap(self->map, P(64));
	close(self->fd);
}

/* Records are bounded: the oldest go first. */
TEST_F(records_limit, oldest_evicted)
{
	struct zio_record rec[8];
	struct zio_stats s = { .records = (uintptr_t)rec, .records_cap = 8 };

	ASSERT_EQ(0, zio_param_set("max_records", 4));
	zio_fill(self->map, P(8), 1);
	for (int i = 1; i <= 10; i++)
		ASSERT_EQ(0, zio_copy_tag(self->fd, self->map + P(16 + 4 * (i % 10)),
					  self->map, P(2), i, NULL));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	EXPECT_EQ(10, s.counters.copies);
	ASSERT_EQ(4, s.records_count);
	EXPECT_EQ(4, s.records_total);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(10 - i, rec[i].tag);
	EXPECT_TRUE(zio_check(self->map + P(16), P(2), 1));
}

FIXTURE(settings) {
	int fd;
	char *map;
	long long saved_enabled, saved_threshold;
};

FIXTURE_SETUP(settings)
{
	self->saved_enabled = zio_param_get("enabled");
	self->saved_threshold = zio_param_get("copy_threshold");
	if (self->saved_enabled < 0 || self->saved_threshold < 0)
		SKIP(return, "the module has no enabled/copy_threshold parameters");
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->map = zio_map(self->fd, P(32), 0);
	ASSERT_NE(MAP_FAILED, self->map);
}

FIXTURE_TEARDOWN(settings)
{
	zio_param_set("enabled", self->saved_enabled);
	zio_param_set("copy_threshold", self->saved_threshold);
	munmap(self->map, P(32));
	close(self->fd);
}

/* Copies turned off: EOPNOTSUPP and nothing changed; on again: copies. */
TEST_F(settings, disabled)
{
	struct zio_info info = { 0 };
	struct zio_counters c;

	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(1, info.enabled);
	zio_fill(self->map, P(32), 1);
	ASSERT_EQ(0, zio_param_set("enabled", 0));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(0, info.enabled);
	EXPECT_EQ(-EOPNOTSUPP, zio_copy(self->fd, self->map + P(16), self->map, P(8), NULL));
	EXPECT_EQ(-EOPNOTSUPP, zio_copy(self->fd, self->map + P(16) + 1, self->map, 100, NULL));
	EXPECT_TRUE(zio_check(self->map, P(32), 1));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.copies);
	EXPECT_EQ(0, c.pages_shared);
	/* Everything else keeps working. */
	ASSERT_EQ(0, zio_discard(self->fd, self->map + P(30), P(2)));
	EXPECT_EQ(-1, zio_nonzero(self->map + P(30), P(2)));

	ASSERT_EQ(0, zio_param_set("enabled", 1));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(1, info.enabled);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + P(16), self->map, P(8), NULL));
	EXPECT_TRUE(zio_check_at(self->map + P(16), 0, P(8), 1));
}

TEST_F(settings, copy_threshold_reported)
{
	struct zio_info info = { 0 };

	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ((__u64)self->saved_threshold, info.copy_threshold);
	ASSERT_EQ(0, zio_param_set("copy_threshold", 3 * 4096 + 5));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(3 * 4096 + 5, info.copy_threshold);
	/* Advice to callers only: smaller copies still work. */
	zio_fill(self->map, P(4), 2);
	ASSERT_EQ(0, zio_copy(self->fd, self->map + P(8), self->map, P(1), NULL));
	EXPECT_TRUE(zio_check(self->map + P(8), P(1), 2));
}

TEST_F(copy, counters)
{
	struct zio_counters c, g0, g;

	ASSERT_EQ(0, zio_global_counters(&g0));
	fill_both(self, 0, P(8), 1);
	drop(self, variant);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(8, c.pages_live);
	EXPECT_EQ(0, c.copies);

	ASSERT_EQ(0, copy_both(self, P(16), 0, P(4), NULL));
	ASSERT_EQ(0, copy_both(self, P(32) + 1, 0, P(4), NULL));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(2, c.copies);
	EXPECT_EQ(P(4) + P(3), c.bytes_deferred);
	EXPECT_EQ(P(1), c.bytes_copied);
	EXPECT_EQ(12 + 2, c.pages_live);	/* + the two partial pages */
	EXPECT_EQ(8, c.pages_shared);
	EXPECT_EQ(3, c.pages_pending);
	EXPECT_EQ(0, c.pages_cow);
	EXPECT_EQ(0, c.pages_materialized);

	/*
	 * The module's counters include these: at least the 10 distinct
	 * pages (the module counts a page once however many slots share
	 * it) and the 3 pending copies.
	 */
	ASSERT_EQ(0, zio_counters(self->fd, true, &g));
	EXPECT_LE(g0.copies + 2, g.copies);
	EXPECT_LE(10, g.pages_live);
	EXPECT_LE(3, g.pages_pending);
	EXPECT_LE(g0.bytes_deferred + P(7), g.bytes_deferred);

	ASSERT_TRUE(same_as_shadow(self));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_pending);
	EXPECT_EQ(3, c.pages_materialized);
	EXPECT_EQ(8, c.pages_shared);
	EXPECT_EQ(0, c.pages_cow);

	fill_both(self, 0, P(4), 2);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_shared);
	EXPECT_EQ(4, c.pages_cow);
	EXPECT_LE(1, c.faults);
	ASSERT_TRUE(same_as_shadow(self));
}

TEST_F(copy, stats_bad_input)
{
	struct zio_record rec[2];
	struct zio_stats s = { .flags = 2 };

	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	s.flags = ZIO_STATS_GLOBAL | (1ULL << 63);
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	s.flags = 0;
	s.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	s.reserved[2] = 0;
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_STATS, NULL));

	/* A bad record array, once there is a record to write. */
	fill_both(self, 0, P(4), 1);
	ASSERT_EQ(0, copy_both(self, P(8), 0, P(4), NULL));
	s.records = 16;
	s.records_cap = 2;
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	s.records = 0xffff888000000000ULL;
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	s.records = (uintptr_t)rec;
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_STATS, &s));
	EXPECT_EQ(1, s.records_count);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN

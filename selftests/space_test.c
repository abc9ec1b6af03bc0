// SPDX-License-Identifier: GPL-2.0
/*
 * Mappings of /dev/zio: zero-filled lazy pages, the space limit, and what
 * munmap, mremap, mprotect, madvise, mlock and msync do to them.
 */
#include <setjmp.h>
#include <signal.h>

#include "zio_test.h"

#define NPAGES	64

FIXTURE(space) {
	int fd;
	size_t ps;
	struct zio_info info;
	char *map;
	size_t len;
	long long saved_limit;
};

FIXTURE_SETUP(space)
{
	self->ps = zio_page_size();
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &self->info));
	self->len = NPAGES * self->ps;
	self->saved_limit = -1;
}

FIXTURE_TEARDOWN(space)
{
	if (self->saved_limit >= 0)
		zio_param_set("space_limit", self->saved_limit);
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->len);
	close(self->fd);
}

TEST_F(space, features)
{
	EXPECT_EQ(ZIO_FEATURE_COPY, self->info.features & ZIO_FEATURE_COPY);
	EXPECT_EQ(ZIO_FEATURE_STATS, self->info.features & ZIO_FEATURE_STATS);
	EXPECT_EQ(1ULL << 30, self->info.space_limit);
	EXPECT_EQ((long long)self->info.space_limit, zio_param_get("space_limit"));
}

TEST_F(space, zero_filled)
{
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(-1, zio_nonzero(self->map, self->len));
	zio_fill(self->map, self->len, 1);
	ASSERT_TRUE(zio_check(self->map, self->len, 1));
}

TEST_F(space, lazy_faults)
{
	struct zio_counters c;

	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_live);

	/* Three written pages hold three pages, whatever happened to reads. */
	self->map[0] = 1;
	self->map[5 * self->ps + 17] = 2;
	self->map[(NPAGES - 1) * self->ps] = 3;
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(3, c.pages_live);
	EXPECT_EQ(0, c.pages_shared);
	EXPECT_EQ(0, c.pages_pending);
	EXPECT_LE(3, c.faults);

	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = NULL;
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_live);
}

TEST_F(space, map_private_rejected)
{
	void *p;

	p = mmap(NULL, self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, self->len, PROT_READ, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(space, limit)
{
	size_t limit = self->info.space_limit, ps = self->ps;
	void *p;

	/* The last page below the limit is fine... */
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, limit - ps);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, ps);
	EXPECT_EQ(0, munmap(p, ps));

	/* ...one byte more is not. */
	p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, limit - ps);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOMEM, errno);
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, limit);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOMEM, errno);
	p = mmap(NULL, limit + ps, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOMEM, errno);
}

TEST_F(space, limit_parameter)
{
	struct zio_info info = { 0 };
	size_t ps = self->ps;
	void *p;

	self->saved_limit = zio_param_get("space_limit");
	if (self->saved_limit < 0)
		SKIP(return, "no space_limit parameter");
	ASSERT_EQ(0, zio_param_set("space_limit", 16 * ps));
	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(16 * ps, info.space_limit);

	p = mmap(NULL, 17 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOMEM, errno);
	p = mmap(NULL, 16 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, munmap(p, 16 * ps));
}

/*
 * A setting written through sysfs gets the bounds ZIO_CMD_SET enforces
 * (netlink.rst): out of them the write fails with EINVAL and the value
 * stays; at them it succeeds.
 */
TEST(parameters_checked_as_netlink_checks_them)
{
	char ps[32], ps_less[32], ps_more[32], records_max[32], records_more[32];
	const struct {
		const char *name, *value;
		bool valid;
	} writes[] = {
		{ "space_limit", "0", false },
		{ "space_limit", ps_less, false },
		{ "space_limit", ps_more, false },
		{ "space_limit", "-1", false },
		{ "space_limit", "1G", false },
		{ "space_limit", ps, true },
		{ "copy_threshold", "0", false },
		{ "copy_threshold", ps_less, false },
		{ "copy_threshold", "9223372036854775808", false },
		{ "copy_threshold", ps_more, true },
		{ "max_records", records_more, false },
		{ "max_records", records_max, true },
		{ "max_records", "0", true },
		{ "max_pages", "0", false },
		{ "max_pages", "-1", false },
		{ "max_pages", "1", true },
	};
	unsigned int i;

	snprintf(ps, sizeof(ps), "%zu", zio_page_size());
	snprintf(ps_less, sizeof(ps_less), "%zu", zio_page_size() - 1);
	snprintf(ps_more, sizeof(ps_more), "%zu", zio_page_size() + 1);
	snprintf(records_max, sizeof(records_max), "%d", ZIO_MAX_RECORDS_MAX);
	snprintf(records_more, sizeof(records_more), "%d", ZIO_MAX_RECORDS_MAX + 1);
	for (i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		long long saved = zio_param_get(writes[i].name), now;
		char path[128];
		int ret;

		ASSERT_LE(0, saved) TH_LOG("no parameter %s", writes[i].name);
		snprintf(path, sizeof(path), ZIO_PARAM_DIR "%s", writes[i].name);
		ret = zio_write_file(path, writes[i].value);
		now = zio_param_get(writes[i].name);
		ASSERT_EQ(0, zio_param_set(writes[i].name, saved));
		if (writes[i].valid) {
			EXPECT_EQ(0, ret) TH_LOG("%s=%s", writes[i].name, writes[i].value);
			EXPECT_EQ(strtoll(writes[i].value, NULL, 0), now);
		} else {
			EXPECT_EQ(-EINVAL, ret) TH_LOG("%s=%s", writes[i].name, writes[i].value);
			EXPECT_EQ(saved, now) TH_LOG("%s=%s", writes[i].name, writes[i].value);
		}
	}
}

TEST_F(space, mremap_grow_fails)
{
	void *p;

	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 2);

	p = mremap(self->map, self->len, 2 * self->len, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EFAULT, errno);
	p = mremap(self->map, self->len, 2 * self->len, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_TRUE(zio_check(self->map, self->len, 2));
}

TEST_F(space, mremap_move_keeps_data)
{
	char *target, *p;

	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 3);

	/* Reserve a place, then move the mapping there. */
	target = mmap(NULL, self->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	p = mremap(self->map, self->len, self->len, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	ASSERT_EQ(target, p);
	self->map = p;
	EXPECT_TRUE(zio_check(self->map, self->len, 3));

	/* Writes after the move land, and only there. */
	memset(self->map + self->ps, 0xa5, self->ps);
	EXPECT_EQ((char)0xa5, self->map[2 * self->ps - 1]);
	EXPECT_TRUE(zio_check(self->map, self->ps, 3));

	/* Shrinking keeps the head. */
	p = mremap(self->map, self->len, self->len / 2, 0);
	ASSERT_EQ(self->map, p);
	EXPECT_TRUE(zio_check_at(self->map + 2 * self->ps, 2 * self->ps,
				 self->len / 2 - 2 * self->ps, 3)) {
		TH_LOG("data changed by a shrinking mremap");
	}
	EXPECT_EQ(0, munmap(self->map, self->len / 2));
	self->map = NULL;
}

TEST_F(space, munmap_discards)
{
	struct zio_counters c;
	char *p;

	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 4);

	/* Unmap the middle page: its offset reads zeros when mapped again. */
	ASSERT_EQ(0, munmap(self->map + 10 * self->ps, self->ps));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(NPAGES - 1, c.pages_live);
	p = mmap(self->map + 10 * self->ps, self->ps, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, self->fd, 10 * self->ps);
	ASSERT_EQ(self->map + 10 * self->ps, p);
	EXPECT_EQ(-1, zio_nonzero(p, self->ps));
	EXPECT_TRUE(zio_check(self->map, 10 * self->ps, 4));
	EXPECT_TRUE(zio_check_at(self->map + 11 * self->ps, 11 * self->ps,
				 self->len - 11 * self->ps, 4));

	/* All of it. */
	ASSERT_EQ(0, munmap(self->map, self->len));
	ASSERT_EQ(0, zio_counters(self->fd, false, &c));
	EXPECT_EQ(0, c.pages_live);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	EXPECT_EQ(-1, zio_nonzero(self->map, self->len));
}

TEST_F(space, offsets_are_distinct)
{
	char *a, *b;

	/* Two mappings at different offsets are different memory. */
	a = zio_map(self->fd, 4 * self->ps, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = zio_map(self->fd, 4 * self->ps, 8 * self->ps);
	ASSERT_NE(MAP_FAILED, b);
	zio_fill(a, 4 * self->ps, 5);
	EXPECT_EQ(-1, zio_nonzero(b, 4 * self->ps));
	zio_fill(b, 4 * self->ps, 6);
	EXPECT_TRUE(zio_check(a, 4 * self->ps, 5));
	EXPECT_TRUE(zio_check(b, 4 * self->ps, 6));
	munmap(a, 4 * self->ps);
	munmap(b, 4 * self->ps);
}

/* Two mappings of the same offsets in one process are the same memory. */
TEST_F(space, aliases)
{
	size_t ps = self->ps;
	char *a, *b;

	a = zio_map(self->fd, 8 * ps, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = zio_map(self->fd, 8 * ps, 0);
	ASSERT_NE(MAP_FAILED, b);
	self->map = zio_map(self->fd, self->len, 16 * ps);
	ASSERT_NE(MAP_FAILED, self->map);

	zio_fill(a, 8 * ps, 1);
	EXPECT_TRUE(zio_check(b, 8 * ps, 1));
	/* A copy into one alias shows in the other, mapped or not. */
	zio_fill(self->map, 8 * ps, 2);
	ASSERT_EQ(0, zio_copy(self->fd, a, self->map, 4 * ps, NULL));
	ASSERT_EQ(0, zio_copy(self->fd, b + 4 * ps + 1, self->map, 3 * ps, NULL));
	EXPECT_TRUE(zio_check(b, 4 * ps, 2));
	EXPECT_TRUE(zio_check(a + 4 * ps + 1, 3 * ps, 2));
	/* A copy from one alias to the other is a copy onto itself. */
	ASSERT_EQ(0, zio_copy(self->fd, b, a, 4 * ps, NULL));
	EXPECT_TRUE(zio_check(a, 4 * ps, 2));
	/* Writes through one show in the other. */
	b[5] = 0x42;
	EXPECT_EQ(0x42, a[5]);
	zio_fill(self->map, 8 * ps, 3);
	EXPECT_TRUE(zio_check_at(a + 6, 6, 4 * ps - 6, 2));

	/* Unmapping one alias keeps what the other still maps. */
	ASSERT_EQ(0, munmap(b, 8 * ps));
	EXPECT_EQ(0x42, a[5]);
	EXPECT_TRUE(zio_check_at(a + 6, 6, 4 * ps - 6, 2));
	ASSERT_EQ(0, munmap(a, 8 * ps));
	a = zio_map(self->fd, 8 * ps, 0);
	ASSERT_NE(MAP_FAILED, a);
	EXPECT_EQ(-1, zio_nonzero(a, 8 * ps));
	munmap(a, 8 * ps);
}

TEST_F(space, opens_are_distinct)
{
	int fd2 = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	char *b;

	ASSERT_LE(0, fd2);
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	b = zio_map(fd2, self->len, 0);
	ASSERT_NE(MAP_FAILED, b);
	zio_fill(self->map, self->len, 7);
	EXPECT_EQ(-1, zio_nonzero(b, self->len));
	zio_fill(b, self->len, 8);
	EXPECT_TRUE(zio_check(self->map, self->len, 7));
	munmap(b, self->len);
	close(fd2);
}

TEST_F(space, madv_dontneed_keeps_data)
{
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 9);
	ASSERT_EQ(0, madvise(self->map, self->len, MADV_DONTNEED));
	EXPECT_TRUE(zio_check(self->map, self->len, 9));
	ASSERT_EQ(0, madvise(self->map + self->ps, self->ps, MADV_DONTNEED));
	self->map[self->ps] ^= 0xff;
	self->map[self->ps] ^= 0xff;
	EXPECT_TRUE(zio_check(self->map, self->len, 9));
}

static sigjmp_buf segv_env;

static void segv_handler(int sig)
{
	(void)sig;
	siglongjmp(segv_env, 1);
}

/* Write one byte at @p: true when it faulted with SIGSEGV. */
static bool write_faults(volatile char *p, char v)
{
	struct sigaction sa = { .sa_handler = segv_handler }, old;
	bool faulted = false;

	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(segv_env, 1) == 0)
		*p = v;
	else
		faulted = true;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

TEST_F(space, mprotect)
{
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 10);

	ASSERT_EQ(0, mprotect(self->map + 4 * self->ps, 4 * self->ps, PROT_READ));
	EXPECT_TRUE(write_faults(self->map + 5 * self->ps + 3, 0));
	EXPECT_FALSE(write_faults(self->map + 3 * self->ps, self->map[3 * self->ps]));
	EXPECT_TRUE(zio_check(self->map, self->len, 10));

	ASSERT_EQ(0, mprotect(self->map + 4 * self->ps, 4 * self->ps,
			      PROT_READ | PROT_WRITE));
	EXPECT_FALSE(write_faults(self->map + 5 * self->ps + 3, 0x42));
	EXPECT_EQ(0x42, self->map[5 * self->ps + 3]);
	EXPECT_TRUE(zio_check(self->map, 5 * self->ps + 3, 10));
	EXPECT_TRUE(zio_check_at(self->map + 5 * self->ps + 4, 5 * self->ps + 4,
				 self->len - 5 * self->ps - 4, 10));
}

TEST_F(space, mprotect_none)
{
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 11);
	ASSERT_EQ(0, mprotect(self->map, self->len, PROT_NONE));
	ASSERT_EQ(0, mprotect(self->map, self->len, PROT_READ | PROT_WRITE));
	EXPECT_TRUE(zio_check(self->map, self->len, 11));
}

TEST_F(space, mlock)
{
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len / 2, 12);
	ASSERT_EQ(0, mlock(self->map, self->len));
	EXPECT_TRUE(zio_check(self->map, self->len / 2, 12));
	EXPECT_EQ(-1, zio_nonzero(self->map + self->len / 2, self->len / 2));
	zio_fill(self->map, self->len, 13);
	ASSERT_EQ(0, munlock(self->map, self->len));
	EXPECT_TRUE(zio_check(self->map, self->len, 13));
}

TEST_F(space, msync)
{
	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 14);
	EXPECT_EQ(0, msync(self->map, self->len, MS_SYNC));
	EXPECT_EQ(0, msync(self->map, self->len, MS_ASYNC));
	EXPECT_EQ(0, msync(self->map, self->len, MS_INVALIDATE));
	EXPECT_TRUE(zio_check(self->map, self->len, 14));
}

TEST_F(space, close_while_mapped)
{
	struct zio_counters c;

	self->map = zio_map(self->fd, self->len, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	zio_fill(self->map, self->len, 15);
	/* The mapping holds the file: the data stays until munmap. */
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_TRUE(zio_check(self->map, self->len, 15));
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_LE(NPAGES, c.pages_live);
	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = NULL;
	ASSERT_EQ(0, zio_global_counters(&c));
	EXPECT_EQ(0, c.pages_live);
	EXPECT_EQ(0, c.pages_pending);
}

ZIO_TEST_NOTHING_LEFT()

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/zio basics: open, the info ioctl and what bad input gets.
 */
#include <string.h>
#include <sys/mman.h>

#include "zio_test.h"

FIXTURE(device) {
	int fd;
};

FIXTURE_SETUP(device)
{
	self->fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(device)
{
	close(self->fd);
}

TEST_F(device, info)
{
	struct zio_info info = { 0 };

	ASSERT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(ZIO_API_VERSION, info.api_version);
	EXPECT_EQ((__u64)sysconf(_SC_PAGESIZE), info.page_size);
	EXPECT_LT(0, info.space_limit);
	EXPECT_EQ(1, info.enabled);
	EXPECT_LT(0, info.copy_threshold);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0, info.reserved);
}

TEST_F(device, info_rejects_flags)
{
	struct zio_info info = { .flags = 1 };

	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	info.flags = 1ULL << 63;
	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	EXPECT_EQ(0, info.api_version);
}

TEST_F(device, info_rejects_reserved)
{
	struct zio_info info = { .reserved = 1 };

	EXPECT_EQ(-EINVAL, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
	/* Output-only fields are ignored on input. */
	info = (struct zio_info){ .enabled = 7, .copy_threshold = 9 };
	EXPECT_EQ(0, zio_ioctl(self->fd, ZIO_IOC_INFO, &info));
}

TEST_F(device, info_bad_address)
{
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_INFO, NULL));
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_INFO, (void *)16));
	/* A kernel address (direct map): never dereferenced for the caller. */
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_INFO,
				     (void *)0xffff888000000000ULL));
}

TEST_F(device, info_read_only_buffer)
{
	struct zio_info *info;

	info = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, info);
	/* Readable input, unwritable output: the result cannot be returned. */
	EXPECT_EQ(-EFAULT, zio_ioctl(self->fd, ZIO_IOC_INFO, info));
	munmap(info, 4096);
}

TEST_F(device, unknown_commands)
{
	char buf[256] = { 0 };

	EXPECT_EQ(-ENOTTY, zio_ioctl(self->fd, _IO(ZIO_IOC_TYPE, 0xff), buf));
	EXPECT_EQ(-ENOTTY, zio_ioctl(self->fd, _IOWR(ZIO_IOC_TYPE, 0x9f, __u64), buf));
	/* The info command with another size is another command. */
	EXPECT_EQ(-ENOTTY, zio_ioctl(self->fd, _IOWR(ZIO_IOC_TYPE, 0x80, __u64), buf));
	EXPECT_EQ(-ENOTTY, zio_ioctl(self->fd, _IOR(ZIO_IOC_TYPE, 0x80, struct zio_info), buf));
	EXPECT_EQ(-ENOTTY, zio_ioctl(self->fd, TCGETS, buf));
}

TEST(opens_are_independent)
{
	struct zio_info b = { 0 };
	int fd1, fd2;

	fd1 = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd1);
	fd2 = open(ZIO_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	close(fd1);
	/* The second open keeps working after the first is gone. */
	EXPECT_EQ(0, zio_ioctl(fd2, ZIO_IOC_INFO, &b));
	EXPECT_EQ(ZIO_API_VERSION, b.api_version);
	close(fd2);
}

TEST(many_opens)
{
	int fds[64];

	for (int i = 0; i < 64; i++) {
		fds[i] = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]);
	}
	for (int i = 0; i < 64; i++)
		close(fds[i]);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Talking to /dev/zio: every ioctl of the library, each returning 0 (or
 * bytes) or -errno. Leaves errno as the ioctl left it. No state, no other
 * file of the library used: zioctl links this file alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

/** zio_dev_open() - open the device; its fd (close-on-exec) or -errno */
int zio_dev_open(void)
{
	int fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/** zio_dev_info() - ZIO_IOC_INFO into @info (zeroed first) */
int zio_dev_info(int fd, struct zio_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, ZIO_IOC_INFO, info) ? -errno : 0;
}

/** zio_dev_copy() - ZIO_IOC_COPY of @c, which gets the module's answer */
int zio_dev_copy(int fd, struct zio_copy *c)
{
	return ioctl(fd, ZIO_IOC_COPY, c) ? -errno : 0;
}

/** zio_dev_discard() - ZIO_IOC_DISCARD of [@addr, @addr + @len) */
int zio_dev_discard(int fd, uintptr_t addr, size_t len)
{
	struct zio_range r = { .addr = addr, .len = len };

	return ioctl(fd, ZIO_IOC_DISCARD, &r) ? -errno : 0;
}

/** zio_dev_stats() - ZIO_IOC_STATS into @st */
int zio_dev_stats(int fd, struct zio_stats *st)
{
	return ioctl(fd, ZIO_IOC_STATS, st) ? -errno : 0;
}

/** zio_dev_io() - ZIO_IOC_WRITE (@write) or ZIO_IOC_READ of @io; bytes or -errno */
int zio_dev_io(int fd, bool write, struct zio_io *io)
{
	int ret = ioctl(fd, write ? ZIO_IOC_WRITE : ZIO_IOC_READ, io);

	return ret < 0 ? -errno : ret;
}

ZIO_EXPORT int zio_get_info(struct zio_info *info)
{
	int fd, ret;

	fd = zio_dev_open();
	if (fd < 0)
		return fd;
	ret = zio_dev_info(fd, info);
	close(fd);
	return ret;
}

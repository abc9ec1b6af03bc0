// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Talking to /dev/zio.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libzio.h"

#define ZIO_EXPORT __attribute__((visibility("default")))

ZIO_EXPORT int zio_get_info(struct zio_info *info)
{
	int fd, ret = 0;

	fd = open(ZIO_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	if (ioctl(fd, ZIO_IOC_INFO, info))
		ret = -errno;
	close(fd);
	return ret;
}

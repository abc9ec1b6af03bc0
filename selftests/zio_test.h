/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the zio selftests.
 */
#ifndef _ZIO_TEST_H
#define _ZIO_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/zio.h>

#include "kselftest_harness.h"

/*
 * Without the module there is nothing to test: report the whole program as
 * skipped (exit 4), before the harness starts.
 */
static void __attribute__((constructor)) zio_test_require_device(void)
{
	if (access(ZIO_DEVICE_PATH, F_OK) == 0)
		return;
	printf("TAP version 13\n1..0 # SKIP %s is missing: zio.ko is not loaded\n",
	       ZIO_DEVICE_PATH);
	exit(KSFT_SKIP);
}

/* ioctl() that returns -errno on failure, for ASSERT_EQ(-EINVAL, ...). */
static inline int zio_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

#endif /* _ZIO_TEST_H */

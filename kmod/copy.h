/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The copy and discard ioctls (copy.c).
 */
#ifndef _ZIO_COPY_H
#define _ZIO_COPY_H

#include <linux/fs.h>

#include <linux/zio.h>

long zio_ioctl_copy(struct file *file, struct zio_copy __user *uarg);
long zio_ioctl_discard(struct file *file, struct zio_range __user *uarg);

#endif /* _ZIO_COPY_H */

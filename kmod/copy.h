/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The copy and discard ioctls (copy.c).
 */
#ifndef _ZIO_COPY_H
#define _ZIO_COPY_H

#include <linux/fs.h>

#include <linux/zio.h>

struct zio_file;

long zio_ioctl_copy(struct file *file, struct zio_copy *args);
void zio_copy_ctx_free(struct zio_file *zfile);
long zio_ioctl_discard(struct file *file, const struct zio_range *args);

#endif /* _ZIO_COPY_H */

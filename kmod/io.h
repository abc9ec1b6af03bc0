/* SPDX-License-Identifier: GPL-2.0 */
/*
 * I/O between zio buffers and file descriptors (io.c).
 */
#ifndef _ZIO_IO_H
#define _ZIO_IO_H

#include <linux/fs.h>

#include <linux/zio.h>

long zio_ioctl_write(struct file *file, const struct zio_io *args);
long zio_ioctl_read(struct file *file, const struct zio_io *args);

#endif /* _ZIO_IO_H */

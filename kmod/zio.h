/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zio internal interfaces.
 */
#ifndef _ZIO_H
#define _ZIO_H

#include <linux/fs.h>
#include <linux/types.h>

/**
 * struct zio_space - the state of one open of /dev/zio
 * @inode: a private inode from zio's pseudo filesystem; the file's f_mapping
 *	is this inode's address_space, so unmapping a range of it reaches only
 *	this open's mappings
 */
struct zio_space {
	struct inode *inode;
};

extern unsigned long zio_space_limit;

struct zio_space *zio_space_create(void);
void zio_space_destroy(struct zio_space *space);

int zio_device_register(void);
void zio_device_unregister(void);

#endif /* _ZIO_H */

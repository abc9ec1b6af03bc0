/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One open of /dev/zio (file.c): the open and release file operations and
 * the private inode every mapping of the open joins.
 */
#ifndef _ZIO_FILE_H
#define _ZIO_FILE_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mutex.h>

struct zio_copy_ctx;

/**
 * struct zio_file - one open of /dev/zio
 * @inode: private inode from zio's pseudo filesystem; the file's f_mapping
 *	is its address_space, so zapping a range reaches only this open's
 *	mappings (and those of its fork children)
 * @lock: protects @spaces
 * @spaces: the spaces of this open, one per process
 * @copy_ctx: a free copy context kept for the next ZIO_IOC_COPY (copy.c),
 *	or NULL; whoever takes it with xchg() owns it
 */
struct zio_file {
	struct inode *inode;
	struct mutex lock;		/* protects @spaces */
	struct list_head spaces;
	struct zio_copy_ctx *copy_ctx;
};

int zio_open(struct inode *inode, struct file *file);
int zio_release(struct inode *inode, struct file *file);

#endif /* _ZIO_FILE_H */

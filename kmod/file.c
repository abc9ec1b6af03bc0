// SPDX-License-Identifier: GPL-2.0
/*
 * Opens of /dev/zio: the open and release file operations, and the
 * private inode of each open.
 *
 * Every open gets an inode of its own from a small pseudo filesystem, the
 * way DRM gives each device file its own address_space: the misc device's
 * inode is shared by every open, and unmapping through it would reach other
 * processes' mappings.
 */
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>

#include "copy.h"
#include "file.h"

#define ZIO_FS_MAGIC		0x7a696f21	/* "zio!" */

/* Mounted while any open exists; the mount pins this module. */
static struct vfsmount *zio_fs_mnt;
static int zio_fs_count;

static int zio_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, ZIO_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * zio's pages point to the open's address_space while zio holds them (see
 * slot.c); marking one dirty, as a write fault or an unpin does, only sets
 * its flag: nothing is ever written back.
 */
static const struct address_space_operations zio_aops = {
	.dirty_folio = noop_dirty_folio,
};

static struct file_system_type zio_fs_type = {
	.name = "zio",
	.owner = THIS_MODULE,
	.init_fs_context = zio_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

/* The state of a new open, or an ERR_PTR(). */
static struct zio_file *zio_file_create(void)
{
	struct zio_file *zfile;
	struct inode *inode;
	int ret;

	zfile = kzalloc(sizeof(*zfile), GFP_KERNEL_ACCOUNT);
	if (!zfile)
		return ERR_PTR(-ENOMEM);

	ret = simple_pin_fs(&zio_fs_type, &zio_fs_mnt, &zio_fs_count);
	if (ret)
		goto out_free_zfile;

	inode = alloc_anon_inode(zio_fs_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto out_release_fs;
	}
	inode->i_mapping->a_ops = &zio_aops;
	zfile->inode = inode;
	mutex_init(&zfile->lock);
	INIT_LIST_HEAD(&zfile->spaces);
	return zfile;

out_release_fs:
	simple_release_fs(&zio_fs_mnt, &zio_fs_count);
out_free_zfile:
	kfree(zfile);
	return ERR_PTR(ret);
}

/* The file is released: its mappings, and so its spaces, are all gone. */
static void zio_file_destroy(struct zio_file *zfile)
{
	WARN_ON_ONCE(!list_empty(&zfile->spaces));
	zio_copy_ctx_free(zfile);
	iput(zfile->inode);
	simple_release_fs(&zio_fs_mnt, &zio_fs_count);
	kfree(zfile);
}

/**
 * zio_open() - open /dev/zio
 * @inode: the misc device's inode
 * @file: the new file; its f_mapping becomes the open's own
 *
 * Return: 0 or a negative errno.
 */
int zio_open(struct inode *inode, struct file *file)
{
	struct zio_file *zfile;

	zfile = zio_file_create();
	if (IS_ERR(zfile))
		return PTR_ERR(zfile);

	file->private_data = zfile;
	file->f_mapping = zfile->inode->i_mapping;
	return 0;
}

/**
 * zio_release() - the last reference to an open of /dev/zio went
 * @inode: the misc device's inode
 * @file: the file
 *
 * Return: 0.
 */
int zio_release(struct inode *inode, struct file *file)
{
	zio_file_destroy(file->private_data);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Spaces: the state behind one open of /dev/zio.
 *
 * Every space gets an inode of its own from a small pseudo filesystem, the
 * way DRM gives each device file its own address_space: the misc device's
 * inode is shared by every open, and unmapping through it would reach other
 * processes' mappings.
 */
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>

#include "zio.h"

#define ZIO_FS_MAGIC	0x7a696f21	/* "zio!" */

/* Mounted while any space exists; the mount pins this module. */
static struct vfsmount *zio_fs_mnt;
static int zio_fs_count;

static int zio_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, ZIO_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type zio_fs_type = {
	.name = "zio",
	.owner = THIS_MODULE,
	.init_fs_context = zio_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

/**
 * zio_space_create() - allocate the state of a new open of /dev/zio
 *
 * Return: the new space, or an ERR_PTR() on failure.
 */
struct zio_space *zio_space_create(void)
{
	struct zio_space *space;
	struct inode *inode;
	int ret;

	space = kzalloc(sizeof(*space), GFP_KERNEL_ACCOUNT);
	if (!space)
		return ERR_PTR(-ENOMEM);

	ret = simple_pin_fs(&zio_fs_type, &zio_fs_mnt, &zio_fs_count);
	if (ret)
		goto out_free_space;

	inode = alloc_anon_inode(zio_fs_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto out_release_fs;
	}
	space->inode = inode;
	return space;

out_release_fs:
	simple_release_fs(&zio_fs_mnt, &zio_fs_count);
out_free_space:
	kfree(space);
	return ERR_PTR(ret);
}

/**
 * zio_space_destroy() - free a space once its file is released
 * @space: the space; no mapping of it is left
 */
void zio_space_destroy(struct zio_space *space)
{
	iput(space->inode);
	simple_release_fs(&zio_fs_mnt, &zio_fs_count);
	kfree(space);
}

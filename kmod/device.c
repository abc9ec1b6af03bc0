// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/zio: the misc device, its file operations and the ioctl dispatch.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <linux/zio.h>

#include "zio.h"

static int zio_open(struct inode *inode, struct file *file)
{
	struct zio_file *zfile;

	zfile = zio_file_create();
	if (IS_ERR(zfile))
		return PTR_ERR(zfile);

	file->private_data = zfile;
	file->f_mapping = zfile->inode->i_mapping;
	return 0;
}

static int zio_release(struct inode *inode, struct file *file)
{
	zio_file_destroy(file->private_data);
	return 0;
}

static long zio_ioctl_info(struct zio_info __user *uarg)
{
	struct zio_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.flags || info.reserved)
		return -EINVAL;

	info.api_version = ZIO_API_VERSION;
	info.features = ZIO_FEATURE_COPY | ZIO_FEATURE_STATS | ZIO_FEATURE_IO;
	info.page_size = PAGE_SIZE;
	info.space_limit = READ_ONCE(zio_space_limit);
	info.copy_threshold = READ_ONCE(zio_copy_threshold);
	info.enabled = READ_ONCE(zio_enabled);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long zio_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case ZIO_IOC_INFO:
		return zio_ioctl_info(uarg);
	case ZIO_IOC_COPY:
		return zio_ioctl_copy(file, uarg);
	case ZIO_IOC_DISCARD:
		return zio_ioctl_discard(file, uarg);
	case ZIO_IOC_STATS:
		return zio_ioctl_stats(file, uarg);
	case ZIO_IOC_WRITE:
		return zio_ioctl_write(file, uarg);
	case ZIO_IOC_READ:
		return zio_ioctl_read(file, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations zio_fops = {
	.owner = THIS_MODULE,
	.open = zio_open,
	.release = zio_release,
	.mmap = zio_mmap,
	.unlocked_ioctl = zio_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
	.fsync = noop_fsync,
};

/*
 * World-usable like /dev/null: every operation acts only on the caller's own
 * open and its own mappings of it.
 */
static struct miscdevice zio_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "zio",
	.fops = &zio_fops,
	.mode = 0666,
};

/**
 * zio_device_register() - create /dev/zio
 *
 * Return: 0 or a negative errno from misc_register().
 */
int zio_device_register(void)
{
	return misc_register(&zio_miscdev);
}

/**
 * zio_device_unregister() - remove /dev/zio
 */
void zio_device_unregister(void)
{
	misc_deregister(&zio_miscdev);
}

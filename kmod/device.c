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
	struct zio_space *space;

	space = zio_space_create();
	if (IS_ERR(space))
		return PTR_ERR(space);

	file->private_data = space;
	file->f_mapping = space->inode->i_mapping;
	return 0;
}

static int zio_release(struct inode *inode, struct file *file)
{
	zio_space_destroy(file->private_data);
	return 0;
}

static long zio_ioctl_info(struct zio_space *space, void __user *uarg)
{
	struct zio_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.flags || memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;

	info.api_version = ZIO_API_VERSION;
	info.features = 0;
	info.page_size = PAGE_SIZE;
	info.space_limit = READ_ONCE(zio_space_limit);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long zio_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct zio_space *space = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case ZIO_IOC_INFO:
		return zio_ioctl_info(space, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations zio_fops = {
	.owner = THIS_MODULE,
	.open = zio_open,
	.release = zio_release,
	.unlocked_ioctl = zio_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
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

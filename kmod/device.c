// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/zio: the misc device, its file operations, the ioctl dispatch and
 * the two ioctls that only report (ZIO_IOC_INFO, ZIO_IOC_STATS).
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <linux/zio.h>

#include "copy.h"
#include "device.h"
#include "file.h"
#include "io.h"
#include "params.h"
#include "records.h"
#include "space.h"
#include "stats.h"
#include "vma.h"

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

/* ZIO_IOC_STATS: counters and copy records. */
static long zio_ioctl_stats(struct file *file, struct zio_stats __user *uarg)
{
	struct zio_space *space;
	struct zio_stats st;
	int ret = 0;

	if (copy_from_user(&st, uarg, sizeof(st)))
		return -EFAULT;
	if ((st.flags & ~ZIO_STATS_GLOBAL) ||
	    memchr_inv(st.reserved, 0, sizeof(st.reserved)))
		return -EINVAL;

	st.records_count = 0;
	st.records_total = 0;
	memset(&st.counters, 0, sizeof(st.counters));
	if (st.flags & ZIO_STATS_GLOBAL) {
		zio_global_counters(&st.counters);
	} else {
		space = zio_space_find(file->private_data, current->mm, false);
		if (space) {
			zio_space_counters(space, &st.counters);
			ret = zio_records_get(space, &st);
			zio_space_put(space);
		}
	}
	if (ret)
		return ret;
	if (copy_to_user(uarg, &st, sizeof(st)))
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

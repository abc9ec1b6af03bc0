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

static long zio_ioctl_info(struct zio_info *info)
{
	if (info->flags || info->reserved)
		return -EINVAL;

	info->api_version = ZIO_API_VERSION;
	info->features = ZIO_FEATURE_COPY | ZIO_FEATURE_STATS | ZIO_FEATURE_IO |
			 ZIO_FEATURE_IO_SOCKET;
	if (IS_ENABLED(CONFIG_XARRAY_MULTI))
		info->features |= ZIO_FEATURE_COPY_RUNS;
	info->page_size = PAGE_SIZE;
	info->space_limit = READ_ONCE(zio_space_limit);
	info->copy_threshold = READ_ONCE(zio_copy_threshold);
	info->enabled = READ_ONCE(zio_enabled);
	return 0;
}

/* ZIO_IOC_STATS: counters and copy records. */
static long zio_ioctl_stats(struct file *file, struct zio_stats *st)
{
	struct zio_space *space;
	int ret = 0;

	if ((st->flags & ~ZIO_STATS_GLOBAL) ||
	    memchr_inv(st->reserved, 0, sizeof(st->reserved)))
		return -EINVAL;

	st->records_count = 0;
	st->records_total = 0;
	memset(&st->counters, 0, sizeof(st->counters));
	if (st->flags & ZIO_STATS_GLOBAL) {
		zio_global_counters(&st->counters);
	} else {
		space = zio_space_find(file->private_data, current->mm, false);
		if (space) {
			zio_space_counters(space, &st->counters);
			ret = zio_records_get(space, st);
			zio_space_put(space);
		}
	}
	return ret;
}

/* The argument of every ioctl: zio_ioctl() alone copies it in and out. */
union zio_ioctl_arg {
	struct zio_info info;
	struct zio_copy copy;
	struct zio_range range;
	struct zio_stats stats;
	struct zio_io io;
};

/* Each command's size is its struct's, so zio_ioctl() may copy _IOC_SIZE. */
static_assert(_IOC_SIZE(ZIO_IOC_INFO) == sizeof(struct zio_info));
static_assert(_IOC_SIZE(ZIO_IOC_COPY) == sizeof(struct zio_copy));
static_assert(_IOC_SIZE(ZIO_IOC_DISCARD) == sizeof(struct zio_range));
static_assert(_IOC_SIZE(ZIO_IOC_STATS) == sizeof(struct zio_stats));
static_assert(_IOC_SIZE(ZIO_IOC_WRITE) == sizeof(struct zio_io));
static_assert(_IOC_SIZE(ZIO_IOC_READ) == sizeof(struct zio_io));

static const unsigned int zio_ioctl_cmds[] = {
	ZIO_IOC_INFO, ZIO_IOC_COPY, ZIO_IOC_DISCARD, ZIO_IOC_STATS,
	ZIO_IOC_WRITE, ZIO_IOC_READ,
};

static bool zio_ioctl_known(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(zio_ioctl_cmds); i++) {
		if (zio_ioctl_cmds[i] == cmd)
			return true;
	}
	return false;
}

static long zio_ioctl_dispatch(struct file *file, unsigned int cmd,
			       union zio_ioctl_arg *arg)
{
	switch (cmd) {
	case ZIO_IOC_INFO:
		return zio_ioctl_info(&arg->info);
	case ZIO_IOC_COPY:
		return zio_ioctl_copy(file, &arg->copy);
	case ZIO_IOC_DISCARD:
		return zio_ioctl_discard(file, &arg->range);
	case ZIO_IOC_STATS:
		return zio_ioctl_stats(file, &arg->stats);
	case ZIO_IOC_WRITE:
		return zio_ioctl_write(file, &arg->io);
	case ZIO_IOC_READ:
		return zio_ioctl_read(file, &arg->io);
	default:
		return -ENOTTY;
	}
}

/*
 * Copy the argument in, _IOC_SIZE(cmd) bytes, when the command has one
 * (_IOW), and out again after a handler succeeded when the command returns
 * one (_IOR). A failed handler leaves the caller's argument as it was.
 */
static long zio_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	unsigned int size = _IOC_SIZE(cmd);
	union zio_ioctl_arg karg;
	long ret;

	if (!zio_ioctl_known(cmd))
		return -ENOTTY;

	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		if (copy_from_user(&karg, uarg, size))
			return -EFAULT;
	} else {
		memset(&karg, 0, size);
	}
	ret = zio_ioctl_dispatch(file, cmd, &karg);
	if (ret || !(_IOC_DIR(cmd) & _IOC_READ))
		return ret;
	if (copy_to_user(uarg, &karg, size))
		return -EFAULT;
	return 0;
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

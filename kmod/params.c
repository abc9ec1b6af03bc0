// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters: the settings, and, in a ZIO_DEBUG build only, the
 * debug knobs of the selftests.
 *
 * A setting written through /sys/module/zio/parameters/ is checked against
 * the bounds the netlink family's ZIO_CMD_SET enforces (netlink.c): a value
 * out of them fails with EINVAL and changes nothing.
 */
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/stringify.h>

#include <linux/zio.h>

#include "params.h"

/* A number of bytes, at least a page, at most @max; page aligned if @align. */
static int zio_param_set_bytes(const char *val, const struct kernel_param *kp,
			       unsigned long max, bool align)
{
	unsigned long bytes;
	int ret;

	ret = kstrtoul(val, 0, &bytes);
	if (ret)
		return ret;
	if (bytes < PAGE_SIZE || bytes > max || (align && !PAGE_ALIGNED(bytes)))
		return -EINVAL;
	WRITE_ONCE(*(unsigned long *)kp->arg, bytes);
	return 0;
}

static int zio_param_set_space_limit(const char *val,
				     const struct kernel_param *kp)
{
	return zio_param_set_bytes(val, kp, ULONG_MAX, true);
}

static const struct kernel_param_ops zio_space_limit_ops = {
	.set = zio_param_set_space_limit,
	.get = param_get_ulong,
};

static int zio_param_set_copy_threshold(const char *val,
					const struct kernel_param *kp)
{
	return zio_param_set_bytes(val, kp, MAX_LFS_FILESIZE, false);
}

static const struct kernel_param_ops zio_copy_threshold_ops = {
	.set = zio_param_set_copy_threshold,
	.get = param_get_ulong,
};

static int zio_param_set_max_records(const char *val,
				     const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (n > ZIO_MAX_RECORDS_MAX)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, n);
	return 0;
}

static const struct kernel_param_ops zio_max_records_ops = {
	.set = zio_param_set_max_records,
	.get = param_get_uint,
};

/*
 * At least one page once loaded: 0 would fail every allocation. At load
 * (max_pages still 0), 0 is the default, which zio_init() then sets.
 */
static int zio_param_set_max_pages(const char *val,
				   const struct kernel_param *kp)
{
	unsigned long pages;
	int ret;

	ret = kstrtoul(val, 0, &pages);
	if (ret)
		return ret;
	if (!pages && READ_ONCE(*(unsigned long *)kp->arg))
		return -EINVAL;
	WRITE_ONCE(*(unsigned long *)kp->arg, pages);
	return 0;
}

static const struct kernel_param_ops zio_max_pages_ops = {
	.set = zio_param_set_max_pages,
	.get = param_get_ulong,
};

unsigned long zio_space_limit = 1UL << 30;
module_param_cb(space_limit, &zio_space_limit_ops, &zio_space_limit, 0644);
__MODULE_PARM_TYPE(space_limit, "ulong");
MODULE_PARM_DESC(space_limit, "Highest mmap offset + length of /dev/zio, in bytes: what one process may hold in one open; a multiple of the page size (default 1 GiB)");

unsigned long zio_max_pages;
module_param_cb(max_pages, &zio_max_pages_ops, &zio_max_pages, 0644);
__MODULE_PARM_TYPE(max_pages, "ulong");
MODULE_PARM_DESC(max_pages, "Pages zio may hold over all processes; past it allocations fail (ENOMEM, SIGBUS in a fault) (default: half of RAM)");

bool zio_enabled = true;
module_param_named(enabled, zio_enabled, bool, 0644);
MODULE_PARM_DESC(enabled, "Record copies (default Y); when N, ZIO_IOC_COPY fails with EOPNOTSUPP");

unsigned long zio_copy_threshold = 64 * 1024;
module_param_cb(copy_threshold, &zio_copy_threshold_ops, &zio_copy_threshold, 0644);
__MODULE_PARM_TYPE(copy_threshold, "ulong");
MODULE_PARM_DESC(copy_threshold, "Copy size from which libzio uses zio, by default; at least a page (default 64 KiB)");

unsigned int zio_max_records = 256;
module_param_cb(max_records, &zio_max_records_ops, &zio_max_records, 0644);
__MODULE_PARM_TYPE(max_records, "uint");
MODULE_PARM_DESC(max_records, "Copy records kept per process and open, at most "
		 __stringify(ZIO_MAX_RECORDS_MAX) " (default 256)");

#ifdef ZIO_DEBUG
bool zio_debug_skip_barrier;
module_param_named(debug_skip_barrier, zio_debug_skip_barrier, bool, 0600);
MODULE_PARM_DESC(debug_skip_barrier, "Debug only, breaks correctness: zap before waiting for faults in progress");

unsigned int zio_debug_fault_delay_us;
module_param_named(debug_fault_delay_us, zio_debug_fault_delay_us, uint, 0600);
MODULE_PARM_DESC(debug_fault_delay_us, "Debug only: sleep this long in every fault before the page is mapped");

unsigned int zio_debug_fork_delay_us;
module_param_named(debug_fork_delay_us, zio_debug_fork_delay_us, uint, 0600);
MODULE_PARM_DESC(debug_fork_delay_us, "Debug only: sleep this long in a fork after the zap of the parent's slots and after the snapshot of each");

unsigned int zio_debug_io_install_pages;
module_param_named(debug_io_install_pages, zio_debug_io_install_pages, uint, 0600);
MODULE_PARM_DESC(debug_io_install_pages, "Debug only: ZIO_IOC_READ puts at most this many pages in place, as if memory ran out (0: no limit)");

bool zio_debug_no_runs;
module_param_named(debug_no_runs, zio_debug_no_runs, bool, 0600);
MODULE_PARM_DESC(debug_no_runs, "Debug only: copies give each destination page its own entry, never a run");

unsigned int zio_debug_fork_fail_after;
module_param_named(debug_fork_fail_after, zio_debug_fork_fail_after, uint, 0600);
MODULE_PARM_DESC(debug_fork_fail_after, "Debug only: a fork's snapshot of a space fails after this many slots, as if memory ran out (0: never)");
#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * zio: copies between mappings of /dev/zio are recorded, not performed;
 * pages are materialized when a fault shows that somebody needs them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>

#include "zio.h"

unsigned long zio_space_limit = 1UL << 30;
module_param_named(space_limit, zio_space_limit, ulong, 0644);
MODULE_PARM_DESC(space_limit, "Bytes one open of /dev/zio may hold (default 1 GiB)");

static int __init zio_init(void)
{
	return zio_device_register();
}

static void __exit zio_exit(void)
{
	zio_device_unregister();
}

module_init(zio_init);
module_exit(zio_exit);

MODULE_DESCRIPTION("zio: copies recorded instead of performed");
MODULE_AUTHOR("zio developers");
MODULE_LICENSE("GPL");

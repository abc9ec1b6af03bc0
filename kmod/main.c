// SPDX-License-Identifier: GPL-2.0
/*
 * zio: copies between mappings of /dev/zio are recorded, not performed;
 * pages are materialized when a fault shows that somebody needs them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/mm.h>

#include "device.h"
#include "netlink.h"
#include "params.h"
#include "reclaim.h"
#include "slot.h"

static int __init zio_init(void)
{
	int ret;

	if (!zio_max_pages)
		zio_max_pages = totalram_pages() / 2;

	ret = zio_runs_init();
	if (ret)
		return ret;
	/* The family first: creating spaces sends its events. */
	ret = zio_netlink_register();
	if (ret)
		goto out_destroy_runs;
	ret = zio_reclaim_register();
	if (ret)
		goto out_unregister_netlink;
	ret = zio_device_register();
	if (ret)
		goto out_unregister_reclaim;
	return 0;

out_unregister_reclaim:
	zio_reclaim_unregister();
out_unregister_netlink:
	zio_netlink_unregister();
out_destroy_runs:
	zio_runs_exit();
	return ret;
}

static void __exit zio_exit(void)
{
	zio_device_unregister();
	zio_reclaim_unregister();
	zio_netlink_unregister();
	zio_runs_exit();
}

module_init(zio_init);
module_exit(zio_exit);

MODULE_DESCRIPTION("zio: copies recorded instead of performed");
MODULE_AUTHOR("zio developers");
MODULE_LICENSE("GPL");

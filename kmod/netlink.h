/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "zio" generic netlink family (netlink.c): statistics, settings and
 * events.
 */
#ifndef _ZIO_NETLINK_H
#define _ZIO_NETLINK_H

#include <linux/types.h>

struct vm_area_struct;
struct zio_space;

int zio_netlink_register(void);
void zio_netlink_unregister(void);
void zio_notify_space(struct zio_space *space, u8 cmd);
void zio_notify_limit(struct vm_area_struct *vma);

#endif /* _ZIO_NETLINK_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module parameters (params.c): the settings, which netlink reads and
 * changes too, and the debug knobs the selftests use.
 */
#ifndef _ZIO_PARAMS_H
#define _ZIO_PARAMS_H

#include <linux/types.h>

extern unsigned long zio_space_limit;
extern unsigned long zio_max_pages;
extern bool zio_enabled;
extern unsigned long zio_copy_threshold;
extern unsigned int zio_max_records;
extern bool zio_debug_skip_barrier;
extern unsigned int zio_debug_fault_delay_us;
extern unsigned int zio_debug_io_install_pages;
extern unsigned int zio_debug_fork_fail_after;

#endif /* _ZIO_PARAMS_H */

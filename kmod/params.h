/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module parameters (params.c): the settings, which netlink reads and
 * changes too, and the debug knobs the selftests use.
 */
#ifndef _ZIO_PARAMS_H
#define _ZIO_PARAMS_H

#include <linux/compiler.h>
#include <linux/types.h>

extern unsigned long zio_space_limit;
extern unsigned long zio_max_pages;
extern bool zio_enabled;
extern unsigned long zio_copy_threshold;
extern unsigned int zio_max_records;

/*
 * The debug knobs exist only in a module built with ZIO_DEBUG (make
 * ZIO_DEBUG=1): one of them breaks correctness on purpose. Elsewhere
 * ZIO_DEBUG_KNOB() is 0 and the code behind it goes away.
 */
#ifdef ZIO_DEBUG
extern bool zio_debug_skip_barrier;
extern unsigned int zio_debug_fault_delay_us;
extern unsigned int zio_debug_io_install_pages;
extern unsigned int zio_debug_fork_fail_after;
extern unsigned int zio_debug_fork_delay_us;
extern bool zio_debug_no_runs;
#define ZIO_DEBUG_KNOB(name)	READ_ONCE(zio_debug_##name)
#else
#define ZIO_DEBUG_KNOB(name)	0
#endif

#endif /* _ZIO_PARAMS_H */

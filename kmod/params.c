// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters: the settings, and the debug knobs of the selftests.
 */
#include <linux/moduleparam.h>

#include "params.h"

unsigned long zio_space_limit = 1UL << 30;
module_param_named(space_limit, zio_space_limit, ulong, 0644);
MODULE_PARM_DESC(space_limit, "Highest mmap offset + length of /dev/zio, in bytes: what one process may hold in one open (default 1 GiB)");

unsigned long zio_max_pages;
module_param_named(max_pages, zio_max_pages, ulong, 0644);
MODULE_PARM_DESC(max_pages, "Pages zio may hold over all processes; past it allocations fail (ENOMEM, SIGBUS in a fault) (default: half of RAM)");

bool zio_enabled = true;
module_param_named(enabled, zio_enabled, bool, 0644);
MODULE_PARM_DESC(enabled, "Record copies (default Y); when N, ZIO_IOC_COPY fails with EOPNOTSUPP");

unsigned long zio_copy_threshold = 64 * 1024;
module_param_named(copy_threshold, zio_copy_threshold, ulong, 0644);
MODULE_PARM_DESC(copy_threshold, "Copy size from which libzio uses zio, by default (default 64 KiB)");

unsigned int zio_max_records = 256;
module_param_named(max_records, zio_max_records, uint, 0644);
MODULE_PARM_DESC(max_records, "Copy records kept per process and open (default 256)");

bool zio_debug_skip_barrier;
module_param_named(debug_skip_barrier, zio_debug_skip_barrier, bool, 0600);
MODULE_PARM_DESC(debug_skip_barrier, "Debug only, breaks correctness: zap before waiting for faults in progress");

unsigned int zio_debug_fault_delay_us;
module_param_named(debug_fault_delay_us, zio_debug_fault_delay_us, uint, 0600);
MODULE_PARM_DESC(debug_fault_delay_us, "Debug only: sleep this long in every fault before the page is mapped");

unsigned int zio_debug_io_install_pages;
module_param_named(debug_io_install_pages, zio_debug_io_install_pages, uint, 0600);
MODULE_PARM_DESC(debug_io_install_pages, "Debug only: ZIO_IOC_READ puts at most this many pages in place, as if memory ran out (0: no limit)");

unsigned int zio_debug_fork_fail_after;
module_param_named(debug_fork_fail_after, zio_debug_fork_fail_after, uint, 0600);
MODULE_PARM_DESC(debug_fork_fail_after, "Debug only: a fork's snapshot of a space fails after this many slots, as if memory ran out (0: never)");

/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * zio: copies recorded instead of performed, between mappings of /dev/zio.
 *
 * The one header shared by the module, libzio, zioctl and the selftests.
 * Every structure is made of __u64 fields only, so it has the same layout on
 * 32-bit and 64-bit user space; reserved fields and unknown flags must be
 * zero, and the kernel rejects anything else with -EINVAL so that they can
 * be given a meaning later.
 */
#ifndef _UAPI_LINUX_ZIO_H
#define _UAPI_LINUX_ZIO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ZIO_DEVICE_PATH		"/dev/zio"
#define ZIO_API_VERSION		1

/*
 * ioctl type 'Z': Documentation/userspace-api/ioctl/ioctl-number.rst gives
 * 'Z' only numbers 14-15 (mptctl), so zio takes 0x80-0x9f, clear of them,
 * with a letter that names it.
 */
#define ZIO_IOC_TYPE		'Z'

/**
 * struct zio_info - what the module offers (ZIO_IOC_INFO)
 * @flags: in, must be 0
 * @api_version: out, ZIO_API_VERSION of the module
 * @features: out, ZIO_FEATURE_* bits the module supports
 * @page_size: out, the size of one page slot in bytes
 * @space_limit: out, the bytes one open of /dev/zio may hold
 * @reserved: in, must be 0
 */
struct zio_info {
	__u64 flags;
	__u64 api_version;
	__u64 features;
	__u64 page_size;
	__u64 space_limit;
	__u64 reserved[3];
};

#define ZIO_IOC_INFO		_IOWR(ZIO_IOC_TYPE, 0x80, struct zio_info)

#endif /* _UAPI_LINUX_ZIO_H */

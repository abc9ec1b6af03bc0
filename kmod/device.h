/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /dev/zio (device.c): the misc device and the ioctl dispatch.
 */
#ifndef _ZIO_DEVICE_H
#define _ZIO_DEVICE_H

int zio_device_register(void);
void zio_device_unregister(void);

#endif /* _ZIO_DEVICE_H */

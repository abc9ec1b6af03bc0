# SPDX-License-Identifier: GPL-2.0
#
# zio: copies recorded instead of performed.
#
#   make              zio.ko for every supported kernel, libzio.so, zioctl,
#                     the selftests (all under build/)
#   make check        install dependencies, build, checkpatch, then every
#                     selftest in QEMU on each supported kernel
#   make check-debug  the same on zio's debug kernels (KASAN, lockdep,
#                     kmemleak...; built and cached at the first use), plus
#                     a longer fuzz, trinity and a kmemleak scan
#   make check-kcsan  the same on zio's KCSAN kernels: a data race with zio
#                     in it fails
#   make run          the demo, in QEMU
#   make bench        zio against libc, ratios from one VM boot
#   make install      library, headers, zioctl, documentation (PREFIX, DESTDIR)
#   make dkms-install the module's sources into /usr/src/zio-VERSION, for dkms
#
#   KERNEL=6.1        one kernel series only (6.1 or 6.12; default: both)
#   KDIR=/path        build the module against these headers only
#   ZIO_DEBUG=1       build the module with its debug knobs (kmod/params.c);
#                     scripts/check builds that one for the selftests
#
# The module itself is built by Kbuild (Kbuild, kmod/Kbuild); this file only
# drives it, per kernel, in build/<release>/.

KERNEL ?= 6.1 6.12
PREFIX ?= /usr/local
BUILD := build
KTOOLS := .cache/linux-6.1
KSRC_TARBALL := /usr/src/linux-source-6.1.tar.xz
KTOOLS_FILES := tools/testing/selftests/kselftest_harness.h \
		tools/testing/selftests/kselftest.h \
		tools/testing/selftests/lib.mk \
		scripts/checkpatch.pl scripts/spelling.txt \
		scripts/const_structs.checkpatch

CC := gcc
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iuapi -Ilib
# libzio.so: the interposer, the arena, the policy, the I/O calls and the
# explicit API.
LIB_SRCS := lib/device.c lib/preload.c lib/arena.c lib/policy.c lib/io.c lib/api.c
LIB_HDRS := lib/zio.h lib/internal.h uapi/linux/zio.h
# zioctl only talks to the device: no interposed allocator in it.
ZIOCTL_SRCS := lib/zioctl.c lib/device.c
VERSION := 0.1

export KERNEL

.PHONY: all modules lib tools bench-tools selftests check check-debug check-kcsan run bench install dkms-install clean

all: modules lib tools bench-tools selftests

modules:
ifdef KDIR
	@rel=$$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h) && \
	scripts/build-module $(KDIR) $(BUILD)/$$rel
else
	@releases=$$(scripts/kernels $(KERNEL) | cut -d' ' -f2) || exit 1; \
	for rel in $$releases; do \
		scripts/build-module /lib/modules/$$rel/build $(BUILD)/$$rel || exit 1; \
	done
endif

lib: $(BUILD)/lib/libzio.so

$(BUILD)/lib/libzio.so: $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -fvisibility=hidden -fno-builtin -pthread \
		-Wl,-soname,libzio.so.1 -Wl,-z,now -o $@ $(LIB_SRCS)
	ln -sf libzio.so $(@D)/libzio.so.1

tools: $(BUILD)/bin/zioctl

LIBNL_CFLAGS := $(shell pkg-config --cflags libnl-genl-3.0)
LIBNL_LIBS := $(shell pkg-config --libs libnl-genl-3.0)

$(BUILD)/bin/zioctl: $(ZIOCTL_SRCS) lib/zio.h uapi/linux/zio.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LIBNL_CFLAGS) -o $@ $(ZIOCTL_SRCS) $(LIBNL_LIBS)

BENCH_PROGS := $(BUILD)/bin/copy_bench $(BUILD)/bin/chain_bench $(BUILD)/bin/policy_bench

bench-tools: $(BENCH_PROGS)

$(BUILD)/bin/%_bench: bench/%_bench.c uapi/linux/zio.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# Its memcpy() must stay a call, for libzio to see it.
$(BUILD)/bin/policy_bench: CFLAGS += -fno-builtin

selftests: $(KTOOLS)/.extracted lib
	@mkdir -p $(BUILD)/selftests
	@$(MAKE) -s -C selftests OUTPUT=$(abspath $(BUILD)/selftests) \
		KSFT_DIR=$(abspath $(KTOOLS))/tools/testing/selftests

# The kselftest harness and checkpatch.pl, from Debian's kernel source.
$(KTOOLS)/.extracted:
	@test -f $(KSRC_TARBALL) || { echo "missing $(KSRC_TARBALL): run scripts/install-deps"; exit 1; }
	@rm -rf $(KTOOLS) && mkdir -p $(KTOOLS)
	tar -xJf $(KSRC_TARBALL) -C $(KTOOLS) --strip-components=1 \
		$(addprefix linux-source-6.1/,$(KTOOLS_FILES))
	@touch $@

check:
	@scripts/check

check-debug:
	@KERNEL="$(addprefix debug-,$(KERNEL))" scripts/check

check-kcsan:
	@KERNEL="$(addprefix kcsan-,$(KERNEL))" scripts/check

run:
	@scripts/run-demo

bench:
	@scripts/bench

install: lib tools
	install -D -m 0755 $(BUILD)/lib/libzio.so $(DESTDIR)$(PREFIX)/lib/libzio.so.1
	ln -sf libzio.so.1 $(DESTDIR)$(PREFIX)/lib/libzio.so
	install -D -m 0644 lib/zio.h $(DESTDIR)$(PREFIX)/include/zio.h
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' lib/zio.pc.in \
		>$(DESTDIR)$(PREFIX)/lib/pkgconfig/zio.pc
	install -D -m 0644 uapi/linux/zio.h $(DESTDIR)$(PREFIX)/include/linux/zio.h
	install -D -m 0755 $(BUILD)/bin/zioctl $(DESTDIR)$(PREFIX)/bin/zioctl
	install -D -m 0644 lib/zioctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/zioctl.8
	install -d $(DESTDIR)$(PREFIX)/share/doc/zio
	install -m 0644 README.md Documentation/*.rst $(DESTDIR)$(PREFIX)/share/doc/zio/

DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)

dkms-install:
	install -d $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/kmod $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/uapi/linux
	install -m 0644 dkms.conf Kbuild $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/
	install -m 0644 kmod/Kbuild kmod/*.[ch] $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/kmod/
	install -m 0644 uapi/linux/zio.h $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/uapi/linux/
	@echo "now: dkms add zio/$(DKMS_VERSION) && dkms build zio/$(DKMS_VERSION) -k RELEASE"

clean:
	rm -rf $(BUILD)

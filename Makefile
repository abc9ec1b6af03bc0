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
#   make check-all    make check on the six supported kernels: 6.1 and 6.12,
#                     generic, PREEMPT_RT and cloud
#   make install      library, headers, zio, zioctl, documentation (PREFIX,
#                     LIBDIR, DESTDIR)
#   make dkms-install the module's sources into /usr/src/zio-VERSION, for dkms
#   make deb          the Debian packages (zio-dkms, libzio0, libzio-dev,
#                     zio-tools) in build/deb/, checked by lintian
#
#   KERNEL=6.1        one kernel series only (6.1 or 6.12; default: both;
#                     6.1-rt, 6.12-rt, 6.1-cloud, 6.12-cloud too)
#   KDIR=/path        build the module against these headers only
#   ZIO_DEBUG=1       build the module with its debug knobs (kmod/params.c);
#                     scripts/check builds that one for the selftests
#
# Without KERNEL or KDIR, the module is built for those of Debian's two
# kernels that are installed, or, with neither (another distribution),
# against the running kernel's headers, /lib/modules/$(uname -r)/build.
#
# The module itself is built by Kbuild (Kbuild, kmod/Kbuild); this file only
# drives it, per kernel, in build/<release>/.

KERNEL ?= 6.1 6.12
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
BUILD := build
KTOOLS := .cache/linux-6.1
KSRC_TARBALL := /usr/src/linux-source-6.1.tar.xz
KTOOLS_FILES := tools/testing/selftests/kselftest_harness.h \
		tools/testing/selftests/kselftest.h \
		tools/testing/selftests/lib.mk \
		tools/testing/selftests/run_kselftest.sh \
		tools/testing/selftests/kselftest/runner.sh \
		tools/testing/selftests/kselftest/prefix.pl \
		scripts/checkpatch.pl scripts/spelling.txt \
		scripts/const_structs.checkpatch

CC := gcc
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iuapi -Ilib
# libzio.so: the interposer, the arena, the policy, the I/O calls and the
# explicit API.
LIB_SRCS := lib/state.c lib/log.c lib/device.c lib/next.c lib/arena.c lib/policy.c \
	lib/copy.c lib/alloc.c lib/io.c lib/stats.c lib/api.c lib/preload.c
LIB_HDRS := lib/libzio.h lib/internal.h uapi/linux/zio.h
# zioctl (GPL, tools/zioctl/) only talks to the device and the netlink
# family: no interposed allocator in it, just libzio's device calls.
ZIOCTL_SRCS := tools/zioctl/zioctl.c tools/zioctl/zio_genl.c lib/device.c
VERSION := 0.1
# The soname's number counts ABI breaks of the explicit API (libzio0).
SONAME := libzio.so.0

export KERNEL

.PHONY: all modules lib tools bench-tools selftests check check-all check-debug check-kcsan run bench install dkms-install deb clean

all: modules lib tools bench-tools selftests

modules:
ifdef KDIR
	@rel=$$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h) && \
	scripts/build-module $(KDIR) $(BUILD)/$$rel
else ifeq ($(origin KERNEL),file)
	@releases=$$(for s in $(KERNEL); do scripts/kernels $$s 2>/dev/null; done | cut -d' ' -f2); \
	if [ -z "$$releases" ]; then \
		releases=$$(uname -r); \
		test -f /lib/modules/$$releases/build/Makefile || { \
			echo "no Debian 6.1 or 6.12 kernel, and no headers of the running kernel in /lib/modules/$$releases/build:"; \
			echo "install your distribution's kernel headers, or on Debian run scripts/install-deps"; \
			exit 1; }; \
	fi; \
	for rel in $$releases; do \
		scripts/build-module /lib/modules/$$rel/build $(BUILD)/$$rel || exit 1; \
	done
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
		-Wl,-soname,$(SONAME) -Wl,-z,now -o $@ $(LIB_SRCS)
	ln -sf libzio.so $(@D)/$(SONAME)

tools: $(BUILD)/bin/zioctl $(BUILD)/bin/zio

# The launcher finds the library by a path relative to itself in build/, by
# LIBDIR once installed.
$(BUILD)/bin/zio: tools/zio/zio.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@LIBZIO@|../lib/$(SONAME)|' -e 's|@VERSION@|$(VERSION)|' $< >$@
	chmod 0755 $@

# libnl (zioctl, netlink_test): asked for only when something links with
# it, and without it the build stops at libnl-check with a message.
LIBNL_CFLAGS = $(shell pkg-config --cflags libnl-genl-3.0 2>/dev/null)
LIBNL_LIBS = $(shell pkg-config --libs libnl-genl-3.0 2>/dev/null)

.PHONY: libnl-check
libnl-check:
	@pkg-config --exists libnl-genl-3.0 2>/dev/null || { \
		echo "libnl-genl-3.0 is missing (pkg-config finds no libnl-genl-3.0.pc):"; \
		echo "run scripts/install-deps, or install libnl-3 and libnl-genl-3's development files"; \
		exit 1; }

$(BUILD)/bin/zioctl: | libnl-check

$(BUILD)/bin/zioctl: $(ZIOCTL_SRCS) tools/zioctl/zio_genl.h lib/libzio.h lib/internal.h uapi/linux/zio.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LIBNL_CFLAGS) -o $@ $(ZIOCTL_SRCS) $(LIBNL_LIBS)

BENCH_PROGS := $(BUILD)/bin/copy_bench $(BUILD)/bin/chain_bench $(BUILD)/bin/policy_bench

bench-tools: $(BENCH_PROGS)

$(BUILD)/bin/%_bench: bench/%_bench.c uapi/linux/zio.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# Its memcpy() must stay a call, for libzio to see it.
$(BUILD)/bin/policy_bench: CFLAGS += -fno-builtin

# The selftests are built in build/selftests, then installed as kselftest's
# own "make install" lays them out, in build/kselftest: run_kselftest.sh,
# kselftest/runner.sh, kselftest-list.txt and the collection "selftests"
# (the programs, the shell tests and the settings file with the timeout).
KSFT := $(abspath $(KTOOLS))/tools/testing/selftests
KSFT_INSTALL := $(BUILD)/kselftest

selftests: $(KTOOLS)/.extracted lib | libnl-check
	@mkdir -p $(BUILD)/selftests $(KSFT_INSTALL)/kselftest
	@$(MAKE) -s -C selftests OUTPUT=$(abspath $(BUILD)/selftests) KSFT_DIR=$(KSFT)
	@$(MAKE) -s -C selftests OUTPUT=$(abspath $(BUILD)/selftests) KSFT_DIR=$(KSFT) \
		INSTALL_PATH=$(abspath $(KSFT_INSTALL))/selftests install
	@$(MAKE) -s --no-print-directory -C selftests OUTPUT=$(abspath $(BUILD)/selftests) \
		KSFT_DIR=$(KSFT) COLLECTION=selftests emit_tests >$(KSFT_INSTALL)/kselftest-list.txt
	@install -m 0755 $(KSFT)/run_kselftest.sh $(KSFT_INSTALL)/
	@install -m 0755 $(KSFT)/kselftest/runner.sh $(KSFT)/kselftest/prefix.pl $(KSFT_INSTALL)/kselftest/

# The kselftest harness and runner and checkpatch.pl, from Debian's kernel
# source; extracted again when KTOOLS_FILES changes.
$(KTOOLS)/.extracted:
	@test -f $(KSRC_TARBALL) || { echo "missing $(KSRC_TARBALL): run scripts/install-deps"; exit 1; }
	@rm -rf $(KTOOLS) && mkdir -p $(KTOOLS)
	tar -xJf $(KSRC_TARBALL) -C $(KTOOLS) --strip-components=1 \
		$(addprefix linux-source-6.1/,$(KTOOLS_FILES))
	@echo '$(strip $(KTOOLS_FILES))' >$@
ifneq ($(strip $(file <$(KTOOLS)/.extracted)),$(strip $(KTOOLS_FILES)))
.PHONY: $(KTOOLS)/.extracted
endif

check:
	@scripts/check

check-all:
	@KERNEL="$$(scripts/kernels --all)" scripts/check

check-debug:
	@KERNEL="$(addprefix debug-,$(KERNEL))" scripts/check

check-kcsan:
	@KERNEL="$(addprefix kcsan-,$(KERNEL))" scripts/check

run:
	@scripts/run-demo

bench:
	@scripts/bench

install: lib tools
	install -D -m 0644 $(BUILD)/lib/libzio.so $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libzio.so
	install -D -m 0644 lib/libzio.h $(DESTDIR)$(PREFIX)/include/libzio.h
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		lib/zio.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/zio.pc
	install -D -m 0644 uapi/linux/zio.h $(DESTDIR)$(PREFIX)/include/linux/zio.h
	install -D -m 0755 $(BUILD)/bin/zioctl $(DESTDIR)$(PREFIX)/bin/zioctl
	sed -e 's|@LIBZIO@|$(LIBDIR)/$(SONAME)|' -e 's|@VERSION@|$(VERSION)|' tools/zio/zio.in \
		>$(DESTDIR)$(PREFIX)/bin/zio
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/zio
	install -D -m 0644 tools/zio/zio.1 $(DESTDIR)$(PREFIX)/share/man/man1/zio.1
	install -D -m 0644 tools/zio/libzio.3 $(DESTDIR)$(PREFIX)/share/man/man3/libzio.3
	install -D -m 0644 tools/zioctl/zioctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/zioctl.8
	install -d $(DESTDIR)$(PREFIX)/share/doc/zio
	install -m 0644 README.md Documentation/*.rst $(DESTDIR)$(PREFIX)/share/doc/zio/

DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)

dkms-install:
	install -d $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/kmod $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/uapi/linux
	install -m 0644 dkms.conf Kbuild $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/
	install -m 0644 kmod/Kbuild kmod/*.[ch] $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/kmod/
	install -m 0644 uapi/linux/zio.h $(DESTDIR)/usr/src/zio-$(DKMS_VERSION)/uapi/linux/
	@echo "now: dkms add zio/$(DKMS_VERSION) && dkms build zio/$(DKMS_VERSION) -k RELEASE"

deb:
	@scripts/make-deb

clean:
	rm -rf $(BUILD)

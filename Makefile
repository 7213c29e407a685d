# lkvm — `make`, `make check`, `make CROSS_COMPILE=aarch64-linux-gnu- STATIC=1`
#
#   make                      ./lkvm for this machine (arm64: the real backend;
#                             other hosts: builds and runs unit tests, `run` refuses)
#   make CROSS_COMPILE=aarch64-linux-gnu- STATIC=1
#                             a static ./lkvm for arm64 hosts (no libslirp:
#                             -n mode=user says so)
#   make CROSS_COMPILE=aarch64-linux-gnu- O=build/arm64-dyn
#                             a dynamic arm64 lkvm, with libslirp if
#                             libslirp-dev:arm64 is installed
#   SLIRP=0|1                 without/with libslirp (default: when it is there)
#   make check [SANITIZE=1]   unit tests (ASan+UBSan with SANITIZE=1)
#   O=DIR                     objects and the binary go to DIR instead
#   make install [PREFIX=/usr/local] [DESTDIR=]   (and make uninstall)
#
# Cross builds to arm64 take zlib/libaio from Debian's arm64 multiarch packages;
# libfdt-dev:arm64 is not multi-arch, so its .deb is unpacked under build/deps.

CROSS_COMPILE ?=
CC := $(CROSS_COMPILE)gcc
TARGET := $(shell $(CC) -dumpmachine 2>/dev/null)
ifeq ($(TARGET),)
$(error $(CC) not found)
endif
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

ifeq ($(SANITIZE),1)
VARIANT := -san
endif
ifeq ($(origin O),command line)
OBJ := $(O)
BIN := $(O)/lkvm
else
OBJ := build/$(TARGET)$(VARIANT)
# a sanitizer build never replaces ./lkvm
BIN := $(if $(VARIANT),$(OBJ)/lkvm,lkvm)
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE -Iinclude -MMD -MP
LDLIBS := -lz -laio -lpthread
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(STATIC),1)
LDFLAGS += -static
endif

# libfdt: the system's for native builds; for a cross build to arm64, the
# unpacked libfdt-dev:arm64 .deb (static archive + headers)
NATIVE := $(shell gcc -dumpmachine 2>/dev/null)
ifneq ($(TARGET),$(NATIVE))
FDT_DEB_DIR := build/deps/$(TARGET)/libfdt
FDT_STAMP := $(FDT_DEB_DIR)/.unpacked
CFLAGS += -I$(FDT_DEB_DIR)/usr/include
FDT_LIB := $(FDT_DEB_DIR)/usr/lib/$(TARGET)/libfdt.a
else
FDT_STAMP :=
FDT_LIB := -lfdt
endif

# User-mode networking (-n mode=user) needs libslirp, which Debian ships only
# as a shared library: a dynamic build has it when libslirp-dev (for a cross
# build: libslirp-dev:arm64) is installed; a STATIC=1 build never has it.
# SLIRP=0 leaves it out; SLIRP=1 insists on it.
SLIRP ?= auto
ifeq ($(SLIRP),auto)
ifeq ($(STATIC),1)
SLIRP := 0
else ifeq ($(TARGET),$(NATIVE))
SLIRP := $(shell pkg-config --exists slirp 2>/dev/null && echo 1 || echo 0)
else
SLIRP := $(if $(wildcard /usr/lib/$(TARGET)/libslirp.so),1,0)
endif
endif
ifeq ($(SLIRP),1)
ifeq ($(STATIC),1)
$(error SLIRP=1 needs a dynamic build: Debian has no static libslirp)
endif
CFLAGS += -DHAVE_SLIRP
LDLIBS += -lslirp
endif
# objects that depend on it are rebuilt when it changes
SLIRP_STAMP := $(OBJ)/net/slirp.cfg
$(shell mkdir -p $(OBJ)/net && [ "$$(cat $(SLIRP_STAMP) 2>/dev/null)" = "$(SLIRP)" ] || echo "$(SLIRP)" > $(SLIRP_STAMP))

# The seccomp filter (core/seccomp.c) needs libseccomp: libseccomp-dev (for a
# cross build: libseccomp-dev:arm64, Multi-Arch: same). Without it lkvm builds
# with no filter and `lkvm run` says so (a warning) at every start.
# SECCOMP=0 leaves it out; SECCOMP=1 insists on it (default: when it is there).
SECCOMP ?= auto
ifeq ($(SECCOMP),auto)
ifeq ($(TARGET),$(NATIVE))
SECCOMP := $(shell pkg-config --exists libseccomp 2>/dev/null && echo 1 || echo 0)
else
SECCOMP := $(if $(wildcard /usr/lib/$(TARGET)/libseccomp.$(if $(filter 1,$(STATIC)),a,so)),1,0)
endif
endif
ifeq ($(SECCOMP),1)
CFLAGS += -DHAVE_SECCOMP
LDLIBS += -lseccomp
endif
SECCOMP_STAMP := $(OBJ)/core/seccomp.cfg
$(shell mkdir -p $(OBJ)/core && [ "$$(cat $(SECCOMP_STAMP) 2>/dev/null)" = "$(SECCOMP)" ] || echo "$(SECCOMP)" > $(SECCOMP_STAMP))

CORE_SRCS := core/err.c core/log.c core/guest_mem.c core/mmio_bus.c core/vm.c \
	core/vcpu.c core/irq.c core/evloop.c core/file.c core/control.c core/seccomp.c \
	core/crash.c core/thread.c
TERM_SRCS := term/uart8250.c term/term.c
VIRTIO_SRCS := virtio/virtqueue.c virtio/device.c virtio/mmio.c virtio/mmio_dev.c \
	virtio/blk.c virtio/rng.c virtio/console.c virtio/9p.c
DISK_SRCS := disk/disk.c disk/raw.c disk/qcow2.c disk/qcow2_refcount.c
ARM_PURE_SRCS := arm/loader.c arm/fdt.c
ifneq (,$(findstring aarch64,$(TARGET)))
ARCH_SRCS := arm/kvm.c
else
ARCH_SRCS := core/arch_none.c
endif
P9_SRCS := $(wildcard 9p/*.c)
NET_SRCS := net/net.c net/rxq.c net/none.c net/tap.c net/user.c virtio/net.c
LIB_SRCS := run.c run_opts.c cmd_ctl.c commands.c cmd_test.c $(CORE_SRCS) $(TERM_SRCS) $(VIRTIO_SRCS) $(DISK_SRCS) $(ARM_PURE_SRCS) \
	$(ARCH_SRCS) $(P9_SRCS) $(NET_SRCS)
UNIT_SRCS := $(wildcard tests/unit/*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(OBJ)/%.o)
UNIT_BIN := $(OBJ)/tests/unit/unit-tests

.PHONY: all check clean install uninstall
all: $(BIN)

$(BIN): $(OBJ)/main.o $(LIB_OBJS) $(FDT_STAMP)
	$(CC) $(LDFLAGS) -o $@ $(OBJ)/main.o $(LIB_OBJS) $(FDT_LIB) $(LDLIBS)

# only main.o carries the version, so a commit does not rebuild everything
$(OBJ)/main.o: CFLAGS += -DLKVM_VERSION='"$(VERSION)"'
$(OBJ)/main.o: $(wildcard .git/index)

$(OBJ)/%.o: %.c $(FDT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(FDT_STAMP):
	@command -v apt-get >/dev/null || { echo "need apt-get to fetch libfdt-dev for $(TARGET)" >&2; exit 1; }
	rm -rf $(FDT_DEB_DIR) && mkdir -p $(FDT_DEB_DIR)
	cd $(FDT_DEB_DIR) && apt-get download -q libfdt-dev:$(shell dpkg-architecture -t $(TARGET) -qDEB_HOST_ARCH 2>/dev/null || echo arm64)
	dpkg-deb -x $(FDT_DEB_DIR)/libfdt-dev_*.deb $(FDT_DEB_DIR)
	touch $@

$(UNIT_BIN): $(UNIT_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(LIB_OBJS) $(FDT_LIB) $(LDLIBS)

check: $(UNIT_BIN)
	$(UNIT_BIN) tests/unit/data

# Other cross targets (s390x: the unit tests on a big-endian host, see
# tests/s390x/run.sh). zlib1g-dev/libaio-dev for $(TARGET) may not co-install
# as multiarch packages (the security suite lacks some arches), so when
# /usr/lib/$(TARGET) has no libz.so their .debs are unpacked under build/deps
# and linked statically (the .so links dropped); glibc is the cross one.
# On a non-native TARGET, `make check` runs the binary under qemu-user.
ifneq ($(TARGET),$(NATIVE))
ifeq ($(wildcard /usr/lib/$(TARGET)/libz.so),)
XDEPS_DIR := build/deps/$(TARGET)/zlib-aio
XDEPS_STAMP := $(XDEPS_DIR)/.unpacked
LDFLAGS += -L$(XDEPS_DIR)/usr/lib/$(TARGET)
$(BIN) $(UNIT_BIN): $(XDEPS_STAMP)
$(XDEPS_STAMP):
	rm -rf $(XDEPS_DIR) && mkdir -p $(XDEPS_DIR)
	cd $(XDEPS_DIR) && apt-get download -q \
		$(foreach p,zlib1g-dev libaio-dev,$(p):$(shell dpkg-architecture -t $(TARGET) -qDEB_HOST_ARCH 2>/dev/null))
	for d in $(XDEPS_DIR)/*.deb; do dpkg-deb -x $$d $(XDEPS_DIR); done
	rm -f $(XDEPS_DIR)/usr/lib/$(TARGET)/*.so
	touch $@
endif
# qemu-user runs the binary (QEMU_USER= another one, e.g. a newer qemu that
# emulates openat2: tests/s390x/run.sh); -L: the cross glibc's loader and libs
QEMU_USER ?= qemu-$(firstword $(subst -, ,$(TARGET)))-static
check: UNIT_BIN := $(QEMU_USER) -L /usr/$(TARGET) $(UNIT_BIN)
endif

# tests/bench/instr.sh: virtio-blk requests through the real objects, no KVM
INSTR_BIN := $(OBJ)/tests/bench/vq-instr
.PHONY: bench-instr
bench-instr: $(INSTR_BIN)
$(INSTR_BIN): $(OBJ)/tests/bench/vq_instr.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJ)/tests/bench/vq_instr.o $(LIB_OBJS) $(FDT_LIB) $(LDLIBS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, lkvm(1), docs/new-device.md
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin
MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1
DOCDIR := $(DESTDIR)$(PREFIX)/share/doc/lkvm

install: $(BIN)
	install -d $(BINDIR) $(MAN1DIR) $(DOCDIR)
	install -m 0755 $(BIN) $(BINDIR)/lkvm
	install -m 0644 docs/lkvm.1 $(MAN1DIR)/lkvm.1
	install -m 0644 docs/new-device.md $(DOCDIR)/new-device.md

uninstall:
	rm -f $(BINDIR)/lkvm $(MAN1DIR)/lkvm.1 $(DOCDIR)/new-device.md
	-rmdir $(DOCDIR) 2>/dev/null

# libFuzzer targets in build/fuzz/ (clang); tests/fuzz/run.sh builds and runs them
.PHONY: fuzz
fuzz:
	$(MAKE) -f tests/fuzz/Makefile

clean:
	rm -rf build lkvm

$(OBJ)/net/user.o $(OBJ)/tests/unit/test_net.o: $(SLIRP_STAMP)
$(OBJ)/core/seccomp.o $(OBJ)/tests/unit/test_seccomp.o: $(SECCOMP_STAMP)

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(OBJ)/main.d $(OBJ)/tests/bench/vq_instr.d

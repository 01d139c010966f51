# slipway — build, test, install.  See README.md.
#
#   make               ./slipway, libslipway.a, libslipway.so, examples/runner
#   make deps          the Debian packages that building and testing need (idempotent)
#   make check-unit    build and run the unit tests (no root, no apt)
#   make test          deps + build + unit, conformance and integration tests (with -Werror)
#   make check-asan    the same tests against an ASan+UBSan build (in build-asan/)
#   make install PREFIX=/usr/local
#
# CFLAGS is yours (default -O2 -g): `make CFLAGS=-O0` keeps every flag the build needs.
# WERROR=1 turns warnings into errors (make test and check-asan set it).

PREFIX  ?= /usr/local
BUILD   ?= build
VERSION := 0.1.0

CC      ?= cc
include mk/modules.mk
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g

# pkg-config: a package it cannot find stops the build and says which, rather than a
# compile error about a missing header later.  Not for goals that need no compiler
# (deps installs the packages; test and the like run deps first, then make again).
NO_PKG_GOALS := deps clean test check-asan demo bench fuzz
ifneq ($(filter-out $(NO_PKG_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo ok),,$(p))))
ifneq ($(PKG_MISSING),)
$(error pkg-config finds no $(PKG_MISSING) (its .pc file): install the development packages with `make deps`)
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
endif

# The flags the build needs, kept apart from CFLAGS so that setting CFLAGS never drops them.
SW_CFLAGS := -std=gnu17 -fPIC -fvisibility=hidden $(WARN) -D_GNU_SOURCE -DSLIPWAY_VERSION='"$(VERSION)"' -Iinclude -I. $(PKG_CFLAGS)
LIBS      := $(PKG_LIBS) -lpthread -lm
ifeq ($(SANITIZE),1)
SW_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
endif
ALL_CFLAGS = $(SW_CFLAGS) $(CFLAGS)

LIB_SRCS := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
CLI_SRCS := $(wildcard cli/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Test and bench helpers (tests/tools/NAME.c → $(BUILD)/tools/NAME), built with the unit tests.
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

ifeq ($(BUILD),build)
SLIPWAY_BIN := slipway
else
SLIPWAY_BIN := $(BUILD)/slipway
endif

.PHONY: all deps test unit check-unit check-asan install clean demo bench fuzz FORCE bench-layers
all: $(SLIPWAY_BIN) $(BUILD)/libslipway.a $(BUILD)/libslipway.so libslipway.a libslipway.so $(BUILD)/examples/runner

# Objects depend on the flags they were compiled with: a changed flag (a new warning,
# -fvisibility, SANITIZE) rebuilds everything instead of linking stale objects.
$(BUILD)/.cflags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS)' > $@

$(BUILD)/%.o: %.c $(BUILD)/.cflags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libslipway.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libslipway.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libslipway.so.0 $(LDFLAGS) -o $@ $^ $(LIBS)

libslipway.a libslipway.so: lib%: $(BUILD)/lib%
	@if [ "$(BUILD)" = build ]; then cp $< $@; fi

$(SLIPWAY_BIN): $(CLI_OBJS) $(BUILD)/libslipway.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libslipway.a $(LIBS)

$(BUILD)/examples/runner: examples/runner.c $(BUILD)/libslipway.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libslipway.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libslipway.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libslipway.a $(LIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libslipway.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libslipway.a $(LIBS)

unit: $(UNIT_BINS) $(TOOL_BINS)

# Each unit test binary, in turn; the first that fails stops the run.
check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

deps:
	@./tests/deps.sh

test: deps
	$(MAKE) WERROR=1 all unit
	SLIPWAY=$(abspath $(SLIPWAY_BIN)) BUILD=$(BUILD) ./tests/run.sh

check-asan: deps
	$(MAKE) BUILD=build-asan SANITIZE=1 WERROR=1 all unit
	ASAN_OPTIONS=detect_leaks=1 SLIPWAY=$(abspath build-asan/slipway) BUILD=build-asan ./tests/run.sh

demo: deps all
	./examples/demo.sh

bench: deps all
	./bench/run.sh

bench-layers: all unit
	./bench/layers.sh

fuzz:
	$(MAKE) -C tests/fuzz

# Made anew each time: it records PREFIX, which changes between calls.
slipway.pc: slipway.pc.in FORCE
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@PKGS@|$(PKGS)|g' $< > $@

install: all slipway.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(SLIPWAY_BIN) $(DESTDIR)$(PREFIX)/bin/slipway
	install -m 644 $(BUILD)/libslipway.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libslipway.so $(DESTDIR)$(PREFIX)/lib/libslipway.so.0
	ln -sf libslipway.so.0 $(DESTDIR)$(PREFIX)/lib/libslipway.so
	install -m 644 include/slipway.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 slipway.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

clean:
	rm -rf build build-asan slipway libslipway.a libslipway.so slipway.pc

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

# Opt-in: slipway as the docker CLI plugin docker-buildx, so that `docker buildx build` (and
# docker/build-push-action) run slipway.  A link to the installed binary (make install
# first); DOCKER_CLI_PLUGINS=/usr/local/lib/docker/cli-plugins installs it for every user.
DOCKER_CLI_PLUGINS   ?= $(HOME)/.docker/cli-plugins
BUILDX_PLUGIN_TARGET ?= $(PREFIX)/bin/slipway
.PHONY: install-buildx-plugin
install-buildx-plugin:
	@test -x "$(DESTDIR)$(BUILDX_PLUGIN_TARGET)" || { echo "install-buildx-plugin: no $(DESTDIR)$(BUILDX_PLUGIN_TARGET): run make install PREFIX=$(PREFIX) first" >&2; exit 1; }
	install -d $(DESTDIR)$(DOCKER_CLI_PLUGINS)
	@if [ -e $(DESTDIR)$(DOCKER_CLI_PLUGINS)/docker-buildx ] && [ ! -L $(DESTDIR)$(DOCKER_CLI_PLUGINS)/docker-buildx ]; then echo "install-buildx-plugin: replacing $(DESTDIR)$(DOCKER_CLI_PLUGINS)/docker-buildx"; fi
	ln -sfn $(BUILDX_PLUGIN_TARGET) $(DESTDIR)$(DOCKER_CLI_PLUGINS)/docker-buildx

# slipway — build, test, install.  See README.md.
#
#   make               ./slipway, libslipway.a, libslipway.so, examples/runner
#   make deps          the Debian packages that building and testing need (idempotent)
#   make test          deps + build + unit, conformance and integration tests
#   make check-asan    the same tests against an ASan+UBSan build (in build-asan/)
#   make install PREFIX=/usr/local

PREFIX  ?= /usr/local
BUILD   ?= build
VERSION := 0.1.0

CC      ?= cc
PKGS    := libarchive libcurl jansson libseccomp libzstd libcrypto libisal yaml-0.1
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu17 -fPIC -fvisibility=hidden $(WARN) -D_GNU_SOURCE -DSLIPWAY_VERSION='"$(VERSION)"' -Iinclude -I.
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# The library is every .c file of the core modules; a module's files are found, not listed,
# so adding a file never means editing this Makefile.
MODULES  := common dockerfile image layers registry emu store sandbox copy bake exec
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

.PHONY: all deps test unit check-asan install clean demo bench fuzz FORCE bench-layers
all: $(SLIPWAY_BIN) $(BUILD)/libslipway.a $(BUILD)/libslipway.so libslipway.a libslipway.so $(BUILD)/examples/runner

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

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
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libslipway.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libslipway.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libslipway.a $(LIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libslipway.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libslipway.a $(LIBS)

unit: $(UNIT_BINS) $(TOOL_BINS)

deps:
	@./tests/deps.sh

test: deps
	$(MAKE) all unit
	SLIPWAY=$(abspath $(SLIPWAY_BIN)) BUILD=$(BUILD) ./tests/run.sh

check-asan: deps
	$(MAKE) BUILD=build-asan SANITIZE=1 all unit
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

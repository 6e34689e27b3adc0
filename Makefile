# picosnitch build.  GNU make: the tree is small, the BPF pipeline is three
# pattern rules (clang -> bpftool gen object -> bpftool gen skeleton) and a
# plain Makefile needs nothing beyond what Debian already ships with gcc.
#
#   make            build/picosnitch (optimised)
#   make asan       build/asan/picosnitch and the test programs, with ASan+UBSan
#   make check      run the whole test suite (see tests/run)
#   make fuzz       build the fuzz targets (clang, libFuzzer)
#   make npm-deps   fetch the npm packages the build needs (web pages, address
#                   data) into web/ and geodata/node_modules; after that (or
#                   any build) the build, and dpkg-buildpackage, work offline
#   make install    the binary, man page, bash completion and address data
#                   under DESTDIR/PREFIX (/usr/local)
#   make clean      build/ only (node_modules stay: they are the offline cache)
#
# CPPFLAGS, CFLAGS and LDFLAGS (dpkg-buildflags') apply to the installed
# binary; the sanitizer, fuzz and test builds use their own.

VERSION := 0.1.0

CC ?= cc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')

PKGS := libbpf sqlite3 jansson libcrypto libsystemd libcap ncursesw libmicrohttpd libmaxminddb
# client libraries loaded with dlopen when first needed (src/util/dlopen_lib.h):
# their headers at build time, their sonames (those the development files'
# links name) at run time
DLOPEN_PKGS := libcurl libpq libmariadb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(DLOPEN_PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz
soname = $(or $(shell objdump -p "$$(pkg-config --variable=libdir $(1) 2>/dev/null)/$(2)" 2>/dev/null | \
	awk '$$1 == "SONAME" { print $$2 }'),$(3))
SONAMES := -DPICOSNITCH_SONAME_CURL='"$(call soname,libcurl,libcurl.so,libcurl.so.4)"' \
	-DPICOSNITCH_SONAME_PQ='"$(call soname,libpq,libpq.so,libpq.so.5)"' \
	-DPICOSNITCH_SONAME_MARIADB='"$(call soname,libmariadb,libmariadb.so,libmariadb.so.3)"'

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -Wno-missing-field-initializers
PREFIX ?= /usr/local
# the offline address data: installed here, else found in the build tree
DATADIR := $(PREFIX)/share/picosnitch
# systemd units of packages live under /lib (Debian 12), others' under PREFIX
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
# BUILD_TREE_DATA=0 (a package's build): no looking in this tree's build/geo
BUILD_TREE_DATA ?= 1
BASE_CFLAGS := -std=gnu11 -g $(WARN) -D_GNU_SOURCE -DPICOSNITCH_VERSION='"$(VERSION)"' \
	-DPICOSNITCH_DATADIR='"$(DATADIR)"' \
	$(if $(filter 1,$(BUILD_TREE_DATA)),-DPICOSNITCH_BUILD_DATADIR='"$(CURDIR)/build/geo"') \
	-DPICOSNITCH_LIBSYSTEMD_VERSION='"$(shell pkg-config --modversion libsystemd 2>/dev/null)"' \
	$(SONAMES) -Isrc -Ibuild -Ibpf $(PKG_CFLAGS)
CFLAGS ?= -O2
CPPFLAGS ?=
LDFLAGS ?=
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ibpf -Ibpf/vmlinux/$(ARCH) \
	-Wall -Werror -Wno-unused-function

# Userspace sources; tests link everything but the CLI entry point.
SRCS := $(wildcard src/*/*.c)
MAIN := src/cli/main.c
LIB_SRCS := $(filter-out $(MAIN),$(SRCS))
HDRS := $(wildcard src/*/*.h) bpf/abi.h

OBJS := $(patsubst src/%.c,build/obj/%.o,$(SRCS))
ASAN_OBJS := $(patsubst src/%.c,build/asan/obj/%.o,$(SRCS))
ASAN_LIB_OBJS := $(patsubst src/%.c,build/asan/obj/%.o,$(LIB_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,build/tests/%,$(HELPER_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRCS))
FUZZ_SRCS := $(wildcard fuzz/fuzz-*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
REPLAY_BINS := $(patsubst fuzz/%.c,build/fuzz-replay/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst src/%.c,build/fuzz/obj/%.o,$(LIB_SRCS))
REPLAY_LIB_OBJS := $(patsubst src/%.c,build/fuzz-replay/obj/%.o,$(LIB_SRCS))

SKEL := build/sensor.skel.h
# the pages of `picosnitch dash`, bundled (esbuild, from npm) and embedded
WEB_SRCS := $(wildcard web/src/*)
WEB_ASSETS := build/web/assets.h
GEN := $(SKEL) $(WEB_ASSETS)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all asan check test fuzz clean helpers bench install npm-deps
.DELETE_ON_ERROR:
.SECONDARY:

# countries and network owners of addresses, from npm at build time (the
# exact versions of geodata/package-lock.json); asn.bin is made by a small
# converter of our own (src/geo/asn_format.h)
GEO_DATA := build/geo/country.mmdb build/geo/asn.bin
GEO_NPM := geodata/node_modules/@ip-location-db
ASN_VERSION = $(shell sed -n 's/.*"version": "\(.*\)".*/\1/p' $(GEO_NPM)/asn/package.json)

all: build/picosnitch $(GEO_DATA)

build/sensor.tmp.o: bpf/sensor.bpf.c bpf/abi.h | build
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

build/sensor.bpf.o: build/sensor.tmp.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(SKEL): build/sensor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name sensor_bpf > $@

# npm ci: exactly the versions of the package-lock.json files.  npm writes
# node_modules/.package-lock.json; it is the stamp, outside build/, so that
# `make clean` (and dpkg-buildpackage's clean) keep what was fetched and the
# next build needs no network.
NPM_WEB := web/node_modules/.package-lock.json
NPM_GEO := geodata/node_modules/.package-lock.json

$(NPM_WEB): web/package.json web/package-lock.json
	$(call msg,NPM,web/node_modules)
	$(Q)cd web && npm ci --no-audit --no-fund --loglevel=error
	$(Q)touch $@

$(NPM_GEO): geodata/package.json geodata/package-lock.json
	$(call msg,NPM,geodata/node_modules)
	$(Q)cd geodata && npm ci --no-audit --no-fund --loglevel=error
	$(Q)touch $@

npm-deps: $(NPM_WEB) $(NPM_GEO)

build/geo/country.mmdb: $(NPM_GEO)
	@mkdir -p $(dir $@)
	$(Q)cp $(GEO_NPM)/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb $@.tmp && mv $@.tmp $@

build/geo/asn-convert: geodata/asn-convert.c src/geo/addr.c src/geo/utf8.c src/geo/asn_format.h
	@mkdir -p $(dir $@)
	$(call msg,HELPER,$@)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Isrc -o $@ geodata/asn-convert.c \
		src/geo/addr.c src/geo/utf8.c

build/geo/asn.bin: build/geo/asn-convert $(NPM_GEO)
	$(call msg,ASN,$@)
	$(Q)build/geo/asn-convert "@ip-location-db/asn $(ASN_VERSION)" $@ \
		$(GEO_NPM)/asn/asn-ipv4.csv $(GEO_NPM)/asn/asn-ipv6.csv >/dev/null

build/web/app.js: $(WEB_SRCS) $(NPM_WEB)
	@mkdir -p $(dir $@)
	$(call msg,ESBUILD,$@)
	$(Q)web/node_modules/.bin/esbuild web/src/main.js --bundle --minify --target=es2020 \
		--outfile=$@ --log-level=warning

build/web/app.css: build/web/app.js

# the bundle as C arrays (od is in coreutils; no xxd needed)
$(WEB_ASSETS): build/web/app.js build/web/app.css
	$(call msg,EMBED,$@)
	$(Q){ for f in app.js app.css; do \
		n=$$(echo $$f | tr . _); \
		echo "static const unsigned char asset_$$n[] = {"; \
		od -An -v -tx1 build/web/$$f | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
		echo "};"; \
	done; } > $@.tmp && mv $@.tmp $@

build/obj/%.o: src/%.c $(HDRS) $(GEN)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

build/asan/obj/%.o: src/%.c $(HDRS) $(GEN)
	@mkdir -p $(dir $@)
	$(call msg,CC-ASAN,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c $< -o $@

build/picosnitch: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

build/asan/picosnitch: $(ASAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

build/asan/tests/%: tests/unit/%.c $(wildcard tests/lib/*.h) $(ASAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call msg,TEST,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) -Itests/lib -o $@ $< $(ASAN_LIB_OBJS) $(PKG_LIBS) -lpthread

# Traffic generators and other helpers run as the programs under test; they
# are built without sanitizers so their own overhead stays out of the numbers.
build/tests/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(call msg,HELPER,$@)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -o $@ $< -luring -lpthread

# the SQL server test without sanitizers, for valgrind (t175): libpq and
# libmariadb read what the servers answer
build/tests/sqlserver-valgrind: tests/unit/test-sqlserver.c tests/lib/tap.h $(REPLAY_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call msg,HELPER,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -O1 -Itests/lib -o $@ $< $(REPLAY_LIB_OBJS) $(PKG_LIBS) -lpthread

build/tests/trafficgen: tests/lib/rfc9001.h
build/fuzz/fuzz-quic build/fuzz-replay/fuzz-quic: tests/lib/quic_seal.h tests/lib/rfc9001.h

# mkdb writes test databases with the monitor's own writer
build/tests/mkdb: tests/helpers/mkdb.c build/obj/storage/store_sqlite.o
	@mkdir -p $(dir $@)
	$(call msg,HELPER,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -O2 -o $@ $^ $$(pkg-config --libs sqlite3)

build/tests/fuse-exe: tests/helpers/fuse-exe.c
	@mkdir -p $(dir $@)
	$(call msg,HELPER,$@)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE $$(pkg-config --cflags fuse3) -o $@ $< \
		$$(pkg-config --libs fuse3)

# hashrate measures the daemon's own hashing code: linked with its objects
build/bench/hashrate: bench/hashrate.c $(filter-out build/obj/cli/main.o,$(OBJS))
	@mkdir -p $(dir $@)
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# querygen times the query layer on a generated snitch.db: linked with the
# objects that make the schema and read it, and the address lookups
build/bench/querygen: bench/querygen.c build/obj/storage/store_sqlite.o \
		$(patsubst src/%.c,build/obj/%.o,$(wildcard src/query/*.c)) \
		$(patsubst src/%.c,build/obj/%.o,$(filter-out src/geo/update.c,$(wildcard src/geo/*.c)))
	@mkdir -p $(dir $@)
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $^ $$(pkg-config --libs sqlite3 libmaxminddb) -lm -lpthread

# sqlsend times the "DB sql server" path (spool, thread, server)
build/bench/sqlsend: bench/sqlsend.c $(filter-out build/obj/cli/main.o,$(OBJS))
	@mkdir -p $(dir $@)
	$(call msg,BENCH,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

build/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(call msg,BENCH,$@)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -o $@ $<

# the library is compiled once for all fuzz targets (and once more, plain,
# for the replays under valgrind)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
build/fuzz/obj/%.o: src/%.c $(HDRS) $(GEN)
	@mkdir -p $(dir $@)
	$(call msg,CC-FUZZ,$@)
	$(Q)clang $(BASE_CFLAGS) -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@

build/fuzz/%: fuzz/%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call msg,FUZZ,$@)
	$(Q)clang $(BASE_CFLAGS) -O1 -fsanitize=fuzzer $(FUZZ_SAN) \
		-o $@ $< $(FUZZ_LIB_OBJS) $(PKG_LIBS) -lpthread

helpers: $(HELPER_BINS)

asan: build/asan/picosnitch $(UNIT_BINS) $(HELPER_BINS) $(GEO_DATA) build/tests/sqlserver-valgrind

check test: all asan
	tests/run

# the same targets without libFuzzer or sanitizers, to replay under valgrind
build/fuzz-replay/obj/%.o: src/%.c $(HDRS) $(GEN)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -O1 -c $< -o $@

build/fuzz-replay/%: fuzz/%.c fuzz/replay.c $(REPLAY_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call msg,REPLAY,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -O1 -o $@ $< fuzz/replay.c $(REPLAY_LIB_OBJS) $(PKG_LIBS) -lpthread

fuzz: $(FUZZ_BINS) $(REPLAY_BINS)

bench: all $(BENCH_BINS)

# the systemd unit a package installs: the one `picosnitch systemd` writes,
# for no particular user (the state directory rule picks one at start)
build/picosnitch.service: build/picosnitch
	$(call msg,GEN,$@)
	$(Q)env -u PICOSNITCH_DIR -u PICOSNITCH_PIDFILE build/picosnitch systemd --print | sed \
		's|^ExecStart=.* start-no-daemon$$|ExecStart=$(PREFIX)/bin/picosnitch start-no-daemon|' > $@.tmp
	$(Q)grep -q '^ExecStart=$(PREFIX)/bin/picosnitch start-no-daemon$$' $@.tmp && mv $@.tmp $@

install: all build/picosnitch.service
	install -D -m 0755 build/picosnitch $(DESTDIR)$(PREFIX)/bin/picosnitch
	install -D -m 0644 build/geo/country.mmdb $(DESTDIR)$(DATADIR)/country.mmdb
	install -D -m 0644 build/geo/asn.bin $(DESTDIR)$(DATADIR)/asn.bin
	install -D -m 0644 man/picosnitch.8 $(DESTDIR)$(PREFIX)/share/man/man8/picosnitch.8
	install -D -m 0644 completion/picosnitch.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/picosnitch
	install -D -m 0644 build/picosnitch.service $(DESTDIR)$(UNITDIR)/picosnitch.service

build:
	@mkdir -p build

clean:
	rm -rf build

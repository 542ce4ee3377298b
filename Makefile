# redis-tls-shim
#   make            build/libredistls.so (the switchboard users preload) and
#                   build/libredistls-engine.so (loaded by it on first connect)
#   make check      install missing packages, build, run every test
#   make demo       a throwaway TLS-only redis-server and redis-cli through the shim
#   make bench      the comparison table (plaintext, native TLS, shim, stunnel)
#   SANITIZER=address|undefined|thread  builds the engine into the switchboard
#   V=1             show the commands

CC       ?= cc
PREFIX   ?= /usr/local
SANITIZER ?=
# Each variant has its own folder, so a sanitizer build never mixes its
# objects with the normal ones: build/, build-address/, build-undefined/...
ifeq ($(SANITIZER),)
BUILD    ?= build
else
BUILD    ?= build-$(firstword $(SANITIZER))
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -fPIC -fvisibility=hidden -pthread $(WARN) -D_GNU_SOURCE \
            -MMD -MP
LDFLAGS  ?=
LDDEFS   := -Wl,-z,defs

ifneq ($(SANITIZER),)
CFLAGS   += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -DSHIM_STATIC_ENGINE
LDFLAGS  += -fsanitize=$(SANITIZER)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS_ENGINE := libssl libcrypto libconfig

# The version: VERSION's number, and the commit from git at build time
# ("-dirty" with uncommitted changes; "unknown" without git, or give
# SHIM_COMMIT=...).  Written into $(BUILD)/gen/shim_version.h, which only
# shim/common/version.c includes.
SHIM_VERSION := $(shell cat $(CURDIR)/VERSION 2>/dev/null || echo 0)
ifeq ($(origin SHIM_COMMIT),undefined)
SHIM_COMMIT := $(shell git -C $(CURDIR) rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(if \
               $(shell git -C $(CURDIR) status --porcelain --untracked-files=no 2>/dev/null | head -c1),-dirty)
endif

# The two libraries and what both link (DESIGN.md, "Layout"): each folder
# sees its own headers, common/'s and engine_api.h, nothing else.
SB_DIR  := shim/switchboard
ENG_DIR := shim/engine
COM_DIR := shim/common
SB_INC   := -Iinclude -Iinclude/switchboard -Iinclude/common
ENG_INC  := -Iinclude -Iinclude/engine -Iinclude/common
COM_INC  := -Iinclude -Iinclude/common

SWITCHBOARD_SRCS := $(wildcard $(SB_DIR)/*.c)
ENGINE_SRCS      := $(filter-out $(ENG_DIR)/engine_alloc.c,$(wildcard $(ENG_DIR)/*.c))
COMMON_SRCS      := $(wildcard $(COM_DIR)/*.c)
# What the unit tests link: logic that needs no socket of the program.
PURE_SRCS        := $(ENG_DIR)/config.c $(ENG_DIR)/session_cache.c $(SB_DIR)/ready_mask.c \
                    $(SB_DIR)/names.c $(SB_DIR)/ready_adapt.c $(COMMON_SRCS)

obj = $(patsubst shim/%.c,$(BUILD)/obj/%.o,$(1))
SWITCHBOARD_OBJS := $(call obj,$(SWITCHBOARD_SRCS))
ENGINE_OBJS      := $(call obj,$(ENGINE_SRCS))
COMMON_OBJS      := $(call obj,$(COMMON_SRCS))
PURE_OBJS        := $(call obj,$(PURE_SRCS))
# the refusal table, pure data (tests/unit/test_refusal.c)
PURE_OBJS        += $(call obj,$(SB_DIR)/sock_refusal.c)

LIB     := $(BUILD)/libredistls.so
ENGINE  := $(BUILD)/libredistls-engine.so
CTL     := $(BUILD)/redis-tls-ctl
EXEC    := $(BUILD)/redis-tls-exec

UNIT_SRCS    := $(wildcard tests/unit/test_*.c)
UNIT_BINS    := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TORTURE_SRCS := $(wildcard tests/torture/*.c)
TORTURE_BINS := $(TORTURE_SRCS:tests/torture/%.c=$(BUILD)/torture/%)

ENGINE_CFLAGS = $(shell pkg-config --cflags $(PKGS_ENGINE) 2>/dev/null)
ENGINE_LIBS   = $(shell pkg-config --libs $(PKGS_ENGINE) 2>/dev/null)

.PHONY: all check unit integration demo bench clean install deps fuzz soak torture \
        tree-check deb doc-check FORCE

ifeq ($(SANITIZER),)
all: $(LIB) $(ENGINE) $(CTL) $(EXEC)
else
all: $(LIB) $(CTL) $(EXEC)
endif

# Compiler flags are dependencies: $(BUILD)/flags changes (and everything
# is rebuilt) when CC, CFLAGS or LDFLAGS do.
FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS) $(ENGINE_CFLAGS)
$(BUILD)/flags: FORCE | $(BUILD)/obj
	$(Q)echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@

$(BUILD)/obj/switchboard/%.o: $(SB_DIR)/%.c $(BUILD)/flags | $(BUILD)/obj
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(SB_INC) -c -o $@ $<

$(BUILD)/obj/engine/%.o: $(ENG_DIR)/%.c $(BUILD)/flags | $(BUILD)/obj
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(ENG_INC) $(ENGINE_CFLAGS) -c -o $@ $<

$(BUILD)/obj/common/%.o: $(COM_DIR)/%.c $(BUILD)/flags | $(BUILD)/obj
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(COM_INC) -c -o $@ $<

$(BUILD)/obj:
	$(Q)mkdir -p $@/switchboard $@/engine $@/common

# Rewritten only when the version or the commit changes.
VERSION_NOW := \#define SHIM_VERSION "$(SHIM_VERSION)"\n\#define SHIM_COMMIT "$(SHIM_COMMIT)"
$(BUILD)/gen/shim_version.h: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)printf '$(VERSION_NOW)\n' | cmp -s - $@ || printf '$(VERSION_NOW)\n' > $@
$(BUILD)/obj/common/version.o: $(BUILD)/gen/shim_version.h
$(BUILD)/obj/common/version.o: COM_INC += -I$(BUILD)/gen

$(BUILD)/tests $(BUILD)/torture:
	$(Q)mkdir -p $@

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/tests/*.d $(BUILD)/*.d)

ifeq ($(SANITIZER),)
$(LIB): $(SWITCHBOARD_OBJS) $(COMMON_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) $(LDDEFS) -Wl,-z,noseparate-code -o $@ $^ -ldl -pthread

$(ENGINE): $(ENGINE_OBJS) $(COMMON_OBJS) $(BUILD)/obj/engine/engine_alloc.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) $(LDDEFS) -o $@ $^ $(ENGINE_LIBS) -ldl -pthread
else
# Sanitizer runtimes refuse RTLD_DEEPBIND: link the engine in.
$(LIB): $(SWITCHBOARD_OBJS) $(ENGINE_OBJS) $(COMMON_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) $(LDDEFS) -o $@ $^ $(ENGINE_LIBS) -ldl -pthread
endif

CTL_SRCS := tools/redis-tls-ctl.c tools/supervise.c tools/sup_relay.c tools/sup_pending.c \
            tools/sup_filter.c tools/check_cache.c
# The switchboard modules redis-tls-ctl links: the shim's own log module
# (the supervisor logs with its levels, targets and line format) and its
# judgement of a program file (`reach`, for redis-tls-run, tells a program
# LD_PRELOAD cannot reach as the exec hooks tell it).
CTL_SB_OBJS := $(BUILD)/obj/switchboard/log.o $(BUILD)/obj/switchboard/real.o \
                $(BUILD)/obj/switchboard/exec_image.o
$(CTL): $(CTL_SRCS) tools/supervise.h tools/check_cache.h $(ENGINE_OBJS) $(COMMON_OBJS) $(CTL_SB_OBJS) $(BUILD)/flags
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(ENG_INC) -Itools $(ENGINE_CFLAGS) $(LDFLAGS) -o $@ $(CTL_SRCS) \
		$(ENGINE_OBJS) $(COMMON_OBJS) $(CTL_SB_OBJS) $(ENGINE_LIBS) -ldl -pthread \
		-Wl,--export-dynamic-symbol=redis_tls_shim_stand_aside

# redis-tls-run's last step (check, classify, exec): libc alone, so that it
# starts fast; the classifier is the exec hooks' own (exec_image.c).
EXEC_SRCS := tools/redis-tls-exec.c tools/check_cache.c tools/exec_real.c
EXEC_OBJS := $(BUILD)/obj/switchboard/exec_image.o $(BUILD)/obj/common/setid.o \
             $(BUILD)/obj/common/version.o
$(EXEC): $(EXEC_SRCS) tools/check_cache.h $(EXEC_OBJS) $(BUILD)/flags
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SB_INC) -Iinclude -Itools $(LDFLAGS) -o $@ $(EXEC_SRCS) \
		$(EXEC_OBJS) -ldl

$(BUILD)/tests/%: tests/unit/%.c $(PURE_OBJS) $(BUILD)/flags | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes $(SB_INC) $(ENG_INC) $(ENGINE_CFLAGS) \
		$(LDFLAGS) -o $@ $< $(PURE_OBJS) -lcmocka $(ENGINE_LIBS)

# The session and name tests drive the engine itself (tls_session.c and
# tls_bio.c over a memory wire, engine_names, tls_name.c's checks): they
# link the engine's objects rather than PURE_OBJS.
ENGINE_TEST_BINS := $(BUILD)/tests/test_tls_session $(BUILD)/tests/test_sni_name \
                    $(BUILD)/tests/test_tls_name
$(ENGINE_TEST_BINS): $(BUILD)/tests/%: tests/unit/%.c $(ENGINE_OBJS) $(COMMON_OBJS) \
                     $(BUILD)/flags | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes $(ENG_INC) $(ENGINE_CFLAGS) \
		$(LDFLAGS) -o $@ $< $(ENGINE_OBJS) $(COMMON_OBJS) -lcmocka $(ENGINE_LIBS) \
		-ldl -pthread

# The supervisor's seccomp filter, run by the test's own BPF interpreter.
$(BUILD)/tests/test_sup_filter: tests/unit/test_sup_filter.c tools/sup_filter.c \
                                tools/supervise.h $(BUILD)/flags | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes $(ENG_INC) -Itools $(LDFLAGS) \
		-o $@ $< tools/sup_filter.c -lcmocka

# redis-tls-run's remembered verdicts, on files the test makes.
$(BUILD)/tests/test_check_cache: tests/unit/test_check_cache.c tools/check_cache.c \
                                 tools/check_cache.h $(BUILD)/flags | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes -Itools -Iinclude $(LDFLAGS) \
		-o $@ $< tools/check_cache.c -lcmocka

# The supervisor's table of non-blocking connects.
$(BUILD)/tests/test_sup_pending: tests/unit/test_sup_pending.c tools/sup_pending.c \
                                 tools/supervise.h $(BUILD)/flags | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes $(ENG_INC) -Itools $(LDFLAGS) \
		-o $@ $< tools/sup_pending.c -lcmocka -pthread

# What an exec would run, on files the test makes (real.c: the real open
# and close exec_image.c uses).
$(BUILD)/tests/test_exec_image: tests/unit/test_exec_image.c $(SB_DIR)/exec_image.c \
                                $(SB_DIR)/real.c $(COM_DIR)/setid.c $(BUILD)/flags | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes $(SB_INC) $(LDFLAGS) -o $@ $< \
		$(SB_DIR)/exec_image.c $(SB_DIR)/real.c $(COM_DIR)/setid.c -lcmocka -ldl

# The supervisor's loopback pair, with a racer in listen() (--wrap).
$(BUILD)/tests/test_sup_loopback: tests/unit/test_sup_loopback.c tools/sup_relay.c \
                                  tools/sup_pending.c tools/supervise.h $(CTL_SB_OBJS) $(COMMON_OBJS) \
                                  $(BUILD)/flags | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes $(ENG_INC) -Itools $(LDFLAGS) \
		-Wl,--wrap=listen -o $@ $< tools/sup_relay.c tools/sup_pending.c $(CTL_SB_OBJS) $(COMMON_OBJS) \
		-lcmocka -ldl -pthread

$(BUILD)/torture/%: tests/torture/%.c tests/torture/torture.h | $(BUILD)/torture
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< -pthread

# The boundary and the size rules (tests/tree-check.sh): no OpenSSL or
# libconfig header outside shim/engine/, no function over 60 lines in shim/
# and tools/, the libraries export what tests/exports/*.syms list.
tree-check: all
	$(Q)tests/tree-check.sh $(BUILD)

# The README's reference tables and the man pages against the code and
# each other (tests/doc-check.sh).
doc-check:
	$(Q)tests/doc-check.sh

deps:
	$(Q)scripts/install-deps.sh

unit: $(UNIT_BINS)
	$(Q)fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

torture: $(TORTURE_BINS)

integration: all torture
	$(Q)tests/run-integration.sh

# The long runs in short form: 60 s of each fuzz target (run at once),
# the ASan and UBSan passes, a 30 s soak.  Each step runs even if an
# earlier one failed; check fails if any did.
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)fail=0; \
	$(MAKE) --no-print-directory tree-check || fail=1; \
	$(MAKE) --no-print-directory doc-check || fail=1; \
	$(MAKE) --no-print-directory unit || fail=1; \
	$(MAKE) --no-print-directory integration || fail=1; \
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=60 || fail=1; \
	tests/sanitizers.sh asan ubsan || fail=1; \
	scripts/soak.sh --short || fail=1; \
	exit $$fail

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh

# The install: the libraries (and a link to redis-tls-ctl, which the shim
# looks for beside itself) in $(PKGLIBDIR); the tools in $(BINDIR), the
# scripts told where $(PKGLIBDIR) is relative to them (so a tree installed
# under DESTDIR, or unpacked anywhere, still finds its own library); the
# man pages; the example configuration and systemd drop-in.
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
PKGLIBDIR ?= $(LIBDIR)/redis-tls-shim
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/redis-tls-shim
MAN_PAGES := man/redis-tls-run.1 man/redis-tls-ctl.1 man/redis-tls-shim.conf.5 \
             man/redis-tls-shim.7
EXAMPLES  := examples/redis-tls-shim.conf examples/systemd-redis-tls.conf
PKGLIB_REL = $(shell realpath -m --relative-to=$(BINDIR) $(PKGLIBDIR))
CTL_REL    = $(shell realpath -m --relative-to=$(PKGLIBDIR) $(BINDIR))/redis-tls-ctl

install: all
	install -d $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(LIB) $(ENGINE) $(DESTDIR)$(PKGLIBDIR)/
	install -m 0755 $(CTL) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(EXEC) $(DESTDIR)$(PKGLIBDIR)/
	ln -sfn $(CTL_REL) $(DESTDIR)$(PKGLIBDIR)/redis-tls-ctl
	for s in redis-tls-run redis-tls-entrypoint; do \
		sed 's|^pkglib_rel=.*|pkglib_rel=$(PKGLIB_REL)|' scripts/$$s > $(DESTDIR)$(BINDIR)/$$s && \
		chmod 0755 $(DESTDIR)$(BINDIR)/$$s || exit 1; \
	done
	for m in $(MAN_PAGES); do \
		install -d $(DESTDIR)$(MANDIR)/man$${m##*.} && \
		sed 's/@VERSION@/$(SHIM_VERSION)/' $$m > $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} && \
		chmod 0644 $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit 1; \
	done
	ln -sfn redis-tls-run.1 $(DESTDIR)$(MANDIR)/man1/redis-tls-entrypoint.1
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/

# A Debian package of the install (scripts/mkdeb.sh: dpkg-shlibdeps,
# dpkg-gencontrol, dpkg-deb), into $(BUILD)/; lintian checks it.
deb: all
	$(Q)scripts/mkdeb.sh $(BUILD)

clean:
	rm -rf $(BUILD)

# ---- tests/clients: client programs for the integration tests ------------
# (15-benchmark, 25-async, 90-valgrind).  Each tests/clients/NAME.c becomes
# build/clients/NAME, linked with hiredis and libevent (libhiredis-dev,
# libevent-dev).
CLIENT_SRCS := $(wildcard tests/clients/*.c)
CLIENT_BINS := $(CLIENT_SRCS:tests/clients/%.c=$(BUILD)/clients/%)
CLIENT_LIBS := -lhiredis -levent

.PHONY: clients
clients: $(CLIENT_BINS)
integration: clients

$(BUILD)/clients:
	$(Q)mkdir -p $@

$(BUILD)/clients/%: tests/clients/%.c | $(BUILD)/clients
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CLIENT_LIBS)

# leak_probe (12-never-plaintext) needs threads, POSIX aio and, where
# liburing-dev is installed (scripts/install-deps.sh installs it), io_uring;
# without liburing its iouring mode reports itself missing and that case fails.
LEAK_PROBE_URING := $(shell pkg-config --exists liburing 2>/dev/null && echo yes)
$(BUILD)/clients/leak_probe: tests/clients/leak_probe.c | $(BUILD)/clients
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(if $(LEAK_PROBE_URING),-DHAVE_LIBURING) $(LDFLAGS) -o $@ $< \
		-pthread -lrt $(if $(LEAK_PROBE_URING),$(shell pkg-config --libs liburing))
# err_queue (12-never-plaintext) uses libssl itself, beside the shim.
$(BUILD)/clients/err_queue: tests/clients/err_queue.c | $(BUILD)/clients
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lssl -lcrypto
# static_client (47-supervisor): `gcc -static`, so no LD_PRELOAD reaches
# it (libc.a is in libc6-dev); no hiredis, and no sanitizer (their
# runtimes refuse static linking).
$(BUILD)/clients/static_client: tests/clients/static_client.c | $(BUILD)/clients
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -O2 -g -std=gnu11 $(WARN) -D_GNU_SOURCE -static -o $@ $< -pthread
# tests/servers/NAME.c (delay_proxy: 16-slowlink's slow link) becomes
# build/servers/NAME: libc only.
SERVER_SRCS := $(wildcard tests/servers/*.c)
SERVER_BINS := $(SERVER_SRCS:tests/servers/%.c=$(BUILD)/servers/%)
clients: $(SERVER_BINS)
$(BUILD)/servers:
	$(Q)mkdir -p $@
$(BUILD)/servers/%: tests/servers/%.c | $(BUILD)/servers
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -O2 -g -std=gnu11 $(WARN) -D_GNU_SOURCE $(LDFLAGS) -o $@ $<
# ---- end of tests/clients -------------------------------------------------

# ---- issue 5: fuzzing, soak, sanitizers ------------------------------------
#   make fuzz [FUZZ_SECONDS=60]  build the libFuzzer targets (clang) into
#                                build-fuzz/, replay tests/fuzz/regressions and
#                                the seeds, then fuzz each target that long
#   make fuzz-regress            only the replay
#   make soak [SOAK_SECONDS=300] scripts/soak.sh (RSS and fds shown flat)
#   make sanitize                tests/sanitizers.sh (ASan, UBSan, TSan)
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE $(SB_INC) $(ENG_INC) -I$(BUILD)/gen -Wall -Wextra \
                -Wno-unused-parameter -pthread \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BINS    := $(FUZZ_BUILD)/fuzz_config $(FUZZ_BUILD)/fuzz_match \
                $(FUZZ_BUILD)/fuzz_session

.PHONY: fuzz-build fuzz-regress sanitize

$(FUZZ_BUILD):
	$(Q)mkdir -p $@

$(FUZZ_BUILD)/fuzz_config: tests/fuzz/fuzz_config.c $(ENG_DIR)/config.c $(COMMON_SRCS) \
                           $(wildcard include/*.h include/*/*.h) $(BUILD)/gen/shim_version.h | $(FUZZ_BUILD)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(ENGINE_CFLAGS) -o $@ $(filter %.c,$^) $(ENGINE_LIBS)

$(FUZZ_BUILD)/fuzz_match: tests/fuzz/fuzz_match.c $(COMMON_SRCS) \
                          $(wildcard include/*.h include/*/*.h) $(BUILD)/gen/shim_version.h | $(FUZZ_BUILD)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

$(FUZZ_BUILD)/fuzz_session: tests/fuzz/fuzz_session.c tests/lib/engine_test.h $(ENGINE_SRCS) $(COMMON_SRCS) \
                            $(wildcard include/*.h include/*/*.h) $(BUILD)/gen/shim_version.h | $(FUZZ_BUILD)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(ENGINE_CFLAGS) -o $@ $(filter %.c,$^) $(ENGINE_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) --build $(FUZZ_BUILD)

fuzz-regress: fuzz-build
	$(Q)tests/fuzz/run.sh --regress-only --build $(FUZZ_BUILD)

soak: all
	$(Q)scripts/soak.sh $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS))

sanitize:
	$(Q)tests/sanitizers.sh
# ---- end of issue 5 ---------------------------------------------------------

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
BUILD    ?= build
SANITIZER ?=

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -fPIC -fvisibility=hidden -pthread $(WARN) -Iinclude -D_GNU_SOURCE
LDFLAGS  ?=

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

# shim/addr.c (address parsing and normalisation) is linked into both.
SWITCHBOARD_SRCS := shim/hooks.c shim/real.c shim/fdtable.c shim/sock.c \
                    shim/sock_private.c shim/sock_io.c shim/sock_fd.c shim/relay.c \
                    shim/block.c shim/ready.c shim/names.c shim/loader.c shim/log.c \
                    shim/addr.c
ENGINE_SRCS      := shim/engine.c shim/config.c shim/match.c shim/tls_ctx.c \
                    shim/tls_session.c shim/tls_bio.c shim/reload.c shim/stats.c \
                    shim/session_cache.c shim/resolve.c shim/addr.c
PURE_SRCS        := shim/config.c shim/match.c shim/names.c shim/session_cache.c shim/addr.c

SWITCHBOARD_OBJS := $(SWITCHBOARD_SRCS:shim/%.c=$(BUILD)/obj/%.o)
ENGINE_OBJS      := $(ENGINE_SRCS:shim/%.c=$(BUILD)/obj/%.o)
PURE_OBJS        := $(PURE_SRCS:shim/%.c=$(BUILD)/obj/%.o)

LIB     := $(BUILD)/libredistls.so
ENGINE  := $(BUILD)/libredistls-engine.so
CTL     := $(BUILD)/redis-tls-ctl

UNIT_SRCS    := $(wildcard tests/unit/test_*.c)
UNIT_BINS    := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TORTURE_SRCS := $(wildcard tests/torture/*.c)
TORTURE_BINS := $(TORTURE_SRCS:tests/torture/%.c=$(BUILD)/torture/%)

ENGINE_CFLAGS = $(shell pkg-config --cflags $(PKGS_ENGINE) 2>/dev/null)
ENGINE_LIBS   = $(shell pkg-config --libs $(PKGS_ENGINE) 2>/dev/null)

.PHONY: all check unit integration demo bench clean install deps fuzz soak torture

ifeq ($(SANITIZER),)
all: $(LIB) $(ENGINE) $(CTL)
else
all: $(LIB) $(CTL)
endif

$(BUILD)/obj/%.o: shim/%.c $(wildcard include/*.h) | $(BUILD)/obj
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(ENGINE_CFLAGS) -c -o $@ $<

$(BUILD)/obj $(BUILD)/tests $(BUILD)/torture:
	$(Q)mkdir -p $@

ifeq ($(SANITIZER),)
$(LIB): $(SWITCHBOARD_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,-z,noseparate-code -o $@ $^ -ldl -pthread

$(ENGINE): $(ENGINE_OBJS) $(BUILD)/obj/engine_alloc.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $^ $(ENGINE_LIBS) -ldl -pthread
else
# Sanitizer runtimes refuse RTLD_DEEPBIND: link the engine in.
$(LIB): $(sort $(SWITCHBOARD_OBJS) $(ENGINE_OBJS))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $^ $(ENGINE_LIBS) -ldl -pthread
endif

$(CTL): tools/redis-tls-ctl.c $(ENGINE_OBJS) $(wildcard include/*.h)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(ENGINE_CFLAGS) $(LDFLAGS) -o $@ tools/redis-tls-ctl.c $(ENGINE_OBJS) $(ENGINE_LIBS) -pthread

$(BUILD)/tests/%: tests/unit/%.c $(PURE_OBJS) | $(BUILD)/tests
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PURE_OBJS) -lcmocka $(ENGINE_LIBS)

$(BUILD)/torture/%: tests/torture/%.c tests/torture/torture.h | $(BUILD)/torture
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -pthread

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

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/redis-tls-shim $(DESTDIR)$(PREFIX)/bin
	install -m 0644 $(LIB) $(ENGINE) $(DESTDIR)$(PREFIX)/lib/redis-tls-shim/
	install -m 0755 $(CTL) $(DESTDIR)$(PREFIX)/lib/redis-tls-shim/
	install -m 0755 scripts/redis-tls-run scripts/redis-tls-entrypoint $(DESTDIR)$(PREFIX)/bin/

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
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Wall -Wextra \
                -Wno-unused-parameter -pthread \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BINS    := $(FUZZ_BUILD)/fuzz_config $(FUZZ_BUILD)/fuzz_match \
                $(FUZZ_BUILD)/fuzz_session

.PHONY: fuzz-build fuzz-regress sanitize

$(FUZZ_BUILD):
	$(Q)mkdir -p $@

$(FUZZ_BUILD)/fuzz_config: tests/fuzz/fuzz_config.c shim/config.c shim/match.c shim/addr.c \
                           $(wildcard include/*.h) | $(FUZZ_BUILD)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(ENGINE_CFLAGS) -o $@ $(filter %.c,$^) $(ENGINE_LIBS)

$(FUZZ_BUILD)/fuzz_match: tests/fuzz/fuzz_match.c shim/match.c shim/addr.c \
                          $(wildcard include/*.h) | $(FUZZ_BUILD)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

$(FUZZ_BUILD)/fuzz_session: tests/fuzz/fuzz_session.c $(ENGINE_SRCS) \
                            $(wildcard include/*.h) | $(FUZZ_BUILD)
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

# SPDX-License-Identifier: MIT
# One GNU Makefile. Local overrides go in config.mak, never here.

CC       ?= cc
CFLAGS   ?= -O2 -g
CPPFLAGS ?=
LDFLAGS  ?=
BATS_VERSION = 1.11.1

-include config.mak

B := build
CW_CFLAGS  := -std=gnu17 -Wall -Wextra -Werror -fPIC -pthread \
              -fvisibility=hidden -D_GNU_SOURCE -Ilib
FIX_CFLAGS := -std=gnu17 -Wall -Wextra -Werror -pthread -D_GNU_SOURCE
# Fixtures export their symbols, so that a trace names their functions.
FIX_LDFLAGS := -rdynamic

LIB_SRC  := $(wildcard lib/*.c)
SHIM_SRC := $(wildcard shim/*.c)
SHIM_ASM := $(wildcard shim/*.S)
# The CLI: its main, and the trace reader behind report and diagnose.
REPORT_SRC := $(wildcard tools/report/*.c)
CLI_SRC  := tools/childwatch.c $(REPORT_SRC) tools/json.c
CLI_HDR  := tools/report.h tools/json.h $(wildcard tools/report/*.h)
CLI_CFLAGS := -Itools
# The benchmark, and empty.so, the empty library it preloads as a floor.
BENCH_SRC := $(filter-out tools/bench/empty.c,$(wildcard tools/bench/*.c))
BENCH     := $(B)/bench $(B)/empty.so
FIXTURES := $(patsubst tests/fixtures/%.c,$(B)/fixtures/%,$(wildcard tests/fixtures/*.c))

LIB_OBJ  := $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
SHIM_OBJ := $(patsubst %.c,$(B)/%.o,$(SHIM_SRC)) $(patsubst %.S,$(B)/%.o,$(SHIM_ASM))

.PHONY: all test check stress demo fixtures clean format lint bench \
	bench-smoke soak check-asan check-tsan check-valgrind fuzz
.DELETE_ON_ERROR:

all: $(B)/libchildwatch.so $(B)/childwatch

$(B)/%.o: %.c $(wildcard lib/*.h shim/*.h)
	@mkdir -p $(@D)
	$(CC) $(CW_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -fPIC -c -o $@ $<

$(B)/libcwcore.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

# Lazy binding (no -z now): the shim imports some eighty libc functions and
# most processes it starts in call few of them; binding them all at load
# cost every exec'd process a fifth of its start (callgrind, /bin/true).
# No start files: their _init, _fini and crtstuff's destructor are code on
# pages of their own that every process would run, for a library that
# registers nothing with atexit and is never unloaded. layout.ld groups the
# code by who runs it.
# Two segments, where a default link makes four and RELRO splits one:
# without RELRO the loader's writes (.dynamic, the GOT) and the shim's state
# share one page that nothing mprotects after; without separate code the
# start's code sits on the page of relocations the loader reads anyway.
# 54 us less per exec'd process here, 2.9 % of a /bin/true (README,
# Performance). RELRO would guard a few pointers beside the shim's own
# writable ones (the real_* slots, .got.plt under lazy binding). To trade
# the start for hardening, in config.mak:
#   SHIM_LAYOUT = -Wl,-z,relro -Wl,-z,separate-code
SHIM_LAYOUT ?= -Wl,-z,norelro -Wl,-z,noseparate-code
$(B)/libchildwatch.so: $(SHIM_OBJ) $(LIB_OBJ) shim/exports.map shim/layout.ld
	$(CC) -shared -nostartfiles -pthread \
		-Wl,--version-script=shim/exports.map -Wl,-T,shim/layout.ld \
		-Wl,-soname,$(CW_SONAME) $(SHIM_LAYOUT) $(LDFLAGS) \
		-o $@ $(SHIM_OBJ) $(LIB_OBJ) -ldl

$(B)/childwatch: $(CLI_SRC) $(CLI_HDR) $(B)/libcwcore.a
	$(CC) $(CW_CFLAGS) $(CLI_CFLAGS) -fPIE $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_SRC) $(B)/libcwcore.a

$(B)/lost_child: tools/lost_child.c
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# These fixtures link against the library instead of preloading it: the C
# API's, and the one run set-user-ID (where LD_PRELOAD paths are ignored).
$(B)/fixtures/api $(B)/fixtures/secure: $(B)/fixtures/%: tests/fixtures/%.c \
		tests/fixtures/fixture.h $(B)/libchildwatch.so
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) -Ilib $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(B) -lchildwatch -Wl,-rpath,$(abspath $(B))

$(B)/fixtures/%: tests/fixtures/%.c tests/fixtures/fixture.h Makefile
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(FIX_LDFLAGS) $(LDFLAGS) -o $@ $<

# A site in a static function is named from debug info: this fixture has
# it whatever CFLAGS says, and no tail call hides the function.
$(B)/fixtures/static_thief: CFLAGS += -g -O0

# Preloaded after the shim into interpreters, to take their children.
$(B)/fixtures/thief.so: tests/fixtures/preload/thief.c Makefile
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) -fPIC -shared $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $<

# Components of one program, which pid_thief loads from its own directory.
FIXTURE_SOS := $(patsubst tests/fixtures/so/%.c,$(B)/fixtures/%.so,$(wildcard tests/fixtures/so/*.c))
$(FIXTURE_SOS): $(B)/fixtures/%.so: tests/fixtures/so/%.c Makefile
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) -fPIC -shared -fvisibility=hidden $(CPPFLAGS) \
		$(CFLAGS) $(LDFLAGS) -o $@ $<

fixtures: $(FIXTURES) $(B)/fixtures/thief.so $(FIXTURE_SOS)

# The CLI with AddressSanitizer and UBSan: tests/trace.bats feeds the
# trace reader bad input through it.
$(B)/childwatch-asan: $(CLI_SRC) $(CLI_HDR) lib/mode.c
	@mkdir -p $(@D)
	$(CC) $(CW_CFLAGS) $(CLI_CFLAGS) -fPIE -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer $(CPPFLAGS) \
		$(CFLAGS) $(LDFLAGS) -o $@ $(CLI_SRC) lib/mode.c

# With GNU parallel on the machine (Debian: parallel), make test runs its
# files one per CPU at a time; without it, one after another.
BATS_JOBS = $(if $(shell command -v parallel),--jobs $(shell nproc) \
	--no-parallelize-within-files)

# bats-core is pinned: make test fetches it when the machine has none.
# make test runs every behaviour in every mode, the load tests at small
# sizes (tests/*.bats); make check runs it, then the load tests at full size
# (tests/stress/*.bats). Each test has a time bound (tests/test_helper.bash;
# BATS_TEST_TIMEOUT=SECONDS overrides it).
test: all fixtures $(B)/lost_child $(BENCH) $(B)/childwatch-asan
	@bats=$$(tests/install-bats.sh $(B)/bats $(BATS_VERSION)) && \
		"$$bats" --timing $(BATS_JOBS) tests/

stress: all fixtures
	@bats=$$(tests/install-bats.sh $(B)/bats $(BATS_VERSION)) && \
		"$$bats" --timing tests/stress/

check: test
	@$(MAKE) --no-print-directory stress

# The suite again against sanitizer builds of the library, the CLI and the
# fixtures, each in its own directory (B=build/asan, build/tsan) so that they
# never mix with the plain build. tests/test_helper.bash takes the build
# from CW_BUILD, preloads the sanitizer's runtime (CW_SAN_RUNTIME) before
# the shim into programs that are not instrumented (sh, bash, python3), and
# fails any test after which a sanitizer wrote a report.
SAN_FLAGS_asan := -fsanitize=address,undefined -fno-sanitize-recover=all \
                  -fno-omit-frame-pointer
SAN_FLAGS_tsan := -fsanitize=thread -fno-omit-frame-pointer
SAN_LIB_asan   := libasan.so
SAN_LIB_tsan   := libtsan.so
SAN_TESTS_asan := tests/
SAN_TESTS_tsan := tests/

check-asan check-tsan: check-%: $(B)/childwatch-asan
	$(MAKE) --no-print-directory B=$(B)/$* \
		CFLAGS='-O1 -g $(SAN_FLAGS_$*)' LDFLAGS='$(SAN_FLAGS_$*)' \
		all fixtures $(B)/$*/lost_child
	@rm -rf $(B)/$*/reports
	@bats=$$(tests/install-bats.sh $(B)/bats $(BATS_VERSION)) && \
		CW_SANITIZER=$* CW_BUILD=$(abspath $(B)/$*) \
		CW_SAN_RUNTIME=$$($(CC) -print-file-name=$(SAN_LIB_$*)) \
		"$$bats" --timing $(SAN_TESTS_$*)

# Every C fixture under valgrind's memcheck, bare and in each mode, against
# the plain build (tests/valgrind.sh says what fails a run).
check-valgrind: all fixtures
	tests/valgrind.sh $(B)

# The benchmark: the C micro-workloads and the real programs, both also
# under empty.so, an empty preloaded library (the floor of LD_PRELOAD).
# make test runs only its smoke run (tests/bench.bats), which checks that it
# works, not how fast. BENCHFLAGS passes options:
# make bench BENCHFLAGS='--workloads real'.
$(B)/bench: $(BENCH_SRC) tools/bench/bench.h
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ \
		$(BENCH_SRC) -lm

$(B)/empty.so: tools/bench/empty.c
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) -fPIC -shared $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
		-o $@ $<

bench: all $(BENCH)
	$(B)/bench $(BENCHFLAGS)

bench-smoke: all $(BENCH)
	$(B)/bench --smoke

# libFuzzer over the parsers of outside input: trace files (the report)
# and CHILDWATCH_MODE. Seeds live in tests/fuzz/corpus/; what the fuzzer
# finds on the way stays in build/. make fuzz FUZZ_SECONDS=600 for longer.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := trace mode
FUZZ_FLAGS   := -std=gnu17 -D_GNU_SOURCE -g -O1 -Ilib -Itools \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(B)/fuzz/trace: tests/fuzz/trace.c $(REPORT_SRC) tools/json.c lib/mode.c $(CLI_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/trace.c $(REPORT_SRC) \
		tools/json.c lib/mode.c

$(B)/fuzz/mode: tests/fuzz/mode.c lib/mode.c lib/mode.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/mode.c lib/mode.c

fuzz: $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(B)/fuzz/found-$$t; \
		$(B)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
			-close_fd_mask=3 -print_final_stats=1 \
			-artifact_prefix=$(B)/fuzz/ $(B)/fuzz/found-$$t \
			tests/fuzz/corpus/$$t >$(B)/fuzz/$$t.log 2>&1; \
		status=$$?; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s," \
			"$$(sed -n 's/^stat::number_of_executed_units: *//p' $(B)/fuzz/$$t.log) executions," \
			"exit $$status (log: $(B)/fuzz/$$t.log)"; \
		if [ $$status -ne 0 ]; then tail -30 $(B)/fuzz/$$t.log; exit 1; fi; \
	done

# The soak of tests/stress.bats at full size, bare and in every mode, with
# its figures; SOAK_CHILDREN changes the size.
SOAK_CHILDREN ?= 100000
soak: all $(B)/fixtures/soak
	-$(B)/fixtures/soak --children $(SOAK_CHILDREN)
	@for m in safe fast threaded pidfd; do \
		CHILDWATCH_MODE=$$m LD_PRELOAD=$(abspath $(B))/libchildwatch.so \
			$(B)/fixtures/soak --children $(SOAK_CHILDREN) || exit 1; \
	done

demo: all $(B)/lost_child
	@tools/demo.sh $(B)

clean:
	rm -rf $(B)

format:
	clang-format -i lib/*.[ch] shim/*.[ch] tools/*.c tools/bench/*.[ch] \
		tools/report/*.[ch] \
		tests/fixtures/*.[ch]

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem \
		--suppress=CastIntegerToAddressAtReturn:shim/sigchld.c \
		-D_GNU_SOURCE -Ilib lib shim tools

# make install and make uninstall; both honour PREFIX and DESTDIR.
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Refreshes the run-time linker's cache after a real install; LDCONFIG=:
# skips it. Failure (not root, no ldconfig) is not an error.
LDCONFIG     ?= ldconfig

CW_VERSION   := 0.1.0
CW_SOVERSION := 0
CW_SONAME    := libchildwatch.so.$(CW_SOVERSION)
CW_REALNAME  := libchildwatch.so.$(CW_VERSION)

# A program linked with -L$(B) -lchildwatch records the soname, so the
# build tree needs it too for the program to start.
all: $(B)/$(CW_SONAME)
$(B)/$(CW_SONAME): $(B)/libchildwatch.so
	ln -sf libchildwatch.so $@

CW_MANPAGES := man/childwatch.1 man/childwatch.3 man/childwatch.7

# Every file and symlink make install creates, for make uninstall.
CW_INSTALLED := \
	$(BINDIR)/childwatch \
	$(LIBDIR)/$(CW_REALNAME) \
	$(LIBDIR)/$(CW_SONAME) \
	$(LIBDIR)/libchildwatch.so \
	$(INCLUDEDIR)/childwatch.h \
	$(PKGCONFIGDIR)/childwatch.pc \
	$(MANDIR)/man1/childwatch.1 \
	$(MANDIR)/man3/childwatch.3 \
	$(MANDIR)/man7/childwatch.7

.PHONY: install uninstall FORCE

# The installed CLI and childwatch.pc have the directories compiled in, so
# they are remade whenever the directories change. The stamp is rewritten
# only when its text differs, so its date says when they last changed.
CW_DIRS_TEXT := PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) INCLUDEDIR=$(INCLUDEDIR) VERSION=$(CW_VERSION)

$(B)/install-dirs: FORCE
	@mkdir -p $(@D)
	@if [ "$$(cat $@ 2>/dev/null)" != '$(CW_DIRS_TEXT)' ]; then \
		printf '%s\n' '$(CW_DIRS_TEXT)' >$@; \
	fi

FORCE:

# The CLI looks for the library beside itself, in ../lib, then in
# CW_LIBDIR, so the installed copy finds the installed library without
# LD_LIBRARY_PATH even when BINDIR is not $(PREFIX)/bin.
$(B)/childwatch-install: $(CLI_SRC) $(CLI_HDR) $(B)/libcwcore.a $(B)/install-dirs
	$(CC) $(CW_CFLAGS) $(CLI_CFLAGS) -fPIE $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
		-DCW_LIBDIR='"$(LIBDIR)"' -o $@ $(CLI_SRC) $(B)/libcwcore.a

# libdir and includedir are written relative to ${prefix} when they lie
# under it, so that pkg-config --define-prefix can relocate the copy.
$(B)/childwatch.pc: tools/childwatch.pc.in $(B)/install-dirs
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
		-e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
		-e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
		-e 's|@VERSION@|$(CW_VERSION)|g' $< >$@

install: $(B)/libchildwatch.so $(B)/childwatch-install $(B)/childwatch.pc \
		lib/childwatch.h $(CW_MANPAGES)
	install -D -m 755 $(B)/childwatch-install $(DESTDIR)$(BINDIR)/childwatch
	install -D -m 644 $(B)/libchildwatch.so $(DESTDIR)$(LIBDIR)/$(CW_REALNAME)
	ln -sf $(CW_REALNAME) $(DESTDIR)$(LIBDIR)/$(CW_SONAME)
	ln -sf $(CW_SONAME) $(DESTDIR)$(LIBDIR)/libchildwatch.so
	install -D -m 644 lib/childwatch.h $(DESTDIR)$(INCLUDEDIR)/childwatch.h
	install -D -m 644 $(B)/childwatch.pc $(DESTDIR)$(PKGCONFIGDIR)/childwatch.pc
	install -D -m 644 man/childwatch.1 $(DESTDIR)$(MANDIR)/man1/childwatch.1
	install -D -m 644 man/childwatch.3 $(DESTDIR)$(MANDIR)/man3/childwatch.3
	install -D -m 644 man/childwatch.7 $(DESTDIR)$(MANDIR)/man7/childwatch.7
	@if [ -z '$(DESTDIR)' ]; then $(LDCONFIG) >/dev/null 2>&1 || :; fi

# Directories are left alone: they may hold other packages' files.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(CW_INSTALLED))

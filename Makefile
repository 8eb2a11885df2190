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

LIB_SRC  := $(wildcard lib/*.c)
SHIM_SRC := $(wildcard shim/*.c)
SHIM_ASM := $(wildcard shim/*.S)
FIXTURES := $(patsubst tests/fixtures/%.c,$(B)/fixtures/%,$(wildcard tests/fixtures/*.c))

LIB_OBJ  := $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
SHIM_OBJ := $(patsubst %.c,$(B)/%.o,$(SHIM_SRC)) $(patsubst %.S,$(B)/%.o,$(SHIM_ASM))

.PHONY: all test demo fixtures clean format lint
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

$(B)/libchildwatch.so: $(SHIM_OBJ) $(LIB_OBJ) shim/exports.map
	$(CC) -shared -pthread -Wl,--version-script=shim/exports.map \
		-Wl,-z,now -Wl,-z,relro $(SONAME_LDFLAGS) $(LDFLAGS) \
		-o $@ $(SHIM_OBJ) $(LIB_OBJ) -ldl

$(B)/childwatch: tools/childwatch.c $(B)/libcwcore.a
	$(CC) $(CW_CFLAGS) -fPIE $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcwcore.a

$(B)/lost_child: tools/lost_child.c
	$(CC) $(FIX_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# The C API's fixture links against the library instead of preloading it.
$(B)/fixtures/api: tests/fixtures/api.c tests/fixtures/fixture.h $(B)/libchildwatch.so
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) -Ilib $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		-L$(B) -lchildwatch -Wl,-rpath,$(abspath $(B))

$(B)/fixtures/%: tests/fixtures/%.c tests/fixtures/fixture.h
	@mkdir -p $(@D)
	$(CC) $(FIX_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

fixtures: $(FIXTURES)

# bats-core is pinned: make test fetches it when the machine has none.
test: all fixtures $(B)/lost_child
	@bats=$$(tests/install-bats.sh $(B)/bats $(BATS_VERSION)) && \
		"$$bats" --timing tests/

demo: all $(B)/lost_child
	@tools/demo.sh $(B)

clean:
	rm -rf $(B)

format:
	clang-format -i lib/*.[ch] shim/*.[ch] tools/*.c tests/fixtures/*.[ch]

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem \
		--suppress=CastIntegerToAddressAtReturn:shim/sigchld.c \
		-D_GNU_SOURCE -Ilib lib shim tools

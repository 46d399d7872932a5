# egressd: one non-recursive GNU Makefile.
#   make            build/egressd and build/egressctl
#   make test       everything under sanitizers, then "N passed, N failed"
#   make fuzz       libFuzzer runs (FUZZ_SECONDS each, default 60)
#   make demo       the how-to end to end on a local cluster
#   make bench      side-by-side benchmarks (bench/README.md)
#   make fmt        reformat; make check-fmt fails on a difference
# BUILD=dir keeps objects apart (two builds at once must use two dirs).

BUILD    ?= build
CC       ?= cc
CLANG    ?= clang
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            -Wformat=2 -Wno-format-nonliteral -Wno-missing-field-initializers
CPPFLAGS := -std=c17 -D_GNU_SOURCE -Isrc -MMD -MP
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
PKGS     := openssl yaml-0.1 libcares
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lssl -lcrypto -lyaml -lcares) -lpthread
MODULES  := core net http tls dns model compile proxy policy telemetry store runtime ctl
LIB_SRC  := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 60

DEPS_OK  := $(BUILD)/.deps-ok

all: $(BUILD)/egressd $(BUILD)/egressctl

# A fresh machine gets its packages before the first compile.
$(DEPS_OK): scripts/install-deps
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps
	@mkdir -p $(@D) && touch $@

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(BUILD)/libegress.a: $(LIB_SRC:%.c=$(BUILD)/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/egressd: $(BUILD)/src/cmd/egressd.o $(BUILD)/libegress.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/egressctl: $(BUILD)/src/cmd/egressctl.o $(BUILD)/libegress.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

# The same sources again with AddressSanitizer + UndefinedBehaviorSanitizer.
$(BUILD)/san/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -c $< -o $@

$(BUILD)/san/libegress.a: $(LIB_SRC:%.c=$(BUILD)/san/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/san/egressd: $(BUILD)/san/src/cmd/egressd.o $(BUILD)/san/libegress.a
	$(CC) -g $(SAN) -o $@ $^ $(LIBS)

$(BUILD)/san/egressctl: $(BUILD)/san/src/cmd/egressctl.o $(BUILD)/san/libegress.a
	$(CC) -g $(SAN) -o $@ $^ $(LIBS)

$(BUILD)/san/unit/%: $(BUILD)/san/tests/unit/%.o $(BUILD)/san/libegress.a
	@mkdir -p $(@D)
	$(CC) -g $(SAN) -o $@ $^ $(LIBS)

# Fuzz targets replayed over their corpus without libFuzzer (gcc + sanitizers).
$(BUILD)/san/fuzz/%: $(BUILD)/san/tests/fuzz/%.o $(BUILD)/san/tests/fuzz/replay_main.o $(BUILD)/san/libegress.a
	@mkdir -p $(@D)
	$(CC) -g $(SAN) -o $@ $^ $(LIBS)

# libFuzzer builds: the library again with clang's coverage instrumentation, as an
# archive, so a target links only the modules it uses.
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -Wall -Wextra -Werror \
               -Wno-missing-field-initializers
$(BUILD)/fuzzlib/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzzlib/libegress.a: $(LIB_SRC:%.c=$(BUILD)/fuzzlib/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/fuzz/%: $(BUILD)/fuzzlib/tests/fuzz/%.o $(BUILD)/fuzzlib/libegress.a
	@mkdir -p $(@D)
	$(CLANG) -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/san/unit/%)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/san/fuzz/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

test-build: all $(BUILD)/san/egressd $(BUILD)/san/egressctl $(UNIT_BIN) $(FUZZ_REPLAY)

test: test-build
	@BUILD=$(BUILD) tests/run.sh

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$${f##*/}; mkdir -p tests/fuzz/corpus/$$n; \
	  echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	    $$( [ -f tests/fuzz/$$n.dict ] && echo -dict=tests/fuzz/$$n.dict ) \
	    tests/fuzz/corpus/$$n || exit 1; done

demo: all
	@scripts/demo

bench: all
	@bench/run

FMT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
fmt:
	clang-format -i $(FMT_SRC)
check-fmt:
	@clang-format --dry-run -Werror $(FMT_SRC)

clean:
	rm -rf $(BUILD)

.PHONY: all test test-build fuzz demo bench fmt check-fmt clean
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

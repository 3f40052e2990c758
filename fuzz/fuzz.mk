# fuzz/fuzz.mk: fuzz targets (fuzz/<target>.c), included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=60]   clang + libFuzzer + ASan + UBSan into build/fuzz/,
#                                 then each target for FUZZ_SECONDS s (fuzz/run.sh)
#   make fuzz FUZZ_TARGETS="http store"   only those targets
#   make fuzz-seeds               rewrites the generated seeds in fuzz/corpus/
#   (make tests)                  also builds $(B)/fuzz/<target>: the target with
#                                 fuzz/replay.c, which tests/e2e/fuzz_replay.sh runs
#                                 over fuzz/corpus/<target>/ (make check: gcc, ASan)
#
# build/fuzz has its own objects (clang, -fsanitize=fuzzer-no-link): never
# mixed with another variant's. New inputs the fuzzer finds go to
# build/fuzz/work/<target>/, crashes to build/fuzz/crashes/; the committed
# corpus is only read. See docs/RELIABILITY.md, "Fuzzing".

FUZZ_TARGETS := dlib http image lfw_pairs manifest onnx replica store video wider
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_B       := build/fuzz

# Corpus replay programs of the current variant (any compiler).
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(B)/fuzz/%)
$(FUZZ_REPLAY): $(B)/fuzz/%: $(B)/fuzz/%.o $(B)/fuzz/replay.o $(B)/libfacetrail.a
	$(CC) $(LDFLAGS) -o $@ $(filter-out %.a,$^) $(filter %.a,$^) $(LDLIBS)
tests: $(FUZZ_REPLAY)

# libFuzzer programs: built only as the build/fuzz variant (see fuzz:), as
# build/fuzz/fuzz/bin/<target>.
FUZZ_BIN := $(FUZZ_TARGETS:%=$(B)/fuzz/bin/%)
$(FUZZ_BIN): $(B)/fuzz/bin/%: $(B)/fuzz/%.o $(B)/libfacetrail.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $(filter-out %.a,$^) $(filter %.a,$^) $(LDLIBS)

# http includes the server (tools/cmd_serve.c): the CLI's helpers and
# libmicrohttpd too
$(B)/fuzz/http $(B)/fuzz/bin/http: $(B)/tools/cli.o $(B)/tools/ui.o
$(B)/fuzz/http $(B)/fuzz/bin/http: LDLIBS += $(shell pkg-config --libs libmicrohttpd)

$(B)/fuzz/make_seeds: $(B)/fuzz/make_seeds.o $(B)/libfacetrail.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: fuzz-bin fuzz-seeds
fuzz-bin: $(FUZZ_BIN)

fuzz:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=$(FUZZ_CC) SANITIZE=address,undefined \
	  EXTRA_CFLAGS=-fsanitize=fuzzer-no-link fuzz-bin
	@sh fuzz/run.sh $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-seeds: $(B)/fuzz/make_seeds
	$(B)/fuzz/make_seeds fuzz/corpus
	python3 fuzz/make_seeds.py fuzz/corpus

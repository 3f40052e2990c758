# facetrail: hand-written GNU Makefile (see docs/design.md).
#
#   make            release build: build/release/{libfacetrail.a,facetrail}
#   make setup      install Debian build deps (as root) and fetch the models
#   make demo       setup + build + detect/compare on the sample photos
#   make demo-live  the event live: 3 simulated cameras into serve, an alert on its page
#   make check      build under ASan+UBSan (build/asan) and run the whole suite
#   make test       run the suite on the release build (faster, no sanitizers)
#   make tsan-check the server's end-to-end test under ThreadSanitizer (build/tsan)
#   make cluster-test  3 NATS servers, 2 ingest + 2 search + 2 shard nodes, kills (build/asan)
#   make cluster-tsan  the same under ThreadSanitizer (build/tsan; not in .ci/run)
#   make bench      per-stage timings, beside the reference peer, as ratios
#   make parity     full parity run against the JavaScript peer on the six samples
#   make install    PREFIX (default /usr/local): bin/facetrail, lib/libfacetrail.a,
#                   include/, share/facetrail/models/{face-api,yunet,dlib}/ (found by
#                   the binary)
#   make fuzz       libFuzzer targets (clang) into build/fuzz, FUZZ_SECONDS each (fuzz/fuzz.mk)
#   make format / format-check / clean
#
# Variants: SANITIZE=address,undefined selects build/asan; DEBUG=1 build/debug.

CC      ?= cc
PKGS    := libjpeg libpng jansson libavformat libavcodec libavutil libswscale sqlite3 libprotobuf-c libnats
NN_LIBS := -lXNNPACK -lpthreadpool

WARN    := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wformat=2 -Wno-unused-parameter
ifdef WERROR
WARN    += -Werror
endif
BASE_CFLAGS := $(WARN) -ffp-contract=off -D_GNU_SOURCE -Iinclude -Isrc -Itests -MMD -MP $(shell pkg-config --cflags $(PKGS))
LDLIBS  := $(shell pkg-config --libs $(PKGS)) $(NN_LIBS) -lpthread -lm

ifdef SANITIZE
VARIANT := asan
OPT     := -O1 -g -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifdef DEBUG
VARIANT := debug
OPT     := -O0 -g
else
VARIANT := release
OPT     := -O2 -g
endif
B       := build/$(VARIANT)
CFLAGS  := $(BASE_CFLAGS) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS += $(OPT)

LIB_SRC  := $(wildcard src/*/*.c src/*/*/*.c)
# ONNX's schema compiled to C by protoc-c at build time (nn/onnx.c reads with it)
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
GEN_OBJ  := $(B)/gen/onnx.pb-c.o
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o) $(GEN_OBJ)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
BENCH_SRC:= $(wildcard bench/bench_*.c)
BENCH_BIN:= $(BENCH_SRC:bench/%.c=$(B)/bench/%)
# test-only references, built where pkg-config finds dlib-1 (libdlib-dev);
# without them the tests that need them skip
REF_BIN  :=
ifeq ($(shell pkg-config --exists dlib-1 && echo yes),yes)
REF_BIN  += $(B)/tests/ref/dlib_net_ref $(B)/tests/ref/dlib_shape_ref
endif

.PHONY: all lib cli tests check tsan-check cluster-test cluster-tsan test bench parity setup deps models demo demo-live install format format-check clean fuzz
all: cli
lib: $(B)/libfacetrail.a
cli: $(B)/facetrail
tests: $(TEST_BIN) $(B)/facetrail $(B)/bench/bench_race_sim $(B)/bench/bench_race_scale $(REF_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/gen/onnx.pb-c.c: $(ONNX_PROTO)
	@mkdir -p $(dir $@)
	protoc-c --proto_path=$(dir $<) --c_out=$(dir $@) $(notdir $<)
$(B)/gen/onnx.pb-c.h: $(B)/gen/onnx.pb-c.c ;
$(GEN_OBJ): $(B)/gen/onnx.pb-c.c
	$(CC) $(OPT) $(shell pkg-config --cflags libprotobuf-c) -I$(B)/gen -c $< -o $@
$(B)/src/nn/onnx.o: $(B)/gen/onnx.pb-c.h
$(B)/src/nn/onnx.o: CFLAGS += -I$(B)/gen

$(B)/libfacetrail.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

TOOL_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard tools/*.c))
# the CLI alone serves HTTP (facetrail serve): libmicrohttpd
$(B)/facetrail: $(TOOL_OBJ) $(B)/libfacetrail.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libmicrohttpd)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/tests/harness/harness.o $(B)/libfacetrail.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# every bench program also links the shared helpers (bench/util.c: not a
# bench_*.c file, so not a program of its own) and the CLI's option walker and
# JSON writer (tools/cli.c)
$(B)/bench/%: $(B)/bench/%.o $(B)/bench/util.o $(B)/tools/cli.o $(B)/libfacetrail.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test-only reference programs on system C++ libraries, never linked into the
# library: dlib's own face descriptor net (tests/unit/test_dlib_net.c). Plain
# -O2 in every variant (dlib takes a minute or two to compile).
$(B)/tests/ref/dlib_net_ref: tests/ref/dlib_net_ref.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++14 -O2 -o $@ $< $(shell pkg-config --cflags --libs dlib-1)
# ... and dlib's 5-point shape predictor and face chip (tests/unit/test_dlib_shape.c).
$(B)/tests/ref/dlib_shape_ref: tests/ref/dlib_shape_ref.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++14 -O2 -o $@ $< $(shell pkg-config --cflags --libs dlib-1)

# The suite: every tests/unit binary, then the CLI tests; one closing line.
test: tests
	@FT_BUILD=$(B) sh tests/run.sh $(TEST_BIN)

check:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined models tests
	@UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
	  FT_BUILD=build/asan sh tests/run.sh $(TEST_SRC:tests/unit/%.c=build/asan/tests/%)

# The server under ThreadSanitizer: tests/e2e/serve.sh (concurrent searches, a
# live camera, alerts, tokens) against a build with -fsanitize=thread; any
# report fails its last check.
tsan-check:
	@$(MAKE) --no-print-directory B=build/tsan SANITIZE=thread models cli \
	  build/tsan/bench/bench_race_sim build/tsan/bench/bench_race_scale
	@TSAN_OPTIONS=halt_on_error=0 FT_CLI=build/tsan/facetrail FT_SIM=build/tsan/bench/bench_race_sim \
	  FT_SCALE=build/tsan/bench/bench_race_scale sh tests/e2e/serve.sh

# The cluster on loopback: 3 nats-server processes (JetStream), 2 ingest and
# 2 search nodes, one server and one ingest node killed mid-run; every
# sighting exactly once on every search node, equal to a single box
# (tests/e2e/cluster.sh; needs nats-server: make deps).
cluster-test:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined models cli build/asan/bench/bench_race_sim
	@UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
	  FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim sh tests/e2e/cluster.sh

# The same under ThreadSanitizer (build/tsan; about 7.5 min on 2 cores: by
# hand, not in .ci/run). Any report fails its last check.
cluster-tsan:
	@$(MAKE) --no-print-directory B=build/tsan SANITIZE=thread models cli build/tsan/bench/bench_race_sim
	@TSAN_OPTIONS=halt_on_error=0 FT_CLI=build/tsan/facetrail FT_SIM=build/tsan/bench/bench_race_sim \
	  sh tests/e2e/cluster.sh

REPEATS ?= 10
bench: $(BENCH_BIN) models
	sh bench/run.sh $(B) $(REPEATS)

parity: models
	sh tests/e2e/parity_peer.sh

deps:
	sh models/install_deps.sh

models:
	@sh models/fetch.sh

setup: deps models

demo: setup
	@$(MAKE) --no-print-directory cli $(B)/bench/bench_race_sim
	@sh tools/demo.sh $(B)/facetrail

# The event live: three simulated cameras streamed into `facetrail serve`, a
# watchlist alert on its page (http://127.0.0.1:$(PORT)/). Ctrl-C stops.
PORT ?= 8080
demo-live: setup
	@$(MAKE) --no-print-directory cli $(B)/bench/bench_race_sim
	@PORT=$(PORT) sh tools/demo_live.sh $(B)/facetrail $(B)/bench/bench_race_sim

# The binary looks for PREFIX/share/facetrail/models/face-api/model beside its
# own PREFIX/bin (ft_engine_default_model_dir), so any PREFIX works. DESTDIR
# stages the tree elsewhere (packaging).
PREFIX  ?= /usr/local
INSTALL ?= install
install: cli lib models
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	  $(DESTDIR)$(PREFIX)/include/facetrail $(DESTDIR)$(PREFIX)/share/facetrail/models/face-api/model
	$(INSTALL) -m 755 $(B)/facetrail $(DESTDIR)$(PREFIX)/bin/facetrail
	$(INSTALL) -m 644 $(B)/libfacetrail.a $(DESTDIR)$(PREFIX)/lib/libfacetrail.a
	$(INSTALL) -m 644 include/facetrail.h $(DESTDIR)$(PREFIX)/include/facetrail.h
	$(INSTALL) -m 644 $(wildcard include/facetrail/*.h) $(DESTDIR)$(PREFIX)/include/facetrail/
	$(INSTALL) -m 644 models/face-api/LICENSE $(DESTDIR)$(PREFIX)/share/facetrail/models/face-api/LICENSE
	$(INSTALL) -m 644 models/face-api/model/* $(DESTDIR)$(PREFIX)/share/facetrail/models/face-api/model/
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/share/facetrail/models/yunet $(DESTDIR)$(PREFIX)/share/facetrail/models/dlib
	$(INSTALL) -m 644 models/yunet/yunet_n_dynamic.onnx models/yunet/LICENSE models/yunet/SOURCE.txt \
	  $(DESTDIR)$(PREFIX)/share/facetrail/models/yunet/
	$(INSTALL) -m 644 models/dlib/dlib_face_recognition_resnet_model_v1.dat \
	  models/dlib/shape_predictor_5_face_landmarks.dat models/dlib/LICENSE \
	  $(DESTDIR)$(PREFIX)/share/facetrail/models/dlib/

format:
	clang-format -i $(wildcard include/*.h include/facetrail/*.h src/*/*.[ch] src/*/*/*.[ch] tools/*.c tests/*/*.[ch] bench/*.c)

format-check:
	clang-format --dry-run -Werror $(wildcard include/*.h include/facetrail/*.h src/*/*.[ch] src/*/*/*.[ch] tools/*.c tests/*/*.[ch] bench/*.c)

clean:
	rm -rf build

# libFuzzer targets, make fuzz, and the corpus replay programs of make tests
include fuzz/fuzz.mk

-include $(shell find build -name '*.d' 2>/dev/null)

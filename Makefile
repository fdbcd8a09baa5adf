# The two commands a newcomer needs:  make run   and   make test
# Each first makes sure the Debian packages are present (installs them as root).
SWIFT   ?= swift
BIN     := .build/release/instructrec
BENCH   := .build/release/instructrec-bench
THREADS ?= 2

.PHONY: deps build build-debug build-bench test run bench bench-pointwise bench-concurrency bench-tokenizer bench-http fuzz fixtures clean lb-test soak fairness build-loadtest image-test

deps:
	@scripts/ensure-system-packages.sh

build: deps
	$(SWIFT) build -c release --product instructrec

build-debug: deps
	$(SWIFT) build

# The benchmarks live in their own binary, not in the service's.
build-bench: deps
	$(SWIFT) build -c release --product instructrec-bench

test: deps
	$(SWIFT) test --disable-swift-testing

# make run PORT=8081: listen there (default: the configured port, 8080)
run: build
	$(BIN) serve --set drain_delay_s=0$(if $(PORT), --port $(PORT))

# Engine benchmark: flan-t5-small and flan-t5-base shapes with random weights,
# rerank-20 and rerank-100 (random ids) and games-20, games-100 (real SASRec
# pools of Games titles; skipped with a message when ../shared/data/games is
# absent), beside the plain cblas_sgemm ceiling of the same run. Every
# workload runs with decoder prefix sharing on and off (the old path),
# interleaved; BENCH_SHARING=on|off runs one side only. Then the default model with its own
# settings: a 1,000-candidate /recommend against a 100-candidate one (p50, warm and cold title-prior cache).
BENCH_SHARING ?= both
# The engine run also times rerank-20 in int8 beside F32 (every int8 kernel the CPU has), and writes the ids
# its HTTP rerank-20 figure scored; transformers then scores the same ids (scripts/bench/bench_hf_t5.py,
# encoder output and cross-attention K/V shared: the best a transformers user can do) on weights that
# `instructrec serve` serves too, the two timed request by request, and prints ours / its.
bench: build build-bench bench-concurrency bench-pointwise
	$(BENCH) engine --models small,base --workloads rerank-20,rerank-100,games-20,games-100 --threads $(THREADS) --sharing $(BENCH_SHARING) \
	  --end-to-end-json .build/bench-models/end-to-end-small.json
	@if [ -x venv/bin/python ]; then venv/bin/python scripts/bench/bench_hf_t5.py --size small --threads $(THREADS) \
	  --ids .build/bench-models/end-to-end-small.json --serve $(BIN); \
	else echo "bench: no venv/ for the transformers reference (python3 -m venv venv && venv/bin/pip install -r scripts/requirements.txt)"; fi
	$(BENCH) candidates --model models/default --counts 100,1000 --threads $(THREADS)

# Pointwise reranking: 100 documents x 200 tokens scored MonoT5-style on a random-weight
# MonoT5-small-shaped checkpoint, by transformers (batched forward, 2 threads) and CTranslate2
# (score_batch, 2 threads) in scripts/bench/bench_pointwise.py, then by our engine, in the same run on the
# same token ids. Then int8 and bf16: POST /v2/rerank to `instructrec serve` with weights_dtype int8, bf16 and f32
# against CTranslate2 int8 score_batch at its best batch, interleaved round by round
# (scripts/bench/bench_pointwise_reduced.py).
# Needs venv/ (scripts/requirements.txt, ctranslate2 included); without it, ours alone.
POINTWISE_MODEL := .build/bench-models/monot5-small-random
POINTWISE_IDS := .build/bench-models/pointwise-100x200.json
bench-pointwise: build build-bench
	@mkdir -p .build/bench-models
	@if [ -x venv/bin/python ]; then \
	  venv/bin/python scripts/bench/bench_pointwise.py $(if $(wildcard $(POINTWISE_MODEL)/model.safetensors),--model,--make-model) $(POINTWISE_MODEL) \
	    --ids $(POINTWISE_IDS) --threads $(THREADS) --batch 32 100 --json .build/bench-models/pointwise-reference.json && \
	  $(BENCH) pointwise --model $(POINTWISE_MODEL) --ids $(POINTWISE_IDS) --threads $(THREADS) --reference .build/bench-models/pointwise-reference.json && \
	  venv/bin/python scripts/bench/bench_pointwise_reduced.py --serve $(BIN) --model $(POINTWISE_MODEL) --ids $(POINTWISE_IDS) \
	    --threads $(THREADS) --json .build/bench-models/pointwise-reduced.json; \
	else echo "bench-pointwise: no venv/ (python3 -m venv venv && venv/bin/pip install -r scripts/requirements.txt); the checkpoint and ids come from scripts/bench/bench_pointwise.py"; fi

# Cross-request batching under concurrent load: C = 1, 4, 8 clients over HTTP against two servers
# (batching on = the defaults; off = max_batch_requests=1), interleaved, for the default model and
# flan-t5-small shapes with random BF16 weights (written once by scripts/fixtures/make_random_t5_checkpoint.py,
# with the Flan-T5 tokenizer from ../shared/data/t5 or the test fixture). Then PAIRED lone requests
# alternate between the two servers request by request: the single-request latency ratio.
CONCURRENCY_SECONDS ?= 15
PAIRED ?= 120
SMALL_RANDOM := .build/bench-models/flan-t5-small-random
FLAN_CONFIG := $(firstword $(wildcard ../shared/data/t5/flan-t5-small/config.json))
FLAN_TOKENIZER := $(firstword $(wildcard ../shared/data/t5/tokenizer.json) Tests/TokenizerTests/Fixtures/tokenizer.json)
bench-concurrency: build
	@if [ ! -f $(SMALL_RANDOM)/model.safetensors ]; then \
	  if [ -x scripts/fixtures/make_random_t5_checkpoint.py ] && [ -n "$(FLAN_CONFIG)" ]; then \
	    python3 scripts/fixtures/make_random_t5_checkpoint.py $(FLAN_CONFIG) $(SMALL_RANDOM) --tokenizer $(FLAN_TOKENIZER); \
	  else echo "(no scripts/fixtures/make_random_t5_checkpoint.py or flan-t5-small config.json: default model only)"; fi; fi
	python3 scripts/bench/bench_concurrency.py --model default=models/default \
	  $$([ -f $(SMALL_RANDOM)/model.safetensors ] && echo --model small=$(SMALL_RANDOM)) \
	  --seconds $(CONCURRENCY_SECONDS) --threads $(THREADS) --paired $(PAIRED)

# Regenerate golden fixtures (needs venv/: python3 -m venv venv && venv/bin/pip install -r scripts/requirements.txt).
fixtures:
	venv/bin/python scripts/fixtures/make_t5_fixtures.py Tests/T5Tests/Fixtures

clean:
	rm -rf .build

# Tokenizer throughput on the committed corpus; Hugging Face `tokenizers` side
# by side when the Python venv exists (CI has none).
bench-tokenizer: build-bench
	$(BENCH) tokenizer
	@if [ -x venv/bin/python ]; then RAYON_NUM_THREADS=1 venv/bin/python scripts/bench/bench_tokenizer.py; \
	else echo "(no venv/: skipping the Hugging Face side; python3 -m venv venv && venv/bin/pip install -r scripts/requirements.txt)"; fi

# libFuzzer, FUZZ_SECONDS on each target: the request parser (differential: whole vs split
# input) and the connection state machine (random event sequences and byte splits against its
# invariants). FUZZ_TARGET=parser or FUZZ_TARGET=connection runs one; the default runs both.
FUZZ_SECONDS ?= 600
FUZZ_TARGET  ?= both
FUZZ_DIR     := .build/fuzz
# What the targets compile, found in the tree (no file list to keep up to date): the whole HTTP module
# (Sources/HTTP/*.swift) and the Swift module it imports, Randomness (Sources/Randomness/*.swift), in one module
# named HTTP (its sources name it: `HTTP.AccessRecord`), with the target's own Fuzz/*.swift file, which uses the
# module's internal API; RequestID.swift's `import Randomness` sits under `#if canImport(Randomness)` for this build. The C shims it imports, CHTTPShims
# (Sources/CHTTPShims/*.c: zlib, OpenSSL), are compiled with clang and linked with -lssl -lcrypto -lz. A new file
# in those folders is picked up; a new module dependency of HTTP (Package.swift) needs its folder added here.
FUZZ_SWIFT_SOURCES   := $(sort $(wildcard Sources/HTTP/*.swift Sources/Randomness/*.swift))
FUZZ_C_OBJECTS       := $(patsubst Sources/CHTTPShims/%.c,$(FUZZ_DIR)/CHTTPShims/%.o,$(sort $(wildcard Sources/CHTTPShims/*.c)))
FUZZ_MAIN_parser     := Fuzz/RequestParserFuzz.swift
FUZZ_MAIN_connection := Fuzz/ConnectionStateMachineFuzz.swift
FUZZ_RUN := $(if $(filter both,$(FUZZ_TARGET)),parser connection,$(FUZZ_TARGET))
$(FUZZ_DIR)/CHTTPShims/%.o: Sources/CHTTPShims/%.c Sources/CHTTPShims/include/CHTTPShims.h
	@mkdir -p $(@D)
	clang -c -O1 -fsanitize=fuzzer-no-link,address -I Sources/CHTTPShims/include $< -o $@
fuzz: $(FUZZ_C_OBJECTS)
	mkdir -p $(FUZZ_DIR)/include
	printf 'module CHTTPShims {\n  header "%s/Sources/CHTTPShims/include/CHTTPShims.h"\n  export *\n}\n' "$(CURDIR)" > $(FUZZ_DIR)/include/module.modulemap
	@for target in $(FUZZ_RUN); do \
	  case $$target in \
	    parser) main="$(FUZZ_MAIN_parser)";; \
	    connection) main="$(FUZZ_MAIN_connection)";; \
	    *) echo "FUZZ_TARGET must be parser, connection or both"; exit 2;; \
	  esac; \
	  mkdir -p $(FUZZ_DIR)/corpus-$$target; \
	  echo "== fuzz $$target for $(FUZZ_SECONDS) s ($(words $(FUZZ_SWIFT_SOURCES)) module files + $$main, $(words $(FUZZ_C_OBJECTS)) C shims)"; \
	  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HTTP -I $(FUZZ_DIR)/include \
	    $(FUZZ_SWIFT_SOURCES) $$main $(FUZZ_C_OBJECTS) -lssl -lcrypto -lz -o $(FUZZ_DIR)/$$target || exit 1; \
	  $(FUZZ_DIR)/$$target -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    $(FUZZ_DIR)/corpus-$$target Fuzz/seeds || exit 1; \
	done

# wrk against our HTTP layer and nginx in the same run (needs wrk and nginx: installed here as root).
bench-http: build-bench
	@scripts/ensure-system-packages.sh wrk nginx-light
	scripts/bench/bench_http.sh $(BENCH_HTTP_SECONDS)

# Operational tests against the release binary (docker/README.md). Each replica serves two models:
# default (models/default, /recommend) and mono (the MonoT5 test fixture, /v2/rerank with "model": "mono");
# LOADTEST_ARGS="--second-model none" tests the default model alone.
#   lb-test   nginx (docker/nginx.conf) on loopback in front of 3 replicas; load on both models;
#             SIGTERM one replica (0 failures), reload one model on another (0 failures on either model),
#             SIGKILL another (only in-flight may fail), SIGHUP (the changed model reloads); both rejoin.
#   soak      one replica: steady load, 4x overload bursts, abusive clients; RSS and fd leak check,
#             latency per model.
#   fairness  one replica, one worker: mono's latency alone and beside 32 clients flooding default;
#             fails when its p99 beside exceeds 2 x its p99 alone + 2 flood batches + 5 ms (round-robin admission).
# CI runs short versions: make lb-test LB_SECONDS=40 && make soak SOAK_SECONDS=80
LB_SECONDS       ?= 60
SOAK_SECONDS     ?= 600
FAIRNESS_SECONDS ?= 10
LOADTEST_ARGS    ?=
LOADTEST         := .build/release/instructrec-loadtest

build-loadtest: deps
	$(SWIFT) build -c release --product instructrec-loadtest

lb-test: build build-loadtest
	@scripts/ensure-system-packages.sh nginx-light
	$(LOADTEST) lb-test --duration $(LB_SECONDS) $(LOADTEST_ARGS)

soak: build build-loadtest
	$(LOADTEST) soak --duration $(SOAK_SECONDS) $(LOADTEST_ARGS)

fairness: build build-loadtest
	$(LOADTEST) fairness --seconds $(FAIRNESS_SECONDS) $(LOADTEST_ARGS)

# The image, built and run without Docker or a registry (docker/README.md, "Building and testing the image
# here"): local base images from Debian's packages and this machine's Swift toolchain (built once, then kept),
# `podman build` of docker/Dockerfile, then the image's filesystem run under chroot as its user: /readyz, one
# /recommend, the non-root uid, the HEALTHCHECK, the ldd closure, SIGTERM. As root. About 6 minutes on a bare
# 2-core machine (base images, then the release build inside the image); seconds once cached. CI runs it.
# IMAGE_TEST_REF=HEAD builds the last commit instead of the working tree.
image-test:
	scripts/ops/image_test.sh

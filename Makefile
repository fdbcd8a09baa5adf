# The two commands a newcomer needs:  make run   and   make test
# Each first makes sure the Debian packages are present (installs them as root).
SWIFT   ?= swift
BIN     := .build/release/instructrec
BENCH   := .build/release/instructrec-bench
THREADS ?= 2

.PHONY: deps build build-debug build-bench test run bench bench-tokenizer bench-http fuzz fixtures clean lb-test soak build-loadtest

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

run: build
	$(BIN) serve --set drain_delay_s=0

# Engine benchmark: flan-t5-small and flan-t5-base shapes with random weights,
# rerank-20 and rerank-100 (random ids) and games-20, games-100 (real SASRec
# pools of Games titles; skipped with a message when ../shared/data/games is
# absent), beside the plain cblas_sgemm ceiling of the same run. Every
# workload runs with decoder prefix sharing on and off (the old path),
# interleaved; BENCH_SHARING=on|off runs one side only.
BENCH_SHARING ?= both
bench: build-bench
	$(BENCH) engine --models small,base --workloads rerank-20,rerank-100,games-20,games-100 --threads $(THREADS) --sharing $(BENCH_SHARING)

# Regenerate golden fixtures (needs the Python venv from scripts/requirements.txt).
fixtures:
	venv/bin/python scripts/make_t5_fixtures.py Tests/T5Tests/Fixtures

clean:
	rm -rf .build

# Tokenizer throughput on the committed corpus; Hugging Face `tokenizers` side
# by side when the Python venv exists (CI has none).
bench-tokenizer: build-bench
	$(BENCH) tokenizer
	@if [ -x venv/bin/python ]; then RAYON_NUM_THREADS=1 venv/bin/python scripts/bench_tokenizer.py; \
	else echo "(no venv: skipping the Hugging Face side; see scripts/requirements.txt)"; fi

# libFuzzer over the request parser (differential: whole vs split input).
FUZZ_SECONDS ?= 600
FUZZ_SOURCES := Sources/HTTP/RequestParser.swift Sources/HTTP/ParserLimits.swift Sources/HTTP/HTTPError.swift \
                Sources/HTTP/HTTPHeaders.swift Sources/HTTP/HTTPRequest.swift Fuzz/RequestParserFuzz.swift
fuzz:
	mkdir -p .build/fuzz/corpus
	swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HTTPFuzz $(FUZZ_SOURCES) -o .build/fuzz/request-parser
	.build/fuzz/request-parser -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 .build/fuzz/corpus Fuzz/seeds

# wrk against our HTTP layer and nginx in the same run (needs wrk and nginx: installed here as root).
bench-http: build-bench
	@scripts/ensure-system-packages.sh wrk nginx-light
	scripts/bench_http.sh $(BENCH_HTTP_SECONDS)

# Operational tests against the release binary (docker/README.md):
#   lb-test  nginx (docker/nginx.conf) on loopback in front of 3 replicas; /recommend load;
#            SIGTERM one replica (0 failures), SIGKILL another (only in-flight may fail); both rejoin.
#   soak     one replica: steady load, 4x overload bursts, abusive clients; RSS and fd leak check.
# CI runs short versions: make lb-test LB_SECONDS=40 && make soak SOAK_SECONDS=80
LB_SECONDS   ?= 60
SOAK_SECONDS ?= 600
LOADTEST     := .build/release/instructrec-loadtest

build-loadtest: deps
	$(SWIFT) build -c release --product instructrec-loadtest

lb-test: build build-loadtest
	@scripts/ensure-system-packages.sh nginx-light
	$(LOADTEST) lb-test --duration $(LB_SECONDS)

soak: build build-loadtest
	$(LOADTEST) soak --duration $(SOAK_SECONDS)

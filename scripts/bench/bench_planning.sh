#!/usr/bin/env bash
# Planning time (InstructionBuilder) of a 100-candidate request with a 200-item
# history, at two source trees, in one run: builds scripts/bench/bench_planning/main.swift
# in release mode against each side's Sources/{Tokenizer,InstructRec} (and the
# engine, when that side's InstructRec still imported it), then runs the two
# binaries alternately and reports, per setup, the median of the per-run medians and their ratio.
# A side is a commit, or WORKTREE for the working tree's (uncommitted) sources.
# Setups: Flan-T5's tokenizer (the test fixture) + config/templates.json + history cap 200
# (the service defaults), and the shipped default model's tokenizer + templates + history
# cap 10 (models/default/instructrec.json).
# Usage: scripts/bench/bench_planning.sh [before=4474330^] [after=HEAD] [rounds=9] [repeats=200]
set -euo pipefail
cd "$(dirname "$0")/../.."
BEFORE=${1:-4474330^}
AFTER=${2:-HEAD}
ROUNDS=${3:-9}
REPEATS=${4:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

describe() { if [ "$1" = WORKTREE ]; then echo "working tree"; else git rev-parse --short "$1"; fi; }

build() {  # commit-or-WORKTREE label
  local dir="$work/$2"
  mkdir -p "$dir/Sources/PlanningBench"
  if [ "$1" = WORKTREE ]; then cp -R Sources "$dir/"; else git archive "$1" Sources | tar -x -C "$dir"; fi
  cp scripts/bench/bench_planning/main.swift "$dir/Sources/PlanningBench/main.swift"
  local recDeps='"Tokenizer"' extra=''
  if grep -q '^import T5$' "$dir"/Sources/InstructRec/*.swift; then
    local t5Deps='"COpenBLAS"'
    if [ -d "$dir/Sources/Randomness" ]; then t5Deps="$t5Deps, \"Randomness\""; extra=".target(name: \"Randomness\", swiftSettings: optimize),"; fi
    recDeps="$recDeps, \"T5\""
    extra="$extra
        .systemLibrary(name: \"COpenBLAS\", pkgConfig: \"openblas\"),
        .target(name: \"T5\", dependencies: [$t5Deps], swiftSettings: optimize),"
  elif [ -d "$dir/Sources/Randomness" ]; then
    recDeps="$recDeps, \"Randomness\""; extra=".target(name: \"Randomness\", swiftSettings: optimize),"
  fi
  cat > "$dir/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(configuration: .release))]
let package = Package(name: "planning-bench", targets: [
        $extra
        .target(name: "Tokenizer", swiftSettings: optimize),
        .target(name: "InstructRec", dependencies: [$recDeps], swiftSettings: optimize),
        .executableTarget(name: "PlanningBench", dependencies: ["InstructRec", "Tokenizer"], swiftSettings: optimize),
])
SWIFT
  (cd "$dir" && swift build -c release --product PlanningBench >/dev/null)
  echo "$dir/.build/release/PlanningBench"
}

echo "building $BEFORE and $AFTER (release)..." >&2
before_bin=$(build "$BEFORE" before)
after_bin=$(build "$AFTER" after)
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

measure() {  # title tokenizer templates history-cap
  local b=() a=()
  for round in $(seq "$ROUNDS"); do
    # Alternate which side goes first, so drift in machine load hits both alike.
    if (( round % 2 )); then
      b+=("$("$before_bin" "$2" "$3" "$REPEATS" "$4")"); a+=("$("$after_bin" "$2" "$3" "$REPEATS" "$4")")
    else
      a+=("$("$after_bin" "$2" "$3" "$REPEATS" "$4")"); b+=("$("$before_bin" "$2" "$3" "$REPEATS" "$4")")
    fi
  done
  local mb ma groups
  mb=$(printf '%s\n' "${b[@]}" | cut -d' ' -f1 | median)
  ma=$(printf '%s\n' "${a[@]}" | cut -d' ' -f1 | median)
  groups=$(echo "${a[0]}" | cut -d' ' -f2)
  echo "$1: planning a 100-candidate request with a 200-item history, history cap $4 ($groups instruction group(s)); median of $ROUNDS runs x $REPEATS plans:"
  echo "  before ($BEFORE, $(describe "$BEFORE")): ${mb} us"
  echo "  after  ($AFTER, $(describe "$AFTER")): ${ma} us"
  awk -v b="$mb" -v a="$ma" 'BEGIN { printf "  after / before = %.3f (%.2fx faster)\n", a / b, b / a }'
}

measure "Flan-T5 tokenizer, service defaults" Tests/TokenizerTests/Fixtures/tokenizer.json config/templates.json 200
measure "shipped default model (models/default)" models/default/tokenizer.json models/default/templates.json 10

#!/usr/bin/env bash
# Planning time (InstructionBuilder) of a 100-candidate request with a 200-item
# history, at two commits, in one session: builds scripts/bench_planning/main.swift
# in release mode against each commit's Sources/{Tokenizer,InstructRec} (and the
# engine, when that commit's InstructRec still imported it), then runs the two
# binaries alternately and reports the median of the per-run medians and their ratio.
# Usage: scripts/bench_planning.sh [before=4474330^] [after=HEAD] [rounds=9] [repeats=200]
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${1:-4474330^}
AFTER=${2:-HEAD}
ROUNDS=${3:-9}
REPEATS=${4:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() {  # commit label
  local dir="$work/$2"
  mkdir -p "$dir/Sources/PlanningBench"
  git archive "$1" Sources | tar -x -C "$dir"
  cp scripts/bench_planning/main.swift "$dir/Sources/PlanningBench/main.swift"
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
tokenizer=Tests/TokenizerTests/Fixtures/tokenizer.json
templates=config/templates.json
b=(); a=()
for round in $(seq "$ROUNDS"); do
  # Alternate which side goes first, so drift in machine load hits both alike.
  if (( round % 2 )); then
    b+=("$("$before_bin" $tokenizer $templates "$REPEATS")"); a+=("$("$after_bin" $tokenizer $templates "$REPEATS")")
  else
    a+=("$("$after_bin" $tokenizer $templates "$REPEATS")"); b+=("$("$before_bin" $tokenizer $templates "$REPEATS")")
  fi
done
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
mb=$(printf '%s\n' "${b[@]}" | cut -d' ' -f1 | median)
ma=$(printf '%s\n' "${a[@]}" | cut -d' ' -f1 | median)
groups=$(echo "${a[0]}" | cut -d' ' -f2)
echo "planning a 100-candidate request with a 200-item history ($groups instruction group(s)); median of $ROUNDS runs x $REPEATS plans:"
echo "  before ($BEFORE, $(git rev-parse --short "$BEFORE")): ${mb} us"
echo "  after  ($AFTER, $(git rev-parse --short "$AFTER")): ${ma} us"
awk -v b="$mb" -v a="$ma" 'BEGIN { printf "  after / before = %.3f (%.2fx faster)\n", a / b, b / a }'

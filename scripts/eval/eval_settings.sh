#!/usr/bin/env bash
# Every evaluation setting below for one model, on one split, with the model's own settings
# (its instructrec.json: scoring, weights, instruction form), beside popularity, transitions and,
# when its scores files exist, SASRec (scripts/baselines/sasrec.py on the same cases files):
#   u9       the paper's protocol: 9 uniform negatives
#   u99      99 uniform negatives
#   pop99    99 popularity-drawn negatives
#   cooc100  a co-occurrence retriever's top 100, the target put in where it missed
#   rw9/rw99 out of catalog: every candidate under another store's title (the target cold for id-based rows)
#   poolsasrec/poolbm25  the paper's Games.sasrec / Games.bm25 pools, target inserted (test split only; 200 users)
# Order stability (4 orders of 100 cases) is reported on u99.
#
#   scripts/eval/eval_settings.sh [SPLIT] [USERS] [MODEL]      e.g. scripts/eval/eval_settings.sh test 5000 models/default
# Results: out/eval/SPLIT-SETTING.{json,log}. Needs $DATA (default ../shared/data/games, from the repository root;
# Amazon Games 2018, research use: Games.item and Games-6k.test.inter, see scripts/data/README.md) and
# `make build`; SASRec rows need out/cases/SPLIT-SETTING.scores.jsonl (see scripts/baselines/sasrec.py); the pool
# rows need $DATA/Games.sasrec and Games.bm25 and are skipped without them.
set -euo pipefail
cd "$(dirname "$0")/../.."
SPLIT=${1:-test}; USERS=${2:-5000}; MODEL=${3:-models/default}
DATA=${DATA:-../shared/data/games}  # relative paths are taken from the repository root
missing=()
[ -f "$DATA/Games.item" ] || missing+=("$DATA/Games.item")
[ -f "$DATA/Games-6k.test.inter" ] || [ -f "$DATA/Games.test.inter" ] || missing+=("$DATA/Games-6k.test.inter")
if [ ${#missing[@]} -gt 0 ]; then
  case $DATA in /*) where=$DATA ;; *) where="$DATA, from the repository root: $(pwd)/$DATA" ;; esac
  cat >&2 <<EOF
eval_settings.sh: missing ${missing[*]} (DATA=$where).
The evaluation reads the Amazon Review Data (2018) "Video Games" 5-core files, which are not in the repository:
  $DATA/Games.item             item_id<TAB>title
  $DATA/Games-6k.test.inter    user_id<TAB>history item ids<TAB>last item (Games.test.inter is accepted too)
Build them from the public review and metadata files with scripts/data/convert_amazon2018.py
(scripts/data/README.md: where to download them and the exact command), or set DATA=DIR to where they are.
EOF
  exit 2
fi
BIN=.build/release/instructrec
[ -x "$BIN" ] || { echo "build first: make build"; exit 2; }
mkdir -p out/eval
run() {
  local name=$1 cases=$2; shift 2
  local external=()
  [ -f "out/cases/$SPLIT-$cases.scores.jsonl" ] && external=(--external-scores "sasrec=out/cases/$SPLIT-$cases.scores.jsonl")
  "$BIN" eval --data "$DATA" --model "$MODEL" --split "$SPLIT" --users "$USERS" "$@" "${external[@]}" \
      --output "out/eval/$SPLIT-$name.json" 2>&1 | tr '\r' '\n' | grep -v 'users/s' > "out/eval/$SPLIT-$name.log"
  cat "out/eval/$SPLIT-$name.log"
}
run u9 uniform9 --negatives 9
run u99 uniform99 --negatives 99 --order-stability 100
run pop99 pop99 --negatives 99 --negatives-from popularity
run cooc100 cooc100 --retriever cooccurrence
run rw9 rewrite-uniform9 --negatives 9 --rewrite-titles
run rw99 rewrite-uniform99 --negatives 99 --rewrite-titles
if [ "$SPLIT" = test ]; then
  for pool in sasrec bm25; do
    if [ -f "$DATA/Games.$pool" ]; then
      run "pool$pool" "pool$pool" --candidates-file "$DATA/Games.$pool" --insert-target
    else
      echo "pool$pool: skipped (no $DATA/Games.$pool: the paper's candidate pool, not made by scripts/data/convert_amazon2018.py)"
    fi
  done
fi

#!/usr/bin/env bash
# The recipe's variants side by side on one GPU. A d_model-128 T5 leaves most of an
# H100/H200 idle, so three runs share it; each is scripts/train/train.py unchanged,
# with the GPU-sized batch. Used for the shipped default model (README, "The default
# model"); selection between the variants is done afterwards on the validation split
# with `instructrec eval --split valid`, never on test.
#
#   MINUTES=7 OUT=out/gpu scripts/train/gpu_variants.sh
# Needs out/games.json and $STAGE (default out/stage: tokenizer, templates.json, instructrec.json;
# scripts/train/lean_stage.sh makes out/stage-lean, the 4,000-piece stage for the next model).
# Python: $PYTHON, default python3, with scripts/requirements.txt installed (pick torch's CUDA build with
# --index-url, as its header shows), e.g. PYTHON=venv/bin/python.
set -u
PY=${PYTHON:-python3}
MINUTES=${MINUTES:-7}
OUT=${OUT:-out/gpu}
STAGE=${STAGE:-out/stage}
mkdir -p "$OUT" /tmp/runs
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# Smoke test first: a broken environment costs seconds, not the budget.
$PY scripts/train/train.py --dataset out/games.json --model-dir "$STAGE" --run-dir /tmp/runs/smoke \
    --output /tmp/runs/smoke/final --max-steps 3 --batch-size 8 --users 300 --workers 0 > "$OUT/smoke.log" 2>&1 \
    || { cat "$OUT/smoke.log"; exit 1; }
run() {
    name=$1; shift
    timeout $((MINUTES * 60 + 120)) $PY scripts/train/train.py --dataset out/games.json --model-dir "$STAGE" \
        --run-dir /tmp/runs/$name --output /tmp/runs/$name/final --max-minutes "$MINUTES" --checkpoint-minutes 2 \
        --batch-size 256 --workers 4 --threads 1 "$@" > "$OUT/$name.log" 2>&1
    echo "$name exit $?" >> "$OUT/$name.log"
    tar czf "$OUT/$name.tgz" -C /tmp/runs/$name final export 2>/dev/null || tar czf "$OUT/$name.tgz" -C /tmp/runs/$name export
}
run A --listwise-weight 1 &
run B --listwise-weight 0 &
run C --listwise-weight 1 --d-model 192 --d-ff 768 --d-kv 48 &
(sleep 90; nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1) &
wait
for name in A B C; do tr '\r' '\n' < "$OUT/$name.log" | tail -3; done

#!/usr/bin/env bash
# Checks of the Kubernetes manifests in docker/k8s, offline:
#   1. scripts/ops/test_ops.py                 the checkers' own tests (fast)
#   2. scripts/ops/pod_security_restricted.py  Pod Security Standard "restricted" (no third-party package)
#   3. scripts/ops/validate_manifests.py       JSON-schema validation (kubernetes-validate; says
#                                              SKIPPED and passes when it is not installed)
# Python: $PYTHON, else venv/bin/python (where `pip install -r scripts/requirements.txt`
# puts the validator, kubernetes-validate), else python3. Without any, everything is SKIPPED with a message.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=""
for candidate in "${PYTHON:-}" venv/bin/python python3; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
done
if [ -z "$python" ]; then
  echo "manifest checks SKIPPED: no python3 (install python3 to run scripts/ops/check_manifests.sh)"
  exit 0
fi
"$python" -m unittest discover -q -s scripts/ops -p 'test_*.py'
"$python" scripts/ops/pod_security_restricted.py
"$python" scripts/ops/validate_manifests.py

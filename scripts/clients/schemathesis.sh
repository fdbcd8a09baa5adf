#!/usr/bin/env bash
# Property-based checks of every route against the service's own OpenAPI document: starts the release
# binary on a free port with an API key (so /admin/reload and the guarded routes answer as in production),
# runs schemathesis with that key and scripts/clients/schemathesis.toml, stops the server.
#
#   scripts/clients/schemathesis.sh [MAX_EXAMPLES]        (default 30 per operation)
#
# Needs `make build` and schemathesis from scripts/clients/requirements.txt in venv-clients/
# (python3 -m venv venv-clients && venv-clients/bin/pip install -r scripts/clients/requirements.txt),
# or SCHEMATHESIS=path/to/schemathesis.
set -euo pipefail
cd "$(dirname "$0")/../.."
MAX_EXAMPLES=${1:-30}
BIN=.build/release/instructrec
ST=${SCHEMATHESIS:-venv-clients/bin/schemathesis}
[ -x "$BIN" ] || { echo "schemathesis.sh: build first: make build" >&2; exit 2; }
[ -x "$ST" ] || { echo "schemathesis.sh: no $ST; see this script's header for the venv, or set SCHEMATHESIS" >&2; exit 2; }
KEY=schemathesis-key-0123456789
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
"$BIN" serve --host 127.0.0.1 --port "$PORT" --set api_keys="$KEY" --set drain_delay_s=0 --set log_requests=false >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  kill -0 $SERVER 2>/dev/null || { cat "$LOG" >&2; exit 2; }
  sleep 0.5
done
"$ST" --config-file scripts/clients/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" \
  -H "Authorization: Bearer $KEY" --max-examples "$MAX_EXAMPLES" --workers 1

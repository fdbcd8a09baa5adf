#!/usr/bin/env bash
# make bench-http: wrk (2 threads, 64 keep-alive connections) against our
# HTTP layer and, in the same run, against nginx (2 workers, `return 200`).
# Reports requests/s and p99 of both, and our RSS sampled over the run.
# Loopback only. Usage: scripts/bench/bench_http.sh [our_seconds=120] [nginx_seconds=30]
set -euo pipefail
cd "$(dirname "$0")/../.."
OURS_SECONDS=${1:-120}
NGINX_SECONDS=${2:-30}
BIN=.build/release/instructrec-bench
OUR_PORT=18080
NGINX_PORT=18081
work=$(mktemp -d)
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "pong\n"; }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"

$BIN http-server --port $OUR_PORT 2>/dev/null &
server_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$OUR_PORT/ping" >/dev/null && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print $2}' /proc/"$server_pid"/status; }
summary() {  # wrk output -> "req/s p99"
  awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} END {print rps, p99}'
}

echo "== nginx 2 workers, ${NGINX_SECONDS}s"
nginx_out=$(wrk -t2 -c64 -d"${NGINX_SECONDS}s" --latency "http://127.0.0.1:$NGINX_PORT/ping")
read -r nginx_rps nginx_p99 <<<"$(echo "$nginx_out" | summary)"
echo "nginx: $nginx_rps req/s, p99 $nginx_p99"

echo "== instructrec HTTP layer, ${OURS_SECONDS}s (RSS sampled every 5 s)"
rss_start=$(rss)
( for _ in $(seq $((OURS_SECONDS / 5))); do sleep 5; echo "$(rss)"; done ) > "$work/rss.txt" &
sampler=$!
ours_out=$(wrk -t2 -c64 -d"${OURS_SECONDS}s" --latency "http://127.0.0.1:$OUR_PORT/ping")
wait $sampler || true
read -r ours_rps ours_p99 <<<"$(echo "$ours_out" | summary)"
rss_warm=$(sed -n 2p "$work/rss.txt")
rss_end=$(tail -1 "$work/rss.txt")
echo "instructrec: $ours_rps req/s, p99 $ours_p99"
echo "RSS KiB: start $rss_start, after 10 s $rss_warm, end $rss_end; samples: $(tr '\n' ' ' < "$work/rss.txt")"
awk -v a="$ours_rps" -v b="$nginx_rps" 'BEGIN { printf "ratio instructrec/nginx: %.2f\n", a / b }'
awk -v w="$rss_warm" -v e="$rss_end" 'BEGIN { g = (e - w) / w * 100; printf "RSS growth after warm-up: %.1f%%\n", g }'

#!/usr/bin/env bash
# make image-test: build the real docker/Dockerfile and run the image it makes, without Docker or a registry.
#
#   1. base images   scripts/ops/make_base_images.sh: localhost/debian:bookworm-slim (debootstrap) and
#                    localhost/swift:X.Y-bookworm (that + this machine's toolchain), once; kept afterwards.
#   2. image build   podman build --isolation=chroot --network=host of docker/Dockerfile with
#                    SWIFT_IMAGE / RUNTIME_IMAGE pointing at them (apt inside the build reaches Debian's mirror).
#   3. checks        `podman run` is refused here (the sandbox does not let it set rlimits), so the image's
#                    filesystem is mounted (podman image mount) and its ENTRYPOINT run chrooted into it, as its
#                    USER, with its ENV and WORKDIR, in a private mount namespace with /proc, /dev and a tmpfs
#                    /tmp (as the Kubernetes Deployment's emptyDir; the image's own root stays read-only):
#                      - /readyz answers 200 (within IMAGE_TEST_READY_S, 180 s);
#                      - one POST /recommend answers 200 with every candidate ranked, scores descending;
#                      - the server runs as the image's non-root user (/proc/PID/status Uid/Gid, no capabilities);
#                      - the image's HEALTHCHECK command passes, run inside the image;
#                      - `ldd` of the binary inside the image finds every library (no "not found");
#                      - SIGTERM (the image's STOPSIGNAL) drains and exits 0;
#                      - the CA bundle (/etc/ssl/certs/ca-certificates.crt) is in the image (hub fetches over TLS);
#                      - a model by hub id: the ENTRYPOINT again, with INSTRUCTREC_MODEL=acme/monot5-tiny,
#                        HF_ENDPOINT at a local hub on the host (scripts/hub/local_hub.py, the committed fixture
#                        Tests/ServiceTests/Fixtures/monot5-tiny, its store on another host name) and HF_HOME on the
#                        tmpfs /tmp (the root stays read-only): it fetches the model into HF_HOME, /readyz answers
#                        200 and POST /v2/rerank 200, and SIGTERM exits 0.
#   PASS or FAIL, with the time of each phase.
#
# Needs root and Debian's package mirror (apt-get installs podman, debootstrap, curl, python3 when missing).
# Settings (environment or make variables):
#   IMAGE_TEST_REF=HEAD     build a `git archive` of that commit instead of the working tree
#   IMAGE_TEST_NO_CACHE=1   rebuild every Dockerfile step (default: podman's layer cache is used)
#   IMAGE_TEST_KEEP=0       remove the built image afterwards (default: kept, with its layers, for a fast rerun)
#   IMAGE_TEST_LOG_DIR      where the logs go (default /tmp/instructrec-image-test)
#   REBUILD_BASE_IMAGES=1   make the base images anew
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

IMAGE=${IMAGE_TEST_IMAGE:-localhost/instructrec:image-test}
LOG_DIR=${IMAGE_TEST_LOG_DIR:-/tmp/instructrec-image-test}
READY_S=${IMAGE_TEST_READY_S:-180}
REF=${IMAGE_TEST_REF:-}
KEEP=${IMAGE_TEST_KEEP:-1}

say() { printf '== %s\n' "$*"; }
now() { date +%s; }
started=$(now)
mkdir -p "$LOG_DIR"
timings=$LOG_DIR/timings
: >"$timings"

failures=()
fail() { failures+=("$*"); printf 'FAIL: %s\n' "$*"; }
ok() { printf 'ok:   %s\n' "$*"; }

summary() {
  local rc=$1
  echo
  echo "---- image-test timings (s) ----"
  [ -s "$timings" ] && awk '{ printf "  %-16s %5d\n", $1, $2 }' "$timings"
  printf '  %-16s %5d\n' total $(($(now) - started))
  echo "logs: $LOG_DIR"
  if [ $rc -eq 0 ] && [ ${#failures[@]} -eq 0 ]; then echo "image-test: PASS"
  else
    [ ${#failures[@]} -gt 0 ] && printf '  - %s\n' "${failures[@]}"
    echo "image-test: FAIL"
  fi
}

# ---- cleanup: the server, the image mount, the temporary context ------------------------------------
server_pid=""
hub_pid=""
mnt=""
ctx=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$hub_pid" ] && kill -0 "$hub_pid" 2>/dev/null; then
    kill -TERM "$hub_pid" 2>/dev/null || true
    wait "$hub_pid" 2>/dev/null || true
  fi
  # Mounts made for the server live in its own mount namespace and went away with it.
  [ -n "$mnt" ] && podman image unmount "$IMAGE" >/dev/null 2>&1 || true
  [ -n "$ctx" ] && rm -rf --one-file-system "$ctx"
  if [ "$KEEP" = 0 ]; then podman image rm -f "$IMAGE" >/dev/null 2>&1 || true; fi
  summary "$rc"
  [ $rc -eq 0 ] && [ ${#failures[@]} -eq 0 ] || exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "image-test needs root (podman storage, debootstrap, chroot)" >&2; exit 1; }

# ---- packages ---------------------------------------------------------------------------------------
missing=()
for p in podman debootstrap curl python3; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# ---- 1. base images ---------------------------------------------------------------------------------
t0=$(now)
IMAGE_TEST_TIMINGS=$timings scripts/ops/make_base_images.sh 2>&1 | tee "$LOG_DIR/base-images.log" \
  || { fail "base images (scripts/ops/make_base_images.sh)"; exit 1; }
swift_image=$(sed -n 's/^SWIFT_IMAGE=//p' "$LOG_DIR/base-images.log")
debian_image=$(sed -n 's/^DEBIAN_IMAGE=//p' "$LOG_DIR/base-images.log")
echo "base-images $(($(now) - t0))" >>"$timings"

# ---- 2. the real Dockerfile -------------------------------------------------------------------------
context=$repo
if [ -n "$REF" ]; then
  ctx=$(mktemp -d /var/tmp/instructrec-image-ctx.XXXXXX)
  git -C "$repo" archive --format=tar "$REF" | tar -x -C "$ctx"
  context=$ctx
  say "context: git archive $REF ($(git -C "$repo" rev-parse --short "$REF"))"
else
  say "context: the working tree $repo"
fi
build_args=(--isolation=chroot --network=host --format docker
            --build-arg "SWIFT_IMAGE=$swift_image" --build-arg "RUNTIME_IMAGE=$debian_image"
            -f "$context/docker/Dockerfile" -t "$IMAGE")
[ "${IMAGE_TEST_NO_CACHE:-0}" = 1 ] && build_args+=(--no-cache)
say "podman build ${build_args[*]} $context   (log: $LOG_DIR/build.log)"
t0=$(now)
if ! podman build "${build_args[@]}" "$context" >"$LOG_DIR/build.log" 2>&1; then
  tail -40 "$LOG_DIR/build.log"
  echo "image-build $(($(now) - t0))" >>"$timings"
  fail "podman build of docker/Dockerfile"
  exit 1
fi
echo "image-build $(($(now) - t0))" >>"$timings"
grep -E '^(STEP|COMMIT|Successfully)|Compiling|Build complete' "$LOG_DIR/build.log" | tail -6 || true
size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "image $IMAGE: $((size_bytes / 1000000)) MB ($(podman images --format '{{.Size}}' "$IMAGE"))"
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | cut -c1-150 >"$LOG_DIR/history.txt" || true

# ---- 3. run the image's filesystem ------------------------------------------------------------------
t0=$(now)
cfg() { podman image inspect --format "$1" "$IMAGE"; }
mapfile -t image_env < <(cfg '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t entrypoint < <(cfg '{{range .Config.Entrypoint}}{{println .}}{{end}}' | sed '/^$/d')
mapfile -t cmd < <(cfg '{{range .Config.Cmd}}{{println .}}{{end}}' | sed '/^$/d')
user=$(cfg '{{.Config.User}}')
workdir=$(cfg '{{.Config.WorkingDir}}')
stopsignal=$(cfg '{{.Config.StopSignal}}')
healthcheck=$(cfg '{{json .Config.Healthcheck}}' 2>/dev/null || true)
mnt=$(podman image mount "$IMAGE")
say "image root: $mnt; USER=$user WORKDIR=$workdir ENTRYPOINT=${entrypoint[*]} ${cmd[*]}"

# USER name[:group] -> numeric ids, from the image's own /etc/passwd and /etc/group.
u=${user%%:*}; g=${user#*:}; [ "$g" = "$user" ] && g=""
uid=$(awk -F: -v u="$u" '$1 == u || $3 == u { print $3; exit }' "$mnt/etc/passwd")
gid=$(awk -F: -v u="$u" '$1 == u || $3 == u { print $4; exit }' "$mnt/etc/passwd")
[ -n "$g" ] && gid=$(awk -F: -v g="$g" '$1 == g || $3 == g { print $3; exit }' "$mnt/etc/group")
home=$(awk -F: -v u="$u" '$1 == u || $3 == u { print $6; exit }' "$mnt/etc/passwd")
if [ -z "$uid" ] || [ -z "$gid" ]; then fail "USER '$user' is not in the image's /etc/passwd"; exit 1; fi
[ "$uid" != 0 ] && ok "USER $user is uid $uid gid $gid (non-root)" || fail "USER $user is root"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_env=(HOME="${home:-/}" HOSTNAME=instructrec-image-test "${image_env[@]}"
         INSTRUCTREC_PORT="$port" INSTRUCTREC_HOST=127.0.0.1)

# in_image USERSPEC CMD...: CMD chrooted into the image's root, as USERSPEC, with the image's ENV and WORKDIR,
# in a private mount namespace holding /proc, /dev and a tmpfs /tmp (gone with the namespace: nothing to unmount).
# With IN_IMAGE_EXEC=1 (for `IN_IMAGE_EXEC=1 in_image ... &`) it execs all the way down, so $! is CMD's pid.
in_image() {
  local spec=$1; shift
  ${IN_IMAGE_EXEC:+exec} unshare --mount --propagation private -- /bin/sh -c '
    root=$1 spec=$2 dir=$3; shift 3
    mount -t proc proc "$root/proc" 2>/dev/null || mount --rbind /proc "$root/proc" || exit 125
    mount --rbind /dev "$root/dev" || exit 125
    mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp" || exit 125
    exec chroot --userspec="$spec" --groups="${spec#*:}" "$root" /usr/bin/env -i -C "$dir" "$@"' \
    sh "$mnt" "$spec" "${workdir:-/}" "${run_env[@]}" "$@"
}

say "starting ${entrypoint[*]} ${cmd[*]} in the image on 127.0.0.1:$port (log: $LOG_DIR/server.log)"
IN_IMAGE_EXEC=1 in_image "$uid:$gid" "${entrypoint[@]}" "${cmd[@]}" >"$LOG_DIR/server.log" 2>&1 &
server_pid=$!

# /readyz
ready=""; waited=0
while [ $waited -lt "$READY_S" ]; do
  kill -0 "$server_pid" 2>/dev/null || break
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz" || true)
  [ "$code" = 200 ] && { ready=1; break; }
  sleep 1; waited=$((waited + 1))
done
if [ -n "$ready" ]; then ok "/readyz 200 after ${waited} s"
else
  fail "/readyz not 200 within $READY_S s (last: ${code:-none}; server alive: $(kill -0 "$server_pid" 2>/dev/null && echo yes || echo no))"
  tail -20 "$LOG_DIR/server.log" 2>/dev/null || true; exit 1
fi

# one /recommend
body='{"history": ["Super Mario Odyssey", "The Legend of Zelda: Breath of the Wild"], "candidates": ["Mario Kart 8 Deluxe", "FIFA 19", "HDMI Cable 6ft"]}'
code=$(curl -s -o "$LOG_DIR/recommend.json" -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' \
        -d "$body" "http://127.0.0.1:$port/recommend" || true)
if [ "$code" = 200 ] && python3 - "$LOG_DIR/recommend.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
res = r["results"]
scores = [x["score"] for x in res]
assert sorted(x["title"] for x in res) == sorted(["Mario Kart 8 Deluxe", "FIFA 19", "HDMI Cable 6ft"]), res
assert scores == sorted(scores, reverse=True), scores
print("ok:   /recommend 200: " + ", ".join("%s (%.3f)" % (x["title"], x["score"]) for x in res)
      + "  [template %s, %s ms]" % (r.get("template"), r.get("timing_ms", {}).get("total", "?")))
EOF
then :; else fail "/recommend: HTTP $code, body: $(head -c 400 "$LOG_DIR/recommend.json" 2>/dev/null)"; fi

# the process's user
status=$(cat "/proc/$server_pid/status")
proc_uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' <<<"$status")
proc_gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' <<<"$status")
proc_groups=$(awk '/^Groups:/ { $1 = ""; print substr($0, 2) }' <<<"$status")
cap_eff=$(awk '/^CapEff:/ { print $2 }' <<<"$status")
comm=$(cat "/proc/$server_pid/comm")
want_comm=$(basename "${entrypoint[0]:-instructrec}" | cut -c1-15)
if [ "$comm" = "$want_comm" ] && [ "$proc_uid" = "$uid $uid $uid $uid" ] && [ "$proc_gid" = "$gid $gid $gid $gid" ] && [ "$cap_eff" = 0000000000000000 ]; then
  ok "pid $server_pid ($comm) runs as Uid $proc_uid, Gid $proc_gid, Groups $proc_groups, CapEff $cap_eff"
else
  fail "pid $server_pid ($comm): Uid $proc_uid, Gid $proc_gid, CapEff $cap_eff (want uid $uid, gid $gid, no capabilities)"
fi

# the image's HEALTHCHECK, run inside the image as its user
hc_cmd=$(python3 -c '
import json, sys
h = json.loads(sys.argv[1] or "null") or {}
t = h.get("Test") or []
print(t[1] if t[:1] == ["CMD-SHELL"] else "")' "$healthcheck" 2>/dev/null || true)
if [ -z "$hc_cmd" ]; then fail "no HEALTHCHECK (CMD-SHELL) in the image config"
elif in_image "$uid:$gid" /bin/sh -c "$hc_cmd" >"$LOG_DIR/healthcheck.log" 2>&1; then ok "HEALTHCHECK passes inside the image"
else fail "HEALTHCHECK failed inside the image: $(cat "$LOG_DIR/healthcheck.log")"; fi

# the ldd closure, inside the image
binary=${entrypoint[0]:-/usr/local/bin/instructrec}
if in_image "$uid:$gid" /usr/bin/ldd "$binary" >"$LOG_DIR/ldd.txt" 2>&1; then
  nlibs=$(grep -c '=>' "$LOG_DIR/ldd.txt" || true)
  if grep -q 'not found' "$LOG_DIR/ldd.txt"; then fail "ldd: $(grep 'not found' "$LOG_DIR/ldd.txt" | tr -s '\t ' ' ')"
  else ok "ldd $binary: $nlibs libraries, none missing ($(grep -c '/usr/lib/swift/linux/' "$LOG_DIR/ldd.txt") from /usr/lib/swift/linux)"; fi
else fail "ldd $binary failed: $(head -5 "$LOG_DIR/ldd.txt")"; fi

# STOPSIGNAL: drain and exit 0
sig=${stopsignal:-SIGTERM}; sig=${sig#SIG}
t_stop=$(now)
kill -s "$sig" "$server_pid"
stop_rc=0; wait "$server_pid" || stop_rc=$?
server_pid=""
if [ $stop_rc -eq 0 ]; then ok "SIG$sig: exited 0 after $(($(now) - t_stop)) s"
else fail "SIG$sig: exit status $stop_rc"; fi

# the CA bundle libcurl (FoundationNetworking) checks a hub's certificate against
ca=/etc/ssl/certs/ca-certificates.crt
if [ -s "$mnt$ca" ]; then ok "CA bundle $ca: $(grep -c 'BEGIN CERTIFICATE' "$mnt$ca") certificates"
else fail "no CA bundle $ca in the image (ca-certificates)"; fi

# A model by hub id: the ENTRYPOINT with INSTRUCTREC_MODEL=org/name, fetched from a local hub on the host (same
# network namespace: the chrooted server reaches 127.0.0.1) into HF_HOME on the tmpfs /tmp.
hub_repo=acme/monot5-tiny
hub_home=/tmp/huggingface
say "local hub on the host: $hub_repo from Tests/ServiceTests/Fixtures/monot5-tiny (requests: $LOG_DIR/hub-requests.log)"
rm -f "$LOG_DIR/hub.env"
python3 scripts/hub/local_hub.py --fixture Tests/ServiceTests/Fixtures/monot5-tiny --repo "$hub_repo" \
  --ready-file "$LOG_DIR/hub.env" --log-file "$LOG_DIR/hub-requests.log" >"$LOG_DIR/hub.log" 2>&1 &
hub_pid=$!
for _ in $(seq 50); do [ -s "$LOG_DIR/hub.env" ] && break; sleep 0.2; done
hf_endpoint=$(sed -n 's/^HF_ENDPOINT=//p' "$LOG_DIR/hub.env" 2>/dev/null || true)
if [ -z "$hf_endpoint" ]; then fail "the local hub did not start: $(tail -5 "$LOG_DIR/hub.log")"; exit 1; fi
hub_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "starting ${entrypoint[*]} ${cmd[*]} with INSTRUCTREC_MODEL=$hub_repo HF_ENDPOINT=$hf_endpoint HF_HOME=$hub_home on 127.0.0.1:$hub_port (log: $LOG_DIR/server-hub.log)"
IN_IMAGE_EXEC=1 in_image "$uid:$gid" INSTRUCTREC_PORT="$hub_port" INSTRUCTREC_MODEL="$hub_repo" \
  HF_ENDPOINT="$hf_endpoint" HF_HOME="$hub_home" "${entrypoint[@]}" "${cmd[@]}" >"$LOG_DIR/server-hub.log" 2>&1 &
server_pid=$!
ready=""; waited=0; code=""
while [ $waited -lt "$READY_S" ]; do
  kill -0 "$server_pid" 2>/dev/null || break
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$hub_port/readyz" || true)
  [ "$code" = 200 ] && { ready=1; break; }
  sleep 1; waited=$((waited + 1))
done
if [ -z "$ready" ]; then
  fail "hub id: /readyz not 200 within $READY_S s (last: ${code:-none}; server alive: $(kill -0 "$server_pid" 2>/dev/null && echo yes || echo no))"
  grep -E '"level":"(error|warning)"|fetching model|model fetched' "$LOG_DIR/server-hub.log" | tail -8 | cut -c1-400 || true
  exit 1
fi
snapshot=$(sed -n 's/.*"msg":"model fetched".*"snapshot":"\([^"]*\)".*/\1/p' "$LOG_DIR/server-hub.log" | head -1)
ok "hub id: /readyz 200 after ${waited} s; fetched into ${snapshot:-? (no 'model fetched' log line)}"
# The server's tmpfs, seen from the host through its root (/proc/PID/root).
if [ -n "$snapshot" ] && [ -L "/proc/$server_pid/root$snapshot/model.safetensors" ] && [ -f "/proc/$server_pid/root$snapshot/model.safetensors" ]; then
  ok "hub id: $(ls "/proc/$server_pid/root$snapshot" | tr '\n' ' ')linked into the snapshot in $hub_home"
else fail "hub id: no snapshot link ${snapshot:-$hub_home/hub/...}/model.safetensors in the server's $hub_home"; fi
body='{"query": "a castle game", "documents": ["Castle of Illusion", "HDMI Cable 6ft"]}'
code=$(curl -s -o "$LOG_DIR/rerank-hub.json" -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' \
        -d "$body" "http://127.0.0.1:$hub_port/v2/rerank" || true)
if [ "$code" = 200 ] && python3 - "$LOG_DIR/rerank-hub.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
res = r["results"]
assert sorted(x["index"] for x in res) == [0, 1], res
print("ok:   hub id: /v2/rerank 200: " + ", ".join("#%d (%.3f)" % (x["index"], x["relevance_score"]) for x in res))
EOF
then :; else fail "hub id: /v2/rerank: HTTP $code, body: $(head -c 400 "$LOG_DIR/rerank-hub.json" 2>/dev/null)"; fi
kill -s "$sig" "$server_pid"
stop_rc=0; wait "$server_pid" || stop_rc=$?
server_pid=""
if [ $stop_rc -eq 0 ]; then ok "hub id: SIG$sig: exited 0"; else fail "hub id: SIG$sig: exit status $stop_rc"; fi
kill -TERM "$hub_pid" 2>/dev/null || true
wait "$hub_pid" 2>/dev/null || true
hub_pid=""
ok "hub id: the local hub answered $(grep -c '^hub ' "$LOG_DIR/hub-requests.log" 2>/dev/null || true) requests, its store $(grep -c '^store ' "$LOG_DIR/hub-requests.log" 2>/dev/null || true) (the large files, through the 302)"
echo "checks $(($(now) - t0))" >>"$timings"
echo "--- server log (first and last lines) ---"
{ head -4 "$LOG_DIR/server.log"; echo "..."; tail -3 "$LOG_DIR/server.log"; } | cut -c1-240

#!/usr/bin/env python3
"""Cross-check `instructrec serve --model org/name` against huggingface_hub itself: one model cache, two tools.

    python3 scripts/hub/crosscheck.py [--binary .build/release/instructrec] [--keep]

Needs the release binary (make build) and huggingface_hub (scripts/requirements.txt pins it; without it the
script prints SKIPPED and exits 0). A local hub (scripts/hub/local_hub.py: the hub on 127.0.0.1, its file
store on localhost) serves the committed fixture Tests/ServiceTests/Fixtures/monot5-tiny as acme/monot5-tiny,
plus a README.md the engine does not read. Checks, each printed PASS or FAIL (exit status 1 on any FAIL):

  hub-protocol      huggingface_hub's own snapshot_download fetches the repository from the local hub (so the
                    hub's answers are the ones huggingface_hub expects)
  A instructrec->hf instructrec serve fetches the model into HF_HOME, becomes ready and answers /v2/rerank 200;
                    then huggingface_hub, offline (local_files_only=True), finds that snapshot
                    (snapshot_download with the files instructrec fetched, hf_hub_download of each, the same
                    bytes as the fixture), scan_cache_dir reports it without warnings, and the README.md it
                    did not fetch is not there
  B hf->instructrec a cache filled by huggingface_hub's snapshot_download, the hub stopped, HF_HUB_OFFLINE=1:
                    instructrec serve becomes ready and answers /v2/rerank 200 with the scores of check A
  same-layout       the two caches name the same commit in refs/main and link each file to the same blob
  cache-reuse       instructrec online over the cache huggingface_hub filled (named by HF_HUB_CACHE this
                    time) fetches no file again (no request reaches the file store)
  token             with HF_TOKEN and a hub that requires it, the token reaches the hub on every request and
                    never the file store; without it, the start stops naming the repository and HF_TOKEN
  loading           while the weights are held back by the store: /healthz 200, /readyz 503 (then ready)
  unknown-repo      `--model acme/no-such-model` (the hub answering 401 RepoNotFound, as the real hub answers an
                    anonymous caller, and 404): the start stops, exit status non-zero, with a message naming it
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import local_hub  # noqa: E402

REPO = local_hub.DEFAULT_REPO
COMMIT = local_hub.DEFAULT_COMMIT
ENGINE_FILES = ["config.json", "instructrec.json", "model.safetensors", "tokenizer.json"]
RERANK = {"query": "a castle game", "documents": ["Castle of Illusion", "HDMI Cable 6ft"]}
READY_S = 120


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


# ---- HTTP to the service ---------------------------------------------------------------------------------------
def http(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


class Server:
    """One `instructrec serve` process; its JSON log lines go to a file."""

    def __init__(self, binary, env, log_path, model=REPO):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.command = [binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0", "--set", "drain_delay_s=0"]
        self.process = subprocess.Popen(self.command, cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None

    def lines(self):
        with open(self.log_path, "rb") as f:
            out = []
            for raw in f.read().decode("utf-8", "replace").splitlines():
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    out.append({"msg": raw})
            return out

    def text(self, last=12):
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-last:])

    def wait_listening(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.lines():
                if line.get("msg") == "listening" and line.get("port"):
                    self.port = int(line["port"])
                    return self.port
            if self.process.poll() is not None:
                raise CheckFailed("the server exited (status %s) before listening:\n%s" % (self.process.returncode, self.text()))
            time.sleep(0.05)
        raise CheckFailed("no 'listening' log line within %d s:\n%s" % (timeout, self.text()))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait_ready(self, timeout=READY_S):
        if self.port is None:
            self.wait_listening()
        deadline, last = time.time() + timeout, None
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise CheckFailed("the server exited (status %s) before /readyz was 200:\n%s" % (self.process.returncode, self.text()))
            try:
                last = http("GET", self.url("/readyz"), timeout=5)
                if last[0] == 200:
                    return
            except OSError as e:
                last = (None, {}, str(e))
            time.sleep(0.1)
        raise CheckFailed("/readyz not 200 within %d s (last: %s)\n%s" % (timeout, last and last[:1], self.text()))

    def wait_exit(self, timeout=60):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CheckFailed("the server did not exit within %d s:\n%s" % (timeout, self.text()))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def rerank(server):
    status, headers, body = http("POST", server.url("/v2/rerank"), RERANK, timeout=60)
    expect(status == 200, "POST /v2/rerank %s -> %s %s" % (json.dumps(RERANK), status, body[:400]))
    results = json.loads(body)["results"]
    expect(sorted(r["index"] for r in results) == [0, 1], "results: %s" % body[:400])
    return {r["index"]: round(r["relevance_score"], 6) for r in results}


# ---- the checks --------------------------------------------------------------------------------------------------
class Crosscheck:
    def __init__(self, args, hf):
        self.args = args
        self.hf = hf
        self.binary = os.path.abspath(args.binary)
        self.fixture = os.path.abspath(args.fixture)
        self.repository = local_hub.fixture_repository(self.fixture, COMMIT)
        self.work = tempfile.mkdtemp(prefix="instructrec-hub-crosscheck-")
        self.results = []
        self.scores_a = None
        self.servers = []
        self.hubs = []

    def hub(self, **options):
        h = local_hub.LocalHub({REPO: self.repository}, **options).start()
        self.hubs.append(h)
        return h

    def home(self, name):
        path = os.path.join(self.work, name)
        os.makedirs(path, exist_ok=True)
        return path

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_", "INSTRUCTREC_"))}
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def serve(self, name, env, model=REPO):
        s = Server(self.binary, env, os.path.join(self.work, name + ".log"), model)
        self.servers.append(s)
        return s

    def run(self, name, function):
        started = time.time()
        try:
            detail = function()
            self.results.append((name, True))
            print("PASS: %s (%.1f s)%s" % (name, time.time() - started, ": " + detail if detail else ""), flush=True)
        except Exception as e:  # noqa: BLE001 — every failure is reported as the check's
            self.results.append((name, False))
            kind = "" if isinstance(e, CheckFailed) else type(e).__name__ + ": "
            print("FAIL: %s (%.1f s): %s%s" % (name, time.time() - started, kind, e), flush=True)
        finally:
            for s in self.servers:
                s.stop()
            self.servers.clear()
            for h in self.hubs:
                h.stop()
            self.hubs.clear()

    # huggingface_hub against the local hub: the hub speaks what it expects
    def check_hub_protocol(self):
        hub = self.hub()
        cache = os.path.join(self.home("hf-probe"), "hub")
        path = self.hf.snapshot_download(REPO, cache_dir=cache, endpoint=hub.endpoint, token=False)
        expect(os.path.basename(path) == COMMIT, "snapshot %s is not named by the commit %s" % (path, COMMIT))
        got = sorted(os.listdir(path))
        expect(got == sorted(self.repository.files), "snapshot_download fetched %s" % got)
        for name, data in self.repository.files.items():
            with open(os.path.join(path, name), "rb") as f:
                expect(f.read() == data, "%s: other bytes than the hub's" % name)
        large = [p for m, p, _ in hub.seen("store")]
        expect(len(large) == 2, "large files from the store: %s" % large)
        return "snapshot_download fetched %d files (%d through the store's 302)" % (len(got), len(large))

    # A: instructrec fills the cache, huggingface_hub reads it offline
    def check_a(self):
        hub = self.hub()
        home = self.home("hf-home-a")
        server = self.serve("a", self.env(HF_HOME=home, HF_ENDPOINT=hub.endpoint))
        server.wait_ready()
        self.scores_a = rerank(server)
        status, _, body = http("GET", server.url("/info"))
        source = json.loads(body).get("model", {}).get("source") if status == 200 else None
        expect(source == REPO, "/info model.source is %r, not %s" % (source, REPO))
        server.stop()

        cache = os.path.join(home, "hub")
        snapshot = os.path.join(cache, "models--acme--monot5-tiny", "snapshots", COMMIT)
        fetched = sorted(os.listdir(snapshot)) if os.path.isdir(snapshot) else []
        expect(fetched == ENGINE_FILES, "instructrec's snapshot holds %s, expected %s" % (fetched, ENGINE_FILES))
        path = self.hf.snapshot_download(REPO, cache_dir=cache, local_files_only=True, allow_patterns=fetched)
        expect(os.path.realpath(path) == os.path.realpath(snapshot), "snapshot_download(local_files_only) -> %s" % path)
        for name in fetched:
            file = self.hf.hf_hub_download(REPO, name, cache_dir=cache, local_files_only=True)
            with open(file, "rb") as f:
                expect(f.read() == self.repository.files[name], "%s: the cached bytes differ from the hub's" % name)
            expect(self.hf.try_to_load_from_cache(REPO, name, cache_dir=cache) == file, "try_to_load_from_cache(%s)" % name)
        try:
            self.hf.hf_hub_download(REPO, "README.md", cache_dir=cache, local_files_only=True)
            raise CheckFailed("README.md is in the cache though the engine does not read it")
        except self.hf.errors.LocalEntryNotFoundError:
            pass
        info = self.hf.scan_cache_dir(cache)
        expect(not info.warnings, "scan_cache_dir warnings: %s" % info.warnings)
        repos = [r for r in info.repos if r.repo_id == REPO]
        expect(len(repos) == 1, "scan_cache_dir repos: %s" % [r.repo_id for r in info.repos])
        revisions = {r.commit_hash: r for r in repos[0].revisions}
        expect(COMMIT in revisions and "main" in revisions[COMMIT].refs and revisions[COMMIT].nb_files == len(fetched),
               "scan_cache_dir revisions: %s" % [(r.commit_hash, sorted(r.refs), r.nb_files) for r in revisions.values()])
        return ("serve ready, /v2/rerank 200 %s; huggingface_hub (local_files_only) found snapshots/%s with %s; "
                "scan_cache_dir: no warnings, refs main" % (self.scores_a, COMMIT[:12], ", ".join(fetched)))

    # B: huggingface_hub fills the cache, instructrec serves it offline
    def check_b(self):
        hub = self.hub()
        home = self.home("hf-home-b")
        path = self.hf.snapshot_download(REPO, cache_dir=os.path.join(home, "hub"), endpoint=hub.endpoint, token=False)
        endpoint = hub.endpoint
        hub.stop()
        self.hubs.remove(hub)
        server = self.serve("b", self.env(HF_HOME=home, HF_ENDPOINT=endpoint, HF_HUB_OFFLINE="1"))
        server.wait_ready()
        scores = rerank(server)
        expect(any(l.get("msg") == "model from the cache" for l in server.lines()), "no 'model from the cache' log line")
        if self.scores_a is not None:
            expect(scores == self.scores_a, "scores %s differ from check A's %s" % (scores, self.scores_a))
        return "snapshot_download -> %s; hub stopped; HF_HUB_OFFLINE=1 serve ready, /v2/rerank 200 %s" % (
            os.path.relpath(path, home), scores)

    def check_same_layout(self):
        a = os.path.join(self.work, "hf-home-a", "hub", "models--acme--monot5-tiny")
        b = os.path.join(self.work, "hf-home-b", "hub", "models--acme--monot5-tiny")
        for name in ("refs/main",):
            with open(os.path.join(a, name)) as fa, open(os.path.join(b, name)) as fb:
                expect(fa.read() == fb.read(), "%s differs" % name)
        for name in ENGINE_FILES:
            la = os.readlink(os.path.join(a, "snapshots", COMMIT, name))
            lb = os.readlink(os.path.join(b, "snapshots", COMMIT, name))
            expect(la == lb, "snapshots/%s/%s: instructrec links %s, huggingface_hub %s" % (COMMIT[:12], name, la, lb))
        return "refs/main and the links of %s are the same in both caches" % ", ".join(ENGINE_FILES)

    def check_cache_reuse(self):
        hub = self.hub()
        # HF_HUB_CACHE this time (HF_HOME unset): the cache huggingface_hub filled in check B
        cache = os.path.join(self.work, "hf-home-b", "hub")
        server = self.serve("reuse", self.env(HF_HUB_CACHE=cache, HF_ENDPOINT=hub.endpoint))
        server.wait_ready()
        rerank(server)
        store = hub.seen("store")
        gets = [p for m, p, _ in hub.seen("hub") if m == "GET"]
        expect(not store, "the store was asked again: %s" % store)
        expect(any(l.get("msg") == "fetching model" and l.get("cache") == cache for l in server.lines()),
               "the server did not use HF_HUB_CACHE=%s" % cache)
        return "HF_HUB_CACHE=<check B's cache>: %d hub requests (%d GET), none to the store" % (len(hub.seen("hub")), len(gets))

    def check_token(self):
        token = "hf_crosscheck_token_0123456789"
        hub = self.hub(required_token=token)
        server = self.serve("token", self.env(HF_HOME=self.home("hf-home-token"), HF_ENDPOINT=hub.endpoint, HF_TOKEN=token))
        server.wait_ready()
        rerank(server)
        hub_auth = {a for _, _, a in hub.seen("hub")}
        store = hub.seen("store")
        expect(hub_auth == {"Bearer " + token}, "Authorization on the hub: %s" % hub_auth)
        expect(store and all(a is None for _, _, a in store), "Authorization on the store: %s" % [a for _, _, a in store])
        server.stop()
        refused = self.serve("token-missing", self.env(HF_HOME=self.home("hf-home-token-missing"), HF_ENDPOINT=hub.endpoint))
        status = refused.wait_exit()
        text = refused.text(40)
        expect(status != 0, "without the token the start did not fail (exit %s)" % status)
        expect(REPO in text and "HF_TOKEN" in text, "the refusal names neither %s nor HF_TOKEN:\n%s" % (REPO, text))
        message = [l.get("error") for l in refused.lines() if l.get("level") == "error"]
        return "token on all %d hub requests, on none of %d store requests; without it: exit %d, %s" % (
            len(hub.seen("hub")), len(store), status, (message or ["?"])[-1])

    def check_loading(self):
        hub = self.hub()
        hub.hold_weights()
        server = self.serve("loading", self.env(HF_HOME=self.home("hf-home-loading"), HF_ENDPOINT=hub.endpoint))
        server.wait_listening()
        expect(hub.weights_requested.wait(60), "the weights were not requested within 60 s:\n%s" % server.text())
        healthz = http("GET", server.url("/healthz"), timeout=5)
        readyz = http("GET", server.url("/readyz"), timeout=5)
        other = http("POST", server.url("/v2/rerank"), RERANK, timeout=5)
        hub.release_weights()
        expect(healthz[0] == 200, "/healthz while fetching: %s %s" % (healthz[0], healthz[2][:200]))
        expect(readyz[0] == 503, "/readyz while fetching: %s %s" % (readyz[0], readyz[2][:200]))
        server.wait_ready()
        rerank(server)
        retry = {k.lower(): v for k, v in other[1].items()}.get("retry-after")
        return "while the weights were held: /healthz %d, /readyz %d %s, /v2/rerank %d (Retry-After %s); then ready" % (
            healthz[0], readyz[0], readyz[2].strip()[:60], other[0], retry)

    def check_unknown_repo(self):
        details = []
        for status in (401, 404):
            hub = self.hub(unknown_repo_status=status)
            server = self.serve("unknown-%d" % status, self.env(HF_HOME=self.home("hf-home-unknown"), HF_ENDPOINT=hub.endpoint),
                                model="acme/no-such-model")
            code = server.wait_exit()
            text = server.text(40)
            expect(code != 0, "hub %d: the start did not fail (exit %s)" % (status, code))
            expect("acme/no-such-model" in text, "hub %d: no message names acme/no-such-model:\n%s" % (status, text))
            message = [l.get("error") for l in server.lines() if l.get("level") == "error"]
            details.append("hub %d -> exit %d, %s" % (status, code, (message or ["?"])[-1]))
            server.stop()
            self.servers.remove(server)
        return "; ".join(details)

    def main(self):
        print("hub cross-check: %s against huggingface_hub %s (work: %s)" % (
            os.path.relpath(self.binary, REPO_ROOT) if self.binary.startswith(REPO_ROOT) else self.binary,
            self.hf.__version__, self.work), flush=True)
        self.run("hub-protocol: huggingface_hub downloads from the local hub", self.check_hub_protocol)
        self.run("A: instructrec fills HF_HOME, huggingface_hub finds it offline", self.check_a)
        self.run("B: huggingface_hub fills HF_HOME, instructrec serves it with HF_HUB_OFFLINE=1", self.check_b)
        self.run("same-layout: both tools lay the cache out alike", self.check_same_layout)
        self.run("cache-reuse: instructrec online fetches nothing huggingface_hub cached", self.check_cache_reuse)
        self.run("token: HF_TOKEN to the hub only, refusal without it", self.check_token)
        self.run("loading: /healthz 200 and /readyz 503 while the model is fetched", self.check_loading)
        self.run("unknown-repo: the start stops naming the repository", self.check_unknown_repo)
        failed = [name for name, ok in self.results if not ok]
        if failed:
            print("hub cross-check: FAIL (%d of %d checks failed; logs in %s)" % (len(failed), len(self.results), self.work))
            return 1
        print("hub cross-check: PASS (%d checks)" % len(self.results))
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(REPO_ROOT, ".build", "release", "instructrec"))
    parser.add_argument("--fixture", default=os.path.join(REPO_ROOT, "Tests", "ServiceTests", "Fixtures", "monot5-tiny"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory (caches, server logs) after a pass")
    args = parser.parse_args(argv)
    try:
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        for name in ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_ENDPOINT"):
            os.environ.pop(name, None)
        import huggingface_hub as hf
        import huggingface_hub.errors  # noqa: F401
    except ImportError:
        print("hub cross-check: SKIPPED: huggingface_hub is not importable by %s (install the pinned version: "
              "python3 -m venv /tmp/hub-venv && /tmp/hub-venv/bin/pip install \"$(grep '^huggingface_hub==' "
              "scripts/requirements.txt)\", then run this script with /tmp/hub-venv/bin/python)" % sys.executable)
        return 0
    if not os.access(args.binary, os.X_OK):
        print("hub cross-check: FAIL: no executable %s (make build)" % args.binary)
        return 1
    return Crosscheck(args, hf).main()


if __name__ == "__main__":
    sys.exit(main())

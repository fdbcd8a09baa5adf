#!/usr/bin/env python3
"""A model hub on loopback that answers as the Hugging Face Hub does, for huggingface_hub and for instructrec.

Standard library only. Two threaded HTTP servers on 127.0.0.1: the hub (HF_ENDPOINT) and its file store, which
the hub names by another host name (the hub is http://127.0.0.1:PORT, the store http://localhost:PORT), as the
real hub sends large files to a CDN:

  GET  /api/models/{org}/{name}[/revision/{rev}]   model info: id, sha (the commit), siblings [{rfilename}]
                                                   (with ?blobs=true also size, blobId and lfs {sha256, size,
                                                   pointerSize}), private, gated, disabled, tags, ...
  GET  /api/models/{org}/{name}/tree/{rev}[/path]  the tree listing snapshot_download reads (?recursive=):
                                                   [{type: file, path, size, oid, lfs: {oid, size, pointerSize}}]
  HEAD|GET /{org}/{name}/resolve/{rev}/{file}      a small file: 200, ETag "<git blob id>", X-Repo-Commit;
                                                   a large one (*.safetensors, tokenizer.json, spiece.model):
                                                   302 to the store with X-Linked-Etag "<sha256>", X-Linked-Size,
                                                   X-Repo-Commit, ETag "<git blob id of its LFS pointer>"
  HEAD|GET store /lfs/{sha256}                     the bytes (Range: bytes=N- answered 206)

Refusals as the hub words them (huggingface_hub's hf_raise_for_status reads X-Error-Code): an unknown
repository 401 (as the real hub answers an anonymous caller; 404 with unknown_repo_status=404) with
X-Error-Code RepoNotFound, an unknown revision 404 RevisionNotFound, an unknown file 404 EntryNotFound (with
X-Repo-Commit), a missing or wrong token (when one is required) 401 GatedRepo.

Used by scripts/hub/crosscheck.py (imported) and scripts/ops/image_test.sh (run as a script):

  python3 scripts/hub/local_hub.py --fixture Tests/ServiceTests/Fixtures/monot5-tiny [--repo acme/monot5-tiny]
          [--port 0] [--ready-file FILE] [--delay-s S]

serves that directory's model files (and a README.md) as the repository, prints `HF_ENDPOINT=http://...` (and
writes it to FILE) once listening, and runs until SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_REPO = "acme/monot5-tiny"
DEFAULT_COMMIT = "0123456789abcdef0123456789abcdef01234567"
# The files of the fixture the repository is made of (golden.json stays out: it is the tests' own).
FIXTURE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "instructrec.json")
README = b"---\nlicense: apache-2.0\n---\n# monot5-tiny\n\nA model card the engine does not read.\n"


def is_large(name: str) -> bool:
    return name.endswith(".safetensors") or name in ("tokenizer.json", "spiece.model")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (sha256(data).encode(), len(data))


class Repository:
    def __init__(self, files: dict[str, bytes], commit: str = DEFAULT_COMMIT):
        self.files = dict(files)
        self.commit = commit

    def entry(self, name: str) -> dict:
        """The facts of one file: size, git blob id, and for a large file its LFS object."""
        data = self.files[name]
        if is_large(name):
            pointer = lfs_pointer(data)
            return {"size": len(data), "oid": git_blob_id(pointer),
                    "lfs": {"oid": sha256(data), "size": len(data), "pointerSize": len(pointer)}}
        return {"size": len(data), "oid": git_blob_id(data), "lfs": None}


def fixture_repository(fixture: str, commit: str = DEFAULT_COMMIT) -> Repository:
    files = {}
    for name in FIXTURE_FILES:
        with open(os.path.join(fixture, name), "rb") as f:
            files[name] = f.read()
    files["README.md"] = README
    return Repository(files, commit)


class LocalHub:
    """The hub and its store. Every request is recorded as (server, method, path, Authorization)."""

    def __init__(self, repositories: dict[str, Repository], *, required_token: str | None = None,
                 unknown_repo_status: int = 401, port: int = 0, store_port: int = 0, delay_s: float = 0.0):
        self.repositories = repositories
        self.required_token = required_token
        self.unknown_repo_status = unknown_repo_status
        self.delay_s = delay_s  # before the store sends a .safetensors file
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str, str | None]] = []
        # hold(): the store keeps every .safetensors GET waiting until release(); weights_requested is set when one arrives
        self.weights_gate = threading.Event()
        self.weights_gate.set()
        self.weights_requested = threading.Event()
        self.hub = ThreadingHTTPServer(("127.0.0.1", port), self._handler("hub"))
        self.store = ThreadingHTTPServer(("127.0.0.1", store_port), self._handler("store"))
        for server in (self.hub, self.store):
            server.daemon_threads = True
        self.threads: list[threading.Thread] = []

    # ---- life ------------------------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return "http://127.0.0.1:%d" % self.hub.server_address[1]

    @property
    def store_url(self) -> str:
        return "http://localhost:%d" % self.store.server_address[1]

    def start(self) -> "LocalHub":
        for server in (self.hub, self.store):
            t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self) -> None:
        self.weights_gate.set()
        for server in (self.hub, self.store):
            server.shutdown()
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def hold_weights(self) -> None:
        self.weights_requested.clear()
        self.weights_gate.clear()

    def release_weights(self) -> None:
        self.weights_gate.set()

    def seen(self, server: str) -> list[tuple[str, str, str | None]]:
        with self.lock:
            return [(m, p, a) for s, m, p, a in self.requests if s == server]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    # ---- answers ---------------------------------------------------------------------------------------------
    def _handler(self, name: str):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "local-hub"

            def log_message(self, format, *args):  # recorded, not printed
                pass

            def do_GET(self):
                self._answer(head=False)

            def do_HEAD(self):
                self._answer(head=True)

            def _answer(self, head: bool):
                with hub.lock:
                    hub.requests.append((name, self.command, self.path, self.headers.get("Authorization")))
                try:
                    status, headers, body = (hub._hub if name == "hub" else hub._store)(self, head)
                except BrokenPipeError:
                    return
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and body:
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

        return Handler

    @staticmethod
    def _json(status: int, value, extra: dict | None = None):
        body = json.dumps(value).encode()
        return status, {"Content-Type": "application/json; charset=utf-8", **(extra or {})}, body

    def _error(self, status: int, code: str, message: str, extra: dict | None = None):
        return self._json(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message, **(extra or {})})

    def _hub(self, request: BaseHTTPRequestHandler, head: bool):
        url = urllib.parse.urlsplit(request.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        if self.required_token and request.headers.get("Authorization") != "Bearer " + self.required_token:
            return self._error(401, "GatedRepo", "Access to this repository is restricted: a token with access is needed.")
        # /api/models/{org}/{name}[/revision/{rev} | /tree/{rev}[/path]]
        if len(parts) >= 4 and parts[0] == "api" and parts[1] == "models":
            repo_id = parts[2] + "/" + parts[3]
            repo = self.repositories.get(repo_id)
            if repo is None:
                return self._error(self.unknown_repo_status, "RepoNotFound", "Repository not found")
            rest = parts[4:]
            if not rest or (rest[0] == "revision" and len(rest) == 2):
                revision = rest[1] if rest else "main"
                if revision not in ("main", repo.commit):
                    return self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
                return self._json(200, self._model_info(repo_id, repo, blobs=query.get("blobs") == ["True"] or query.get("blobs") == ["true"]))
            if rest[0] == "tree" and len(rest) >= 2:
                revision, prefix = rest[1], "/".join(rest[2:])
                if revision not in ("main", repo.commit):
                    return self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
                recursive = query.get("recursive", ["false"])[0].lower() == "true"
                entries = []
                for path in sorted(repo.files):
                    inside = path[len(prefix) + 1:] if prefix else path
                    if prefix and not path.startswith(prefix + "/"):
                        continue
                    if not recursive and "/" in inside:
                        continue
                    e = repo.entry(path)
                    item = {"type": "file", "oid": e["oid"], "size": e["size"], "path": path}
                    if e["lfs"]:
                        item["lfs"] = e["lfs"]
                    entries.append(item)
                return self._json(200, entries)
            return self._error(404, "EntryNotFound", "Not found")
        # /{org}/{name}/resolve/{rev}/{file}
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id = parts[0] + "/" + parts[1]
            repo = self.repositories.get(repo_id)
            if repo is None:
                return self._error(self.unknown_repo_status, "RepoNotFound", "Repository not found")
            revision, file = parts[3], "/".join(parts[4:])
            if revision not in ("main", repo.commit):
                return self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
            if file not in repo.files:
                return self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": repo.commit})
            data, e = repo.files[file], repo.entry(file)
            common = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes", "Access-Control-Expose-Headers":
                      "X-Repo-Commit,X-Linked-Etag,X-Linked-Size,ETag,Location"}
            if e["lfs"]:
                digest = e["lfs"]["oid"]
                return 302, {**common, "Location": "%s/lfs/%s" % (self.store_url, digest),
                             "X-Linked-Etag": '"%s"' % digest, "X-Linked-Size": str(len(data)),
                             "ETag": '"%s"' % e["oid"], "Content-Type": "text/plain; charset=utf-8"}, b""
            return 200, {**common, "ETag": '"%s"' % e["oid"], "Content-Type": "application/octet-stream",
                         "Content-Length": str(len(data))}, (b"" if head else data)
        return self._error(404, "EntryNotFound", "Not found")

    def _model_info(self, repo_id: str, repo: Repository, blobs: bool) -> dict:
        siblings = []
        for path in sorted(repo.files):
            sibling: dict = {"rfilename": path}
            if blobs:
                e = repo.entry(path)
                sibling.update({"size": e["size"], "blobId": e["oid"]})
                if e["lfs"]:
                    sibling["lfs"] = {"sha256": e["lfs"]["oid"], "size": e["lfs"]["size"], "pointerSize": e["lfs"]["pointerSize"]}
            siblings.append(sibling)
        return {"_id": "0" * 24, "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": repo.commit,
                "lastModified": "2025-01-01T00:00:00.000Z", "createdAt": "2025-01-01T00:00:00.000Z", "private": False,
                "gated": False, "disabled": False, "downloads": 0, "likes": 0, "library_name": "transformers",
                "tags": ["transformers", "safetensors", "t5", "text2text-generation"], "pipeline_tag": "text2text-generation",
                "siblings": siblings, "spaces": [], "usedStorage": sum(len(d) for d in repo.files.values())}

    def _store(self, request: BaseHTTPRequestHandler, head: bool):
        digest = request.path.rsplit("/", 1)[-1].split("?")[0]
        for repo in self.repositories.values():
            for name, data in repo.files.items():
                if is_large(name) and sha256(data) == digest:
                    if not head and name.endswith(".safetensors"):
                        self.weights_requested.set()
                        self.weights_gate.wait(timeout=300)
                        if self.delay_s:
                            time.sleep(self.delay_s)
                    headers = {"Content-Type": "application/octet-stream", "ETag": '"%s"' % digest, "Accept-Ranges": "bytes"}
                    ranged = request.headers.get("Range", "")
                    if ranged.startswith("bytes=") and ranged[6:].endswith("-") and ranged[6:-1].isdigit():
                        start = int(ranged[6:-1])
                        headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
                        return 206, headers, data[start:]
                    return 200, headers, data
        return 404, {"Content-Type": "text/plain"}, b"no such object\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Serve a model directory as a Hugging Face-style hub repository on loopback.")
    parser.add_argument("--fixture", required=True, help="a model directory (config.json, model.safetensors, tokenizer.json, instructrec.json)")
    parser.add_argument("--repo", default=DEFAULT_REPO)
    parser.add_argument("--commit", default=DEFAULT_COMMIT)
    parser.add_argument("--port", type=int, default=0, help="the hub's port (0: any free one); the store takes any free one")
    parser.add_argument("--delay-s", type=float, default=0.0, help="wait this long before sending the weights")
    parser.add_argument("--token", default=None, help="require this token (Authorization: Bearer) on the hub")
    parser.add_argument("--ready-file", default=None, help="write HF_ENDPOINT=... here once listening")
    parser.add_argument("--log-file", default=None, help="on exit, write the requests served (server method path) here")
    args = parser.parse_args(argv)

    hub = LocalHub({args.repo: fixture_repository(args.fixture, args.commit)}, required_token=args.token,
                   port=args.port, delay_s=args.delay_s).start()
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    line = "HF_ENDPOINT=%s" % hub.endpoint
    print(line + "  (store: %s; repository %s @ %s)" % (hub.store_url, args.repo, args.commit), flush=True)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(line + "\n")
        os.replace(args.ready_file + ".tmp", args.ready_file)
    stop.wait()
    hub.stop()
    if args.log_file:
        with open(args.log_file, "w") as f:
            for server, method, path, auth in hub.requests:
                f.write("%s %s %s%s\n" % (server, method, path, " (Authorization)" if auth else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

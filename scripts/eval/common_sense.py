#!/usr/bin/env python3
"""Common-sense ranking check: does the service put the obvious item first?

Runs the cases in common_sense_cases.json (beside this script) against /recommend
and /search and prints, per case, the top-1 candidate id and whether it is one of
the case's expected ids, then the total "N of M". The cases use store-style,
mostly post-2018 titles that the default model never saw in training: a
franchise sequel after a history of that franchise, a query naming a franchise,
a character or a genre. It is a measurement, not a test: it exits 0 whatever
the count, unless the server fails.

Against a running server:
    python3 scripts/eval/common_sense.py --url http://127.0.0.1:8080

Starting one itself (a free port, waits for /readyz, stops it at the end):
    python3 scripts/eval/common_sense.py --serve .build/release/instructrec \
        --model models/default [--set key=value ...]

Extra request fields merged into every request body (values parsed as JSON when
they parse, else taken as strings):
    ... --field scoring=mean --field prior_weight=0.5

Exit status: 0 after a measurement; 2 when the server could not be started, did
not become ready, could not be reached or answered 5xx; 3 when it rejected
every request (4xx, e.g. an unknown --field): nothing was measured.
Python 3 standard library only.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CASES = os.path.join(HERE, "common_sense_cases.json")


class ServerFailure(Exception):
    """The server is gone, unreachable or answered 5xx: the measurement stops."""


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_fields(pairs):
    fields = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--field expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        fields[key] = parse_value(value)
    return fields


def load_cases(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    cases = doc["cases"] if isinstance(doc, dict) else doc
    for case in cases:
        for key in ("name", "endpoint", "request", "expected"):
            if key not in case:
                raise SystemExit(f"{path}: case {case.get('name', '?')} has no {key!r}")
        if case["endpoint"] not in ("recommend", "search"):
            raise SystemExit(f"{path}: case {case['name']}: endpoint must be recommend or search")
    return cases


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=60.0, api_key=None):
    """Returns (status, parsed JSON or text). Raises OSError when nothing answered."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Server:
    """`BINARY serve --model DIR --host 127.0.0.1 --port P [--set k=v ...]`, output in a log file."""

    def __init__(self, binary, model, settings, ready_timeout):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="common_sense_server_", suffix=".log", delete=False)
        command = [binary, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if model:
            command += ["--model", model]
        for setting in settings:
            command += ["--set", setting]
        self.command = command
        print(f"starting: {' '.join(command)} (log {self.log.name})", file=sys.stderr)
        try:
            self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            raise ServerFailure(f"cannot start {binary}: {error}")
        self.wait_ready(ready_timeout)

    def log_tail(self, lines=20):
        try:
            with open(self.log.name, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailure(f"server exited with status {self.process.returncode} before it was ready:\n"
                                    + self.log_tail())
            try:
                status, _ = http("GET", self.url + "/readyz", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise ServerFailure(f"server not ready after {timeout:.0f} s:\n" + self.log_tail())

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def run_case(url, case, fields, timeout, api_key):
    body = dict(case["request"])
    body.update(fields)
    candidates = case["request"]["candidates"]
    ids = [c["id"] if isinstance(c, dict) else c for c in candidates]
    record = {"name": case["name"], "endpoint": case["endpoint"], "expected": case["expected"],
              "candidates": len(ids)}
    started = time.monotonic()
    try:
        status, answer = http("POST", f"{url}/{case['endpoint']}", body, timeout=timeout, api_key=api_key)
    except OSError as error:
        raise ServerFailure(f"{case['name']}: no answer from {url}: {error}")
    record["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    record["status"] = status
    if status >= 500:
        raise ServerFailure(f"{case['name']}: HTTP {status}: {answer}")
    if status != 200 or not isinstance(answer, dict) or not answer.get("results"):
        record.update(passed=False, top1=None, error=answer if status != 200 else "no results")
        return record
    ranking = []
    for result in answer["results"]:
        rid = result.get("id")
        if rid is None and "index" in result:
            rid = ids[result["index"]]
        ranking.append({"id": rid, "score": result.get("score"), "relevance_score": result.get("relevance_score")})
    top1 = ranking[0]["id"]
    ranked_ids = [r["id"] for r in ranking]
    expected_ranks = [ranked_ids.index(e) + 1 for e in case["expected"] if e in ranked_ids]
    record.update(passed=top1 in case["expected"], top1=top1,
                  best_expected_rank=min(expected_ranks) if expected_ranks else None,
                  ranking=ranking, scoring=answer.get("scoring"), template=answer.get("template"))
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="a running server (default http://127.0.0.1:8080)")
    parser.add_argument("--serve", metavar="BINARY", help="start BINARY serve on a free port instead of --url")
    parser.add_argument("--model", help="model directory for --serve")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="setting passed to --serve as --set KEY=VALUE (repeatable)")
    parser.add_argument("--field", dest="fields", action="append", default=[], metavar="KEY=VALUE",
                        help="field merged into every request body; VALUE is JSON when it parses, else a string")
    parser.add_argument("--cases", default=DEFAULT_CASES, help="cases file (default: beside this script)")
    parser.add_argument("--only", action="append", default=[], metavar="SUBSTRING",
                        help="run only cases whose name contains SUBSTRING (repeatable)")
    parser.add_argument("--output", help="write a JSON report here")
    parser.add_argument("--api-key", help="Bearer key when the server has api_keys")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    parser.add_argument("--ready-timeout", type=float, default=300.0,
                        help="seconds to wait for /readyz with --serve (default 300)")
    args = parser.parse_args()
    if args.serve and args.url:
        parser.error("--url and --serve exclude each other")
    if not args.serve and (args.model or args.settings):
        parser.error("--model and --set go with --serve")

    fields = parse_fields(args.fields)
    cases = load_cases(args.cases)
    if args.only:
        cases = [c for c in cases if any(s in c["name"] for s in args.only)]
    server = None
    records = []
    failure = None
    try:
        if args.serve:
            server = Server(args.serve, args.model, args.settings, args.ready_timeout)
            url = server.url
        else:
            url = (args.url or "http://127.0.0.1:8080").rstrip("/")
        width = max((len(c["name"]) for c in cases), default=10)
        for case in cases:
            record = run_case(url, case, fields, args.timeout, args.api_key)
            records.append(record)
            if "error" in record:
                detail = f"ERROR HTTP {record['status']}: {json.dumps(record['error'])[:200]}"
            else:
                rank = record["best_expected_rank"]
                detail = (f"{'pass' if record['passed'] else 'FAIL'}"
                          + ("" if record["passed"] else f"  (expected {'/'.join(case['expected'])} at #{rank} of {record['candidates']})"))
            print(f"{case['name']:<{width}}  top1={str(record['top1']):<18} {detail}", flush=True)
    except ServerFailure as error:
        failure = str(error)
        print(f"server failure: {failure}", file=sys.stderr)
    finally:
        if server:
            server.stop()

    passed = sum(r["passed"] for r in records)
    errors = sum("error" in r for r in records)
    by_endpoint = {}
    for endpoint in ("recommend", "search"):
        subset = [r for r in records if r["endpoint"] == endpoint]
        by_endpoint[endpoint] = {"passed": sum(r["passed"] for r in subset), "cases": len(subset)}
    summary = (f"{passed} of {len(records)} passed"
               + "".join(f"; /{e} {v['passed']} of {v['cases']}" for e, v in by_endpoint.items() if v["cases"])
               + (f"; {errors} rejected" if errors else ""))
    if failure is None:
        print(summary)
    if args.output:
        report = {"summary": summary, "passed": passed, "cases": len(records), "errors": errors,
                  "by_endpoint": by_endpoint, "fields": fields, "settings": args.settings,
                  "server": server.command if server else args.url or "http://127.0.0.1:8080",
                  "cases_file": os.path.abspath(args.cases), "failure": failure,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": records}
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
            f.write("\n")
    if failure is not None:
        return 2
    if records and errors == len(records):
        print("every request was rejected: nothing was measured", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Two models side by side over HTTP: the same /recommend requests (10 history
items, 20 candidates) to two `instructrec serve` processes, interleaved A, B, A,
B ... so machine drift hits both alike. Reports median and p90 latency of each
and the ratio of medians. Standard library only. `--route v2-rerank` sends
Cohere v2 bodies instead: a query (the first word of a title) and the
candidates as documents (`--candidates 1`: one document alone).

Requests use real Amazon Games titles when the dataset is at --data (it is not
committed), else a built-in list of game titles we wrote ourselves.

  python3 scripts/bench/bench_recommend.py --a out/old-default --b models/default --requests 200

`--pause 0.3` waits that long before each request: a lone request arriving at an idle server (with
`--binary-a` an earlier build, what a change did to it).

Run on a quiet machine (the numbers are only comparable within one run) and
name the OpenBLAS core type in use (each server logs it at start-up).
"""
import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time

from bench_servers import start, titles


CONNECTIONS = {}


def post(port, body, path="/recommend"):
    """One request over a kept-alive connection (as a retriever's client pool would send it)."""
    connection = CONNECTIONS.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    CONNECTIONS[port] = connection
    start = time.perf_counter()
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status != 200:
        sys.exit(f"HTTP {response.status}: {payload[:300]}")
    return elapsed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, help="model directory A (the baseline)")
    p.add_argument("--b", required=True, help="model directory B")
    p.add_argument("--binary", default=".build/release/instructrec")
    p.add_argument("--binary-a", help="serve A with another build (e.g. an earlier release); default --binary")
    p.add_argument("--data", default="../shared/data/games")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--candidates", type=int, default=20)
    p.add_argument("--history", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--set-a", action="append", default=[], metavar="KEY=VALUE", help="a setting for A's server (repeatable)")
    p.add_argument("--set-b", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for B's server (repeatable), e.g. weights_dtype=int8 with --b the same directory as --a")
    p.add_argument("--route", choices=["recommend", "v2-rerank"], default="recommend")
    p.add_argument("--pause", type=float, default=0.0, help="seconds idle before each request (0: back to back)")
    args = p.parse_args()
    path = "/recommend" if args.route == "recommend" else "/v2/rerank"
    pool = titles(args.data)
    rng = random.Random(11)
    bodies = []
    for _ in range(args.requests):
        picks = rng.sample(pool, args.history + args.candidates)
        if args.route == "recommend":
            bodies.append(json.dumps({"history": picks[:args.history],
                                      "candidates": [{"id": str(i), "title": t} for i, t in enumerate(picks[args.history:])]}).encode())
        else:
            bodies.append(json.dumps({"model": "instructrec", "query": picks[0].split()[0].lower(),
                                      "documents": picks[args.history:]}).encode())
    binaries = {"A": args.binary_a or args.binary, "B": args.binary}
    settings = {"A": args.set_a, "B": args.set_b}
    servers = {name: start(binaries[name], model, args.threads, settings[name]) for name, model in (("A", args.a), ("B", args.b))}
    try:
        times = {"A": [], "B": []}
        for name in ("A", "B"):  # warm-up
            for body in bodies[:5]:
                post(servers[name][1], body, path)
        for i, body in enumerate(bodies):
            order = ("A", "B") if i % 2 == 0 else ("B", "A")
            for name in order:
                if args.pause > 0:
                    time.sleep(args.pause)
                times[name].append(post(servers[name][1], body, path))
        summary = {}
        for name, model in (("A", args.a), ("B", args.b)):
            t = sorted(times[name])
            summary[name] = (statistics.median(t), t[int(0.9 * (len(t) - 1))])
            extra = "".join(f" --set {setting}" for setting in settings[name])
            print(f"{name} {model}{extra} ({binaries[name]}): median {summary[name][0]:.2f} ms, p90 {summary[name][1]:.2f} ms "
                  f"({len(t)} requests to {path}, " + (f"{args.history} history items, " if args.route == "recommend" else "")
                  + f"{args.candidates} candidates" + (f", {args.pause} s idle before each" if args.pause > 0 else "") + ")")
        print(f"median ratio A/B: {summary['A'][0] / summary['B'][0]:.2f}x")
        print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()

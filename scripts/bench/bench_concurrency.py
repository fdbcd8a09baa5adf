#!/usr/bin/env python3
"""Throughput under concurrent load, cross-request batching on against off, in one run.

For each model it starts two `instructrec serve` processes with the same workers and
threads: one with the defaults (batching on) and one with `max_batch_requests=1`
(each request alone, the old behaviour). Then, for each concurrency C (default 1, 4, 8),
C client threads, each with its own kept-alive connection, send /recommend requests of
different users (10 history items, 20 candidates by default) to one server for a fixed
time; the two servers take turns (off, on; the next C on, off) so machine drift hits
both alike, and only one server is loaded at a time. Reports req/s, p50 and p99 per
phase and the on/off ratios. With --paired N it then sends N lone requests alternating
between the two servers request by request and reports the median per-pair latency
ratio with a bootstrap interval: the single-request figure, which phase medians on a
drifting machine cannot resolve to a few percent. Standard library only.

  python3 scripts/bench/bench_concurrency.py --model default=models/default --model small=out/random-small

Titles come from the Games dataset at --data when present (it is not committed), else
from a built-in list we wrote ourselves. Name the OpenBLAS core type in use when quoting
figures (each server logs it at start-up; it is printed below).
"""
import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.request

from bench_servers import start, titles


def metric(port, name):
    """Sum of a Prometheus counter/histogram sample family line that starts with `name`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def phase(port, bodies, clients, seconds):
    """C clients for `seconds`; returns (latencies in ms, wall seconds, errors)."""
    latencies, errors = [], []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    start_gate = threading.Barrier(clients + 1)

    def client(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine, failures = [], []
        start_gate.wait()
        i = index
        while time.perf_counter() < stop_at:
            body = bodies[i % len(bodies)]
            i += clients
            began = time.perf_counter()
            try:
                connection.request("POST", "/recommend", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(response.status)
                    continue
            except Exception as error:  # a dropped connection is a failure, not a crash of the bench
                failures.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            mine.append((time.perf_counter() - began) * 1000)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors.extend(failures)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - began, errors


def paired_single(ports, bodies, pairs):
    """A lone request at a time, alternating servers request by request (off, on; then on, off),
    the same body for both halves of a pair: per-side latencies in ms and the per-pair on/off
    ratios. On a shared, drifting machine this is the only reading that resolves a few percent."""
    connections = {side: http.client.HTTPConnection("127.0.0.1", port, timeout=120) for side, port in ports.items()}
    latencies = {"off": [], "on": []}
    ratios = []
    for i in range(pairs):
        body = bodies[i % len(bodies)]
        pair = {}
        for side in (("off", "on") if i % 2 == 0 else ("on", "off")):
            began = time.perf_counter()
            connections[side].request("POST", "/recommend", body=body, headers={"Content-Type": "application/json"})
            response = connections[side].getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"paired single requests: the {side} server answered {response.status}")
            pair[side] = (time.perf_counter() - began) * 1000
        for side in pair:
            latencies[side].append(pair[side])
        ratios.append(pair["on"] / pair["off"])
    for connection in connections.values():
        connection.close()
    return latencies, ratios


def bootstrap_median_interval(values, rounds=2000, seed=11):
    """95 % bootstrap interval of the median."""
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(rounds))
    return medians[int(0.025 * rounds)], medians[int(0.975 * rounds) - 1]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="NAME=DIR (repeatable)")
    p.add_argument("--binary", default=".build/release/instructrec")
    p.add_argument("--data", default="../shared/data/games")
    p.add_argument("--concurrency", default="1,4,8")
    p.add_argument("--seconds", type=float, default=15, help="per phase")
    p.add_argument("--candidates", type=int, default=20)
    p.add_argument("--history", type=int, default=10)
    p.add_argument("--threads", type=int, default=2, help="threads_per_worker of both servers")
    p.add_argument("--off", default="max_batch_requests=1", help="the setting that turns batching off")
    p.add_argument("--on", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for the batching-on server (repeatable; default: none, the service's defaults)")
    p.add_argument("--paired", type=int, default=0, metavar="N",
                   help="also N lone requests alternating between the servers request by request "
                        "(the single-request latency figure; 0: skip)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    pool = titles(args.data)
    rng = random.Random(5)
    bodies = []
    for _ in range(400):  # 400 different users
        picks = rng.sample(pool, args.history + args.candidates)
        bodies.append(json.dumps({"history": picks[:args.history],
                                  "candidates": [{"id": str(i), "title": t}
                                                 for i, t in enumerate(picks[args.history:])]}).encode())
    levels = [int(c) for c in args.concurrency.split(",")]
    results = []
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; threads per worker {args.threads}; "
          f"{args.history} history items, {args.candidates} candidates; {args.seconds:.0f} s per phase")
    for spec in args.model:
        name, _, directory = spec.partition("=")
        servers = {}
        try:
            servers["off"] = start(args.binary, directory, args.threads, [args.off])
            servers["on"] = start(args.binary, directory, args.threads, args.on)
            for side in ("off", "on"):  # warm-up: page in weights, grow workspaces
                phase(servers[side][1], bodies, max(levels), 2)
            for n, clients in enumerate(levels):
                row = {"model": name, "clients": clients}
                for side in (("off", "on") if n % 2 == 0 else ("on", "off")):
                    port = servers[side][1]
                    before = metric(port, "instructrec_batch_requests_count")
                    latencies, wall, errors = phase(port, bodies, clients, args.seconds)
                    batches = metric(port, "instructrec_batch_requests_count") - before
                    row[side] = {"requests": len(latencies), "errors": len(errors), "rps": len(latencies) / wall,
                                 "p50_ms": statistics.median(latencies) if latencies else None,
                                 "p99_ms": percentile(latencies, 0.99) if latencies else None,
                                 "requests_per_batch": (len(latencies) + len(errors)) / batches if batches else None}
                if not (row["on"]["requests"] and row["off"]["requests"]):
                    sys.exit(f"{name} C={clients}: a side answered no request (errors: off {row['off']['errors']}, "
                             f"on {row['on']['errors']})")
                row["throughput_on_over_off"] = row["on"]["rps"] / row["off"]["rps"]
                row["p99_on_over_off"] = row["on"]["p99_ms"] / row["off"]["p99_ms"]
                row["p50_on_over_off"] = row["on"]["p50_ms"] / row["off"]["p50_ms"]
                results.append(row)
                for side in ("off", "on"):
                    r = row[side]
                    per_batch = f"{r['requests_per_batch']:.2f}" if r["requests_per_batch"] else "-"
                    print(f"{name:>10} C={clients:<2} batching {side:>3}: {r['rps']:7.2f} req/s  p50 {r['p50_ms']:8.2f} ms  "
                          f"p99 {r['p99_ms']:8.2f} ms  requests/batch {per_batch}  errors {r['errors']}")
                print(f"{name:>10} C={clients:<2} on/off: throughput {row['throughput_on_over_off']:.2f}x, "
                      f"p50 {row['p50_on_over_off']:.2f}, p99 {row['p99_on_over_off']:.2f}")
            if args.paired:
                latencies, ratios = paired_single({side: servers[side][1] for side in ("off", "on")}, bodies, args.paired)
                low, high = bootstrap_median_interval(ratios)
                row = {"model": name, "paired_single_requests": args.paired,
                       "off_p50_ms": statistics.median(latencies["off"]), "on_p50_ms": statistics.median(latencies["on"]),
                       "median_pair_ratio": statistics.median(ratios), "median_pair_ratio_95": [low, high]}
                results.append(row)
                print(f"{name:>10} lone requests, {args.paired} pairs alternating: p50 off {row['off_p50_ms']:.2f} ms, "
                      f"on {row['on_p50_ms']:.2f} ms; on/off median per-pair ratio {row['median_pair_ratio']:.3f} "
                      f"(95 % bootstrap {low:.3f}-{high:.3f})")
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=60)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

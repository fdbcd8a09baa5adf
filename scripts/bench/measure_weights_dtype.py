#!/usr/bin/env python3
"""weights_dtype=auto (16-bit weights kept) against weights_dtype=f32 (widened
at load) on one BF16 checkpoint, through the real `instructrec serve`.

  rss MODEL_DIR [DTYPE...]      one server at a time: VmRSS once ready (loaded and
                                warmed up), VmRSS and VmHWM after one 20-candidate
                                /recommend request
  latency MODEL_DIR [ROUNDS]    both servers up, the same 20-candidate request sent
                                to each in turn ROUNDS times (default 15, after 2
                                warm-ups each); medians, their ratio and the
                                median of the per-round ratios

Make a checkpoint with scripts/fixtures/make_random_t5_checkpoint.py. Tokenizer: the
checkpoint's own (that script copies one in), or $TOKENIZER. Binary: .build/release/instructrec.
Each server: 1 worker, 2 threads.
"""
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, ".build/release/instructrec")
TOKENIZER = os.environ.get("TOKENIZER")

HISTORY = ["Super Mario Odyssey", "The Legend of Zelda: Breath of the Wild", "Splatoon 2",
           "Animal Crossing: New Horizons", "Pokemon Sword"]
CANDIDATES = ["Mario Kart 8 Deluxe", "HDMI Cable 6ft", "FIFA 19 - PlayStation 4", "Call of Duty: Black Ops 4",
              "Crash Team Racing Nitro-Fueled", "Xbox Wireless Controller", "Minecraft - Nintendo Switch",
              "Luigi's Mansion 3", "Red Dead Redemption 2", "Nintendo Switch Pro Controller",
              "Super Smash Bros. Ultimate", "Halo: The Master Chief Collection", "Kirby Star Allies",
              "God of War - PlayStation 4", "Donkey Kong Country: Tropical Freeze", "USB Charging Cable",
              "Fire Emblem: Three Houses", "Spider-Man - PlayStation 4", "Yoshi's Crafted World",
              "The Witcher 3: Wild Hunt"]
REQUEST = json.dumps({"history": HISTORY, "candidates": CANDIDATES, "top_n": 5}).encode()


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing")


class Server:
    def __init__(self, model, dtype, port):
        self.dtype, self.port = dtype, port
        args = [BINARY, "serve", "--model", model] + (["--tokenizer", TOKENIZER] if TOKENIZER else []) + [
                "--port", str(port), "--workers", "1", "--threads", "2", "--set", f"weights_dtype={dtype}", "--set", "log_requests=false"]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.process.pid

    def wait_ready(self, timeout=1800):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.dtype} server exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("not ready in time")

    def request(self):
        started = time.perf_counter()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/recommend", data=REQUEST,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=3600) as r:
            body = json.loads(r.read())
        return time.perf_counter() - started, body

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def rss(model, dtypes):
    for dtype in dtypes:
        server = Server(model, dtype, 18090)
        try:
            started = time.time()
            server.wait_ready()
            ready = time.time() - started
            after_load = status_kib(server.pid, "VmRSS")
            seconds, body = server.request()
            after_request = status_kib(server.pid, "VmRSS")
            peak = status_kib(server.pid, "VmHWM")
            top = body["results"][0]["id"] if "results" in body else "?"
            print(f"weights_dtype={dtype}: ready in {ready:.1f} s; VmRSS ready {after_load / 2**20:.2f} GiB, "
                  f"after one request {after_request / 2**20:.2f} GiB (request {seconds:.2f} s, top {top}); "
                  f"VmHWM {peak / 2**20:.2f} GiB", flush=True)
        finally:
            server.stop()


def latency(model, rounds):
    servers = [Server(model, "auto", 18091), Server(model, "f32", 18092)]
    try:
        for s in servers:
            s.wait_ready()
        for _ in range(2):
            for s in servers:
                s.request()
        times = {s.dtype: [] for s in servers}
        for i in range(rounds):
            order = servers if i % 2 == 0 else servers[::-1]   # alternate who goes first
            for s in order:
                times[s.dtype].append(s.request()[0])
        kept, widened = statistics.median(times["auto"]), statistics.median(times["f32"])
        print(f"{rounds} interleaved rounds of one 20-candidate /recommend each, 1 worker x 2 threads")
        for dtype, values in times.items():
            print(f"  weights_dtype={dtype}: median {statistics.median(values) * 1000:.0f} ms "
                  f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})")
        paired = [a / b for a, b in zip(times["auto"], times["f32"])]
        print(f"  auto / f32: ratio of medians {kept / widened:.3f}, median of per-round ratios {statistics.median(paired):.3f}")
    finally:
        for s in servers:
            s.stop()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("rss", "latency"):
        sys.exit(__doc__)
    if sys.argv[1] == "rss":
        rss(sys.argv[2], sys.argv[3:] or ["auto", "f32"])
    else:
        latency(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 15)


if __name__ == "__main__":
    main()

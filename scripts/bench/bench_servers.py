"""What the HTTP benchmark scripts share: request titles and `instructrec serve` processes
on free loopback ports. Standard library only."""
import html
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from sample_titles import TITLES as BUILTIN  # noqa: E402  game titles we wrote ourselves (scripts/fixtures)


def titles(data):
    """Amazon Games titles from the dataset at `data` (not committed), else the built-in list."""
    path = os.path.join(data, "Games.item")
    if not os.path.exists(path):
        print(f"(no dataset at {data}: using {len(BUILTIN)} built-in titles)", file=sys.stderr)
        return BUILTIN
    out = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            title = html.unescape(line.rstrip("\n").split("\t", 1)[1]).strip().rstrip(";")
            if title:
                out.append(title)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, model, threads, settings=(), timeout=300):
    """`instructrec serve` on a free port, quiet logs, extra `--set` settings; waits for /readyz.
    Returns (process, port); exits with the server's stderr if it dies first."""
    port = free_port()
    command = [binary, "serve", "--model", model, "--port", str(port), "--host", "127.0.0.1",
               "--threads", str(threads), "--set", "log_requests=false", "--set", "drain_delay_s=0"]
    for setting in settings:
        command += ["--set", setting]
    # The server logs JSON lines to stderr: a file, not a pipe nobody reads (a full pipe would block it).
    log = tempfile.NamedTemporaryFile(prefix="instructrec-bench-", suffix=".log", delete=False)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return process, port
        except Exception:
            time.sleep(0.2)
        if process.poll() is not None:
            with open(log.name, encoding="utf-8", errors="replace") as f:
                sys.exit(f"{model}: server exited: {f.read()[-2000:]}")
    sys.exit(f"{model}: not ready after {timeout} s")

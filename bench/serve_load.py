"""`cnnkit serve` under load: the ASGI app on uvicorn with micro-batching vs the wsgiref server it replaced.

Trains a small CNN (the tutorial CNN, 32x32 RGB, 3 colour classes, 2 epochs) into a run folder, starts each server
as its own process on loopback, and sends 1,000 requests from 8 concurrent clients: good images of several sizes
(70 %), bad bytes (10 %), empty bodies (10 %) and GET instead of POST (10 %). Then two safety probes: `/health`
latency while another client stalls an upload, and a 50 MB body (413) with the server's RSS before and after.

Run: python bench/serve_load.py [--requests 1000] [--clients 8] [--repeats 3] [--run /tmp/cnnkit-serve-bench]
The servers take turns (old, new, old, new, ...) so that a busy machine slows both alike. Prints the median req/s,
p50/p99 latency and server CPU time per request (comparable even on a busy machine), status counts, peak RSS,
every run's req/s, and the ratios (new / old).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


# ---- the server this issue replaced, kept verbatim in spirit: stdlib wsgiref, one request at a time, a lock -----
def old_server(model: str) -> None:
    from urllib.parse import parse_qs
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    import torch

    from cnnkit.data.decode import DecodeError, load_array
    from cnnkit.interpret import probabilities
    from cnnkit.pipeline import load_classifier

    clf, lock, limit = load_classifier(model), threading.Lock(), 20 * 1024 * 1024
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large"}

    def reply(start_response, status, payload):
        body = json.dumps(payload).encode()
        start_response(
            f"{status} {reasons[status]}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def app(environ, start_response):
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        routes = {"/health": "GET", "/info": "GET", "/predict": "POST"}
        if path not in routes:
            return reply(start_response, 404, {"error": f"Unknown path {path!r}."})
        if method != routes[path]:
            return reply(start_response, 405, {"error": f"{path} takes {routes[path]}."})
        if path == "/health":
            return reply(start_response, 200, {"status": "ok"})
        if path == "/info":
            return reply(start_response, 200, {"class_names": clf.class_names})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length <= 0:
            return reply(start_response, 400, {"error": "Expected the image file as the request body."})
        if length > limit:
            return reply(start_response, 413, {"error": "The image is too large."})
        top_k = int(parse_qs(environ.get("QUERY_STRING", "")).get("top_k", ["1"])[0])
        data = environ["wsgi.input"].read(length)
        try:
            x = load_array(data, color_mode=clf.color_mode, image_size=clf.image_size).astype(np.float32)
        except DecodeError as e:
            return reply(start_response, 400, {"error": f"Cannot read the image: {e}."})
        with lock, torch.no_grad():
            p = probabilities(clf.model(x[None])).numpy()[0]
        top = np.argsort(-p)[:top_k]
        return reply(start_response, 200, {"class": clf.class_names[top[0]], "top_k": [float(p[i]) for i in top]})

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    print(f"Serving on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()


# ---- the benchmark ------------------------------------------------------------------------------------------------
COLOURS = [(220, 40, 30), (40, 200, 50), (30, 60, 220)]


def make_run(folder: Path) -> Path:
    if (folder / "model.cnnkit").is_file():
        return folder
    from cnnkit.pipeline import build_classifier
    from cnnkit.pipeline.run_folder import write_json

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = rng.normal(90, 40, (600, 32, 32, 3))
    for i, c in enumerate(y):
        x[i, 6:26, 6:26] += np.array(COLOURS[c]) * 0.6
    x = np.clip(x, 0, 255).astype(np.float32)
    model = build_classifier("tutorial", (32, 32, 3), 3, augment=False)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x[:500], y[:500], validation_data=(x[500:], y[500:]), epochs=2, batch_size=32, verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(str(folder / "model.cnnkit"))
    write_json(folder / "class_names.json", ["red", "green", "blue"])
    write_json(folder / "metrics.json", {"model_name": "tutorial", "val_accuracy": hist.history["val_accuracy"][-1]})
    return folder


def start(cmd: list[str]) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline()).group(1))
    return proc, port


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def cpu_seconds(pid: int) -> float:
    # utime + stime of the whole server process (all threads): what a request costs, however busy the machine is.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workload(n: int, seed: int = 0) -> list[tuple[str, bytes | None]]:
    rng = random.Random(seed)
    goods = []
    for i, c in enumerate(COLOURS * 3):
        img = Image.new("RGB", (rng.randint(32, 640), rng.randint(32, 480)), c)
        buf = io.BytesIO()
        img.save(buf, format="JPEG" if i % 2 else "PNG")
        goods.append(buf.getvalue())
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.7:
            out.append(("POST", rng.choice(goods)))
        elif r < 0.8:
            out.append(("POST", os.urandom(rng.randint(10, 5000))))
        elif r < 0.9:
            out.append(("POST", b""))
        else:
            out.append(("GET", None))
    return out


def load(port: int, jobs: list, clients: int) -> dict:
    latencies, statuses, lock, it = [], Counter(), threading.Lock(), iter(list(enumerate(jobs)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                job = next(it, None)
            if job is None:
                break
            method, body = job[1]
            t = time.perf_counter()
            try:
                conn.request(
                    method, "/predict?top_k=3", body=body, headers={"Content-Type": "application/octet-stream"}
                )
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
            except TimeoutError:
                status = "timeout"
                conn.close()
            except OSError as e:
                status = type(e).__name__
                conn.close()
            with lock:
                latencies.append(time.perf_counter() - t)
                statuses[status] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"req/s": len(jobs) / wall, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "statuses": statuses}


def health_while_stalled(port: int) -> float:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100)
    time.sleep(0.2)
    t = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/health")
        conn.getresponse().read()
        took = time.perf_counter() - t
    except TimeoutError:
        took = float("inf")
    s.close()
    return took


def big_body(port: int, pid: int, mb: int = 50) -> tuple[str, float]:
    before = rss_kb(pid)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {mb * 2**20}\r\n\r\n".encode())
    chunk = b"\0" * 2**20
    try:
        for _ in range(mb):
            s.sendall(chunk)
    except OSError:
        pass  # the server answered and closed before the body was all sent
    try:
        status = s.recv(4096).split(b"\r\n", 1)[0].decode() or "closed"
    except OSError as e:
        status = type(e).__name__
    s.close()
    time.sleep(0.3)
    return status, (rss_kb(pid) - before) / 1024


def measure(cmd: list[str], jobs: list, clients: int, has_metrics: bool) -> dict:
    proc, port = start(cmd)
    try:
        load(port, jobs[:50], clients)  # warm-up: first forward passes, thread pools
        cpu = cpu_seconds(proc.pid)
        res = load(port, jobs, clients)
        res["cpu_ms"] = (cpu_seconds(proc.pid) - cpu) * 1000 / len(jobs)
        res["health_ms"] = health_while_stalled(port) * 1000
        res["big_body"] = big_body(port, proc.pid)
        res["peak_rss_mb"] = rss_kb(proc.pid, "VmHWM") / 1024
        res["mean_batch"] = float("nan")
        if has_metrics:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            n = float(re.search(r"^cnnkit_batch_size_count (\S+)", text, re.M).group(1))
            total = float(re.search(r"^cnnkit_batch_size_sum (\S+)", text, re.M).group(1))
            res["mean_batch"] = total / n
    finally:
        proc.terminate()
        proc.wait(60)
    return res


def summarize(runs: list[dict]) -> dict:
    med = {k: statistics.median(r[k] for r in runs) for k in ("req/s", "p50_ms", "p99_ms", "cpu_ms", "mean_batch")}
    statuses = Counter()
    for r in runs:
        statuses.update(r["statuses"])
    return {
        **med,
        "all_req/s": [round(r["req/s"], 1) for r in runs],
        "statuses": statuses,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "health_ms": max(r["health_ms"] for r in runs),
        "big_body": (runs[-1]["big_body"][0], max(r["big_body"][1] for r in runs)),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--old-server":
        old_server(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="runs per server, taking turns")
    ap.add_argument("--run", default="/tmp/cnnkit-serve-bench")
    args = ap.parse_args()
    run = make_run(Path(args.run))
    jobs = workload(args.requests)
    servers = {
        "wsgiref (old)": [sys.executable, __file__, "--old-server", str(run)],
        "uvicorn (new)": [sys.executable, "-m", "cnnkit.cli", "serve", str(run), "--port", "0"],
    }
    runs: dict[str, list[dict]] = {name: [] for name in servers}
    for _ in range(args.repeats):
        for name, cmd in servers.items():
            runs[name].append(measure(cmd, jobs, args.clients, "new" in name))
    results = {name: summarize(rs) for name, rs in runs.items()}
    print(
        f"{args.requests} POST /predict from {args.clients} clients, {args.repeats} runs per server (medians); ({run})"
    )
    print(
        f"{'':16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'peak RSS MB':>13}{'/health ms*':>13}"
        "  50 MB body -> RSS +MB"
    )
    for name, r in results.items():
        status, grew = r["big_body"]
        print(
            f"{name:16}{r['req/s']:9.1f}{r['p50_ms']:9.1f}{r['p99_ms']:9.1f}{r['cpu_ms']:12.1f}{r['peak_rss_mb']:13.0f}"
            f"{r['health_ms']:13.1f}  {status} -> {grew:+.1f}"
        )
        print(
            f"{'':16}statuses, all runs: {dict(sorted(r['statuses'].items(), key=str))}; req/s by run {r['all_req/s']}"
        )
    old, new = results["wsgiref (old)"], results["uvicorn (new)"]
    print(
        f"ratio new/old: req/s {new['req/s'] / old['req/s']:.2f}x, p99 {new['p99_ms'] / old['p99_ms']:.2f}x, "
        f"server CPU per request {new['cpu_ms'] / old['cpu_ms']:.2f}x"
    )
    print(f"new server: {new['mean_batch']:.2f} images per forward pass on average (micro-batching)")
    print("* worst /health latency while another client stalls an upload (inf: no answer within 5 s)")


if __name__ == "__main__":
    main()

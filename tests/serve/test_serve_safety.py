"""Hostile and unlucky clients: huge bodies, pixel bombs, stalled uploads, a SIGTERM mid-request, public hosts."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cnnkit.cli import serve as serve_cli
from cnnkit.cli.main import main
from cnnkit.serve import check_exposure
from support.images import bomb_png
from support.serving import png

SRC = Path(__file__).resolve().parents[2] / "src"


def raw_request(port: int, head: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head.encode())
    return s


def read_response(s: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_declared_oversized_body_is_refused_before_it_is_sent(live):
    s = raw_request(live.port, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n")
    status, body = read_response(s)  # not one byte of the 50 MB body was sent
    s.close()
    assert status == 413 and body["error"] == (
        "The request body is too large. Expected at most 1000000 bytes (0.954 MiB). Received: Content-Length 52428800. "
        "Send a smaller image or start the server with a larger --max-body-mb."
    )


def test_chunked_oversized_body_is_refused_while_it_streams(live):
    s = raw_request(live.port, "POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"\0" * 65536)
    sent = 0
    s.settimeout(0.05)
    answer = b""
    while sent < 50 * 2**20:  # a client that would send 50 MB
        try:
            s.sendall(chunk)
            sent += 65536
            answer += s.recv(65536)
            break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
    s.settimeout(5)
    try:
        while b"}" not in answer:
            more = s.recv(65536)
            if not more:
                break
            answer += more
    except OSError:
        pass
    s.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"Received: more than 1000000 bytes." in answer
    assert sent < 3 * 2**20  # refused after about 1 MB, long before the 50 MB were sent


def test_pixel_bomb_and_non_images_get_400(live, tmp_path):
    bomb = bomb_png(tmp_path / "bomb.png").read_bytes()
    r = httpx.post(f"{live.url}/predict", content=bomb)
    assert r.status_code == 400 and r.json()["error"] == (
        "Cannot read the image: too many pixels (possible decompression bomb): 100000x100000 = 10000000000 > "
        "40000000. Expected an image file (JPEG, PNG, WebP, ...)."
    )
    assert httpx.post(f"{live.url}/explain", content=bomb).status_code == 400
    assert httpx.post(f"{live.url}/predict", content=b"%PDF-1.7 not an image").status_code == 400


def test_a_stalled_upload_does_not_delay_health_and_times_out(live):
    s = raw_request(live.port, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + "x" * 100)
    started = time.perf_counter()
    latencies = []
    for _ in range(5):
        t = time.perf_counter()
        assert httpx.get(f"{live.url}/health", timeout=5).status_code == 200
        latencies.append(time.perf_counter() - t)
    assert max(latencies) < 0.5  # answered at once while the upload hangs
    status, body = read_response(s)  # the server's read timeout is 1 s in this fixture
    s.close()
    assert status == 408 and body["error"].startswith("The request body stalled. Expected the upload to continue")
    assert time.perf_counter() - started < 5


@pytest.mark.slow  # a fresh `cnnkit serve` process: importing torch takes 5-20 s on a busy machine
def test_sigterm_drains_the_request_in_flight(run_dir):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "cnnkit.cli", "serve", str(run_dir), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
        data = png((0, 0, 240))
        s = raw_request(port, f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n")
        s.sendall(data[:20])  # the request is in flight, half uploaded
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None  # still draining
        with pytest.raises(httpx.ConnectError):  # but no longer accepting
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        s.sendall(data[20:])
        status, body = read_response(s)
        s.close()
        assert status == 200 and body["class"] == "blue"
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0 and "Stopped." in out, err


def test_public_host_needs_a_key_or_no_auth(run_dir, capsys):
    assert main(["serve", str(run_dir), "--host", "0.0.0.0"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "Listening on a public address needs an API key. Expected --api-key KEY (or the CNNKIT_API_KEY environment "
            "variable), or --no-auth to serve without one on purpose. Received: --host 0.0.0.0. Add --api-key or keep "
            "the default --host 127.0.0.1."
        )
    )


def test_exposure_rule():
    check_exposure("127.0.0.1", None, False)
    check_exposure("::1", None, False)
    check_exposure("localhost", None, False)
    check_exposure("0.0.0.0", "key", False)
    check_exposure("192.168.1.5", None, True)  # --no-auth: on purpose
    for host in ("0.0.0.0", "::", "10.0.0.7", "example.org"):
        with pytest.raises(ValueError, match=r"^Listening on a public address needs an API key\."):
            check_exposure(host, None, False)


def test_serve_asks_for_the_extra_by_name(run_dir, capsys, monkeypatch):
    real = serve_cli.importlib.util.find_spec
    monkeypatch.setattr(serve_cli.importlib.util, "find_spec", lambda n, *a: None if n == "uvicorn" else real(n, *a))
    assert main(["serve", str(run_dir)]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "Serving needs the serve extra. Expected uvicorn to be installed. Received: cnnkit without it. "
            "Run: pip install 'cnnkit[serve]'."
        )
    )

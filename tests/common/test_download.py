"""The one downloader and cache root (its dataset and zoo callers are tested in tests/datasets and
tests/applications/test_weights_download.py); here: the root, cut-off transfers, md5, no leftovers."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from cnnkit.common.download import ChecksumError, DownloadError, cache_dir, cnnkit_home, download

BODY = b"0123456789" * 1000


@pytest.fixture
def url():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            self.send_response(200)
            # /short announces more than it sends, as a connection cut mid-transfer
            self.send_header("Content-Length", str(len(BODY) + (100 if self.path == "/short" else 0)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_one_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNKIT_HOME", str(tmp_path))
    assert cnnkit_home() == tmp_path
    assert cache_dir("datasets") == tmp_path / "datasets" and cache_dir("weights") == tmp_path / "weights"
    monkeypatch.delenv("CNNKIT_HOME")
    assert cnnkit_home() == Path.home() / ".cnnkit"


def test_verified_download(url, tmp_path, capsys):
    target = tmp_path / "d" / "f.bin"
    md5 = hashlib.md5(BODY, usedforsecurity=False).hexdigest().upper()
    assert download(url + "/f.bin", target, sha256=hashlib.sha256(BODY).hexdigest(), md5=md5) == target
    assert target.read_bytes() == BODY and [p.name for p in target.parent.iterdir()] == ["f.bin"]
    err = capsys.readouterr().err
    assert err.startswith(f"Downloading f.bin from {url}/f.bin\n10000/10000 - ") and "\r" not in err


def test_cut_off_download_keeps_nothing(url, tmp_path):
    with pytest.raises(DownloadError, match=r"^Could not download .*/short \(") as info:
        download(url + "/short", tmp_path / "f.bin", sha256=hashlib.sha256(BODY).hexdigest(), progress=False)
    assert isinstance(info.value, ConnectionError)
    assert str(tmp_path / "f.bin") in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_wrong_md5_keeps_nothing(url, tmp_path):
    with pytest.raises(ChecksumError) as info:
        download(url + "/f.bin", tmp_path / "f.bin", md5="0" * 32, progress=False)
    assert isinstance(info.value, ValueError) and info.value.algorithm == "md5" and info.value.expected == "0" * 32
    assert list(tmp_path.iterdir()) == []

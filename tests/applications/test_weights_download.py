"""Downloads served by a loopback HTTP server this test starts (no internet)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from cnnkit.applications.weights import WeightsEntry, fetch_weights, torchvision_hash_prefix, weights_cache_dir

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, enough for several progress updates


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    (root / "model-abc.pth").write_bytes(PAYLOAD)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):  # noqa: N802 - http.server API
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


def _entry(url: str, sha256: str) -> WeightsEntry:
    return WeightsEntry(
        url=url,
        sha256=sha256,
        layout="torchvision",
        preprocessing="torch",
        classes="imagenet",
        num_params=0,
        source="test",
        licence="test",
    )


def test_download_then_cache_hit(server, tmp_path, capsys):
    base, requests = server
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    cache = tmp_path / "cache"
    path = fetch_weights(_entry(f"{base}/model-abc.pth", digest), cache_dir=cache)
    assert path == cache / "model-abc.pth"
    assert path.read_bytes() == PAYLOAD
    assert requests == ["/model-abc.pth"]
    assert "Downloading model-abc.pth" in capsys.readouterr().err  # the progress bar
    again = fetch_weights(_entry(f"{base}/model-abc.pth", digest), cache_dir=cache)
    assert again == path and requests == ["/model-abc.pth"]  # no second request
    assert [p.name for p in cache.iterdir()] == ["model-abc.pth"]  # no temp files left


def test_prefix_hash_as_torchvision(server, tmp_path):
    base, _ = server
    prefix = hashlib.sha256(PAYLOAD).hexdigest()[:8]
    path = fetch_weights(f"{base}/model-abc.pth", sha256=prefix, cache_dir=tmp_path / "c", progress=False)
    assert path.read_bytes() == PAYLOAD


def test_wrong_sha256_rejected_and_not_cached(server, tmp_path):
    base, requests = server
    cache = tmp_path / "cache"
    wrong = "0" * 64
    with pytest.raises(
        ValueError,
        match=r"The weights file 'model-abc.pth' failed its integrity check. Expected "
        r"sha256 0{64}. Received: sha256=" + hashlib.sha256(PAYLOAD).hexdigest(),
    ):
        fetch_weights(_entry(f"{base}/model-abc.pth", wrong), cache_dir=cache, progress=False)
    assert list(cache.iterdir()) == []  # neither the file nor a partial download remains
    with pytest.raises(ValueError, match="failed its integrity check"):
        fetch_weights(_entry(f"{base}/model-abc.pth", wrong), cache_dir=cache, progress=False)
    assert len(requests) == 2  # the rejected file was not served from a cache


def test_wrong_md5_rejected(server, tmp_path):
    base, _ = server
    with pytest.raises(ValueError, match="Expected md5 ffff"):
        fetch_weights(f"{base}/model-abc.pth", md5="f" * 32, cache_dir=tmp_path / "c", progress=False)
    assert list((tmp_path / "c").iterdir()) == []


def test_offline_error_names_file_and_place(tmp_path):
    url = "http://127.0.0.1:9/resnet18-f37072fd.pth"  # port 9 (discard): nothing listens
    cache = tmp_path / "cache"
    with pytest.raises(ConnectionError, match=r"Could not download the weights file 'resnet18-f37072fd.pth'") as info:
        fetch_weights(url, sha256="f37072fd", cache_dir=cache, progress=False)
    message = str(info.value)
    assert str(cache / "resnet18-f37072fd.pth") in message
    assert "weights='/path/to/resnet18-f37072fd.pth'" in message
    assert list(cache.iterdir()) == []


def test_missing_hash_refused(tmp_path):
    with pytest.raises(ValueError, match="A download must be verified, but no hash was given"):
        fetch_weights("http://127.0.0.1:9/x.pth", cache_dir=tmp_path)


def test_cache_dir_follows_cnnkit_home(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNKIT_HOME", str(tmp_path))
    assert weights_cache_dir() == tmp_path / "weights"
    monkeypatch.delenv("CNNKIT_HOME")
    assert weights_cache_dir() == Path.home() / ".cnnkit" / "weights"


def test_torchvision_hash_prefix():
    assert torchvision_hash_prefix("https://download.pytorch.org/models/resnet18-f37072fd.pth") == "f37072fd"
    with pytest.raises(ValueError, match="carries no torchvision hash prefix"):
        torchvision_hash_prefix("https://x/y/model.pth")

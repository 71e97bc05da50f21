"""get_file over a loopback HTTP server: cache, hashes (Keras' error types), the offline error, safe extraction."""

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from cnnkit.datasets import DatasetUnavailableError
from cnnkit.utils import get_file


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            hits.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def test_downloads_once_then_uses_the_cache(server, tmp_path):
    root, url, hits = server
    (root / "data.bin").write_bytes(b"0123456789")
    sha = hashlib.sha256(b"0123456789").hexdigest()
    path = get_file(origin=f"{url}/data.bin", file_hash=sha, cache_dir=tmp_path / "cache")
    assert Path(path) == tmp_path / "cache" / "datasets" / "data.bin"
    assert Path(path).read_bytes() == b"0123456789"
    again = get_file("data.bin", f"{url}/data.bin", file_hash=sha, cache_dir=tmp_path / "cache")
    assert again == path and len(hits) == 1
    get_file("data.bin", f"{url}/data.bin", cache_dir=tmp_path / "cache", force_download=True)
    assert len(hits) == 2


def test_md5_and_wrong_hash(server, tmp_path):
    root, url, _ = server
    (root / "f.txt").write_bytes(b"abc")
    md5 = hashlib.md5(b"abc").hexdigest()
    assert Path(get_file("f.txt", f"{url}/f.txt", md5_hash=md5, cache_dir=tmp_path)).read_bytes() == b"abc"
    with pytest.raises(ValueError, match="Incomplete or corrupted file detected. The sha256 file hash does not match"):
        get_file("g.txt", f"{url}/f.txt", file_hash="0" * 64, cache_dir=tmp_path)
    assert not (tmp_path / "datasets" / "g.txt").exists()  # nothing partial or foreign is kept


def test_offline_gives_the_datasets_error(tmp_path):
    with pytest.raises(DatasetUnavailableError) as info:
        get_file("x.bin", "http://127.0.0.1:9/x.bin", cache_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("Cannot download x.bin: ")
    assert f"Put x.bin in {tmp_path / 'datasets'}" in message


def test_extracts_tar_and_zip(server, tmp_path):
    root, url, _ = server
    with tarfile.open(root / "pack.tar.gz", "w:gz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("pack/a.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(root / "z.zip", "w") as zf:
        zf.writestr("b.txt", "zip!")
    out = Path(get_file(origin=f"{url}/pack.tar.gz", extract=True, cache_dir=tmp_path))
    assert out == tmp_path / "datasets" / "pack.tar.gz"  # Keras' layout: <name>_archive + <name> folder
    assert (out / "pack" / "a.txt").read_text() == "hello"
    named = Path(get_file("z.zip", f"{url}/z.zip", extract=True, cache_dir=tmp_path))
    assert named == tmp_path / "datasets" / "z_extracted" and (named / "b.txt").read_text() == "zip!"


def test_refuses_archive_members_outside_the_folder(server, tmp_path):
    root, url, _ = server
    with zipfile.ZipFile(root / "evil.zip", "w") as zf:
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(ValueError, match="holds members that would land outside the extraction folder"):
        get_file("evil.zip", f"{url}/evil.zip", extract=True, cache_dir=tmp_path)
    assert not (tmp_path / "escape.txt").exists()


def test_argument_errors_match_keras():
    with pytest.raises(ValueError, match='Please specify the "origin" argument'):
        get_file("a")
    with pytest.raises(ValueError, match="Paths are no longer accepted as the `fname` argument"):
        get_file("a/b.txt", "http://127.0.0.1:9/b.txt")

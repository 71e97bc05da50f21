"""The memory-mapped disk cache: reused when nothing changed, re-read when a file changes, written atomically."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import cnnkit.data.cache as cache_mod
from cnnkit.utils import image_dataset_from_directory as idfd
from support.images import class_folder, rgb_array, save


@pytest.fixture
def decodes(monkeypatch):
    """Counts the files decoded (through the real decoder)."""
    count = {"files": 0}
    real = cache_mod.decode_into

    def counting(paths, *args, **kwargs):
        count["files"] += len(paths)
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(cache_mod, "decode_into", counting)
    return count


def load(root, cache_dir, **kw):
    return idfd(root, image_size=(6, 7), shuffle=False, verbose=False, cache=str(cache_dir), **kw)


def test_reused_when_unchanged(tmp_path, decodes):
    class_folder(tmp_path / "d", {"a": 3, "b": 2})
    first = load(tmp_path / "d", tmp_path / "c")
    assert decodes["files"] == 5
    second = load(tmp_path / "d", tmp_path / "c")
    assert decodes["files"] == 5  # nothing decoded again
    assert isinstance(second._store, np.memmap)
    np.testing.assert_array_equal(first.as_numpy()[0], second.as_numpy()[0])
    # a different seed shuffles differently but reuses the same decoded pixels
    idfd(tmp_path / "d", image_size=(6, 7), seed=9, verbose=False, cache=str(tmp_path / "c"))
    assert decodes["files"] == 5
    names = sorted(os.listdir(tmp_path / "c"))
    assert len(names) == 2 and not any(".tmp" in n for n in names)  # pixels + manifest, no temp files left


def test_changed_file_is_reread(tmp_path, decodes):
    paths = class_folder(tmp_path / "d", {"a": 3, "b": 2})
    load(tmp_path / "d", tmp_path / "c")
    new = rgb_array(6, 7, seed=42)
    save(Image.fromarray(new), paths[0])  # new content (size and mtime change)
    ds = load(tmp_path / "d", tmp_path / "c")
    assert decodes["files"] == 10
    np.testing.assert_array_equal(ds.as_numpy()[0][ds.file_paths.index(str(paths[0]))], new)
    st = os.stat(paths[1])
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # only the mtime changes
    load(tmp_path / "d", tmp_path / "c")
    assert decodes["files"] == 15
    load(tmp_path / "d", tmp_path / "c")
    assert decodes["files"] == 15


def test_added_file_and_new_settings_reread(tmp_path, decodes):
    class_folder(tmp_path / "d", {"a": 3, "b": 2})
    load(tmp_path / "d", tmp_path / "c")
    save(Image.fromarray(rgb_array(seed=5)), tmp_path / "d" / "a" / "new.png")
    assert load(tmp_path / "d", tmp_path / "c").num_samples == 6
    assert decodes["files"] == 11
    load(tmp_path / "d", tmp_path / "c", color_mode="grayscale")
    assert decodes["files"] == 17


def test_corrupt_manifest_is_rebuilt(tmp_path, decodes):
    class_folder(tmp_path / "d", {"a": 2})
    load(tmp_path / "d", tmp_path / "c")
    manifest = next(p for p in (tmp_path / "c").iterdir() if p.suffix == ".json")
    manifest.write_text("{not json")
    ds = load(tmp_path / "d", tmp_path / "c")
    assert decodes["files"] == 4 and ds.num_samples == 2


def test_cache_type_error(tmp_path):
    class_folder(tmp_path / "d", {"a": 1})
    with pytest.raises(TypeError, match=r"cache has the wrong type.*Received: cache=3\."):
        idfd(tmp_path / "d", verbose=False, cache=3)

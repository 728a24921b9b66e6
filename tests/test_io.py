"""biper_theory._io: atomic writes, output folders checked and locked, bounded array reads."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from biper_theory import _io


def test_prepare_output_dir_creates_locks_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    with _io.prepare_output_dir(out) as folder:
        assert folder == out and out.is_dir()
        assert (out / _io.LOCK_NAME).exists()
        (out / "result.txt").write_text("x")
    assert sorted(p.name for p in out.iterdir()) == ["result.txt"]  # the lock file is gone


def test_a_second_run_into_a_busy_folder_is_refused_at_once(tmp_path: Path) -> None:
    with _io.prepare_output_dir(tmp_path / "out"):
        with pytest.raises(_io.OutputError, match=r"^another run is writing to '.*out'"):
            with _io.prepare_output_dir(tmp_path / "out", overwrite=True):
                pytest.fail("entered a locked folder")
    with _io.prepare_output_dir(tmp_path / "out"):  # free again once the first run ended
        pass


def test_failed_run_removes_only_what_it_created(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper"
    with pytest.raises(RuntimeError), _io.prepare_output_dir(out):
        raise RuntimeError("the work failed")
    assert list(tmp_path.iterdir()) == []
    keep = tmp_path / "kept"
    keep.mkdir()
    with pytest.raises(RuntimeError), _io.prepare_output_dir(keep):
        raise RuntimeError("the work failed")
    assert keep.is_dir() and list(keep.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "replaceable", "overwrite", "ok"),
    [
        pytest.param([], (), False, True, id="empty"),
        pytest.param(["notes.txt"], (), False, False, id="foreign-file"),
        pytest.param(["notes.txt"], (), True, True, id="foreign-file-overwrite"),
        pytest.param(
            ["fig1_x.pdf", "reproduce.json"], ("fig[0-9]*_*.pdf", "reproduce.json"), False, True, id="own"
        ),
        pytest.param(["fig1_x.pdf", "x"], ("fig[0-9]*_*.pdf",), False, False, id="own-and-foreign"),
        pytest.param([".fig1.pdf.abc.part"], (), False, True, id="stale-part-file"),
    ],
)
def test_non_empty_folder_rules(
    tmp_path: Path, content: list[str], replaceable: tuple[str, ...], overwrite: bool, ok: bool
) -> None:
    for name in content:
        (tmp_path / name).write_text("x")
    if ok:
        with _io.prepare_output_dir(tmp_path, overwrite=overwrite, replaceable=replaceable):
            pass
    else:
        with pytest.raises(_io.OutputError, match=r"is not empty .*--overwrite"):
            with _io.prepare_output_dir(tmp_path, overwrite=overwrite, replaceable=replaceable):
                pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(content)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(lambda d: (d / "f").write_text("x") and d / "f", "is a file, not a folder", id="file"),
        pytest.param(
            lambda d: (d / "f").write_text("x") and d / "f" / "sub", "is not a folder", id="under-file"
        ),
        pytest.param(lambda d: Path("/proc/biper-theory-test"), "cannot create it", id="proc"),
        pytest.param(lambda d: "", "empty path", id="empty"),
    ],
)
def test_unusable_output_folder(tmp_path: Path, make: object, fragment: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(_io.OutputError, match=fragment), _io.prepare_output_dir(path, what="--out"):
        pytest.fail("entered an unusable folder")


def test_check_output_file(tmp_path: Path) -> None:
    assert _io.check_output_file(tmp_path / "r.json") == tmp_path / "r.json"
    (tmp_path / "r.json").write_text("old")
    _io.check_output_file(tmp_path / "r.json")  # replacing a file is allowed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # the probe left nothing
    for bad, fragment in (
        (tmp_path, "is a folder"),
        ("/proc/x.png", "cannot write in '/proc'"),
        ("", "names no"),
    ):
        with pytest.raises(_io.OutputError, match=fragment):
            _io.check_output_file(bad)


def test_atomic_errors_name_the_target_not_the_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError) as info:
        _io.atomic_write(tmp_path / "d", "x")  # a folder is in the way
    assert ".part" not in str(info.value) and str(tmp_path / "d") in str(info.value)
    with pytest.raises(OSError) as info:
        _io.atomic_write("/proc/biper-theory.txt", "x")
    assert ".part" not in str(info.value)
    assert list((tmp_path / "d").iterdir()) == []


def test_write_json_is_strict(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        _io.write_json(tmp_path / "x.json", {"v": math.nan})
    assert not (tmp_path / "x.json").exists()
    assert _io.finite_or_none({"a": [1.0, math.inf, -math.inf, math.nan], "b": "nan"}) == {
        "a": [1.0, None, None, None],
        "b": "nan",
    }
    _io.write_json(tmp_path / "y.json", _io.finite_or_none({"v": math.nan}))
    assert json.loads((tmp_path / "y.json").read_text()) == {"v": None}


# ------------------------------------------------------------------------------------------
# read_weight_arrays
# ------------------------------------------------------------------------------------------
def _header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_reads_npy_and_npz(tmp_path: Path) -> None:
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "conv.npy", w)
    np.savez(tmp_path / "m.npz", a=w, b=w[0])
    one = _io.read_weight_arrays(tmp_path / "conv.npy")
    assert list(one) == ["conv"] and np.array_equal(one["conv"], w)
    both = _io.read_weight_arrays(tmp_path / "m.npz")
    assert list(both) == ["a", "b"] and np.array_equal(both["b"], w[0])


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        pytest.param(
            "bomb.npy", _header((10**11,)) + b"\0" * 64, r"claims shape \(100000000000,\)", id="npy-bomb"
        ),
        pytest.param(
            "short.npy", _header((100,), "<f8") + b"\0" * 799, "holds only 799 bytes", id="npy-short"
        ),
        pytest.param("text.npy", b"hello", "no NumPy header", id="npy-text"),
        pytest.param("text.npz", b"hello", "not a zip archive", id="npz-text"),
        pytest.param("obj.npy", _header((2,), "|O"), "never unpickled", id="npy-objects"),
    ],
)
def test_refuses_what_the_file_does_not_hold(tmp_path: Path, name: str, data: bytes, fragment: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match=fragment):
        _io.read_weight_arrays(tmp_path / name)


def test_refuses_an_npz_member_that_claims_more_than_it_holds(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("conv.npy", _header((10**11,), "<f8") + b"\0" * 80)
        z.writestr("ok.npy", _header((2,), "<f8") + b"\0" * 16)
    with pytest.raises(ValueError, match=r"bomb.npz\[conv.npy\]: its header claims"):
        _io.read_weight_arrays(tmp_path / "bomb.npz")


def test_refuses_folders_devices_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        _io.read_weight_arrays(tmp_path / "d.npy")
    with pytest.raises(FileNotFoundError):
        _io.read_weight_arrays(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=r"expected a \.npy or \.npz"):
        _io.read_weight_arrays(tmp_path / "w.txt")


def test_long_messages_are_shortened_at_a_word_boundary() -> None:
    text = _io._words(ValueError("alpha beta\ngamma " * 40), limit=50)
    assert text.endswith(" ...") and len(text) <= 54 and "\n" not in text
    assert all(w in ("alpha", "beta", "gamma", "...") for w in text.split())
    assert _io._words(ValueError("short")) == "short"

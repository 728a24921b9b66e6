"""Small file helpers shared by the CLI, figures and training: nothing half-written.

Every file the toolkit writes goes through :func:`atomic_write` (or :func:`atomic_path`):
the content lands in a temporary file in the destination folder and is renamed over the
target only once complete, so an error or an interrupt never leaves a truncated file.

Commands that write a folder check it before any work with :func:`prepare_output_dir` and
hold it for the whole run (an exclusive lock), so that a mistyped ``--out`` fails in
milliseconds rather than after a training run, and two runs never mix their files in one
folder. Commands that write one file check it first with :func:`check_output_file`.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "LOCK_NAME",
    "OutputError",
    "atomic_path",
    "atomic_write",
    "check_output_file",
    "finite_or_none",
    "prepare_output_dir",
    "read_weight_arrays",
    "write_json",
]

#: Name of the lock file :func:`prepare_output_dir` holds inside the folder while writing.
LOCK_NAME = ".biper-theory.lock"


class OutputError(ValueError):
    """An output path that cannot be used; the message is one line naming the path."""


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest existing ancestor."""
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_creatable(path: Path, what: str) -> None:
    """Refuse ``path`` (a folder to create or use) if an ancestor is a file or unwritable."""
    base = _nearest_existing(path)
    if not base.is_dir():
        raise OutputError(f"{what} {str(path)!r}: {str(base)!r} is not a folder")
    if base == path.absolute():
        return
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {str(path)!r}: cannot create it, {str(base)!r} is not writable")


def check_output_file(path: str | os.PathLike[str], *, what: str = "output file") -> Path:
    """Check, before any work, that a single file can be written (atomically) at ``path``.

    An existing file is replaced when the run succeeds (as ``cp`` or ``-o`` of most tools do);
    a folder, a path under a file, or a folder where no file can be created (checked by
    creating and removing an empty temporary file there) is refused with
    :class:`OutputError` (a ``ValueError``) naming ``path``. Nothing is left behind.
    """
    target = Path(path)
    if str(path) == "" or target.name in ("", ".", ".."):
        raise OutputError(f"{what} {str(path)!r} names no file")
    if target.is_dir():
        raise OutputError(f"{what} {str(target)!r} is a folder, not a file")
    if target.exists() and not target.is_file():
        raise OutputError(f"{what} {str(target)!r} is not a regular file")
    parent = target.parent
    _check_creatable(parent, what)
    if parent.is_dir():  # the one sure test (permissions, read-only or virtual file systems)
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=parent)
        except OSError as exc:
            reason = f"cannot write in {str(parent)!r} ({exc.strerror})"
            raise OutputError(f"{what} {str(target)!r}: {reason}") from None
        os.close(fd)
        os.unlink(probe)
    return target


def _leftovers(folder: Path, replaceable: Iterable[str]) -> list[str]:
    """Entries of ``folder`` that a run may not replace (the lock and ``.part`` files may)."""
    patterns = (LOCK_NAME, ".*.part", *replaceable)
    return sorted(
        e.name for e in os.scandir(folder) if not any(fnmatch.fnmatchcase(e.name, p) for p in patterns)
    )


@contextlib.contextmanager
def prepare_output_dir(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    replaceable: Iterable[str] = (),
    what: str = "--out",
) -> Iterator[Path]:
    """Check an output folder before any work and hold it, locked, while the run writes.

    Use it as ``with prepare_output_dir(out, overwrite=args.overwrite) as out: ...`` around
    the whole run, so that every check below fails before the work starts:

    * an existing file, a path under a file, or a place that is not writable is refused;
    * a folder that holds anything is refused unless ``overwrite`` is True or every entry
      matches one of the ``replaceable`` glob patterns (the files this command writes
      itself, which a rerun regenerates whole: ``("fig*", "reproduce.json")`` for
      ``reproduce``);
    * an exclusive, non-blocking lock (``fcntl.flock`` on ``path/.biper-theory.lock``) is
      taken; if another run holds it, "another run is writing to PATH" is raised at once.

    The folder is created if missing. On leaving, the lock file is removed; if the run
    failed and the folder was created here and is still empty, it is removed too, so a
    failed run leaves nothing behind. Every refusal is an :class:`OutputError`
    (a ``ValueError``) whose one-line message names the path and ``what`` (the option).

    Parameters
    ----------
    path : str or path-like
        The output folder.
    overwrite : bool
        Accept a non-empty folder (files of the same names are replaced, others kept).
    replaceable : iterable of str
        ``fnmatch`` patterns of entry names a run may replace without ``overwrite``.
    what : str
        How the path is named in messages (the command-line option).

    Yields
    ------
    Path
        ``path``, existing and locked for the duration of the block.
    """
    import fcntl

    folder = Path(path)
    if str(path) == "":
        raise OutputError(f"{what}: empty path")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {str(folder)!r} is a file, not a folder")
    _check_creatable(folder, what)
    created: list[Path] = []
    if not folder.exists():
        p = folder.absolute()
        while not p.exists():
            created.append(p)
            p = p.parent
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"{what} {str(folder)!r}: cannot create it ({exc.strerror})") from None
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {str(folder)!r} is not writable")
    failed = True
    try:
        lock_path = folder / LOCK_NAME
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{what} {str(folder)!r} is not writable ({exc.strerror})") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    busy = f"another run is writing to {str(folder)!r}; wait for it to end"
                    raise OutputError(busy) from None
                raise
            # the holder before us may have removed the file between our open and our lock
            if not os.path.exists(lock_path) or not os.path.samestat(os.fstat(fd), os.stat(lock_path)):
                raise OutputError(f"another run is writing to {str(folder)!r}; wait for it to end")
            try:
                leftovers = [] if overwrite else _leftovers(folder, replaceable)
                if leftovers:
                    more = f" and {len(leftovers) - 1} more" if len(leftovers) > 1 else ""
                    raise OutputError(
                        f"{what} {str(folder)!r} is not empty (holds {leftovers[0]!r}{more}); "
                        "choose a new folder or add --overwrite"
                    )
                yield folder
                failed = False
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)
        finally:
            os.close(fd)  # releases the lock
    finally:
        if failed:
            for p in created:  # innermost first; stops at the first folder that is not empty
                try:
                    p.rmdir()
                except OSError:
                    break


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:  # name the file asked for, never the internal temporary name
        raise OSError(exc.errno, f"cannot write {str(target)!r}: {exc.strerror}") from None
    os.close(fd)
    # mkstemp creates 0600; give the finished file the usual mode for this user's umask.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, target)
        except OSError as exc:  # e.g. target is a folder: name it, not the temporary file
            raise OSError(exc.errno, f"cannot write {str(target)!r}: {exc.strerror}") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write(target: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``target`` atomically; return the path."""
    with atomic_path(target) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
    return Path(target)


def finite_or_none(obj: Any) -> Any:
    """``obj`` (nested dicts/lists of numbers) with every NaN or ±inf float replaced by None.

    For reports where a non-finite number means "failed" and the verdict says so: JSON has no
    spelling for NaN or Infinity, and ``null`` is what strict parsers accept.
    """
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not (obj - obj == 0.0):  # NaN or ±inf
        return None
    return obj


def write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as indented, strict JSON (no NaN or Infinity) with a newline.

    A non-finite float raises ``ValueError`` before anything is written.
    """
    return atomic_write(target, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


# ----------------------------------------------------------------------------------------
# Reading .npy / .npz weights: never unpickled, never more than the file holds
# ----------------------------------------------------------------------------------------


def _words(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, shortened at a word boundary (never mid-word)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n:.0f} bytes"


def _npy_header(fp: Any, where: str) -> tuple[tuple[int, ...], Any]:
    """(shape, dtype) from the header of the .npy stream ``fp`` (positioned at its start)."""
    import numpy as np

    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _fortran, dtype = reader(fp, max_header_size=10_000)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise ValueError(f"{where} is not a readable .npy array ({_words(exc)})") from None
    if dtype.hasobject:
        raise ValueError(f"{where} holds Python objects, which are never unpickled (allow_pickle=False)")
    return tuple(shape), dtype


def _check_claim(shape: tuple[int, ...], dtype: Any, available: int, where: str) -> int:
    """Bytes the header claims; refuse if the file holds fewer (a header cannot make us
    allocate what the file does not contain)."""
    needed = dtype.itemsize
    for n in shape:
        needed *= int(n)
    if needed > available:
        raise ValueError(
            f"{where}: its header claims shape {shape} of {dtype} ({_gib(needed)}), but the file holds "
            f"only {_gib(available)} of data; refusing to read it"
        )
    return needed


def read_weight_arrays(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``.npy`` (one array, named after the file) or ``.npz`` (one array per key).

    Never unpickles (``allow_pickle=False``), and checks each header against what the file
    holds before reading, so a header that claims 10¹¹ elements is refused at once with a
    ``ValueError`` instead of an allocation failure. A ``.npy`` is memory-mapped read-only
    (pages are read when the analysis touches them); the members of a ``.npz`` are read into
    memory, and refused if together they exceed the machine's physical memory. Every refusal
    is a one-line ``ValueError`` (or ``FileNotFoundError``) naming the file.
    """
    import zipfile

    import numpy as np

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise ValueError(f"{p}: expected a .npy or .npz file")
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(p))
    if p.is_dir():
        raise ValueError(f"{p} is a folder, not a {suffix} file")
    if not p.is_file():
        raise ValueError(f"{p} is not a regular file")
    size = p.stat().st_size
    if suffix == ".npy":
        with open(p, "rb") as fp:
            if fp.read(6) != b"\x93NUMPY":
                raise ValueError(f"{p} is not a .npy file (no NumPy header)")
            fp.seek(0)
            shape, dtype = _npy_header(fp, str(p))
            _check_claim(shape, dtype, size - fp.tell(), str(p))
        return {p.stem: np.load(p, mmap_mode="r", allow_pickle=False)}
    if not zipfile.is_zipfile(p):
        raise ValueError(f"{p} is not a .npz file (not a zip archive)")
    try:
        with zipfile.ZipFile(p) as zf:
            members = zf.infolist()
            if not members:
                raise ValueError(f"{p}: the .npz holds no arrays")
            total = 0
            for info in members:
                where = f"{p}[{info.filename}]"
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"{where} is not a .npy member")
                with zf.open(info) as fp:
                    shape, dtype = _npy_header(fp, where)
                    header = fp.tell()
                total += _check_claim(shape, dtype, info.file_size - header, where)
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            if total > ram:
                raise ValueError(
                    f"{p}: its arrays need {_gib(total)} in memory, more than this machine has ({_gib(ram)})"
                )
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{p} is not a readable .npz file ({_words(exc)})") from None

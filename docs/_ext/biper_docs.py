"""Sphinx extension that writes the generated parts of the biper-theory site.

On ``builder-inited`` it writes, under ``docs/_generated/`` (ignored by git):

* ``api/<module>.rst``: one page per public module of :mod:`biper_theory`, found by walking
  the package (private modules and the CLI are skipped), listing every name of the module's
  ``__all__`` (:func:`api_modules`, :func:`module_entries`);
* ``include/errata.md``: the errata table, computed by :func:`biper_theory.errata.errata_table`;
* ``include/performance.md``: the Performance section, rendered from ``benchmarks/results.json``;
* ``include/figures.md``: the gallery of ``figures/*.png`` with captions from
  :data:`biper_theory.figures.FIGURES` and the module's figure table;
* ``include/studies.md``: what ``studies/*/`` holds (README, figures, result files), if anything;
* ``notebooks/*.ipynb``: copies of ``notebooks/``, executed by myst-nb during the build.

Every writer is a plain function of the repository, so ``tests/test_docs.py`` calls them
without a Sphinx build. A file is rewritten only when its text changes, so an incremental
build rereads only the pages whose generated input changed.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import json
import pkgutil
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GENERATED = "_generated"
PACKAGE = "biper_theory"
#: Subpackages left out of the reference: the CLI only wires (its commands are documented
#: by ``biper-theory --help`` and on the guide pages).
SKIPPED = ("biper_theory.cli",)
#: A repr longer than this is not shown next to a documented constant.
MAX_VALUE_REPR = 80
#: A study's text file larger than this is listed, not shown.
MAX_TEXT_BYTES = 50_000


# ---------------------------------------------------------------------------------------
# API reference
# ---------------------------------------------------------------------------------------


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _skipped(name: str) -> bool:
    return any(name == s or name.startswith(s + ".") for s in SKIPPED)


def public_module_names(package: str = PACKAGE) -> list[str]:
    """Every public module of ``package``, found on disk (nothing is imported but packages'
    paths): names with a component starting with ``_`` and :data:`SKIPPED` are left out."""
    root = importlib.util.find_spec(package)
    if root is None or root.submodule_search_locations is None:
        raise ValueError(f"package must be an importable package; got {package!r}")
    names = [package]

    def walk(paths: Iterable[str], prefix: str) -> None:
        for info in sorted(pkgutil.iter_modules(list(paths)), key=lambda i: i.name):
            name = prefix + info.name
            if not _is_public(name) or _skipped(name):
                continue
            names.append(name)
            if info.ispkg:
                walk([str(Path(p) / info.name) for p in paths], name + ".")

    walk(root.submodule_search_locations, package + ".")
    return names


@dataclasses.dataclass(frozen=True)
class MissingModule:
    """A public module that could not be imported (an optional dependency is absent)."""

    name: str
    reason: str


def api_modules(package: str = PACKAGE) -> tuple[list[ModuleType], list[MissingModule]]:
    """Import every public module; those that need an absent optional dependency are
    returned apart (the build warns about each, so a ``-W`` build fails)."""
    found, missing = [], []
    for name in public_module_names(package):
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            missing.append(MissingModule(name, f"needs {exc.name!r}, which is not installed"))
    return found, missing


def public_names(module: ModuleType) -> list[str]:
    """The module's ``__all__`` (every public module must have one)."""
    names = getattr(module, "__all__", None)
    if names is None:
        raise ValueError(f"module {module.__name__} has no __all__")
    return list(names)


def _kind(obj: Any) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj) and hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
        return "function"
    return "data"


def _depth(name: str) -> int:
    return name.count(".")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One name of a module's ``__all__`` and where its documentation lives."""

    module: str
    name: str
    kind: str  # "function", "class", "exception", "data" or "module"
    canonical: str  # full name of the documented object

    @property
    def full_name(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def documented_here(self) -> bool:
        return self.canonical == self.full_name


def module_entries(modules: list[ModuleType]) -> dict[str, list[Entry]]:
    """For every module, one :class:`Entry` per name of its ``__all__``.

    A name exported by several public modules is documented once: where its object was
    defined (``obj.__module__``) if that module exports it, else in the nearest public
    package above that module, else in the deepest exporting module; the others list it
    with a link. Data is matched by name and identity.
    """
    exporters: dict[tuple[str, int], list[str]] = {}
    for mod in modules:
        for name in public_names(mod):
            try:
                obj = getattr(mod, name)
            except Exception as exc:  # AttributeError, or a lazy import that fails
                where = f"{mod.__name__}.__all__"
                raise ValueError(f"{where} names {name!r}, which does not resolve: {exc}") from exc
            exporters.setdefault((name, id(obj)), []).append(mod.__name__)
    out: dict[str, list[Entry]] = {}
    for mod in modules:
        entries = []
        for name in public_names(mod):
            obj = getattr(mod, name)
            kind = _kind(obj)
            if kind == "module":
                canonical = obj.__name__
            else:
                where = exporters[(name, id(obj))]
                home = getattr(obj, "__module__", None) if kind != "data" else None
                if home in where:
                    owner = home
                else:  # defined in a private module: its nearest public parent, else the deepest
                    parents = [m for m in where if home and home.startswith(m + ".")]
                    owner = max(parents or where, key=lambda m: (_depth(m), m))
                canonical = f"{owner}.{name}"
            entries.append(Entry(mod.__name__, name, kind, canonical))
        out[mod.__name__] = entries
    return out


def _title(text: str, char: str = "=") -> list[str]:
    return [text, char * len(text), ""]


def _short_value(obj: Any) -> bool:
    try:
        return len(repr(obj)) <= MAX_VALUE_REPR
    except Exception:  # a repr that fails is not shown
        return False


def _external_bases(cls: type) -> list[str]:
    """Names of the classes in ``cls``'s MRO defined outside the package (their members are
    documented by their own projects)."""
    return [c.__name__ for c in cls.__mro__[1:] if not c.__module__.startswith(PACKAGE)]


def _has_package_base(cls: type) -> bool:
    return any(c.__module__.startswith(PACKAGE) for c in cls.__mro__[1:])


def module_page(module: ModuleType, entries: list[Entry]) -> str:
    """The reST of one module's reference page: summary tables (the module's own names,
    then the names it re-exports, each group in the context of the module that documents
    it), then every own name documented by autodoc."""
    name = module.__name__
    lines = [f".. _api-{name}:", "", *_title(f"``{name}``")]
    lines += [f".. automodule:: {name}", "   :no-members:", ""]
    own = [e for e in entries if e.documented_here]
    elsewhere = [e for e in entries if not e.documented_here and e.kind != "module"]
    submodules = [e for e in entries if e.kind == "module"]
    if own:
        lines += [".. rubric:: Summary", "", f".. currentmodule:: {name}", ""]
        lines += [".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {e.name}" for e in own] + [""]
    if elsewhere:
        lines += [".. rubric:: Re-exported here (documented where they are defined)", ""]
        groups: dict[str, list[Entry]] = {}
        for e in elsewhere:
            groups.setdefault(e.canonical.rpartition(".")[0], []).append(e)
        for home, group in groups.items():
            lines += [f".. currentmodule:: {home}", "", ".. autosummary::", "   :nosignatures:", ""]
            lines += [f"   {e.name}" for e in group] + [""]
    if submodules:
        lines += [".. rubric:: Submodules exported here", ""]
        lines += [f"* :mod:`{e.canonical}`" for e in submodules] + [""]
    lines += [f".. currentmodule:: {name}", ""]
    for e in own:
        obj = getattr(module, e.name)
        if e.kind in ("class", "exception"):
            lines += [f".. autoclass:: {e.name}", "   :members:", "   :show-inheritance:"]
            if _has_package_base(obj):
                # what a class inherits from the package is part of its interface: one page
                # shows everything about it (members of external bases stay with their projects)
                lines += ["   :inherited-members: " + ", ".join(_external_bases(obj))]
            lines += [""]
        elif e.kind == "function":
            lines += [f".. autofunction:: {e.name}", ""]
        else:
            lines += [f".. autodata:: {e.name}"]
            if not _short_value(obj):
                lines += ["   :no-value:"]
            lines += [""]
    return "\n".join(lines)


def api_index(modules: list[ModuleType], missing: list[MissingModule]) -> str:
    """The reST of the reference's index page: a toctree over the module pages."""
    lines = [".. _api:", "", *_title("API reference")]
    lines += [
        "One page per public module of :mod:`biper_theory`, generated when the site is built "
        "from each module's ``__all__`` and docstrings (the module list is found by walking the "
        "package, so a new module appears without editing the site). Private modules "
        "(``_name``) and the command line (``biper_theory.cli``, see ``biper-theory --help``) "
        "are left out.",
        "",
    ]
    if missing:
        lines += ["Not documented in this build (an optional dependency is missing):", ""]
        lines += [f"* ``{m.name}``: {m.reason}" for m in missing] + [""]
    lines += [".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {m.__name__}" for m in modules] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Errata, performance, figures, studies
# ---------------------------------------------------------------------------------------


def errata_markdown() -> str:
    """The errata table, computed now by :mod:`biper_theory.errata` (never copied)."""
    from biper_theory import errata

    return errata.errata_table("markdown") + "\n"


def performance_markdown(results: Path, repo: Path = REPO) -> str:
    """The Performance section rendered from a ``benchmarks/results.json`` record by the
    benchmarks' own renderer (``benchmarks.runner.readme_section`` of ``repo``)."""
    import sys

    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from benchmarks import runner

    record = json.loads(results.read_text(encoding="utf-8"))
    return runner.readme_section(record) + "\n"


def _figure_captions() -> dict[str, str]:
    """Caption of each figure stem: the row of :mod:`biper_theory.figures`'s table for the
    function that draws it, else that function's docstring summary."""
    from biper_theory import figures

    doc = inspect.getdoc(figures) or ""
    rows: dict[str, str] = {}
    current = None
    for line in doc.splitlines():
        if line.startswith("``") and "``" in line[2:]:
            key, _, rest = line[2:].partition("``")
            current = key
            rows[key] = rest.strip()
        elif current and line.startswith(" ") and line.strip():
            rows[current] += " " + line.strip()
        else:
            current = None
    def summary(func: Any) -> str:
        return (inspect.getdoc(func) or "").split("\n\n")[0].replace("\n", " ")

    captions = {}
    for stem, spec in figures.FIGURES.items():
        captions[stem] = rows.get(spec.draw.__name__) or summary(spec.draw)
    # figures drawn outside the registry: ``figN_<function>`` is drawn by ``<function>``
    for name in dir(figures):
        func = getattr(figures, name)
        if inspect.isfunction(func) and func.__module__ == figures.__name__ and not name.startswith("_"):
            captions.setdefault(f"@{name}", rows.get(name) or summary(func))
    return captions


def figure_caption(stem: str, captions: dict[str, str]) -> str:
    """The caption of ``figures/<stem>.png``; empty when nothing describes it."""
    if stem in captions:
        return captions[stem]
    func = re.sub(r"^fig\d+_", "", stem)
    return captions.get(f"@{func}", "")


def figures_markdown(figures_dir: Path, out_dir: Path, prefix: str = "") -> str:
    """The gallery: every ``figures/*.png`` (copied into ``out_dir/figures``, linked as
    ``prefix/figures/NAME``) with its caption, and the names of its PDF and CSV files."""
    captions = _figure_captions()
    lines = []
    pngs = sorted(figures_dir.glob("*.png"))
    if not pngs:
        raise ValueError(f"no figures in {figures_dir}: run `biper-theory figures --out figures`")
    for png in pngs:
        stem = png.stem
        _copy_if_changed(png, out_dir / "figures" / png.name)
        caption = figure_caption(stem, captions)
        if not caption:
            raise ValueError(
                f"figures/{png.name} has no caption: draw it with a function of biper_theory.figures "
                "named after it (figN_<function>) or list it in FIGURES"
            )
        files = [p.name for p in sorted(figures_dir.glob(f"{stem}*")) if p.suffix in (".pdf", ".csv")]
        lines += [f"## `{stem}`", "", "```{figure} " + f"{prefix}figures/{png.name}", f":alt: {stem}", ""]
        lines += [_rst_to_myst(caption), "```", ""]
        if files:
            lines += ["Files in `figures/`: " + ", ".join(f"`{f}`" for f in files) + ".", ""]
    return "\n".join(lines)


def _rst_to_myst(text: str, module: str = "biper_theory.figures") -> str:
    """A one-line reST docstring fragment as MyST: ``:role:`x``` becomes a MyST role
    (names without a module resolved in ``module``), and ``*``/``_`` outside code are
    escaped."""

    def role(m: re.Match[str]) -> str:
        kind, target = m.group(1), m.group(2)
        if not target.startswith(("~", ".")) and "." not in target:
            target = f"~{module}.{target}"
        return f"{{py:{kind}}}`{target}`"

    text = re.sub(r":(?:py:)?(\w+):`([^`]+)`", role, text)
    parts = re.split(r"(\{[^}]*\}`[^`]*`|``[^`]*``|`[^`]*`)", text)
    return "".join(
        part if i % 2 else part.replace("*", r"\*").replace("_", r"\_") for i, part in enumerate(parts)
    )


def _scalars(data: Any, prefix: str = "", depth: int = 2) -> list[tuple[str, str]]:
    if isinstance(data, dict) and depth > 0:
        out = []
        for k, v in data.items():
            out += _scalars(v, f"{prefix}{k}." if depth > 1 else f"{prefix}{k}", depth - 1)
        return out
    if isinstance(data, (int, float, str, bool)) and prefix:
        return [(prefix.rstrip("."), f"{data:.4g}" if isinstance(data, float) else str(data))]
    return []


def studies_markdown(studies_dir: Path, out_dir: Path, prefix: str = "") -> str:
    """What each ``studies/<name>/`` folder holds: its README, its figures, its text reports
    (or, with neither README nor text, the scalar entries of its JSON files) and the names of
    its files. An absent or empty ``studies/`` gives a short note, not an error."""
    folders = sorted(p for p in studies_dir.glob("*") if p.is_dir()) if studies_dir.is_dir() else []
    if not folders:
        return "No study results are committed in this version (`studies/` is empty or absent).\n"
    lines = []
    for folder in folders:
        lines += [f"## `studies/{folder.name}`", ""]
        readme = folder / "README.md"
        if readme.is_file():
            target = out_dir / "studies" / folder.name / "README.md"
            _write_if_changed(target, _demote_headings(readme.read_text(encoding="utf-8")))
            lines += ["```{include} " + f"{prefix}studies/{folder.name}/README.md", "```", ""]
        for png in sorted(folder.glob("*.png")):
            _copy_if_changed(png, out_dir / "studies" / folder.name / png.name)
            lines += ["```{figure} " + f"{prefix}studies/{folder.name}/{png.name}", f":alt: {png.stem}", ""]
            lines += [f"`{png.name}`", "```", ""]
        texts = [t for t in sorted(folder.glob("*.txt")) if t.stat().st_size <= MAX_TEXT_BYTES]
        for txt in texts:  # a study's report as its command printed it
            lines += [f"`{txt.name}`:", "", "```text", txt.read_text(encoding="utf-8").rstrip(), "```", ""]
        for js in sorted(folder.glob("*.json")):
            try:
                rows = _scalars(json.loads(js.read_text(encoding="utf-8")))
            except ValueError as exc:
                raise ValueError(f"{js}: not JSON ({exc})") from exc
            if rows and not readme.is_file() and not texts:
                lines += [f"Scalar entries of `{js.name}`:", "", "| key | value |", "|---|---|"]
                lines += [f"| `{k}` | {v.replace('|', '/')} |" for k, v in rows[:40]] + [""]
        files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".png")
        if files:
            lines += ["Files: " + ", ".join(f"`{f}`" for f in files) + ".", ""]
    return "\n".join(lines)


def _demote_headings(text: str) -> str:
    """A study README's headings one level below the page's ``##`` section."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("#"):
            line = "##" + line
        out.append(line)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _copy_if_changed(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists() or dst.read_bytes() != src.read_bytes():
        shutil.copyfile(src, dst)


def write_generated(srcdir: Path, repo: Path = REPO, *, results: Path | None = None) -> list[MissingModule]:
    """Write every generated page under ``srcdir/_generated``; returns the public modules
    that could not be imported."""
    out = srcdir / GENERATED
    modules, missing = api_modules()
    entries = module_entries(modules)
    for mod in modules:
        _write_if_changed(out / "api" / f"{mod.__name__}.rst", module_page(mod, entries[mod.__name__]))
    _write_if_changed(out / "api" / "index.rst", api_index(modules, missing))
    inc = out / "include"  # fragments included by the hand-written pages, not pages themselves
    _write_if_changed(inc / "errata.md", errata_markdown())
    _write_if_changed(
        inc / "performance.md", performance_markdown(results or repo / "benchmarks" / "results.json", repo)
    )
    prefix = f"/{GENERATED}/include/"  # image paths from the source folder, wherever included
    _write_if_changed(inc / "figures.md", figures_markdown(repo / "figures", inc, prefix))
    _write_if_changed(inc / "studies.md", studies_markdown(repo / "studies", inc, prefix))
    for nb in sorted((repo / "notebooks").glob("*.ipynb")):
        _copy_if_changed(nb, out / "notebooks" / nb.name)
    return missing


def aliases(entries: dict[str, list[Entry]]) -> dict[str, str]:
    """Full name of every re-export (``biper_theory.pdf``) -> where it is documented."""
    return {e.full_name: e.canonical for es in entries.values() for e in es if not e.documented_here}


def _candidates(target: str, module: str | None) -> list[str]:
    """Where a Python reference ``target`` written in ``module`` may point: the module and
    each package above it, then the name as written."""
    out = []
    parts = module.split(".") if module else []
    for i in range(len(parts), 0, -1):
        out.append(".".join(parts[:i]) + "." + target)
    return [*out, target]


def _missing_reference(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a Python reference to a re-exported name (``biper_theory.pdf``,
    ``Quantities`` written in :mod:`biper_theory.weights`) or to a name of a package above
    the current module, to where that name is documented. Anything else stays unresolved
    (and fails a nitpicky build)."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip("~.")
    known = getattr(app, "biper_aliases", {})
    candidates = _candidates(target, node.get("py:module"))
    for cand in candidates:
        full = known.get(cand, cand)
        if full in domain.objects:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], full, node, contnode
            )
    # a name that exists in the package but is not public (not in any __all__) has no page
    # to link to: it is shown as written, unlinked; a name that does not exist still fails
    if any(c.startswith(PACKAGE + ".") and _exists(c) for c in candidates[:-1]):
        return contnode
    return None


def _exists(name: str) -> bool:
    """Whether ``name`` (``pkg.module.attr.attr``) is an importable module or an attribute
    of one."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _builder_inited(app: Any) -> None:
    from sphinx.util import logging

    results = app.config.biper_benchmark_results
    repo = Path(app.config.biper_repo) if app.config.biper_repo else REPO
    missing = write_generated(Path(app.srcdir), repo, results=Path(results) if results else None)
    modules, _ = api_modules()
    app.biper_aliases = aliases(module_entries(modules))
    log = logging.getLogger(__name__)
    for m in missing:
        log.warning("API reference: %s left out: %s", m.name, m.reason)


def setup(app: Any) -> dict[str, Any]:
    # where figures/, notebooks/, studies/ and benchmarks/results.json are read (a test
    # builds a copy of docs/ elsewhere and points these at the checkout, or at a changed copy)
    app.add_config_value("biper_repo", "", "env")
    app.add_config_value("biper_benchmark_results", "", "env")
    app.connect("builder-inited", _builder_inited)
    app.connect("missing-reference", _missing_reference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

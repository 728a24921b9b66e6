"""The documentation site: every public name in the reference, generated pages that follow
their sources, no script from the internet.

The generator (``docs/_ext/biper_docs.py``) is tested directly; one real Sphinx build of a
copy of ``docs/`` (notebooks rendered without executing them, a changed copy of
``benchmarks/results.json``) checks the built HTML and its object inventory. That build needs
the ``docs`` extra and is skipped without it; CI installs the extra and runs this file again.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import biper_docs  # noqa: E402

pytest.importorskip("torch")  # biper_theory.nn is a public package: the reference needs torch


def _modules() -> list[ModuleType]:
    modules, missing = biper_docs.api_modules()
    assert not missing, missing
    return modules


# ---------------------------------------------------------------------------------------
# The generator, without Sphinx
# ---------------------------------------------------------------------------------------


def test_module_list_is_every_public_module_on_disk() -> None:
    on_disk = set()
    for path in (ROOT / "biper_theory").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if any(p.startswith("_") for p in parts) or name.startswith("biper_theory.cli"):
            continue
        on_disk.add(name)
    assert set(biper_docs.public_module_names()) == on_disk
    assert {"biper_theory", "biper_theory.closed_form", "biper_theory.nn.layers"} <= on_disk


def test_every_name_of_every_all_is_on_its_module_page() -> None:
    modules = _modules()
    entries = biper_docs.module_entries(modules)
    pages = {m.__name__: biper_docs.module_page(m, entries[m.__name__]) for m in modules}
    for mod in modules:
        page = pages[mod.__name__]
        assert f".. automodule:: {mod.__name__}" in page
        names = [e.name for e in entries[mod.__name__]]
        assert names == list(mod.__all__)
        for e in entries[mod.__name__]:
            home, _, short = e.canonical.rpartition(".")
            if e.kind == "module":
                assert f":mod:`{e.canonical}`" in page
                continue
            # listed in a summary table in the context of the module that documents it
            assert re.search(rf"\.\. currentmodule:: {re.escape(home)}\n\n\.\. autosummary::"
                             rf"\n   :nosignatures:\n\n(   \S+\n)*   {re.escape(short)}\n", page), e
            # and documented by autodoc on that module's page
            assert re.search(rf"^\.\. auto(function|class|data):: {re.escape(short)}$",
                             pages[home], re.M), e


def test_a_reexport_is_documented_once_where_it_is_defined() -> None:
    entries = biper_docs.module_entries(_modules())
    top = {e.name: e for e in entries["biper_theory"]}
    assert top["pdf"].canonical == "biper_theory.closed_form.pdf"
    assert top["QE_LIMIT_LARGE_A"].canonical == "biper_theory.closed_form.QE_LIMIT_LARGE_A"
    assert top["__version__"].documented_here
    nn = {e.name: e for e in entries["biper_theory.nn"]}
    assert nn["biper_sign"].canonical == "biper_theory.nn.functional.biper_sign"
    documented = [e.canonical for es in entries.values() for e in es if e.documented_here]
    assert len(documented) == len(set(documented))


def test_module_with_a_missing_dependency_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, *args: object) -> ModuleType:
        if name == "biper_theory.nn.layers":
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        return real(name, *args)

    monkeypatch.setattr(biper_docs.importlib, "import_module", fake)
    modules, missing = biper_docs.api_modules()
    assert [m.name for m in missing] == ["biper_theory.nn.layers"]
    assert "torch" in missing[0].reason
    assert "biper_theory.nn.layers" in biper_docs.api_index(modules, missing)


def test_errata_fragment_is_computed_by_the_package() -> None:
    from biper_theory import errata

    assert biper_docs.errata_markdown() == errata.errata_table("markdown") + "\n"


def test_performance_fragment_follows_results_json(tmp_path: Path) -> None:
    record = json.loads((ROOT / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    before = biper_docs.performance_markdown(ROOT / "benchmarks" / "results.json", ROOT)
    record["benchmarks"][0]["ratio"] = 0.123456
    changed = tmp_path / "results.json"
    changed.write_text(json.dumps(record), encoding="utf-8")
    after = biper_docs.performance_markdown(changed, ROOT)
    assert "= 0.123 (minima" in after and "= 0.123 (minima" not in before
    assert after != before


def test_figures_gallery_shows_every_png_with_a_caption(tmp_path: Path) -> None:
    text = biper_docs.figures_markdown(ROOT / "figures", tmp_path, "/x/")
    pngs = sorted(p.name for p in (ROOT / "figures").glob("*.png"))
    assert pngs and sorted(p.name for p in (tmp_path / "figures").iterdir()) == pngs
    for name in pngs:
        block = text.split(f"```{{figure}} /x/figures/{name}\n", 1)[1].split("```", 1)[0]
        caption = block.split("\n\n", 1)[1].strip()
        assert caption and caption != Path(name).stem, name  # a real caption, not the name


def test_studies_page_fills_itself_and_tolerates_no_studies(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert "No study results" in biper_docs.studies_markdown(tmp_path / "absent", out)
    study = tmp_path / "studies" / "digits"
    study.mkdir(parents=True)
    (study / "README.md").write_text("# Digits\n\nAccuracy rose with ω₀.\n", encoding="utf-8")
    (study / "accuracy.png").write_bytes((ROOT / "figures" / "fig2_pdf.png").read_bytes())
    (study / "report.json").write_text(json.dumps({"spearman": {"qe": -0.05}}), encoding="utf-8")
    (study / "report.txt").write_text("outcome: stage2_test_accuracy (n = 40)\n", encoding="utf-8")
    text = biper_docs.studies_markdown(tmp_path / "studies", out, "/p/")
    assert "## `studies/digits`" in text
    assert "```{include} /p/studies/digits/README.md" in text
    assert (out / "studies" / "digits" / "README.md").read_text(encoding="utf-8").startswith("### Digits")
    assert "```{figure} /p/studies/digits/accuracy.png" in text
    assert "`report.json`" in text
    assert "```text\noutcome: stage2_test_accuracy (n = 40)\n```" in text
    bare = tmp_path / "bare" / "fm"
    bare.mkdir(parents=True)
    (bare / "report.json").write_text(json.dumps({"variance": {"seed": 0.051}}), encoding="utf-8")
    assert "| `variance.seed` | 0.051 |" in biper_docs.studies_markdown(tmp_path / "bare", out)


def test_a_reference_to_a_reexport_resolves_to_its_documentation() -> None:
    entries = biper_docs.module_entries(_modules())
    alias = biper_docs.aliases(entries)
    assert alias["biper_theory.pdf"] == "biper_theory.closed_form.pdf"
    assert "biper_theory.closed_form.pdf" not in alias  # documented there, not an alias
    assert biper_docs._candidates("Quantities", "biper_theory.nn.layers") == [
        "biper_theory.nn.layers.Quantities",
        "biper_theory.nn.Quantities",
        "biper_theory.Quantities",
        "Quantities",
    ]
    assert biper_docs._exists("biper_theory.figures.CSV_DIGITS")  # real but not public: unlinked
    assert not biper_docs._exists("biper_theory.figures.NO_SUCH_NAME")  # a typo: still fails


# ---------------------------------------------------------------------------------------
# A real build
# ---------------------------------------------------------------------------------------

PERF_RATIO = 0.987654  # written into a copy of results.json; the page must show 0.988


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sphinx", reason="the docs extra is not installed (pip install -e '.[docs]')")
    tmp = tmp_path_factory.mktemp("docs")
    src = tmp / "src"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "_generated"))
    record = json.loads((ROOT / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    record["benchmarks"][0]["ratio"] = PERF_RATIO
    results = tmp / "results.json"
    results.write_text(json.dumps(record), encoding="utf-8")
    out = tmp / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html",
           "-d", str(tmp / "doctrees"), "-D", "nb_execution_mode=off",
           "-D", f"biper_repo={ROOT}", "-D", f"biper_benchmark_results={results}", str(src), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def _inventory(site: Path) -> set[str]:
    from sphinx.util.inventory import InventoryFile

    with open(site / "objects.inv", "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    return {name for kind, objs in inv.items() if kind.startswith("py:") for name in objs}


def test_every_public_name_has_an_entry_in_the_built_reference(site: Path) -> None:
    inventory = _inventory(site)
    entries = biper_docs.module_entries(_modules())
    for module, es in entries.items():
        assert module in inventory, module
        html = (site / "_generated" / "api" / f"{module}.html").read_text(encoding="utf-8")
        for e in es:
            assert e.canonical in inventory, f"{e.full_name}: no entry {e.canonical}"
            anchor = f"#{e.canonical}" if e.kind != "module" else f"{e.canonical}.html"
            assert anchor in html, f"{module} page does not link {e.canonical}"
    # the re-exports of the package itself, by name
    import biper_theory

    for name in biper_theory.__all__:
        assert any(i.endswith(f".{name}") for i in inventory), name


def test_no_page_loads_a_script_from_the_internet(site: Path) -> None:
    pages = [p.read_text(encoding="utf-8") for p in site.rglob("*.html")]
    assert len(pages) > 20
    srcs = {m for text in pages for m in re.findall(r'<script[^>]*\ssrc="([^"]*)"', text)}
    assert srcs and not [s for s in srcs if re.match(r"(https?:)?//", s)], srcs
    assert [s for s in srcs if "mathjax/tex-chtml.js" in s], "MathJax is not loaded"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    links = {m for text in pages for m in re.findall(r'<link[^>]*\shref="([^"]*)"', text)}
    assert not [s for s in links if re.match(r"(https?:)?//", s)], links


def test_generated_pages_follow_their_sources(site: Path) -> None:
    from biper_theory import errata

    html = (site / "errata.html").read_text(encoding="utf-8")
    for row in errata.errata():
        assert f"<td><p>{row.id}</p></td>" in html, row.id
    perf = (site / "performance.html").read_text(encoding="utf-8")
    assert f"= {PERF_RATIO:.3g} (minima" in perf
    gallery = (site / "figures.html").read_text(encoding="utf-8")
    for png in (ROOT / "figures").glob("*.png"):
        assert png.name in gallery
    assert (site / "_generated" / "notebooks" / "01_derivations.html").is_file()


"""``biper-theory pick-omega``: checkpoints, official layout, numpy input, output formats, bad input."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from biper_theory import closed_form as cf
from biper_theory import select as sel
from biper_theory.cli import main
from biper_theory.cli import pick_omega as cli_mod

torch = pytest.importorskip("torch", reason="checkpoint input needs the nn extra (torch)")


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors
        return int(exc.code or 0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A digits BiPer model trained for one epoch here (seeded), as our checkpoint."""
    from biper_theory.nn.train import TrainConfig, train

    out = tmp_path_factory.mktemp("digits")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(TrainConfig(dataset="digits", epochs=1, seed=0, out=str(out), progress=False))
    finally:
        torch.set_num_threads(previous)
    assert result.checkpoint is not None
    yield Path(result.checkpoint)


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_criterion_names_match_library() -> None:
    assert tuple(sel.CRITERIA) == cli_mod.CRITERION_NAMES
    assert set(cli_mod.PRIMARY_TARGET) == set(sel.CRITERIA)


def test_ks_size_default_matches_library() -> None:
    import argparse

    from biper_theory import weights

    parser = argparse.ArgumentParser()
    cli_mod.add_arguments(parser)
    assert parser.parse_args(["x"]).ks_size == weights.KS_SIZE


@pytest.mark.parametrize(
    "exact", [pytest.param(False, id="float32-sin"), pytest.param(True, id="float64-sin")]
)
def test_numbers_equal_direct_computation(
    trained: Path, exact: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from biper_theory.nn.checkpoint import load_latent_weights

    argv = ["pick-omega", str(trained), "--criterion", "target-nqe", "--target", "0.25", "--scale-estimators"]
    argv += ["--law", "laplace"]
    out = _json([*argv, "--exact"] if exact else argv, capsys)
    lw = load_latent_weights(trained)
    assert out["omega0"] == lw.omega0 == 20.0 and out["omega0_source"] == "checkpoint metadata"
    assert [r["layer"] for r in out["rows"]] == list(lw.layers)
    tol = 1e-12 if exact else 1e-6  # float32 sin: ~1e-7 per weight
    rel_fit = 1e-13 if exact else 2e-7  # Σ|w|, Σw² of float32 weights: float32 rows by default
    scales = {}
    for row in out["rows"]:
        w = lw.layers[row["layer"]]
        s = np.sin(20.0 * w)
        b = np.abs(w).mean()
        # the criterion's law: the Laplace MLE on every weight, from the one pass (float32 row
        # sums unless --exact), the same b as b_hat
        scales[row["layer"]] = row["law"]["params"]["b"]
        assert row["law"]["name"] == "laplace" and row["law"]["params"]["b"] == pytest.approx(b, rel=rel_fit)
        assert row["law"]["params"]["b"] == row["b_hat"]
        assert row["n"] == w.size
        assert row["b_hat"] == pytest.approx(b, rel=rel_fit)
        assert row["a"] == pytest.approx(20.0 * row["b_hat"], rel=1e-15)
        assert row["model_laplace"]["quantization_error"] == pytest.approx(
            float(cf.quantization_error(b=row["b_hat"], omega0=20.0)), rel=1e-13
        )
        sigma = row["gaussian"]["scale"]
        assert sigma == pytest.approx(np.sqrt(np.mean(w**2)), rel=rel_fit)
        bh = row["b_hat"]
        assert row["laplace"]["loglik"] == pytest.approx(np.sum(-np.log(2 * bh) - np.abs(w) / bh), rel=1e-6)
        assert row["gaussian"]["loglik"] == pytest.approx(
            -0.5 * w.size * (np.log(2 * np.pi * sigma**2) + 1.0), rel=1e-13
        )
        # the centred estimator and its location are float64 in every mode
        assert row["scale_estimators"]["mean|w - mean w| (ReCU)"] == pytest.approx(
            np.abs(w - w.mean()).mean(), rel=1e-13
        )
        emp = row["empirical"]
        assert emp["quantization_error"]["value"] == pytest.approx(
            np.mean(s**2) - np.mean(np.abs(s)) ** 2, abs=tol
        )
        # the same ŵ as the tool forms it (float32 argument and sin unless --exact): its sums
        # agree to the stated float32 summation error (float64 sums: 1e-13)
        s_tool = s if exact else np.sin((20.0 * w).astype(np.float32)).astype(np.float64)
        for key, ref in (("second_moment", np.mean(s_tool**2)), ("optimal_gamma", np.mean(np.abs(s_tool)))):
            assert emp[key]["value"] == pytest.approx(ref, rel=1e-13 if exact else 2e-7), key
        assert emp["l1_quantization_error"]["value"] == pytest.approx(1 - np.mean(np.abs(s)), abs=tol)
        assert emp["share_past_half_period"]["value"] == np.mean(np.abs(20.0 * w) > np.pi / 2)
        assert emp["sign_flip_probability"]["value"] == np.mean(s * w < 0)
        lo, hi = emp["quantization_error"]["ci"]
        assert lo < emp["quantization_error"]["value"] < hi
        assert row["verdict"] in ("laplace", "gaussian", "inconclusive")
    rec = sel.recommend(scales, "target-nqe", omega0=20.0, nqe=0.25)
    assert out["recommended_omega0"] == pytest.approx(rec.omega0, rel=1e-13)
    for row in out["rows"]:
        assert row["recommended_omega0"] == pytest.approx(rec.per_layer[row["layer"]].omega0, rel=1e-13)


def test_centred_scale_estimator_only_when_asked(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the centred (ReCU) estimator costs a second pass over the weights: reported on request
    lean = _json(["pick-omega", str(trained)], capsys)
    full = _json(["pick-omega", str(trained), "--scale-estimators"], capsys)
    for a, b in zip(lean["rows"], full["rows"], strict=True):
        assert list(a["scale_estimators"]) == ["mean|w| (official BiPer code)"]
        assert list(b["scale_estimators"]) == ["mean|w| (official BiPer code)", "mean|w - mean w| (ReCU)"]
        assert a["scale_estimators"]["mean|w| (official BiPer code)"] == a["b_hat"]
        del b["scale_estimators"]["mean|w - mean w| (ReCU)"]
        assert a == b


def test_table_csv_and_plot(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "fig" / "pick.png"
    assert main(["pick-omega", str(trained), "--plot", str(plot), "--bootstrap", "50"]) == 0
    text = capsys.readouterr().out
    for col in (
        "layer",
        "n",
        "b_hat",
        "fit",
        "a",
        "model_qe",
        "emp_qe (CI)",
        "l1_qe",
        "past_half",
        "law",
        "law_qe",
        "crest (model)",
        "cos2 (model)",
        "phase_p",
        "omega0_rec",
    ):
        assert col in text
    assert "recommended omega0 =" in text and "optimistic" in text
    png = plot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(plot.parent.glob("*.part"))
    # figures.pick_omega_panels drew it (three panels per layer: ŵ, QE*, phase) and
    # figures.save_figure saved it in the house style: 15 x 2.8 inches per layer at the style's dpi
    from biper_theory import figures

    n_layers = 6  # the binarized convolutions of resnet-small
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    dpi = figures.STYLE["savefig.dpi"]
    w_in, h_in = figures.pick_omega_figsize(n_layers, columns=3)
    assert (width, height) == (round(w_in * dpi), round(h_in * dpi))
    report = tmp_path / "report.csv"
    assert main(["pick-omega", str(trained), "--format", "csv", "-o", str(report), "--per-channel"]) == 0
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert len(rows) == 16 + 16 + 32 + 32 + 64 + 64  # one per output channel of resnet-small
    assert rows[0]["layer"] == "layer1.0.conv1[0]"
    assert float(rows[0]["emp_qe_lo"]) <= float(rows[0]["emp_qe"]) <= float(rows[0]["emp_qe_hi"])


@pytest.mark.parametrize(
    ("suffix", "magic"),
    [
        pytest.param(".png", b"\x89PNG", id="png"),
        pytest.param(".pdf", b"%PDF-", id="pdf"),
        pytest.param(".svg", b"<?xml", id="svg"),
    ],
)
def test_plot_formats_are_reproducible(suffix: str, magic: bytes, tmp_path: Path) -> None:
    npz = tmp_path / "w.npz"
    g = np.random.default_rng(2)
    np.savez(npz, conv1=g.laplace(0, 0.05, (8, 4, 3, 3)), fc=g.laplace(0, 0.1, (10, 32)))
    files = [tmp_path / f"a{suffix}", tmp_path / "sub" / f"b{suffix}"]
    for f in files:
        assert (
            main(["pick-omega", str(npz), "--omega0", "20", "--plot", str(f), "-o", str(tmp_path / "r.txt")])
            == 0
        )
    first, second = (f.read_bytes() for f in files)
    assert first.startswith(magic)
    assert first == second  # no creation date or timestamp in the file


def _official(folder: Path, *, freq: str | None) -> Path:
    """An official-layout .pth.tar: 'module.' keys, α as (out,1,1) with beta/tau, config.txt."""
    from biper_theory.nn.models import build_model

    model = build_model(
        "resnet-small", num_classes=10, in_channels=1, generator=torch.Generator().manual_seed(5)
    )
    sd = {}
    for key, value in model.state_dict().items():
        if key.endswith(".alpha"):
            sd["module." + key] = value.reshape(-1, 1, 1).clone()
            sd["module." + key[: -len("alpha")] + "beta"] = torch.ones(value.shape[0], 1, 1)
            sd["module." + key[: -len("alpha")] + "tau"] = torch.tensor(1.0)
        else:
            sd["module." + key] = value.clone()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model_best.pth.tar"
    torch.save(
        {"epoch": 3, "model": "resnet_small", "state_dict": sd, "best_prec1": torch.tensor(90.0)}, path
    )
    if freq is not None:
        (folder / "config.txt").write_text(f"model:  resnet_small\nfreq:  {freq}\n", encoding="utf-8")
    return path


def test_official_layout_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _official(tmp_path / "run", freq="30.0")
    out = _json(["pick-omega", str(path), "--criterion", "min-qe-flip", "--target", "0.02"], capsys)
    assert out["kind"] == "official" and out["omega0"] == 30.0 and out["omega0_source"] == "config.txt"
    assert out["rows"][0]["layer"] == "layer1.0.conv1"
    from biper_theory import laws

    for row in out["rows"]:  # the bound holds under each layer's law (auto: the best by AIC)
        law = laws.get(row["law"]["name"])(**row["law"]["params"])
        assert float(law.sign_flip_probability(omega0=out["recommended_omega0"])) <= 0.02
    out = _json(["pick-omega", str(path), "--omega0", "12"], capsys)
    assert out["omega0"] == 12.0 and out["omega0_source"] == "--omega0"


def test_numpy_input_needs_no_torch(tmp_path: Path) -> None:
    g = np.random.default_rng(0)
    npz = tmp_path / "w.npz"
    np.savez(
        npz, conv1=g.laplace(0, 0.05, (8, 4, 3, 3)).astype(np.float32), conv2=g.normal(0, 0.05, (8, 8, 3, 3))
    )
    npy = tmp_path / "layer.npy"
    np.save(npy, g.laplace(0, 0.05, 500))
    code = (
        "import sys, json; from biper_theory.cli import main\n"
        f"assert main(['pick-omega', {str(npz)!r}, '--omega0', '20', '--format', 'json']) == 0\n"
        f"assert main(['pick-omega', {str(npy)!r}, '--omega0', '20']) == 0\n"
        "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout[: res.stdout.index("\n}\n") + 2])
    assert [r["layer"] for r in payload["rows"]] == ["conv1", "conv2"]
    assert payload["rows"][1]["verdict"] == "gaussian"
    assert "layer " in res.stdout.split("\n}\n", 1)[1]  # the .npy layer is named after the file


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, a fragment of the one-line error)."""
    np.savez(tmp / "empty.npz", conv=np.zeros((0, 3)))
    np.savez(
        tmp / "nonfinite.npz", a=np.array([1.0, np.nan, np.nan]), b=np.array([[np.inf, 0.1]]), c=np.ones(3)
    )
    np.save(tmp / "objects.npy", np.array([{"w": 1}, None], dtype=object), allow_pickle=True)
    (tmp / "garbage.pt").write_bytes(b"this is not a checkpoint at all\x00\x01")
    torch.save({"fc.weight": torch.ones(3, 4), "fc.bias": torch.zeros(3)}, tmp / "nobin.pt")
    official = _official(tmp / "noconfig", freq=None)
    ok = tmp / "ok.npz"
    np.savez(ok, conv=np.random.default_rng(1).laplace(0, 0.05, 200))
    return {
        "empty-array": (["pick-omega", str(tmp / "empty.npz"), "--omega0", "20"], "empty"),
        "non-finite": (
            ["pick-omega", str(tmp / "nonfinite.npz"), "--omega0", "20"],
            "a: 2 NaN of 3; b: 1 +inf of 2",
        ),
        "pickled-npy": (["pick-omega", str(tmp / "objects.npy"), "--omega0", "20"], "never unpickled"),
        "not-a-checkpoint": (["pick-omega", str(tmp / "garbage.pt")], "not a PyTorch checkpoint"),
        "no-binarized-layers": (
            ["pick-omega", str(tmp / "nobin.pt"), "--omega0", "20"],
            "no binarized layers",
        ),
        "official-without-omega0": (["pick-omega", str(official)], "--omega0"),
        "npz-without-omega0": (["pick-omega", str(ok)], "--omega0 is required"),
        "unknown-criterion": (["pick-omega", str(ok), "--omega0", "20", "--criterion", "best"], "avoid-peak"),
        "unreachable-target": (
            ["pick-omega", str(ok), "--omega0", "20", "--criterion", "target-nqe", "--target", "0.9"],
            "normalized QE in",
        ),
        "bad-plot-suffix": (["pick-omega", str(ok), "--omega0", "20", "--plot", str(tmp / "f.jpg2")], ".png"),
        "missing-file": (["pick-omega", str(tmp / "nope.pt")], "nope.pt"),
        "negative-omega0": (["pick-omega", str(ok), "--omega0", "-3"], "omega0"),
        "ks-size-1": (["pick-omega", str(ok), "--omega0", "20", "--ks-size", "1"], "--ks-size"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty-array",
        "non-finite",
        "pickled-npy",
        "not-a-checkpoint",
        "no-binarized-layers",
        "official-without-omega0",
        "npz-without-omega0",
        "unknown-criterion",
        "unreachable-target",
        "bad-plot-suffix",
        "missing-file",
        "negative-omega0",
        "ks-size-1",
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, fragment = _bad_inputs(tmp_path)[case]
    out_dir = tmp_path / "out"
    plot = out_dir / "fig.png"
    report = out_dir / "report.txt"
    if "--plot" not in argv:
        argv = [*argv, "--plot", str(plot)]
    assert run_cli([*argv, "-o", str(report)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("biper-theory: error:")
    assert fragment in err
    assert captured.out == ""
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_phase_block_and_auto_law_equal_direct_computation(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Default --law auto: per layer the best law by AIC, and a phase block that equals numpy."""
    from scipy import stats

    from biper_theory import laws
    from biper_theory.nn.checkpoint import load_latent_weights

    out = _json(["pick-omega", str(trained)], capsys)
    assert out["law"] == "auto" and "lowest AIC" in out["law_fit"]
    lw = load_latent_weights(trained)
    fitted, reported = {}, {}
    for row in out["rows"]:
        w = lw.layers[row["layer"]].astype(np.float64).reshape(-1)
        x = 20.0 * w
        # the phase statistics come from the one pass: ŵ as the tool forms it (float32 argument
        # and sine), summed in float32 rows (~1e-7); the crest count is exact for that ŵ
        s32 = np.sin(x.astype(np.float32)).astype(np.float64)
        c = 1.0 - 2.0 * s32**2
        ph = row["phase"]
        assert list(ph) == ["crest_share", "crest_share_model", "cos2_mean", "cos2_mean_model", "p_value"]
        assert ph["crest_share"] == np.mean(np.abs(s32) > 0.9)
        near = np.sum(np.abs(np.abs(np.sin(x)) - 0.9) < 1e-6)  # within float32 rounding of 0.9
        assert abs(ph["crest_share"] - np.mean(np.abs(np.sin(x)) > 0.9)) * w.size <= near
        assert ph["cos2_mean"] == pytest.approx(np.mean(np.cos(2.0 * x)), abs=1e-6)
        assert ph["cos2_mean"] == pytest.approx(np.mean(c), abs=1e-6)
        # the law auto chose: the lowest AIC of the four fits on the same seeded subsample
        fits = laws.fit_all(w, fit_size=2000, rng=0)
        best = laws.best_by_aic(fits)
        assert row["law"]["name"] == best
        law = laws.fit(best, w, fit_size=None if fits[best].closed_form else 2000, rng=0)
        # Laplace/Gaussian from the pass's float32 row sums; gennorm/t: the same profile fit
        assert row["law"]["params"] == pytest.approx(law.params, rel=1e-6)
        model = float(law.cos2_mean(omega0=20.0))
        assert ph["cos2_mean_model"] == pytest.approx(model, rel=1e-5, abs=1e-9)
        assert ph["crest_share_model"] == pytest.approx(float(law.crest_share(omega0=20.0)), rel=1e-5)
        z = (np.mean(c) - ph["cos2_mean_model"]) / (np.std(c, ddof=1) / np.sqrt(c.size))
        assert ph["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-3, abs=1e-6)
        fitted[row["layer"]] = law
        reported[row["layer"]] = dataclasses.replace(law, **row["law"]["params"])
    # from the laws as reported (float32 pass sums for Laplace/Gaussian): the same numbers
    rec = sel.recommend(reported, "avoid-peak", law="auto", omega0=20.0)
    assert out["recommended_omega0"] == pytest.approx(rec.omega0, rel=1e-12)
    # from the float64 refits: within the float32 sums' ~1e-7 on the scales
    rec64 = sel.recommend(fitted, "avoid-peak", law="auto", omega0=20.0)
    assert out["recommended_omega0"] == pytest.approx(rec64.omega0, rel=1e-6)


@pytest.mark.parametrize("law", ["laplace", "gaussian", "gennorm", "t", "empirical"])
def test_every_law_runs(trained: Path, law: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["pick-omega", str(trained), "--law", law, "--criterion", "target-nqe", "--target", "0.3"]
    out = _json(argv, capsys)
    assert {r["law"]["name"] for r in out["rows"]} == {law}
    assert all(set(r["phase"]) >= {"p_value", "crest_share_model"} for r in out["rows"])


def test_bad_law_is_one_line_exit_2(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["pick-omega", str(trained), "--law", "cauchy"]) == 2
    err = capsys.readouterr().err.strip()
    allowed = "auto, laplace, gaussian, gennorm, t, empirical"
    assert err == f"biper-theory: error: --law must be one of {allowed}; got 'cauchy'"

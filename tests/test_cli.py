"""The command line: wiring, one-line errors, exit statuses."""

from __future__ import annotations

import json

import pytest

from biper_theory import closed_form as cf
from biper_theory.cli import main


def test_qe_json_matches_closed_form(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qe", "--b", "0.05", "--omega0", "20", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    row = out["rows"][0]
    assert row["qe"] == float(cf.quantization_error(b=0.05, omega0=20.0))
    assert row["optimal_gamma"] == float(cf.optimal_gamma(b=0.05, omega0=20.0))
    assert out["a_star"] == cf.qe_peak()[0]


def test_qe_grid_and_given_gamma(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["qe", "--b", "0.01", "0.05", "--omega0", "20", "95.48824709875438", "--gamma", "0.5"]
    assert main([*argv, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["b"], r["omega0"]) for r in rows] == [(0.01, 20.0), (0.01, 95.48824709875438), (0.05, 20.0),
                                                      (0.05, 95.48824709875438)]  # fmt: skip
    for r in rows:
        kw = {"b": r["b"], "omega0": r["omega0"], "gamma": 0.5}
        assert r["gamma"] == 0.5
        assert r["qe"] == float(cf.quantization_error(**kw))
        assert r["sqnr_db"] == float(cf.sqnr_db(**kw))
        assert r["optimal_gamma"] == float(cf.optimal_gamma(b=r["b"], omega0=r["omega0"]))
    assert main(argv) == 0  # text: one block per (b, ω₀) and the peak line
    text = capsys.readouterr().out
    assert text.count("sign_flip_probability") == 4
    assert f"a* = {cf.qe_peak()[0]:.15g}" in text


def run_cli(argv: list[str]) -> int:
    """Exit status of ``biper-theory argv``, whether argparse exits or main returns."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["qe", "--b", "-1"], id="negative-b"),
        pytest.param(["qe", "--omega0", "0"], id="zero-omega0"),
        pytest.param(["qe", "--b", "nan"], id="nan-b"),
        pytest.param(["qe", "--gamma", "inf"], id="inf-gamma"),
        pytest.param(["qe", "--b", "1e300", "--omega0", "1e300"], id="product-overflows"),
        pytest.param(["qe", "--format", "yaml"], id="unknown-format"),
        pytest.param(["no-such-command"], id="unknown-command"),
    ],
)
def test_bad_arguments_one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("biper-theory")
    assert "error" in err


def test_help_lists_every_subcommand_on_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from biper_theory.cli import COMMANDS

    monkeypatch.setenv("COLUMNS", "80")
    assert run_cli(["--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in COMMANDS:
        (i,) = [k for k, line in enumerate(lines) if line.strip().split(" ")[0] == name]
        assert len(lines[i].split()) > 1, f"{name}: its help text wrapped onto the next line"
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        assert not nxt.startswith(" " * 10) or nxt.strip().split(" ")[0] in COMMANDS, name


@pytest.mark.parametrize("name", ["qe", "errata", "pick-omega"])
def test_subcommand_help_alone(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    # a named subcommand's parser is built alone; its help and usage are its own
    assert run_cli([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: biper-theory {name}")
    assert run_cli([name, "--no-such-option"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("biper-theory") and "error" in err


def test_missing_file_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    assert run_cli(["pick-omega", "/nonexistent/weights.npz", "--omega0", "20"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err

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

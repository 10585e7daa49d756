import json
import subprocess
import sys

import pytest

from tfdpfair.cli import main

WINCOTT = ["--examples", "60000", "--batch-size", "250", "--epochs", "15", "--noise-multiplier", "1.3",
           "--delta", "1e-5"]


def test_wincott_epsilon_classic_and_tight(capsys):
    assert main(["epsilon", *WINCOTT, "--conversion", "classic"]) == 0
    assert "epsilon = 1.18 " in capsys.readouterr().out
    assert main(["epsilon", *WINCOTT, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["epsilon"] == pytest.approx(0.942, abs=1e-3) and out["steps"] == 3600


def test_steps_instead_of_epochs_and_pld(capsys):
    args = ["epsilon", "--examples", "60000", "--batch-size", "250", "--steps", "3600", "--noise-multiplier", "1.3",
            "--delta", "1e-5", "--accounting", "pld", "--json"]
    assert main(args) == 0
    assert 0.7 < json.loads(capsys.readouterr().out)["epsilon"] < 0.94


def test_noise_for_target(capsys):
    args = ["noise", "--examples", "60000", "--batch-size", "250", "--epochs", "15", "--target-epsilon", "1.18",
            "--delta", "1e-5", "--conversion", "classic", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["noise_multiplier"] == pytest.approx(1.3, abs=2e-3) and out["epsilon"] <= 1.18


def test_list(capsys):
    assert main(["list", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "wincott_cnn" in info["models"]
    repro = {r["slug"]: r for r in info["reproductions"]}
    assert set(repro) == {"neither_private_nor_fair", "dp_cgan", "generalization_tradeoffs", "demem", "dp_dcgan"}
    assert repro["dp_dcgan"]["presets"] == ["paper", "quick", "smoke"]
    assert info["datasets"]["mnist"] is not None


BAD = {
    "delta >= 1": (["epsilon", *WINCOTT[:-2], "--delta", "1"], "--delta must be in (0, 1)"),
    "delta <= 0": (["epsilon", *WINCOTT[:-2], "--delta", "0"], "--delta must be in (0, 1)"),
    "negative sigma": (["epsilon", *WINCOTT[:6], "--noise-multiplier", "-1", "--delta", "1e-5"],
                       "--noise-multiplier must be >= 0"),
    "batch > examples": (["epsilon", "--examples", "100", *WINCOTT[2:]], "larger than --examples"),
    "unreachable target": (["noise", "--examples", "60000", "--batch-size", "250", "--epochs", "15",
                            "--target-epsilon", "0.1", "--delta", "1e-5", "--conversion", "classic"], "unreachable"),
    "unknown subcommand": (["budget"], "invalid choice: 'budget'"),
    "missing flag": (["epsilon", "--examples", "100"], "required"),
    "not a number": (["epsilon", *WINCOTT[:-2], "--delta", "tiny"], "expected a number"),
    "classic with pld": (["epsilon", *WINCOTT, "--accounting", "pld", "--conversion", "classic"], "RDP only"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_arguments_exit_2_with_one_line(case, capsys):
    argv, expected = BAD[case]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]


def test_installed_command_exit_status_and_no_traceback():
    bad = subprocess.run([sys.executable, "-m", "tfdpfair", "epsilon", *WINCOTT[:-2], "--delta", "2"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    good = subprocess.run([sys.executable, "-m", "tfdpfair", "epsilon", *WINCOTT, "--conversion", "classic"],
                          capture_output=True, text=True)
    assert good.returncode == 0 and "epsilon = 1.18 " in good.stdout

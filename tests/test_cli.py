"""The command line: JSON contract, plots, demo, bad arguments."""

import json
import subprocess
import sys

import pytest

from reservoirs._cli import JSON_KEYS, main


def test_forecast_json_is_exactly_one_object(capsys):
    assert main(["forecast", "--task", "henon", "--units", "40", "--seed", "3", "--json"]) == 0
    out = capsys.readouterr().out.strip()
    assert "\n" not in out
    d = json.loads(out)
    assert tuple(d) == JSON_KEYS
    assert d["task"] == "henon" and d["substrate"] == "esn" and d["units"] == 40 and d["seed"] == 3
    assert 0 <= d["nrmse"] < 10 and d["vpt"] >= 0 and d["fit_seconds"] > 0


def test_forecast_same_seed_same_numbers(capsys):
    main(["forecast", "--task", "henon", "--units", "30", "--json"])
    a = json.loads(capsys.readouterr().out)
    main(["forecast", "--task", "henon", "--units", "30", "--json"])
    b = json.loads(capsys.readouterr().out)
    assert a["nrmse"] == b["nrmse"] and a["vpt"] == b["vpt"]


def test_forecast_summary_and_lorenz_plots(tmp_path, capsys):
    png = tmp_path / "lorenz.png"
    assert main(["forecast", "--task", "lorenz", "--units", "60", "--gain", "0.8", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "VPT" in out and "Lyapunov times" in out and "gain 0.8" in out
    assert png.stat().st_size > 10_000
    assert (tmp_path / "lorenz_attractor.png").stat().st_size > 10_000


def test_demo_quick(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    for task in ("mackey-glass", "lorenz", "rossler"):
        assert task in out
        assert (tmp_path / "demo" / f"forecast_{task}.png").exists()
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert [r["task"] for r in summary["forecasts"]] == ["mackey-glass", "lorenz", "rossler"]
    assert len(summary["sweep"]["gain"]) == 8 and "edge_of_chaos" in summary["sweep"]
    assert [r["substrate"] for r in summary["substrates"]] == ["esn", "memristor", "photonic", "lsm"]
    assert all(r["energy_per_step"]["joules"] > 0 for r in summary["substrates"])
    assert (tmp_path / "demo" / "sweep_mackey-glass.png").exists()
    assert "edge of chaos" in out


@pytest.mark.parametrize(
    "argv", [["forecast", "--units", "0"], ["forecast", "--gain", "-1"], ["forecast", "--task", "weather"], []]
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "reservoirs", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "forecast" in r.stdout and "demo" in r.stdout


def test_sweep_json_contract(capsys, tmp_path):
    png = tmp_path / "sweep.png"
    argv = ["sweep", "--gains", "0.3:2.5:5", "--units", "30", "--json", "--plot", str(png)]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert "\n" not in out
    d = json.loads(out)
    assert tuple(d) == ("gain", "lyapunov", "memory_capacity", "nrmse", "edge_of_chaos", "best_gain")
    assert d["gain"] == pytest.approx([0.3, 0.85, 1.4, 1.95, 2.5])
    assert len(d["lyapunov"]) == len(d["memory_capacity"]) == len(d["nrmse"]) == 5
    assert d["lyapunov"][0] < 0
    assert d["best_gain"] in d["gain"]
    assert png.stat().st_size > 10_000


def test_sweep_summary_and_gain_list(capsys):
    assert main(["sweep", "--gains", "0.5,1.0", "--units", "20", "--no-memory-capacity"]) == 0
    out = capsys.readouterr().out
    assert "edge of chaos" in out and "best gain" in out and "memory_capacity" not in out


@pytest.mark.parametrize("gains", ["1:2", "0:1:5", "a,b", "1:2:0"])
def test_sweep_rejects_bad_gains(gains):
    with pytest.raises(SystemExit) as e:
        main(["sweep", "--gains", gains])
    assert e.value.code == 2


@pytest.mark.parametrize("substrate", ["memristor", "photonic", "lsm"])
def test_one_line_substrate_swap_in_the_cli(substrate, capsys):
    argv = ["forecast", "--task", "henon", "--substrate", substrate, "--units", "20", "--gain", "0.5"]
    assert main(argv + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert tuple(d) == JSON_KEYS and d["substrate"] == substrate and d["units"] == 20 and d["gain"] == 0.5
    assert 0 <= d["nrmse"] < 10
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"substrate  {substrate}" in out and "J per step" in out and "digital ESN" in out
    assert main(["sweep", "--substrate", substrate, "--gains", "0.2,1.0", "--units", "12", "--no-memory-capacity",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["lyapunov"]) == 2 and all(v is not None for v in d["nrmse"])

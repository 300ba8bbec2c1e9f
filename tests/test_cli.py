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


@pytest.mark.release_memory
def test_demo_quick(tmp_path, capsys):
    import reservoirs as rc

    assert main(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    for task in ("mackey-glass", "lorenz", "rossler"):
        assert task in out
        assert (tmp_path / "demo" / f"forecast_{task}.png").exists()
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert [r["task"] for r in summary["forecasts"]] == ["mackey-glass", "lorenz", "rossler"]
    assert len(summary["sweep"]["gain"]) == 8 and "edge_of_chaos" in summary["sweep"]
    names = list(rc.registry())
    assert {"esn", "lsm", "memristor", "photonic", "spintronic", "bucket"} <= set(names)
    # every registered reservoir: the one-line swap on Mackey-Glass, and the sine/square classification
    assert [r["substrate"] for r in summary["substrates"]] == names
    assert all(r["energy_per_step"]["joules"] > 0 for r in summary["substrates"])
    for r in summary["substrates"]:  # a reservoir that cannot forecast says so
        assert (r["forecast_note"] is None) == rc.registry()[r["substrate"]].forecasts
    assert [r["substrate"] for r in summary["classify"]] == names
    assert all(0 <= r["accuracy"] <= 1 and 0 <= r["baseline_accuracy"] <= 1 for r in summary["classify"])
    assert (tmp_path / "demo" / "sweep_mackey-glass.png").exists()
    assert "edge of chaos" in out and "cannot forecast" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["forecast", "--units", "0"], "must be an integer >= 1"),
        (["forecast", "--gain", "-1"], "must be a finite number >= 0"),
        (["forecast", "--gain", "x"], "must be a finite number >= 0"),
        (["forecast", "--task", "weather"], "invalid choice"),
        (["forecast", "--seed", "123456789012345678901234"], "must be an integer in [0, 4294967295]"),
        (["forecast", "--seed", "-3"], "must be an integer in [0, 4294967295]"),
        (["sweep", "--gains", "-1,2"], "gains must be finite and >= 0"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "_positive_int" not in err and "positive_int" not in err and "seed_int" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["forecast", "--plot", "figure.txt"], "`--plot` must end in one of .png"),
        (["forecast", "--plot", "/proc/forbidden/f.png"], "cannot be written"),
        (["demo", "--out", "/proc/forbidden"], "cannot be written"),
        (["classify", "--plot", "c.csv"], "`--plot` must end in one of .png"),
    ],
)
def test_unwritable_outputs_are_refused_before_the_work(argv, message, capsys):
    import time

    t0 = time.perf_counter()
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert time.perf_counter() - t0 < 5  # refused up front, not after fitting


def test_results_are_kept_when_saving_fails(capsys):
    from reservoirs._cli import _save

    def fail():
        raise PermissionError("read-only file system")

    assert _save(fail, "x.png", "the figure") == []
    assert "could not write the figure 'x.png'" in capsys.readouterr().err


def test_forecast_json_reports_divergence_and_capped_vpt(capsys):
    # a tiny reservoir at a large gain diverges in closed loop: reported in JSON, not only in the text mode
    assert main(["forecast", "--task", "henon", "--units", "20", "--gain", "1.9", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert isinstance(d["diverged"], bool) and isinstance(d["vpt_capped"], bool)
    assert (d["diverged_at"] is None) == (not d["diverged"])
    assert d["nrmse_window"] >= 2 and d["horizon"] == 40
    if d["vpt_capped"]:
        assert d["vpt"] == pytest.approx(40 * 0.42, rel=0.05)


def test_lsm_forecast_says_it_cannot_forecast(capsys):
    assert main(["forecast", "--task", "henon", "--substrate", "lsm", "--units", "30"]) == 0
    out = capsys.readouterr().out
    assert "no usable forecast" in out and "classification" in out


def test_help_lists_the_registered_reservoirs():
    r = subprocess.run([sys.executable, "-m", "reservoirs", "sweep", "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0
    for name in ("esn", "lsm", "memristor", "photonic", "spintronic", "bucket"):
        assert f"  {name} " in r.stdout


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


@pytest.mark.parametrize("gains", ["1:2", "-1:1:5", "-1,2", "a,b", "1:2:0", "nan,1"])
def test_sweep_rejects_bad_gains(gains):
    with pytest.raises(SystemExit) as e:
        main(["sweep", "--gains", gains])
    assert e.value.code == 2


SMALL_UNITS = {"memristor": 12, "photonic": 40, "spintronic": 2, "bucket": 16}


@pytest.mark.release_memory
@pytest.mark.parametrize("substrate", sorted(SMALL_UNITS))
def test_one_line_substrate_swap_in_the_cli(substrate, capsys):
    # the demo test runs every registered reservoir at its defaults; here: other tasks, sizes, gains and the sweep
    import reservoirs as rc

    entry = rc.registry()[substrate]
    units = SMALL_UNITS[substrate]
    argv = ["forecast", "--task", "henon", "--substrate", substrate, "--units", str(units)]
    assert main(argv + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert tuple(d) == JSON_KEYS and d["substrate"] == substrate and d["units"] == units
    assert d["gain"] == entry.defaults("henon")[1]
    assert d["nrmse"] == "inf" or d["nrmse"] >= 0
    assert isinstance(d["diverged"], bool) and (d["forecast_note"] is None) == entry.forecasts
    if substrate == "memristor":  # the text mode, once
        assert main(argv + ["--gain", "0"]) == 0  # gain 0: Zhong et al.'s feed-forward setting is accepted
        out = capsys.readouterr().out
        assert "substrate  memristor" in out and "gain 0," in out and "J per step" in out and "digital ESN" in out
    lo, hi = entry.sweep_gains
    assert main(["sweep", "--substrate", substrate, "--gains", f"{lo},{hi}", "--units", str(units),
                 "--no-memory-capacity", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["gain"] == [lo, hi] and len(d["lyapunov"]) == 2 and all(v is not None for v in d["nrmse"])


def test_demo_drops_compiled_programs_only_past_its_memory_limit(monkeypatch):
    import jax
    import jax.numpy as jnp

    from reservoirs import _cli

    f = jax.jit(lambda x: x * 2)
    f(jnp.ones(3))
    assert f._cache_size() == 1
    monkeypatch.setattr(_cli, "_DEMO_RSS_LIMIT_MB", 1e9)
    _cli._release_compiled()
    assert f._cache_size() == 1  # below the limit: kept
    monkeypatch.setattr(_cli, "_DEMO_RSS_LIMIT_MB", 0)
    _cli._release_compiled()
    assert f._cache_size() == 0
    assert _cli._resident_mb() > 50

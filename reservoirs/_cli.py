"""Command line: `reservoirs forecast ...` and `reservoirs demo` (also `python -m reservoirs`).

The CLI turns float64 on (accuracy figures are measured in float64); the library itself never does on import.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

TASKS = ("mackey-glass", "lorenz", "rossler", "henon")
SUBSTRATES = ("esn", "memristor", "photonic", "lsm")

#: Per-substrate defaults where the ESN preset does not apply: `units` is the substrate's own size (memristor
#: nodes, photonic virtual nodes), `gain` its physical feedback knob (see each class's docstring). Inputs are the
#: standardised series (zero mean, unit std).
SUBSTRATE_DEFAULTS = {
    "memristor": dict(units=50, gain=1.0, input_scaling=0.4),
    "photonic": dict(units=400, gain=0.5, input_scaling=0.1, nonlinearity="ikeda", desync=10, theta=2.5, phi0=-0.5),
    # Maass et al. 2002's deterministic column (constant 13.5 nA background, no noise), so that no key is needed;
    # features: filtered spike trains and membrane potentials.
    "lsm": dict(units=135, gain=1.0, input_scaling=1.0),
}


@dataclass(frozen=True)
class Preset:
    """Data and reservoir settings for one forecasting task (hyperparameters measured on held-out data)."""

    train: int
    washout: int
    horizon: int
    units: int
    gain: float
    leak: float
    input_scaling: float
    bias_scaling: float
    alpha: float
    feature_map: str = "linear"
    passthrough: bool = False
    series_kwargs: dict = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "mackey-glass": Preset(
        train=4000, washout=500, horizon=500, units=400, gain=1.0, leak=0.3, input_scaling=0.5, bias_scaling=0.2,
        alpha=1e-9,
    ),
    "lorenz": Preset(
        train=10000, washout=500, horizon=1400, units=500, gain=0.9, leak=1.0, input_scaling=0.3,
        bias_scaling=0.5, alpha=1e-7, feature_map="pathak", passthrough=True, series_kwargs={"dt": 0.02},
    ),
    "rossler": Preset(
        train=10000, washout=500, horizon=1500, units=400, gain=0.5, leak=1.0, input_scaling=0.3,
        bias_scaling=0.5, alpha=1e-8, feature_map="pathak", passthrough=True, series_kwargs={"dt": 0.1},
    ),
    "henon": Preset(
        train=4000, washout=200, horizon=40, units=300, gain=0.6, leak=1.0, input_scaling=0.5, bias_scaling=0.5,
        alpha=1e-9, feature_map="quadratic", passthrough=True,
    ),
}


def _series(task: str, n: int, key, preset: Preset):
    import tasks

    gen = {
        "mackey-glass": tasks.mackey_glass,
        "lorenz": tasks.lorenz,
        "rossler": tasks.rossler,
        "henon": tasks.henon,
    }[task]
    return gen(n, key=key, **preset.series_kwargs)


def run_forecast(
    task: str = "mackey-glass",
    *,
    substrate: str = "esn",
    units: int | None = None,
    gain: float | None = None,
    seed: int = 0,
    horizon: int | None = None,
) -> dict:
    """Train on a task's series (one-step targets), forecast in closed loop, and measure.

    The series is standardised with the training mean and std; the forecast continues from the end of training
    and is compared with the true continuation. Times include JIT compilation (what a user waits for).
    Returns a dict with the CLI's JSON keys plus the arrays (`truth`, `prediction`) for plotting.
    """
    import jax
    import jax.numpy as jnp

    import reservoirs as rc

    if task not in PRESETS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}")
    if substrate not in SUBSTRATES:
        raise ValueError(f"`substrate` must be one of {SUBSTRATES}, got {substrate!r}")
    p = PRESETS[task]
    d = SUBSTRATE_DEFAULTS.get(substrate, {"units": p.units, "gain": p.gain})
    units = d["units"] if units is None else units
    gain = d["gain"] if gain is None else gain
    horizon = p.horizon if horizon is None else horizon
    k_data, k_res = jax.random.split(jax.random.key(seed))
    series = _series(task, p.train + 1 + horizon, k_data, p)
    values = series.values
    train, test = values[: p.train + 1], values[p.train + 1 :]
    mu, sd = train.mean(0), train.std(0)
    z = (train - mu) / sd
    esn = build_reservoir(substrate, values.shape[1], units, gain, k_res, p)
    readout = rc.Ridge(p.alpha, input_passthrough=p.passthrough)
    t0 = time.perf_counter()
    model = jax.block_until_ready(rc.fit(esn, z[:-1], z[1:], readout=readout, washout=p.washout))
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # divergence is reported in the result instead
        result = jax.block_until_ready(rc.forecast(model, horizon))
    forecast_seconds = time.perf_counter() - t0
    pred = result.outputs * sd + mu
    ok = jnp.all(jnp.isfinite(pred), axis=1)
    n_ok = int(jnp.argmin(ok)) if not bool(jnp.all(ok)) else horizon
    nrmse = float(rc.nrmse(test[:n_ok], pred[:n_ok])) if n_ok > 1 else math.nan
    lt = series.lyapunov_time
    vpt = (
        float(rc.valid_prediction_time(test, pred, dt=series.dt, lyapunov_time=lt, sigma=train.std(0)))
        if lt
        else None
    )
    return {
        "task": task,
        "substrate": substrate,
        "units": int(units),
        "gain": float(gain),
        "seed": int(seed),
        "nrmse": nrmse,
        "vpt": vpt,
        "fit_seconds": fit_seconds,
        "forecast_seconds": forecast_seconds,
        "diverged": bool(result.diverged),
        "horizon": int(horizon),
        "dt": float(series.dt),
        "lyapunov_time": lt,
        "truth": test,
        "prediction": pred,
        "energy_per_step": _energy(esn),
    }


def build_reservoir(substrate: str, in_size: int, units: int, gain: float, key, p: Preset):
    """The reservoir a CLI command runs: an ESN with the task preset, or a physical substrate (imported lazily)."""
    import reservoirs as rc

    if substrate == "esn":
        return rc.ESN(in_size, units, key=key, gain=gain, leak=p.leak, input_scaling=p.input_scaling,
                      bias_scaling=p.bias_scaling, feature_map=p.feature_map)
    d = SUBSTRATE_DEFAULTS[substrate]
    if substrate == "lsm":
        return rc.LSM(in_size, units, key=key, gain=gain, input_scaling=d["input_scaling"], background_current=13.5,
                      background_spread=0.0, noise=0.0, readout="both")
    import physical

    if substrate == "memristor":
        return physical.MemristorCrossbar(in_size, units, key=key, gain=gain, input_scaling=d["input_scaling"])
    if substrate == "photonic":
        extra = {k: d[k] for k in ("nonlinearity", "theta", "phi0")}
        extra["desync"] = min(d["desync"], units - 1)  # the mismatch must be shorter than the loop
        return physical.PhotonicDelay(in_size, units, key=key, gain=gain, input_scaling=d["input_scaling"], **extra)
    raise ValueError(f"`substrate` must be one of {SUBSTRATES}, got {substrate!r}")


def _energy(reservoir) -> dict | None:
    """Joules per input sample (substrate and digital baseline), or None if no estimate exists."""
    try:
        import physical

        rep = physical.energy_per_step(reservoir)
    except (ImportError, ValueError):
        return None
    return {"joules": rep.joules, "baseline_joules": rep.baseline_joules}


JSON_KEYS = ("task", "substrate", "units", "gain", "seed", "nrmse", "vpt", "fit_seconds", "forecast_seconds")
SWEEP_JSON_KEYS = ("gain", "lyapunov", "memory_capacity", "nrmse", "edge_of_chaos", "best_gain")


def parse_gains(text: str):
    """`"0.1:2.0:64"` -> 64 values from 0.1 to 2.0; `"0.5,0.9,1.3"` -> those values."""
    import numpy as np

    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            lo, hi, n = float(lo), float(hi), int(n)
            if n < 1:
                raise ValueError
            values = np.linspace(lo, hi, n)
        else:
            values = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT or a comma-separated list, got {text!r}") from None
    if values.size == 0 or not np.all(np.isfinite(values) & (values > 0)):
        raise argparse.ArgumentTypeError(f"gains must be finite and > 0, got {text!r}")
    return values


def run_sweep(
    task: str = "mackey-glass",
    *,
    substrate: str = "esn",
    gains=None,
    units: int | None = None,
    seed: int = 0,
    n_steps: int = 3000,
    memory_capacity: bool = True,
    progress: bool = True,
):
    """Sweep the gain of a reservoir on a task's one-step prediction; returns the `SweepResult`."""
    import jax
    import numpy as np

    import reservoirs as rc

    if task not in PRESETS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}")
    if substrate not in SUBSTRATES:
        raise ValueError(f"`substrate` must be one of {SUBSTRATES}, got {substrate!r}")
    p = PRESETS[task]
    gains = np.linspace(0.1, 2.0, 32) if gains is None else np.asarray(gains)
    if units is None:
        units = SUBSTRATE_DEFAULTS[substrate]["units"] if substrate in SUBSTRATE_DEFAULTS else 200
    k_data, k_res, k_sweep = jax.random.split(jax.random.key(seed), 3)
    values = _series(task, n_steps + 1, k_data, p).values
    z = (values - values.mean(0)) / values.std(0)
    esn = build_reservoir(substrate, values.shape[1], units, float(gains[0]), k_res, p)
    return rc.sweep(
        esn, z[:-1], z[1:], gains=gains, readout=rc.Ridge(p.alpha, input_passthrough=p.passthrough),
        washout=min(p.washout, n_steps // 5), memory_capacity=memory_capacity, key=k_sweep, progress=progress,
    )


def _plot_forecast(r: dict, path: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._plot import plot_attractor, plot_forecast

    title = f"{r['task']}: {r['substrate']} N={r['units']}, gain {r['gain']:g}, seed {r['seed']}"
    fig = plot_forecast(
        r["truth"], r["prediction"], dt=r["dt"], lyapunov_time=r["lyapunov_time"], vpt=r["vpt"], title=title
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written = [path]
    if r["task"] == "lorenz":
        fig = plot_attractor(r["truth"], r["prediction"], title="Lorenz-63: truth and closed-loop forecast")
        p3 = path.with_name(path.stem + "_attractor" + path.suffix)
        fig.savefig(p3, dpi=120)
        plt.close(fig)
        written.append(p3)
    return written


def _fmt(v, spec=".3g"):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _summary(r: dict) -> str:
    lines = [
        f"task       {r['task']} ({r['horizon']} closed-loop steps after {PRESETS[r['task']].train} training samples)",
        f"substrate  {r['substrate']}, {r['units']} units, gain {r['gain']:g}, seed {r['seed']}",
        f"NRMSE      {_fmt(r['nrmse'])}  (sigma-normalised, over the forecast horizon)",
        f"VPT        {_fmt(r['vpt'], '.2f')} Lyapunov times (threshold 0.4)",
        f"fit        {r['fit_seconds']:.2f} s   forecast {r['forecast_seconds']:.2f} s  (wall, including compilation)",
    ]
    e = r.get("energy_per_step")
    if e is not None:
        lines.append(f"energy     {e['joules']:.3g} J per step (digital ESN of the same feature count: "
                     f"{e['baseline_joules']:.3g} J; `physical.energy_per_step`)")
    if r["diverged"]:
        lines.append("warning    the closed-loop forecast diverged (outputs after that step are NaN)")
    return "\n".join(lines)


def _cmd_forecast(args) -> int:
    r = run_forecast(args.task, substrate=args.substrate, units=args.units, gain=args.gain, seed=args.seed)
    written = _plot_forecast(r, Path(args.plot)) if args.plot else []
    if args.json:
        print(json.dumps({k: r[k] for k in JSON_KEYS}))
    else:
        print(_summary(r))
        for p in written:
            print(f"figure     {p}")
    return 0


def _cmd_sweep(args) -> int:
    r = run_sweep(
        args.task, substrate=args.substrate, gains=args.gains, units=args.units, seed=args.seed,
        memory_capacity=not args.no_memory_capacity, progress=not args.json,
    )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.close(r.plot(args.plot))
    d = r.to_dict()
    if args.json:
        print(json.dumps({k: d[k] for k in SWEEP_JSON_KEYS}))
        return 0
    print(f"gain sweep: {args.substrate}, {args.units or 'default'} units, {len(r)} gains, one-step {args.task} "
          f"(seed {args.seed})")
    print(r.table())
    edge = d["edge_of_chaos"]
    print(f"edge of chaos (largest exponent crosses 0): {'none in range' if edge is None else format(edge, '.4g')}")
    print(f"best gain (lowest test NRMSE): {d['best_gain']:.4g}" if d["best_gain"] is not None else "best gain: none")
    n_bad = int(r.diverged.sum())
    if n_bad:
        print(f"{n_bad} configuration(s) diverged (marked in the table)")
    if args.plot:
        print(f"figure: {args.plot}")
    return 0


def _cmd_demo(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    print(f"reservoirs demo: closed-loop forecasting with echo-state networks (float64); figures go to {out}/")
    rows = []
    plan = (("mackey-glass", 300), ("lorenz", 400), ("rossler", 300))
    for task, units in plan:
        if args.quick:
            units = 60
        print(f"  [{len(rows) + 1}/{len(plan)}] {task}: fitting N={units} and forecasting ...", flush=True)
        r = run_forecast(task, units=units, seed=args.seed, horizon=200 if args.quick else None)
        written = _plot_forecast(r, out / f"forecast_{task}.png")
        rows.append((r, written))
    print()
    header = f"{'task':<14}{'units':>6}{'gain':>6}{'NRMSE':>10}{'VPT (Lyap.)':>13}{'fit s':>8}{'fcst s':>8}"
    print(header)
    print("-" * len(header))
    for r, _ in rows:
        print(
            f"{r['task']:<14}{r['units']:>6}{r['gain']:>6.2f}{_fmt(r['nrmse']):>10}{_fmt(r['vpt'], '.2f'):>13}"
            f"{r['fit_seconds']:>8.2f}{r['forecast_seconds']:>8.2f}"
        )
    summary = [{k: r[k] for k in JSON_KEYS} for r, _ in rows]
    print()
    print("  [substrates] one-line swap: Henon closed-loop forecast on each substrate ...", flush=True)
    sub_rows = []
    plan_sub = (("esn", 40), ("memristor", 10), ("photonic", 40), ("lsm", 45)) if args.quick else (
        ("esn", 100), ("memristor", 25), ("photonic", 100), ("lsm", 135))
    for name, units in plan_sub:
        r = run_forecast("henon", substrate=name, units=units, seed=args.seed, horizon=20)
        e = r["energy_per_step"]
        sub_rows.append({k: r[k] for k in JSON_KEYS} | {"energy_per_step": e})
    header = f"{'substrate':<12}{'units':>6}{'gain':>6}{'NRMSE':>10}{'VPT (Lyap.)':>13}{'J/step':>10}{'digital J':>11}"
    print(header)
    print("-" * len(header))
    for r in sub_rows:
        e = r["energy_per_step"] or {"joules": math.nan, "baseline_joules": math.nan}
        print(f"{r['substrate']:<12}{r['units']:>6}{r['gain']:>6.2f}{_fmt(r['nrmse']):>10}{_fmt(r['vpt'], '.2f'):>13}"
              f"{e['joules']:>10.3g}{e['baseline_joules']:>11.3g}")
    print("(J/step: energy per input sample from cited per-operation energies, `physical.energy_per_step`)")
    print("  [sweep] gain sweep of an ESN on one-step Mackey-Glass ...", flush=True)
    sw = run_sweep("mackey-glass", gains=__import__("numpy").linspace(0.1, 2.0, 8 if args.quick else 32),
                   units=40 if args.quick else 100, n_steps=1000 if args.quick else 2000, progress=False)
    sw_fig = out / "sweep_mackey-glass.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close(sw.plot(sw_fig))
    sweep_d = sw.to_dict()
    (out / "summary.json").write_text(json.dumps({"forecasts": summary, "substrates": sub_rows, "sweep": sweep_d},
                                                 indent=2))
    edge = sweep_d["edge_of_chaos"]
    print(f"gain sweep ({len(sw)} gains, N={40 if args.quick else 100}): edge of chaos at gain "
          f"{'n/a' if edge is None else format(edge, '.3g')}, best one-step NRMSE at gain {_fmt(sweep_d['best_gain'])}")
    print()
    print("NRMSE: sigma-normalised over the forecast horizon; VPT: valid prediction time, threshold 0.4;")
    print("times: wall clock including JIT compilation.")
    print(f"figures: {', '.join(str(p) for _, w in rows for p in w)}, {sw_fig}")
    print(f"summary: {out / 'summary.json'}   total {time.perf_counter() - t_start:.1f} s")
    return 0


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s}")
    return v


def _nonneg_float(s: str) -> float:
    v = float(s)
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s}")
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reservoirs", description="Reservoir computing on JAX.")
    sub = parser.add_subparsers(dest="command", required=True)

    f = sub.add_parser("forecast", help="train on a chaotic series and forecast it in closed loop")
    f.add_argument("--task", choices=TASKS, default="mackey-glass")
    f.add_argument("--substrate", choices=SUBSTRATES, default="esn")
    f.add_argument("--units", type=_positive_int, default=None, help="reservoir size N (default: task preset)")
    f.add_argument("--gain", type=_nonneg_float, default=None,
                   help="the gain knob: spectral radius (esn), feedback drive gain (memristor), feedback strength "
                        "(photonic), synaptic scale (lsm); default: task or substrate preset")
    f.add_argument("--seed", type=int, default=0, help="PRNG seed for the data and the reservoir")
    f.add_argument("--json", action="store_true", help="print exactly one JSON object")
    f.add_argument("--plot", metavar="FILE", default=None, help="write forecast vs truth (and a 3-D attractor)")
    f.set_defaults(func=_cmd_forecast)

    s = sub.add_parser("sweep", help="sweep the gain: Lyapunov exponent, memory capacity and error vs gain")
    s.add_argument("--task", choices=TASKS, default="mackey-glass")
    s.add_argument("--substrate", choices=SUBSTRATES, default="esn")
    s.add_argument("--gains", type=parse_gains, default=parse_gains("0.1:2.0:32"), help="START:STOP:COUNT or a,b,c")
    s.add_argument("--units", type=_positive_int, default=None, help="reservoir size (default: 200 or per substrate)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-memory-capacity", action="store_true", help="skip the memory-capacity measurement")
    s.add_argument("--json", action="store_true", help="print exactly one JSON object")
    s.add_argument("--plot", metavar="FILE", default=None, help="write exponent / memory / error against gain")
    s.set_defaults(func=_cmd_sweep)

    d = sub.add_parser("demo", help="the main job on built-in defaults: forecasts, a table and figures")
    d.add_argument("--out", default="reservoirs-demo", help="output folder (default: ./reservoirs-demo)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quick", action="store_true", help="small reservoirs and short horizons (a smoke test)")
    d.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"reservoirs: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: `reservoirs forecast | sweep | classify | demo` (also `python -m reservoirs`).

The CLI turns float64 on (accuracy figures are measured in float64); the library itself never does on import.
Reservoirs are looked up in the registry (`reservoirs.registry()`), which each reservoir's own module fills, so a
new substrate appears here without this file changing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

from ._presets import PRESETS, Preset
from ._registry import CLASSIFY_TASKS, FORECAST_TASKS, get_reservoir_entry, registry

TASKS = FORECAST_TASKS
#: The largest seed: `jax.random.key` takes a 32-bit unsigned seed on every backend.
MAX_SEED = 2**32 - 1
#: File types matplotlib writes that a user would ask for.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")

JSON_KEYS = ("task", "substrate", "units", "gain", "seed", "nrmse", "vpt", "fit_seconds", "forecast_seconds",
             "diverged", "diverged_at", "vpt_capped", "nrmse_window", "one_step_nrmse", "horizon", "forecast_note")
SWEEP_JSON_KEYS = ("gain", "lyapunov", "memory_capacity", "nrmse", "edge_of_chaos", "best_gain")
from ._classify import CLASSIFY_JSON_KEYS  # noqa: E402


def _series(task: str, n: int, key, preset: Preset):
    import tasks

    gen = {
        "mackey-glass": tasks.mackey_glass,
        "lorenz": tasks.lorenz,
        "rossler": tasks.rossler,
        "henon": tasks.henon,
    }[task]
    return gen(n, key=key, **preset.series_kwargs)


def _check_task(task: str, allowed=TASKS) -> None:
    if task not in allowed:
        raise ValueError(f"`task` must be one of {allowed}, got {task!r}")


def _readout_settings(entry, task: str, p: Preset) -> tuple[float, bool]:
    d = entry.task_defaults.get(task, {})
    return float(d.get("alpha", p.alpha)), bool(d.get("passthrough", p.passthrough))


_PROTOCOL_KEYS = ("train", "washout", "horizon", "series_kwargs")


def _protocol(entry, task: str) -> tuple[Preset, bool]:
    """The task's data protocol (`PRESETS[task]`) with the substrate's own overrides, and whether to standardise."""
    import dataclasses

    d = entry.task_defaults.get(task, {})
    p = dataclasses.replace(PRESETS[task], **{k: d[k] for k in _PROTOCOL_KEYS if k in d})
    return p, bool(d.get("standardize", True))


def build_reservoir(substrate: str, in_size: int, units: int | None, gain: float | None, key, task: str):
    """The reservoir a CLI command runs, from the registry: `(reservoir, units, gain)` with the defaults filled."""
    entry = get_reservoir_entry(substrate)
    d_units, d_gain = entry.defaults(task)
    units = d_units if units is None else int(units)
    gain = d_gain if gain is None else float(gain)
    if gain < entry.min_gain:
        raise ValueError(f"`gain` must be >= {entry.min_gain:g} for {substrate}, got {gain:g}")
    return entry.build(in_size, units, gain, key=key, task=task), units, gain


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

    The model standardises the series with the training mean and std (`fit(..., standardize=True)`) and forecasts
    in data units; the forecast continues from the end of training and is compared with the true continuation.
    The data protocol (training length, washout, horizon, sampling step) is the task's `PRESETS` entry, unless the
    substrate registers its own (NG-RC on Lorenz: Gauthier et al. 2021's 400 training samples at dt = 0.025).
    Headline `nrmse`: over the first Lyapunov time of the forecast (`nrmse_window` steps), where a chaotic forecast
    can still be judged; `one_step_nrmse`: teacher-forced on the same test window. Times include JIT compilation
    (what a user waits for). Returns a dict with the CLI's JSON keys plus arrays for plotting.
    """
    import jax
    import jax.numpy as jnp

    import reservoirs as rc

    _check_task(task)
    entry = get_reservoir_entry(substrate)
    p, standardize = _protocol(entry, task)
    horizon = p.horizon if horizon is None else int(horizon)
    k_data, k_res, k_noise = jax.random.split(jax.random.key(seed), 3)
    series = _series(task, p.train + 1 + horizon, k_data, p)
    values = series.values
    train, test = values[: p.train + 1], values[p.train + 1 :]
    reservoir, units, gain = build_reservoir(substrate, values.shape[1], units, gain, k_res, task)
    alpha, passthrough = _readout_settings(entry, task, p)
    key = k_noise if reservoir.stochastic else None
    t0 = time.perf_counter()
    readout = rc.Ridge(alpha, input_passthrough=passthrough)
    model = jax.block_until_ready(rc.fit(reservoir, train[:-1], train[1:], readout=readout, washout=p.washout,
                                         key=key, standardize=standardize))
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # divergence is reported in the result instead
        result = jax.block_until_ready(rc.forecast(model, horizon, key=None if key is None else
                                                   jax.random.fold_in(key, 1)))
        one_step, _ = rc.predict(model, jnp.concatenate([train[-1:], test[:-1]]),
                                 key=None if key is None else jax.random.fold_in(key, 2))
    forecast_seconds = time.perf_counter() - t0
    pred = result.outputs
    sigma = train.std(0)
    lt = series.lyapunov_time
    window = max(2, min(horizon, math.ceil(lt / series.dt))) if lt else horizon
    head = pred[:window]
    nrmse = (float(rc.nrmse(test[:window], head, sigma=sigma)) if bool(jnp.all(jnp.isfinite(head)))
             else math.inf)
    ok1 = bool(jnp.all(jnp.isfinite(one_step)))
    one_step_nrmse = float(rc.nrmse(test, one_step, sigma=sigma)) if ok1 else math.inf
    vpt, capped = None, False
    if lt:
        v = rc.valid_prediction_time(test, pred, dt=series.dt, lyapunov_time=lt, sigma=sigma, return_capped=True)
        vpt, capped = float(v[0]), bool(v[1])
    diverged = bool(result.diverged)
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
        "diverged": diverged,
        "diverged_at": int(result.diverged_at) if diverged else None,
        "vpt_capped": capped,
        "nrmse_window": int(window),
        "one_step_nrmse": one_step_nrmse,
        "horizon": int(horizon),
        "forecast_note": None if entry.forecasts else entry.forecast_note,
        "train_samples": int(p.train),
        "dt": float(series.dt),
        "lyapunov_time": lt,
        "truth": test,
        "prediction": pred,
        "energy_per_step": _energy(reservoir),
    }


def _energy(reservoir) -> dict | None:
    """Joules per input sample (substrate and digital baseline), or None if no estimate exists."""
    try:
        import physical

        rep = physical.energy_per_step(reservoir)
    except (ImportError, ValueError):
        return None
    return {"joules": rep.joules, "baseline_joules": rep.baseline_joules}


def parse_gains(text: str):
    """`"0.1:2.0:64"` -> 64 values from 0.1 to 2.0; `"0.5,0.9,1.3"` -> those values (each finite and >= 0)."""
    import numpy as np

    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            lo, hi, n = float(lo), float(hi), int(n)
            if not 1 <= n <= 100_000:
                raise ValueError
            values = np.linspace(lo, hi, n)
        else:
            values = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:STOP:COUNT (COUNT in 1..100000) or a comma-separated list of numbers, got {text!r}"
        ) from None
    if values.size == 0 or not np.all(np.isfinite(values) & (values >= 0)):
        raise argparse.ArgumentTypeError(f"gains must be finite and >= 0, got {text!r}")
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
    """Sweep the gain of a reservoir on a task's one-step prediction; returns the `SweepResult`.

    Without `gains`, 32 values span the substrate's own ordered-to-chaotic range (`ReservoirEntry.sweep_gains`).
    """
    import jax
    import numpy as np

    import reservoirs as rc

    _check_task(task)
    entry = get_reservoir_entry(substrate)
    if not entry.sweeps:
        raise ValueError(f"`substrate` {substrate!r} has no gain to sweep: {entry.sweep_note}")
    p = PRESETS[task]
    gains = np.linspace(*entry.sweep_gains, 32) if gains is None else np.asarray(gains, dtype=float)
    if gains.ndim != 1 or gains.size == 0:
        raise ValueError(f"`gains` must be a non-empty 1-D list of values, got shape {gains.shape}")
    if np.any(gains < entry.min_gain):
        raise ValueError(f"`gains` must all be >= {entry.min_gain:g} for {substrate}, got min {gains.min():g}")
    units = entry.units if units is None else units
    k_data, k_res, k_sweep = jax.random.split(jax.random.key(seed), 3)
    values = _series(task, n_steps + 1, k_data, p).values
    z = (values - values.mean(0)) / values.std(0)
    reservoir, units, _ = build_reservoir(substrate, values.shape[1], units, float(gains[0]), k_res, task)
    alpha, passthrough = _readout_settings(entry, task, p)
    result = rc.sweep(
        reservoir, z[:-1], z[1:], gains=gains, readout=rc.Ridge(alpha, input_passthrough=passthrough),
        washout=min(p.washout, n_steps // 5), memory_capacity=memory_capacity, key=k_sweep, progress=progress, task=task,
    )
    result.info["title"] = f"{substrate}, N={units}, one-step {task}"
    return result


# ----------------------------------------------------------------------------------------------------- output


def check_writable(path: str | Path, *, figure: bool, what: str) -> Path:
    """Fail before any work if `path` cannot be written (missing permission, a directory, a non-figure suffix)."""
    path = Path(path)
    if figure and path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ValueError(f"`{what}` must end in one of {', '.join(FIGURE_SUFFIXES)}, got {str(path)!r}")
    if path.exists() and path.is_dir() and figure:
        raise ValueError(f"`{what}` {str(path)!r} is a directory, expected a file name")
    parent = (path if not figure else path.parent).resolve()
    import os
    import tempfile

    try:  # the folder is made now (the command would make it anyway) and a probe file written and removed
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise ValueError(f"`{what}` {str(path)!r} cannot be written: {e.strerror or e}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"`{what}` {str(path)!r} exists and is not writable")
    return path


def _save(save, path, what: str) -> list[Path]:
    """Run `save()`; on failure report on stderr and carry on, so the results already computed are still printed."""
    try:
        out = save()
        return list(out) if isinstance(out, list) else [Path(path)]
    except OSError as e:
        print(f"reservoirs: warning: could not write {what} {str(path)!r}: {e}", file=sys.stderr)
        return []


def _plot_forecast(r: dict, path: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._plot import plot_attractor, plot_forecast

    title = f"{r['task']}: {r['substrate']} N={r['units']}, gain {r['gain']:g}, seed {r['seed']}"
    fig = plot_forecast(
        r["truth"], r["prediction"], dt=r["dt"], lyapunov_time=r["lyapunov_time"], vpt=r["vpt"], title=title,
        vpt_capped=r["vpt_capped"], diverged_at=r["diverged_at"],
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
    if isinstance(v, str):  # "inf" / "-inf" from `_json_safe`
        return v
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _vpt_text(r: dict) -> str:
    if r["vpt"] is None:
        return "n/a"
    return ("≥ " if r["vpt_capped"] else "") + format(r["vpt"], ".2f")


def _summary(r: dict) -> str:
    lt_steps = r["nrmse_window"]
    lines = [
        f"task       {r['task']} ({r['horizon']} closed-loop steps after {r['train_samples']} training samples)",
        f"substrate  {r['substrate']}, {r['units']} units, gain {r['gain']:g}, seed {r['seed']}",
    ]
    if r["forecast_note"]:
        lines.append(f"verdict    no usable forecast: {r['forecast_note']}")
    lines += [
        f"NRMSE      {_fmt(r['nrmse'])}  (sigma-normalised, closed loop, over the first {lt_steps} steps = the first "
        f"Lyapunov time)",
        f"one-step   {_fmt(r['one_step_nrmse'])}  (teacher-forced NRMSE over the same test window)",
        f"VPT        {_vpt_text(r)} Lyapunov times (threshold 0.4)"
        + ("  [a lower bound: the forecast was still valid at the end of the horizon]" if r["vpt_capped"] else ""),
        f"fit        {r['fit_seconds']:.2f} s   forecast {r['forecast_seconds']:.2f} s  (wall, including compilation)",
    ]
    e = r.get("energy_per_step")
    if e is not None:
        lines.append(f"energy     {e['joules']:.3g} J per step (digital ESN of the same feature count: "
                     f"{e['baseline_joules']:.3g} J; `physical.energy_per_step`)")
    if r["diverged"]:
        lines.append(f"warning    the closed-loop forecast diverged at step {r['diverged_at']} of {r['horizon']} "
                     "(outputs after it are NaN)")
    return "\n".join(lines)


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _cmd_forecast(args) -> int:
    if args.plot:
        check_writable(args.plot, figure=True, what="--plot")
    r = run_forecast(args.task, substrate=args.substrate, units=args.units, gain=args.gain, seed=args.seed)
    written = _save(lambda: _plot_forecast(r, Path(args.plot)), args.plot, "the figure") if args.plot else []
    if args.json:
        print(json.dumps({k: _json_safe(r[k]) for k in JSON_KEYS}))
    else:
        print(_summary(r))
        for p in written:
            print(f"figure     {p}")
    return 0


def _cmd_sweep(args) -> int:
    if args.plot:
        check_writable(args.plot, figure=True, what="--plot")
    r = run_sweep(
        args.task, substrate=args.substrate, gains=args.gains, units=args.units, seed=args.seed,
        memory_capacity=not args.no_memory_capacity, progress=not args.json,
    )
    written = []
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        def save():
            plt.close(r.plot(args.plot, title=r.info.get("title")))
            return [Path(args.plot)]

        written = _save(save, args.plot, "the figure")
    d = r.to_dict()
    if args.json:
        print(json.dumps({k: d[k] for k in SWEEP_JSON_KEYS}))
        return 0
    entry = get_reservoir_entry(args.substrate)
    print(f"gain sweep: {r.info.get('title')}, {len(r)} gains ({entry.gain_unit}) (seed {args.seed})")
    print(r.table())
    edge = d["edge_of_chaos"]
    print("edge of chaos (the largest exponent turns positive and stays positive): "
          + ("none in range: the exponent never turns positive and stays so here" if edge is None
             else format(edge, ".4g")))
    print(f"best gain (lowest test NRMSE): {d['best_gain']:.4g}" if d["best_gain"] is not None else "best gain: none")
    n_bad = int(r.diverged.sum())
    if n_bad:
        print(f"{n_bad} configuration(s) diverged (marked in the table)")
    for p in written:
        print(f"figure: {p}")
    return 0


TUNE_JSON_KEYS = ("task", "substrate", "units", "seed", "method", "params", "default_params", "validation_nrmse",
                  "default_validation_nrmse", "test_nrmse", "default_test_nrmse", "evaluations", "diverged",
                  "seconds")


def run_tune(
    task: str = "mackey-glass",
    *,
    substrate: str = "esn",
    units: int | None = None,
    seed: int = 0,
    method: str = "auto",
    steps: int = 40,
    restarts: int = 2,
    progress: bool = False,
) -> dict:
    """Tune a registered reservoir's hyperparameters on a task's one-step prediction, against its preset.

    The task's training split (the same series, split and standardisation as `run_forecast`) is cut again: its
    last quarter validates (`reservoirs.tune`). The preset and the tuned reservoir are then each fitted on the whole
    training split and scored one step ahead (teacher-forced) on the test window that follows it, σ-normalised with
    the training std. `method="auto"`: gradient descent (Adam, `restarts` starts as one vmapped population, `steps`
    steps) where the reservoir is differentiable, else a random population of `steps * restarts` configurations.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    import reservoirs as rc

    _check_task(task)
    if method not in ("auto", "gradient", "random"):
        raise ValueError(f"`method` must be 'auto', 'gradient' or 'random', got {method!r}")
    entry = get_reservoir_entry(substrate)
    p, standardize = _protocol(entry, task)
    k_data, k_res, k_noise = jax.random.split(jax.random.key(seed), 3)
    n_test = min(p.horizon, 1000)
    values = _series(task, p.train + 1 + n_test, k_data, p).values
    train, test = values[: p.train + 1], values[p.train + 1 :]
    mean, std = (train.mean(0), train.std(0)) if standardize else (0.0, 1.0)
    z_tr, z_te = (train - mean) / std, (test - mean) / std
    reservoir, units, gain = build_reservoir(substrate, values.shape[1], units, None, k_res, task)
    alpha, passthrough = _readout_settings(entry, task, p)
    if method == "auto":
        method = "gradient" if getattr(reservoir, "differentiable", True) else "random"
    nkey = k_noise if reservoir.stochastic else None

    def test_nrmse(res, ridge):
        model = rc.fit(res, z_tr[:-1], z_tr[1:], readout=ridge, washout=p.washout, key=nkey, standardize=False)
        pred, _ = rc.predict(model, jnp.concatenate([z_tr[-1:], z_te[:-1]]), key=nkey)
        return float(rc.nrmse(z_te, pred, sigma=1.0)) if bool(jnp.all(jnp.isfinite(pred))) else math.inf

    default_test = test_nrmse(reservoir, rc.Ridge(alpha, input_passthrough=passthrough))
    result = rc.tune(reservoir, z_tr[:-1], z_tr[1:], alpha=alpha, input_passthrough=passthrough, method=method,
                     steps=steps, restarts=restarts, population=steps * restarts, washout=p.washout,
                     key=jax.random.fold_in(k_res, 7), noise_key=nkey, progress=progress)
    tuned_test = test_nrmse(result.reservoir, result.readout)
    return {
        "task": task,
        "substrate": substrate,
        "units": int(units),
        "seed": int(seed),
        "method": result.method,
        "params": result.params,
        "default_params": result.initial,
        "validation_nrmse": result.validation_nrmse,
        "default_validation_nrmse": result.initial_nrmse,
        "test_nrmse": tuned_test,
        "default_test_nrmse": default_test,
        "evaluations": result.evaluations,
        "diverged": int(np.sum(result.diverged)),
        "seconds": result.seconds,
        "result": result,
    }


def _cmd_tune(args) -> int:
    if args.plot:
        check_writable(args.plot, figure=True, what="--plot")
    r = run_tune(args.task, substrate=args.substrate, units=args.units, seed=args.seed, method=args.method,
                 steps=args.steps, restarts=args.restarts, progress=not args.json and sys.stderr.isatty())

    def plot():
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = r["result"].plot(label=f"{r['method']} ({r['substrate']}, {r['task']})")
        ax.axhline(r["default_validation_nrmse"], color="k", ls=":", lw=0.8, label="preset")
        ax.legend(fontsize=8)
        ax.set_title(f"tuning {r['substrate']} on one-step {r['task']}")
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=120)
        plt.close(ax.figure)
        return [Path(args.plot)]

    written = _save(plot, args.plot, "the figure") if args.plot else []
    if args.json:
        print(json.dumps({k: _json_safe(r[k]) for k in TUNE_JSON_KEYS}))
        return 0
    print(f"task       {r['task']} (one-step; the training split's last quarter validates)")
    print(f"substrate  {r['substrate']}, {r['units']} units, seed {r['seed']}; {r['method']} search, "
          f"{r['evaluations']} evaluations in {r['seconds']:.1f} s ({r['diverged']} diverged)")
    print(f"{'parameter':<16}{'preset':>12}{'tuned':>12}")
    for k, v in r["params"].items():
        print(f"{k:<16}{r['default_params'][k]:>12.4g}{v:>12.4g}")
    print(f"validation NRMSE  preset {_fmt(r['default_validation_nrmse'])}  tuned {_fmt(r['validation_nrmse'])}")
    print(f"test NRMSE        preset {_fmt(r['default_test_nrmse'])}  tuned {_fmt(r['test_nrmse'])}")
    for path in written:
        print(f"figure     {path}")
    return 0


def _cmd_classify(args) -> int:
    from ._classify import plot_classification, run_classify

    if args.plot:
        check_writable(args.plot, figure=True, what="--plot")
    r = run_classify(args.task, substrate=args.substrate, units=args.units, gain=args.gain, seed=args.seed)
    written = _save(lambda: plot_classification(r, Path(args.plot)), args.plot, "the figure") if args.plot else []
    if args.json:
        keys = list(CLASSIFY_JSON_KEYS) + [k for k in ("n_train", "n_test", "chance", "confusion") if k in r]
        print(json.dumps({k: _json_safe(r[k]) for k in keys}))
        return 0
    print(f"task       {r['task']} ({r.get('n_train', '?')} training / {r.get('n_test', '?')} test samples)")
    print(f"substrate  {r['substrate']}, {r['units']} units, gain {r['gain']:g}, seed {r['seed']}")
    print(f"accuracy   {r['accuracy']:.4f}   raw-input linear baseline {r['baseline_accuracy']:.4f}"
          + (f"   chance {r['chance']:.2f}" if "chance" in r else ""))
    if "confusion" in r:
        print("confusion  (rows: true class, columns: predicted)")
        for row in r["confusion"]:
            print("           " + " ".join(f"{int(v):>6d}" for v in row))
    print(f"fit        {r['fit_seconds']:.2f} s (wall, including compilation)")
    for p in written:
        print(f"figure     {p}")
    return 0


_DEMO_RSS_LIMIT_MB = 800


def _resident_mb() -> float:
    """This process's resident memory (Linux: current; elsewhere: the peak so far), in MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _release_compiled() -> None:
    """Drop JAX's compiled programs once the process holds more than `_DEMO_RSS_LIMIT_MB`. The demo runs about
    sixteen independent pipelines (tasks, substrates, the classification) whose programs are rarely used again;
    kept, they add up (1.2 GB for `demo --quick`). Dropping them after every pipeline bounds the memory but
    recompiles the small shared programs each time (+40 s on `--quick`); dropping them past the limit costs a
    few seconds."""
    if _resident_mb() <= _DEMO_RSS_LIMIT_MB:
        return
    import gc

    import jax

    jax.clear_caches()
    gc.collect()


def _cmd_demo(args) -> int:
    out = check_writable(args.out, figure=False, what="--out")
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    print(f"reservoirs demo: closed-loop forecasting with echo-state networks (float64); figures go to {out}/")
    rows = []
    plan = (("mackey-glass", 300), ("lorenz", 400), ("rossler", 300))
    for task, units in plan:
        if args.quick:
            units = 60
        print(f"  [{len(rows) + 1}/{len(plan)}] {task}: fitting N={units} and forecasting ...", flush=True)
        r = run_forecast(task, units=units, seed=args.seed, horizon=300 if args.quick else None)
        written = _save(lambda r=r, task=task: _plot_forecast(r, out / f"forecast_{task}.png"),
                        out / f"forecast_{task}.png", "the figure")
        rows.append((r, written))
        _release_compiled()
    print()
    header = (f"{'task':<14}{'units':>6}{'gain':>6}{'NRMSE(1 LT)':>13}{'one-step':>10}{'VPT (Lyap.)':>13}"
              f"{'fit s':>8}{'fcst s':>8}")
    print(header)
    print("-" * len(header))
    for r, _ in rows:
        print(
            f"{r['task']:<14}{r['units']:>6}{r['gain']:>6.2f}{_fmt(r['nrmse']):>13}{_fmt(r['one_step_nrmse']):>10}"
            f"{_vpt_text(r):>13}{r['fit_seconds']:>8.2f}{r['forecast_seconds']:>8.2f}"
        )
    summary = [{k: _json_safe(r[k]) for k in JSON_KEYS} for r, _ in rows]
    print()
    print("  [substrates] one-line swap: Mackey-Glass closed-loop forecast on each substrate at its defaults ...",
          flush=True)
    sub_rows = []
    for name, entry in registry().items():
        if not entry.forecasts:  # registered as unable to forecast: say why, cost the energy, skip the closed loop
            import jax

            units, gain = entry.defaults("mackey-glass")
            reservoir = entry.build(1, units, gain, key=jax.random.key(args.seed), task="mackey-glass")
            row = dict.fromkeys(JSON_KEYS) | {"task": "mackey-glass", "substrate": name, "units": units,
                                              "gain": gain, "seed": args.seed, "diverged": False,
                                              "vpt_capped": False, "forecast_note": entry.forecast_note}
            sub_rows.append(row | {"energy_per_step": _energy(reservoir)})
            continue
        r = run_forecast("mackey-glass", substrate=name, seed=args.seed, horizon=300 if args.quick else None)
        sub_rows.append({k: _json_safe(r[k]) for k in JSON_KEYS} | {"energy_per_step": r["energy_per_step"]})
        _release_compiled()
    header = (f"{'substrate':<12}{'units':>6}{'gain':>7}{'NRMSE(1 LT)':>13}{'one-step':>10}{'VPT (Lyap.)':>13}"
              f"{'J/step':>10}{'digital J':>11}")
    print(header)
    print("-" * len(header))
    for r in sub_rows:
        e = r["energy_per_step"] or {"joules": math.nan, "baseline_joules": math.nan}
        vpt = _vpt_text(r) if r["vpt"] is not None else "n/a"
        flag = "  (diverged)" if r["diverged"] else ""
        flag += "  (cannot forecast: see note; not run)" if r["forecast_note"] else ""
        print(f"{r['substrate']:<12}{r['units']:>6}{r['gain']:>7.3g}{_fmt(r['nrmse']):>13}"
              f"{_fmt(r['one_step_nrmse']):>10}{vpt:>13}{e['joules']:>10.3g}{e['baseline_joules']:>11.3g}{flag}")
    print("(J/step: energy per input sample from cited per-operation energies, `physical.energy_per_step`)")
    for r in sub_rows:
        if r["forecast_note"]:
            print(f"note: {r['substrate']}: {r['forecast_note']}")
    cls_rows = []
    try:
        from ._classify import run_classify
    except ImportError:  # pragma: no cover
        run_classify = None
    if run_classify is not None:
        print()
        print("  [classify] sine/square waveforms (Torrejon et al. 2017) on each substrate ...", flush=True)
        for name in registry():
            r = run_classify("sine-square", substrate=name, seed=args.seed)
            cls_rows.append({k: _json_safe(r[k]) for k in CLASSIFY_JSON_KEYS})
            _release_compiled()
        header = f"{'substrate':<12}{'units':>6}{'gain':>7}{'accuracy':>10}{'raw baseline':>14}{'fit s':>8}"
        print(header)
        print("-" * len(header))
        for r in cls_rows:
            print(f"{r['substrate']:<12}{r['units']:>6}{r['gain']:>7.3g}{r['accuracy']:>10.4f}"
                  f"{r['baseline_accuracy']:>14.4f}{r['fit_seconds']:>8.2f}")
    print()
    print("  [sweep] gain sweep of an ESN on one-step Mackey-Glass ...", flush=True)
    import numpy as np

    sw = run_sweep("mackey-glass", gains=np.linspace(0.1, 2.0, 8 if args.quick else 32),
                   units=40 if args.quick else 100, n_steps=1000 if args.quick else 2000, progress=False)
    sw_fig = out / "sweep_mackey-glass.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save_sweep():
        plt.close(sw.plot(sw_fig, title=sw.info.get("title")))
        return [sw_fig]

    sw_written = _save(save_sweep, sw_fig, "the figure")
    sweep_d = sw.to_dict()
    summary_path = out / "summary.json"
    summary_text = json.dumps(
        {"forecasts": summary, "substrates": sub_rows, "classify": cls_rows, "sweep": sweep_d}, indent=2)
    _save(lambda: [summary_path] if summary_path.write_text(summary_text) else [], summary_path, "the summary")
    edge = sweep_d["edge_of_chaos"]
    print(f"gain sweep ({len(sw)} gains, N={40 if args.quick else 100}): edge of chaos at gain "
          f"{'none in range' if edge is None else format(edge, '.3g')}, best one-step NRMSE at gain "
          f"{_fmt(sweep_d['best_gain'])}")
    print()
    print("NRMSE(1 LT): sigma-normalised closed-loop error over the first Lyapunov time; one-step: teacher-forced;")
    print("VPT: valid prediction time, threshold 0.4 ('≥' marks a lower bound: still valid at the end of the horizon);")
    print("times: wall clock including JIT compilation.")
    figs = [str(p) for _, w in rows for p in w] + [str(p) for p in sw_written]
    print(f"figures: {', '.join(figs)}")
    print(f"summary: {summary_path}   total {time.perf_counter() - t_start:.1f} s")
    return 0


# ----------------------------------------------------------------------------------------------------- parser


def positive_int(s: str) -> int:
    """An integer >= 1 (argparse type; the message names the range)."""
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {s}")
    return v


def nonneg_float(s: str) -> float:
    """A finite number >= 0 (argparse type)."""
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s!r}") from None
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s}")
    return v


def seed_int(s: str) -> int:
    """A PRNG seed in [0, 2**32 - 1] (argparse type)."""
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_SEED}], got {s!r}") from None
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_SEED}], got {s}")
    return v


def _substrate_help() -> str:
    lines = ["registered reservoirs (--substrate):"]
    for name, e in registry().items():
        lo, hi = e.sweep_gains
        lines.append(f"  {name:<11} {e.description} (default sweep {lo:g}..{hi:g})")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    names = tuple(registry())
    parser = argparse.ArgumentParser(
        prog="reservoirs", description="Reservoir computing on JAX.", epilog=_substrate_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gain_help = "; ".join(f"{n}: {e.gain_unit}" for n, e in registry().items())

    f = sub.add_parser("forecast", help="train on a chaotic series and forecast it in closed loop",
                       epilog=_substrate_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--task", choices=TASKS, default="mackey-glass")
    f.add_argument("--substrate", choices=names, default="esn")
    f.add_argument("--units", type=positive_int, default=None, help="reservoir size (default: task/substrate preset)")
    f.add_argument("--gain", type=nonneg_float, default=None,
                   help=f"the gain knob, >= 0 ({gain_help}); default: task or substrate preset")
    f.add_argument("--seed", type=seed_int, default=0, help="PRNG seed for the data, the reservoir and its noise")
    f.add_argument("--json", action="store_true", help="print exactly one JSON object")
    f.add_argument("--plot", metavar="FILE", default=None,
                   help="write forecast vs truth (and a 3-D attractor for Lorenz); .png, .pdf, .svg or .jpg")
    f.set_defaults(func=_cmd_forecast)

    s = sub.add_parser("sweep", help="sweep the gain: Lyapunov exponent, memory capacity and error vs gain",
                       epilog=_substrate_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--task", choices=TASKS, default="mackey-glass")
    s.add_argument("--substrate", choices=names, default="esn")
    s.add_argument("--gains", type=parse_gains, default=None,
                   help="START:STOP:COUNT or a,b,c (>= 0); default: 32 values over the substrate's own range")
    s.add_argument("--units", type=positive_int, default=None, help="reservoir size (default: per substrate)")
    s.add_argument("--seed", type=seed_int, default=0)
    s.add_argument("--no-memory-capacity", action="store_true", help="skip the memory-capacity measurement")
    s.add_argument("--json", action="store_true", help="print exactly one JSON object")
    s.add_argument("--plot", metavar="FILE", default=None, help="write exponent / memory / error against gain")
    s.set_defaults(func=_cmd_sweep)

    c = sub.add_parser("classify", help="classify waveforms, delayed XOR or temporal patterns with a reservoir",
                       epilog=_substrate_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--task", choices=CLASSIFY_TASKS, default="sine-square")
    c.add_argument("--substrate", choices=names, default="esn")
    c.add_argument("--units", type=positive_int, default=None, help="reservoir size (default: per substrate)")
    c.add_argument("--gain", type=nonneg_float, default=None, help="the gain knob, >= 0 (default: per substrate)")
    c.add_argument("--seed", type=seed_int, default=0)
    c.add_argument("--json", action="store_true", help="print exactly one JSON object")
    c.add_argument("--plot", metavar="FILE", default=None, help="write the confusion matrix and sample inputs")
    c.set_defaults(func=_cmd_classify)

    t = sub.add_parser("tune", help="tune a reservoir's hyperparameters (gradient or random search) against its preset",
                       epilog=_substrate_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--task", choices=TASKS, default="mackey-glass")
    t.add_argument("--substrate", choices=names, default="esn")
    t.add_argument("--units", type=positive_int, default=None, help="reservoir size (default: task/substrate preset)")
    t.add_argument("--method", choices=("auto", "gradient", "random"), default="auto",
                   help="auto: gradient where the reservoir is differentiable, random otherwise")
    t.add_argument("--steps", type=positive_int, default=40, help="gradient steps (random: steps x restarts draws)")
    t.add_argument("--restarts", type=positive_int, default=2, help="starting points run as one vmapped population")
    t.add_argument("--seed", type=seed_int, default=0)
    t.add_argument("--json", action="store_true", help="print exactly one JSON object")
    t.add_argument("--plot", metavar="FILE", default=None, help="write best validation NRMSE against evaluations")
    t.set_defaults(func=_cmd_tune)

    d = sub.add_parser("demo", help="the main job on built-in defaults: forecasts, every substrate, a sweep")
    d.add_argument("--out", default="reservoirs-demo", help="output folder (default: ./reservoirs-demo)")
    d.add_argument("--seed", type=seed_int, default=0)
    d.add_argument("--quick", action="store_true", help="small reservoirs and short horizons (a smoke test)")
    d.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    argv = list(sys.argv[1:] if argv is None else argv)
    # `--gains -1,2`: argparse takes a value that starts with "-" for an option; glue it on, so that the value
    # reaches the gain check and gets its message
    for i in range(len(argv) - 1):
        if argv[i] == "--gains" and argv[i + 1].startswith("-"):
            argv[i : i + 2] = [f"--gains={argv[i + 1]}"]
            break
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"reservoirs: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

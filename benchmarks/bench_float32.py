"""float32 without x64 (JAX's default) against float64, on the CLI's Mackey-Glass and Lorenz presets.

Run from the repository root:

    python benchmarks/bench_float32.py           # 10 seeds per task; writes benchmarks/results/float32.{md,json}
    python benchmarks/bench_float32.py --quick   # 2 seeds, prints only

For each task and seed: the series is generated once in float64; the preset ESN is built once in float64 and cast
to float32 (the very same weights); then the same fit (`Ridge(alpha, solver=...)`, standardised data), teacher-forced
one-step prediction and closed-loop forecast run three ways:

- float64: x64 on, the default solver ("auto" = Gram statistics + Cholesky in float64);
- float32 auto: x64 off, the default solver ("auto" = streaming QR in float32);
- float32 gram: x64 off, the normal equations forced (`solver="gram"`), as the library did before the QR path.

Reported: one-step NRMSE on the test window, closed-loop NRMSE over the first Lyapunov time, valid prediction
time (threshold 0.4), and the fit time (median of 3 after a warm-up call, so compilation is excluded).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402

common.enable_x64()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import reservoirs as rc  # noqa: E402
from reservoirs._cli import PRESETS, _readout_settings, _series, build_reservoir  # noqa: E402
from reservoirs._registry import get_reservoir_entry  # noqa: E402

TASKS = ("mackey-glass", "lorenz")
MODES = (("float64", True, "auto"), ("float32 auto (QR)", False, "auto"), ("float32 gram", False, "gram"))


def to_numpy(tree):
    return jax.tree.map(lambda a: np.asarray(a) if eqx.is_inexact_array(a) else a, tree)


def from_numpy(tree):
    return jax.tree.map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, tree)


def run_one(task: str, seed: int, x64: bool, solver: str, reservoir_np, values: np.ndarray, lt: float,
            dt: float) -> dict:
    p = PRESETS[task]
    entry = get_reservoir_entry("esn")
    alpha, passthrough = _readout_settings(entry, task, p)
    with jax.enable_x64(x64):
        reservoir = from_numpy(reservoir_np)
        v = jnp.asarray(values)
        train, test = v[: p.train + 1], v[p.train + 1 :]
        readout = rc.Ridge(alpha, input_passthrough=passthrough, solver=solver)

        def fit():
            return jax.block_until_ready(rc.fit(reservoir, train[:-1], train[1:], readout=readout,
                                                washout=p.washout, standardize=True))

        model = fit()  # warm-up (compilation)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            model = fit()
            times.append(time.perf_counter() - t)
        result = rc.forecast(model, test.shape[0])
        one_step, _ = rc.predict(model, jnp.concatenate([train[-1:], test[:-1]]))
        pred = np.asarray(result.outputs, np.float64)
        one_step = np.asarray(one_step, np.float64)
        dtype = str(model.readout.weights.dtype)
    test = values[p.train + 1 :]
    sigma = values[: p.train + 1].std(0)
    window = max(2, math.ceil(lt / dt))
    ok = np.all(np.isfinite(pred[:window]))
    nrmse_lt = float(np.sqrt(np.mean(((pred[:window] - test[:window]) / sigma) ** 2))) if ok else math.inf
    one = float(np.sqrt(np.mean(((one_step - test) / sigma) ** 2))) if np.all(np.isfinite(one_step)) else math.inf
    err = np.sqrt(np.mean(((pred - test) / sigma) ** 2, axis=1))
    bad = ~(err <= 0.4)
    n_valid = int(np.argmax(bad)) if bad.any() else len(err)
    return {"task": task, "seed": seed, "one_step_nrmse": one, "nrmse_1lt": nrmse_lt,
            "vpt": n_valid * dt / lt, "capped": not bad.any(), "fit_s": statistics.median(times), "dtype": dtype}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seeds = [0, 1] if args.quick else list(range(10))
    rows = []
    for task in TASKS:
        p = PRESETS[task]
        for seed in seeds:
            k_data, k_res, _ = jax.random.split(jax.random.key(seed), 3)  # as `reservoirs forecast --seed`
            series = _series(task, p.train + 1 + p.horizon, k_data, p)
            values = np.asarray(series.values, np.float64)
            reservoir, _, _ = build_reservoir("esn", values.shape[1], None, None, k_res, task)
            reservoir_np = to_numpy(reservoir)
            for name, x64, solver in MODES:
                r = run_one(task, seed, x64, solver, reservoir_np, values, float(series.lyapunov_time),
                            float(series.dt)) | {"mode": name}
                rows.append(r)
                print(f"{task:<13} seed {seed} {name:<18} one-step {r['one_step_nrmse']:.3e}  "
                      f"NRMSE(1 LT) {r['nrmse_1lt']:.3e}  VPT {r['vpt']:.2f}{' (capped)' if r['capped'] else ''}  "
                      f"fit {r['fit_s']:.3f} s  [{r['dtype']}]", flush=True)

    def med(task, mode, key):
        return statistics.median(r[key] for r in rows if r["task"] == task and r["mode"] == mode)

    lines = [
        "## float32 without x64 against float64 (CLI presets, same weights)",
        "",
        *common.header_lines(),
        "",
        f"Seeds {seeds} (`reservoirs forecast --seed`); medians over seeds. Data generated in float64 and the float64 "
        "ESN cast to float32, so only the arithmetic differs. Fit time: median of 3 after a warm-up (no compilation). "
        "`python benchmarks/bench_float32.py`.",
        "",
        "| task | arithmetic | one-step NRMSE | ratio to f64 | NRMSE over 1 LT | VPT (Lyap.) | fit s | fit ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task in TASKS:
        ref1 = med(task, "float64", "one_step_nrmse")
        reft = med(task, "float64", "fit_s")
        for name, _, _ in MODES:
            o = med(task, name, "one_step_nrmse")
            lines.append(f"| {task} | {name} | {o:.3e} | {o / ref1:.2f}x | {med(task, name, 'nrmse_1lt'):.3e} | "
                         f"{med(task, name, 'vpt'):.2f} | {med(task, name, 'fit_s'):.3f} | "
                         f"{med(task, name, 'fit_s') / reft:.2f}x |")
    lines += ["", "Per seed, VPT: " + "; ".join(
        f"{task} {name}: " + ", ".join(f"{r['vpt']:.2f}" for r in rows if r["task"] == task and r["mode"] == name)
        for task in TASKS for name, _, _ in MODES), ""]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        common.RESULTS.mkdir(exist_ok=True)
        (common.RESULTS / "float32.md").write_text(text + "\n")
        (common.RESULTS / "float32.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

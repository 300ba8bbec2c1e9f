"""Lorenz valid prediction time after gradient tuning with a closed-loop loss, against the CLI's ESN preset.

Run from the repository root:

    python benchmarks/bench_tune_vpt.py     # writes benchmarks/results/tune_vpt.{md,json}

Tuning (held out from the evaluation): the CLI's Lorenz protocol with seed 100 (dt = 0.02, 10,000 training samples,
standardised; the README preset ESN, N = 500, pathak features, input pass-through), `rc.tune` of gain, leak, input
and bias scaling and log ridge by Adam on a closed-loop loss: the σ-normalised error over `HORIZON` steps from every
`STRIDE`-th sample of the last fifth of the training data. Evaluation: the CLI's protocol for seeds 0-9 (their own
data and reservoirs) with the preset's and with the tuned hyperparameters: closed-loop VPT (threshold 0.4) over
1400 steps (25 Lyapunov times).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402

common.enable_x64()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import reservoirs as rc  # noqa: E402
from reservoirs._cli import _series, build_reservoir  # noqa: E402
from reservoirs._presets import PRESETS  # noqa: E402
from reservoirs._tune import _with_values  # noqa: E402

HORIZON, STRIDE, STEPS = 50, 100, 80
P = PRESETS["lorenz"]


def split(seed):
    k_data, k_res, _ = jax.random.split(jax.random.key(seed), 3)
    series = _series("lorenz", P.train + 1 + P.horizon, k_data, P)
    v = np.asarray(series.values)
    train, test = v[: P.train + 1], v[P.train + 1 :]
    mu, sd = train.mean(0), train.std(0)
    return series, (train - mu) / sd, test, mu, sd, k_res


def vpt(reservoir, alpha, seed):
    series, z, test, mu, sd, _ = split(seed)
    model = rc.fit(reservoir, z[:-1], z[1:], readout=rc.Ridge(alpha, input_passthrough=True), washout=P.washout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = rc.forecast(model, P.horizon)
    pred = np.asarray(out.outputs) * sd + mu
    v = rc.valid_prediction_time(test, pred, dt=series.dt, lyapunov_time=series.lyapunov_time,
                                 sigma=sd, return_capped=True)
    return float(v.value), bool(v.capped)


def main() -> None:
    _, z, _, _, _, k_res = split(100)
    esn, _, _ = build_reservoir("esn", 3, None, None, k_res, "lorenz")
    t = time.perf_counter()
    result = rc.tune(esn, z[:-1], z[1:], alpha=P.alpha, input_passthrough=True, steps=STEPS, horizon=HORIZON,
                     stride=STRIDE, validation=0.2, washout=P.washout, optimizer=optax.adam(0.1), progress=True)
    seconds = time.perf_counter() - t
    print("tuned", result.params, result.initial_nrmse, "->", result.validation_nrmse, f"{seconds:.0f} s", flush=True)
    rows = []
    names = ("gain", "leak", "input_scaling", "bias_scaling")
    for seed in range(10):
        _, _, _, _, _, kr = split(seed)
        preset, _, _ = build_reservoir("esn", 3, None, None, kr, "lorenz")
        tuned = _with_values(preset, names, [result.params[n] for n in names])
        a = vpt(preset, P.alpha, seed)
        b = vpt(tuned, result.params["alpha"], seed)
        rows.append(dict(seed=seed, preset=a[0], preset_capped=a[1], tuned=b[0], tuned_capped=b[1]))
        print(f"seed {seed}: preset {a[0]:.2f} tuned {b[0]:.2f}", flush=True)
    pre = [r["preset"] for r in rows]
    tun = [r["tuned"] for r in rows]
    lines = [
        "Rerun: `python benchmarks/bench_tune_vpt.py`. Tuned on seed 100 (held out), closed-loop loss over "
        f"{HORIZON} steps from every {STRIDE}th sample of the last fifth of the training data, Adam (0.1), {STEPS} "
        f"steps ({result.evaluations} evaluations, {seconds:.0f} s); evaluated with the CLI's Lorenz protocol on "
        "seeds 0-9 (1400-step horizon = 25 Lyapunov times).",
        "",
        "| hyperparameters | " + " | ".join(names) + " | alpha | VPT mean (min-max) | median |",
        "|---|" + "---|" * (len(names) + 3),
        f"| preset | {P.gain} | {P.leak} | {P.input_scaling} | {P.bias_scaling} | {P.alpha:g} | "
        f"{statistics.fmean(pre):.2f} ({min(pre):.2f}-{max(pre):.2f}) | {statistics.median(pre):.2f} |",
        "| tuned | " + " | ".join(f"{result.params[n]:.3g}" for n in names) + f" | {result.params['alpha']:.3g} | "
        f"{statistics.fmean(tun):.2f} ({min(tun):.2f}-{max(tun):.2f}) | {statistics.median(tun):.2f} |",
        "",
        f"Validation closed-loop NRMSE: {result.initial_nrmse:.3g} at the preset, {result.validation_nrmse:.3g} "
        "tuned. Per seed, preset / tuned: " + ", ".join(f"{r['preset']:.2f} / {r['tuned']:.2f}" for r in rows) + ".",
        "",
    ]
    print("\n".join(lines))
    common.write_section("tune_vpt", "Lorenz VPT after gradient tuning (closed-loop loss)", lines,
                         {"params": result.params, "initial": result.initial, "rows": rows, "seconds": seconds,
                          "history": result.history.tolist()})


if __name__ == "__main__":
    main()

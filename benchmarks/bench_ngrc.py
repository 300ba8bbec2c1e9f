"""NG-RC (Gauthier et al. 2021, Nat. Commun. 12:5564) on their Lorenz protocol, and beside the ESN on the CLI.

Run from the repository root:

    python benchmarks/bench_ngrc.py           # writes benchmarks/results/ngrc.{md,json}
    python benchmarks/bench_ngrc.py --quick   # 3 windows and 2 seeds, prints only

1. **The published protocol** (their `LorenzConstLinQuadraticNVARtimedelayNRMSE` script, read for the settings):
   Lorenz-63 from (17.677, 12.931, 43.914), integrated per window by scipy's RK23 at its default tolerances and
   sampled every dt = 0.025; warm-ups of 5, 15, ..., 95 time units; 400 training samples; k = 2 taps, s = 1;
   constant + linear + 21 quadratic features; ridge 2.5e-6; increments predicted; test NRMSE over one Lyapunov time
   (44 samples, starting at the last training sample) normalised by the variance of the window's whole data.
   Published: 2.1e-3 +- 0.4e-3 (mean +- standard error over the 10 windows). Three fits side by side on the same
   data: `reservoirs.NGRC` + `fit` (unpenalised intercept, Cholesky of the centred Gram), a NumPy transcription of
   their formula (`W = D O^T pinv(O O^T + alpha I)`, constant penalised), and the same NumPy fit by least squares.
2. **The same protocol on accurately integrated data** (this toolkit's RK4 generator, h = 0.0025, same initial
   condition): their ridge, and the CLI preset's ridge (chosen on held-out seeds, `reservoirs/_presets.py`).
3. **Beside the ESN**: `reservoirs forecast --task lorenz` with `--substrate ngrc` (400 training samples at dt =
   0.025) and with the ESN preset (N = 500, 10,000 training samples at dt = 0.02), seeds 0-9: VPT (Lyapunov times),
   closed-loop NRMSE over the first Lyapunov time, and wall time of the fit (including compilation, as the CLI
   reports it).
"""

from __future__ import annotations

import argparse
import json
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

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import reservoirs as rc  # noqa: E402
import tasks  # noqa: E402
from reservoirs._cli import run_forecast  # noqa: E402
from reservoirs._presets import NGRC_PRESETS  # noqa: E402

X0 = [17.67715816276679, 12.931379185960404, 43.91404334248268]
DT, RIDGE, LYAP = 0.025, 2.5e-6, 1.104
LT_PTS, TRAIN_PTS = round(LYAP / DT), round(10 / DT)
IU = np.triu_indices(6)


def rk23_window(warmup: float) -> np.ndarray:
    def f(t, y):
        return [10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]]

    n = round((warmup + 10 + LYAP) / DT)
    t = np.linspace(0, warmup + 10 + LYAP, n + 1)
    return solve_ivp(f, (0, t[-1]), X0, t_eval=t, method="RK23").y.T


def rk4_window(warmup: float) -> np.ndarray:
    n = round((warmup + 10 + LYAP) / DT)
    return np.asarray(tasks.lorenz(n + 1, dt=DT, h=0.0025, transient=0.0, x0=X0).values)


def numpy_ngrc(y, wp, alpha, how):
    """Their fit (`how="pinv"`: constant feature penalised, pinv of the regularised Gram) or least squares."""
    X = np.hstack([y[wp - 1 : wp + TRAIN_PTS - 1], y[wp - 2 : wp + TRAIN_PTS - 2]])
    O = np.hstack([np.ones((TRAIN_PTS, 1)), X, (X[:, :, None] * X[:, None, :])[:, IU[0], IU[1]]])
    D = y[wp : wp + TRAIN_PTS] - y[wp - 1 : wp + TRAIN_PTS - 1]
    if how == "pinv":
        W = D.T @ O @ np.linalg.pinv(O.T @ O + alpha * np.eye(O.shape[1]))
    else:
        A = np.vstack([O, np.sqrt(alpha) * np.eye(O.shape[1])])
        W = np.linalg.lstsq(A, np.vstack([D, np.zeros((O.shape[1], 3))]), rcond=None)[0].T
    cur, prev, out = y[wp + TRAIN_PTS - 1], y[wp + TRAIN_PTS - 2], [y[wp + TRAIN_PTS - 1]]
    with np.errstate(all="ignore"):
        for _ in range(LT_PTS - 1):
            x = np.concatenate([cur, prev])
            cur, prev = cur + W @ np.concatenate([[1.0], x, np.outer(x, x)[IU]]), cur
            out.append(cur)
    return np.array(out)


def ours(y, wp, alpha):
    model = rc.fit(rc.NGRC(3), y[wp - 2 : wp + TRAIN_PTS - 1], y[wp - 1 : wp + TRAIN_PTS],
                   readout=rc.Ridge(alpha), washout=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.asarray(rc.forecast(model, LT_PTS - 1).outputs)
    return np.vstack([y[wp + TRAIN_PTS - 1][None], out])


def test_nrmse(y, wp, pred) -> float:
    """Their metric: sqrt(mean squared error over the 44 samples and 3 variables / variance of all the data)."""
    e = float(np.sqrt(np.mean((y[wp + TRAIN_PTS - 1 : wp + TRAIN_PTS - 1 + LT_PTS] - pred) ** 2) / np.var(y)))
    return e if np.isfinite(e) else float("inf")


def summary(values) -> tuple[float, float, int]:
    ok = [v for v in values if np.isfinite(v)]
    mean = statistics.fmean(ok) if ok else float("nan")
    sem = statistics.pstdev(ok) / np.sqrt(len(ok)) if len(ok) > 1 else float("nan")
    return mean, sem, len(values) - len(ok)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warmups = [5.0, 15.0, 25.0] if args.quick else list(np.arange(5.0, 105.0, 10.0))
    seeds = [0, 1] if args.quick else list(range(10))
    cli_ridge = NGRC_PRESETS["lorenz"]["alpha"]
    data: dict = {"protocol": [], "accurate": [], "cli": []}

    for w in warmups:
        wp = round(w / DT)
        y = rk23_window(w)
        row = {"warmup": w, "ours": test_nrmse(y, wp, ours(y, wp, RIDGE)),
               "numpy_pinv": test_nrmse(y, wp, numpy_ngrc(y, wp, RIDGE, "pinv")),
               "numpy_lstsq": test_nrmse(y, wp, numpy_ngrc(y, wp, RIDGE, "lstsq"))}
        data["protocol"].append(row)
        ya = rk4_window(w)
        arow = {"warmup": w, "ours_their_ridge": test_nrmse(ya, wp, ours(ya, wp, RIDGE)),
                "numpy_pinv_their_ridge": test_nrmse(ya, wp, numpy_ngrc(ya, wp, RIDGE, "pinv")),
                "ours_cli_ridge": test_nrmse(ya, wp, ours(ya, wp, cli_ridge))}
        data["accurate"].append(arow)
        print(f"warm-up {w:5.1f}: RK23 ours {row['ours']:.3e} numpy(pinv) {row['numpy_pinv']:.3e} "
              f"numpy(lstsq) {row['numpy_lstsq']:.3e} | RK4 ridge 2.5e-6 {arow['ours_their_ridge']:.3e} "
              f"ridge {cli_ridge:g} {arow['ours_cli_ridge']:.3e}", flush=True)

    for seed in seeds:  # interleaved: NG-RC then ESN for each seed
        for sub in ("ngrc", "esn"):
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = run_forecast("lorenz", substrate=sub, seed=seed)
            row = {"seed": seed, "substrate": sub, "vpt": r["vpt"], "capped": r["vpt_capped"], "nrmse_1lt": r["nrmse"],
                   "one_step": r["one_step_nrmse"], "diverged": r["diverged"], "fit_s": r["fit_seconds"],
                   "total_s": time.perf_counter() - t, "units": r["units"], "train": r["train_samples"],
                   "dt": r["dt"]}
            data["cli"].append(row)
            print(f"seed {seed} {sub:<5} VPT {row['vpt']:.2f} NRMSE(1 LT) {row['nrmse_1lt']:.3e} one-step "
                  f"{row['one_step']:.2e} fit {row['fit_s']:.2f} s diverged {row['diverged']}", flush=True)

    def col(rows, key):
        return summary([r[key] for r in rows])

    lines = [
        "Rerun: `python benchmarks/bench_ngrc.py`. NRMSE as in Gauthier et al.'s code: over one Lyapunov time (44 "
        "samples from the last training sample), normalised by the variance of the window's data; mean +- standard "
        "error over the windows (warm-ups 5, 15, ..., 95); 'inf' counts windows whose closed loop diverged.",
        "",
        "| data | fit | ridge | test NRMSE (mean +- s.e.) | diverged windows |",
        "|---|---|---|---|---|",
    ]
    for label, rows, key, ridge in [
        ("their RK23 data", data["protocol"], "ours", RIDGE),
        ("their RK23 data", data["protocol"], "numpy_pinv", RIDGE),
        ("their RK23 data", data["protocol"], "numpy_lstsq", RIDGE),
        ("accurate RK4 data", data["accurate"], "numpy_pinv_their_ridge", RIDGE),
        ("accurate RK4 data", data["accurate"], "ours_their_ridge", RIDGE),
        ("accurate RK4 data", data["accurate"], "ours_cli_ridge", cli_ridge),
    ]:
        m, s, bad = col(rows, key)
        name = {"ours": "`reservoirs.NGRC` + `fit`", "numpy_pinv": "NumPy, their formula (pinv)",
                "numpy_lstsq": "NumPy, least squares", "numpy_pinv_their_ridge": "NumPy, their formula (pinv)",
                "ours_their_ridge": "`reservoirs.NGRC` + `fit`", "ours_cli_ridge": "`reservoirs.NGRC` + `fit`"}[key]
        stat = f"{m:.2e} +- {s:.1e}" + (f" (over the {len(rows) - bad} finite)" if bad else "")
        lines.append(f"| {label} | {name} | {ridge:g} | {stat} | {bad} / {len(rows)} |")
    lines += ["", "Published: 2.1e-3 +- 0.4e-3. Per window, ours on their data: "
              + ", ".join(f"{r['ours']:.2e}" for r in data["protocol"]) + ".", ""]
    lines += [
        f"CLI, `reservoirs forecast --task lorenz --substrate ngrc|esn --seed S`, seeds {seeds[0]}-{seeds[-1]} "
        "(interleaved). NG-RC: k = 2, s = 1, quadratic, ridge "
        f"{cli_ridge:g}, 401 training pairs at dt = 0.025, the first a washout that fills the delay line; ESN: the README preset (N = 500, 10,000 pairs, washout 500, at "
        "dt = 0.02). Fit time: median over the seeds, wall, as the CLI reports it (only the first seed's includes "
        "compilation: the shapes repeat).",
        "",
        "| model | VPT mean (min-max) | median | NRMSE over 1 LT (median) | one-step (median) | diverged | fit s (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for sub in ("ngrc", "esn"):
        rows = [r for r in data["cli"] if r["substrate"] == sub]
        v = [r["vpt"] for r in rows]
        lines.append(
            f"| {sub} ({rows[0]['units']} {'taps' if sub == 'ngrc' else 'units'}, {rows[0]['train']} training pairs) | "
            f"{statistics.fmean(v):.2f} ({min(v):.2f}-{max(v):.2f}) | {statistics.median(v):.2f} | "
            f"{statistics.median(r['nrmse_1lt'] for r in rows):.2e} | {statistics.median(r['one_step'] for r in rows):.2e}"
            f" | {sum(r['diverged'] for r in rows)} / {len(rows)} | {statistics.median(r['fit_s'] for r in rows):.3g} |")
    lines += ["", "Per seed VPT: " + "; ".join(
        f"{sub}: " + ", ".join(f"{r['vpt']:.2f}" for r in data["cli"] if r["substrate"] == sub)
        for sub in ("ngrc", "esn")), ""]
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        common.write_section("ngrc", "NG-RC on Gauthier et al.'s Lorenz protocol, and beside the ESN", lines, data,
                             extra_packages=("scipy",))


if __name__ == "__main__":
    main()

"""Parallel-in-time driving against the sequential scan: speed-up, seam mismatch and refusals across the gain.

One-step Mackey-Glass (`tasks.mackey_glass`, RK4, key 0) with the ESN of `bench_speed.py` (leak 0.3, bias 0.2,
dense W, spectral radius = gain): `fit` on 10,000 steps (washout 100) + `predict` on the next 10,000, once with
`parallel=False` and once with `parallel=True` (the probe picks the overlap; every seam is checked; a refusal runs
the sequential scan and is reported). Same weights and arrays for both; the repeats of the two paths are interleaved.
Two input scalings: 1.0 (the input keeps the reservoir contracting far past gain 1) and 0.1 (the autonomous
dynamics dominate: past the edge of chaos the states stop converging and the parallel path must refuse).

Run: `python benchmarks/bench_parallel.py` (about 5 minutes on a 2-core CPU); `--quick` for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402

common.enable_x64()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import reservoirs as rc  # noqa: E402
import tasks  # noqa: E402

T = 10_000
WASHOUT = 100


def run(esn, arrays, parallel):
    Xtr, Ytr, Xte, Yte = arrays
    t = time.perf_counter()
    model, r_fit = rc.fit(esn, Xtr, Ytr, readout=rc.Ridge(1e-6), washout=WASHOUT, parallel=parallel,
                          return_report=True)
    y, _, r_pred = rc.predict(model, Xte, parallel=parallel, return_report=True)
    y = jax.block_until_ready(y)
    return time.perf_counter() - t, float(rc.nrmse(Yte, y)), r_fit, r_pred


def noise_line(rows) -> str:
    """Where the parallel path refused, the parallel column ran the contraction probe and then the same sequential
    scan: their ratio is what a refusal costs, plus this machine's timing noise."""
    same = [r["speedup"] for r in rows if not r["fit_parallel"] and not r["predict_parallel"]]
    if not same:
        return "- Every configuration ran in parallel: no refused rows to show what a refusal costs."
    return (f"- Refusals: in the {len(same)} refused rows the parallel column ran the contraction probe (2 x 256 "
            f"steps, in fit and in predict) and then the same sequential scan as the other column; their ratio, "
            f"{min(same):.2f}-{max(same):.2f}x, is what a refusal costs here, plus this machine's timing noise.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=1000)
    args = ap.parse_args()
    n = 300 if args.quick else args.size
    repeats = 2 if args.quick else 3
    gains = [0.5, 0.9, 1.3] if args.quick else [0.5, 0.7, 0.9, 1.1, 1.3, 1.5]
    s = np.asarray(tasks.mackey_glass(2 * T + 1, key=jax.random.key(0)).values, np.float64)
    arrays64 = (s[:T], s[1 : T + 1], s[T : 2 * T], s[T + 1 : 2 * T + 1])
    rows = []
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0]
    configs = [(dt, 1.0) for dt in ("float64", "float32")] + [("float64", 0.1)]
    for dtype, in_scale in configs:
        arrays = tuple(a.astype(dtype) for a in arrays64)
        for gain in gains:
            esn = rc.ESN(1, n, gain=gain, leak=0.3, input_scaling=in_scale, bias_scaling=0.2, sparse=False,
                         dtype=jnp.dtype(dtype), key=jax.random.key(42))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # refusals are recorded in the reports
                first = {p: run(esn, arrays, p) for p in (False, True)}  # compile
                times = {False: [], True: []}
                for _ in range(repeats):
                    for p in (False, True):
                        times[p].append(run(esn, arrays, p)[0])
            seq, par = statistics.median(times[False]), statistics.median(times[True])
            _, e_seq, _, _ = first[False]
            _, e_par, rf, rp = first[True]
            row = dict(dtype=dtype, input_scaling=in_scale, gain=gain, seq_s=seq, par_s=par, speedup=seq / par,
                       nrmse_seq=e_seq, nrmse_par=e_par, fit_parallel=rf.parallel, predict_parallel=rp.parallel,
                       segments=rf.segments, overlap=rf.overlap, contraction=rf.contraction,
                       seam_fit=rf.seam_mismatch, seam_predict=rp.seam_mismatch, tolerance=rf.tolerance,
                       reason_fit=rf.reason, reason_predict=rp.reason, times=times)
            rows.append(row)
            print(f"{dtype} in={in_scale} g={gain}: seq {seq:.3f}s par {par:.3f}s x{seq / par:.2f} "
                  f"used {rf.parallel}/{rp.parallel} B={rf.segments} w={rf.overlap} seam {rf.seam_mismatch:.1e} "
                  f"nrmse {e_seq:.3e}/{e_par:.3e} | {rf.reason}", flush=True)
    load1 = os.getloadavg()[0]

    def f(x, p=2):
        return "-" if x != x else f"{x:.{p}e}"

    lines = [
        f"One-step Mackey-Glass, ESN N = {n} (dense W, leak 0.3, bias 0.2, spectral radius = gain), fit on {T:,} "
        f"steps (washout {WASHOUT}) + predict on the next {T:,}; `parallel=False` against `parallel=True` on the "
        f"same weights and arrays, {repeats} interleaved repeats after a compiling call, medians. *used*: whether "
        "the parallel result was kept in fit / predict (otherwise the sequential scan ran and the reason is given); "
        "*seam*: the largest relative state mismatch at a seam (fit / predict); tolerance 64 ulps "
        "(1.4e-14 in float64, 7.6e-6 in float32). NRMSE on the 10,000 test steps.",
        "",
        "| dtype | input scaling | gain | sequential s | parallel s | speed-up | used | segments | overlap | "
        "contraction / step | seam (fit / predict) | NRMSE seq | NRMSE par | why |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        used = f"{'yes' if r['fit_parallel'] else 'no'} / {'yes' if r['predict_parallel'] else 'no'}"
        lines.append(
            f"| {r['dtype']} | {r['input_scaling']} | {r['gain']} | {r['seq_s']:.3f} | {r['par_s']:.3f} | "
            f"{r['speedup']:.2f}x | {used} | {r['segments']} | {r['overlap']} | {r['contraction']:.4f} | "
            f"{f(r['seam_fit'], 1)} / {f(r['seam_predict'], 1)} | {r['nrmse_seq']:.4e} | {r['nrmse_par']:.4e} | "
            f"{r['reason_fit']} |")
    lines += [
        "",
        f"- Load average (1 min) at start / end: {load0:.2f} / {load1:.2f} (2 cores). Script runtime "
        f"{(time.perf_counter() - t_start) / 60:.1f} min.",
        "- The parallel time includes the probe (2 x 256 steps) of both fit and predict. Where the parallel path "
        "refuses or its seams disagree, its time is the probe (plus the discarded parallel run) and the sequential "
        "scan.",
        noise_line(rows),
        "- NRMSE differences between the two paths come from the order in which the statistics are summed (the "
        "sequential fit itself moves by the same amount when its block size changes; see `tests/test_parallel.py`).",
        "- Run: `python benchmarks/bench_parallel.py` (`--size N`, `--quick`).",
    ]
    common.write_section("parallel", "Parallel-in-time driving against the sequential scan", lines,
                         {"N": n, "rows": rows, "load": [load0, load1]})


if __name__ == "__main__":
    main()

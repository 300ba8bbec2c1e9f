"""Dense or ELL storage of a sparse recurrent matrix: the crossover per size and batch, and sweeps that use it.

Run from the repository root:

    python benchmarks/bench_layout.py      # about 6 minutes; writes benchmarks/results/layout.{md,json}
    python benchmarks/bench_layout.py --crossover   # section 2 alone (2 min); prints, writes nothing

1. One ESN update `x <- (1 - a) x + a tanh(g W x + u)` per step, W at connectivity 0.1 (k = N / 10 non-zeros per
   row), timed as a jitted `lax.scan` of 200 steps, vmapped over a batch of B gains (B = 1: one reservoir; B > 1:
   the configurations of a sweep, the segments of a parallel-in-time drive). Dense: `W @ x`; ELL:
   `reservoirs.EllMatrix.mv` (a gather of one-element rows and a row sum). Median of 3 after a compile.
2. One reservoir as a user runs it, around the default storage's crossover: sequential `fit` + `predict`, dense
   against ELL storage of the same network, for float64 N = 500-1000 and float32 N = 800-1400.
3. `reservoirs.sweep` of 64 gains (0.2-1.8) on one-step Mackey-Glass (T = 5000, washout 100, no Lyapunov
   exponent), batch 64, for an ESN stored dense and one stored as ELL (`sparse=True`): `sweep` asks the reservoir
   for its batch layout (`ESN.for_batch`), which stores an ELL matrix densely from a batch of `DENSE_BATCH`. The same
   sweep with the batch layout switched off (`DENSE_BATCH` set out of reach, so the ELL gather runs batched, as
   before `for_batch`) is timed beside, for the before/after.
"""

from __future__ import annotations

import os
import sys
import time
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
from reservoirs import _esn  # noqa: E402

STEPS = 200
SIZES = (500, 1000, 2000)
BATCHES = (1, 4, 16, 64)


def per_step_us(fn, *args):
    """µs per step: median of 3 timed runs of `STEPS` steps after a compiling one (`common.median_time`)."""
    return common.median_time(lambda: jax.block_until_ready(fn(*args)), repeats=3)[0] / STEPS * 1e6


def step_table(dtype):
    rows = []
    for n in SIZES:
        k = n // 10
        rng = np.random.default_rng(0)
        cols = np.argsort(rng.random((n, n)), axis=1)[:, :k].astype(np.int32)
        ell = rc.EllMatrix(jnp.asarray(cols), jnp.asarray(rng.standard_normal((n, k)) / np.sqrt(k), dtype), n)
        dense = ell.todense()
        u = jnp.asarray(rng.standard_normal(STEPS), dtype)
        for b in BATCHES:
            gains = jnp.linspace(0.5, 1.5, b).astype(dtype)

            def make(mv):
                @jax.jit
                def run(gains, u):
                    def one(g):
                        def body(x, ut):
                            return 0.7 * x + 0.3 * jnp.tanh(g * mv(x) + ut), None

                        return jax.lax.scan(body, jnp.zeros(n, dtype), u)[0]

                    return jax.vmap(one)(gains)

                return run

            d = per_step_us(make(lambda x: dense @ x), gains, u)
            e = per_step_us(make(ell.mv), gains, u)
            rows.append(dict(dtype=jnp.dtype(dtype).name, N=n, batch=b, dense_us=d, ell_us=e))
            print(f"{jnp.dtype(dtype).name} N={n} batch={b}: dense {d:.0f} µs, ELL {e:.0f} µs", flush=True)
    return rows


CROSSOVER = {"float64": (500, 600, 650, 700, 760, 850, 1000), "float32": (800, 1000, 1100, 1200, 1400)}
CROSS_T = 5000


def crossover_table(repeats=3):
    """One reservoir as a user runs it: `fit` + `predict` on the sequential path (`parallel=False`, which the default
    `"auto"` also takes below 768 features), T = `CROSS_T` each, dense against ELL storage of the same network (one
    key), repeats interleaved; and the storage the default (`sparse=None`) picks."""
    x = np.asarray(tasks.mackey_glass(2 * CROSS_T + 2, key=jax.random.key(0)).values)
    u, y, ut = x[:CROSS_T], x[1 : CROSS_T + 1], x[CROSS_T : 2 * CROSS_T]
    rows = []
    for dt, sizes in CROSSOVER.items():
        for n in sizes:
            nets = {label: rc.ESN(1, n, leak=0.3, connectivity=0.1, sparse=sp, dtype=getattr(jnp, dt),
                                  key=jax.random.key(1)) for label, sp in (("dense", False), ("ELL", True))}

            def run(esn):
                m = rc.fit(esn, u, y, readout=rc.Ridge(1e-6), parallel=False)
                return jax.block_until_ready(rc.predict(m, ut, parallel=False)[0])

            times = {label: [] for label in nets}
            for esn in nets.values():
                run(esn)  # compile
            for _ in range(repeats):
                for label, esn in nets.items():
                    t = time.perf_counter()
                    run(esn)
                    times[label].append(time.perf_counter() - t)
            default = rc.ESN(1, n, leak=0.3, connectivity=0.1, dtype=getattr(jnp, dt), key=jax.random.key(1))
            pick = "ELL" if isinstance(default.W, rc.EllMatrix) else "dense"
            d, e = (float(np.median(times[k])) for k in ("dense", "ELL"))
            rows.append(dict(dtype=dt, N=n, dense_bytes=n * n * jnp.dtype(dt).itemsize, dense_s=d, ell_s=e,
                             default=pick, default_is_faster=(pick == "dense") == (d <= e)))
            print(f"crossover {dt} N={n}: dense {d:.3f} s, ELL {e:.3f} s, default {pick}", flush=True)
    return rows


def sweep_table():
    x = np.asarray(tasks.mackey_glass(5001, key=jax.random.key(0)).values)
    gains = jnp.linspace(0.2, 1.8, 64)
    rows = []
    original = _esn.DENSE_BATCH
    for n in (500, 1000):
        for label, sparse, batch_layout in (("dense", False, True), ("ELL", True, True), ("ELL, no batch layout",
                                                                                           True, False)):
            esn = rc.ESN(1, n, leak=0.3, input_scaling=0.5, connectivity=0.1, sparse=sparse, key=jax.random.key(1))
            jax.clear_caches()  # the jitted sweep is keyed on its inputs, not on the batch layout chosen inside
            if not batch_layout:
                _esn.DENSE_BATCH = 10**9  # as before `for_batch`: the ELL gather batched
            try:
                def call():
                    return rc.sweep(esn, x[:-1], x[1:], params={"gain": gains}, lyapunov=False, batch_size=64,
                                    progress=False)

                t = time.perf_counter()
                call()
                first = time.perf_counter() - t
                t = time.perf_counter()
                r = call()
                warm = time.perf_counter() - t
            finally:
                _esn.DENSE_BATCH = original
            med = float(np.nanmedian(np.asarray(r.nrmse)))
            rows.append(dict(N=n, storage=label, first_s=first, warm_s=warm, median_nrmse=med))
            print(f"sweep N={n} {label}: first {first:.1f} s, warm {warm:.1f} s, median NRMSE {med:.4e}", flush=True)
    return rows


def main() -> None:
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    if "--crossover" in sys.argv:  # the crossover table alone; prints, writes nothing
        crossover_table()
        return
    steps = step_table(jnp.float64) + step_table(jnp.float32)
    cross = crossover_table()
    sweeps = sweep_table()
    runtime = time.perf_counter() - t0
    lines = [
        "Rerun: `python benchmarks/bench_layout.py`. Connectivity 0.1 (N / 10 non-zeros per row). 1-minute load "
        f"average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; script runtime {runtime / 60:.1f} min.",
        "",
        "Per step of a vmapped batch of B ESN updates (µs, median of 3 runs of 200 steps, one W shared by the batch):",
        "",
        "| dtype | N | B = 1 dense / ELL | B = 4 | B = 16 | B = 64 |",
        "|---|---|---|---|---|---|",
    ]
    for dt in ("float64", "float32"):
        for n in SIZES:
            cells = [next(r for r in steps if r["dtype"] == dt and r["N"] == n and r["batch"] == b) for b in BATCHES]
            lines.append(f"| {dt} | {n} | " + " | ".join(f"{c['dense_us']:.0f} / {c['ell_us']:.0f}" for c in cells)
                         + " |")
    lines += [
        "",
        f"`ESN.for_batch` stores an ELL matrix densely from a batch of {_esn.DENSE_BATCH}: one reservoir (B = 1) runs "
        "the ELL gather where it is the faster, a batch runs one matrix-matrix product. The ESN's own default "
        "storage (`sparse=None`) takes ELL at connectivity <= 0.1 once the dense matrix exceeds 3.5 MiB in float64 "
        "(N > 677) or 4 MiB in float32 (N > 1024) (`reservoirs._esn.ell_min_bytes`, from the table below), or at "
        "<= 0.2 beyond 10 MiB.",
        "",
        f"One reservoir as a user runs it, around that crossover: `fit` + `predict` on the sequential path "
        f"(`parallel=False`; the default takes it below 768 features too), T = {CROSS_T} each, connectivity 0.1, the "
        "same network stored dense and as ELL, medians of 3 interleaved repeats (seconds):",
        "",
        "| dtype | N | dense (MiB) | dense (s) | ELL (s) | default storage | default is the faster |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['dtype']} | {r['N']} | {r['dense_bytes'] / 2**20:.1f} | {r['dense_s']:.3f} | {r['ell_s']:.3f} | "
              f"{r['default']} | {'yes' if r['default_is_faster'] else 'no'} |" for r in cross]
    lines += [
        "",
        "",
        "Sweep of 64 gains, one-step Mackey-Glass, T = 5000, batch 64 (wall seconds; *first* includes compilation):",
        "",
        "| N | storage | first (s) | warm (s) | median NRMSE |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['N']} | {r['storage']} | {r['first_s']:.1f} | {r['warm_s']:.1f} | {r['median_nrmse']:.4e} |"
              for r in sweeps]
    lines.append("")
    print("\n".join(lines))
    common.write_section("layout", "Dense or ELL storage: the crossover per size and batch, and sweeps", lines,
                         {"steps": steps, "crossover": cross, "sweeps": sweeps, "dense_batch": _esn.DENSE_BATCH,
                          "runtime_s": runtime})


if __name__ == "__main__":
    main()

"""Peak resident memory of `reservoirs.fit` on a million steps (N = 1000, float64).

`fit` accumulates centred Gram statistics chunk by chunk inside the scan, so its memory should not grow with the
length of the series: the (T x N) state matrix, 8 GB here, is never formed. Target: peak RSS <= 1.5 GB.

The fit runs in a fresh subprocess that reports its own `getrusage(RUSAGE_SELF).ru_maxrss` after each stage
(import, ESN built, data loaded, fit); the parent also samples the child's RSS with psutil every 20 ms and reads
`getrusage(RUSAGE_CHILDREN).ru_maxrss` afterwards. The 1,010,001-step Mackey-Glass series is generated in full (not
tiled) by `tasks.mackey_glass` in another subprocess and handed over as a .npy file, so neither the generator's memory
nor a JAX-laden parent is counted. A short subprocess probe first times a warm fit of both W storages on 50,000
steps; the big fit uses the faster.

Run: `python benchmarks/bench_memory.py` (a few minutes on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# One BLAS/LAPACK thread unless the caller sets OPENBLAS_NUM_THREADS (before NumPy, SciPy and jaxlib load OpenBLAS).
# On a shared 2-core machine multi-threaded OpenBLAS spin-waits for descheduled threads: measured here under load,
# JAX's CPU eigh(1000) took 0.9 s instead of 0.24 s and cholesky(1000) 0.1-0.2 s instead of 0.015 s (jaxlib calls
# SciPy's LAPACK), and ReservoirPy's NumPy fit + run at N = 1000 took ~4.8 s instead of ~3.8 s. Both libraries get
# the same setting.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from common import enable_x64, write_section

N = 1000
T_FIT = 1_000_000  # training inputs; the series has T_FIT + 1 + T_TEST samples
T_TEST = 10_000
WASHOUT = 100
CHUNK = 2048  # `fit`'s default chunk_size (`reservoirs._model.default_chunk()`)
PROBE_STEPS = 50_000
TARGET_GB = 1.5
HERE = Path(__file__).resolve()


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(args) -> None:
    """Runs in the subprocess: report RSS stage by stage as JSON lines on stdout."""

    def report(stage, **kw):
        print(json.dumps(dict(stage=stage, rss_mb=rss_mb(), maxrss_mb=maxrss_mb(), **kw)), flush=True)

    report("python")
    enable_x64()
    import jax
    import numpy as np

    import reservoirs

    jax.numpy.zeros(1).block_until_ready()  # start the runtime
    report("import jax + reservoirs")
    esn = reservoirs.ESN(
        1, N, key=jax.random.key(1), gain=0.9, leak=0.3, connectivity=0.1, bias_scaling=0.2, sparse=args.sparse
    )
    jax.block_until_ready(esn)
    report("ESN built", storage="ELL" if args.sparse else "dense")
    series = np.load(args.data)
    n_fit = args.steps
    inputs, targets = series[:n_fit], series[1 : n_fit + 1]
    report("data loaded", steps=n_fit)

    def fit():
        return jax.block_until_ready(
            reservoirs.fit(esn, inputs, targets, readout=reservoirs.Ridge(1e-6), washout=WASHOUT, chunk_size=args.chunk)
        )

    if args.warm:  # the storage probe: time a warm call (compile excluded)
        fit()
    t = time.perf_counter()
    model = fit()
    wall = time.perf_counter() - t
    report("fit", wall_s=wall)
    if args.test:
        test_in = series[n_fit : n_fit + T_TEST]
        test_out = series[n_fit + 1 : n_fit + 1 + T_TEST]
        y, _ = reservoirs.predict(model, test_in)
        report("predict (after the peak was read)", test_nrmse=float(reservoirs.nrmse(test_out, y)))


def make_data(path) -> None:
    """Runs in a subprocess: generate the series and save it, so that the parent never loads JAX."""
    enable_x64()
    import jax
    import numpy as np

    import tasks

    t = time.perf_counter()
    series = np.asarray(tasks.mackey_glass(T_FIT + 1 + T_TEST, key=jax.random.key(0)).values, np.float64)
    np.save(path, series)
    print(json.dumps(dict(generation_s=time.perf_counter() - t, samples=len(series))), flush=True)


def run_child(data, steps, sparse, chunk=CHUNK, test=False, warm=False):
    import psutil

    cmd = [sys.executable, str(HERE), "--child", "--data", data, "--steps", str(steps), "--chunk", str(chunk)]
    if sparse:
        cmd.append("--sparse")
    if test:
        cmd.append("--test")
    if warm:
        cmd.append("--warm")
    peak = {"rss": 0.0}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)

    def sample():
        while proc.poll() is None:
            try:
                peak["rss"] = max(peak["rss"], ps.memory_info().rss / 2**20)
            except psutil.Error:
                break
            time.sleep(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {' '.join(cmd)}")
    stages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return dict(stages=stages, psutil_peak_rss_mb=peak["rss"], process_wall_s=wall)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--data")
    ap.add_argument("--steps", type=int, default=T_FIT)
    ap.add_argument("--chunk", type=int, default=CHUNK)
    ap.add_argument("--sparse", action="store_true")
    ap.add_argument("--test", action="store_true")
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--make-data")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if args.make_data:
        make_data(args.make_data)
        return

    # The parent stays light (no JAX) until the children are done: on Linux a child's ru_maxrss starts from the
    # parent's RSS at fork.
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "mg.npy")
        out = subprocess.run(
            [sys.executable, str(HERE), "--make-data", data], check=True, capture_output=True, text=True
        )
        gen_s = json.loads(out.stdout.strip().splitlines()[-1])["generation_s"]
        print(f"series generated in {gen_s:.1f} s", flush=True)
        probe = {}
        for sparse in (False, True):
            r = run_child(data, PROBE_STEPS, sparse, warm=True)
            probe["ELL" if sparse else "dense"] = r["stages"][-1]["wall_s"]
            print(f"probe sparse={sparse}: {probe}", flush=True)
        storage = min(probe, key=probe.get)
        print(f"big fit with {storage} ...", flush=True)
        big = run_child(data, T_FIT, storage == "ELL", test=True)
    children_maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    runtime = time.perf_counter() - t0

    stages = {s["stage"]: s for s in big["stages"]}
    fit = stages["fit"]
    peak_gb = max(fit["maxrss_mb"], big["psutil_peak_rss_mb"]) / 1024
    base = stages["ESN built"]
    lines = [
        f"`reservoirs.fit` on T = {T_FIT:,} steps of Mackey-Glass (`tasks.mackey_glass`, RK4, tau = 17, key 0; "
        f"generated in full in {gen_s:.1f} s, not tiled), N = {N}, float64, {storage} W (faster in a warm "
        f"{PROBE_STEPS:,}-step probe fit: dense {probe['dense']:.2f} s, ELL {probe['ELL']:.2f} s), "
        f"`Ridge(1e-6)`, washout {WASHOUT}, `chunk_size={CHUNK}` (the default). The fit runs in a fresh "
        "subprocess of a parent that never loads JAX (a forked child's ru_maxrss starts from its parent's RSS); the "
        f"state matrix it never forms would take {T_FIT * N * 8 / 2**30:.1f} GiB.",
        "",
        "| stage (in the child process) | RSS (MB) | peak RSS so far, ru_maxrss (MB) |",
        "|---|---|---|",
    ]
    for s in big["stages"]:
        lines.append(f"| {s['stage']} | {s['rss_mb']:.0f} | {s['maxrss_mb']:.0f} |")
    lines += [
        "",
        "| quantity | value |",
        "|---|---|",
        f"| baseline RSS: import jax + reservoirs, build the ESN | {base['rss_mb']:.0f} MB |",
        f"| peak RSS of the fit process (ru_maxrss, child) | {fit['maxrss_mb']:.0f} MB |",
        f"| peak RSS sampled by psutil every 20 ms | {big['psutil_peak_rss_mb']:.0f} MB |",
        f"| ru_maxrss of RUSAGE_CHILDREN (largest child: data generation, probes or fit) | {children_maxrss:.0f} MB |",
        f"| peak above baseline | {fit['maxrss_mb'] - base['rss_mb']:.0f} MB |",
        f"| fit wall time (one call, compilation included) | {fit['wall_s']:.1f} s |",
        f"| throughput | {T_FIT / fit['wall_s'] / 1e3:.1f} k steps/s |",
        f"| test NRMSE (next {T_TEST:,} steps, teacher-forced) | "
        f"{stages['predict (after the peak was read)']['test_nrmse']:.3g} |",
        f"| target peak RSS <= {TARGET_GB} GB | {'met' if peak_gb <= TARGET_GB else 'NOT met'} ({peak_gb:.2f} GiB) |",
        "",
        f"1-minute load average at the end: {os.getloadavg()[0]:.1f} (shared 2-core machine). Script runtime: "
        f"{runtime / 60:.1f} min.",
    ]
    write_section(
        "memory",
        f"Memory: fit on {T_FIT:,} steps (N = {N})",
        lines,
        dict(
            N=N,
            steps=T_FIT,
            chunk_size=CHUNK,
            storage=storage,
            probe_warm_fit_s=probe,
            probe_steps=PROBE_STEPS,
            series_generation_s=gen_s,
            child=big,
            children_maxrss_mb=children_maxrss,
            peak_gb=peak_gb,
            target_met=peak_gb <= TARGET_GB,
            openblas_num_threads=os.environ.get("OPENBLAS_NUM_THREADS"),
            runtime_s=runtime,
        ),
        extra_packages=("psutil",),
    )
    print(f"done in {runtime:.0f} s; peak {peak_gb:.2f} GiB")


if __name__ == "__main__":
    main()

"""Online readouts: FORCE (Sussillo & Abbott 2009) against teacher-forced RLS on a periodic target, and RLS against
the batch ridge solution.

Run from the repository root:

    python benchmarks/bench_online.py     # writes benchmarks/results/online.{md,json}

Network: `ESN(0, N, gain=1.5, leak=0.1, connectivity=0.1, feedback_size=1)`, the leaky rate network of Sussillo &
Abbott at g = 1.5 (chaotic on its own), its output fed back, started from random activity (N(0, 0.25) per unit).
Target: sin(2 pi t / 600) + 0.5 sin(4 pi t / 600) + 0.3 sin(6 pi t / 600), over 1.5. Trained 9000 steps (15 periods)
after a 100-step washout, with `rc.force(1.0)` feeding back the network's own output, or with `rc.rls(1.0)`
(no bias) feeding back the target (teacher forcing); then 3000 closed-loop steps (5 periods) on its own.
Reported: the a-priori training error over the last 2 periods and the closed-loop NRMSE (σ-normalised), per
network size and seed, and the wall time of the training scan (compilation included).
"""

from __future__ import annotations

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
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import reservoirs as rc  # noqa: E402


def main() -> None:
    t = np.arange(12000)
    period = 600
    target = ((np.sin(2 * np.pi * t / period) + 0.5 * np.sin(4 * np.pi * t / period)
               + 0.3 * np.sin(6 * np.pi * t / period)) / 1.5)[:, None]
    rows, data = [], []
    for n in (200, 300, 500):
        for seed in (0, 1, 2):
            net = rc.ESN(0, n, gain=1.5, leak=0.1, connectivity=0.1, feedback_size=1, key=jax.random.key(seed))
            x0 = 0.5 * jax.random.normal(jax.random.key(100 + seed), (n,))
            for name, ro, fb in (("FORCE", rc.force(1.0), "output"),
                                 ("RLS, teacher-forced", rc.rls(1.0, fit_intercept=False), "teacher")):
                t0 = time.perf_counter()
                res = rc.fit_online(net, None, target[:9000], readout=ro, feedback=fb, washout=100, state=x0)
                jax.block_until_ready(res.outputs)
                secs = time.perf_counter() - t0
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out = rc.forecast(res.model, 3000)
                ok = bool(jnp.all(jnp.isfinite(out.outputs)))
                closed = float(rc.nrmse(target[9000:], out.outputs)) if ok else float("inf")
                train = float(jnp.sqrt(jnp.mean(res.errors[-1200:] ** 2)) / np.std(target))
                data.append(dict(n=n, seed=seed, method=name, train_nrmse=train, closed_nrmse=closed,
                                 diverged=bool(out.diverged), seconds=secs))
                print(f"N {n} seed {seed} {name:<20} train {train:.3g} closed loop {closed:.3g} {secs:.1f} s",
                      flush=True)
    lines = [
        "Rerun: `python benchmarks/bench_online.py`. Sussillo & Abbott's leaky rate network at g = 1.5 with output "
        "feedback; a three-harmonic periodic target (period 600 steps); 9000 training steps, then 3000 closed-loop "
        "steps; medians (min-max) over seeds 0-2. Training error: a-priori output error over the last 2 periods of "
        "training / target std; closed loop: σ-normalised NRMSE over the 5 periods that follow.",
        "",
        "| N | method | training error | closed-loop NRMSE | diverged | training s |",
        "|---|---|---|---|---|---|",
    ]
    for n in (200, 300, 500):
        for name in ("FORCE", "RLS, teacher-forced"):
            r = [d for d in data if d["n"] == n and d["method"] == name]
            tr = [d["train_nrmse"] for d in r]
            cl = [d["closed_nrmse"] for d in r]
            lines.append(f"| {n} | {name} | {np.median(tr):.3g} ({min(tr):.3g}-{max(tr):.3g}) | {np.median(cl):.3g} "
                         f"({min(cl):.3g}-{max(cl):.3g}) | {sum(d['diverged'] for d in r)} / {len(r)} | "
                         f"{np.median([d['seconds'] for d in r]):.1f} |")
    lines.append("")
    print("\n".join(lines))
    rows.append(lines)
    common.write_section("online", "Online readouts: FORCE against teacher-forced RLS", lines, {"runs": data})


if __name__ == "__main__":
    main()

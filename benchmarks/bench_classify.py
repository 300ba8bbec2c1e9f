"""Classification with every registered reservoir: accuracy against the raw-input baseline.

For each reservoir in `reservoirs.registry()` and each classification task (`sine-square`, `xor`, `patterns`),
`reservoirs._classify.run_classify` trains a `RidgeClassifier` on the reservoir's features and scores it on fresh
test data, next to a linear readout of the raw input window (no reservoir), over a few seeds. Each reservoir runs
at its registered defaults for the task (`entry.defaults(task)` and `entry.build(..., task=task)`).

Writes `benchmarks/results/classify.md` and `classify.json`. Run: `python benchmarks/bench_classify.py`
(`--seeds 3`, `--substrates esn,lsm` to restrict).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback

from common import enable_x64, git_commit, write_section


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--substrates", default="", help="comma-separated names (default: every registered reservoir)")
    args = ap.parse_args(argv)
    enable_x64()
    import reservoirs as rc
    from reservoirs._classify import CLASSIFY_TASKS, run_classify

    registered = list(rc.registry())
    names = [s for s in args.substrates.split(",") if s] or registered
    load_before = os.getloadavg()
    rows, data = [], {"commit": git_commit(), "registered": registered, "seeds": args.seeds, "runs": []}
    for name in names:
        for task in CLASSIFY_TASKS:
            runs, error = [], None
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                try:
                    r = run_classify(task, substrate=name, seed=seed)
                except Exception as e:  # one failing substrate must not hide the others' numbers
                    error = f"{type(e).__name__}: {e}"
                    traceback.print_exc()
                    break
                r = {k: v for k, v in r.items() if not k.startswith("sample_")}
                r["wall_seconds"] = time.perf_counter() - t0
                runs.append(r)
                data["runs"].append(r)
                print(f"{name:12s} {task:12s} seed {seed}: accuracy {r['accuracy']:.4f}  baseline "
                      f"{r['baseline_accuracy']:.4f}  fit {r['fit_seconds']:.2f} s  wall {r['wall_seconds']:.1f} s",
                      flush=True)
            if error:
                data["runs"].append({"task": task, "substrate": name, "error": error})
                rows.append(f"| {name} | {task} | | | failed: {error[:100]} | | | | |")
                continue
            acc = [r["accuracy"] for r in runs]
            base = [r["baseline_accuracy"] for r in runs]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            beats = sum(a > b for a, b in zip(acc, base, strict=True))
            rows.append(
                f"| {name} | {task} | {runs[0]['units']} | {runs[0]['gain']:g} | {statistics.mean(acc):.4f} ± {sd:.4f}"
                f" (min {min(acc):.4f}) | {statistics.mean(base):.4f} (window {runs[0]['baseline_window']}) | "
                f"{statistics.mean(r['chance'] for r in runs):.3f} | {beats}/{len(runs)} | "
                f"{runs[0]['fit_seconds']:.2f} / {statistics.median(r['fit_seconds'] for r in runs):.2f} |"
            )
    load_after = os.getloadavg()
    data["loadavg_before"], data["loadavg_after"] = load_before, load_after
    missing = [n for n in ("esn", "lsm", "memristor", "photonic", "spintronic", "bucket") if n not in registered]
    body = [
        "Each reservoir at its registered defaults for the task; a `RidgeClassifier` (ridge regression on one-hot "
        "targets, argmax; the ridge chosen from 1e-8..1e4 on the last 20 % of the training data) reads its features; test data are fresh (a disjoint part of the same generator call). "
        "Accuracy: mean ± standard deviation over seeds 0.."
        f"{args.seeds - 1} (data, reservoir and noise all change with the seed). Baseline: the same readout on the "
        "raw input window, no reservoir (window: one period for sine-square, the delay + 1 samples the label depends "
        "on for xor, the whole sequence for patterns). Chance: frequency of the commonest test class. "
        "Fit time: seed 0 (includes JIT compilation) / median over seeds (a reservoir whose compiled fit "
        "is reused across seeds compiles once).",
        "",
        "Tasks: `sine-square`: 250 training / 125 test periods of 8 samples, labels per step, washout 16 "
        "(Torrejon 2017, Marković 2019). `xor`: XOR of two random bit streams 2 steps back, 2000 / 1000 steps, "
        "washout 20 (after Fernando & Sojakka 2003). `patterns`: rising against falling chirps (same power "
        "spectrum), random phase, onset and tempo, noise 0.1, 60 samples, 200 / 200 sequences, time-averaged "
        "features.",
        "",
        "| reservoir | task | units | gain | accuracy | baseline | chance | beats baseline | fit s (first / median) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Registered when run: {', '.join(registered)}."
        + (f" Not registered (not measured): {', '.join(missing)}." if missing else ""),
        f"Load average (1, 5, 15 min) before {tuple(round(x, 2) for x in load_before)}, after "
        f"{tuple(round(x, 2) for x in load_after)} (2-core machine shared with other jobs: times are inflated).",
    ]
    path = write_section("classify", "Classification: every reservoir against the raw-input baseline", body, data)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hyperparameter tuning: gradient descent (`reservoirs.tune`) against a grid, our random population, and
ReservoirPy's hyperopt random search (`reservoirpy.hyper.research`), on one-step Mackey-Glass and Lorenz.

Run from the repository root (needs the bench extra: `pip install -e ".[bench]"`, which brings ReservoirPy and
hyperopt):

    python benchmarks/bench_tune.py           # writes benchmarks/results/tune.{md,json,png}
    python benchmarks/bench_tune.py --quick   # smaller grid and budgets; prints only

Protocol per task (float64, standardised series, seed 0): the first `TRAIN` samples train, the next `VAL`
validate (one-step, teacher-forced, σ-normalised NRMSE), as `reservoirs.tune` splits them (its last quarter of the
data it is given validates). The ESN starts from ReservoirPy's default hyperparameters (spectral radius 1, leak 1,
input scaling 1, bias 0) with ridge 1e-8 (ReservoirPy's default is 0, which a log-ridge cannot start from), dense
weights drawn once (the same W, W_in for every method of ours). Tuned: gain, leak, input scaling, log ridge.

- grid: 4 gains x 4 leaks x 3 input scalings x 4 ridges = 192 configurations, evaluated in vmapped batches;
- gradient: Adam (learning rate 0.3, chosen among 0.1, 0.2, 0.3 and a cosine decay from 0.3 on the `--quick`
  configuration, N = 60) on the free parameters, one evaluation per step (the loss
  and its gradient), budget <= 1/5 of the grid's evaluations;
- random (ours): the same number of configurations as the gradient run, drawn around the start, vmapped;
- ReservoirPy's hyperopt random search (`hp_method: "random"`) over the grid's ranges (log-uniform), the same
  number of evaluations, each a ReservoirPy ESN (`Reservoir(sr, lr, input_scaling, rc_connectivity=1)` + `Ridge`)
  fitted on the same data; its wall time beside ours (its own W, so its losses are comparable in level only).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402

common.enable_x64()

import itertools  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import reservoirs as rc  # noqa: E402
import tasks  # noqa: E402
from reservoirs._tune import alpha_to_free, constraint_of, make_loss  # noqa: E402

NAMES = ("gain", "leak", "input_scaling")
GRID = dict(gain=(0.3, 0.6, 0.9, 1.2), leak=(0.1, 0.3, 0.6, 1.0), input_scaling=(0.1, 0.3, 1.0),
            alpha=(1e-10, 1e-8, 1e-6, 1e-4))
START = dict(gain=1.0, leak=1.0, input_scaling=1.0, alpha=1e-8)
TASKS = {
    "mackey-glass": dict(units=200, train=3000, val=1000, washout=200, make=lambda n: tasks.mackey_glass(
        n, key=jax.random.key(0)).values),
    "lorenz": dict(units=300, train=4500, val=1500, washout=200, make=lambda n: tasks.lorenz(
        n, key=jax.random.key(0)).values),
}


def data_for(cfg):
    x = np.asarray(cfg["make"](cfg["train"] + cfg["val"] + 1))
    z = (x - x[: cfg["train"]].mean(0)) / x[: cfg["train"]].std(0)
    return z


def our_loss(esn, z, cfg):
    n = cfg["train"]
    data = (jnp.asarray(z[: n]), jnp.asarray(z[1 : n + 1]), jnp.asarray(z[n:-1]), jnp.asarray(z[n + 1 :]))
    cons = {k: constraint_of(esn, k) for k in NAMES}
    loss = make_loss(esn, NAMES, cons, data, washout=cfg["washout"], horizon=1, stride=1, passthrough=False,
                     solver="auto", key=None, fixed_alpha=None)
    return loss, cons


def free_of(cons, values):
    return {k: jnp.asarray(cons[k].to_free(values[k])) for k in NAMES} | {"alpha": alpha_to_free(values["alpha"])}


def run_grid(loss, cons, batch=16):
    points = list(itertools.product(*(GRID[k] for k in (*NAMES, "alpha"))))
    frees = [free_of(cons, dict(zip((*NAMES, "alpha"), p, strict=True))) for p in points]
    stacked = {k: jnp.stack([f[k] for f in frees]) for k in frees[0]}
    f = eqx.filter_jit(jax.vmap(loss))
    t = time.perf_counter()
    out = []
    for s in range(0, len(points), batch):
        idx = np.arange(s, min(s + batch, len(points)))
        pad = np.concatenate([idx, np.repeat(idx[-1], batch - idx.size)])
        out.append(np.asarray(f({k: v[pad] for k, v in stacked.items()}))[: idx.size])
    seconds = time.perf_counter() - t
    losses = np.concatenate(out)
    best = int(np.nanargmin(losses))
    return dict(losses=losses.tolist(), best=float(losses[best]), best_point=list(points[best]), seconds=seconds,
                evaluations=len(points))


def run_reservoirpy(z, cfg, evaluations, seed=0):
    from reservoirpy import set_seed
    from reservoirpy.hyper import research
    from reservoirpy.nodes import Reservoir, Ridge

    n = cfg["train"]

    def objective(dataset, config, *, sr, lr, input_scaling, ridge):
        x_tr, y_tr, x_va, y_va = dataset
        res = Reservoir(cfg["units"], sr=sr, lr=lr, input_scaling=input_scaling, rc_connectivity=1.0,
                        input_connectivity=1.0, seed=seed)
        model = res >> Ridge(ridge=ridge)
        model.fit(x_tr, y_tr, warmup=cfg["washout"])
        pred = model.run(x_va)
        err = float(np.sqrt(np.mean(((pred - y_va) / y_va.std(0)) ** 2)))
        return {"loss": err if np.isfinite(err) else 1e6}

    with tempfile.TemporaryDirectory() as tmp:
        conf = {
            "exp": "bench_tune", "hp_max_evals": evaluations, "hp_method": "random", "seed": seed,
            "instances_per_trial": 1,
            "hp_space": {
                "sr": ["loguniform", min(GRID["gain"]), max(GRID["gain"])],
                "lr": ["loguniform", min(GRID["leak"]), max(GRID["leak"])],
                "input_scaling": ["loguniform", min(GRID["input_scaling"]), max(GRID["input_scaling"])],
                "ridge": ["loguniform", min(GRID["alpha"]), max(GRID["alpha"])],
            },
        }
        path = Path(tmp) / "conf.json"
        path.write_text(json.dumps(conf))
        set_seed(seed)
        dataset = (z[:n], z[1 : n + 1], z[n:-1], z[n + 1 :])
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best, trials = research(objective, dataset, str(path), tmp)
        seconds = time.perf_counter() - t
    losses = [tr["result"]["loss"] for tr in trials.trials]
    return dict(losses=losses, best=float(np.min(losses)), seconds=seconds, evaluations=len(losses))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    results = {}
    for task, cfg in TASKS.items():
        if args.quick:
            cfg = cfg | dict(units=60, train=1000, val=400)
        z = data_for(cfg)
        esn = rc.ESN(z.shape[1], cfg["units"], key=jax.random.key(1), **{k: START[k] for k in NAMES})
        loss, cons = our_loss(esn, z, cfg)
        grid = run_grid(loss, cons)
        budget = grid["evaluations"] // 5  # at most a fifth of the grid's evaluations
        steps = budget - 1
        t = time.perf_counter()
        grad = rc.tune(esn, z[:-1], z[1:], params=NAMES, alpha=START["alpha"], steps=steps,
                       optimizer=optax.adam(0.3), validation=cfg["val"] / (cfg["train"] + cfg["val"]),
                       washout=cfg["washout"], progress=False)
        grad_s = time.perf_counter() - t
        rand = rc.tune(esn, z[:-1], z[1:], params=NAMES, alpha=START["alpha"], method="random", population=budget,
                       spread=1.0, key=jax.random.key(2), validation=cfg["val"] / (cfg["train"] + cfg["val"]),
                       washout=cfg["washout"], progress=False)
        rpy = run_reservoirpy(z, cfg, budget)
        curve = grad.best_so_far()
        within = np.flatnonzero(curve <= 1.1 * grid["best"])
        results[task] = dict(
            units=cfg["units"], train=cfg["train"], val=cfg["val"], grid=grid, budget=budget,
            gradient=dict(history=grad.history[:, 0].tolist(), best=grad.validation_nrmse, params=grad.params,
                          seconds=grad_s, evaluations=grad.evaluations, start=grad.initial_nrmse,
                          first_within_10pct=int(within[0]) + 1 if within.size else None),
            random=dict(history=rand.history.tolist(), best=rand.validation_nrmse, params=rand.params,
                        seconds=rand.seconds, evaluations=rand.evaluations),
            reservoirpy_hyperopt=rpy,
        )
        print(f"{task}: grid best {grid['best']:.3e} ({grid['evaluations']} evals, {grid['seconds']:.1f} s) | "
              f"gradient {grad.validation_nrmse:.3e} ({grad.evaluations} evals, {grad_s:.1f} s; within 10 % after "
              f"{results[task]['gradient']['first_within_10pct']}) | random {rand.validation_nrmse:.3e} "
              f"({rand.seconds:.1f} s) | ReservoirPy hyperopt {rpy['best']:.3e} ({rpy['seconds']:.1f} s)",
              flush=True)

    lines = [
        "Rerun: `python benchmarks/bench_tune.py` (bench extra: ReservoirPy 0.4.2 + hyperopt). One-step NRMSE on the "
        "validation block (σ-normalised), float64, seed 0; the ESN starts at ReservoirPy's defaults (spectral "
        "radius 1, leak 1, input scaling 1, bias 0) with ridge 1e-8. Grid: gain {0.3, 0.6, 0.9, 1.2} x leak "
        "{0.1, 0.3, 0.6, 1} x input scaling {0.1, 0.3, 1} x ridge {1e-10, 1e-8, 1e-6, 1e-4}. Gradient: Adam "
        "(learning rate 0.3, chosen on the --quick configuration, N = 60, among 0.1, 0.2, 0.3 and a cosine decay), one evaluation per step. Random: ours, N(0, 1) around the start in the free coordinates (x4 for "
        "log ridge). ReservoirPy: `reservoirpy.hyper.research`, hyperopt random search, log-uniform over the "
        "grid's ranges, its own weights (dense, same N). Times are wall, compilation included.",
        "",
        "| task | N, train / val | method | evaluations | best validation NRMSE | / grid best | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, r in results.items():
        g = r["grid"]["best"]
        head = f"| {task} | {r['units']}, {r['train']} / {r['val']} |"
        lines.append(f"{head} grid (ours, vmapped) | {r['grid']['evaluations']} | {g:.3e} | 1.00 | "
                     f"{r['grid']['seconds']:.1f} |")
        gr = r["gradient"]
        lines.append(f"{head} gradient from the defaults (start {gr['start']:.3e}) | {gr['evaluations']} | "
                     f"{gr['best']:.3e} | {gr['best'] / g:.2f} | {gr['seconds']:.1f} |")
        ra = r["random"]
        lines.append(f"{head} random (ours, vmapped) | {ra['evaluations']} | {ra['best']:.3e} | {ra['best'] / g:.2f} | "
                     f"{ra['seconds']:.1f} |")
        rp = r["reservoirpy_hyperopt"]
        lines.append(f"{head} ReservoirPy hyperopt random | {rp['evaluations']} | {rp['best']:.3e} | "
                     f"{rp['best'] / g:.2f} | {rp['seconds']:.1f} |")
    lines += [""] + [
        f"{task}: the gradient run is within 10 % of the grid's best after "
        f"{r['gradient']['first_within_10pct'] or 'more than ' + str(r['gradient']['evaluations'])} evaluations "
        f"({r['budget']} allowed = 1/5 of the grid); tuned values "
        + ", ".join(f"{k} {v:.3g}" for k, v in r["gradient"]["params"].items())
        + "; grid best at " + ", ".join(f"{k} {v:g}" for k, v in zip((*NAMES, "alpha"), r["grid"]["best_point"],
                                                                      strict=True)) + "."
        for task, r in results.items()
    ] + ["", "![best validation NRMSE against evaluations](results/tune.png)", ""]
    print("\n".join(lines))
    if args.quick:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 3.4), squeeze=False)
    for ax, (task, r) in zip(axes[0], results.items(), strict=True):
        for name, hist in (("gradient", r["gradient"]["history"]), ("random (ours)", r["random"]["history"]),
                           ("grid", r["grid"]["losses"]), ("ReservoirPy hyperopt", r["reservoirpy_hyperopt"]["losses"])):
            h = np.where(np.isfinite(hist), hist, np.inf)
            ax.plot(np.arange(1, len(h) + 1), np.minimum.accumulate(h), label=name)
        ax.axhline(1.1 * r["grid"]["best"], color="k", ls=":", lw=0.8, label="grid best + 10 %")
        ax.axvline(r["budget"], color="grey", lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("model evaluations")
        ax.set_ylabel("best validation NRMSE")
        ax.set_title(f"{task}, ESN N = {r['units']}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    common.RESULTS.mkdir(exist_ok=True)
    fig.savefig(common.RESULTS / "tune.png", dpi=110)
    common.write_section("tune", "Tuning: gradient, grid, random population, ReservoirPy's hyperopt", lines, results,
                         extra_packages=("reservoirpy", "hyperopt", "optax"))


if __name__ == "__main__":
    main()

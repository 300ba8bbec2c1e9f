"""Accuracy benchmark: Mackey-Glass 84-step free run (Jaeger protocol) and Lorenz-63 valid prediction time.

Run from the repository root:

    python benchmarks/bench_accuracy.py            # full run (float64), writes benchmarks/results/accuracy.{md,json}
    python benchmarks/bench_accuracy.py --quick    # 3 seeds, fewer windows: smoke test, prints only, writes nothing

The hyperparameters below were chosen beforehand in scratch searches on *validation* data (other data keys than
the test data used here, and other reservoir seeds): see `SELECTION` for what was searched. This script only
runs the chosen configurations on fresh test windows and fresh reservoir seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `reservoirs` and `tasks` from this checkout
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402

common.enable_x64()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import reservoirs as rc  # noqa: E402
import tasks  # noqa: E402

# ----------------------------------------------------------------------------------------------------------------
# Mackey-Glass tau = 17, Jaeger 2001 (GMD Report 148) / Jaeger & Haas 2004 (Science 304:78) protocol.

MG_TRAIN = 3000  # teacher-forced training steps ...
MG_WASHOUT = 1000  # ... of which the first 1000 states are discarded
MG_WARMUP = 1000  # teacher-forced steps on each test window
MG_HORIZON = 84  # free-running steps; the error is taken at the 84th
MG_DATA_KEYS = {"train": 1000, "test": 3000}  # tuning used 1000 (train) and 2000 (validation windows)
MG_TARGETS = {400: 2.8e-4, 1000: 6.3e-5}  # published NRMSE84 (Jaeger 2001; Jaeger & Haas 2004, log10 = -4.2)

# One configuration for both sizes, used generatively: input y(n) -> target y(n+1), closed loop for the forecast.
_MG = dict(gain=0.997, leak=0.77, input_scaling=1.017, bias_scaling=0.339, feature_map="quadratic", alpha=1e-11)
MG_CONFIGS = {400: dict(_MG), 1000: dict(_MG)}

# ----------------------------------------------------------------------------------------------------------------
# Lorenz-63, dt = 0.02, valid prediction time (threshold 0.4, sigma = training std).

LZ_TRAIN = 20_000  # training samples (400 time units)
LZ_WASHOUT = 500
LZ_WARMUP = 500  # true samples that synchronise the reservoir before each forecast (10 time units)
LZ_HORIZON_LT = 25  # forecast length, in Lyapunov times
LZ_THRESHOLD = 0.4
LZ_DATA_KEYS = {"train": 1, "test": 3}  # tuning used 1 (train) and 2 (validation windows)
LZ_TARGET = 8.0  # mean VPT, Lyapunov times, at N <= 1000
LZ_CONFIG = dict(
    size=1000,
    gain=0.95,
    leak=1.0,
    input_scaling=0.306,
    bias_scaling=1.55,
    feature_map="pathak",
    alpha=1e-10,
    input_passthrough=True,
)

SELECTION = [
    "Mackey-Glass: about 250 random and local configurations (gain 0.6-1.3, leak 0.2-1, input scaling 0.1-4, "
    "bias 0.05-2, feature map linear/pathak/quadratic, ridge alpha 1e-14-1e-7, output feedback vs generative "
    "input), 3-5 reservoir seeds each (seeds 0-4), scored by the median NRMSE84 on 20, then 50, validation windows "
    "(data key 2000); the finalists were re-checked on seeds 3-10. NRMSE84 is a root-mean-square over windows and "
    "is dominated by a few hard windows (the largest single-window error is 10-30x the median one), so 50 windows "
    "are needed for a stable per-seed figure. Quadratic features ([x, x^2]) beat linear and pathak ones by 2-5x; "
    "gain ~1 with leak ~0.75, input scaling ~1 and bias ~0.3 work best, and the same configuration is best at both "
    "sizes. Alpha: the smallest value the Gram solver handles reliably wins (any larger alpha is worse); `RidgeCV` "
    "(one-step holdout error) picks alphas beyond that limit (NRMSE84 ~7e-4 at N=400). Feedback-only ESNs "
    "(`feedback_size=1`, Jaeger's form) were no better than the generative form, and small uniform noise "
    "(1e-7-1e-4) on the training inputs (Jaeger's noise) did not help: the ridge term already regularises.",
    "Lorenz: 35 random configurations at N=1000 (gain 0.3-1.2, leak, input scaling 0.1-1, bias 0.2-2, alpha "
    "1e-10-1e-5, dense or 2% connectivity; pathak features with input pass-through), one seed each, scored by the "
    "mean VPT over 20 validation windows (data key 2), then a local check of alpha, bias and input scaling on 2 "
    "seeds. 50k training samples were not better than 20k with the Gram solver (see the note on alpha).",
]


def mackey_glass_data(n_windows: int):
    squash = lambda s: jnp.tanh(s.values - 1.0)  # noqa: E731
    train = squash(tasks.mackey_glass(MG_TRAIN + 1, key=jax.random.key(MG_DATA_KEYS["train"]), method="euler"))
    win = MG_WARMUP + 1 + MG_HORIZON
    test = squash(tasks.mackey_glass(n_windows * win, key=jax.random.key(MG_DATA_KEYS["test"]), method="euler"))
    return train, test.reshape(n_windows, win, 1)  # non-overlapping windows of one long test trajectory


@jax.jit
def _mg_errors(model, windows):
    def one(w):
        result = rc.forecast(model.reset(), MG_HORIZON, warmup=w[: MG_WARMUP + 1])
        return result.outputs[-1, 0] - w[-1, 0], result.diverged

    return jax.vmap(one)(windows)


def run_mackey_glass(seeds, n_windows):
    train, windows = mackey_glass_data(n_windows)
    sigma = float(jnp.std(train))  # std of the squashed signal (training series)
    out = {}
    for size, cfg in MG_CONFIGS.items():
        cfg = dict(cfg)
        alpha = cfg.pop("alpha")
        per_seed, diverged, t0 = [], 0, time.perf_counter()
        for seed in seeds:
            esn = rc.ESN(1, size, key=jax.random.key(seed), **cfg)
            model = rc.fit(esn, train[:-1], train[1:], washout=MG_WASHOUT, readout=rc.Ridge(alpha))
            err, div = _mg_errors(model, windows)
            err = np.asarray(err)
            diverged += int(np.sum(np.asarray(div)))
            # A diverged window counts as an error of one sigma (it is NaN in the forecast).
            err = np.where(np.isfinite(err), err, sigma)
            per_seed.append(float(np.sqrt(np.mean(err**2)) / sigma))
        out[size] = dict(
            config=dict(cfg, alpha=alpha),
            nrmse84=per_seed,
            stats=rc.mean_and_spread(per_seed),
            diverged_windows=diverged,
            seconds=time.perf_counter() - t0,
        )
        print(
            f"MG N={size}: median NRMSE84 {out[size]['stats']['median']:.3g} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return dict(sigma=sigma, windows=n_windows, seeds=list(seeds), sizes=out)


def run_lorenz(seeds, n_windows):
    train = tasks.lorenz(LZ_TRAIN + 1, key=jax.random.key(LZ_DATA_KEYS["train"]))
    dt, lt = train.dt, train.lyapunov_time
    horizon = math.ceil(LZ_HORIZON_LT * lt / dt)
    x = train.values
    mu, sd = jnp.mean(x, axis=0), jnp.std(x, axis=0)  # normalisation, and sigma for the VPT
    u = (x - mu) / sd
    win = LZ_WARMUP + horizon
    test = tasks.lorenz(n_windows * win, key=jax.random.key(LZ_DATA_KEYS["test"])).values.reshape(n_windows, win, 3)

    @jax.jit
    def vpts(model, windows):
        def one(w):
            result = rc.forecast(model.reset(), horizon, warmup=(w[:LZ_WARMUP] - mu) / sd)
            y_pred = result.outputs * sd + mu  # back to Lorenz units
            return rc.valid_prediction_time(
                w[LZ_WARMUP:], y_pred, dt=dt, lyapunov_time=lt, threshold=LZ_THRESHOLD, sigma=sd
            )

        return jax.vmap(one)(windows)

    cfg = dict(LZ_CONFIG)
    size, alpha, passthrough = cfg.pop("size"), cfg.pop("alpha"), cfg.pop("input_passthrough")
    all_vpt, per_seed, t0 = [], [], time.perf_counter()
    for seed in seeds:
        esn = rc.ESN(3, size, key=jax.random.key(seed), **cfg)
        model = rc.fit(esn, u[:-1], u[1:], washout=LZ_WASHOUT, readout=rc.Ridge(alpha, input_passthrough=passthrough))
        v = np.asarray(vpts(model, test))
        all_vpt.extend(v.tolist())
        per_seed.append(rc.mean_and_spread(v))
        print(f"Lorenz seed {seed}: mean VPT {v.mean():.2f} LT", flush=True)
    return dict(
        config=dict(LZ_CONFIG),
        dt=dt,
        lyapunov_time=lt,
        horizon_steps=horizon,
        horizon_lyapunov_times=horizon * dt / lt,
        windows=n_windows,
        seeds=list(seeds),
        vpt=all_vpt,
        stats=rc.mean_and_spread(all_vpt),
        per_seed=per_seed,
        seconds=time.perf_counter() - t0,
    )


def _fmt_cfg(cfg):
    return ", ".join(f"{k}={v}" for k, v in cfg.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 seeds and fewer windows; print the section, write nothing"
    )
    args = parser.parse_args()
    mg_seeds = range(100, 103) if args.quick else range(100, 120)
    lz_seeds = range(100, 101) if args.quick else range(100, 105)
    mg_windows = 10 if args.quick else 50
    lz_windows = 5 if args.quick else 30

    t_start = time.perf_counter()
    mg = run_mackey_glass(mg_seeds, mg_windows)
    lz = run_lorenz(lz_seeds, lz_windows)
    total = time.perf_counter() - t_start

    lines = [
        "Reservoir seeds `jax.random.key(s)` for s in "
        f"{mg_seeds.start}..{mg_seeds.stop - 1} (Mackey-Glass) and {lz_seeds.start}..{lz_seeds.stop - 1} (Lorenz); "
        'data from `tasks.mackey_glass(..., method="euler")` and `tasks.lorenz(...)` with fixed data keys. '
        f"Total run time {total:.0f} s." + (" **Quick mode: not comparable.**" if args.quick else ""),
        "",
        "### Mackey-Glass tau = 17, 84-step free run (Jaeger protocol)",
        "",
        "Euler h = 1/10, one sample per time unit, squashed y = tanh(x - 1). Train 3000 teacher-forced steps, discard "
        "the first 1000 states; then, on each of "
        f"{mg['windows']} non-overlapping windows of a separate test trajectory, 1000 teacher-forced steps and 84 "
        "free-running steps (`forecast(model.reset(), 84, warmup=window[:1001])`). Per reservoir seed, "
        "NRMSE84 = sqrt(mean over windows of (y(n+84) - yhat(n+84))^2) / sigma, sigma = std of the squashed training "
        f"series ({mg['sigma']:.4f}). Generative ESN (input y(n), target y(n+1)), dense W, `Ridge(alpha)`.",
        "",
        "| N | median NRMSE84 | mean | min | max | published | target met | diverged windows | time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, r in mg["sizes"].items():
        s = r["stats"]
        lines.append(
            f"| {size} | {s['median']:.2e} | {s['mean']:.2e} | {s['min']:.2e} | {s['max']:.2e} | "
            f"{MG_TARGETS[size]:.1e} | {'yes' if s['median'] <= MG_TARGETS[size] else 'no'} | "
            f"{r['diverged_windows']} | {r['seconds']:.0f} s |"
        )
    lines += [""]
    for size, r in mg["sizes"].items():
        lines.append(f"- N={size}: {_fmt_cfg(r['config'])}.")
    s = lz["stats"]
    lines += [
        "",
        "### Lorenz-63 valid prediction time",
        "",
        f"sigma=10, rho=28, beta=8/3, dt={lz['dt']}, Lyapunov time {lz['lyapunov_time']:.3f}. Train on "
        f"{LZ_TRAIN} samples (washout {LZ_WASHOUT}), inputs normalised to zero mean and unit variance with the "
        "training statistics (forecasts un-normalised before scoring). On each of "
        f"{lz['windows']} non-overlapping windows of a separate test trajectory: warm up on {LZ_WARMUP} true samples, "
        f"forecast {lz['horizon_steps']} steps ({lz['horizon_lyapunov_times']:.1f} Lyapunov times) closed loop; "
        f"VPT = `valid_prediction_time(threshold={LZ_THRESHOLD}, sigma=training std)`. "
        f"{len(lz['seeds'])} reservoir seeds x {lz['windows']} windows = {len(lz['vpt'])} forecasts.",
        "",
        "| N | mean VPT (Lyapunov times) | median | std | min | max | target (mean) | target met | time |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {LZ_CONFIG['size']} | {s['mean']:.2f} | {s['median']:.2f} | {s['std']:.2f} | {s['min']:.2f} | "
        f"{s['max']:.2f} | >= {LZ_TARGET:g} | {'yes' if s['mean'] >= LZ_TARGET else 'no'} | {lz['seconds']:.0f} s |",
        "",
        "Mean VPT per seed: " + ", ".join(f"{p['mean']:.2f}" for p in lz["per_seed"]) + ".",
        "",
        f"- {_fmt_cfg(LZ_CONFIG)}.",
        "",
        "### How the hyperparameters were chosen",
        "",
        *[f"- {t}" for t in SELECTION],
        "- Note on alpha: `Ridge` solves the normal equations of the Gram matrix, whose eigenvalues span more than "
        "20 decades here (smallest/largest eigenvalue ~ 1e-21); below alpha ~ 5e-12 (Mackey-Glass, 2000 features, "
        "2000 samples) the Cholesky factorisation either fails (and the pseudo-inverse fallback truncates heavily) "
        "or returns inaccurate weights, so alpha cannot go lower. In scratch runs of this configuration on these "
        "test windows (seeds 100-104), an SVD solve of the centred feature matrix at alpha 1e-14 gave median "
        "NRMSE84 6.6e-5 (N=400) and 4.0e-5 (N=1000), against 2.3e-4 and 4.9e-5 with `Ridge(1e-11)`; on Lorenz "
        "(one seed, validation windows) it raised the mean VPT from 14.3 to 16.4 Lyapunov times.",
        "",
        "How to rerun: `python benchmarks/bench_accuracy.py` from the repository root (about "
        f"{math.ceil(total / 60)} min on this machine), then `python benchmarks/make_results.py`.",
    ]
    data = dict(
        mackey_glass=mg,
        lorenz=lz,
        total_seconds=total,
        quick=args.quick,
        commit=common.git_commit(),
        machine=common.machine(),
        versions=common.versions(),
    )
    if args.quick:  # a smoke test must not overwrite the real section
        print("\n".join(lines))
        return
    path = common.write_section("accuracy", "Accuracy: Mackey-Glass NRMSE84 and Lorenz-63 VPT", lines, data)
    print(f"wrote {path} ({total:.0f} s)")


if __name__ == "__main__":
    main()

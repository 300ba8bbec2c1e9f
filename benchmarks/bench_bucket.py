"""Water-bucket benchmark: edge of chaos under the Faraday pump (and none for linear water), XOR / pattern / sine-square
classification against the raw-input baseline, cost per leapfrog step against grid size (JAX scan vs a plain NumPy
leapfrog), closed-loop Mackey-Glass at the best gain, and the energy estimate.

    python benchmarks/bench_bucket.py           # full run, writes benchmarks/results/bucket.{md,json,png}
    python benchmarks/bench_bucket.py --quick   # fewer gains, seeds and grids; prints, writes nothing
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

common.enable_x64()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import physical  # noqa: E402
import reservoirs as rc  # noqa: E402
import tasks  # noqa: E402
from physical._bucket import BUCKET_PRESETS, WaterBucket  # noqa: E402
from reservoirs._classify import run_classify  # noqa: E402


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def forecast_tank(gain, key=jax.random.key(1), **kw):
    p = dict(BUCKET_PRESETS["forecast"]) | kw
    return WaterBucket(1, 64, key=key, gain=gain, **p)


def numpy_leapfrog(h, hp, n_sub, c2, b, A, inv_s, inv_d, dt, dx, pump_cycles, S, source):
    """The same scheme as `WaterBucket.step`, vectorised NumPy, `n_sub` substeps (the motors at a fixed source)."""
    for j in range(n_sub):
        g = np.pad(h, 1, mode="edge")
        d = np.clip(1 + g * inv_d, 0.1, 2.0)
        dc, c = d[1:-1, 1:-1], g[1:-1, 1:-1]
        div = (0.5 * (d[1:-1, 2:] + dc) * (g[1:-1, 2:] - c) - 0.5 * (d[1:-1, :-2] + dc) * (c - g[1:-1, :-2])
               + 0.5 * (d[2:, 1:-1] + dc) * (g[2:, 1:-1] - c) - 0.5 * (d[:-2, 1:-1] + dc) * (c - g[:-2, 1:-1]))
        div /= dx * dx
        beta = 0.5 * b * (1 + (inv_s * h) ** 2) * dt
        pump = np.cos(2 * np.pi * pump_cycles * (j % S) / S)
        motor = np.sin(2 * np.pi * ((j % S) + 0.5) / S)
        new = (2 * h - (1 - beta) * hp + dt * dt * (c2 * (1 + A * pump) * div + motor * source)) / (1 + beta)
        new -= new.mean()
        hp, h = h, new
    return h, hp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t_start = time.perf_counter()
    n_gains = 8 if args.quick else 32
    seeds = (0,) if args.quick else (0, 1, 2)
    grids = (32, 64) if args.quick else (32, 64, 128, 256)
    data: dict = {}
    lines: list[str] = []

    # ------------------------------------------------------------------------------------------ edge of chaos
    x = tasks.mackey_glass(3001, key=jax.random.key(0)).values
    z = (x - x.mean(0)) / x.std(0)
    gains = np.linspace(0.0, 0.8, n_gains)
    t0 = time.perf_counter()
    sw = rc.sweep(forecast_tank(0.0), z[:-1], z[1:], gains=gains, readout=rc.Ridge(1e-8), washout=500,
                  key=jax.random.key(2), progress=False)
    t_sweep = time.perf_counter() - t0
    lin = forecast_tank(0.0, saturation_height=None, depth=None)
    drives = np.geomspace(0.1, 100.0, 8 if not args.quick else 4)
    sw_lin_drive = rc.sweep(lin, z[:-1], z[1:], params={"input_scaling": drives}, readout=rc.Ridge(1e-8),
                            washout=500, progress=False)
    sw_lin_pump = rc.sweep(lin, z[:-1], z[1:], gains=np.linspace(0.0, 0.6, n_gains // 2), readout=rc.Ridge(1e-8),
                           washout=500, progress=False)
    edge = sw.edge_of_chaos(mode="first")
    edge_sustained = sw.edge_of_chaos(mode="sustained")
    data["sweep"] = dict(gains=gains.tolist(), lyapunov=sw.lyapunov.tolist(), nrmse=sw.nrmse.tolist(),
                         edge_of_chaos=edge, edge_sustained=edge_sustained, best_gain=sw.best_gain, seconds=t_sweep,
                         linear_exponent=lin.linear_exponent())
    data["linear_drive"] = dict(input_scaling=drives.tolist(), lyapunov=sw_lin_drive.lyapunov.tolist(),
                                edge_of_chaos=sw_lin_drive.edge_of_chaos("input_scaling"))
    data["linear_pump"] = dict(gains=sw_lin_pump.params["gain"].tolist(), lyapunov=sw_lin_pump.lyapunov.tolist(),
                               diverged=sw_lin_pump.diverged.tolist())
    print(f"sweep done ({t_sweep:.0f} s): edge {edge}", flush=True)

    # --------------------------------------------------------------------------------------- classification
    cls_rows, cls = [], {}
    for task in ("xor", "sine-square", "patterns"):
        rs = [run_classify(task, substrate="bucket", seed=s) for s in seeds]
        acc = [r["accuracy"] for r in rs]
        base = [r["baseline_accuracy"] for r in rs]
        cls[task] = dict(accuracy=acc, baseline=base, fit_seconds=[r["fit_seconds"] for r in rs])
        cls_rows.append([task, rs[0]["units"], ", ".join(f"{a:.3f}" for a in acc), ", ".join(f"{a:.3f}" for a in base),
                         f"{statistics.median(r['fit_seconds'] for r in rs):.1f}"])
        print(task, acc, base, flush=True)
    data["classification"] = cls

    # ------------------------------------------------------------------------------------------- cost per step
    cost_rows, cost = [], {}
    load_before = os.getloadavg()
    for n in grids:
        tank = WaterBucket(1, 64, key=jax.random.key(3), grid=n, gain=0.2)
        S = tank.substeps
        n_samples = max(2, int(round(2e6 / (n * n * S))))
        u = jax.random.normal(jax.random.key(4), (n_samples, 1))
        run = eqx.filter_jit(lambda t, u: jax.lax.scan(lambda s, x: (t.step(s, x), None), t.init_state(), u)[0][0])
        run(tank, u).block_until_ready()
        h0 = np.zeros(tank.shape)
        source = np.asarray(tank.input_scaling * jnp.tensordot(tank.motor_weights[:, 0], tank.motor_profile, 1))
        args_np = (float(tank.wave_speed) ** 2, float(tank.damping), float(tank.gain), float(tank.inv_saturation),
                   float(tank.inv_depth), tank.dt, tank.dx, tank.pump_cycles, S, source)
        n_np = max(S, min(n_samples * S, int(2e6 / (n * n))))
        numpy_leapfrog(h0, h0, S, *args_np)
        tj, tn = [], []
        for _ in range(5 if not args.quick else 3):  # interleaved repetitions
            t = time.perf_counter()
            run(tank, u).block_until_ready()
            tj.append((time.perf_counter() - t) / (n_samples * S))
            t = time.perf_counter()
            numpy_leapfrog(h0, h0, n_np, *args_np)
            tn.append((time.perf_counter() - t) / n_np)
        mj, mn = statistics.median(tj), statistics.median(tn)
        cost[n] = dict(substeps=S, jax_s_per_substep=mj, numpy_s_per_substep=mn, ratio=mn / mj, jax_all=tj,
                       numpy_all=tn, jax_s_per_sample=mj * S)
        cost_rows.append([f"{n} x {n}", S, f"{mj * 1e6:.1f}", f"{mn * 1e6:.1f}", f"{mn / mj:.2f}",
                          f"{mj * S * 1e3:.3f}", f"{n * n / mj / 1e6:.0f}"])
        print(n, cost[n]["ratio"], mj, flush=True)
    load_after = os.getloadavg()
    data["cost"] = dict(per_grid=cost, loadavg_before=load_before, loadavg_after=load_after)

    # ---------------------------------------------------------------------------------- Mackey-Glass closed loop
    train, washout, horizon = 4000, 500, 500
    series = tasks.mackey_glass(train + 1 + horizon, key=jax.random.key(5))
    v = series.values
    mu, sd = v[: train + 1].mean(0), v[: train + 1].std(0)
    zz = (v - mu) / sd
    mg_rows, mg = [], {}
    for label, g in (("best gain of the sweep", float(sw.best_gain)), ("gain 0 (no pump)", 0.0)):
        if label.startswith("gain 0") and float(sw.best_gain) == 0.0:
            continue
        model = rc.fit(forecast_tank(g), zz[:train], zz[1 : train + 1], washout=washout, readout=rc.Ridge(1e-8))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = rc.forecast(model, horizon)
        truth = zz[train + 1 :]
        vpt = float(rc.valid_prediction_time(truth, res.outputs, dt=series.dt, lyapunov_time=series.lyapunov_time,
                                             sigma=jnp.ones(1)))
        y, _ = rc.predict(model.reset(), zz[:train])
        one = float(rc.nrmse(zz[1 + washout : train + 1], y[washout:]))
        mg[label] = dict(gain=g, vpt=vpt, train_one_step_nrmse=one, diverged=bool(res.diverged))
        mg_rows.append([label, f"{g:.3g}", f"{one:.4f}", f"{vpt:.2f}", str(bool(res.diverged))])
        print(label, g, vpt, one, flush=True)
    data["mackey_glass"] = dict(rows=mg, lyapunov_time=float(series.lyapunov_time), train=train, washout=washout,
                                horizon=horizon)

    # ------------------------------------------------------------------------------------------------ energy
    e_rows, energy = [], {}
    for name, tank in (("forecast preset (64 probes)", forecast_tank(0.0)),
                       ("xor preset (camera, 400 px)", rc.registry()["bucket"].build(2, 400, 0.0,
                                                                                     key=jax.random.key(0),
                                                                                     task="xor"))):
        rep = physical.energy_per_step(tank)
        energy[name] = rep.to_dict()
        e_rows.append([name, tank.feature_size, f"{rep.joules:.3g}", f"{rep.baseline_joules:.3g}",
                       f"{rep.ratio:.2g}"])
    data["energy"] = energy

    # ---------------------------------------------------------------------------------------------- figure
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 3, figsize=(13, 3.6))
    axs[0].plot(gains, sw.lyapunov, "o-", ms=3, label="nonlinear tank (preset)")
    axs[0].plot(sw_lin_pump.params["gain"], np.where(sw_lin_pump.diverged, np.nan, sw_lin_pump.lyapunov), "s--",
                ms=3, label="linear tank (diverges above threshold)")
    axs[0].axhline(0, color="k", lw=0.7)
    if edge is not None:
        axs[0].axvline(edge, color="r", lw=0.7, ls=":")
    axs[0].set_xlabel("Faraday pump depth A")
    axs[0].set_ylabel("largest conditional exponent (1/sample)")
    axs[0].legend(fontsize=7)
    axs[1].semilogx(drives, sw_lin_drive.lyapunov, "o-")
    axs[1].axhline(0, color="k", lw=0.7)
    axs[1].axhline(lin.linear_exponent(), color="g", lw=0.7, ls=":", label="-b T / 2 (leapfrog)")
    axs[1].set_xlabel("motor drive (m/s² per unit input), linear tank, A = 0")
    axs[1].legend(fontsize=7)
    ns = list(cost)
    axs[2].loglog([n * n for n in ns], [cost[n]["jax_s_per_substep"] for n in ns], "o-", label="JAX scan")
    axs[2].loglog([n * n for n in ns], [cost[n]["numpy_s_per_substep"] for n in ns], "s-", label="NumPy")
    axs[2].set_xlabel("cells")
    axs[2].set_ylabel("s per leapfrog step")
    axs[2].legend(fontsize=7)
    fig.tight_layout()

    # ------------------------------------------------------------------------------------------------ write-up
    total = time.perf_counter() - t_start
    lam = sw.lyapunov
    lines += [
        "Model: `physical.WaterBucket`, the damped 2-D wave equation with Faraday pump c² -> c²(1 + A cos Ωt), "
        "shallow-water speed (1 + h/h0) and nonlinear damping b(1 + h²/h_s²), leapfrog, reflecting walls. Preset "
        f"`{BUCKET_PRESETS['forecast']}` (0.2 m tank, 1 cm cells, 0.1 s samples, 10 leapfrog steps each).",
        "",
        f"### Edge of chaos (one-step Mackey-Glass drive, 3000 samples, {n_gains} gains, Ridge 1e-8)",
        "",
        f"Largest conditional exponent per sample: {lam.min():+.4f} (min) to {lam.max():+.4f} (max); at A = 0 "
        f"{lam[0]:+.4f} (the leapfrog's -bT/2 = {lin.linear_exponent():+.4f}); first upward crossing of zero at "
        f"A = {edge if edge is None else format(edge, '.3f')}; sustained crossing (positive to the end of the "
        f"sweep): {edge_sustained if edge_sustained is None else format(edge_sustained, '.3f')}. Exponent > 0 at "
        f"A = {', '.join(f'{g:.2f}' for g in gains[lam > 0])}. The registered CLI range is (0, 0.45). One-step NRMSE {sw.nrmse[0]:.4f} at A = 0; best "
        f"{np.nanmin(sw.nrmse):.4f} at A = {sw.best_gain:.3g}. Sweep time {t_sweep:.0f} s (wall, with compilation).",
        "",
        *table(["A", "exponent", "one-step NRMSE"],
               [[f"{g:.3f}", f"{l_:+.4f}", f"{n_:.4f}"] for g, l_, n_ in
                zip(gains[:: max(1, n_gains // 16)], lam[:: max(1, n_gains // 16)],
                    sw.nrmse[:: max(1, n_gains // 16)], strict=True)]),
        "",
        "Linear water (no nonlinear damping, no depth term): against the motor drive (0.1 to 100 m/s² per unit "
        "input, A = 0) the exponent stays at "
        f"{np.min(sw_lin_drive.lyapunov):+.4f} .. {np.max(sw_lin_drive.lyapunov):+.4f} (no crossing: "
        f"{data['linear_drive']['edge_of_chaos']}). Pumped, the linear tank's exponent is "
        + ", ".join(f"{l_:+.3f}" if not d else "diverged" for l_, d in
                    zip(sw_lin_pump.lyapunov, sw_lin_pump.diverged, strict=True))
        + f" at A = {', '.join(f'{g:.2f}' for g in sw_lin_pump.params['gain'])}: above the parametric threshold "
        "the surface grows without bound (a linear instability, not chaos); only the nonlinear terms bound it.",
        "",
        "Caveat: in the chaotic range the heights reach and exceed the 5 mm depth (the speed factor is clipped at "
        "[0.1, 2]) and energy collects at the shortest waves the grid holds; the chaos is a property of this "
        "discretised model, not a validated prediction for a real tank.",
        "",
        f"### Classification (CLI protocol `reservoirs classify --substrate bucket`, seeds {list(seeds)})",
        "",
        *table(["task", "probes/pixels", "accuracy", "raw-input baseline", "fit s (median)"], cls_rows),
        "",
        f"### Cost per leapfrog step (float64, A = 0.2; interleaved, medians of {5 if not args.quick else 3}; "
        f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} on {os.cpu_count()} cores)",
        "",
        *table(["grid", "substeps/sample", "JAX µs/step", "NumPy µs/step", "NumPy / JAX", "JAX ms/sample",
                "Mcells/s (JAX)"], cost_rows),
        "",
        f"### Closed-loop Mackey-Glass (train {train}, washout {washout}, horizon {horizon}, standardised; VPT in "
        f"Lyapunov times, threshold 0.4, Lyapunov time {series.lyapunov_time:.1f} samples)",
        "",
        *table(["setting", "A", "one-step NRMSE (train)", "VPT", "diverged"], mg_rows),
        "",
        "### Energy per input sample (estimates; `physical.energy_per_step`)",
        "",
        *table(["tank", "features", "J per sample", "digital ESN J", "baseline / tank"], e_rows),
        "",
        "Basis: each motor at its rated electrical power (3 V x 80 mA = 0.24 W, a small vibration motor's datasheet "
        "order) for the whole 0.1 s sample; camera readouts add a 10 W LED lamp for the sample and ~1.25 nJ per "
        "pixel read (a 0.3 W, 8 Mpixel, 30 frame/s CMOS sensor); probes add one 5 nJ ADC conversion each. The "
        "motors alone cost ~0.1 J per sample and the lamp ~1 J, 10^6 to 10^7 times a digital ESN of the same "
        "feature count (Horowitz 2014 arithmetic only): the bucket is a demonstration of physical computing, not an "
        "energy-efficient one.",
        "",
        f"How to rerun: `python benchmarks/bench_bucket.py` (about {np.ceil(total / 60):.0f} min here), then "
        "`python benchmarks/make_results.py`.",
    ]
    data.update(total_seconds=total, quick=args.quick, commit=common.git_commit(), machine=common.machine(),
                versions=common.versions())
    if args.quick:
        print("\n".join(lines))
        return
    fig.savefig(common.RESULTS / "bucket.png", dpi=110)
    lines.insert(0, "![exponent against pump, linear tank, cost per step](results/bucket.png)")
    lines.insert(1, "")
    path = common.write_section("bucket", "Water bucket: Faraday-pumped wave tank", lines, data)
    print(f"wrote {path} ({total:.0f} s)")


if __name__ == "__main__":
    main()

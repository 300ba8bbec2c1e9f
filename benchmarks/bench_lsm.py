"""Liquid state machine (`reservoirs.LSM`): firing rates, separation, classification, order parameter, Mackey-Glass,
speed against Brian2 and BrainPy, and energy per input sample.

Run from the repository root:

    python benchmarks/bench_lsm.py           # full run (5-8 min on 2 cores), writes benchmarks/results/lsm.{md,json}
    python benchmarks/bench_lsm.py --quick   # fewer networks, shorter runs; prints, writes nothing

The speed comparison runs the same deterministic 1000- and 10000-neuron networks (exported synapse by synapse) in
Brian2 and in BrainPy, each in its own interpreter: the newest brian2 (2.11) needs Python >= 3.13, brainpy 2.9 needs
Python >= 3.12 and brings its own jax. Create them once with

    /root/.pyenv/versions/3.13.0/bin/python3.13 -m venv /tmp/brianenv && /tmp/brianenv/bin/pip install brian2
    /root/.pyenv/versions/3.13.0/bin/python3.13 -m venv /tmp/brainpyenv && /tmp/brainpyenv/bin/pip install brainpy

(any Python 3.13 will do; the Cython target needs a C compiler. With Python 3.11, pip falls back to brian2 2.9,
which needs `"numpy<2.3"`, and to brainpy 2.8, not tried here.) Pass other interpreters with `--brian-python PATH`
and `--brainpy-python PATH`. Without one, the section says which simulator was not available and reports the
others. (Those interpreters run this file with `--brian-run` or `--brainpy-run`, which import neither this
project's JAX setup nor the library.)

    python benchmarks/bench_lsm.py --speed-only           # the speed section alone; prints, writes nothing
    python benchmarks/bench_lsm.py --speed-only --quick   # its quick sizes
    python benchmarks/bench_lsm.py --speed-only --json /tmp/speed.json   # ... and writes its data there

Everything in float64. Network seeds are `jax.random.key(s)`; data seeds are fixed below.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

#: The peer children (`--brian-run`, `--brainpy-run`) import neither this project's JAX setup nor the library: they run
#: in their own interpreters (the BrainPy one has its own jax).
_CHILD = "--brian-run" in sys.argv or "--brainpy-run" in sys.argv

if not _CHILD:
    import common

    common.enable_x64()

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    from scipy import stats

    import physical
    import reservoirs as rc
    import tasks

DEFAULT_BRIAN_PYTHON = "/tmp/brianenv/bin/python"
DEFAULT_BRAINPY_PYTHON = "/tmp/brainpyenv/bin/python"
#: Maass et al. 2002's setting: constant 13.5 nA for every neuron, no noise: silent unless driven.
MAASS = dict(background_current=13.5, background_spread=0.0, noise=0.0)
#: A deterministic suprathreshold background that fires at ~10 Hz without noise (its regularly firing neurons never
#: forget the initial state): the network simulated side by side with Brian2, whose random streams cannot be matched.
DETERMINISTIC = dict(background_current=14.75, background_spread=1.0, noise=0.0)
SEP_SEED, CLS_SEED, MG_SEED = 21, 22, 23


def log(*args):
    print(*args, flush=True)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def ms(x):
    x = np.asarray(x, np.float64)
    if not np.any(np.isfinite(x)):
        return dict(mean=float("nan"), sd=float("nan"), n=int(x.size))
    return dict(mean=float(np.nanmean(x)), sd=float(np.nanstd(x)), n=int(x.size))


def pm(d, fmt=".2f"):
    return f"{d['mean']:{fmt}} ± {d['sd']:{fmt}}"


def yes(ok):
    return "**met**" if ok else "**not met**"


def options_label(kw):
    if not kw:
        return "default (I_b 14 ± 0.5 nA, OU noise 2.5 nA)"
    if kw == MAASS:
        return "Maass 2002 (I_b 13.5 nA, no spread, no noise)"
    if kw == DETERMINISTIC:
        return "deterministic suprathreshold (I_b 14.75 ± 1 nA, no noise)"
    return str(kw)


# ----------------------------------------------------------------------------------------------------------------
# (1) spontaneous firing rates under the default background drive
# ----------------------------------------------------------------------------------------------------------------


def isi_cv(spikes, dt):
    """Mean coefficient of variation of the inter-spike intervals, over neurons with more than 3 spikes."""
    s = np.asarray(spikes).reshape(-1, spikes.shape[-1])
    cvs = []
    for i in range(s.shape[1]):
        t = np.flatnonzero(s[:, i]) * dt
        if t.size > 3:
            isi = np.diff(t)
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def exp_rates(networks, seconds, ref_networks):
    out = {}
    for kw, n_net in (({}, networks), (DETERMINISTIC, ref_networks), (MAASS, ref_networks)):
        label = options_label(kw)
        e, i, cv, ev = [], [], [], []
        for seed in range(n_net):
            lsm = rc.LSM(1, key=jax.random.key(seed), **kw)
            n = int(round(seconds * 1000 / lsm.sample_duration))
            skip = 50  # 0.5 s transient
            key = jax.random.key(100 + seed) if lsm.stochastic else None
            _, sp = rc.spike_trains(lsm, jnp.zeros((n + skip, 1)), key=key)
            sp = sp[skip:]
            r = rc.firing_rates(lsm, sp)
            e.append(r.excitatory)
            i.append(r.inhibitory)
            cv.append(isi_cv(sp, lsm.dt))
            ev.append(rc.synaptic_events(lsm, sp) / n)
        out[label] = dict(options=kw, E_hz=ms(e), I_hz=ms(i), E_hz_per_network=e, I_hz_per_network=i,
                          isi_cv=ms(cv), synaptic_events_per_sample=ms(ev), networks=n_net, seconds=seconds)
        log(f"rates, {label}: E {pm(out[label]['E_hz'])} Hz, I {pm(out[label]['I_hz'])} Hz, ISI CV "
            f"{np.nanmean(cv) if np.any(np.isfinite(cv)) else float('nan'):.2f}, events/sample {np.mean(ev):.1f}")
    return out


# ----------------------------------------------------------------------------------------------------------------
# (2) separation (Maass et al. 2002, Fig. 2)
# ----------------------------------------------------------------------------------------------------------------


def poisson_train(rng, rate_hz, steps, dt, channels=1):
    return (rng.random((steps, channels)) < rate_hz * dt / 1000).astype(np.float64)


def spike_distance(u, v, dt, sigma=5.0):
    """Maass et al. 2002: ||u * G - v * G|| / T, G a Gaussian kernel (sigma 5 ms), spikes as unit impulses."""
    t = np.arange(-4 * sigma, 4 * sigma + dt, dt)
    g = np.exp(-(t**2) / (2 * sigma**2))
    d = np.stack([np.convolve(u[:, c] - v[:, c], g, mode="same") for c in range(u.shape[1])], 1)
    T = u.shape[0] * dt
    return float(np.sqrt(np.sum(d**2) * dt) / T)


def _liquid_features(lsm, x, keys):
    """`rc.run` on a batch of input series (trials, time, channels), one noise key per trial: the features."""
    return jax.vmap(lambda xi, k: rc.run(lsm, xi, key=k if lsm.stochastic else None)[1])(x, keys)


liquid_features = None if _CHILD else eqx.filter_jit(_liquid_features)


SEP_WINDOWS = ((0, 100), (100, 300), (300, 500))
SEP_MOVED = (0, 1, 2, 4, 8)


def exp_separation(pairs, seed=SEP_SEED):
    """Pairs of 500 ms, 20 Hz Poisson trains u, v where v is u with k spikes moved to random times; each run starts
    after 200 ms of an independent random prelude, so the liquids enter the stimulus in different states (Maass
    2002, Fig. 2). State distance: Euclidean distance between the two liquid states (filtered spike trains, one
    value per 0.5 ms time step), averaged over a window and over pairs."""
    dt, stim_ms, pre_ms = 0.5, 500.0, 200.0
    steps, pre = int(stim_ms / dt), int(pre_ms / dt)
    rng = np.random.default_rng(seed)
    U, V, D = [], [], []
    for moved in SEP_MOVED:
        for _ in range(pairs):
            u = poisson_train(rng, 20.0, steps, dt)
            v = u.copy()
            idx = np.flatnonzero(v[:, 0])
            for j in rng.choice(idx, size=min(moved, idx.size), replace=False):
                v[j, 0] = 0
                v[rng.integers(steps), 0] += 1
            U.append(np.concatenate([poisson_train(rng, 20.0, pre, dt), u]))
            V.append(np.concatenate([poisson_train(rng, 20.0, pre, dt), v]))
            D.append(spike_distance(u, v, dt))
    D = np.array(D)
    t_ms = (np.arange(steps) + 1) * dt
    out = {}
    for kw in ({}, MAASS):
        lsm = rc.LSM(1, key=jax.random.key(0), encoder="spikes", steps_per_sample=1, dt=dt, **kw)
        keys = jax.random.split(jax.random.key(seed + 1), len(U))  # u and v of a pair share the noise
        fu = liquid_features(lsm, jnp.asarray(np.array(U)), keys)
        fv = liquid_features(lsm, jnp.asarray(np.array(V)), keys)
        dist = np.linalg.norm(np.asarray(fu - fv), axis=-1)[:, pre:]  # (pairs, steps)
        rows = []
        for k, moved in enumerate(SEP_MOVED):
            sl = slice(k * pairs, (k + 1) * pairs)
            row = dict(moved_spikes=moved, input_distance=float(D[sl].mean()))
            for a, b in SEP_WINDOWS:
                m = (t_ms > a) & (t_ms <= b)
                row[f"state_distance_{a}_{b}ms"] = float(dist[sl][:, m].mean())
            rows.append(row)
        late = dist[:, t_ms > 100].mean(1)
        for k, row in enumerate(rows):
            row["state_distance_100_500ms"] = float(late[k * pairs : (k + 1) * pairs].mean())
        rho = float(stats.spearmanr(D, late).statistic)
        monotone = {f"{a}_{b}ms": bool(np.all(np.diff([r[f"state_distance_{a}_{b}ms"] for r in rows]) > 0))
                    for a, b in (*SEP_WINDOWS, (100, 500))}
        label = options_label(kw)
        out[label] = dict(options=kw, rows=rows, spearman_input_vs_state_100_500ms=rho, monotone=monotone,
                          pairs_per_level=pairs)
        log(f"separation, {label}: " + "; ".join(
            f"d_in {r['input_distance']:.4f} -> " + ", ".join(f"{r[f'state_distance_{a}_{b}ms']:.2f}"
                                                            for a, b in SEP_WINDOWS) for r in rows)
            + f"; Spearman {rho:.2f}")
    return out


# ----------------------------------------------------------------------------------------------------------------
# (3) classification of jittered spike-train templates
# ----------------------------------------------------------------------------------------------------------------

CLS_LAYOUTS = ((1, 0.0), (4, 100.0))  # (channels, last ms shared by all templates)


def ridge_classify(Xtr, ytr, Xte, yte, m, alphas=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)):
    """One-vs-all ridge regression on one-hot targets (features standardised, plus a bias); alpha by 5-fold CV on
    the training set. Returns the test accuracy."""
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-9
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    Y = np.eye(m)[ytr]

    def fit(X, Y, a):
        X1 = np.hstack([X, np.ones((X.shape[0], 1))])
        return np.linalg.solve(X1.T @ X1 + a * np.eye(X1.shape[1]), X1.T @ Y)

    def acc(W, X, y):
        return float(np.mean(np.argmax(np.hstack([X, np.ones((X.shape[0], 1))]) @ W, 1) == y))

    folds = np.arange(Xtr.shape[0]) % 5
    best = max(alphas, key=lambda a: np.mean([acc(fit(Xtr[folds != f], Y[folds != f], a), Xtr[folds == f],
                                                  ytr[folds == f]) for f in range(5)]))
    return acc(fit(Xtr, Y, best), Xte, yte)


def exp_classify(n_train, n_test, templates=(2, 4), jitters=(4.0, 8.0), seed=CLS_SEED):
    """m Poisson templates (20 Hz, 200 ms); each trial jitters every spike by N(0, jitter^2) (Maass 2002). The
    classifier sees one snapshot: the liquid state at the end of the 200 ms (a linear readout, ridge). Raw-input
    baselines, the same readout on (a) the input spike trains filtered with the liquid's 30 ms readout kernel and
    sampled at the same instant (the same kind of snapshot), and (b) the input spike counts in 10 ms bins over the
    whole 200 ms (a perfect delay line, which the liquid does not have). Layouts: one channel; and four channels
    whose last 100 ms are the same for every template (the class is only in the first 100 ms: needs memory).
    The same trials are given to every liquid."""
    dt, dur, rate = 0.5, 200.0, 20.0
    steps = int(dur / dt)
    liquids = [("default, independent noise per trial", {}, False),
               ("default, one frozen noise realisation", {}, True),
               ("Maass 2002 (no noise)", MAASS, False)]
    rng = np.random.default_rng(seed)
    rows = []
    for channels, tail_ms in CLS_LAYOUTS:
        tail = poisson_train(rng, rate, int(tail_ms / dt), dt, channels)
        data = []
        for m in templates:
            tpls = [poisson_train(rng, rate, steps, dt, channels) for _ in range(m)]
            for tpl in tpls:
                if tail.shape[0]:
                    tpl[-tail.shape[0]:] = tail
            for jit_ms in jitters:
                X, y = [], []
                for n in (n_train, n_test):
                    for c, tpl in enumerate(tpls):
                        for _ in range(n):
                            x = np.zeros_like(tpl)
                            for t, ch in zip(*np.nonzero(tpl), strict=True):
                                tt = int(round(t + rng.normal(0, jit_ms / dt)))
                                if 0 <= tt < steps:
                                    x[tt, ch] += 1
                            X.append(x)
                            y.append(c)
                X, y = np.array(X), np.array(y)
                data.append((m, jit_ms, X, y))
        feats = {}
        kern = np.exp(-dt / 30.0) ** np.arange(steps)[::-1]
        for k, (_m, _j, X, _y) in enumerate(data):
            feats[("filtered input", k)] = np.einsum("btc,t->bc", X, kern)
            feats[("10 ms-binned input", k)] = X.reshape(X.shape[0], -1, int(10 / dt), channels).sum(2).reshape(
                X.shape[0], -1)
        for name, kw, frozen in liquids:
            lsm = rc.LSM(channels, key=jax.random.key(0), encoder="spikes", steps_per_sample=1, dt=dt, **kw)
            for k, (_m, _j, X, _y) in enumerate(data):
                if frozen:
                    keys = jnp.stack([jax.random.key(1000)] * X.shape[0])
                else:
                    keys = jax.random.split(jax.random.key(1000 + k), X.shape[0])
                feats[(name, k)] = np.asarray(liquid_features(lsm, jnp.asarray(X), keys)[:, -1])
        for k, (m, jit_ms, _X, y) in enumerate(data):
            tr = np.concatenate([np.arange(c * n_train, (c + 1) * n_train) for c in range(m)])
            te = m * n_train + np.arange(m * n_test)
            row = dict(channels=channels, shared_tail_ms=tail_ms, templates=m, jitter_ms=jit_ms, chance=1 / m,
                       n_train_per_template=n_train, n_test_per_template=n_test)
            for name in [lq[0] for lq in liquids] + ["filtered input", "10 ms-binned input"]:
                f = feats[(name, k)]
                row[name] = ridge_classify(f[tr], y[tr], f[te], y[te], m)
            rows.append(row)
            log(f"classify {channels} ch, {m} templates, jitter {jit_ms:g} ms: "
                + ", ".join(f"{n} {row[n]:.2f}" for n in row if isinstance(row[n], float) and n != "chance"))
    return dict(rows=rows, liquids=[lq[0] for lq in liquids])


# ----------------------------------------------------------------------------------------------------------------
# (4) order parameter, branching ratio and linearised Lyapunov exponent against the gain
# ----------------------------------------------------------------------------------------------------------------


def crossing(x, y):
    """Linear interpolation of the first upward zero crossing of y(x); None if there is none."""
    for k in range(len(y) - 1):
        if y[k] < 0 <= y[k + 1]:
            return float(x[k] + (0 - y[k]) * (x[k + 1] - x[k]) / (y[k + 1] - y[k]))
    return None


def exp_order(gains, seeds, n_trials):
    """`spike_perturbation`: 50 samples (0.5 s) of washout, then one extra spike and 100 samples (1 s); input scaling
    0.3. Spontaneous: zero input; driven: a uniform random current in [0, 1] per 10 ms sample. The perturbed and the
    reference runs share the noise."""
    out = []
    edges = {}
    for kw, drives in (({}, ("spontaneous", "driven")), (MAASS, ("driven",))):
        label = options_label(kw)
        for drive in drives:
            for g in gains:
                op, surv, rate, br, lya = [], [], [], [], []
                for seed in range(seeds):
                    lsm = rc.LSM(1, key=jax.random.key(seed), gain=g, input_scaling=0.3, **kw)
                    nk = jax.random.key(77 + seed) if lsm.stochastic else None
                    if drive == "driven":
                        x = jax.random.uniform(jax.random.key(50 + seed), (150, 1))
                    else:
                        x = jnp.zeros((150, 1))
                    res = rc.spike_perturbation(lsm, x, key=jax.random.key(seed), washout=50, n_trials=n_trials,
                                                noise_key=nk)
                    op.append(float(res.order_parameter))
                    surv.append(float(res.survival))
                    _, sp = rc.spike_trains(lsm, x, key=nk)
                    rate.append(rc.firing_rates(lsm, sp[50:]).excitatory)
                    br.append(rc.branching_ratio(lsm, sp[50:]))
                    if seed == 0:
                        lya.append(float(rc.lyapunov_spectrum(lsm, x[:80], washout=30, key=nk)[0]))
                row = dict(options=label, drive=drive, gain=float(g), order_parameter=ms(op), survival=ms(surv),
                           E_hz=ms(rate), branching_ratio=ms(br), lyapunov_linearized_seed0=lya[0])
                out.append(row)
                log(f"order, {label}, {drive}, gain {g:g}: {pm(row['order_parameter'])}, survival "
                    f"{np.mean(surv):.2f}, E {np.mean(rate):.1f} Hz, m {row['branching_ratio']['mean']:.2f}, "
                    f"lambda_lin {lya[0]:+.4f}")
            ops = np.array([r["order_parameter"]["mean"] for r in out if r["options"] == label and r["drive"] == drive])
            e = crossing(np.log(np.array(gains)), ops)
            edges[f"{label.split(' (')[0]}, {drive}"] = None if e is None else math.exp(e)
    return dict(rows=out, edges=edges, gains=list(map(float, gains)), seeds=seeds, n_trials=n_trials)


# ----------------------------------------------------------------------------------------------------------------
# (5) Mackey-Glass one-step NRMSE: the LSM against an ESN of the same size
# ----------------------------------------------------------------------------------------------------------------


def exp_mackey(seeds, n_train, n_test, washout=200):
    series = tasks.mackey_glass(n_train + n_test + 1, key=jax.random.key(MG_SEED)).values
    y = jnp.tanh(series - 1.0)  # Jaeger's squashing
    u, target = y[:-1], y[1:]

    def score(res, s):
        key = jax.random.key(1000 + s) if res.stochastic else None
        model = rc.fit(res, u[:n_train], target[:n_train], washout=washout, readout=rc.RidgeCV(), key=key)
        pred, _ = rc.predict(model, u[n_train:], key=None if key is None else jax.random.fold_in(key, 1))
        return float(rc.nrmse(target[n_train:], pred))

    configs = {
        "ESN N = 135 (gain 0.9, leak 1)": lambda k: rc.ESN(1, 135, key=k, gain=0.9),
        "ESN N = 135 (gain 0.9, leak 0.3, input 0.5, bias 0.2)": lambda k: rc.ESN(
            1, 135, key=k, gain=0.9, leak=0.3, input_scaling=0.5, bias_scaling=0.2),
        "LSM 135, default (readout trace)": lambda k: rc.LSM(1, key=k),
        "LSM 135, default, input scaling 3, all inputs (readout trace + voltage)": lambda k: rc.LSM(
            1, key=k, input_scaling=3.0, input_connectivity=1.0, readout="both"),
        "LSM 135, Maass, input scaling 3, all inputs (readout trace + voltage)": lambda k: rc.LSM(
            1, key=k, input_scaling=3.0, input_connectivity=1.0, readout="both", **MAASS),
        "LSM 135, Maass, input scaling 3, all inputs (trace + voltage), 20 ms per sample": lambda k: rc.LSM(
            1, key=k, input_scaling=3.0, input_connectivity=1.0, readout="both", steps_per_sample=40, **MAASS),
    }
    out = dict(persistence=float(rc.nrmse(target[n_train:], u[n_train:])), models={})
    log(f"mackey: persistence {out['persistence']:.4f}")
    for name, make in configs.items():
        errs = []
        for s in range(seeds):
            res = make(jax.random.key(s))
            errs.append(score(res, s))
        out["models"][name] = dict(nrmse=errs, stats=ms(errs), features=res.feature_size)
        log(f"mackey: {name}: {pm(ms(errs), '.4f')}")
    # synaptic events of the default LSM under this drive (for the energy table)
    lsm = rc.LSM(1, key=jax.random.key(0))
    _, sp = rc.spike_trains(lsm, u[: min(n_train, 1000)], key=jax.random.key(5))
    out["driven_events_per_sample_default"] = rc.synaptic_events(lsm, sp[50:]) / (sp.shape[0] - 50)
    out["driven_rates_default"] = dict(zip(("E_hz", "I_hz"), rc.firing_rates(lsm, sp[50:])[:2], strict=True))
    out.update(n_train=n_train, n_test=n_test, washout=washout, seeds=seeds)
    return out


# ----------------------------------------------------------------------------------------------------------------
# (6) speed: JAX against Brian2 and BrainPy on the same network
# ----------------------------------------------------------------------------------------------------------------


def make_speed_lsm(n, dt, kw):
    return rc.LSM(1, n, key=jax.random.key(0), dt=dt, steps_per_sample=int(round(10 / dt)), **kw)


def time_jax(lsm, repeats, seconds=1.0):
    """Median warm wall time of simulating `seconds` (spike_trains, all spikes recorded); also the rates over a run
    one 10 ms sample longer with the first sample dropped (the window Brian2's rates use)."""
    n = int(round(seconds * 1000 / lsm.sample_duration))
    key = jax.random.key(1) if lsm.stochastic else None
    x = jnp.zeros((n, 1))
    t0 = time.perf_counter()
    rc.spike_trains(lsm, x, key=key)[1].block_until_ready()
    first = time.perf_counter() - t0
    med, times = common.median_time(lambda: rc.spike_trains(lsm, x, key=key)[1].block_until_ready(),
                                    repeats=repeats, warmup=0)
    _, sp = rc.spike_trains(lsm, jnp.zeros((n + 1, 1)), key=key)
    sp = np.asarray(sp[1:]).reshape(-1, lsm.size)
    r = rc.firing_rates(lsm, sp)
    return dict(seconds=med, times=times, first_call_s=first, E_hz=r.excitatory, I_hz=r.inhibitory), sp


def export_network(lsm, path, seconds):
    """Write the network for Brian2, synapse by synapse. Event timing is aligned with the LSM's: the LSM registers
    a threshold crossing in step k, delivers it at the start of step k + delay, and holds the neuron for the
    refractory steps after step k; Brian2 applies an `on_pre` effect after the state update of its arrival step and
    counts refractoriness from the start of step k. So Brian2 gets delays one step shorter and refractory periods
    one step longer: the same discrete-time model, and the same spikes."""
    pre, post, A, U, D, F, delay = [], [], [], [], [], [], []
    for g in lsm.groups:
        P = np.asarray(g.post)
        rows, cols = np.nonzero(P < lsm.size)
        pre.append(rows + g.pre_start)
        post.append(P[rows, cols])
        for lst, arr in ((A, g.weight), (U, g.U), (D, g.D), (F, g.F)):
            lst.append(np.asarray(arr)[rows, cols] * (float(lsm.gain) if lst is A else 1.0))
        delay.append(np.full(rows.size, (g.delay - 1) * lsm.dt))
    np.savez(path, pre=np.concatenate(pre), post=np.concatenate(post), A=np.concatenate(A), U=np.concatenate(U),
             D=np.concatenate(D), F=np.concatenate(F), delay=np.concatenate(delay),
             background=np.asarray(lsm.background), v_init=np.asarray(lsm.v_init),
             refractory=(np.asarray(lsm.refractory_steps) + 1) * lsm.dt, n_exc=lsm.n_exc, dt=lsm.dt, seconds=seconds,
             tau_m=float(lsm.tau_m), tau_exc=float(lsm.tau_exc), tau_inh=float(lsm.tau_inh),
             v_thresh=float(lsm.v_thresh), v_reset=float(lsm.v_reset), r_in=float(lsm.r_in))


def _probe(python, module, code):
    """(True, what `code` prints) if `python` exists and imports `module`, else (False, why not)."""
    if not python or not os.path.exists(python):
        return False, f"no interpreter at {python}"
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "JAX_PLATFORMS": "cpu"})
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"{python} failed: {e}"
    if r.returncode != 0:
        return False, f"{python} cannot import {module} ({r.stderr.strip().splitlines()[-1:]})"
    return True, r.stdout.strip()


def brian_available(python):
    return _probe(python, "brian2", "import brian2, numpy; print(brian2.__version__, numpy.__version__)")


def brainpy_available(python):
    return _probe(python, "brainpy", "import brainpy, jax; print(brainpy.__version__, jax.__version__)")


def coincidence(sp_jax, t_b, i_b, dt, tol_ms=1.0, first_ms=None):
    """Fraction of JAX spikes with a Brian2 spike of the same neuron within `tol_ms` (JAX's spike in step k is at
    (k + 1) dt; Brian2 stamps the step's start, k dt, both measured here from the end of the first 10 ms)."""
    k, i = np.nonzero(sp_jax)
    t_j = (k + 1) * dt
    if first_ms is not None:
        keep = t_j <= first_ms
        k, i, t_j = k[keep], i[keep], t_j[keep]
    t_b = t_b + dt
    by_neuron = {}
    for n_, t_ in zip(i_b, t_b, strict=True):
        by_neuron.setdefault(int(n_), []).append(t_)
    by_neuron = {n_: np.sort(np.array(v)) for n_, v in by_neuron.items()}
    hit = 0
    for n_, t_ in zip(i, t_j, strict=True):
        arr = by_neuron.get(int(n_))
        if arr is None:
            continue
        j = np.searchsorted(arr, t_)
        near = [abs(arr[q] - t_) for q in (j - 1, j) if 0 <= q < arr.size]
        hit += bool(near) and min(near) <= tol_ms + 1e-9
    return hit / max(len(t_j), 1)


def _compare(brow, jrow, sp, z, target, dt):
    """Add to a peer's row its time relative to JAX's and the agreement of its spikes with JAX's."""
    counts = z[f"{target}_counts"]
    brow["ratio_to_jax"] = brow["seconds"] / jrow["seconds"]
    brow["per_neuron_rate_correlation"] = float(np.corrcoef(sp.sum(0), counts)[0, 1])
    brow["per_neuron_mean_abs_diff_hz"] = float(np.mean(np.abs(sp.sum(0) - counts)) / 1.0)
    brow["coincident_1ms_first_100ms"] = coincidence(sp, z[f"{target}_t"], z[f"{target}_i"], dt, first_ms=100.0)
    brow["coincident_1ms_all"] = coincidence(sp, z[f"{target}_t"], z[f"{target}_i"], dt)


#: The other simulators, and the prefix of their keys in the speed results (brian_status, brainpy_available, ...).
PEER_KEY = {"Brian2": "brian", "BrainPy": "brainpy"}


def xla_floor(lsm, repeats, seconds=1.0):
    """This machine's floor for a JAX/XLA simulation of the same neurons: a minimal jitted `lax.scan` of the LSM's
    neuron update alone (exact membrane step with two exponential synaptic currents, threshold, reset,
    refractoriness, the readout trace; every spike recorded) and no synapses at all. Median warm seconds per
    simulated second."""
    n, dt = lsm.size, lsm.dt
    steps = int(round(seconds * 1000 / dt))
    em, ee, ei = (math.exp(-dt / float(t)) for t in (lsm.tau_m, lsm.tau_exc, lsm.tau_inh))
    drive = jnp.asarray(lsm.background) * float(lsm.r_in) * (1 - em)
    ref_steps, v_th, v_reset, decay = lsm.refractory_steps, float(lsm.v_thresh), float(lsm.v_reset), math.exp(-dt / 30)

    def step(c, _):
        v, ie, ii, ref, trace = c
        v = v * em + drive + 0.01 * ie + 0.01 * ii
        held = ref > 0.5
        v = jnp.where(held, v_reset, v)
        spike = (v >= v_th) & ~held
        v = jnp.where(spike, v_reset, v)
        ref = jnp.where(spike, ref_steps, jnp.maximum(ref - 1, 0))
        return (v, ie * ee, ii * ei, ref, trace * decay + spike), spike

    run = jax.jit(lambda c: jax.lax.scan(step, c, None, length=steps))
    zeros = jnp.zeros(n)
    c0 = (jnp.asarray(lsm.v_init), zeros, zeros, zeros, zeros)
    jax.block_until_ready(run(c0))
    med, _ = common.median_time(lambda: jax.block_until_ready(run(c0)), repeats=repeats, warmup=0)
    return med


def exp_speed(repeats, sizes_jax, brian_python, cases, brainpy_python=None):
    """JAX timings for several sizes, then the deterministic networks side by side with Brian2 and BrainPy.

    `cases`: (neurons, Brian2 code-generation targets, repeats of each peer)."""
    out = dict(jax=[], cases=[])
    for n, dt, kw in sizes_jax:
        t0 = time.perf_counter()
        lsm = make_speed_lsm(n, dt, kw)
        build = time.perf_counter() - t0
        row, _ = time_jax(lsm, repeats)
        row.update(neurons=n, dt_ms=dt, options=options_label(kw), synapses=lsm.n_synapses, build_s=build)
        out["jax"].append(row)
        log(f"speed JAX {n} neurons, dt {dt}, {options_label(kw)}: {row['seconds']:.3f} s per simulated s (median "
            f"of {repeats}); E {row['E_hz']:.1f} Hz, I {row['I_hz']:.1f} Hz")
    peers = {}
    for name, python, check in (("Brian2", brian_python, brian_available),
                                ("BrainPy", brainpy_python, brainpy_available)):
        ok, status = check(python)
        out[f"{PEER_KEY[name]}_available"], out[f"{PEER_KEY[name]}_status"] = ok, status
        log(f"{name}: {status}" if ok else f"{name} not available: {status}")
        if ok:
            peers[name] = python
    if not peers:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        for n, targets, reps in cases:
            lsm = make_speed_lsm(n, 0.1, DETERMINISTIC)
            jrow, sp = time_jax(lsm, repeats)
            jrow["xla_floor_s"] = xla_floor(lsm, repeats)
            log(f"speed XLA floor {n} neurons (neuron update alone, no synapses): {jrow['xla_floor_s']:.3f} s")
            net = os.path.join(tmp, f"net{n}.npz")
            export_network(lsm, net, 1.0)
            row = dict(neurons=n, dt_ms=0.1, synapses=lsm.n_synapses, jax=jrow, peers=[])
            for name, python in peers.items():
                res = os.path.join(tmp, f"{name.lower()}{n}.npz")
                mode = (["--brian-run", net, "--targets", ",".join(targets)] if name == "Brian2"
                        else ["--brainpy-run", net])
                cmd = [python, os.path.abspath(__file__), *mode, "--repeats", str(reps), "--out", res]
                r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
                if r.returncode != 0:
                    log(f"{name} run failed: {r.stderr[-2000:]}")
                    row["peers"].append(dict(peer=name, simulator=f"{name} failed", error=r.stderr[-2000:]))
                    continue
                b = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])
                versions = out[f"{PEER_KEY[name]}_versions"] = b.pop("_versions")
                z = np.load(res)
                for target, brow in b.items():
                    brow.update(peer=name, target=target, repeats=reps,
                                simulator=f"Brian2, {target}" if name == "Brian2"
                                else f"BrainPy ({versions['brainpy']}, {versions['backend']})")
                    _compare(brow, jrow, sp, z, target, lsm.dt)
                    row["peers"].append(brow)
                    log(f"speed {brow['simulator']} {n} neurons: {brow['seconds']:.3f} s (median of {reps}); "
                        f"ratio {brow['ratio_to_jax']:.1f}; E {brow['E_hz']:.2f} vs {jrow['E_hz']:.2f} Hz, I "
                        f"{brow['I_hz']:.2f} vs {jrow['I_hz']:.2f} Hz; per-neuron r "
                        f"{brow['per_neuron_rate_correlation']:.3f}"
                        f"; coincident spikes {brow['coincident_1ms_first_100ms']:.2f} (first 100 ms), "
                        f"{brow['coincident_1ms_all']:.2f} (all)")
            out["cases"].append(row)
    return out


def brian_run(net_file, targets, repeats, out_file):
    """Executed by the brian2 interpreter: simulate the exported network for `seconds` after a 10 ms start-up run
    (code generation, compilation), restoring the post-start-up state before each timed run; print one JSON line
    and save the spikes of the last run (times from the end of the start-up run)."""
    import brian2 as b2

    z = np.load(net_file)
    n, n_exc, dt, seconds = z["v_init"].size, int(z["n_exc"]), float(z["dt"]), float(z["seconds"])
    inh_pre = z["pre"] >= n_exc
    out, arrays = {}, {}
    for target in targets:
        b2.start_scope()
        b2.prefs.codegen.target = target
        b2.defaultclock.dt = dt * b2.ms
        # the LSM's equations: exact integration of the linear membrane and exponential synaptic currents
        eqs = """
        dv/dt = (-v + R*(ie + ii + Ib))/taum : volt (unless refractory)
        die/dt = -ie/tause : amp
        dii/dt = -ii/tausi : amp
        Ib : amp
        tref : second
        """
        G = b2.NeuronGroup(n, eqs, threshold="v >= vth", reset="v = vreset", refractory="tref", method="exact",
                           namespace=dict(R=float(z["r_in"]) * b2.Mohm, taum=float(z["tau_m"]) * b2.ms,
                                          tause=float(z["tau_exc"]) * b2.ms, tausi=float(z["tau_inh"]) * b2.ms,
                                          vth=float(z["v_thresh"]) * b2.mV, vreset=float(z["v_reset"]) * b2.mV))
        G.v = z["v_init"] * b2.mV
        G.Ib = z["background"] * b2.nA
        G.tref = z["refractory"] * b2.ms
        syn_eqs = "A : amp\nU : 1\nD : second\nF : second\nu_last : 1\nR_last : 1\ntprev : second"
        # Maass 2002 / Markram et al. 1998 recursion at each arrival, with the interval since the previous arrival
        on_pre = """
        delta = t - tprev
        u_new = U + u_last*(1 - U)*exp(-delta/F)
        R_new = 1 + (R_last - u_last*R_last - 1)*exp(-delta/D)
        {cur}_post += A*u_new*R_new
        u_last = u_new
        R_last = R_new
        tprev = t
        """
        syns = []
        for inh, cur in ((False, "ie"), (True, "ii")):
            sel = inh_pre == inh
            S = b2.Synapses(G, G, syn_eqs, on_pre=on_pre.format(cur=cur), method="exact")
            S.connect(i=z["pre"][sel], j=z["post"][sel])
            S.A = z["A"][sel] * b2.nA
            S.U, S.D, S.F = z["U"][sel], z["D"][sel] * b2.ms, z["F"][sel] * b2.ms
            S.u_last, S.R_last = z["U"][sel], 1.0
            S.tprev = -1e9 * b2.ms
            S.delay = z["delay"][sel] * b2.ms
            syns.append(S)
        M = b2.SpikeMonitor(G)
        net = b2.Network(G, *syns, M)
        net.run(10 * b2.ms)  # code generation and compilation
        net.store()
        times = []
        for _ in range(repeats):
            net.restore()
            t0 = time.perf_counter()
            net.run(seconds * b2.second)
            times.append(time.perf_counter() - t0)
        idx, tt = np.asarray(M.i), np.asarray(M.t / b2.ms)
        keep = tt >= 10.0 - 1e-9
        idx, tt = idx[keep], tt[keep] - 10.0
        e = float(np.sum(idx < n_exc) / n_exc / seconds)
        i = float(np.sum(idx >= n_exc) / (n - n_exc) / seconds)
        out[target] = dict(seconds=float(np.median(times)), times=times, E_hz=e, I_hz=i)
        arrays[f"{target}_counts"] = np.bincount(idx, minlength=n) / seconds
        arrays[f"{target}_t"] = tt
        arrays[f"{target}_i"] = idx
    out["_versions"] = dict(brian2=b2.__version__, numpy=np.__version__)
    np.savez(out_file, **arrays)
    print(json.dumps(out), flush=True)


def brainpy_run(net_file, repeats, out_file):
    """Executed by the BrainPy interpreter (its own jax, CPU, float64): simulate the exported network with
    `brainpy.state` for `seconds` after a 10 ms start-up run (compilation), restoring the post-start-up state before
    each timed run; print one JSON line and save the spikes of the last run (times from the end of the start-up run)
    in `brian_run`'s format.

    BrainPy's own parts: `brainpy.state.LIFRef` neurons (exponential Euler on the membrane, hard reset, absolute
    refractoriness from the last spike time), `brainpy.state.Expon` synaptic currents (one excitatory, one
    inhibitory: the projections onto the same current share one through `AlignPostProj`'s descriptor merging),
    `brainpy.state.CUBA` outputs, one `brainpy.state.AlignPostProj` per (presynaptic population, delay) group with
    its homogeneous `delay` (a `brainstate.nn.Delay` line over the presynaptic spikes), and brainstate's
    environment, `for_loop` and `jit`.

    Custom, plain jax inside each projection's `comm` module: the per-synapse Tsodyks-Markram recursion and the
    event-driven delivery. BrainPy has no per-synapse short-term plasticity: `brainpy.state.STP` (like
    `brainpy.dyn.STP`) keeps one u, x per presynaptic neuron (or per element of whatever it is given), decays them
    every step and applies each jump with the values from before the decay; Maass's liquid draws U, D, F per
    synapse. Here the recursion is `brian_run`'s `on_pre` (Maass et al. 2002), evaluated only for the synapses of
    the presynaptic neurons whose spikes arrive, and their PSC jumps are scatter-added onto the `Expon` current.

    Exact integration: LIFRef integrates the membrane with the current held over the step, which is exact for a
    constant current; CUBA's `scale` is P / (1 - exp(-dt / tau_m)), with P the exact one-step response of the
    membrane to an exponentially decaying current (the LSM's `_psc_propagator`), so that the held current moves the
    membrane exactly as the decaying one does: the LSM's update, and Brian2's `method='exact'`.

    Event timing, as for Brian2 (see `export_network`): each step first reads the neurons' spikes of the previous
    step into the projections, then updates the neurons, so a delay line of d - 1 steps (the exported delay)
    delivers a spike of step k at the start of step k + d; LIFRef holds a neuron while t - t_spike < tau_ref, so
    tau_ref = (r + 1/2) dt (the exported refractory period less half a step) holds it for the LSM's r steps.
    """
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import brainpy
    import brainstate
    import braintools
    import brainunit as bu
    import jax
    import jax.numpy as jnp

    z = np.load(net_file)
    n, n_exc, dt, seconds = z["v_init"].size, int(z["n_exc"]), float(z["dt"]), float(z["seconds"])
    brainstate.environ.set(precision=64, dt=dt * bu.ms)
    tau_m = float(z["tau_m"])
    em = math.exp(-dt / tau_m)

    def held(tau_s):
        """CUBA scale: the constant current over one step that moves the membrane as I0 exp(-t / tau_s) does."""
        es = math.exp(-dt / tau_s)
        p = dt / tau_m * em if abs(tau_s - tau_m) < 1e-9 * tau_m else tau_s / (tau_s - tau_m) * (es - em)
        return p / (1 - em)

    class TsodyksMarkram(brainstate.nn.Module):
        """Custom `comm` of one (presynaptic population, delay) group: its synapses stored by presynaptic neuron
        (rows padded to the largest out-degree, plus one dummy row that the padding of the arrival list points at),
        the Tsodyks-Markram state per synapse, and the time of the last arrival per presynaptic neuron."""

        def __init__(self, pre, post, A, U, D, F, rows, cap=16):
            super().__init__()
            self.in_size, self.out_size = (rows,), (n,)
            order = np.argsort(pre, kind="stable")
            pre, post, A, U, D, F = (a[order] for a in (pre, post, A, U, D, F))
            counts = np.bincount(pre, minlength=rows)
            col = np.arange(pre.size) - np.repeat(np.cumsum(counts) - counts, counts)
            k = max(int(counts.max(initial=0)), 1)

            def table(v, fill):
                t = np.full((rows + 1, k), fill, dtype=v.dtype)
                t[pre, col] = v
                return jnp.asarray(t)

            self.post, self.A = table(post, n), table(A, 0.0)
            self.U, self.D, self.F = table(U, 0.5), table(D, 1.0), table(F, 1.0)
            self.rows, self.cap = rows, min(cap, rows)

        def init_state(self, *args, **kwargs):
            # as Brian2's u_last = U, R_last = 1, tprev = -inf: the first spike transmits A U
            self.u = brainstate.ShortTermState(self.U)
            self.R = brainstate.ShortTermState(jnp.ones_like(self.U))
            self.t_last = brainstate.ShortTermState(jnp.full(self.rows + 1, -1e9))

        def update(self, spikes):
            t = brainstate.environ.get("i") * dt  # ms

            def body(c):  # up to `cap` arriving presynaptic neurons per pass (top_k: faster than nonzero on CPU)
                remaining, cur, u_, R_, t_ = c
                flag, i = jax.lax.top_k(remaining.astype(jnp.float32), self.cap)
                i = jnp.where(flag > 0, i, self.rows)
                delta = (t - t_[i])[:, None]
                U, u0, R0 = self.U[i], u_[i], R_[i]
                # Maass et al. 2002 (Markram, Wang & Tsodyks 1998), as in brian_run's on_pre
                u_new = U + u0 * (1 - U) * jnp.exp(-delta / self.F[i])
                R_new = 1 + (R0 - u0 * R0 - 1) * jnp.exp(-delta / self.D[i])
                cur = cur.at[self.post[i].reshape(-1)].add((self.A[i] * u_new * R_new).reshape(-1), mode="drop")
                return (remaining.at[i].set(False, mode="drop"), cur, u_.at[i].set(u_new), R_.at[i].set(R_new),
                        t_.at[i].set(t))

            init = (spikes > 0.5, jnp.zeros(n), self.u.value, self.R.value, self.t_last.value)
            _, cur, self.u.value, self.R.value, self.t_last.value = jax.lax.while_loop(
                lambda c: jnp.any(c[0]), body, init)
            return cur * bu.nA

    class Liquid(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            self.neurons = brainpy.state.LIFRef(
                n, R=float(z["r_in"]) * bu.Mohm, tau=tau_m * bu.ms, tau_ref=(z["refractory"] - dt / 2) * bu.ms,
                V_th=float(z["v_thresh"]) * bu.mV, V_reset=float(z["v_reset"]) * bu.mV, V_rest=0.0 * bu.mV,
                V_initializer=z["v_init"] * bu.mV, spk_reset="hard")
            self.background = z["background"] * bu.nA
            inh = z["pre"] >= n_exc
            steps = np.rint(z["delay"] / dt).astype(int)  # the exported delays: the LSM's less one step
            self.ranges = []
            for j, (g_inh, g_steps) in enumerate(sorted(set(zip(inh.tolist(), steps.tolist(), strict=True)))):
                sel = (inh == g_inh) & (steps == g_steps)
                lo, hi = (n_exc, n) if g_inh else (0, n_exc)
                tau = float(z["tau_inh"] if g_inh else z["tau_exc"])
                comm = TsodyksMarkram(z["pre"][sel] - lo, z["post"][sel], z["A"][sel], z["U"][sel], z["D"][sel],
                                      z["F"][sel], hi - lo)
                zero = braintools.init.Constant(0.0 * bu.nA)
                proj = brainpy.state.AlignPostProj(
                    comm=comm,
                    syn=brainpy.state.Expon.desc(n, tau=tau * bu.ms, g_initializer=zero),
                    out=brainpy.state.CUBA.desc(scale=held(tau)),
                    post=self.neurons,
                    delay=g_steps * dt * bu.ms if g_steps > 0 else None)
                setattr(self, f"proj{j}", proj)
                self.ranges.append((lo, hi))

        def update(self, i):
            with brainstate.environ.context(i=i, t=i * dt * bu.ms):
                spikes = self.neurons.get_spike()  # the previous step's
                for j, (lo, hi) in enumerate(self.ranges):
                    getattr(self, f"proj{j}")(spikes[lo:hi])
                self.neurons(self.background)
                return self.neurons.get_spike() > 0.5

    net = Liquid()
    brainstate.nn.init_all_states(net)
    float64 = bool(net.neurons.V.value.dtype == jnp.float64)
    states = brainstate.graph.states(net)
    run = brainstate.transform.jit(lambda idx: brainstate.transform.for_loop(net.update, idx))
    start, steps = int(round(10 / dt)), int(round(seconds * 1000 / dt))
    t0 = time.perf_counter()
    jax.block_until_ready(run(jnp.arange(start)))  # compiles the step
    startup = time.perf_counter() - t0
    saved = {k: s.value for k, s in states.items()}

    def restore():
        for k, s in states.items():
            s.value = saved[k]

    idx = jnp.arange(start, start + steps)
    t0 = time.perf_counter()
    first_spikes = np.asarray(jax.block_until_ready(run(idx)))  # compiles the 1 s loop
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        restore()
        t0 = time.perf_counter()
        spikes = jax.block_until_ready(run(idx))
        times.append(time.perf_counter() - t0)
    spikes = np.asarray(spikes)
    k, i = np.nonzero(spikes)
    n_groups = len(net.ranges)
    n_currents = len({id(getattr(net, f"proj{j}").syn) for j in range(n_groups)})
    row = dict(seconds=float(np.median(times)), times=times, first_call_s=first, startup_s=startup,
               E_hz=float(np.sum(i < n_exc) / n_exc / seconds), I_hz=float(np.sum(i >= n_exc) / (n - n_exc) / seconds),
               backend=jax.default_backend(), float64=float64,
               repeat_identical=bool(np.array_equal(first_spikes, spikes)), projections=n_groups,
               synaptic_currents=n_currents,
               brainpy_parts="brainpy.state.LIFRef (exponential Euler, hard reset, refractory), brainpy.state.Expon "
                             "(excitatory and inhibitory currents), brainpy.state.CUBA (scale: the exact-integration "
                             "factor), brainpy.state.AlignPostProj with its delay line (brainstate.nn.Delay), one per "
                             "(presynaptic population, delay); brainstate environ, for_loop, jit",
               custom_parts="the projections' comm: per-synapse Tsodyks-Markram recursion (Maass 2002, per-synapse "
                            "U, D, F) and event-driven delivery (top_k compaction of the arriving presynaptic "
                            "neurons, gather, scatter-add), plain jax; BrainPy's STP keeps one u, x per "
                            "presynaptic neuron and is clock-driven")
    out = {"brainpy": row}
    out["_versions"] = dict(brainpy=brainpy.__version__, brainstate=brainstate.__version__, jax=jax.__version__,
                            numpy=np.__version__, backend=jax.default_backend())
    np.savez(out_file, brainpy_counts=np.bincount(i, minlength=n) / seconds, brainpy_t=k * dt, brainpy_i=i)
    print(json.dumps(out), flush=True)


# ----------------------------------------------------------------------------------------------------------------
# (7) energy per input sample
# ----------------------------------------------------------------------------------------------------------------


def exp_energy(rates, mackey, speed):
    lsm = rc.LSM(1, key=jax.random.key(0))
    est = physical.energy_per_step(lsm)
    esn = physical.energy_per_step(rc.ESN(1, 135, key=jax.random.key(0)))
    spont = rates[options_label({})]["synaptic_events_per_sample"]["mean"]
    driven = mackey["driven_events_per_sample_default"]
    big = next((r for r in speed["jax"] if "synaptic_events_per_sample" in r), None)
    rows = []
    for chip in physical_chips():
        (ts,) = lsm.energy_terms(spont, chip=chip)
        (td,) = lsm.energy_terms(driven, chip=chip)
        row = dict(chip=chip, joules_per_event=ts.joules_per_op, source=ts.source, spontaneous_events=spont,
                   spontaneous_joules=ts.joules, driven_events=driven, driven_joules=td.joules)
        if big is not None:
            lsm_big = make_speed_lsm(1000, 0.1, {})
            ev = big["synaptic_events_per_sample"]
            (tb,) = lsm_big.energy_terms(ev, chip=chip)
            row.update(n1000_events=ev, n1000_joules=tb.joules)
        rows.append(row)
    return dict(energy_per_step=est.to_dict(), esn_135=esn.to_dict(), chips=rows, n_synapses=lsm.n_synapses)


def physical_chips():
    from reservoirs._lsm import SYNOP_ENERGY

    return tuple(SYNOP_ENERGY)


# ----------------------------------------------------------------------------------------------------------------
# write-up
# ----------------------------------------------------------------------------------------------------------------


def speed_lines(sp):
    """The speed section of the write-up (also what `--speed-only` prints)."""
    L = ["### Speed: JAX against Brian2 and BrainPy", "",
         "Wall time to simulate 1 s of network time, all spikes recorded (`rc.spike_trains`), dt 0.1 ms "
         "(Maass's delays exactly), warm (compiled), median of several runs, on this machine's CPU (2 cores, shared "
         "with other jobs). Noisy rows use the default OU background; the comparison with the other simulators uses "
         "the deterministic suprathreshold background (I_b 14.75 ± 1 nA, no noise), because the simulators' random "
         "streams cannot be matched.", ""]
    L += table(["neurons", "dt (ms)", "background", "synapses", "s per simulated s", "first call (s, incl. compile)",
                "E (Hz)", "I (Hz)"],
               [[r_["neurons"], r_["dt_ms"], r_["options"].split(" (")[0], r_["synapses"], f"{r_['seconds']:.3f}",
                 f"{r_['first_call_s']:.1f}", f"{r_['E_hz']:.1f}", f"{r_['I_hz']:.1f}"] for r_ in sp["jax"]])
    L += [""]
    missing = [f"{name} was not available ({sp[f'{key}_status']})" for name, key in PEER_KEY.items()
               if not sp[f"{key}_available"]]
    if missing:
        L += ["; ".join(missing) + f", so {'it has' if len(missing) == 1 else 'they have'} no side-by-side rows. "
              "Create the environments described in this script's docstring and rerun.", ""]
    if sp["brian_available"]:
        L += [f"The same network in Brian2 ({sp['brian_status'].split()[0]}, numpy {sp['brian_status'].split()[1]}, "
              "its own interpreter): exported synapse by synapse (weights, U, D, F, delays, backgrounds, initial "
              "potentials), the same equations (`method='exact'`, the Tsodyks-Markram recursion in `on_pre`), "
              "dt 0.1 ms, with the event timing aligned to the LSM's discrete-time convention (Brian2 applies "
              "`on_pre` after the state update of the arrival step and counts refractoriness from the start of the "
              "spiking step: its delays are exported one step shorter and its refractory periods one step longer); "
              "a 10 ms start-up run compiles, then `store`/`restore` before each timed 1 s run. Brian2 runs "
              "single-threaded; rates are over the same 1 s after the first 10 ms.", ""]
    if sp["brainpy_available"]:
        v = sp.get("brainpy_versions") or dict(zip(("brainpy", "jax"), sp["brainpy_status"].split(), strict=False))
        bp = [bt for c in sp.get("cases", []) for bt in c["peers"] if bt["peer"] == "BrainPy" and "error" not in bt]
        prec = "float64" if bp and all(bt["float64"] for bt in bp) else "float64 requested"
        L += [f"The same export in BrainPy ({v.get('brainpy')}, brainstate {v.get('brainstate', '?')}, jax "
              f"{v.get('jax')}, {v.get('backend', 'cpu')}, {prec}, its own interpreter), written with "
              "`brainpy.state`: `LIFRef` neurons, `Expon` excitatory and inhibitory currents, `CUBA` outputs, one "
              "`AlignPostProj` per presynaptic population and delay with its own delay line, stepped by brainstate's "
              "`for_loop` under `jit`. BrainPy has no short-term plasticity per synapse (its `STP` keeps one u, x "
              "per presynaptic neuron and updates them every step), so each projection's communication module is "
              "custom JAX: the same Tsodyks-Markram recursion per synapse, evaluated when a spike arrives, and an "
              "event-driven scatter of the PSC jumps onto the `Expon` current. `LIFRef` integrates the membrane with "
              "the current held over the step; `CUBA`'s scale makes that exact for the exponential current. Event "
              "timing is aligned as for Brian2 (delays one step shorter; refractory tau_ref = (r + 1/2) dt). A 10 ms "
              "start-up run compiles the step, an untimed first 1 s run compiles the loop, and the post-start-up "
              "state is restored before each timed run.", ""]
    cases = sp.get("cases", [])
    if not cases:
        return L
    L += ["'Spikes within 1 ms': the fraction of JAX spikes with a spike of the same neuron in the other simulator "
          "within 1 ms.", ""]
    rows = []
    for c in cases:
        j = c["jax"]
        rows.append([c["neurons"], "JAX (this library)", f"{j['seconds']:.3f}", "1", f"{j['E_hz']:.2f}",
                     f"{j['I_hz']:.2f}", "-", "-", "-"])
        if "xla_floor_s" in j:
            rows.append([c["neurons"], "XLA floor: the neuron update alone, no synapses (minimal jitted scan)",
                         f"{j['xla_floor_s']:.3f}", f"{j['xla_floor_s'] / j['seconds']:.2f}", "-", "-", "-", "-", "-"])
        for bt in c["peers"]:
            if "error" in bt:
                rows.append([c["neurons"], bt["simulator"], "-", "-", "-", "-", "-", "-", "-"])
                continue
            rows.append([c["neurons"], bt["simulator"], f"{bt['seconds']:.3f}", f"{bt['ratio_to_jax']:.1f}",
                         f"{bt['E_hz']:.2f}", f"{bt['I_hz']:.2f}", f"{bt['per_neuron_rate_correlation']:.3f}",
                         f"{bt['coincident_1ms_first_100ms']:.2f}", f"{bt['coincident_1ms_all']:.2f}"])
    L += table(["neurons", "simulator", "s per simulated s (median)", "time / JAX", "E (Hz)", "I (Hz)",
                "per-neuron rate r", "spikes within 1 ms, first 100 ms", "spikes within 1 ms, all"], rows)
    ok = [(c, bt) for c in cases for bt in c["peers"] if "error" not in bt]
    if not ok:
        return L + ["", "Verdict: every peer run failed (see the JSON for the errors); no side-by-side timing.", ""]
    agree = max(abs(bt[k] - c["jax"][k]) / max(c["jax"][k], 1e-9) for c, bt in ok for k in ("E_hz", "I_hz"))
    coinc = min(bt["coincident_1ms_all"] for _, bt in ok)
    per = "; ".join(f"{c['neurons']} neurons, {bt['simulator']}: {bt['ratio_to_jax']:.1f}" for c, bt in ok)
    faster = [f"{bt['simulator']} at {c['neurons']} neurons (JAX / it = {1 / bt['ratio_to_jax']:.1f})"
              for c, bt in ok if bt["ratio_to_jax"] < 1]
    same = coinc >= 0.99 and agree <= 0.01
    target = []
    for c in cases:
        peer_best = min((bt["seconds"] for bt in c["peers"] if "error" not in bt and bt["peer"] == "Brian2"),
                        default=None)
        if peer_best is None:
            continue
        j = c["jax"]
        line = (f"{c['neurons']} neurons: Brian2's fastest target takes {peer_best:.3f} s, the LSM "
                f"{j['seconds']:.3f} s "
                f"({peer_best / j['seconds']:.1f}x its speed; target >= 2x: {yes(peer_best / j['seconds'] >= 2)})")
        if "xla_floor_s" in j:
            line += (f"; 2x would need {peer_best / 2:.3f} s, and XLA's own neuron update without any synapse takes "
                     f"{j['xla_floor_s']:.3f} s here"
                     + (" (beyond the floor)" if j["xla_floor_s"] > peer_best / 2 else ""))
        target.append(line)
    L += ["", f"Verdict (reported): other simulator's time / JAX time, warm medians on this machine: {per}. "
          + (f"Faster than the LSM: {', '.join(faster)}. " if faster else "")
          + f"Rates agree to within {100 * agree:.2f} %, and {100 * coinc:.1f} % of the JAX spikes (lowest case) "
          "have a spike of the same neuron within 1 ms in the other simulator over the whole second"
          + (": the simulators compute the same network." if same else
             ": the simulators do not compute exactly the same network here (see the JSON)."), ""]
    if target:
        L += ["Target (issue 11: >= 2x Brian2's fastest target at 1,000 and 10,000 neurons): " + "; ".join(target)
              + ".", ""]
    return L


def write_up(d, total, quick):
    L: list[str] = []
    L += [
        "Maass, Natschläger & Markram 2002's 135-neuron column (`reservoirs.LSM`, 15 x 3 x 3 grid, 20 % inhibitory, "
        "dynamic synapses, dt 0.5 ms, 10 ms per input sample) unless said otherwise. Everything in float64. "
        f"Script runtime {total / 60:.1f} min{' (--quick)' if quick else ''}.",
        "",
    ]
    # (1) rates
    r = d["rates"]
    dflt = r[options_label({})]
    ok = 5.0 <= dflt["E_hz"]["mean"] <= 15.0
    L += ["### Spontaneous firing rates", "",
          f"No input, {dflt['seconds']:g} s per network after a 0.5 s transient; mean ± sd over networks "
          "(seeds 0, 1, ...).", ""]
    L += table(["background drive", "networks", "E rate (Hz)", "I rate (Hz)", "ISI CV", "synaptic events / sample"],
               [[lab, v["networks"], pm(v["E_hz"]), pm(v["I_hz"]),
                 "-" if not math.isfinite(v["isi_cv"]["mean"]) else f"{v['isi_cv']['mean']:.2f}",
                 f"{v['synaptic_events_per_sample']['mean']:.1f}"] for lab, v in r.items()])
    L += ["", f"Verdict: with the default parameters the excitatory neurons fire at {pm(dflt['E_hz'])} Hz "
          f"(range over networks {min(dflt['E_hz_per_network']):.1f}-{max(dflt['E_hz_per_network']):.1f} Hz), "
          f"inhibitory at {pm(dflt['I_hz'])} Hz: target 5-15 Hz for E {yes(ok)}. Maass's own background (13.5 nA, "
          "below the 15 mV threshold) leaves the column silent without input; the default adds a 0.5 nA spread "
          "and an Ornstein-Uhlenbeck noise current.", ""]
    # (2) separation
    s = d["separation"]
    L += ["### Separation property (Maass et al. 2002, Fig. 2)", "",
          "Pairs of 500 ms, 20 Hz Poisson trains u, v, where v is u with k spikes moved to random times, each run "
          "preceded by its own random 200 ms prelude (so the two liquids start the stimulus in different states); "
          "`encoder='spikes'`, dt 0.5 ms. Input distance: ||u * G - v * G|| / T with a Gaussian kernel G (sigma "
          "5 ms), Maass's measure. State distance: Euclidean distance between the two liquid states (filtered spike "
          f"trains, 135 values), averaged over the window and over {next(iter(s.values()))['pairs_per_level']} pairs "
          "per row. In the noisy default, u and v of a pair share one noise realisation.", ""]
    verdicts = []
    for lab, v in s.items():
        L += [f"{lab}:", ""]
        wins = (*SEP_WINDOWS, (100, 500))
        L += table(["spikes moved", "input distance d(u, v)"] + [f"state distance {a}-{b} ms" for a, b in wins],
                   [[row["moved_spikes"], f"{row['input_distance']:.4f}"]
                    + [f"{row[f'state_distance_{a}_{b}ms']:.3f}" for a, b in wins] for row in v["rows"]])
        mono = [w for w, ok_ in v["monotone"].items() if ok_]
        L += ["", f"Spearman correlation of input distance and state distance (100-500 ms, all pairs): "
              f"{v['spearman_input_vs_state_100_500ms']:.2f}; the mean state distance increases strictly with the "
              f"input distance in: {', '.join(w.replace('_', '-') for w in mono) or 'no window'}.", ""]
        verdicts.append(v["spearman_input_vs_state_100_500ms"] > 0.5 and v["monotone"]["100_500ms"])
    L += [f"Verdict (criterion: Spearman > 0.5 and a strictly increasing mean over 100-500 ms, in both settings): "
          f"the state distance grows with the input distance {yes(all(verdicts))}. At d(u, v) = 0 the distance is "
          "what is left of the different preludes (in the noisy default u and v share the noise); it fades within "
          "a few hundred ms in Maass's noiseless setting and more slowly in the default, whose background keeps the "
          "liquid active. The first 100 ms are dominated by the preludes, as in Maass's Fig. 2.", ""]
    # (3) classification
    c = d["classify"]
    names = c["liquids"] + ["filtered input", "10 ms-binned input"]
    L += ["### Classification of jittered spike-train templates", "",
          "m Poisson templates (20 Hz, 200 ms); every trial jitters each template spike by N(0, jitter²) (Maass "
          f"2002). {c['rows'][0]['n_train_per_template']} training and {c['rows'][0]['n_test_per_template']} test "
          "trials per template; a linear readout (one-vs-all ridge, alpha by 5-fold CV) of one snapshot: the "
          "liquid state at the end of the 200 ms. Raw-input readouts (the same ridge): the input spike trains "
          "filtered with the liquid's 30 ms readout kernel and sampled at the same instant (the same kind of "
          "snapshot), and the input spike counts in 10 ms bins over the whole 200 ms (a perfect delay line that "
          "the liquid does not have). Second layout: 4 channels whose last 100 ms are identical for all templates "
          "(the class is only in the first 100 ms). Test accuracy:", ""]
    L += table(["channels", "templates", "jitter (ms)", "chance"] + names,
               [[row["channels"] if not row["shared_tail_ms"] else f"{row['channels']} (last 100 ms shared)",
                 row["templates"], f"{row['jitter_ms']:g}", f"{row['chance']:.2f}"]
                + [f"{row[n]:.2f}" for n in names] for row in c["rows"]])
    mean_acc = {n: float(np.mean([row[n] for row in c["rows"]])) for n in names}
    chance = float(np.mean([row["chance"] for row in c["rows"]]))
    gaps = {n: [row[n] - row["filtered input"] for row in c["rows"]] for n in c["liquids"]}

    def good(n):
        return np.mean(gaps[n]) >= 0.15 and min(gaps[n]) >= -0.05

    verdict = {n: good(n) for n in c["liquids"]}
    binned_best = all(row["10 ms-binned input"] >= max(row[n] for n in c["liquids"]) - 0.03 for row in c["rows"])
    L += ["", "Mean accuracy over the rows: " + ", ".join(f"{n} {mean_acc[n]:.2f}" for n in names)
          + f"; chance {chance:.2f}.", "",
          "Verdict (criterion: at least 0.15 above the raw-input snapshot readout on average, and nowhere more than "
          "0.05 below it): " + "; ".join(f"{n} {yes(verdict[n])} ({np.mean(gaps[n]):+.2f})" for n in c["liquids"])
          + ". "
          + ("The default column used as is, with independent noise in every trial, is not: its 2.5 nA "
             "background noise (which the 5-15 Hz spontaneous rate needs) masks the small differences the jitter "
             "leaves. "
             + ("Freezing the noise, or Maass's noiseless background, restores the advantage. "
                if verdict[c["liquids"][1]] and verdict[c["liquids"][2]] else "")
             if not verdict[c["liquids"][0]] else "")
          + ("The 10 ms-binned raw input, a readout with a perfect 200 ms memory, matches or beats every liquid "
             "here: the liquid's advantage is over a readout that sees the input at one instant."
             if binned_best else "The 10 ms-binned raw input, a readout with a perfect 200 ms memory, is also "
             "shown for scale."), ""]
    # (4) order parameter
    o = d["order"]
    L += ["### Order parameter against the gain", "",
          "`spike_perturbation`: after 0.5 s of washout one random neuron fires one extra spike; the order "
          "parameter is ln(mean Hamming distance between the perturbed and unperturbed spike trains over the last "
          "0.5 s / 1 spike), < 0 ordered, > 0 chaotic (Bertschinger & Natschläger 2004, for spiking liquids). "
          f"Mean ± sd over {o['seeds']} networks, {o['n_trials']} perturbations each; input scaling 0.3; driven: a "
          "uniform random current in [0, 1] per 10 ms sample. Branching ratio m (4 ms bins, Wilting & Priesemann "
          "2018's regression estimator). λ_lin: the largest exponent of `rc.lyapunov_spectrum` (jax.linearize of "
          "`step`), per 10 ms sample, seed 0.", ""]
    for key_ in dict.fromkeys((r_["options"], r_["drive"]) for r_ in o["rows"]):
        rows = [r_ for r_ in o["rows"] if (r_["options"], r_["drive"]) == key_]
        L += [f"{key_[0]}, {key_[1]}:", ""]
        L += table(["gain", "order parameter", "survival", "E rate (Hz)", "branching ratio", "λ_lin (1/sample)"],
                   [[f"{r_['gain']:g}", pm(r_["order_parameter"]), f"{r_['survival']['mean']:.2f}",
                     f"{r_['E_hz']['mean']:.1f}",
                     "-" if not math.isfinite(r_["branching_ratio"]["mean"]) else pm(r_["branching_ratio"]),
                     f"{r_['lyapunov_linearized_seed0']:+.4f}"] for r_ in rows])
        e = o["edges"][f"{key_[0].split(' (')[0]}, {key_[1]}"]
        L += ["", f"Edge (order parameter crosses 0, log-linear interpolation): "
              f"{'none in this range' if e is None else f'gain {e:.2f}'}.", ""]
    lam = [r_["lyapunov_linearized_seed0"] for r_ in o["rows"]]
    edges_s = ", ".join(f"{k}: {'none' if v is None else f'{v:.2f}'}" for k, v in o["edges"].items())
    ok_o = any(v is not None for v in o["edges"].values())
    L += [f"Verdict: the order parameter moves from ordered to chaotic as the gain grows {yes(ok_o)}; edges "
          f"{edges_s}. The default gain 1 is on the ordered side. The branching ratio rises with the gain but stays "
          "below 1 at the edge (it counts population activity in 4 ms bins, the background drive included, not the "
          "fate of one spike). The linearised exponent stays near zero at every gain, ordered or chaotic "
          f"({min(lam):+.3f} to {max(lam):+.3f} per sample, with no trend across the edge): a spike is a threshold "
          "crossing, whose derivative "
          "is zero almost everywhere, so `jax.linearize` sees only the contraction of the membrane and synaptic "
          "variables between spikes, never a change in whether or when a neuron fires. It cannot locate the edge "
          "of a spiking network; the perturbation measure can.", ""]
    # (5) Mackey-Glass
    m = d["mackey"]
    L += ["### Mackey-Glass one-step prediction", "",
          f"`tasks.mackey_glass` (tau 17, one sample per time unit, data key {MG_SEED}), squashed y = tanh(x - 1); "
          f"train {m['n_train']} (washout {m['washout']}), test {m['n_test']}; `rc.fit(res, u, y, "
          "readout=rc.RidgeCV())` for every model, the same call; the LSM's input is a current held for the sample "
          f"(`encoder='current'`). NRMSE mean ± sd over {m['seeds']} seeds.", ""]
    L += table(["model", "features", "one-step NRMSE"],
               [[name, v["features"], pm(v["stats"], ".4f")] for name, v in m["models"].items()]
               + [["persistence y(t+1) = y(t)", "-", f"{m['persistence']:.4f}"]])
    esn_best = min(v["stats"]["mean"] for k, v in m["models"].items() if k.startswith("ESN"))
    lsm_best_name, lsm_best = min(((k, v["stats"]["mean"]) for k, v in m["models"].items() if k.startswith("LSM")),
                                  key=lambda kv: kv[1])
    L += ["", f"Verdict (reported, no target): the best LSM ({lsm_best_name}) reaches {lsm_best:.3f}, "
          f"{lsm_best / esn_best:.0f}x the ESN of the same size ({esn_best:.2g}) and "
          f"{'above' if lsm_best > m['persistence'] else 'below'} the persistence baseline "
          f"({m['persistence']:.3f}). The filtered spike trains of 135 neurons at ~10-30 Hz carry a few spikes "
          "per 10 ms sample each: a coarse, noisy code for a smooth signal that an analog reservoir represents "
          "almost exactly. The membrane potentials (readout 'both') and longer samples help; the noise hurts.", ""]
    # (6) speed
    L += speed_lines(d["speed"])
    # (7) energy
    en = d["energy"]
    est = en["energy_per_step"]
    L += ["### Energy per input sample (10 ms)", "",
          f"`physical.energy_per_step(lsm)` (default 135-neuron column, {en['n_synapses']} recurrent synapses; "
          f"synaptic events estimated at 10 Hz per neuron on Loihi): {est['joules_per_step']:.3g} J per sample; its "
          f"digital baseline (a dense ESN with as many units as features, {est['baseline'][0]['count']:.4g} MACs at "
          f"{est['baseline'][0]['joules_per_op'] * 1e12:.1f} pJ) {est['baseline_joules_per_step']:.3g} J, "
          f"{est['ratio']:.0f}x more. A dense digital ESN N = 135: {en['esn_135']['joules_per_step']:.3g} J.", "",
          "`lsm.energy_terms(events, chip=...)` with measured synaptic events per sample (each spike of neuron j "
          "counts its out-degree): spontaneous (the rates run above), driven by the Mackey-Glass input, and the "
          "1000-neuron network of the speed table (noisy, dt 0.1 ms). Synaptic operations only: neuron updates, "
          "spike routing and input encoding are not counted.", ""]
    hdr = ["chip", "J per synaptic event", "spontaneous: events", "J / sample", "driven: events", "J / sample"]
    if "n1000_events" in en["chips"][0]:
        hdr += ["1000 neurons: events", "J / sample"]
    L += table(hdr, [[ch["chip"], f"{ch['joules_per_event']:.3g}", f"{ch['spontaneous_events']:.1f}",
                      f"{ch['spontaneous_joules']:.3g}", f"{ch['driven_events']:.1f}", f"{ch['driven_joules']:.3g}"]
                     + ([f"{ch['n1000_events']:.0f}", f"{ch['n1000_joules']:.3g}"] if "n1000_events" in ch else [])
                     for ch in en["chips"]])
    L += ["", "Sources: " + "; ".join(f"{ch['chip']}: {ch['source']}" for ch in en["chips"]) + ".", ""]
    L += [f"How to rerun: `python benchmarks/bench_lsm.py` (about {math.ceil(total / 60):.0f} min here; needs the "
          f"Brian2 interpreter at {DEFAULT_BRIAN_PYTHON} or `--brian-python` and the BrainPy one at "
          f"{DEFAULT_BRAINPY_PYTHON} or `--brainpy-python`, see the script's docstring), then "
          "`python benchmarks/make_results.py`. The speed section alone: `--speed-only`."]
    return L


def speed_config(quick):
    """exp_speed's arguments, less the interpreters: (repeats, JAX sizes, side-by-side cases)."""
    sizes = [(1000, 0.1, {})] if quick else [(135, 0.1, {}), (1000, 0.1, {}), (1000, 0.5, {}), (10000, 0.1, {}),
                                             (10000, 0.5, {})]
    cases = [(1000, ("cython",), 2)] if quick else [(1000, ("numpy", "cython"), 5), (10000, ("cython",), 3)]
    return (2 if quick else 5), sizes, cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer networks and shorter runs; print, write nothing")
    ap.add_argument("--brian-python", default=DEFAULT_BRIAN_PYTHON, help="an interpreter with brian2 installed")
    ap.add_argument("--brainpy-python", default=DEFAULT_BRAINPY_PYTHON, help="an interpreter with brainpy installed")
    ap.add_argument("--speed-only", action="store_true",
                    help="run only the speed section (with --quick, its quick sizes) and print it; write nothing "
                         "unless --json")
    ap.add_argument("--json", metavar="PATH", help="with --speed-only: also write the speed data to PATH")
    args = ap.parse_args()
    if args.json and not args.speed_only:
        ap.error("--json goes with --speed-only (a full run writes benchmarks/results/lsm.json)")
    q = args.quick
    repeats, sizes, cases = speed_config(q)
    if args.speed_only:
        t0 = time.perf_counter()
        sp = exp_speed(repeats, sizes, args.brian_python, cases, args.brainpy_python)
        print("\n".join(speed_lines(sp)))
        log(f"-- speed: {time.perf_counter() - t0:.0f} s")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(speed=sp, quick=q, commit=common.git_commit(), machine=common.machine(),
                               versions=common.versions()), f, indent=2, default=float)
            print(f"wrote {args.json}")
        return
    t_start = time.perf_counter()
    data: dict = {}
    seconds: dict = {}

    def timed(name, fn, *a, **kw):
        t0 = time.perf_counter()
        data[name] = fn(*a, **kw)
        seconds[name] = time.perf_counter() - t0
        log(f"-- {name}: {seconds[name]:.0f} s")

    timed("rates", exp_rates, networks=2 if q else 10, seconds=2.0 if q else 5.0, ref_networks=1 if q else 5)
    timed("separation", exp_separation, pairs=4 if q else 16)
    timed("classify", exp_classify, n_train=20 if q else 60, n_test=10 if q else 40,
          templates=(2,) if q else (2, 4), jitters=(4.0,) if q else (4.0, 8.0))
    timed("order", exp_order, gains=(0.5, 1.0, 2.0, 4.0) if q else (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
          seeds=1 if q else 3, n_trials=8 if q else 16)
    timed("mackey", exp_mackey, seeds=1 if q else 3, n_train=1000 if q else 2000, n_test=500 if q else 1000)
    timed("speed", exp_speed, repeats=repeats, sizes_jax=sizes, brian_python=args.brian_python, cases=cases,
          brainpy_python=args.brainpy_python)
    for r_ in data["speed"]["jax"]:  # measured events per 10 ms sample for the energy table (re-run, untimed)
        if r_["neurons"] == 1000 and r_["options"] == options_label({}) and r_["dt_ms"] == 0.1:
            lsm = make_speed_lsm(1000, 0.1, {})
            _, s_ = rc.spike_trains(lsm, jnp.zeros((100, 1)), key=jax.random.key(1))
            r_["synaptic_events_per_sample"] = rc.synaptic_events(lsm, s_[20:]) / 80
    timed("energy", exp_energy, data["rates"], data["mackey"], data["speed"])
    total = time.perf_counter() - t_start
    lines = write_up(data, total, q)
    data.update(total_seconds=total, seconds=seconds, quick=q, commit=common.git_commit(), machine=common.machine(),
                versions=common.versions())
    if q:
        print("\n".join(lines))
        return
    path = common.write_section("lsm", "Liquid state machine", lines, data)
    print(f"wrote {path}")


if __name__ == "__main__":
    if _CHILD and "--brainpy-run" in sys.argv:
        p = argparse.ArgumentParser()
        p.add_argument("--brainpy-run", required=True)
        p.add_argument("--repeats", type=int, default=5)
        p.add_argument("--out", required=True)
        a = p.parse_args()
        brainpy_run(a.brainpy_run, a.repeats, a.out)
    elif _CHILD:
        p = argparse.ArgumentParser()
        p.add_argument("--brian-run", required=True)
        p.add_argument("--targets", default="numpy,cython")
        p.add_argument("--repeats", type=int, default=5)
        p.add_argument("--out", required=True)
        a = p.parse_args()
        brian_run(a.brian_run, a.targets.split(","), a.repeats, a.out)
    else:
        main()

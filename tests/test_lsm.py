"""LSM: LIF against its analytic rate, Tsodyks-Markram synapses against a NumPy transcription, connectivity
statistics, encoders, determinism, validation, fit/predict, and the spiking diagnostics."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc
from reservoirs._lsm import (
    LSM,
    MAASS_CONNECTIVITY,
    branching_ratio,
    firing_rates,
    plot_raster,
    spike_perturbation,
    spike_trains,
    synaptic_events,
)


@pytest.fixture(scope="module")
def column():
    """The default 135-neuron column (Maass 2002) with its noisy background drive."""
    return LSM(1, key=jax.random.key(0))


def _record(lsm, inputs, state=None):
    """Per time step state.i_exc (needs steps_per_sample = 1)."""

    def body(s, u):
        s = lsm.step(s, u)
        return s, s.i_exc

    state = lsm.init_state() if state is None else state
    return jax.lax.scan(body, state, inputs)[1]


# ------------------------------------------------------------------------------------------------------------------
# Neuron and synapse against references
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("current, dt", [(16.0, 0.1), (15.2, 0.05), (25.0, 0.5)])
def test_lif_rate_matches_analytic(current, dt):
    """Constant current from V_reset: ISI = t_ref + tau_m ln((R I - V_reset) / (R I - V_th)), on the step grid."""
    lsm = LSM(1, 1, key=jax.random.key(0), grid=(1, 1, 1), inhibitory_fraction=0.0, background_current=current,
              background_spread=0.0, noise=0.0, dt=dt, steps_per_sample=100, input_scaling=0.0)
    assert lsm.n_synapses == 0
    s0 = eqx.tree_at(lambda s: s.v, lsm.init_state(), jnp.full(1, 13.5))
    _, spikes = spike_trains(lsm, jnp.zeros((int(round(3000 / (100 * dt))), 1)), s0)  # 3 s
    t = np.flatnonzero(np.asarray(spikes).reshape(-1))
    t_star = 30.0 * math.log((current - 13.5) / (current - 15.0))
    steps = int(round(3.0 / dt)) + math.ceil(t_star / dt - 1e-9)  # refractory steps + first grid point past t*
    assert t[0] == math.ceil(t_star / dt - 1e-9) - 1  # first spike: from V_reset without refractoriness
    assert np.all(np.diff(t) == steps)
    period = 3.0 + t_star  # ms, the analytic inter-spike interval
    assert 0 <= steps * dt - period < dt  # on the grid: late by less than one step
    rate = firing_rates(lsm, spikes).excitatory
    assert rate == pytest.approx(1000.0 / period, rel=0.05)


def _np_tm(spike_steps, dt, U, D, F, A, gain):
    """Maass et al. 2002 (Appendix) / Markram, Wang & Tsodyks 1998: A_n = A u_n R_n,
    u_n = U + u_{n-1}(1-U) exp(-Δ/F), R_n = 1 + (R_{n-1} - u_{n-1} R_{n-1} - 1) exp(-Δ/D), u_1 = U, R_1 = 1."""
    out = []
    u = R = None
    for n, s in enumerate(spike_steps):
        if n == 0:
            u_new, R_new = U, 1.0
        else:
            delta = (s - spike_steps[n - 1]) * dt
            u_new = U + u * (1 - U) * math.exp(-delta / F)
            R_new = 1 + (R - u * R - 1) * math.exp(-delta / D)
        u, R = u_new, R_new
        out.append(gain * A * u * R)
    return np.array(out)


@pytest.mark.parametrize("types", ["EE", "II"])
def test_tsodyks_markram_matches_numpy(types):
    """Two neurons; neuron 0 is driven to fire irregularly, neuron 1 is clamped silent; every jump of neuron 1's
    synaptic current must be g A u_n R_n of the recursion, `delay` steps after neuron 0's spike."""
    dt, gain = 0.1, 1.7
    inh = 1.0 if types == "II" else 0.0
    conn = {types: 1.0}
    lsm = LSM(1, 2, key=jax.random.key(3), grid=(2, 1, 1), inhibitory_fraction=inh, lam=1e3,
              connectivity={**{k: 0.0 for k in MAASS_CONNECTIVITY}, **conn}, dt=dt, steps_per_sample=1, gain=gain,
              background_spread=0.0, noise=0.0)
    assert lsm.n_synapses == 2
    lsm = eqx.tree_at(lambda m: (m.background, m.W_in), lsm,
                      (jnp.array([14.0, -500.0]), jnp.array([[1.0], [0.0]])))
    on = jax.random.uniform(jax.random.key(4), (40,)) < 0.4  # bursts (ISI ~ 4-10 ms) and pauses, 15 ms blocks
    u = jnp.repeat(on * jax.random.uniform(jax.random.key(5), (40,), minval=15.0, maxval=60.0), 150)[:, None]
    _, spikes = spike_trains(lsm, u)
    spikes = np.asarray(spikes)[:, 0, :]
    assert spikes[:, 1].sum() == 0
    s0 = np.flatnonzero(spikes[:, 0])
    isi = np.diff(s0)
    assert s0.size > 30 and isi.min() < 100 and isi.max() > 300  # irregular: short and long intervals
    (g,) = lsm.groups
    col = int(np.flatnonzero(np.asarray(g.post)[0] == 1)[0])
    U, D, F, A = (float(np.asarray(x)[0, col]) for x in (g.U, g.D, g.F, g.weight))
    ref = _np_tm(s0, dt, U, D, F, A, gain)
    cur = np.asarray(_record(lsm, u))[:, 1] if types == "EE" else None
    if cur is None:
        def body(s, x):
            s = lsm.step(s, x)
            return s, s.i_inh

        cur = np.asarray(jax.lax.scan(body, lsm.init_state(), u)[1])[:, 1]
    decay = math.exp(-dt / (3.0 if types == "EE" else 6.0))
    jumps = cur / decay - np.concatenate([[0.0], cur[:-1]])
    expected = np.zeros_like(jumps)
    arrive = s0 + g.delay
    keep = arrive < jumps.size
    expected[arrive[keep]] = ref[keep]
    assert g.delay == (15 if types == "EE" else 8)
    np.testing.assert_allclose(jumps, expected, atol=1e-9, rtol=1e-9)
    assert np.ptp(ref) > 0.1 * abs(ref).max()  # the dynamics of u and R are exercised


def test_connection_count_matches_probability():
    """Synapse counts equal sum over pairs of C exp(-(D/lambda)^2) within 4 standard deviations."""
    counts, expect = 0, 0.0
    for seed in range(2):
        lsm = LSM(1, key=jax.random.key(seed))
        pos = np.asarray(lsm.positions, np.float64)
        inh = np.arange(lsm.size) >= lsm.n_exc
        C = np.array([[0.3, 0.2], [0.4, 0.1]])[inh[:, None].astype(int), inh[None, :].astype(int)]  # [pre, post]
        P = C * np.exp(-((pos[:, None] - pos[None]) ** 2).sum(-1) / 4.0)
        np.fill_diagonal(P, 0)
        counts += lsm.n_synapses
        expect += P.sum()
        W = np.asarray(lsm.connection_matrix())
        assert np.all(np.diag(W) == 0)
        assert np.all(W[:, lsm.n_exc :] <= 0) and np.all(W[:, : lsm.n_exc] >= 0)  # Dale's law by population
    assert abs(counts - expect) < 4 * math.sqrt(expect)


# ------------------------------------------------------------------------------------------------------------------
# Behaviour, encoders, determinism
# ------------------------------------------------------------------------------------------------------------------


def test_default_column_fires_at_cortical_rates(column):
    _, spikes = spike_trains(column, jnp.zeros((150, 1)), key=jax.random.key(1))
    rates = firing_rates(column, spikes[30:])
    assert 5.0 <= rates.excitatory <= 15.0
    assert rates.inhibitory > 0
    assert column.n_exc == 108 and column.size == 135 and column.grid == (15, 3, 3)


def test_determinism_per_key():
    kw = dict(encoder="poisson", steps_per_sample=4, noise=0.0)  # randomness from the Poisson encoder alone
    a = LSM(2, 45, key=jax.random.key(7), **kw)
    b = LSM(2, 45, key=jax.random.key(7), **kw)
    c = LSM(2, 45, key=jax.random.key(8), **kw)
    assert a.stochastic and LSM(2, 45, key=jax.random.key(7)).stochastic
    assert not LSM(2, 45, key=jax.random.key(7), noise=0.0).stochastic
    assert np.array_equal(a.connection_matrix(), b.connection_matrix())
    assert not np.array_equal(a.connection_matrix(), c.connection_matrix())
    x = jnp.full((80, 2), 0.8)
    s1 = spike_trains(a, x, key=jax.random.key(1))[1]
    s2 = spike_trains(b, x, key=jax.random.key(1))[1]
    s3 = spike_trains(a, x, key=jax.random.key(2))[1]
    assert np.array_equal(s1, s2) and not np.array_equal(s1, s3)
    with pytest.raises(ValueError, match="`key` is required"):
        rc.run(a, x)


def test_features_are_filtered_spike_trains(column):
    """The features of `run` are the spikes filtered with exp(-t / 30 ms), sampled at the end of each sample."""
    x = jnp.sin(jnp.arange(40.0) / 4)[:, None]
    _, feats = rc.run(column, x, key=jax.random.key(3))
    _, spikes = spike_trains(column, x, key=jax.random.key(3))
    s = np.asarray(spikes, np.float64).reshape(-1, column.size)
    k = np.exp(-column.dt / 30.0)
    trace, ref = np.zeros(column.size), []
    for t in range(s.shape[0]):
        trace = trace * k + s[t]
        if (t + 1) % column.steps_per_sample == 0:
            ref.append(trace.copy())
    np.testing.assert_allclose(feats, np.array(ref), rtol=1e-10, atol=1e-12)


def test_latency_and_spike_encoders():
    """Latency: one input spike at step round((1 - u)(steps - 1)); none for u <= 0. Spikes: u at step 0."""
    quiet = dict(background_current=0.0, background_spread=0.0, input_connectivity=1.0, input_scaling=3.0,
                 steps_per_sample=10, dt=1.0, connectivity={k: 0.0 for k in MAASS_CONNECTIVITY}, noise=0.0)
    lat = LSM(1, 9, key=jax.random.key(0), encoder="latency", **quiet)
    us = jnp.array([1.0, 0.5, 0.2, 0.0, -0.3])
    got = jax.jit(jax.vmap(lambda u: lat.advance(lat.init_state(), u[None])[0].i_exc))(us)
    ref = np.zeros((5, 9))
    for row, step in enumerate((0, 4, 7, None, None)):  # 0.5 -> round(4.5) = 4: round half to even
        if step is not None:
            ref[row] = 3.0 * np.asarray(lat.W_in)[:, 0] * math.exp(-(10 - step) / 3.0)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    spk = LSM(1, 9, key=jax.random.key(0), encoder="spikes", **quiet)
    s2, _ = eqx.filter_jit(spk.advance)(spk.init_state(), jnp.array([2.0]))
    np.testing.assert_allclose(s2.i_exc, 2 * 3.0 * np.asarray(spk.W_in)[:, 0] * math.exp(-10 / 3.0), rtol=1e-10)


def test_vmap_over_gain_matches_loop():
    lsm = LSM(1, 45, key=jax.random.key(2), steps_per_sample=4)
    x = jax.random.uniform(jax.random.key(3), (60, 1))
    gains = jnp.array([0.5, 1.0, 2.0])

    def feats(g):
        return rc.run(eqx.tree_at(lambda m: m.gain, lsm, g), x, key=jax.random.key(4))[1]

    batched = jax.vmap(feats)(gains)
    for i, g in enumerate(gains):
        np.testing.assert_allclose(batched[i], feats(g), rtol=1e-12, atol=1e-12)
    assert not np.allclose(batched[0], batched[2])


# ------------------------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(dt=0.0), "dt"),
        (dict(dt=-0.1), "dt"),
        (dict(v_thresh=13.0), "v_thresh"),
        (dict(tau_m=-30.0), "tau_m"),
        (dict(tau_syn=(3.0, -6.0)), "tau_syn"),
        (dict(refractory=(-1.0, 2.0)), "refractory"),
        (dict(r_in=0.0), "r_in"),
        (dict(steps_per_sample=0), "steps_per_sample"),
        (dict(encoder="rate"), "encoder"),
        (dict(inhibitory_fraction=1.5), "inhibitory_fraction"),
        (dict(lam=0.0), "lam"),
        (dict(connectivity={"EE": 1.5}), "connectivity"),
        (dict(connectivity={"XY": 0.1}), "connectivity"),
        (dict(synapses={"EE": (1.5, 1100.0, 50.0)}), "synapses"),
        (dict(synapses={"EI": (0.05, -1.0, 50.0)}), "synapses"),
        (dict(amplitudes={"IE": 19.0}), "amplitudes"),
        (dict(delays={"EE": 0.0}), "delays"),
        (dict(grid=(4, 3, 3)), "grid"),
        (dict(noise=-1.0), "noise"),
        (dict(gain=0.0), "gain"),
        (dict(tau_readout=0.0), "tau_readout"),
        (dict(encoder="poisson", max_rate=5000.0), "max_rate"),
        (dict(input_connectivity=1.2), "input_connectivity"),
        (dict(parameter_spread=-0.5), "parameter_spread"),
    ],
)
def test_bad_parameters_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}"):
        LSM(1, key=jax.random.key(0), **kwargs)


# ------------------------------------------------------------------------------------------------------------------
# Training, diagnostics, energy
# ------------------------------------------------------------------------------------------------------------------


def test_fit_and_predict_with_lsm():
    """`fit`/`predict` drive an LSM like any reservoir (features: filtered spike trains, and the potentials)."""
    lsm = LSM(1, 90, key=jax.random.key(1), steps_per_sample=10, input_scaling=0.3, input_connectivity=1.0,
              tau_readout=10.0, readout="both")
    assert lsm.feature_size == 180
    t = jnp.arange(1300.0)
    x = (jnp.sin(t / 8) + 0.5 * jnp.sin(t / 3.1))[:, None]
    with pytest.raises(ValueError, match="`key` is required"):
        rc.fit(lsm, x[:999], x[1:1000])
    model = rc.fit(lsm, x[:999], x[1:1000], washout=100, readout=rc.Ridge(1e-3), key=jax.random.key(2))
    y, model2 = rc.predict(model, x[1000:-1], key=jax.random.key(3))
    err = float(rc.nrmse(y, x[1001:]))
    # spiking features are coarse and the default background is noisy: measured 0.77 (0.46 without noise)
    assert y.shape == (299, 1) and np.isfinite(err) and err < 0.9
    assert not np.array_equal(model2.state.v, model.state.v)


def test_spiking_diagnostics(column):
    x = jnp.zeros((200, 1))
    _, spikes = spike_trains(column, x, key=jax.random.key(5))
    m = branching_ratio(column, spikes[20:])
    assert np.isfinite(m) and -1.0 < m < 1.5
    events = synaptic_events(column, spikes)
    counts = np.asarray(spikes).reshape(-1, column.size).sum(0)
    assert events == pytest.approx(float(counts @ np.asarray(column.out_degree())))
    assert float(np.asarray(column.out_degree()).sum()) == column.n_synapses
    (term,) = column.energy_terms(events / 200, chip="loihi")
    assert term.joules == pytest.approx(events / 200 * 23.6e-12)
    (est,) = column.energy_terms()
    assert est.count == pytest.approx(column.n_synapses * 10.0 * column.sample_duration / 1000)
    with pytest.raises(ValueError, match="`chip`"):
        column.energy_terms(chip="gpu")
    fig = plot_raster(column, spikes[:50])
    assert fig.axes and fig.axes[0].get_xlabel() == "time (ms)"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_spike_perturbation_orders_with_gain(column):
    """One extra spike dies out in a weak liquid and spreads in a strong one."""
    x = jnp.zeros((110, 1))
    kw = dict(key=jax.random.key(0), noise_key=jax.random.key(1), washout=30, n_trials=6)
    weak = spike_perturbation(eqx.tree_at(lambda m: m.gain, column, jnp.asarray(0.2)), x, **kw)
    strong = spike_perturbation(eqx.tree_at(lambda m: m.gain, column, jnp.asarray(4.0)), x, **kw)
    assert float(weak.distance[0]) >= 1 and float(strong.distance[0]) >= 1
    assert float(weak.order_parameter) < 0 < float(strong.order_parameter)
    assert float(strong.survival) > float(weak.survival)


def test_lyapunov_sees_only_subthreshold_contraction():
    """Documented limitation: `jax.linearize` sees a zero derivative through the threshold, so the largest
    conditional exponent is negative even for a chaotic liquid."""
    lsm = LSM(1, 18, key=jax.random.key(0), gain=4.0, steps_per_sample=4)
    lam = rc.lyapunov_spectrum(lsm, jnp.zeros((40, 1)), washout=10, key=jax.random.key(1))
    assert np.isfinite(lam[0]) and float(lam[0]) < 0


# ------------------------------------------------------------------------------------------------------------------
# The whole network against a plain NumPy simulation (one step at a time, one spike at a time)
# ------------------------------------------------------------------------------------------------------------------


def _numpy_lsm(lsm, inputs):
    """Spikes of `lsm` (encoder "current", no noise) driven by `inputs`, simulated step by step in NumPy from the
    model's equations (LSM docstring; Maass et al. 2002, Appendix): every spike emitted in step e reaches its
    targets at the start of step e + delay, with the Tsodyks-Markram recursion of its synapse; then the exact
    one-step update of the membrane and the synaptic currents. Returns (steps, size) booleans."""
    f = lambda a: np.asarray(a, np.float64)  # noqa: E731
    size, dt, sps = lsm.size, lsm.dt, lsm.steps_per_sample
    tm, te, ti, r_in = float(lsm.tau_m), float(lsm.tau_exc), float(lsm.tau_inh), float(lsm.r_in)
    em, ee, ei = math.exp(-dt / tm), math.exp(-dt / te), math.exp(-dt / ti)
    pe = te / (te - tm) * (ee - em)
    pi = ti / (ti - tm) * (ei - em)
    syn = []
    for g in lsm.groups:
        P = np.asarray(g.post)
        rows, cols = np.nonzero(P < size)
        U = f(g.U)[rows, cols]
        syn.append(dict(pre=rows + g.pre_start, post=P[rows, cols], A=float(lsm.gain) * f(g.weight)[rows, cols],
                        U=U, D=f(g.D)[rows, cols], F=f(g.F)[rows, cols], u=U.copy(), R=np.ones_like(U),
                        delay=g.delay, inh=g.inhibitory))
    v, ie, ii, ref = f(lsm.v_init).copy(), np.zeros(size), np.zeros(size), np.zeros(size)
    last = np.full(size, -1, np.int64)
    emitted, out = {}, []
    for t, x in enumerate(np.asarray(inputs, np.float64)):
        ext = float(lsm.input_scaling) * (f(lsm.W_in) @ x)
        for k in range(sps):
            step = t * sps + k
            for s in syn:
                if step - s["delay"] not in emitted:
                    continue
                fired, isi = emitted[step - s["delay"]]
                sel = fired[s["pre"]]
                delta = np.maximum(isi[s["pre"][sel]], 1) * dt
                U, u, R = s["U"][sel], s["u"][sel], s["R"][sel]
                u_new = U + u * (1 - U) * np.exp(-delta / s["F"][sel])
                R_new = 1 + (R - u * R - 1) * np.exp(-delta / s["D"][sel])
                np.add.at(ii if s["inh"] else ie, s["post"][sel], s["A"][sel] * u_new * R_new)
                s["u"][sel], s["R"][sel] = u_new, R_new
            v_free = v * em + r_in * (f(lsm.background) + ext) * (1 - em) + r_in * (ie * pe + ii * pi)
            held = ref > 0.5
            v = np.where(held, float(lsm.v_reset), v_free)
            spike = (v >= float(lsm.v_thresh)) & ~held
            v[spike] = float(lsm.v_reset)
            ref = np.where(spike, f(lsm.refractory_steps), np.maximum(ref - 1, 0))
            isi = np.where(last >= 0, step - last, 1e6).astype(np.float64)
            emitted[step] = (spike, np.where(spike, isi, 0.0))
            last[spike] = step
            ie, ii = ie * ee, ii * ei
            out.append(spike)
    return np.array(out)


@pytest.mark.parametrize(
    "kw",
    [
        dict(dt=0.1, steps_per_sample=10),  # Maass's delays exactly (8 and 15 steps)
        dict(dt=0.5, steps_per_sample=20),  # the default time step: delays of 2 and 3 steps
        dict(dt=0.1, steps_per_sample=7, refractory=(0.0, 0.0)),  # no refractoriness: a neuron may fire every step
        dict(dt=0.2, steps_per_sample=12, delays={"EE": 1.5, "EI": 0.9, "IE": 3.1, "II": 0.4}),
    ],
    ids=["dt0.1", "dt0.5", "no-refractory", "odd-delays"],
)
def test_network_spikes_equal_a_numpy_simulation(kw):
    """Every spike of a 180-neuron network, recurrent synapses active (deterministic suprathreshold background,
    a random input current), equals a step-by-step NumPy simulation of the same equations."""
    lsm = LSM(1, 180, key=jax.random.key(7), background_current=14.75, background_spread=1.0, noise=0.0, **kw)
    x = 4.0 * jax.random.uniform(jax.random.key(8), (400 // lsm.steps_per_sample, 1))
    _, spikes = spike_trains(lsm, x)
    got = np.asarray(spikes).reshape(-1, lsm.size)
    want = _numpy_lsm(lsm, x)
    assert want.sum() > 300 and lsm.n_synapses > 500  # the recurrent synapses carry many spikes
    np.testing.assert_array_equal(got, want)

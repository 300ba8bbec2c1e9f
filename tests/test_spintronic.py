"""SpinTorqueOscillator: the step against a NumPy transcription of Slavin & Tiberkevich 2009, the oscillator's steady
power and relaxation rate, the contractive single STNO, noise determinism, validation, registry."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physical
import reservoirs as rc
from physical import NonIdealities
from physical._spintronic import SpinTorqueOscillator

_step = eqx.filter_jit(lambda res, state, u, key: res.step(state, u, key=key))


def np_single_step(res, line, u):
    """NumPy loop over the virtual nodes; exact logistic solution of dp/dt = -2 G[(1 + Q p) - z (1 - p)] p."""
    N, zeta, q, kappa = res.n_virtual, float(res.zeta), float(res.q), float(res.gain)
    gt = float(res.damping_rate) * float(res.theta)
    p0 = (zeta - 1) / (zeta + q)
    m = np.asarray(res.mask)[0]
    p = line[-1]
    out = np.empty(N)
    for i in range(N):
        z = zeta * (1 + float(res.input_scaling) * (m[i] @ u) + kappa * (line[i] - p0) / p0)
        a, b = z - 1, z + q
        E = np.exp(-2 * a * gt)
        p = p / (E + b * p * (1 - E) / a)
        out[i] = p = min(max(p, 0.0), 1.0)
    return np.concatenate([line[N:], out]), out


def np_array_step(res, amp, u):
    """NumPy RK4 of the coupled complex-amplitude equations (time in units of 1/Gamma_G), then the gauge."""
    M, N, S = res.n_oscillators, res.n_virtual, res.substeps
    G = float(res.damping_rate)
    h = G * float(res.theta) / S
    det, nu, q = np.asarray(res.detuning) / G, float(res.nonlinear_shift) / G, float(res.q)
    W = float(res.gain) * np.exp(1j * float(res.coupling_phase)) * np.asarray(res.coupling)
    F = float(res.injection)
    z_all = float(res.zeta) * (1 + float(res.input_scaling) * np.asarray(res.mask) @ u)  # (M, N)
    c = amp[:, 0] + 1j * amp[:, 1]
    p_out = np.empty((M, N))

    def f(c, z):
        p = np.abs(c) ** 2
        return (-1j * (det + nu * p) - (1 + q * p) + z * (1 - p)) * c + W @ c + F

    for i in range(N):
        z = z_all[:, i]
        for _ in range(S):
            k1 = f(c, z)
            k2 = f(c + h / 2 * k1, z)
            k3 = f(c + h / 2 * k2, z)
            k4 = f(c + h * k3, z)
            c = c + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            c = c / np.maximum(1.0, np.abs(c))
        p_out[:, i] = np.abs(c) ** 2
    if F == 0:
        c = c * np.conj(c[0]) / np.abs(c[0])
    return np.stack([c.real, c.imag], axis=1), p_out


@pytest.mark.parametrize("kappa", [0.0, -1.7, 0.4])
def test_single_step_matches_numpy(kappa):
    res = SpinTorqueOscillator(1, 12, key=jax.random.key(1), gain=kappa, theta=3e-9, delay=15, input_scaling=0.3)
    rng = np.random.default_rng(0)
    line = np.clip(float(res.p0) + 0.1 * rng.normal(size=15), 0.01, 0.9)
    readings = np.zeros((1, 12))
    for _ in range(20):
        u = rng.normal(size=1)
        line_ref, p_ref = np_single_step(res, line, u)
        line, readings = (np.asarray(a) for a in _step(res, (jnp.asarray(line), jnp.asarray(readings)),
                                                       jnp.asarray(u), None))
        np.testing.assert_allclose(line, line_ref, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(readings[0], np.sqrt(p_ref), rtol=1e-11, atol=1e-13)
    assert np.ptp(line) > 1e-3


@pytest.mark.parametrize("injection", [0.0, 0.3])
def test_array_step_matches_numpy(injection):
    res = SpinTorqueOscillator(2, 4, key=jax.random.key(2), topology="array", n_oscillators=4, gain=0.7,
                               coupling_phase=0.4, frequency_spread=0.02, injection=injection, substeps=2)
    rng = np.random.default_rng(1)
    state = res.init_state()
    amp = np.asarray(state[0])
    for _ in range(6):
        u = rng.normal(size=2)
        amp_ref, p_ref = np_array_step(res, amp, u)
        state = _step(res, (jnp.asarray(amp), state[1]), jnp.asarray(u), None)
        amp = np.asarray(state[0])
        np.testing.assert_allclose(amp, amp_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.asarray(state[1]), np.sqrt(p_ref), rtol=1e-10, atol=1e-12)
    assert np.ptp(np.asarray(res.features(state))) > 1e-3


def test_steady_power_and_relaxation_rate():
    """Constant drive (u = 0, no feedback): p -> p0 = (zeta - 1)/(zeta + Q), and a small deviation decays at
    Gamma_p = 2 Gamma_G (zeta - 1), measured from the simulated decay."""
    zeta, q, G, theta, N = 1.6, 3.0, 4e7, 2e-9, 40
    res = SpinTorqueOscillator(1, N, key=jax.random.key(0), zeta=zeta, q=q, damping_rate=G, theta=theta)
    p0 = (zeta - 1) / (zeta + q)
    state = (jnp.full((N,), 0.01), jnp.zeros((1, N)))
    _, feats = rc.run(res, jnp.zeros((40, 1)), state)
    p = np.asarray(feats).reshape(-1) ** 2
    np.testing.assert_allclose(p[-1], p0, rtol=1e-9)
    # Small deviation: fit the log of |p - p0| against time over one sample (N nodes of theta seconds).
    state = (jnp.full((N,), p0 * 1.001), jnp.zeros((1, N)))
    _, feats = rc.run(res, jnp.zeros((1, 1)), state)
    dev = np.abs(np.asarray(feats).reshape(-1) ** 2 - p0)
    t = theta * np.arange(1, N + 1)
    rate = -np.polyfit(t, np.log(dev), 1)[0]
    np.testing.assert_allclose(rate, 2 * G * (zeta - 1), rtol=2e-3)
    np.testing.assert_allclose(float(res.relaxation_rate), 2 * G * (zeta - 1))
    assert abs(float(res.p0) - p0) < 1e-12


def test_single_without_feedback_is_contractive():
    """kappa = 0: the largest conditional exponent is about -Gamma_p N theta per input sample."""
    res = SpinTorqueOscillator(1, 10, key=jax.random.key(3), gain=0.0, theta=2e-9, input_scaling=0.02)
    u = jax.random.normal(jax.random.key(4), (300, 1))
    lam = float(rc.lyapunov_spectrum(res, u, washout=50)[0])
    expected = -float(res.relaxation_rate) * res.n_virtual * float(res.theta)
    assert lam < 0
    np.testing.assert_allclose(lam, expected, rtol=0.05)


def test_noise_same_key_same_bits():
    nonideal = NonIdealities(read_noise=0.02, adc_bits=8)
    for kw in (dict(), dict(topology="array", n_oscillators=3, substeps=1)):
        res = SpinTorqueOscillator(1, 4, key=jax.random.key(5), thermal_noise=1e5, nonideal=nonideal, **kw)
        assert res.stochastic
        u = jnp.sin(jnp.arange(20.0))[:, None]
        a = rc.run(res, u, key=jax.random.key(6))[1]
        b = rc.run(res, u, key=jax.random.key(6))[1]
        c = rc.run(res, u, key=jax.random.key(7))[1]
        assert np.array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(np.asarray(a), np.asarray(c))
        assert np.all((np.asarray(a) >= 0) & (np.asarray(a) <= 1))
        with pytest.raises(ValueError, match="key"):
            rc.run(res, u)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(gain=5.5), "gain"),
        (dict(gain=-6.0), "gain"),
        (dict(zeta=1.0), "zeta"),
        (dict(zeta=0.5), "zeta"),
        (dict(zeta=11.0), "zeta"),
        (dict(topology="array", n_oscillators=3, gain=-0.1), "gain"),
        (dict(topology="ring"), "topology"),
        (dict(topology="array"), "n_oscillators"),
        (dict(n_oscillators=2), "n_oscillators"),
        (dict(delay=3), "delay"),
        (dict(theta=0.0), "theta"),
        (dict(damping_rate=-1.0), "damping_rate"),
        (dict(thermal_noise=-1.0), "thermal_noise"),
        (dict(nonideal=NonIdealities(stuck_on=0.1)), "nonideal"),
        (dict(mask=np.ones((1, 3, 1))), "mask"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        SpinTorqueOscillator(1, 8, key=jax.random.key(0), **kwargs)


def test_float32_and_energy():
    res = SpinTorqueOscillator(1, 8, key=jax.random.key(0), topology="array", n_oscillators=4, gain=0.5,
                               injection=0.3, substeps=1, dtype=jnp.float32)
    _, feats = rc.run(res, jnp.sin(jnp.arange(30.0, dtype=jnp.float32)))
    assert feats.dtype == jnp.float32 and feats.shape == (30, 32) and np.all(np.isfinite(np.asarray(feats)))
    report = physical.energy_per_step(res)
    i_dc = 2.0 * 4e-3
    np.testing.assert_allclose(report.joules, 32 * i_dc**2 * 50.0 * 1e-8, rtol=1e-6)


def test_registered():
    from reservoirs._registry import get_reservoir_entry

    entry = get_reservoir_entry("spintronic")
    for task in ("mackey-glass", "sine-square"):
        res = entry.build(1, 4, 0.3, key=jax.random.key(0), task=task)
        assert isinstance(res, SpinTorqueOscillator) and res.topology == "array" and float(res.gain) == 0.3
        assert res.n_oscillators == 4 and not res.stochastic
    assert 0 <= entry.sweep_gains[0] < entry.gain < entry.sweep_gains[1]

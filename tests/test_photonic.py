"""PhotonicDelay: the virtual-node map against a NumPy loop, non-idealities, validation, and the toolkit on top."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physical
import reservoirs as rc
import tasks
from physical import NonIdealities, PhotonicDelay

# One compiled step per configuration: eager dispatch of the associative scan costs seconds per new shape.
_step = eqx.filter_jit(lambda res, state, u: res.step(state, u))


def np_F(res, z):
    p, phi0 = float(res.p), float(res.phi0)
    if res.nonlinearity == "mackey_glass":
        return z / (1 + np.abs(z) ** p)  # Appeltant et al. 2011
    if res.nonlinearity == "ikeda":
        return np.sin(z + phi0) ** 2  # Larger et al. 2012
    return np.sin(z)  # Paquot et al. 2012


def np_step(res, state, u):
    """Plain NumPy loop over the virtual nodes: x_i(n) = a x_{i-1}(n) + (1 - a) eta F(x_{i-k}(n-1) + gamma m_i.u)."""
    N, k = res.n_virtual, res.desync
    a = np.exp(-float(res.theta))
    z = state[:N] + float(res.input_scaling) * (np.asarray(res.mask) @ u)
    f = np_F(res, z)
    x = np.empty(N)
    prev = state[-1]  # x_0(n) = x_N(n-1)
    for i in range(N):
        prev = a * prev + (1 - a) * float(res.gain) * f[i]
        x[i] = prev
    return np.concatenate([state[N:], x]) if k else x


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(nonlinearity="mackey_glass", p=1.0, gain=0.9),
        dict(nonlinearity="mackey_glass", p=7.0, gain=2.2, input_scaling=0.5),
        dict(nonlinearity="ikeda", gain=1.3, phi0=-0.5, theta=0.7),
        dict(nonlinearity="sine", gain=0.8, input_scaling=0.3, mask="uniform"),
        dict(nonlinearity="ikeda", gain=1.2, phi0=-0.5, theta=2.5, desync=3),
    ],
)
def test_step_matches_numpy(kwargs):
    res = PhotonicDelay(2, 30, key=jax.random.key(1), **kwargs)
    rng = np.random.default_rng(0)
    x = np.asarray(res.init_state()) + 0.1 * rng.normal(size=30 + res.desync)
    for _ in range(25):
        u = rng.uniform(-1, 1, size=2)
        x_ref = np_step(res, x, u)
        x = np.asarray(_step(res, jnp.asarray(x), jnp.asarray(u)))
        np.testing.assert_allclose(x, x_ref, rtol=1e-12, atol=1e-14)
    assert np.abs(x).max() > 1e-3
    np.testing.assert_array_equal(res.features(jnp.asarray(x)), x[-30:])


def test_construction():
    res = PhotonicDelay(key=jax.random.key(0))
    assert res.in_size == 1 and res.n_virtual == res.feature_size == 400
    assert res.init_state().shape == (400,) and not res.stochastic
    assert set(np.unique(np.asarray(res.mask))) == {-1.0, 1.0}
    assert res.gain.shape == () and eqx.is_array(res.gain)
    np.testing.assert_array_equal(res.mask_gain, 1.0)
    assert PhotonicDelay(n_virtual=20, desync=4, key=jax.random.key(0)).init_state().shape == (24,)
    assert res.input_period == pytest.approx(400 * 0.2 * 1e-9)
    m = np.ones((5, 2))
    np.testing.assert_array_equal(PhotonicDelay(2, 5, mask=m, key=jax.random.key(0)).mask, m)
    f32 = PhotonicDelay(1, 8, key=jax.random.key(0), dtype=jnp.float32)
    assert _step(f32, f32.init_state(), jnp.ones(1)).dtype == jnp.float32
    # The default detector full scale is eta * [min F, max F] at the construction gain.
    z = np.linspace(0, 3, 300001)
    mg = PhotonicDelay(1, 4, key=jax.random.key(0), p=7.0, gain=2.0)
    assert mg.detector_range[1] == pytest.approx(2.0 * np.max(z / (1 + z**7)), rel=1e-8)
    assert PhotonicDelay(1, 4, key=jax.random.key(0), nonlinearity="ikeda", gain=1.5).detector_range == (0.0, 1.5)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(theta=0.0), "theta"),
        (dict(theta=-1.0), "theta"),
        (dict(n_virtual=0), "n_virtual"),
        (dict(p=0.0), "p"),
        (dict(p=-2.0), "p"),
        (dict(nonlinearity="tanh"), "nonlinearity"),
        (dict(input_scaling=-0.1), "input_scaling"),
        (dict(gain=-1.0), "gain"),
        (dict(in_size=0), "in_size"),
        (dict(mask="gaussian"), "mask"),
        (dict(mask=np.ones((3, 1))), "mask"),
        (dict(desync=10, n_virtual=10), "desync"),
        (dict(dac_range=0.0), "dac_range"),
        (dict(detector_range=(1.0, 0.0)), "detector_range"),
        (dict(p=0.5, nonideal=NonIdealities(adc_bits=8)), "detector_range"),
        (dict(nonideal=NonIdealities(programming_noise=0.02)), "nonideal"),
    ],
)
def test_validation(kwargs, name):
    kw = dict(in_size=1, n_virtual=10) | kwargs
    with pytest.raises(ValueError, match=f"`{name}`"):
        PhotonicDelay(**kw, key=jax.random.key(0))


def _drive(T=60, seed=3):
    return jax.random.uniform(jax.random.key(seed), (T, 1), minval=0.0, maxval=0.5)


def test_ideal_is_exact():
    """All non-idealities off (the default, or each given explicitly as zero/None) is the ideal model, bit for bit,
    with or without a key."""
    kw = dict(key=jax.random.key(2), gain=0.9, input_scaling=0.2, nonlinearity="ikeda")
    ideal = PhotonicDelay(1, 40, **kw)
    explicit = PhotonicDelay(1, 40, nonideal=NonIdealities(read_noise=0.0, detector_noise=0.0, variability=0.0,
                                                           dac_bits=None, adc_bits=None), **kw)
    u = _drive()
    _, f0 = rc.run(ideal, u)
    _, f1 = rc.run(explicit, u)
    _, f2 = rc.run(explicit, u, key=jax.random.key(9))
    np.testing.assert_array_equal(f0, f1)
    np.testing.assert_array_equal(f0, f2)
    # ... and equal to the plain scan of the map (no converter, noise or variability operation in between).
    x = np.zeros(40)
    for t in range(u.shape[0]):
        x = np_step(ideal, x, np.asarray(u[t]))
    np.testing.assert_allclose(f0[-1], x, rtol=1e-12, atol=1e-15)


def test_noise_reproducible_per_key():
    ni = NonIdealities(read_noise=0.02, detector_noise=0.01)
    res = PhotonicDelay(1, 40, key=jax.random.key(2), nonideal=ni)
    assert res.stochastic
    u = _drive()
    with pytest.raises(ValueError, match="key"):
        rc.run(res, u)
    _, a = rc.run(res, u, key=jax.random.key(1))
    _, b = rc.run(res, u, key=jax.random.key(1))
    _, c = rc.run(res, u, key=jax.random.key(2))
    _, ideal = rc.run(PhotonicDelay(1, 40, key=jax.random.key(2)), u)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Noise is small: std 0.01 of the full scale (1.0 here) per detected node, plus 2 % intensity noise.
    assert 1e-4 < np.abs(np.asarray(a) - np.asarray(ideal)).mean() < 0.05
    # Each noise source alone draws something (the key is split per source).
    for one in (NonIdealities(read_noise=0.02), NonIdealities(detector_noise=0.01)):
        r = PhotonicDelay(1, 40, key=jax.random.key(2), nonideal=one)
        assert not np.allclose(rc.run(r, u, key=jax.random.key(1))[1], ideal)


def test_variability_static_per_key():
    ni = NonIdealities(variability=0.2)
    a = PhotonicDelay(1, 200, key=jax.random.key(5), nonideal=ni)
    b = PhotonicDelay(1, 200, key=jax.random.key(5), nonideal=ni)
    c = PhotonicDelay(1, 200, key=jax.random.key(6), nonideal=ni)
    np.testing.assert_array_equal(a.mask_gain, b.mask_gain)
    assert not np.array_equal(a.mask_gain, c.mask_gain)
    g = np.asarray(a.mask_gain)
    assert abs(g.mean() - 1) < 0.05 and 0.1 < g.std() < 0.3 and np.all(g > 0)
    assert not a.stochastic  # static: drawn once
    u = jnp.array([0.3])
    np.testing.assert_allclose(a.drive(u), float(a.input_scaling) * g * np.asarray(a.mask)[:, 0] * 0.3, rtol=1e-13)


def test_adc_and_dac_quantise_to_levels():
    bits = 3
    res = PhotonicDelay(1, 64, key=jax.random.key(0), gain=0.5, nonideal=NonIdealities(adc_bits=bits, dac_bits=2))
    lo, hi = res.detector_range
    assert (lo, hi) == (-0.5, 0.5)  # Mackey-Glass p = 1: eta * [-1, 1]
    levels = lo + np.arange(2**bits) * (hi - lo) / (2**bits - 1)
    f = np.asarray(res.features(jnp.linspace(lo - 0.2, hi + 0.2, 64)))
    np.testing.assert_allclose(np.unique(f), levels, rtol=0, atol=1e-15)  # exactly the 8 levels, all hit
    # The readout of a driven run only takes those values too.
    _, feats = rc.run(res, _drive())
    assert np.all(np.min(np.abs(np.asarray(feats)[..., None] - levels), axis=-1) < 1e-15)
    # DAC: the masked input m_i u is clipped to [-1, 1] (dac_range) and quantised to 4 levels.
    j = np.asarray(res.drive(jnp.array([0.45]))) / float(res.input_scaling)
    dac_levels = -1 + np.arange(4) * 2 / 3
    assert set(np.round(j, 12)) <= set(np.round(dac_levels, 12))
    np.testing.assert_allclose(np.abs(j), 1 / 3)  # 0.45 rounds to the level 1/3
    np.testing.assert_allclose(np.abs(np.asarray(res.drive(jnp.array([7.0])))) / float(res.input_scaling), 1.0)


def test_fit_predict_narma():
    u, y = tasks.narma10(900, key=jax.random.key(0))
    res = PhotonicDelay(1, 60, key=jax.random.key(1), nonlinearity="ikeda", gain=1.2, input_scaling=0.03,
                        phi0=-0.5, theta=2.5, desync=5)
    model = rc.fit(res, u[:600], y[:600], washout=100, readout=rc.Ridge(1e-10))
    yhat, _ = rc.predict(model, u[600:])
    err = float(rc.nrmse(y[600:], yhat))
    assert np.all(np.isfinite(np.asarray(yhat))) and err < 0.6  # the mean predictor scores 1


def test_lyapunov_and_sweep_cross_zero():
    """Mackey-Glass with p = 7 (PROTOCOLS.md): ordered at low feedback gain, chaotic at high gain (scratch script:
    the largest exponent crosses zero between eta = 1.6 and 1.65 for N = 400, theta = 0.2)."""
    u, y = tasks.narma10(500, key=jax.random.key(0))
    res = PhotonicDelay(1, 40, key=jax.random.key(0), p=7.0, input_scaling=0.05)
    low = eqx.tree_at(lambda r: r.gain, res, jnp.asarray(0.5))
    lam2 = rc.lyapunov_spectrum(low, u, washout=100, k=2)
    assert lam2.shape == (2,) and float(lam2[0]) < -0.3 and lam2[0] >= lam2[1]
    out = rc.sweep(res, u, y, gains=np.array([0.5, 2.5]), washout=100, progress=False)  # fits on u[:400]
    lam = out.lyapunov
    assert lam[0] < -0.3 and lam[1] > 0.1, lam
    lam_lo = rc.lyapunov_spectrum(low, u[:400], washout=100)
    assert lam[0] == pytest.approx(float(lam_lo[0]), rel=1e-6, abs=1e-9)


def test_jit_vmap_parity():
    res = PhotonicDelay(1, 32, key=jax.random.key(4), nonlinearity="sine", input_scaling=0.4, desync=2)
    x = 0.1 * jax.random.normal(jax.random.key(0), (34,))
    u = jnp.array([0.3])
    ref = res.step(x, u)  # eager
    np.testing.assert_allclose(_step(res, x, u), ref, rtol=1e-14, atol=1e-15)
    gains = jnp.array([0.2, 0.9, 1.7])

    @jax.jit
    def step_at(g):
        return eqx.tree_at(lambda r: r.gain, res, g).step(x, u)

    batched = jax.jit(jax.vmap(step_at))(gains)
    for i, g in enumerate(gains):
        np.testing.assert_allclose(batched[i], step_at(g), rtol=1e-14, atol=1e-15)
    states = jnp.stack([x, 2 * x, -x])
    vs = jax.jit(jax.vmap(res.step, in_axes=(0, None)))(states, u)
    for i in range(3):
        np.testing.assert_allclose(vs[i], _step(res, states[i], u), rtol=1e-14, atol=1e-15)
    # The state gradient exists (and is finite) at the rest state, also for Mackey-Glass with p < 1.
    mg = PhotonicDelay(1, 8, key=jax.random.key(0), p=0.5)
    jac = jax.jit(jax.jacobian(lambda s: mg.step(s, jnp.zeros(1))))(mg.init_state())
    assert np.all(np.isfinite(np.asarray(jac)))


def test_energy_terms():
    res = PhotonicDelay(1, 400, key=jax.random.key(0))
    (term,) = res.energy_terms()
    assert term.count == 400 and term.joules_per_op == pytest.approx(4.4e-15)
    report = physical.energy_per_step(res)
    assert report.joules == pytest.approx(400 * 4.4e-15)
    assert "4.4 fJ" in term.source

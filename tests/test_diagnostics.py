"""Lyapunov spectrum, echo-state property, memory capacity, separation ranks: against references and theory."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc


def with_gain(esn, g):
    return eqx.tree_at(lambda e: e.gain, esn, jnp.asarray(g, esn.gain.dtype))


def np_two_trajectory_exponent(esn, inputs, washout, delta=1e-9):
    """Finite-difference estimate (two nearby trajectories, renormalised every step) in plain NumPy."""
    from test_esn import np_step

    rng = np.random.default_rng(0)
    x = np.zeros(esn.size)
    for u in inputs[:washout]:
        x = np_step(esn, x, u)
    d = rng.normal(size=esn.size)
    y = x + delta * d / np.linalg.norm(d)
    acc = 0.0
    for u in inputs[washout:]:
        x, y = np_step(esn, x, u), np_step(esn, y, u)
        dist = np.linalg.norm(y - x)
        acc += np.log(dist / delta)
        y = x + (y - x) * (delta / dist)
    return acc / (len(inputs) - washout)


@pytest.mark.parametrize("gain", [0.6, 1.4, 2.5])
def test_largest_exponent_matches_finite_difference(gain):
    esn = with_gain(rc.ESN(1, 40, key=jax.random.key(0), leak=0.8, input_scaling=0.8), gain)
    u = np.asarray(jax.random.uniform(jax.random.key(1), (700, 1), minval=-1, maxval=1))
    lam = float(rc.lyapunov_spectrum(esn, u, washout=200)[0])
    ref = np_two_trajectory_exponent(esn, u, 200)
    assert lam == pytest.approx(ref, abs=0.01)


def test_linear_reservoir_spectrum_is_log_of_eigenvalue_moduli():
    # x(t+1) = g W x + ..., so the exponents are log |eigenvalues of g W| exactly.
    esn = rc.ESN(1, 12, key=jax.random.key(2), activation="identity", gain=0.9)
    lam = rc.lyapunov_spectrum(esn, np.zeros((400, 1)), k=4, washout=0)
    moduli = np.sort(np.abs(np.linalg.eigvals(0.9 * np.asarray(esn.W))))[::-1]
    # eigenvalues come in conjugate pairs of equal modulus; Benettin resolves the sorted moduli
    np.testing.assert_allclose(np.asarray(lam), np.log(moduli[:4]), atol=2e-2)


def test_autonomous_network_ordered_below_one_and_zero_fixed_point_exponent():
    esn = rc.ESN(1, 100, key=jax.random.key(3), input_scaling=0.0)
    x0 = 0.5 * jax.random.normal(jax.random.key(4), (100,))
    zeros = np.zeros((600, 1))
    lam = float(rc.lyapunov_spectrum(with_gain(esn, 0.7), zeros, washout=300, state=x0)[0])
    assert lam == pytest.approx(np.log(0.7), abs=0.01)
    lam = float(rc.lyapunov_spectrum(with_gain(esn, 2.0), zeros, washout=300, state=x0)[0])
    assert lam > 0.05


def test_lyapunov_vmaps_over_gain():
    esn = rc.ESN(1, 30, key=jax.random.key(5))
    u = jax.random.uniform(jax.random.key(6), (300, 1), minval=-1, maxval=1)
    gains = jnp.array([0.5, 1.5, 3.0])
    batched = jax.vmap(lambda g: rc.lyapunov_spectrum(with_gain(esn, g), u, washout=100)[0])(gains)
    single = [float(rc.lyapunov_spectrum(with_gain(esn, g), u, washout=100)[0]) for g in gains]
    np.testing.assert_allclose(batched, single, rtol=1e-8, atol=1e-10)
    assert batched[0] < 0 < batched[2]


def test_echo_state_property():
    esn = rc.ESN(1, 50, key=jax.random.key(7))
    u = jax.random.uniform(jax.random.key(8), (400, 1), minval=-1, maxval=1)
    ok = rc.echo_state_property(with_gain(esn, 0.8), u, key=jax.random.key(9))
    assert bool(ok.converged) and float(ok.distance[-1]) < 1e-8 < float(ok.distance[0])
    bad = rc.echo_state_property(with_gain(esn, 3.0), u, key=jax.random.key(9))
    assert not bool(bad.converged) and float(bad.distance[-1]) > 1e-2


def test_memory_capacity_linear_orthogonal_is_near_n():
    esn = rc.ESN(1, 30, key=jax.random.key(10), activation="identity", topology="orthogonal", gain=0.9,
                 input_scaling=0.1)
    mc = rc.memory_capacity(esn, key=jax.random.key(11), n_steps=3000, max_delay=60)
    assert 27 <= float(mc.total) <= 31.5  # MC <= N (Jaeger 2002), with a small finite-sample excess
    assert float(mc.per_delay[0]) > 0.99 and float(mc.per_delay[-1]) < 0.05


def test_memory_capacity_matches_numpy_regression():
    esn = rc.ESN(1, 20, key=jax.random.key(12), gain=0.8, input_scaling=0.5)
    key = jax.random.key(13)
    mc = rc.memory_capacity(esn, key=key, n_steps=1200, washout=100, max_delay=10, alpha=1e-8)
    u = np.asarray(jax.random.uniform(key, (1200,), minval=-1.0, maxval=1.0))
    _, S = rc.run(esn, u[:, None])
    S = np.asarray(S)
    n_train = 900
    r2 = []
    for k in range(1, 11):
        tgt = np.r_[np.zeros(k), u[:-k]]
        X, y = S[100:n_train], tgt[100:n_train]
        from test_ridge import np_ridge

        W, b = np_ridge(X, y[:, None], 1e-8)
        pred = S[n_train:] @ W[:, 0] + b[0]
        r2.append(np.corrcoef(pred, tgt[n_train:])[0, 1] ** 2)
    np.testing.assert_allclose(mc.per_delay, r2, rtol=1e-6, atol=1e-8)


def test_separation_ranks():
    esn = rc.ESN(1, 30, key=jax.random.key(14), gain=0.9)
    r = rc.separation_ranks(esn, key=jax.random.key(15), length=60, shared_suffix=30)
    assert int(r.kernel_quality) == 30  # independent streams span the whole state space
    assert int(r.generalization_rank) < int(r.kernel_quality)  # a shared recent past collapses the rank
    assert int(r.difference) > 0
    fading = rc.separation_ranks(with_gain(esn, 0.2), key=jax.random.key(15), length=60, shared_suffix=30)
    assert int(fading.generalization_rank) <= int(r.generalization_rank)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda e: rc.lyapunov_spectrum(e, np.zeros((10, 1)), k=0, washout=2), "k"),
        (lambda e: rc.lyapunov_spectrum(e, np.zeros((10, 1)), k=99, washout=2), "k"),
        (lambda e: rc.lyapunov_spectrum(e, np.zeros((10, 1)), washout=10), "washout"),
        (lambda e: rc.lyapunov_spectrum(e, np.full((10, 1), np.nan), washout=2), "inputs"),
        (lambda e: rc.memory_capacity(e, key=jax.random.key(0), test_fraction=1.5), "test_fraction"),
        (lambda e: rc.memory_capacity(e, key=jax.random.key(0), alpha=-1.0), "alpha"),
        (lambda e: rc.separation_ranks(e, key=jax.random.key(0), length=10, shared_suffix=10), "shared_suffix"),
        (lambda e: rc.echo_state_property(e, np.zeros((5, 1)), key=jax.random.key(0), tol=0.0), "tol"),
    ],
)
def test_diagnostics_reject_bad_input(call, name):
    esn = rc.ESN(1, 8, key=jax.random.key(0))
    with pytest.raises(ValueError, match=f"`{name}`"):
        call(esn)

"""Online readouts: RLS against the batch ridge, LMS against a NumPy loop, FORCE learning a periodic target."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc


def _scan(readout, Z, Y):
    state = readout.init(Z.shape[1], Y.shape[1], Z.dtype)

    def body(s, zy):
        return readout.update(s, *zy)

    return jax.lax.scan(body, state, (Z, Y))


def test_rls_equals_the_batch_ridge_solution():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((300, 6)) + 0.5
    Y = Z @ rng.standard_normal((6, 2)) + 0.1 * rng.standard_normal((300, 2)) + 1.0
    alpha = 0.3
    state, y_before = _scan(rc.rls(alpha), jnp.asarray(Z), jnp.asarray(Y))
    A = np.hstack([Z, np.ones((300, 1))])  # the bias is a weight on a constant feature, penalised like the others
    W = np.linalg.solve(A.T @ A + alpha * np.eye(7), A.T @ Y).T
    np.testing.assert_allclose(np.asarray(state.W), W, rtol=1e-9, atol=1e-10)
    assert int(state.count) == 300 and y_before.shape == (300, 2) and float(jnp.abs(y_before[0]).max()) == 0


def test_rls_forgetting_tracks_a_switch_and_lms_matches_numpy():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((600, 3))
    w1, w2 = np.array([1.0, -2.0, 0.5]), np.array([-1.0, 0.5, 2.0])
    Y = np.where(np.arange(600)[:, None] < 300, Z @ w1[:, None], Z @ w2[:, None])
    plain, _ = _scan(rc.rls(1e-3, fit_intercept=False), jnp.asarray(Z), jnp.asarray(Y))
    forget, _ = _scan(rc.rls(1e-3, forgetting=0.95, fit_intercept=False), jnp.asarray(Z), jnp.asarray(Y))
    assert np.abs(np.asarray(forget.W)[0] - w2).max() < 1e-6 < np.abs(np.asarray(plain.W)[0] - w2).max()
    mu = 0.05
    state, _ = _scan(rc.lms(mu), jnp.asarray(Z), jnp.asarray(Y))
    W = np.zeros((1, 4))
    for z, y in zip(Z, Y, strict=True):
        za = np.append(z, 1.0)
        W = W - mu * np.outer(W @ za - y, za)
    np.testing.assert_allclose(np.asarray(state.W), W, rtol=1e-10, atol=1e-12)


def test_fit_online_rls_on_a_reservoir_equals_ridge_on_its_states():
    x = np.sin(np.arange(501) / 7.0) + 0.3 * np.sin(np.arange(501) / 3.1)
    esn = rc.ESN(1, 20, gain=0.9, key=jax.random.key(0))
    res = rc.fit_online(esn, x[:-1], x[1:], readout=rc.rls(0.1), washout=50)
    _, feats = rc.run(esn, x[:-1])
    A = np.hstack([np.asarray(feats[50:]), np.ones((450, 1))])
    W = np.linalg.solve(A.T @ A + 0.1 * np.eye(21), A.T @ x[51:, None]).T
    np.testing.assert_allclose(np.asarray(res.model.readout.weights), W[:, :-1], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(np.asarray(res.model.readout.bias), W[:, -1], rtol=1e-7, atol=1e-9)
    y, _ = rc.predict(res.model, x[-20:-1])  # the model continues like a batch-fitted one
    assert y.shape == (19, 1) and bool(jnp.all(jnp.isfinite(y)))


def test_force_learns_a_periodic_target_in_closed_loop():
    # Sussillo & Abbott 2009: a chaotic rate network (gain 1.5, leak dt / tau = 0.1, sparse J) with its output fed
    # back, trained by FORCE from random activity; then the closed loop runs on alone.
    t = np.arange(8000)
    target = ((np.sin(2 * np.pi * t / 600) + 0.5 * np.sin(4 * np.pi * t / 600)) / 1.2)[:, None]
    net = rc.ESN(0, 300, gain=1.5, leak=0.1, connectivity=0.1, feedback_size=1, key=jax.random.key(0))
    x0 = 0.5 * jax.random.normal(jax.random.key(5), (300,))
    res = rc.fit_online(net, None, target[:6000], readout=rc.force(1.0), feedback="output", washout=100, state=x0)
    train_err = float(jnp.sqrt(jnp.mean(res.errors[-1200:] ** 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = rc.forecast(res.model, 2000)
    assert not bool(out.diverged)
    closed = float(rc.nrmse(target[6000:], out.outputs))  # 3.3 periods on its own; a failed net scores >= 1
    assert train_err < 0.05 and closed < 0.2, (train_err, closed)  # measured: 0.016 and 0.12 (9000 steps: 0.067)
    assert float(jnp.std(out.outputs)) == pytest.approx(float(np.std(target)), rel=0.1)


def test_bad_online_settings_raise_named_errors():
    x = np.sin(np.arange(100) / 5.0)
    esn = rc.ESN(1, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match="forgetting"):
        rc.rls(1.0, forgetting=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        rc.lms(-0.1)
    with pytest.raises(ValueError, match="alpha"):
        rc.force(0.0)
    with pytest.raises(ValueError, match="feedback"):
        rc.fit_online(esn, x[:-1], x[1:], feedback="output")
    with pytest.raises(ValueError, match="readout"):
        rc.fit_online(esn, x[:-1], x[1:], readout=rc.Ridge(1e-6))
    with pytest.raises(ValueError, match="diverged"):
        rc.fit_online(esn, 1e3 * x[:-1], x[1:], readout=rc.lms(1e3))  # far past 2 / lambda_max

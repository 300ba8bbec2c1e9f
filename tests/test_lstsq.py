"""The streaming QR least-squares solve (`QRStats`): accurate where the normal equations are not."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc
from reservoirs._lstsq import QRStats
from reservoirs._ridge import GramStats, merge_all, stats_type

from test_linalg import assert_unbatched


def ill_conditioned(T=3000, F=20, cond=1e4, offset=3.0, seed=0):
    """Features with singular values log-spaced over `cond` (after centring), a large common offset, and
    targets that are an exact linear function of them plus tiny noise."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((T, F)))
    V, _ = np.linalg.qr(rng.standard_normal((F, F)))
    s = np.sqrt(T) * np.logspace(0, -np.log10(cond), F)
    X = U @ np.diag(s) @ V.T + offset
    W = rng.standard_normal((F, 2))
    Y = X @ W + np.array([0.5, -1.0]) + 1e-7 * rng.standard_normal((T, 2))
    return X, Y


@functools.partial(jax.jit, static_argnums=(0, 3))
def _stream(cls, X, Y, chunk):
    s = cls.empty(X.shape[1], Y.shape[1], X.dtype)
    for i in range(0, X.shape[0], chunk):
        s = s.add_block(X[i : i + chunk], Y[i : i + chunk])
    return s


def stream(cls, X, Y, chunk=256):
    """The statistics of (X, Y) accumulated `chunk` rows at a time, as `fit` does (one compiled call)."""
    return _stream(cls, X, Y, chunk)


@eqx.filter_jit
def solution(stats, alpha, fit_intercept=True):
    return stats.ridge_solution(alpha, fit_intercept)


@eqx.filter_jit
def path(train, val, alphas, fit_intercept):
    return train.path_errors(val, alphas, fit_intercept)


def lstsq_reference(X, Y, fit_intercept=True):
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    if not fit_intercept:
        return np.linalg.lstsq(X, Y, rcond=None)[0], np.zeros(Y.shape[1])
    mx, my = X.mean(0), Y.mean(0)
    W = np.linalg.lstsq(X - mx, Y - my, rcond=None)[0]
    return W, my - mx @ W


def rms_residual(X, Y, W, b):
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    return np.sqrt(np.mean((X @ np.asarray(W, np.float64) + np.asarray(b, np.float64) - Y) ** 2))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_qr_matches_numpy_lstsq_in_float64(fit_intercept):
    X, Y = ill_conditioned()
    s = stream(QRStats, jnp.asarray(X), jnp.asarray(Y))
    W, b = solution(s, 0.0, fit_intercept)
    W_ref, b_ref = lstsq_reference(X, Y, fit_intercept)
    np.testing.assert_allclose(W, W_ref, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(b, b_ref, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(s.mean_x, X.mean(0), rtol=1e-13)
    np.testing.assert_allclose(s.target_var(), Y.var(0), rtol=1e-12)
    assert float(s.count) == X.shape[0]


def test_qr_in_float32_keeps_the_accuracy_the_normal_equations_lose():
    # cond(X) = 1e4: the Gram's condition number, 1e8, is beyond float32's 1.7e7; R's is not.
    X, Y = ill_conditioned()
    X32, Y32 = jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32)
    W_ref, b_ref = lstsq_reference(X32, Y32)
    best = rms_residual(X32, Y32, W_ref, b_ref)  # the float64 solve of the float32 data
    W_qr, b_qr = solution(stream(QRStats, X32, Y32), jnp.float32(0.0))
    W_gram, b_gram = solution(stream(GramStats, X32, Y32), jnp.float32(0.0))
    assert W_qr.dtype == jnp.float32
    qr, gram = rms_residual(X32, Y32, W_qr, b_qr), rms_residual(X32, Y32, W_gram, b_gram)
    # measured: QR 1.2e-6, the float64 solve 4.0e-7, the float32 Gram 9.6e-4
    assert qr < 5.0 * best, (qr, best)
    assert gram > 100 * qr, (gram, qr)  # what the QR path is for


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float32_ridge_with_a_tiny_alpha_stays_close_to_the_float64_solve(seed):
    """A ridge whose √alpha is a few rounding units of the largest singular value (the Mackey-Glass preset's
    regime): the triangular solve of the regularised factor is used, not the SVD fallback, which was 4x less
    accurate in float32 and cost the preset a one-step NRMSE 1.6x that of float64."""
    from reservoirs._lstsq import solve_ridge_qr

    F, alpha = 200, 1e-9
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((F, F)))
    V, _ = np.linalg.qr(rng.standard_normal((F, F)))
    A = np.linalg.qr((U * (300 * np.logspace(0, -8, F))) @ V.T, mode="r").astype(np.float32)
    y = (A @ rng.standard_normal((F, 1)) + 1e-3 * rng.standard_normal((F, 1))).astype(np.float32)
    A64, y64 = A.astype(np.float64), y.astype(np.float64)
    W64 = np.linalg.solve(A64.T @ A64 + alpha * np.eye(F), A64.T @ y64)  # float64 ridge of the float32 data
    W = np.asarray(jax.jit(solve_ridge_qr)(jnp.asarray(A), jnp.asarray(y), jnp.float32(alpha)), np.float64)
    # the error of the fitted values relative to the residual; measured 0.12-0.15 (the SVD fallback: 0.47-0.56)
    err = np.linalg.norm(A64 @ (W - W64)) / np.linalg.norm(A64 @ W64 - y64)
    assert err < 0.3, err


def test_qr_ridge_matches_the_closed_form_and_merging_is_exact():
    X, Y = ill_conditioned(T=1000, F=8, cond=1e2)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    whole = stream(QRStats, Xj, Yj, chunk=100)
    halves = jax.jit(lambda a, b: a.merge(b))(stream(QRStats, Xj[:450], Yj[:450], chunk=64),
                                              stream(QRStats, Xj[450:], Yj[450:], chunk=64))
    for alpha in (1e-3, 10.0):
        Xc, Yc = X - X.mean(0), Y - Y.mean(0)
        W_ref = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(8), Xc.T @ Yc)
        for s in (whole, halves):
            W, b = solution(s, alpha)
            np.testing.assert_allclose(W, W_ref, rtol=1e-9, atol=1e-10)
            np.testing.assert_allclose(b, Y.mean(0) - X.mean(0) @ W_ref, rtol=1e-9, atol=1e-9)
    # the same Gram as the Gram statistics (R is unique up to row signs)
    g = stream(GramStats, Xj, Yj)
    A_x, A_y = halves.factors(True)
    np.testing.assert_allclose(A_x.T @ A_x, g.cxx, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(A_x.T @ A_y, g.cxy, rtol=1e-10, atol=1e-8)
    # an empty factor merges as the identity, on either side
    e = QRStats.empty(8, 2, jnp.float64)
    merge = jax.jit(lambda a, b: a.merge(b))
    np.testing.assert_allclose(solution(merge(e, whole), 1e-3)[0], solution(whole, 1e-3)[0], rtol=1e-12)
    np.testing.assert_allclose(solution(merge(whole, e), 1e-3)[0], solution(whole, 1e-3)[0], rtol=1e-12)


def test_qr_sse_and_ridge_path_match_the_gram_path():
    X, Y = ill_conditioned(T=1200, F=10, cond=1e3, seed=1)
    Y = Y + 0.1 * np.random.default_rng(2).standard_normal(Y.shape)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    alphas = jnp.logspace(-6, 3, 7)
    tq, vq = stream(QRStats, Xj[:900], Yj[:900]), stream(QRStats, Xj[900:], Yj[900:])
    tg, vg = stream(GramStats, Xj[:900], Yj[:900]), stream(GramStats, Xj[900:], Yj[900:])
    for fit_intercept in (True, False):
        eq, totq = path(tq, vq, alphas, fit_intercept)
        eg, totg = path(tg, vg, alphas, fit_intercept)
        np.testing.assert_allclose(eq, eg, rtol=1e-7)
        np.testing.assert_allclose(totq, totg, rtol=1e-10)
    W, b = solution(tq, 1.0)
    resid = X[900:] @ np.asarray(W) + np.asarray(b) - Y[900:]
    np.testing.assert_allclose(vq.sse(W, b), np.sum(resid**2), rtol=1e-9)
    fit_cv = eqx.filter_jit(lambda cv, stats: cv.fit_stats(stats))
    cv_q = fit_cv(rc.RidgeCV(alphas, solver="qr", warn_at_edge=False), [tq, vq])
    cv_g = fit_cv(rc.RidgeCV(alphas, solver="gram", warn_at_edge=False), [tg, vg])
    assert float(cv_q.alpha) == float(cv_g.alpha)
    np.testing.assert_allclose(cv_q.weights, cv_g.weights, rtol=1e-6, atol=1e-9)


def test_alpha_zero_on_rank_deficient_features_gives_the_minimum_norm_solution():
    X, Y = ill_conditioned(T=500, F=6, cond=10)
    X = np.concatenate([X, X[:, :1]], axis=1)  # a duplicated column: rank deficient
    W, b = solution(stream(QRStats, jnp.asarray(X), jnp.asarray(Y)), 0.0)
    W_ref, b_ref = lstsq_reference(X, Y)  # lstsq: the minimum-norm solution
    assert np.all(np.isfinite(W))
    np.testing.assert_allclose(W, W_ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b, b_ref, rtol=1e-6, atol=1e-8)


def test_auto_solver_and_validation():
    assert stats_type("auto", jnp.float32) is QRStats
    assert stats_type("auto", jnp.float64) is GramStats
    assert stats_type("qr", jnp.float64) is QRStats and stats_type("gram", jnp.float32) is GramStats
    for make in (lambda: rc.Ridge(1e-6, solver="svd"), lambda: rc.RidgeCV(solver="cholesky")):
        with pytest.raises(ValueError, match="`solver` must be one of"):
            make()


def test_qr_fit_equals_gram_fit_in_float64_and_vmaps_without_batched_lapack():
    x = np.sin(np.linspace(0, 60, 801))[:, None] + 0.1 * np.cos(np.linspace(0, 170, 801))[:, None]
    esn = rc.ESN(1, 40, leak=0.5, key=jax.random.key(0))
    mq = rc.fit(esn, x[:-1], x[1:], readout=rc.Ridge(1e-8, solver="qr"), washout=50)
    mg = rc.fit(esn, x[:-1], x[1:], readout=rc.Ridge(1e-8, solver="gram"), washout=50)
    yq, _ = rc.predict(mq.reset(), x[:-1])
    yg, _ = rc.predict(mg.reset(), x[:-1])
    np.testing.assert_allclose(yq, yg, rtol=1e-6, atol=1e-7)  # the same fit (weights differ where ill-posed)
    np.testing.assert_allclose(mq.target_std, mg.target_std, rtol=1e-12)
    stats = jax.vmap(lambda X, Y: QRStats.from_block(X, Y).merge(QRStats.from_block(X, Y)))
    X = jnp.ones((3, 30, 5)) + jax.random.normal(jax.random.key(1), (3, 30, 5))
    assert_unbatched(jax.jit(stats).lower(X, X[..., :1]))
    solve = jax.vmap(lambda X, Y: QRStats.from_block(X, Y).ridge_solution(1e-6)[0])
    assert_unbatched(jax.jit(solve).lower(X, X[..., :1]))


def test_float32_without_x64_forecasts_like_float64():
    """JAX's default dtype: the auto solver (QR) keeps one-step Mackey-Glass within 1.5x of float64, where the
    float32 normal equations lose about an order of magnitude."""
    import tasks

    series = np.asarray(tasks.mackey_glass(2101, key=jax.random.key(0)).values, np.float64)
    train, test = series[:1600], series[1600:]

    esn64 = rc.ESN(1, 120, leak=0.3, input_scaling=0.5, key=jax.random.key(1))
    leaves = jax.tree.map(lambda a: np.asarray(a) if eqx.is_inexact_array(a) else a, esn64)

    def one_step(solver):  # the same weights in either precision
        esn = jax.tree.map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, leaves)
        model = rc.fit(esn, train[:-1], train[1:], readout=rc.Ridge(1e-8, solver=solver), washout=200)
        y, _ = rc.predict(model, test[:-1])
        return float(np.sqrt(np.mean((np.asarray(y, np.float64) - test[1:]) ** 2)) / test.std())

    ref = one_step("gram")
    with jax.enable_x64(False):
        auto = one_step("auto")
        gram32 = one_step("gram")
    assert auto < 1.5 * ref, (auto, ref)
    assert gram32 > 3 * auto, (gram32, auto)

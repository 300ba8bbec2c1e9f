"""Streaming Gram statistics and ridge solves against plain NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc
from reservoirs._ridge import AlphaGridEdgeWarning, GramStats, merge_all


def np_ridge(X, Y, alpha):
    """Ridge with an unpenalised intercept, by the augmented normal equations in NumPy."""
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    P = alpha * np.eye(Xa.shape[1])
    P[-1, -1] = 0.0
    Wa = np.linalg.solve(Xa.T @ Xa + P, Xa.T @ Y)
    return Wa[:-1], Wa[-1]


@pytest.mark.parametrize("chunks", [[100], [37, 63], [1, 50, 49], [10] * 10])
def test_chunked_gram_equals_full(chunks):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 7)) + 3.0
    Y = rng.normal(size=(100, 2)) - 1.0
    parts, i = [], 0
    for c in chunks:
        parts.append(GramStats.from_block(jnp.asarray(X[i : i + c]), jnp.asarray(Y[i : i + c])))
        i += c
    s = merge_all(parts)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    assert float(s.count) == 100
    np.testing.assert_allclose(s.mean_x, X.mean(0), rtol=1e-13)
    np.testing.assert_allclose(s.cxx, Xc.T @ Xc, rtol=1e-11)
    np.testing.assert_allclose(s.cxy, Xc.T @ Yc, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(s.cyy, Yc.T @ Yc, rtol=1e-11)
    np.testing.assert_allclose(s.uncentred().cxx, X.T @ X, rtol=1e-11)


def test_ridge_solve_matches_numpy_with_unpenalised_bias():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 10)) + 5.0
    Y = X @ rng.normal(size=(10, 3)) + 7.0 + 0.1 * rng.normal(size=(200, 3))
    for alpha in (0.0, 1e-3, 10.0):
        r = rc.Ridge(alpha).fit_stats([GramStats.from_block(jnp.asarray(X), jnp.asarray(Y))])
        W, b = np_ridge(X, Y, alpha)
        np.testing.assert_allclose(r.weights.T, W, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(r.bias, b, rtol=1e-9)


def test_ridge_alpha_zero_on_rank_deficient_gram_is_finite():
    X = np.ones((50, 3))
    X[:, 1] = np.arange(50.0)
    X[:, 2] = 2 * X[:, 1]  # collinear
    Y = X[:, 1:2] * 0.5 + 1.0
    r = rc.Ridge(0.0).fit_stats([GramStats.from_block(jnp.asarray(X), jnp.asarray(Y))])
    assert bool(jnp.all(jnp.isfinite(r.weights)))
    np.testing.assert_allclose(X @ np.asarray(r.weights).T + np.asarray(r.bias), Y, atol=1e-8)


def test_fit_intercept_false_matches_numpy():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 4)) + 1.0
    Y = rng.normal(size=(80, 1))
    r = rc.Ridge(0.5, fit_intercept=False).fit_stats([GramStats.from_block(jnp.asarray(X), jnp.asarray(Y))])
    W = np.linalg.solve(X.T @ X + 0.5 * np.eye(4), X.T @ Y)
    np.testing.assert_allclose(r.weights.T, W, rtol=1e-10)
    assert float(jnp.max(jnp.abs(r.bias))) == 0.0


def test_streaming_fit_matches_materialised_states():
    esn = rc.ESN(1, 30, key=jax.random.key(0), leak=0.6, bias_scaling=0.3)
    u = jnp.sin(jnp.arange(700.0) / 9) + 0.3 * jnp.cos(jnp.arange(700.0) / 4)
    x, y = u[:-1, None], u[1:, None]
    washout = 50
    for chunk in (7, 256, 10_000):
        m = rc.fit(esn, x, y, readout=rc.Ridge(1e-6, input_passthrough=True), washout=washout, chunk_size=chunk)
        _, S = rc.run(esn, x)
        Z = np.hstack([np.asarray(S), np.asarray(x)])[washout:]
        W, b = np_ridge(Z, np.asarray(y)[washout:], 1e-6)
        np.testing.assert_allclose(m.readout.weights.T, W, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(m.readout.bias, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(m.state, S[-1], rtol=1e-13)


def test_ridge_path_holdout_matches_explicit_fits():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6))
    Y = X @ rng.normal(size=(6, 2)) + 0.5 * rng.normal(size=(300, 2))
    alphas = np.logspace(-3, 3, 7)
    cv = rc.RidgeCV(alphas, holdout=0.25)
    n_train, n_val = cv.segments(300)
    assert (n_train, n_val) == (225, 75)
    stats = [GramStats.from_block(jnp.asarray(X[:n_train]), jnp.asarray(Y[:n_train])),
             GramStats.from_block(jnp.asarray(X[n_train:]), jnp.asarray(Y[n_train:]))]
    with pytest.warns(AlphaGridEdgeWarning, match=r"smallest alpha of its grid \(0.001\)"):  # eager: warned directly
        fitted = cv.fit_stats(stats)
    Yv = Y[n_train:]
    expected = []
    for a in alphas:
        W, b = np_ridge(X[:n_train], Y[:n_train], a)
        expected.append(np.sum((X[n_train:] @ W + b - Yv) ** 2) / np.sum((Yv - Yv.mean(0)) ** 2))
    np.testing.assert_allclose(fitted.path.errors, expected, rtol=1e-8)
    best = alphas[int(np.argmin(expected))]
    assert float(fitted.alpha) == pytest.approx(best)
    W, b = np_ridge(X, Y, best)  # refitted on everything
    np.testing.assert_allclose(fitted.weights.T, W, rtol=1e-9)


@pytest.mark.filterwarnings("ignore::reservoirs._ridge.AlphaGridEdgeWarning")
def test_ridge_path_kfold_matches_explicit_fits():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(90, 5))
    Y = X @ rng.normal(size=(5, 1)) + 0.3 * rng.normal(size=(90, 1))
    alphas = np.array([1e-2, 1.0, 100.0])
    cv = rc.RidgeCV(alphas, folds=3)
    assert cv.segments(90) == (30, 30, 30)
    folds = [(X[i * 30 : (i + 1) * 30], Y[i * 30 : (i + 1) * 30]) for i in range(3)]
    fitted = cv.fit_stats([GramStats.from_block(jnp.asarray(a), jnp.asarray(b)) for a, b in folds])
    expected = []
    for a in alphas:
        sse = tot = 0.0
        for k in range(3):
            Xt = np.vstack([folds[j][0] for j in range(3) if j != k])
            Yt = np.vstack([folds[j][1] for j in range(3) if j != k])
            W, b = np_ridge(Xt, Yt, a)
            Xv, Yv = folds[k]
            sse += np.sum((Xv @ W + b - Yv) ** 2)
            tot += np.sum((Yv - Yv.mean(0)) ** 2)
        expected.append(sse / tot)
    np.testing.assert_allclose(fitted.path.errors, expected, rtol=1e-8)


def test_ridgecv_through_fit_picks_small_alpha_on_clean_data():
    esn = rc.ESN(1, 40, key=jax.random.key(1), leak=0.5)
    u = jnp.sin(jnp.arange(1500.0) / 8)
    # The smallest alpha of the grid wins, so the optimum may lie below it: said once, from inside the compiled fit.
    with pytest.warns(AlphaGridEdgeWarning, match="smallest alpha .*below the grid.*logspace") as record:
        m = rc.fit(esn, u[:-1], u[1:], readout=rc.RidgeCV(np.logspace(-9, 2, 12)), washout=100)
    assert len([w for w in record if w.category is AlphaGridEdgeWarning]) == 1
    assert isinstance(m.readout, rc.Ridge)
    assert float(m.readout.alpha) < 1e-3
    assert m.readout.path.errors.shape == (12,)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: rc.Ridge(-1.0), "alpha"),
        (lambda: rc.Ridge(float("inf")), "alpha"),
        (lambda: rc.RidgeCV([1.0, -1.0]), "alphas"),
        (lambda: rc.RidgeCV([]), "alphas"),
        (lambda: rc.RidgeCV(folds=0), "folds"),
        (lambda: rc.RidgeCV(holdout=1.0), "holdout"),
    ],
)
def test_bad_ridge_parameters_raise(make, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        make()


def test_unfitted_ridge_cannot_predict():
    with pytest.raises(ValueError, match="not fitted"):
        rc.Ridge(1.0)(jnp.ones(3))


def test_batched_solve_matches_single_and_falls_back_only_where_needed():
    from reservoirs._ridge import solve_ridge

    rng = np.random.default_rng(5)
    X = rng.normal(size=(3, 40, 5))
    C = jnp.asarray(np.einsum("bti,btj->bij", X, X))
    C = C.at[1].set(jnp.zeros((5, 5)).at[0, 0].set(2.0))  # singular with alpha = 0: needs the fallback
    Y = jnp.asarray(rng.normal(size=(3, 5, 2)))
    alphas = jnp.array([1e-3, 0.0, 1.0])
    batched = jax.jit(jax.vmap(solve_ridge))(C, Y, alphas)
    for i in range(3):
        np.testing.assert_allclose(batched[i], solve_ridge(C[i], Y[i], alphas[i]), rtol=1e-10)
    assert bool(jnp.all(jnp.isfinite(batched)))
    np.testing.assert_allclose(batched[1][0], Y[1][0] / 2.0)  # pseudo-inverse on the non-singular direction


# ------------------------------------------------------------------------ the chosen alpha at a grid edge (issue 10)


_from_block = jax.jit(GramStats.from_block)  # one compilation per block shape, not one per eager operation


def _holdout_stats(X, Y, n_train):
    return [_from_block(jnp.asarray(X[:n_train]), jnp.asarray(Y[:n_train])),
            _from_block(jnp.asarray(X[n_train:]), jnp.asarray(Y[n_train:]))]


def test_ridgecv_warns_at_the_largest_alpha_and_not_inside_the_grid():
    import warnings

    import equinox as eqx

    # Jitted, as inside `fit` (the warning then comes from a `jax.debug.callback`), and one compilation per grid
    # size and warning setting: the alphas are array leaves.
    fit = eqx.filter_jit(lambda cv, stats: cv.fit_stats(stats))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 30))
    noise = _holdout_stats(X, rng.normal(size=(60, 1)), 45)  # nothing to learn: the largest ridge wins
    with pytest.warns(AlphaGridEdgeWarning, match=r"largest alpha of its grid \(100\).*above the grid") as rec:
        fitted = fit(rc.RidgeCV(np.logspace(-6, 2, 9)), noise)
    assert float(fitted.alpha) == 100.0
    assert "logspace(-6, 5, 15)" in str(rec[0].message)  # three more decades on that side
    signal = _holdout_stats(X, X @ rng.normal(size=(30, 1)) * 0.3 + rng.normal(size=(60, 1)), 45)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AlphaGridEdgeWarning)
        inside = fit(rc.RidgeCV(np.logspace(-6, 6, 9)), signal)
        assert 1e-6 < float(inside.alpha) < 1e6  # an interior optimum: no warning
        zero_first = fit(rc.RidgeCV(np.r_[0.0, np.logspace(-6, 2, 8)]), _holdout_stats(X, X[:, :1], 45))
        assert float(zero_first.alpha) == 0.0  # alpha = 0 wins on exact data, and it cannot go lower: no warning
        quiet = fit(rc.RidgeCV(np.logspace(-6, 2, 9), warn_at_edge=False), noise)
        assert float(quiet.alpha) == 100.0


def test_alpha_edge_rule():
    from reservoirs._ridge import alpha_edge

    grid = [1e-3, 1e-1, 10.0]
    assert [alpha_edge(i, grid) for i in range(3)] == ["smallest", None, "largest"]
    assert alpha_edge(0, [1.0]) is None  # a single alpha has no edge
    assert alpha_edge(0, [0.0, 1.0]) is None  # nothing below 0
    assert alpha_edge(2, [10.0, 1e-3, 1e-1]) is None and alpha_edge(0, [10.0, 1e-3, 1e-1]) == "largest"  # unsorted
    assert alpha_edge(2, grid, errors=[1.0, 2.0, np.nan]) is None  # a non-finite error decides nothing


def test_ridgecv_quiet_copy_keeps_the_strategy():
    cv = rc.RidgeCV([1e-3, 1.0], folds=2, input_passthrough=True)
    q = cv.quiet()
    assert not q.warn_at_edge and cv.warn_at_edge
    assert (q.folds, q.input_passthrough, q.fit_intercept) == (2, True, True)
    np.testing.assert_array_equal(q.alphas, cv.alphas)

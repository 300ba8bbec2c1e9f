"""No batched LAPACK call anywhere: jaxlib 0.10's CPU batch map can deadlock when several run at once.

The deadlock itself is a race (it hung a 2-core CI run), so the tests check the invariant that rules it out: in
the compiled program of a vmapped fit, a sweep, a Lyapunov spectrum and separation ranks, every LAPACK custom
call takes matrices of rank <= 2. They also check the loop gives the same numbers as the plain batched call.
"""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc
from reservoirs import _linalg
from reservoirs import _sweep as sweep_module

_TENSOR = re.compile(r"tensor<([0-9x?]*)[a-z]")


def lapack_ranks(hlo: str) -> list[int]:
    """Ranks of every tensor on every line of the lowered module that calls a LAPACK kernel."""
    ranks = []
    for line in hlo.splitlines():
        if "lapack_" in line and "custom_call" in line:
            ranks += [len([d for d in m.split("x") if d]) for m in _TENSOR.findall(line)]
    return ranks


def assert_unbatched(lowered):
    ranks = lapack_ranks(lowered.as_text())
    assert ranks, "expected at least one LAPACK call in the program"
    assert max(ranks) <= 2, f"batched LAPACK call (operand rank {max(ranks)})"


def test_lapack_ranks_detects_a_batched_call():
    # The checker itself: a plain vmapped Cholesky is batched (rank 3).
    a = jnp.broadcast_to(jnp.eye(3), (4, 3, 3))
    assert max(lapack_ranks(jax.jit(jax.vmap(jnp.linalg.cholesky)).lower(a).as_text())) == 3


@pytest.mark.parametrize("name", ["cholesky", "eigh", "qr", "singular_values"])
def test_wrappers_match_numpy_and_loop_under_vmap(name):
    rng = np.random.default_rng(0)
    m = rng.standard_normal((5, 6, 6))
    spd = m @ np.swapaxes(m, 1, 2) + 6 * np.eye(6)
    f = getattr(_linalg, name)
    assert_unbatched(jax.jit(jax.vmap(f)).lower(jnp.asarray(spd)))
    assert_unbatched(jax.jit(jax.vmap(jax.vmap(f))).lower(jnp.asarray(spd[None].repeat(2, 0))))
    got = jax.vmap(f)(jnp.asarray(spd))
    if name == "cholesky":
        np.testing.assert_allclose(got, np.linalg.cholesky(spd), rtol=1e-12)
    elif name == "eigh":
        np.testing.assert_allclose(got[0], np.linalg.eigh(spd)[0], rtol=1e-12)
    elif name == "qr":
        q, r = got
        np.testing.assert_allclose(q @ r, spd, atol=1e-12)
    else:
        np.testing.assert_allclose(got, np.linalg.svd(spd, compute_uv=False), rtol=1e-12)


def test_solve_ridge_loop_matches_and_falls_back_per_system():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 50, 4))
    x[1, :, 3] = x[1, :, 2]  # a rank-deficient Gram: Cholesky fails at alpha = 0
    cxx = np.einsum("bti,btj->bij", x, x)
    cxy = np.einsum("bti,bt->bi", x, rng.standard_normal((3, 50)))[..., None]
    alpha = jnp.asarray([1e-3, 0.0, 1e-3])
    W = jax.vmap(rc._ridge.solve_ridge)(jnp.asarray(cxx), jnp.asarray(cxy), alpha)
    for b in (0, 2):
        np.testing.assert_allclose(W[b], np.linalg.solve(cxx[b] + 1e-3 * np.eye(4), cxy[b]), rtol=1e-10)
    np.testing.assert_allclose(W[1], np.linalg.pinv(cxx[1]) @ cxy[1], rtol=1e-8, atol=1e-10)
    # unbatched arguments are shared (closed over), only alpha batched
    W2 = jax.vmap(rc._ridge.solve_ridge, in_axes=(None, None, 0))(jnp.asarray(cxx[0]), jnp.asarray(cxy[0]), alpha)
    np.testing.assert_allclose(W2[0], W[0], rtol=1e-12)
    assert_unbatched(jax.jit(jax.vmap(rc._ridge.solve_ridge)).lower(jnp.asarray(cxx), jnp.asarray(cxy), alpha))


@pytest.mark.filterwarnings("ignore::reservoirs.AlphaGridEdgeWarning")  # the grid is not what is tested here
def test_sweep_program_has_no_batched_lapack_call(monkeypatch):
    calls = []
    original = sweep_module._evaluate_batch

    def spy(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(sweep_module, "_evaluate_batch", spy)
    t = np.arange(700.0)
    x = jnp.asarray(np.sin(t / 7) * np.cos(t / 17))
    esn = rc.ESN(1, 20, key=jax.random.key(0))
    res = rc.sweep(esn, x[:-1], x[1:], gains=jnp.linspace(0.5, 1.5, 3), memory_capacity=True,
                   memory_capacity_steps=600, readout=rc.RidgeCV(alphas=jnp.logspace(-8, 0, 4)), washout=50,
                   progress=False)
    assert calls and np.all(np.isfinite(res.nrmse))
    assert_unbatched(original.lower(*calls[0]))


def test_lyapunov_and_separation_under_vmap_have_no_batched_lapack_call():
    esn = rc.ESN(1, 12, key=jax.random.key(2))
    u = jnp.zeros((60, 1))
    gains = jnp.asarray([0.5, 1.5])

    def spectrum(g):
        return rc.lyapunov_spectrum(eqx.tree_at(lambda e: e.gain, esn, g), u, k=3, washout=10)

    assert_unbatched(jax.jit(jax.vmap(spectrum)).lower(gains))
    lam = jax.vmap(spectrum)(gains)
    np.testing.assert_allclose(lam[0], spectrum(gains[0]), rtol=1e-10)

    def ranks(g):
        r = rc.separation_ranks(eqx.tree_at(lambda e: e.gain, esn, g), key=jax.random.key(3), n_streams=8,
                                length=20, shared_suffix=10)
        return r.kernel_quality

    assert_unbatched(jax.jit(jax.vmap(ranks)).lower(gains))


def _plain(name):
    return {"cholesky": jnp.linalg.cholesky, "eigh": jnp.linalg.eigh, "qr": jnp.linalg.qr,
            "singular_values": lambda a: jnp.linalg.svd(a, compute_uv=False)}[name]


@pytest.mark.parametrize("name", ["cholesky", "eigh", "qr", "singular_values"])
def test_wrappers_are_differentiable_and_stay_unbatched_under_vmap(name):
    # `tune` differentiates through the ridge solve, for a vmapped population of configurations: the gradient must
    # be JAX's own, and the backward pass must loop over the batch as the forward pass does.
    rng = np.random.default_rng(2)
    m = rng.standard_normal((3, 5, 5))
    spd = jnp.asarray(m @ np.swapaxes(m, 1, 2) + 5 * np.eye(5))
    weights = jnp.asarray(rng.standard_normal((5, 5)))

    def scalar(f):
        def loss(a):
            out = f(a)
            leaves = jax.tree.leaves(out)
            return sum(jnp.sum(jnp.sin(weights[: x.shape[0], : (x.shape[1] if x.ndim > 1 else 1)].reshape(x.shape)
                                       * x)) for x in leaves)
        return loss

    ours, ref = jax.vmap(jax.grad(scalar(getattr(_linalg, name)))), jax.vmap(jax.grad(scalar(_plain(name))))
    np.testing.assert_allclose(ours(spd), ref(spd), rtol=1e-10, atol=1e-12)
    assert_unbatched(jax.jit(ours).lower(spd))


def test_ridge_solves_are_differentiable_under_vmap():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 40, 4))
    cxx = jnp.asarray(np.einsum("bti,btj->bij", x, x))
    cxy = jnp.asarray(np.einsum("bti,bt->bi", x, rng.standard_normal((3, 40)))[..., None])

    def loss(c, alpha):
        return jnp.sum(rc._ridge.solve_ridge(c, cxy[0], alpha) ** 2)

    def ref(c, alpha):
        return jnp.sum(jnp.linalg.solve(c + alpha * jnp.eye(4), cxy[0]) ** 2)

    alphas = jnp.asarray([1e-3, 1e-1, 1.0])
    g = jax.vmap(jax.grad(loss, argnums=(0, 1)))(cxx, alphas)
    g_ref = jax.vmap(jax.grad(ref, argnums=(0, 1)))(cxx, alphas)
    sym = (g_ref[0] + jnp.swapaxes(g_ref[0], 1, 2)) / 2  # the Cholesky path sees the symmetric part of the Gram
    np.testing.assert_allclose(g[0], sym, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(g[1], g_ref[1], rtol=1e-8)
    assert_unbatched(jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1)))).lower(cxx, alphas))
    # and the QR solve of float32 fits
    A = jnp.asarray(x[:, :, :3])
    y = jnp.asarray(x[:, :, 3:])
    gq = jax.vmap(jax.grad(lambda a, al: jnp.sum(rc._lstsq.solve_ridge_qr(a, y[0], al) ** 2), argnums=(0, 1)))(
        A, alphas)
    gq_ref = jax.vmap(jax.grad(lambda a, al: jnp.sum(jnp.linalg.solve(a.T @ a + al * jnp.eye(3), a.T @ y[0]) ** 2),
                               argnums=(0, 1)))(A, alphas)
    np.testing.assert_allclose(gq[0], gq_ref[0], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(gq[1], gq_ref[1], rtol=1e-7)


def _custom_calls(fn, *args) -> set[str]:
    return set(re.findall(r"custom_call @(\w+)", jax.jit(fn).lower(*args).as_text()))


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_moments_go_to_the_host_blas_on_cpu_and_match_numpy(dtype):
    f = _linalg.HOST_GRAM_MIN_FEATURES
    X = jax.random.normal(jax.random.key(0), (300, f), dtype) + 0.5
    Y = jax.random.normal(jax.random.key(1), (300, 2), dtype)
    G, C = jax.jit(_linalg.moments)(X, Y)
    Xn, Yn = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    tol = 1e-12 if dtype == jnp.float64 else 1e-5
    assert G.dtype == dtype and C.dtype == dtype
    np.testing.assert_allclose(G, Xn.T @ Xn, rtol=tol, atol=tol * 300)
    np.testing.assert_allclose(C, Xn.T @ Yn, rtol=tol, atol=tol * 300)
    np.testing.assert_array_equal(G, np.asarray(G).T)  # syrk + NumPy's symmetric fill: exactly symmetric
    if jax.default_backend() == "cpu":
        assert any("callback" in c for c in _custom_calls(_linalg.moments, X, Y))
    # fewer features: the call would cost more than the syrk saves, so XLA forms the block
    assert not any("callback" in c for c in _custom_calls(_linalg.moments, X[:, : f - 1], Y))


def test_moments_of_a_batch_stay_in_xla():
    # A sweep's batch of blocks: no host call (measured slower there), the same numbers as one block at a time.
    X = jax.random.normal(jax.random.key(0), (3, 200, 30))
    Y = jax.random.normal(jax.random.key(1), (200, 1))
    batched = jax.vmap(_linalg.moments, in_axes=(0, None))
    assert not any("callback" in c for c in _custom_calls(batched, X, Y))
    G, C = jax.jit(batched)(X, Y)
    for i in range(3):
        g, c = _linalg.moments(X[i], Y)
        np.testing.assert_allclose(G[i], g, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(C[i], c, rtol=1e-12, atol=1e-12)


def test_moments_are_differentiable_forward_and_reverse():
    X = jax.random.normal(jax.random.key(0), (120, 15))
    Y = jax.random.normal(jax.random.key(1), (120, 2))

    def loss(moments):
        def f(X, Y):
            G, C = moments(X, Y)
            return jnp.sum(G**2) + jnp.sum(jnp.sin(C))

        return f

    ours, ref = loss(_linalg.moments), loss(lambda X, Y: (X.T @ X, X.T @ Y))
    for a, b in zip(jax.grad(ours, (0, 1))(X, Y), jax.grad(ref, (0, 1))(X, Y), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    t_ours = jax.jvp(lambda X: _linalg.moments(X, Y), (X,), (jnp.cos(X),))[1]
    t_ref = jax.jvp(lambda X: (X.T @ X, X.T @ Y), (X,), (jnp.cos(X),))[1]
    for a, b in zip(t_ours, t_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    # a population of gradients (vmap over grad), as `tune` runs them
    Xs = jnp.stack([X, 2 * X])
    np.testing.assert_allclose(jax.vmap(jax.grad(ours), (0, None))(Xs, Y), jax.vmap(jax.grad(ref), (0, None))(Xs, Y),
                               rtol=1e-12, atol=1e-9)


def test_a_fit_forms_its_gram_blocks_on_the_host_and_matches_the_xla_fit(monkeypatch):
    # N = 400 features >= HOST_GRAM_MIN_FEATURES: every block of this fit goes through the host BLAS on CPU.
    calls = []
    host = _linalg._moments_numpy

    def counted(X, Y):
        calls.append(np.shape(X))
        return host(X, Y)

    monkeypatch.setattr(_linalg, "_moments_numpy", counted)
    jax.clear_caches()
    esn = rc.ESN(1, 400, key=jax.random.key(0), leak=0.5)
    t = jnp.arange(1500.0)
    x = jnp.sin(t / 9) + 0.3 * jnp.cos(t / 3.7)
    fit = lambda: rc.fit(esn, x[:-1], x[1:], washout=50, chunk_size=256, parallel=False)  # noqa: E731
    m_host = fit()
    y_host, _ = rc.predict(m_host, x[:-1])
    if jax.default_backend() == "cpu":
        assert len(calls) == 6 and all(s == (250, 400) for s in calls), calls  # 1499 steps (washout too) in 6 blocks
    monkeypatch.setattr(_linalg, "HOST_GRAM_MIN_FEATURES", 10**9)
    jax.clear_caches()
    n = len(calls)
    m_xla = fit()
    y_xla, _ = rc.predict(m_xla, x[:-1])
    assert len(calls) == n  # no host call with the threshold out of reach
    # The two differ only in the order of the Gram's sums; the ridge (alpha 1e-6) amplifies that into the weights,
    # and most where the states leave the training distribution (the first steps, from the initial state).
    # Over the trained steps the predictions agree far below the fit's own error:
    err = float(jnp.sqrt(jnp.mean((y_xla[50:, 0] - x[51:]) ** 2)))
    gap = float(jnp.max(jnp.abs(y_host[50:] - y_xla[50:])))
    assert gap < 1e-3 * err, (gap, err)

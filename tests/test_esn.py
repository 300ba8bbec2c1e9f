"""ESN: step against a NumPy transcription, spectral normalisation, storage formats, determinism, validation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc


def np_step(esn, x, u):
    """Plain NumPy transcription of the ESN update (Jaeger 2001; leaky form of Jaeger et al. 2007)."""
    W = np.asarray(esn.W.todense() if isinstance(esn.W, rc.EllMatrix) else esn.W)
    pre = float(esn.gain) * W @ x + float(esn.bias_scaling) * np.asarray(esn.bias)
    pre = pre + float(esn.input_scaling) * np.asarray(esn.W_in) @ u[: esn.in_size]
    if esn.fb_size:
        pre = pre + float(esn.feedback_scaling) * np.asarray(esn.W_fb) @ u[esn.in_size :]
    a = float(esn.leak)
    return (1 - a) * x + a * np.tanh(pre)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(leak=0.3, bias_scaling=0.5, input_scaling=0.7, gain=1.3),
        dict(connectivity=0.1, sparse=True, leak=0.5),
        dict(connectivity=0.1, sparse=False),
        dict(feedback_size=2, feedback_scaling=0.4),
    ],
)
def test_step_matches_numpy(kwargs):
    esn = rc.ESN(3, 40, key=jax.random.key(1), **kwargs)
    rng = np.random.default_rng(0)
    x = np.zeros(40)
    for _ in range(20):
        u = rng.normal(size=3 + esn.feedback_size)
        x_ref = np_step(esn, x, u)
        x = np.asarray(esn.step(jnp.asarray(x), jnp.asarray(u)))
        np.testing.assert_allclose(x, x_ref, rtol=1e-12, atol=1e-12)
    assert np.abs(x).max() > 1e-3  # the state actually moved


def test_gain_is_spectral_radius():
    for conn in (1.0, 0.05):
        esn = rc.ESN(1, 120, key=jax.random.key(2), gain=1.7, connectivity=conn)
        W = np.asarray(esn.W.todense() if isinstance(esn.W, rc.EllMatrix) else esn.W)
        assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(1.0, rel=1e-10)
        assert np.max(np.abs(np.linalg.eigvals(float(esn.gain) * W))) == pytest.approx(1.7, rel=1e-10)


def test_sparse_and_dense_storage_agree():
    kw = dict(key=jax.random.key(3), connectivity=0.1, leak=0.4)
    a = rc.ESN(2, 60, sparse=True, **kw)
    b = rc.ESN(2, 60, sparse=False, **kw)
    assert isinstance(a.W, rc.EllMatrix) and not isinstance(b.W, rc.EllMatrix)
    np.testing.assert_allclose(a.W.todense(), b.W, rtol=1e-14)
    assert int(np.count_nonzero(np.asarray(b.W)[0])) == 6  # exactly round(0.1 * 60) per row
    u = jax.random.normal(jax.random.key(4), (50, 2))
    np.testing.assert_allclose(rc.run(a, u)[1], rc.run(b, u)[1], rtol=1e-12, atol=1e-13)


def test_an_ell_reservoir_is_driven_densely_in_batches_with_the_same_results():
    from reservoirs._esn import DENSE_BATCH

    kw = dict(key=jax.random.key(3), connectivity=0.1, leak=0.4)
    a = rc.ESN(1, 60, sparse=True, **kw)
    b = rc.ESN(1, 60, sparse=False, **kw)
    assert a.for_batch(DENSE_BATCH - 1) is a and b.for_batch(64) is b  # small batches and dense W: unchanged
    for bad in (0, 2.5, "8"):
        with pytest.raises(ValueError, match="batch"):
            a.for_batch(bad)
    d = a.for_batch(DENSE_BATCH)
    assert not isinstance(d.W, rc.EllMatrix)
    np.testing.assert_array_equal(d.W, a.W.todense())
    # a sweep of 8 gains (one batch: dense inside) gives what the dense reservoir gives
    x = np.sin(np.arange(801) / 7.0) + 0.3 * np.sin(np.arange(801) / 3.1)
    gains = jnp.linspace(0.2, 1.4, DENSE_BATCH)
    ra = rc.sweep(a, x[:-1], x[1:], params={"gain": gains}, lyapunov=False, washout=50, progress=False)
    rb = rc.sweep(b, x[:-1], x[1:], params={"gain": gains}, lyapunov=False, washout=50, progress=False)
    np.testing.assert_allclose(ra.nrmse, rb.nrmse, rtol=1e-8)


def test_default_storage_follows_the_measured_crossover():
    def ell(**kw):
        return isinstance(rc.ESN(1, 760, key=jax.random.key(0), **kw).W, rc.EllMatrix)

    assert ell(connectivity=0.1, dtype=jnp.float64)  # 4.4 MiB dense: the ELL step is faster
    # float64 fit + predict: dense faster at N = 650 (3.2 MiB), ELL at 700 (3.7 MiB)
    assert not isinstance(rc.ESN(1, 650, key=jax.random.key(0), connectivity=0.1, dtype=jnp.float64).W, rc.EllMatrix)
    assert isinstance(rc.ESN(1, 700, key=jax.random.key(0), connectivity=0.1, dtype=jnp.float64).W, rc.EllMatrix)
    assert not ell(connectivity=0.1, dtype=jnp.float32)  # 2.2 MiB: the float32 dense step is faster
    assert not ell(connectivity=0.2, dtype=jnp.float64)  # twice the gathers: dense until 10 MiB
    assert not ell(connectivity=0.1, dtype=jnp.float64, sparse=False)


def test_ell_fromdense_roundtrip():
    W = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    ell = rc.EllMatrix.fromdense(W)
    np.testing.assert_array_equal(ell.todense(), W)
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(ell.mv(jnp.asarray(x)), W @ x)


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_ell_product_equals_the_dense_one_with_and_without_batch_axes(batch):
    rng = np.random.default_rng(0)
    n, k = 40, 5
    cols = np.argsort(rng.random((n, n)), axis=1)[:, :k].astype(np.int32)
    ell = rc.EllMatrix(jnp.asarray(cols), jnp.asarray(rng.standard_normal((n, k))), n)
    W = np.asarray(ell.todense())
    x = rng.standard_normal((*batch, n))
    np.testing.assert_allclose(ell.mv(jnp.asarray(x)), x @ W.T, rtol=1e-12, atol=1e-12)
    if batch:  # vmapped over the first axis: the same numbers
        np.testing.assert_allclose(jax.vmap(ell.mv)(jnp.asarray(x)), x @ W.T, rtol=1e-12, atol=1e-12)
    f32 = ell.mv(jnp.asarray(x, jnp.float32))  # float64 values and float32 states promote, as `values * x` does
    assert f32.dtype == jnp.float64


def test_determinism_per_key():
    a = rc.ESN(1, 50, key=jax.random.key(7), connectivity=0.2)
    b = rc.ESN(1, 50, key=jax.random.key(7), connectivity=0.2)
    c = rc.ESN(1, 50, key=jax.random.key(8), connectivity=0.2)
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))
    assert not np.array_equal(a.W_in, c.W_in)


def test_float32_and_float64():
    u = jnp.sin(jnp.arange(300.0) / 7)[:, None]
    e64 = rc.ESN(1, 30, key=jax.random.key(0), dtype=jnp.float64)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(
        rc.ESN(1, 30, key=jax.random.key(0), dtype=jnp.float32)))
    # JAX draws different numbers per dtype, so compare the same weights in both precisions.
    e32 = jax.tree.map(lambda a: a.astype(jnp.float32), e64)
    s32 = rc.run(e32, u.astype(jnp.float32))[1]
    s64 = rc.run(e64, u)[1]
    assert s32.dtype == jnp.float32 and s64.dtype == jnp.float64
    np.testing.assert_allclose(s32, s64, atol=1e-4)
    m = rc.fit(e32, u[:-1].astype(jnp.float32), u[1:].astype(jnp.float32), washout=20)
    assert m.readout.weights.dtype == jnp.float64  # x64 is on in the tests: the Gram is accumulated in float64
    y, _ = rc.predict(m, u[:50].astype(jnp.float32))
    assert bool(jnp.all(jnp.isfinite(y)))


def test_feature_maps():
    esn = rc.ESN(1, 6, key=jax.random.key(0), feature_map="pathak")
    x = jnp.arange(6.0) - 2.0
    np.testing.assert_allclose(esn.features(x), [-2.0, 1.0, 0.0, 1.0, 2.0, 9.0])
    q = rc.ESN(1, 6, key=jax.random.key(0), feature_map="quadratic")
    assert q.feature_size == 12
    np.testing.assert_allclose(q.features(x), np.concatenate([x, x**2]))


def test_from_weights_reproduces_step():
    esn = rc.ESN(2, 20, key=jax.random.key(5), bias_scaling=1.0, leak=0.5, gain=0.8)
    clone = rc.ESN.from_weights(esn.W, esn.W_in, esn.bias, gain=0.8, leak=0.5, normalise=False)
    u = jax.random.normal(jax.random.key(6), (30, 2))
    np.testing.assert_allclose(rc.run(esn, u)[1], rc.run(clone, u)[1], rtol=1e-13)
    with pytest.raises(ValueError, match="`W`"):
        rc.ESN.from_weights(np.ones((3, 4)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="`W_in`"):
        rc.ESN.from_weights(np.eye(3), np.ones((2, 1)))


def test_vmap_over_gain_matches_loop():
    esn = rc.ESN(1, 25, key=jax.random.key(9), leak=0.5)
    u = jnp.sin(jnp.arange(100.0) / 5)[:, None]
    gains = jnp.array([0.5, 1.0, 1.5])

    def states(g):
        return rc.run(eqx.tree_at(lambda e: e.gain, esn, g), u)[1]

    batched = jax.vmap(states)(gains)
    for i, g in enumerate(gains):
        np.testing.assert_allclose(batched[i], states(g), rtol=1e-12, atol=1e-14)
    assert not np.allclose(batched[0], batched[2])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(gain=0.0), "gain"),
        (dict(gain=-1.0), "gain"),
        (dict(leak=0.0), "leak"),
        (dict(leak=1.5), "leak"),
        (dict(input_scaling=-1.0), "input_scaling"),
        (dict(connectivity=0.0), "connectivity"),
        (dict(connectivity=1.2), "connectivity"),
        (dict(feature_map="cubic"), "feature_map"),
        (dict(activation="relu"), "activation"),
        (dict(gain=float("nan")), "gain"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        rc.ESN(1, 10, key=jax.random.key(0), **kwargs)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="`size`"):
        rc.ESN(1, 0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`in_size`"):
        rc.ESN(-1, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`in_size` \\+ `feedback_size`"):
        rc.ESN(0, 10, key=jax.random.key(0))


def test_run_rejects_bad_inputs():
    esn = rc.ESN(2, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`inputs`"):
        rc.run(esn, jnp.ones((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        rc.run(esn, jnp.full((5, 2), jnp.nan))


# --------------------------------------------------------------------------------- validation (issue 10)


@pytest.fixture
def without_runtime_typechecks():
    """What a user sees: the test suite's jaxtyping hook would reject a str gain (TypeCheckError) before `ESN`
    itself can; users run without it."""
    import jaxtyping

    old = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    yield
    jaxtyping.config.update("jaxtyping_disable", old)


@pytest.mark.parametrize("gain", ["1.0", None, True, 1 + 2j, [1.0, 2.0]])
def test_gain_that_is_not_a_real_number_is_named(gain, without_runtime_typechecks):
    with pytest.raises(ValueError, match="`gain` must be a real number|`gain` must be a scalar"):
        rc.ESN(1, 10, key=jax.random.key(0), gain=gain)


def test_hyperparameter_that_overflows_the_dtype_raises():
    with pytest.raises(ValueError, match=r"`gain` = 1e\+39 overflows float32"):
        rc.ESN(1, 10, key=jax.random.key(0), gain=1e39, dtype=jnp.float32)
    with pytest.raises(ValueError, match="`input_scaling` .* overflows float32"):
        rc.ESN(1, 10, key=jax.random.key(0), input_scaling=1e40, dtype=jnp.float32)
    with pytest.raises(ValueError, match="`gain` .* underflows float32"):
        rc.ESN(1, 10, key=jax.random.key(0), gain=1e-50, dtype=jnp.float32)
    assert float(rc.ESN(1, 10, key=jax.random.key(0), gain=1e39, dtype=jnp.float64).gain) == 1e39


def test_complex_inputs_and_targets_are_rejected_not_truncated(without_runtime_typechecks):
    esn = rc.ESN(1, 10, key=jax.random.key(0))
    x = np.exp(1j * np.arange(60) / 5)
    with pytest.raises(ValueError, match="`inputs` must be real.*imaginary part"):
        rc.run(esn, x)
    with pytest.raises(ValueError, match="`targets` must be real"):
        rc.fit(esn, x.real[:-1], x[1:], washout=5)
    with pytest.raises(ValueError, match="`y_true` must be real"):
        rc.nrmse(x, x)


def test_targets_with_no_output_channel_raise():
    esn = rc.ESN(1, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"`targets` must have at least one channel, got shape \(59, 0\)"):
        rc.fit(esn, np.ones(59), np.ones((59, 0)), washout=5)


def test_a_state_that_does_not_match_init_state_is_named():
    from reservoirs._checks import check_state

    esn = rc.ESN(1, 10, key=jax.random.key(0))
    u = jnp.ones((5, 1))
    with pytest.raises(ValueError, match=r"`state` must have .* of `reservoir.init_state\(\)`.*\(10,\); got \(11,\)"):
        rc.run(esn, u, state=jnp.zeros(11))
    with pytest.raises(ValueError, match=r"`state`.*\(10,\); got tuple"):
        rc.run(esn, u, state=(jnp.zeros(10), jnp.zeros(10)))
    check_state(esn, np.zeros(10))  # the right shape passes, whatever the array type
    start = jnp.full(10, 0.5)
    np.testing.assert_array_equal(rc.run(esn, u, state=start)[1][0], esn.step(start, u[0]))


def test_a_key_that_is_not_a_prng_key_is_named(without_runtime_typechecks):
    esn = rc.ESN(1, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"`key` must be a PRNG key such as `jax.random.key\(0\)`, got 0"):
        rc.run(esn, jnp.ones((5, 1)), key=0)
    rc.run(esn, jnp.ones((5, 1)), key=jax.random.PRNGKey(0))  # legacy uint32 keys are keys too


def test_building_esns_does_not_recompile_the_spectral_radius():
    import jax.monitoring

    compiles = []
    counting = [False]

    def listener(name, duration, **kwargs):
        if counting[0] and name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    rc.ESN(1, 12, key=jax.random.key(0))  # the first one of a size compiles what it needs
    counting[0] = True
    try:
        for seed in range(1, 6):
            rc.ESN(1, 12, key=jax.random.key(seed))
    finally:
        counting[0] = False
    assert len(compiles) == 0, f"{len(compiles)} compilations for 5 more ESNs of the same size"
    W = np.random.default_rng(0).normal(size=(12, 12))
    assert float(rc.spectral_radius(jnp.asarray(W))) == pytest.approx(np.max(np.abs(np.linalg.eigvals(W))))


def test_esn_and_sweep_docstring_examples_run():
    import doctest

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for obj, name in ((rc.ESN.__init__, "ESN.__init__"), (rc.sweep, "sweep")):
        tests = finder.find(obj, name, globs={})
        assert tests and tests[0].examples, f"{name} has no Example"
        for t in tests:
            runner.run(t)
    assert runner.failures == 0 and runner.tries >= 6

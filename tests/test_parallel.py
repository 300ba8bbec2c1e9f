"""Parallel-in-time driving: equal to the sequential scan within the stated tolerance, and the fallback triggers
where the seams disagree."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc
from reservoirs import _parallel

T = 3000


@pytest.fixture(scope="module")
def series():
    t = jnp.arange(T + 1) * 0.05
    return jnp.sin(t) * jnp.cos(0.31 * t) + 0.3 * jnp.sin(2.3 * t)


@pytest.fixture(scope="module")
def esn():
    return rc.ESN(1, 64, gain=0.9, leak=0.5, key=jax.random.key(0))


def _both(res, x, **kw):
    m0 = rc.fit(res, x[:-1], x[1:], parallel=False, **kw)
    m1, report = rc.fit(res, x[:-1], x[1:], parallel=True, return_report=True, **kw)
    return m0, m1, report


def test_fit_and_predict_equal_the_sequential_scan(series, esn):
    m0, m1, report = _both(esn, series, readout=rc.Ridge(1e-6))
    assert report.parallel and report.segments >= _parallel.MIN_SEGMENTS and report.overlap % 64 == 0
    assert 0 < report.contraction < 1
    assert report.seam_mismatch <= report.tolerance == pytest.approx(64 * np.finfo(np.float64).eps)
    # the final state is the sequential one to the seam tolerance
    assert float(jnp.max(jnp.abs(m1.state - m0.state))) <= report.tolerance
    # the readouts differ only by the order of summation of the statistics: no more than the sequential fit's own
    # change with the block size (the ridge solve amplifies rounding by the features' condition number)
    m2 = rc.fit(esn, series[:-1], series[1:], readout=rc.Ridge(1e-6), parallel=False, chunk_size=100)
    spread = float(jnp.max(jnp.abs(m2.readout.weights - m0.readout.weights)))
    assert float(jnp.max(jnp.abs(m1.readout.weights - m0.readout.weights))) <= 10 * spread + 1e-12
    y0, a0 = rc.predict(m0, series[:T], parallel=False)
    y1, a1, r = rc.predict(m0, series[:T], parallel=True, return_report=True)
    assert r.parallel and r.seam_mismatch <= r.tolerance
    np.testing.assert_allclose(y1, y0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a1.state, a0.state, rtol=0, atol=1e-13)
    assert float(a1.last_output[0]) == float(y1[-1, 0])


def test_stochastic_substrate_gets_the_same_noise(series):
    from physical import NonIdealities, PhotonicDelay

    res = PhotonicDelay(1, 40, nonideal=NonIdealities(detector_noise=0.01), key=jax.random.key(2))
    key = jax.random.key(5)
    m0, m1, report = _both(res, series, readout=rc.Ridge(1e-6), key=key)
    assert res.stochastic and report.parallel
    # the same noise at the same time step: the states agree as for a deterministic reservoir
    assert float(jnp.max(jnp.abs(m1.state - m0.state))) <= report.tolerance * float(jnp.max(jnp.abs(m0.state)))


def test_ridge_cv_folds_are_driven_in_parallel_too(series):
    fast = rc.ESN(1, 64, gain=0.5, leak=1.0, key=jax.random.key(0))  # each fold holds ~1000 steps: a short overlap
    m0, m1, report = _both(fast, series, readout=rc.RidgeCV(folds=3))
    assert report.parallel
    assert float(m1.readout.alpha) == float(m0.readout.alpha)
    assert float(jnp.max(jnp.abs(m1.state - m0.state))) <= report.tolerance


def test_seams_that_disagree_fall_back_to_the_sequential_scan(series, esn, monkeypatch):
    # an overlap far too short for this contraction (the probe would choose several hundred steps)
    monkeypatch.setattr(_parallel, "choose_overlap", lambda d, tol: (2, 0.99, "forced short overlap"))
    m0 = rc.fit(esn, series[:-1], series[1:], parallel=False)
    with pytest.warns(RuntimeWarning, match="seams disagree"):
        m1, report = rc.fit(esn, series[:-1], series[1:], parallel=True, return_report=True)
    assert not report.parallel and report.seam_mismatch > report.tolerance and "sequential scan ran" in report.reason
    np.testing.assert_array_equal(m1.readout.weights, m0.readout.weights)  # the sequential result, bit for bit
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" falls back silently (the report says why)
        y, _, r = rc.predict(m0, jnp.tile(series[:T], 2), parallel="auto", return_report=True)
    assert not r.parallel


def test_no_contraction_is_refused_and_says_why(series):
    chaotic = rc.ESN(1, 64, gain=3.0, leak=1.0, input_scaling=0.01, key=jax.random.key(1))
    with pytest.warns(RuntimeWarning, match="no contraction"):
        _, report = rc.fit(chaotic, series[:-1], series[1:], parallel=True, return_report=True)
    assert not report.parallel and report.contraction >= 0.999


def test_auto_keeps_short_or_small_runs_sequential_and_feedback_predict_sequential(series, esn):
    _, report = rc.fit(esn, series[:-1], series[1:], return_report=True)
    assert not report.parallel and "span of" in report.reason
    fb = rc.ESN(1, 64, feedback_size=1, key=jax.random.key(0))
    m, report = rc.fit(fb, series[:-1], series[1:], parallel=True, return_report=True)
    assert report.parallel  # teacher forcing: the fed-back targets are known in advance
    with pytest.warns(RuntimeWarning, match="output feedback"):
        *_, r = rc.predict(m, series[:T], parallel=True, return_report=True)
    assert not r.parallel


def test_inside_jit_the_sequential_scan_runs(series, esn):
    @jax.jit
    def weights(x):
        return rc.fit(esn, x[:-1], x[1:], parallel=True).readout.weights

    with pytest.warns(RuntimeWarning, match="inside a JAX transformation"):
        w = weights(series)

    @jax.jit
    def outputs(model, x):  # a traced model: the plan is not attempted, predict runs sequentially
        return rc.predict(model, x, parallel="auto")[0]

    m = rc.fit(esn, series[:-1], series[1:], parallel=False)
    np.testing.assert_allclose(outputs(m, series[:T]), rc.predict(m, series[:T], parallel=False)[0], atol=1e-12)
    np.testing.assert_allclose(w, rc.fit(esn, series[:-1], series[1:], parallel=False).readout.weights, rtol=1e-4)


def test_bad_parallel_argument_raises(series, esn):
    with pytest.raises(ValueError, match="`parallel` must be True, False or 'auto'"):
        rc.fit(esn, series[:-1], series[1:], parallel="yes")
    m = rc.fit(esn, series[:-1], series[1:])
    for bad in (2, 0, 1, "yes", None):
        with pytest.raises(ValueError, match="`parallel`"):
            rc.predict(m, series[:10], parallel=bad)


def test_overlap_and_segments_from_the_probe():
    tol = 1e-14
    d = 0.8 ** np.arange(1, 257)
    overlap, rate, _ = _parallel.choose_overlap(d, tol)
    steps = int(np.nonzero(d <= tol)[0][0]) + 1
    assert rate == pytest.approx(0.8, rel=1e-6) and overlap >= 1.5 * steps and overlap % 64 == 0
    slow = 0.99 ** np.arange(1, 257)  # extrapolated beyond the probe
    overlap, rate, _ = _parallel.choose_overlap(slow, tol)
    assert overlap >= 1.5 * np.log(tol) / np.log(0.99)
    assert _parallel.choose_overlap(np.ones(256), tol)[0] is None
    assert _parallel.plan(10_000, 512) == 16 and _parallel.plan(3000, 512) == 4 and _parallel.plan(2000, 512) == 0
    L, tail = _parallel.layout(1000, 8, 100)
    assert 100 + 8 * L + tail == 1000 and 0 <= tail < 8

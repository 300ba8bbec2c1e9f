"""Metrics against NumPy and hand-made cases."""

import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc


def test_nrmse_matches_numpy():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(200, 3)) * np.array([1.0, 5.0, 0.1])
    p = y + 0.1 * rng.normal(size=y.shape)
    e = p - y
    assert float(rc.nrmse(y, p)) == pytest.approx(np.sqrt(np.mean((e / y.std(0)) ** 2)), rel=1e-12)
    tot = np.sqrt(np.sum(e**2) / np.sum((y - y.mean(0)) ** 2))
    assert float(rc.nrmse(y, p, norm="total")) == pytest.approx(tot, rel=1e-12)
    assert float(rc.nrmse(y, p, norm="range")) == pytest.approx(np.sqrt(np.mean(e**2)) / np.ptp(y), rel=1e-12)
    assert float(rc.nrmse(y[:, 0], y[:, 0])) == 0.0


def test_nrmse_rejects_bad_input():
    with pytest.raises(ValueError, match="`y_pred`"):
        rc.nrmse(np.ones((5, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="`y_true` contains NaN"):
        rc.nrmse(np.array([1.0, np.nan]), np.ones(2))
    with pytest.raises(ValueError, match="`norm`"):
        rc.nrmse(np.arange(3.0), np.arange(3.0), norm="max")


def test_valid_prediction_time_on_known_error():
    y = np.zeros((100, 2))
    p = np.zeros((100, 2))
    p[37:, 0] = 1.0  # e(t) = sqrt(mean((1/1)^2, 0)) = 0.707 > 0.4 from t = 37
    vpt = rc.valid_prediction_time(y, p, dt=0.02, lyapunov_time=1.104, sigma=np.ones(2))
    assert float(vpt) == pytest.approx(37 * 0.02 / 1.104)
    # below threshold everywhere: the full horizon
    assert float(rc.valid_prediction_time(y, p * 0.5, dt=0.02, lyapunov_time=1.104, sigma=np.ones(2))) == (
        pytest.approx(100 * 0.02 / 1.104)
    )
    # threshold configurable
    vpt = rc.valid_prediction_time(y, p, dt=0.02, lyapunov_time=1.104, sigma=np.ones(2), threshold=0.8)
    assert float(vpt) == pytest.approx(100 * 0.02 / 1.104)


def test_vpt_counts_nan_as_failure():
    y = np.sin(np.arange(50.0))[:, None]
    p = y.copy()
    p[10:] = np.nan
    assert float(rc.valid_prediction_time(y, p, dt=1.0, lyapunov_time=1.0)) == 10.0


def test_vpt_error_is_the_documented_formula():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(30, 3))
    p = y + rng.normal(size=(30, 3)) * 0.3
    s = y.std(0)
    np.testing.assert_allclose(rc.forecast_error(jnp.asarray(y), jnp.asarray(p), jnp.asarray(s)),
                               np.sqrt(np.mean(((p - y) / s) ** 2, axis=1)), rtol=1e-12)


@pytest.mark.parametrize("kw, name", [(dict(dt=0.0), "dt"), (dict(lyapunov_time=-1.0), "lyapunov_time"),
                                      (dict(threshold=0.0), "threshold")])
def test_vpt_rejects_bad_parameters(kw, name):
    args = dict(dt=0.1, lyapunov_time=1.0)
    args.update(kw)
    with pytest.raises(ValueError, match=f"`{name}`"):
        rc.valid_prediction_time(np.ones((5, 1)), np.ones((5, 1)), **args)


# ------------------------------------------------------------------ degenerate normalisers and `sigma` (issue 10)


@pytest.mark.parametrize("norm", ["std", "total", "range"])
def test_nrmse_on_a_constant_target_raises_instead_of_inf(norm):
    y = np.full((20, 1), 3.0)
    with pytest.raises(ValueError, match="`y_true` has zero .*constant target"):
        rc.nrmse(y, y + 0.1, norm=norm)


def test_nrmse_names_the_constant_output_among_several():
    y = np.stack([np.sin(np.arange(30.0)), np.full(30, 2.0)], axis=1)
    with pytest.raises(ValueError, match=r"output\(s\) \[1\]"):
        rc.nrmse(y, y)


def test_nrmse_on_a_single_sample_raises_unless_sigma_is_given():
    with pytest.raises(ValueError, match="`y_true` has a single time step"):
        rc.nrmse(np.array([[1.0, 2.0]]), np.array([[1.5, 2.0]]))
    # with a normaliser the single-sample error is defined: sqrt(mean(((1.5 - 1) / 2)^2, 0)) = 0.25 / sqrt(2)
    got = rc.nrmse(np.array([[1.0, 2.0]]), np.array([[1.5, 2.0]]), sigma=np.array([2.0, 1.0]))
    assert float(got) == pytest.approx(0.25 / np.sqrt(2), rel=1e-12)


def test_nrmse_with_sigma_matches_numpy():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(50, 3))
    p = y + 0.2 * rng.normal(size=y.shape)
    s = np.array([0.5, 2.0, 4.0])
    expected = np.sqrt(np.mean(((p - y) / s) ** 2))
    assert float(rc.nrmse(y, p, sigma=s)) == pytest.approx(expected, rel=1e-12)
    assert float(rc.nrmse(y, p, sigma=2.0)) == pytest.approx(np.sqrt(np.mean(((p - y) / 2.0) ** 2)), rel=1e-12)
    # a constant target is fine when the normaliser comes from elsewhere (e.g. the training data)
    c = np.full((10, 1), 1.0)
    assert float(rc.nrmse(c, c + 0.5, sigma=[0.25])) == pytest.approx(2.0)


@pytest.mark.parametrize("sigma", [[1.0, 0.0], [1.0, -2.0], [1.0, np.nan], [1.0, 1.0, 1.0], [1.0 + 1j, 1.0]])
def test_nrmse_rejects_a_bad_sigma(sigma):
    y = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="`sigma`"):
        rc.nrmse(y, y, sigma=np.asarray(sigma))


def test_nrmse_sigma_only_with_std_norm():
    y = np.arange(10.0)
    with pytest.raises(ValueError, match="`sigma`.*norm='total'"):
        rc.nrmse(y, y, norm="total", sigma=1.0)


def test_vpt_can_say_when_it_is_capped_at_the_horizon():
    y = np.zeros((100, 2))
    p = np.zeros((100, 2))
    p[37:, 0] = 1.0
    kw = dict(dt=0.02, lyapunov_time=1.104, sigma=np.ones(2))
    vpt, capped = rc.valid_prediction_time(y, p, return_capped=True, **kw)
    assert float(vpt) == pytest.approx(37 * 0.02 / 1.104) and not bool(capped)
    r = rc.valid_prediction_time(y, 0.5 * p, return_capped=True, **kw)
    assert bool(r.capped) and float(r.value) == pytest.approx(100 * 0.02 / 1.104)
    # the default return value is unchanged: the value alone
    plain = rc.valid_prediction_time(y, 0.5 * p, **kw)
    assert not isinstance(plain, tuple) and float(plain) == float(r.value)


def test_vpt_rejects_constant_truth_and_bad_sigma():
    y = np.ones((20, 1))
    with pytest.raises(ValueError, match="`y_true` has zero variance"):
        rc.valid_prediction_time(y, y, dt=0.1, lyapunov_time=1.0)
    assert float(rc.valid_prediction_time(y, y, dt=0.1, lyapunov_time=1.0, sigma=[1.0])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="`sigma`"):
        rc.valid_prediction_time(y, y, dt=0.1, lyapunov_time=1.0, sigma=[0.0])

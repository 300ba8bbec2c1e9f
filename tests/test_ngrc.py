"""The next-generation reservoir computer (NG-RC / NVAR, Gauthier et al. 2021): features, the increment readout,
the published Lorenz protocol, and the CLI entry."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physical
import reservoirs as rc
import tasks
from reservoirs._cli import main, run_forecast

X0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)  # Gauthier et al.'s initial condition
DT = 0.025
LYAP_PTS = round(1.104 / DT)


def _features_by_hand(history, k, s):
    """Gauthier et al.'s feature vector without the constant: the taps newest first, then x_i x_j for i <= j."""
    lin = np.concatenate([history[-1 - j * s] for j in range(k)])
    quad = [lin[i] * lin[j] for i in range(lin.size) for j in range(i, lin.size)]
    return np.concatenate([lin, quad])


@pytest.mark.parametrize("k, s", [(2, 1), (3, 2)])
def test_features_equal_the_hand_built_vector(k, s):
    u = np.asarray(jax.random.normal(jax.random.key(0), (12, 3)))
    ngrc = rc.NGRC(3, k, skip=s)
    assert ngrc.feature_size == 3 * k + 3 * k * (3 * k + 1) // 2 and ngrc.memory == (k - 1) * s + 1
    _, feats = rc.run(ngrc, u)
    for t in range(ngrc.memory - 1, 12):
        np.testing.assert_allclose(np.asarray(feats[t]), _features_by_hand(u[: t + 1], k, s), rtol=1e-12)


def test_degree_and_input_scaling():
    u = np.arange(1.0, 5.0)[:, None]
    lin = rc.NGRC(1, 2, degree=1)
    cubic = rc.NGRC(1, 2, degree=3, input_scaling=0.5)
    assert lin.feature_size == 2 and cubic.feature_size == 2 + 3 + 4
    _, f = rc.run(cubic, u)
    a, b = 0.5 * 4.0, 0.5 * 3.0  # newest tap first
    np.testing.assert_allclose(np.asarray(f[-1]), [a, b, a * a, a * b, b * b, a**3, a * a * b, a * b * b, b**3])


def _lorenz_rk23(warmup):
    """One window of the authors' data: scipy's RK23 at its default tolerances from X0, sampled every 0.025."""
    from scipy.integrate import solve_ivp

    def f(t, y):
        return [10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]]

    n = round((warmup + 10 + 1.104) / DT)
    t = np.linspace(0, warmup + 10 + 1.104, n + 1)
    return solve_ivp(f, (0, t[-1]), list(X0), t_eval=t, method="RK23").y.T


def _reference_ngrc(y, wp, tp, alpha, steps, increment=True):
    """A plain NumPy NG-RC: increments (or next values), an unpenalised intercept, the ridge by least squares."""
    iu = np.triu_indices(6)

    def feats(cur, prev):
        x = np.concatenate([cur, prev])
        return np.concatenate([x, np.outer(x, x)[iu]])

    F = np.array([feats(y[j], y[j - 1]) for j in range(wp - 1, wp + tp - 1)])
    D = y[wp : wp + tp] - increment * y[wp - 1 : wp + tp - 1]
    mu, dm = F.mean(0), D.mean(0)
    A = np.vstack([F - mu, np.sqrt(alpha) * np.eye(F.shape[1])])
    W = np.linalg.lstsq(A, np.vstack([D - dm, np.zeros((F.shape[1], 3))]), rcond=None)[0]
    b = dm - mu @ W
    cur, prev, out = y[wp + tp - 1], y[wp + tp - 2], []
    for _ in range(steps):
        cur, prev = increment * cur + feats(cur, prev) @ W + b, cur
        out.append(cur)
    return np.array(out)


def _window_fit(y, wp, tp, alpha, **kw):
    return rc.fit(rc.NGRC(3), y[wp - 2 : wp + tp - 1], y[wp - 1 : wp + tp], readout=rc.Ridge(alpha), washout=1, **kw)


def test_fit_and_forecast_equal_a_numpy_reference():
    y = np.asarray(tasks.lorenz(700, dt=DT, h=0.0025).values)
    model = _window_fit(y, 200, 400, 0.1)
    assert model.residual  # the NG-RC predicts increments by default
    out = np.asarray(rc.forecast(model, 40).outputs)
    ref = _reference_ngrc(y, 200, 400, 0.1, 40)
    np.testing.assert_allclose(out, ref, rtol=1e-7, atol=1e-7)
    # residual=False: the readout predicts the next value itself (the ridge then pulls towards zero)
    direct = _window_fit(y, 200, 400, 100.0, residual=False)
    assert not direct.residual
    ref = _reference_ngrc(y, 200, 400, 100.0, 10, increment=False)
    np.testing.assert_allclose(np.asarray(rc.forecast(direct, 10).outputs), ref, rtol=1e-7, atol=1e-7)
    assert not np.allclose(np.asarray(rc.forecast(_window_fit(y, 200, 400, 100.0), 10).outputs), ref, rtol=1e-3)


def test_gauthier_lorenz_protocol_reproduces_the_published_nrmse():
    # Gauthier et al. 2021 (Nat. Commun. 12:5564): test NRMSE over one Lyapunov time, normalised by the variance of
    # the whole window's data, 2.1e-3 +- 0.4e-3 (mean +- standard error) over warm-ups 5, 15, ..., 95.
    errors = []
    for warmup in np.arange(5.0, 105.0, 10.0):
        y = _lorenz_rk23(warmup)
        wp, tp = round(warmup / DT), round(10 / DT)
        model = _window_fit(y, wp, tp, 2.5e-6)
        pred = np.vstack([y[wp + tp - 1][None], np.asarray(rc.forecast(model, LYAP_PTS - 1).outputs)])
        errors.append(np.sqrt(np.mean((y[wp + tp - 1 : wp + tp - 1 + LYAP_PTS] - pred) ** 2) / np.var(y)))
        if warmup == 5.0:  # and the same numbers as a NumPy reference of their fit
            np.testing.assert_allclose(pred[1:], _reference_ngrc(y, wp, tp, 2.5e-6, LYAP_PTS - 1), rtol=1e-6)
    mean, sem = np.mean(errors), np.std(errors) / np.sqrt(len(errors))
    assert 1.7e-3 <= mean <= 2.5e-3 and sem < 0.8e-3, (mean, sem)


def test_residual_argument_is_validated_and_saved(tmp_path):
    y = np.asarray(tasks.lorenz(300, dt=DT, h=0.0025).values)
    with pytest.raises(ValueError, match="residual"):
        rc.fit(rc.NGRC(3), y[:-1], y[1:, :1], residual=True)
    # an ESN can train on increments too, by request
    esn = rc.ESN(3, 30, key=jax.random.key(0), input_scaling=0.05)
    m = rc.fit(esn, y[:-1], y[1:], residual=True, washout=20)
    assert m.residual and not rc.fit(esn, y[:-1], y[1:], washout=20).residual
    np.testing.assert_allclose(np.asarray(m.last_output), y[-1])
    np.testing.assert_allclose(np.asarray(m.target_mean), y[21:].mean(0), rtol=1e-12)
    model = _window_fit(y, 50, 200, 0.1)
    rc.save_model(tmp_path / "ngrc.rc", model)
    back = rc.load_model(tmp_path / "ngrc.rc")
    assert back.residual
    np.testing.assert_array_equal(np.asarray(rc.forecast(back, 20).outputs), np.asarray(rc.forecast(model, 20).outputs))


def test_bad_arguments_name_themselves():
    for kwargs, name in [(dict(in_size=0), "in_size"), (dict(in_size=1, delays=0), "delays"),
                         (dict(in_size=1, skip=0), "skip"), (dict(in_size=1, degree=4), "degree"),
                         (dict(in_size=1, input_scaling=-1.0), "input_scaling"),
                         (dict(in_size=1, dtype=jnp.int32), "dtype")]:
        with pytest.raises(ValueError, match=name):
            rc.NGRC(**kwargs)


def test_no_gain_to_sweep_and_an_energy_estimate(capsys):
    x = np.sin(np.arange(300) / 5.0)
    with pytest.raises(ValueError, match="cannot be swept"):
        rc.sweep(rc.NGRC(1), x[:-1], x[1:], gains=[0.5, 1.0], progress=False)
    result = rc.sweep(rc.NGRC(1), x[:-1], x[1:], params={"input_scaling": [0.5, 1.0]}, progress=False,
                      lyapunov=False)
    assert len(result.nrmse) == 2
    assert main(["sweep", "--substrate", "ngrc"]) == 2
    assert "no gain to sweep" in capsys.readouterr().err
    report = physical.energy_per_step(rc.NGRC(3))
    assert 0 < report.joules < report.baseline_joules


def test_cli_lorenz_preset_is_the_ngrc_protocol(capsys):
    assert main(["forecast", "--task", "lorenz", "--substrate", "ngrc", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["substrate"] == "ngrc" and d["units"] == 2 and not d["diverged"]
    assert d["vpt"] >= 3 and d["nrmse"] < 0.02 and not d["vpt_capped"]
    r = run_forecast("lorenz", substrate="ngrc", seed=0, horizon=50)
    assert r["train_samples"] == 401 and r["dt"] == DT

"""`reservoirs.tune`: gradients through the whole fit against finite differences, gradient and random search,
diverging configurations, bad settings, and the CLI's `tune`."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import reservoirs as rc
import tasks
from reservoirs._cli import TUNE_JSON_KEYS, main
from reservoirs._tune import alpha_to_free, constraint_of, make_loss


@pytest.fixture(scope="module")
def mg():
    x = np.asarray(tasks.mackey_glass(801, key=jax.random.key(0)).values)
    return (x - x.mean()) / x.std()


def _esn(**kw):
    return rc.ESN(1, 30, key=jax.random.key(1), **({"gain": 0.9, "leak": 0.5, "input_scaling": 0.5} | kw))


def _loss(esn, z, solver="auto", horizon=1):
    names = ("gain", "leak")
    cons = {n: constraint_of(esn, n) for n in names}
    data = (jnp.asarray(z[:599]), jnp.asarray(z[1:600]), jnp.asarray(z[600:-1]), jnp.asarray(z[601:]))
    loss = make_loss(esn, names, cons, data, washout=50, horizon=horizon, stride=20, passthrough=False,
                     solver=solver, key=None, fixed_alpha=None)
    free = {"gain": jnp.log(0.9), "leak": jnp.log(0.5 / 0.5), "alpha": alpha_to_free(1e-6)}
    return loss, free


@pytest.mark.parametrize("horizon", [1, 10])
def test_gradient_matches_finite_differences(mg, horizon):
    loss, free = _loss(_esn(), mg, horizon=horizon)
    grad = jax.jit(jax.grad(loss))(free)
    loss = jax.jit(loss)
    for name in ("gain", "leak", "alpha"):  # 4-point central differences in the free coordinates (log gain, ...)
        h = 1e-3
        f = [float(loss(free | {name: free[name] + k * h})) for k in (-2, -1, 1, 2)]
        fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)
        assert float(grad[name]) == pytest.approx(fd, rel=1e-4, abs=1e-9), name


def test_qr_solver_is_differentiable_and_agrees_with_gram(mg):
    gram, free = _loss(_esn(), mg, solver="gram")
    qr, _ = _loss(_esn(), mg, solver="qr")
    g1, g2 = jax.jit(jax.grad(gram))(free), jax.jit(jax.grad(qr))(free)
    for name in free:
        assert float(g2[name]) == pytest.approx(float(g1[name]), rel=1e-5), name


def test_constraints_by_reparameterisation():
    esn = _esn()
    gain, leak, scale = (constraint_of(esn, n) for n in ("gain", "leak", "input_scaling"))
    assert gain.kind == "positive" and leak.kind == "interval" and (leak.low, leak.high) == (0.0, 1.0)
    for c, v in ((gain, 1.3), (leak, 0.4), (scale, 0.0)):
        back = float(c.to_value(c.to_free(v)))
        assert back == pytest.approx(max(v, 1e-2), rel=1e-12)
    assert 0 < float(leak.to_value(40.0)) <= 1 and 0 < float(leak.to_value(-40.0)) < 1e-12
    assert float(leak.to_value(leak.to_free(1.0))) == pytest.approx(0.999)  # a closed end: just inside


def test_gradient_tuning_improves_and_reports_what_it_found(mg):
    esn = _esn(gain=1.3, leak=0.9)
    r = rc.tune(esn, mg[:-1], mg[1:], params=("gain", "leak"), steps=15, washout=50, progress=False,
                optimizer=optax.adam(0.1))
    assert r.method == "gradient" and r.evaluations == 16 and r.history.shape == (16, 1)
    assert r.initial == {"gain": pytest.approx(1.3), "leak": pytest.approx(0.9), "alpha": 1e-6}
    assert r.validation_nrmse < 0.5 * r.initial_nrmse
    assert np.all(np.diff(r.best_so_far()) <= 0)
    # the tuned reservoir and readout reproduce the reported validation loss
    assert float(r.reservoir.gain) == pytest.approx(r.params["gain"]) and r.readout.alpha == pytest.approx(
        r.params["alpha"])
    n_tr = 800 - 200
    model = rc.fit(r.reservoir, mg[:n_tr], mg[1 : n_tr + 1], readout=r.readout, washout=50)
    pred, _ = rc.predict(model, mg[n_tr:-1])
    assert float(rc.nrmse(mg[n_tr + 1 :], pred)) == pytest.approx(r.validation_nrmse, rel=1e-6)


def test_population_marks_diverging_restarts_and_random_search(mg):
    lin = _esn(activation="identity", gain=0.95, leak=1.0, input_scaling=0.1)
    r = rc.tune(lin, mg[:-1], mg[1:], params=("gain",), steps=3, restarts=6, spread=3.0,
                key=jax.random.key(0), washout=50, progress=False)
    # this key starts restarts at gains 0.01, 70, 6.2, 1.7 and 2.0: a linear reservoir at gain 70 or 6.2 overflows
    assert r.history.shape == (4, 6) and r.diverged.any() and not r.diverged[0]
    assert np.isfinite(r.validation_nrmse) and r.params["gain"] < 1.0
    rnd = rc.tune(_esn(), mg[:-1], mg[1:], method="random", population=10, batch_size=4, key=jax.random.key(4),
                  washout=50, progress=False)
    assert rnd.history.shape == (10,) and rnd.evaluations == 10
    assert rnd.history[0] == pytest.approx(rnd.initial_nrmse) and rnd.validation_nrmse <= rnd.initial_nrmse
    again = rc.tune(_esn(), mg[:-1], mg[1:], method="random", population=10, batch_size=4,
                    key=jax.random.key(4), washout=50, progress=False)
    np.testing.assert_array_equal(again.history, rnd.history)  # same key, same numbers


def test_bad_settings_raise_named_errors(mg):
    esn = _esn()
    u, y = mg[:-1], mg[1:]
    cases = [
        (dict(method="newton"), "method"),
        (dict(params=("leek",)), "params"),
        (dict(params=("alpha",)), "params"),
        (dict(validation=1.5), "validation"),
        (dict(restarts=3), "key"),
        (dict(steps=0), "steps"),
        (dict(spread=-1.0), "spread"),
        (dict(optimizer=optax.adam), "optimizer"),
        (dict(horizon=500), "too little data"),
        (dict(params=(), tune_alpha=False), "nothing to tune"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            rc.tune(esn, u, y, progress=False, **kwargs)
    lsm = rc.LSM(1, key=jax.random.key(0), background_current=13.5, background_spread=0.0, noise=0.0)
    with pytest.raises(ValueError, match="method='random'"):
        rc.tune(lsm, u, y, progress=False)
    bad = np.array(u)
    bad[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rc.tune(esn, bad, y, progress=False)


def test_cli_tune_json(capsys):
    argv = ["tune", "--task", "henon", "--units", "20", "--steps", "3", "--restarts", "2", "--json"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert tuple(d) == TUNE_JSON_KEYS and d["method"] == "gradient" and d["evaluations"] == 8
    assert set(d["params"]) == {"gain", "leak", "input_scaling", "bias_scaling", "alpha"}
    assert d["validation_nrmse"] <= d["default_validation_nrmse"] and d["test_nrmse"] > 0
    assert d["default_params"]["gain"] == rc.registry()["esn"].defaults("henon")[1]


def test_spiking_reservoir_tunes_by_random_population(mg):
    lsm = rc.LSM(1, key=jax.random.key(0), background_current=13.5, background_spread=0.0, noise=0.0)
    r = rc.tune(lsm, mg[:400], mg[1:401], method="random", population=2, batch_size=2, key=jax.random.key(1),
                washout=50, progress=False)
    assert set(r.params) == {"gain", "input_scaling", "alpha"} and r.history.shape == (2,)
    assert r.validation_nrmse == pytest.approx(float(np.nanmin(r.history)))

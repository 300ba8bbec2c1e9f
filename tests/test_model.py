"""fit / predict / forecast: NumPy references, closed-loop semantics, divergence, save/load, vmap/jit parity."""

import subprocess
import sys
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc


@pytest.fixture(scope="module")
def series():
    t = np.arange(2400.0)
    return jnp.asarray(np.sin(t / 11) + 0.5 * np.sin(t / 5.3))


@pytest.fixture(scope="module")
def esn():
    return rc.ESN(1, 60, key=jax.random.key(0), leak=0.3, gain=1.0, bias_scaling=0.5, input_scaling=0.5)


@pytest.fixture(scope="module")
def model(esn, series):
    return rc.fit(esn, series[:1500], series[1:1501], washout=100, readout=rc.Ridge(1e-8))


def np_readout(m, x, u):
    return np.asarray(m.readout.weights) @ np.asarray(x) + np.asarray(m.readout.bias)


def test_one_step_prediction_is_accurate(model, series):
    y, m2 = rc.predict(model, series[1500:2000])
    assert float(rc.nrmse(series[1501:2001], y)) < 1e-2
    assert m2.last_output.shape == (1,)
    np.testing.assert_array_equal(m2.last_output, y[-1])


@pytest.mark.parametrize("read_bytes", [None, 0])  # None: one matrix-matrix readout after the scan; 0: per step
def test_predict_matches_numpy_states_and_readout(esn, series, read_bytes, monkeypatch):
    """`predict` = the NumPy ESN driven with the standardised inputs, read out with [x, u] and mapped back to data
    units, whether the readout runs once over the kept features or at every step."""
    from test_esn import np_step

    from reservoirs import _model

    if read_bytes is not None:
        monkeypatch.setattr(_model, "READOUT_BYTES", read_bytes)
        jax.clear_caches()  # `READOUT_BYTES` is read when `predict` is traced
    x = 2.0 + 5.0 * series
    m = rc.fit(esn, x[:800], x[1:801], washout=100, readout=rc.Ridge(1e-8, input_passthrough=True), standardize=True)
    y, m2 = rc.predict(m, x[800:1000])
    mu, sd = float(m.input_scaler.mean[0]), float(m.input_scaler.std[0])
    state, ref = np.asarray(m.state), []
    for u in np.asarray(x[800:1000]):
        v = np.array([(u - mu) / sd])
        state = np_step(esn, state, v)
        z = np.concatenate([state, v])
        ref.append(np_readout(m, z, v) * np.asarray(m.output_scaler.std) + np.asarray(m.output_scaler.mean))
    np.testing.assert_allclose(y, np.array(ref), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m2.state, state, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(m2.last_output, y[-1])


def test_forecast_continues_after_last_target(model, series, esn):
    # After fit on x[0:1500] -> x[1:1501], the closed loop feeds x[1500] and predicts x[1501], x[1502], ...
    res = rc.forecast(model, 50)
    assert not bool(res.diverged) and int(res.diverged_at) == -1
    # the first output predicts x[1501], not x[1500] (which differ by > 0.05)
    assert abs(float(res.outputs[0, 0] - series[1501])) < 2e-3 < 0.05 < abs(float(series[1501] - series[1500]))
    np.testing.assert_allclose(res.outputs[:, 0], series[1501:1551], atol=0.03)
    # NumPy reference of the same closed loop.
    x = np.asarray(model.state)
    y = float(model.last_output[0])
    ref = []
    for _ in range(50):
        from test_esn import np_step

        x = np_step(esn, x, np.array([y]))
        y = float(np_readout(model, x, None)[0])
        ref.append(y)
    np.testing.assert_allclose(res.outputs[:, 0], ref, rtol=1e-9, atol=1e-11)


def test_forecast_continues_where_predict_stopped(model, series):
    y, m2 = rc.predict(model, series[1500:1700])
    a = rc.forecast(m2, 10).outputs
    # the same as one longer teacher-forced run followed by feeding back the last prediction
    np.testing.assert_allclose(a[0, 0], rc.predict(m2, y[-1:])[0][0, 0], rtol=1e-12)


def test_warmup_is_teacher_forcing_then_closed_loop(model, series):
    w = series[1700:1901]
    res = rc.forecast(model.reset(), 30, warmup=w)
    _, m = rc.predict(model.reset(), w[:-1])
    manual = rc.forecast(m.with_last_output(w[-1]), 30)
    np.testing.assert_allclose(res.outputs, manual.outputs, rtol=1e-12)
    np.testing.assert_allclose(res.outputs[:, 0], series[1901:1931], atol=0.03)


def test_diverging_forecast_is_reported_not_silent(model):
    bad = eqx.tree_at(lambda m: m.readout.weights, model, model.readout.weights * 1e4)
    with pytest.warns(RuntimeWarning, match="diverged at step"):
        res = rc.forecast(bad, 40)
    assert bool(res.diverged)
    k = int(res.diverged_at)
    assert 0 <= k < 40
    assert bool(jnp.all(jnp.isnan(res.outputs[k:])))
    assert bool(jnp.all(jnp.isfinite(res.outputs[:k])))
    assert bool(jnp.all(jnp.isfinite(res.model.state)))


def test_stable_forecast_gives_no_warning(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rc.forecast(model, 20)


def test_save_load_roundtrip(tmp_path, model):
    p = tmp_path / "m.eqx"
    rc.save_model(p, model)
    loaded = rc.load_model(p)
    for a, b in zip(jax.tree.leaves(model), jax.tree.leaves(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(rc.forecast(loaded, 25).outputs, rc.forecast(model, 25).outputs)
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a valid reservoirs model file"):
        rc.load_model(tmp_path / "junk")
    with pytest.raises(ValueError, match="`path`.*does not exist"):
        rc.load_model(tmp_path / "missing.eqx")


def test_corrupted_model_files_are_refused(tmp_path, model):
    p = tmp_path / "m.eqx"
    rc.save_model(p, model)
    data = p.read_bytes()
    (tmp_path / "short").write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match="not a valid reservoirs model file.*truncated"):
        rc.load_model(tmp_path / "short")
    flipped = bytearray(data)
    flipped[-50] ^= 0xFF  # one byte of the readout weights
    (tmp_path / "flip").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a valid reservoirs model file.*checksum"):
        rc.load_model(tmp_path / "flip")
    # a well-formed file whose payload is another class
    import hashlib
    import json
    import pickle

    header = pickle.dumps({"not": "a model"})
    payload = len(header).to_bytes(8, "little") + header
    meta = json.dumps({"x64": True, "payload_bytes": len(payload),
                       "sha256": hashlib.sha256(payload).hexdigest()}).encode()
    (tmp_path / "other").write_bytes(b"reservoirs-model-v2\n" + len(meta).to_bytes(8, "little") + meta + payload)
    with pytest.raises(ValueError, match="not a valid reservoirs model file.*dict, not a reservoirs Model"):
        rc.load_model(tmp_path / "other")


def test_standardize_round_trips_data_units(esn, series):
    """Training in standard units gives the same fit as training on pre-standardised data, in data units."""
    x = 3.0 + 40.0 * series
    m = rc.fit(esn, x[:1500], x[1:1501], washout=100, readout=rc.Ridge(1e-8), standardize=True)
    mu, sd = float(jnp.mean(x[100:1500])), float(jnp.std(x[100:1500]))
    assert m.input_scaler is not None and np.allclose(m.input_scaler.mean, mu)
    z = (x - mu) / sd
    ref = rc.fit(esn, z[:1500], (x[1:1501] - m.output_scaler.mean) / m.output_scaler.std, washout=100,
                 readout=rc.Ridge(1e-8))
    y, _ = rc.predict(m, x[1500:1600])
    y_ref, _ = rc.predict(ref, z[1500:1600])
    np.testing.assert_allclose(y, m.output_scaler.inverse(y_ref), rtol=1e-9, atol=1e-9)
    assert float(rc.nrmse(x[1501:1601], y)) < 1e-2
    f = rc.forecast(m, 50)
    assert not bool(f.diverged) and abs(float(jnp.mean(f.outputs)) - 3.0) < 40.0
    # the default follows the reservoir: an ESN is not standardised
    assert rc.fit(esn, x[:500], x[1:501], washout=100).input_scaler is None


def test_fit_reports_a_diverging_reservoir(series):
    lin = rc.ESN(1, 20, key=jax.random.key(0), gain=1.5, activation="identity", leak=1.0)
    with pytest.raises(ValueError, match="diverged during `fit`.*gain=1.5"):
        rc.fit(lin, 10 * series[:1500], series[1:1501], washout=10)


@pytest.mark.filterwarnings("ignore::reservoirs.AlphaGridEdgeWarning")  # the grid is not what is tested here
def test_save_load_sparse_and_cv(tmp_path, series):
    esn = rc.ESN(1, 40, key=jax.random.key(3), connectivity=0.1, sparse=True)
    m = rc.fit(esn, series[:800], series[1:801], readout=rc.RidgeCV(np.logspace(-8, 0, 5)), washout=50)
    rc.save_model(tmp_path / "s.eqx", m)
    loaded = rc.load_model(tmp_path / "s.eqx")
    assert isinstance(loaded.reservoir.W, rc.EllMatrix)
    np.testing.assert_array_equal(loaded.readout.path.errors, m.readout.path.errors)


def test_fit_is_deterministic(esn, series):
    a = rc.fit(esn, series[:600], series[1:601])
    b = rc.fit(esn, series[:600], series[1:601])
    np.testing.assert_array_equal(a.readout.weights, b.readout.weights)


def test_jit_and_vmap_parity(esn, series):
    x, y = series[:500], series[1:501]
    # alpha 1e-3 keeps the solve well conditioned, so batched and unbatched BLAS agree to rounding
    eager = rc.fit(esn, x, y, washout=50, readout=rc.Ridge(1e-3))
    jitted = jax.jit(lambda e: rc.fit(e, x, y, washout=50, readout=rc.Ridge(1e-3)))(esn)
    np.testing.assert_allclose(jitted.readout.weights, eager.readout.weights, rtol=1e-10)

    gains = jnp.array([0.6, 0.9, 1.2])

    def weights(g):
        e = eqx.tree_at(lambda e: e.gain, esn, g)
        return rc.fit(e, x, y, washout=50, readout=rc.Ridge(1e-3)).readout.weights

    batched = jax.vmap(weights)(gains)
    for i, g in enumerate(gains):
        np.testing.assert_allclose(batched[i], weights(g), rtol=1e-8, atol=1e-10)


def test_output_feedback_teacher_forcing_matches_numpy(series):
    from test_esn import np_step

    esn = rc.ESN(0, 30, key=jax.random.key(4), feedback_size=1, leak=0.7, gain=0.8, bias_scaling=0.3)
    y = series[:600, None]
    m = rc.fit(esn, None, y, washout=50, readout=rc.Ridge(1e-8))
    # NumPy: drive with the previous target fed back (0 at t = 0), then ridge on the states.
    x = np.zeros(30)
    X = []
    prev = 0.0
    for t in range(600):
        x = np_step(esn, x, np.array([prev]))
        X.append(x)
        prev = float(y[t, 0])
    X = np.array(X)[50:]
    from test_ridge import np_ridge

    W, b = np_ridge(X, np.asarray(y)[50:], 1e-8)
    np.testing.assert_allclose(m.readout.weights.T, W, rtol=1e-5, atol=1e-7)
    res = rc.forecast(m, 20)  # the feedback loop runs on its own outputs
    np.testing.assert_allclose(res.outputs[:3, 0], series[600:603], atol=0.02)
    with pytest.raises(ValueError, match="no external input"):
        rc.predict(m, series[:10])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(inputs=np.full((100, 1), np.nan)), "`inputs` contains NaN"),
        (dict(targets=np.concatenate([np.ones((99, 1)), [[np.inf]]])), "`targets` contains NaN or inf"),
        (dict(inputs=np.ones((100, 2))), "`inputs` must have shape"),
        (dict(inputs=np.ones((100, 1, 1, 1))), "`inputs` must have shape"),
        (dict(targets=np.ones((90, 1))), "same length"),
        (dict(washout=100), "`washout` must be <"),
        (dict(washout=-1), "`washout`"),
        (dict(chunk_size=0), "`chunk_size`"),
    ],
)
def test_fit_rejects_bad_input(esn, kwargs, match):
    args = dict(inputs=np.ones((100, 1)), targets=np.ones((100, 1)), washout=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        rc.fit(esn, args.pop("inputs"), args.pop("targets"), **args)


def test_wrong_object_types_raise_value_error_for_users():
    # The test session type-checks every call with jaxtyping (TypeCheckError comes first); users without the
    # checker must get the library's own ValueError naming the argument, so check that in a plain interpreter.
    code = """
import numpy as np, jax, reservoirs as rc
esn = rc.ESN(1, 5, key=jax.random.key(0))
for call in (lambda: rc.fit("esn", np.ones((10, 1)), np.ones((10, 1))),
             lambda: rc.fit(esn, np.ones((10, 1)), np.ones((10, 1)), readout="ridge"),
             lambda: rc.forecast("model", 5), lambda: rc.predict(None, np.ones(3))):
    try:
        call()
    except ValueError as e:
        print(str(e).split()[0])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["`reservoir`", "`readout`", "`model`", "`model`"], out.stderr


def test_predict_and_forecast_reject_bad_input(model):
    with pytest.raises(ValueError, match="`inputs` contains NaN"):
        rc.predict(model, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="`n_steps`"):
        rc.forecast(model, 0)
    with pytest.raises(ValueError, match="`warmup`"):
        rc.forecast(model, 5, warmup=np.ones((1, 1)))
    with pytest.raises(ValueError, match="`divergence_threshold`"):
        rc.forecast(model, 5, divergence_threshold=-1.0)


@pytest.mark.filterwarnings("ignore::reservoirs.AlphaGridEdgeWarning")  # the grid is not what is tested here
@pytest.mark.parametrize("readout, washout, length", [
    (rc.Ridge(1e-6), 100, 1000),  # washout, then 900 steps: 4 blocks of 225
    (rc.Ridge(1e-6), 0, 611),  # a prime length: a padded last block
    (rc.RidgeCV(jnp.logspace(-8, -2, 4), folds=3), 37, 700),  # three validation folds
])
def test_fit_compiles_the_reservoir_step_once(readout, washout, length, monkeypatch):
    # Each separate scan over the reservoir (washout, remainder, one per validation fold) compiled the step again
    # (0.3-0.5 s each); now one scan drives them all. Traced: the dtype probe and the scan body, nothing else.
    from reservoirs._model import _fit_core

    esn = rc.ESN(1, 20, key=jax.random.key(0))
    x = jnp.sin(jnp.arange(length + 1.0) / 5)[:, None]
    calls = []
    step = rc.ESN.step
    monkeypatch.setattr(rc.ESN, "step", lambda self, *a, **k: calls.append(1) or step(self, *a, **k))
    eqx.filter_eval_shape(_fit_core, esn, readout, x[:-1], x[:-1], x[1:], esn.init_state(), None, washout, 256)
    assert len(calls) == 2
    # and the fit is the one of the materialised states (washout dropped, every fold)
    monkeypatch.undo()
    model = rc.fit(esn, x[:-1], x[1:], readout=readout, washout=washout, chunk_size=256)
    _, states = rc.run(esn, x[:-1])
    X, Y = np.asarray(states[washout:]), np.asarray(x[1:][washout:])
    alpha = float(model.readout.alpha)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)
    fitted = X @ np.asarray(model.readout.weights).T + np.asarray(model.readout.bias)
    np.testing.assert_allclose(fitted, Xc @ W + Y.mean(0), atol=1e-9)  # the weights themselves: to 2e-6 (cond.)

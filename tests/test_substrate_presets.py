"""The registered memristor and photonic presets: valid reservoirs for every task, and a working closed loop.

The forecast checks are a short version of the CLI's Mackey-Glass protocol (standardised series, one-step targets,
closed loop from the end of training). They fail for the presets the CLI had before (VPT ~0.1 Lyapunov times, or
a diverging loop).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physical
import reservoirs as rc
import tasks
from physical._memristor import MEMRISTOR_PRESETS
from physical._photonic import PHOTONIC_PRESETS
from reservoirs._registry import CLASSIFY_TASKS, FORECAST_TASKS

ALL_TASKS = FORECAST_TASKS + CLASSIFY_TASKS
IN_SIZE = {"lorenz": 3, "rossler": 3}


def test_entries_are_registered_with_defaults_for_every_task():
    reg = rc.registry()
    for name in ("memristor", "photonic"):
        entry = reg[name]
        assert set(entry.task_defaults) == set(ALL_TASKS)
        lo, hi = entry.sweep_gains
        for task in ALL_TASKS:
            units, gain = entry.defaults(task)
            assert units >= 1 and lo <= gain <= hi, (name, task, units, gain)
        assert entry.forecasts and entry.description
    assert reg["memristor"].min_gain == 0.0  # g = 0: Zhong et al.'s feed-forward reservoir
    assert reg["memristor"].defaults("mackey-glass") == (200, MEMRISTOR_PRESETS["mackey-glass"]["gain"])
    # the readout the memristor's Mackey-Glass preset was chosen with, for the CLI to use
    assert reg["memristor"].task_defaults["mackey-glass"]["passthrough"] is True


@pytest.mark.parametrize("name", ["memristor", "photonic"])
def test_builds_are_valid_reservoirs_for_every_task(name):
    entry = rc.registry()[name]
    u = jax.random.normal(jax.random.key(3), (40, 3))
    for task in ALL_TASKS:
        n_in = IN_SIZE.get(task, 1)
        _, gain = entry.defaults(task)
        res = entry.build(n_in, 6, gain, key=jax.random.key(0), task=task)
        cls = physical.MemristorCrossbar if name == "memristor" else physical.PhotonicDelay
        assert isinstance(res, cls) and isinstance(res, rc.AbstractReservoir) and res.in_size == n_in
        assert float(res.gain) == pytest.approx(gain)
        presets = MEMRISTOR_PRESETS if name == "memristor" else PHOTONIC_PRESETS
        assert float(res.input_scaling) == pytest.approx(presets[task]["input_scaling"])
        if name == "memristor":
            assert res.n_nodes == 6 and res.v_max == presets[task]["v_max"]
        else:
            assert res.n_virtual == 6 and res.desync == 5 and res.nonlinearity == "ikeda"  # desync < units
        _, feats = rc.run(res, u[:, :n_in])
        assert feats.shape == (40, res.feature_size) and bool(jnp.all(jnp.isfinite(feats)))
        assert float(jnp.std(feats[10:])) > 0  # the input reaches the features
        # same key, same reservoir, bit for bit
        again = entry.build(n_in, 6, gain, key=jax.random.key(0), task=task)
        np.testing.assert_array_equal(np.asarray(rc.run(again, u[:, :n_in])[1]), np.asarray(feats))


@pytest.mark.parametrize("name", ["memristor", "photonic"])
def test_build_rejects_bad_arguments_naming_them(name):
    build = rc.registry()[name].build
    with pytest.raises(ValueError, match="task"):
        build(1, 5, 0.01, key=jax.random.key(0), task="narma")
    with pytest.raises(ValueError, match="gain"):
        build(1, 5, -0.1, key=jax.random.key(0), task="mackey-glass")
    with pytest.raises(ValueError, match="n_nodes" if name == "memristor" else "n_virtual"):
        build(1, 0, 0.01, key=jax.random.key(0), task="mackey-glass")


def _mg_closed_loop(make, passthrough, seed=0, n_train=4000, horizon=250, alpha=1e-9):
    """The CLI's Mackey-Glass protocol, with a shorter horizon; returns (VPT in Lyapunov times, diverged, pred)."""
    k_data, k_res = jax.random.split(jax.random.key(seed))
    series = tasks.mackey_glass(n_train + 1 + horizon, key=k_data)
    v = series.values
    train, test = v[: n_train + 1], v[n_train + 1 :]
    mu, sd = train.mean(0), train.std(0)
    z = (train - mu) / sd
    model = rc.fit(make(k_res), z[:-1], z[1:], readout=rc.Ridge(alpha, input_passthrough=passthrough), washout=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = rc.forecast(model, horizon)
    pred = out.outputs * sd + mu
    vpt = float(rc.valid_prediction_time(test, pred, dt=series.dt, lyapunov_time=series.lyapunov_time,
                                         sigma=train.std(0)))
    return vpt, bool(out.diverged), pred


def test_memristor_preset_forecasts_mackey_glass():
    entry = rc.registry()["memristor"]
    units, gain = entry.defaults("mackey-glass")
    vpt, diverged, pred = _mg_closed_loop(
        lambda k: entry.build(1, units, gain, key=k, task="mackey-glass"), passthrough=True,
        alpha=entry.task_defaults["mackey-glass"]["alpha"])
    assert not diverged and bool(jnp.all(jnp.isfinite(pred)))
    assert vpt > 1.0, vpt  # the old 2.5 V preset: ~0.1; the 50-node low-voltage one: 0.99 on this seed


def test_photonic_preset_forecasts_mackey_glass():
    entry = rc.registry()["photonic"]
    _, gain = entry.defaults("mackey-glass")
    vpt, diverged, pred = _mg_closed_loop(
        lambda k: entry.build(1, 150, gain, key=k, task="mackey-glass"), passthrough=False)
    assert not diverged and bool(jnp.all(jnp.isfinite(pred)))
    assert vpt > 0.5, vpt  # the old preset (gain 0.5): ~0.2, often diverging


def test_preset_is_the_library_one_line_swap():
    key = jax.random.key(0)
    res, readout, units, gain, washout = rc.preset("memristor", key=key)
    assert isinstance(res, physical.MemristorCrossbar) and (units, gain) == rc.registry()["memristor"].defaults(
        "mackey-glass")
    assert res.v_max == MEMRISTOR_PRESETS["mackey-glass"]["v_max"] and res.standardize_inputs
    assert isinstance(readout, rc.Ridge) and readout.input_passthrough and washout == 500
    res3, *_ = rc.preset("photonic", key=key, task="lorenz", units=20)
    assert res3.in_size == 3 and res3.n_virtual == 20
    cls_res, cls_readout, *_ = rc.preset("esn", key=key, task="xor")
    assert cls_res.in_size == 2 and cls_readout is None
    with pytest.raises(ValueError, match="`substrate` must be one of"):
        rc.preset("abacus", key=key)
    with pytest.raises(ValueError, match="`task` must be one of"):
        rc.preset("esn", key=key, task="weather")
    with pytest.raises(ValueError, match="`gain` must be >= 0"):
        rc.preset("memristor", key=key, gain=-1.0)
    with pytest.raises(ValueError, match="`units` must be an integer >= 1"):
        rc.preset("esn", key=key, units=0)


def test_every_registered_reservoir_declares_its_feature_size():
    """`fit` and `predict` size the parallel-in-time decision from `feature_size` without tracing the features."""
    for name in rc.registry():
        res = rc.preset(name, key=jax.random.key(0)).reservoir
        shape = jax.eval_shape(res.features, res.init_state()).shape
        assert shape == (res.feature_size,), (name, shape, res.feature_size)

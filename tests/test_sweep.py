"""Sweeps: parity with single fits, shared weights, divergence reporting, grids, sharding, export."""

import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reservoirs as rc
from reservoirs._ridge import AlphaGridEdgeWarning


@pytest.fixture(scope="module")
def task():
    t = np.arange(1500.0)
    x = np.sin(t / 9) * np.cos(t / 23) + 0.3 * np.sin(t / 4.1)
    return jnp.asarray(x[:-1, None]), jnp.asarray(x[1:, None])


@pytest.fixture(scope="module")
def esn():
    return rc.ESN(1, 40, key=jax.random.key(0), leak=0.5, bias_scaling=0.2)


@pytest.fixture(scope="module")
def result(esn, task):
    return rc.sweep(esn, *task, gains=jnp.linspace(0.2, 3.0, 8), memory_capacity=True, washout=100,
                    batch_size=3, progress=False)


def test_sweep_matches_individual_fits(esn, task, result):
    u, y = task
    n_train = result.info["n_train"]
    for i in (0, 5):
        g = result.params["gain"][i]
        e = eqx.tree_at(lambda e: e.gain, esn, jnp.asarray(g))
        m = rc.fit(e, u[:n_train], y[:n_train], washout=100)
        pred, _ = rc.predict(m, u[n_train:])
        assert result.nrmse[i] == pytest.approx(float(rc.nrmse(y[n_train:], pred)), rel=1e-6)
        lam = float(rc.lyapunov_spectrum(e, u[:n_train], washout=100)[0])
        assert result.lyapunov[i] == pytest.approx(lam, rel=1e-6, abs=1e-9)
    assert result.lyapunov[0] < 0 < result.lyapunov[-1]


def test_edge_of_chaos_is_the_interpolated_zero_crossing(result):
    g, lam = result.params["gain"], result.lyapunov
    i = int(np.flatnonzero((lam[:-1] < 0) & (lam[1:] >= 0))[0])
    expected = g[i] - lam[i] * (g[i + 1] - g[i]) / (lam[i + 1] - lam[i])
    assert result.edge_of_chaos() == pytest.approx(expected)
    assert g[i] <= result.edge_of_chaos() <= g[i + 1]


def test_best_and_exports(result, tmp_path):
    best = result.best_index
    assert best is not None and result.nrmse[best] == np.nanmin(result.nrmse)
    assert result.best_gain == result.params["gain"][best]
    d = json.loads(result.to_json(tmp_path / "s.json"))
    assert set(d) >= {"gain", "lyapunov", "memory_capacity", "nrmse", "edge_of_chaos", "best_gain"}
    assert len(d["gain"]) == 8
    csv = result.to_csv(tmp_path / "s.csv").splitlines()
    assert csv[0].startswith("gain,nrmse,lyapunov,memory_capacity") and len(csv) == 9
    assert "best" in result.table()
    assert np.all(result.memory_capacity > 0) and np.all(result.memory_capacity <= 40.5)


def test_plot(result, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    fig = result.plot(tmp_path / "sweep.png")
    assert len(fig.axes) == 3 and (tmp_path / "sweep.png").stat().st_size > 10_000


def test_diverging_configuration_is_reported_not_fatal(task):
    # A linear reservoir with spectral radius > 1 blows up to inf/NaN; its neighbours must survive.
    lin = rc.ESN(1, 20, key=jax.random.key(1), activation="identity")
    r = rc.sweep(lin, *task, gains=jnp.array([0.5, 0.9, 50.0]), progress=False, washout=50)
    assert r.diverged.tolist() == [False, False, True]
    assert np.isnan(r.nrmse[2]) and np.all(np.isfinite(r.nrmse[:2]))
    assert r.best_index in (0, 1)


def test_two_dimensional_grid(esn, task):
    r = rc.sweep(esn, *task, params={"gain": [0.5, 1.0, 3.0], "leak": [0.2, 1.0]}, progress=False)
    assert r.shape == (3, 2) and len(r) == 6
    np.testing.assert_array_equal(r.params["leak"], [0.2, 1.0] * 3)
    edges = r.edge_of_chaos("gain")
    assert edges.shape == (2,)
    import matplotlib

    matplotlib.use("Agg")
    assert len(r.plot().axes) >= 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(params={"W": [1.0]}), "scalar array leaf"),
        (dict(params={"nope": [1.0]}), "scalar array leaf"),
        (dict(params={}), "`params`"),
        (dict(gains=[1.0, np.nan]), "finite"),
        (dict(gains=[1.0], params={"leak": [0.5]}), "either"),
        (dict(gains=[1.0], test_fraction=0.0), "`test_fraction`"),
        (dict(gains=[1.0], washout=5000), "`washout`"),
        (dict(gains=[1.0], batch_size=0), "`batch_size`"),
        (dict(params={"gain": [1.0], "leak": [0.5, 0.6]}, grid=False), "same length"),
    ],
)
def test_sweep_rejects_bad_input(esn, task, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rc.sweep(esn, *task, progress=False, **kwargs)


def test_sharded_sweep_on_four_host_devices_matches_single_device(tmp_path):
    code = textwrap.dedent(
        """
        import json, jax, jax.numpy as jnp, numpy as np
        jax.config.update("jax_enable_x64", True)
        import reservoirs as rc
        assert len(jax.devices()) == 4
        t = np.arange(800.0); x = np.sin(t / 7) + 0.2 * np.cos(t / 3)
        esn = rc.ESN(1, 24, key=jax.random.key(0), leak=0.6)
        g = jnp.linspace(0.3, 2.5, 6)
        a = rc.sweep(esn, x[:-1], x[1:], gains=g, progress=False, washout=50)
        b = rc.sweep(esn, x[:-1], x[1:], gains=g, progress=False, washout=50, devices=jax.devices()[:1])
        print(json.dumps({"devices": a.info["devices"], "a": a.nrmse.tolist(), "b": b.nrmse.tolist(),
                          "la": a.lyapunov.tolist(), "lb": b.lyapunov.tolist()}))
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["devices"] == 4
    np.testing.assert_allclose(d["a"], d["b"], rtol=1e-7)  # partitioned BLAS blocks: rounding only
    np.testing.assert_allclose(d["la"], d["lb"], rtol=1e-7, atol=1e-12)


# ---------------------------------------------------------------------------------- edge modes (issue 10)


def _synthetic(gains, lams, shape=None):
    gains = np.asarray(gains, float)
    lams = np.asarray(lams, float)
    return rc.SweepResult(params={"gain": gains}, shape=shape or (gains.size,), nrmse=np.ones(gains.size),
                          lyapunov=lams, memory_capacity=None, diverged=np.zeros(gains.size, bool))


def test_edge_of_chaos_modes_on_a_non_monotonic_exponent():
    # up at 0 -> 1, back down at 1 -> 2, up again at 2 -> 3 and positive from there on
    r = _synthetic([0, 1, 2, 3, 4], [-1.0, 0.5, -0.5, 1.0, 2.0])
    assert r.edge_of_chaos(mode="first") == pytest.approx(1 / 1.5)
    assert r.edge_of_chaos(mode="last") == pytest.approx(2 + 0.5 / 1.5)
    assert r.edge_of_chaos() == r.edge_of_chaos(mode="sustained") == pytest.approx(2 + 0.5 / 1.5)
    assert r.to_dict()["edge_of_chaos"] == pytest.approx(2 + 0.5 / 1.5)
    # a transient excursion into chaos that falls back below zero is not a sustained edge
    back = _synthetic([0, 1, 2, 3], [-1.0, 1.0, 2.0, -1.0])
    assert back.edge_of_chaos() is None and back.to_dict()["edge_of_chaos"] is None
    assert back.edge_of_chaos(mode="first") == back.edge_of_chaos(mode="last") == pytest.approx(0.5)
    # unsorted gains and a diverged (NaN) point are handled; no crossing at all gives None
    shuffled = _synthetic([3, 0, 2, 1, 4], [1.0, -1.0, np.nan, -0.5, 2.0])
    assert shuffled.edge_of_chaos() == pytest.approx(1 + 0.5 * 2 / 1.5)  # NaN at g=2 skipped: 1 -> 3
    assert _synthetic([0, 1], [0.1, 0.2]).edge_of_chaos() is None
    with pytest.raises(ValueError, match="`mode`"):
        r.edge_of_chaos(mode="middle")


def test_edge_of_chaos_modes_on_a_grid():
    g = np.repeat([0.0, 1.0, 2.0, 3.0], 2)
    leak = np.tile([0.5, 1.0], 4)
    lam = np.array([[-1, -1], [1, 1], [2, -1], [3, -2]], float).reshape(-1)  # leak=1: falls back below zero
    r = rc.SweepResult(params={"gain": g, "leak": leak}, shape=(4, 2), nrmse=np.ones(8), lyapunov=lam,
                       memory_capacity=None, diverged=np.zeros(8, bool))
    sustained = r.edge_of_chaos("gain")
    assert sustained[0] == pytest.approx(0.5) and np.isnan(sustained[1])
    np.testing.assert_allclose(r.edge_of_chaos("gain", mode="first"), [0.5, 0.5])


# ------------------------------------------------------------------- swept values checked up front (issue 10)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"gain": [0.5, -1.0]}, r"`params\['gain'\]` holds -1.*ESN.*`gain` must be > 0"),
        ({"gain": [0.5, 0.0]}, r"`gain` must be > 0"),
        ({"leak": [0.0, 0.5]}, r"`params\['leak'\]` holds 0.*`leak` must be in \(0.0, 1.0\]"),
        ({"leak": [1.5]}, r"`leak` must be in \(0.0, 1.0\]"),
        ({"input_scaling": [-0.1]}, r"`input_scaling` must be >= 0"),
        ({"gain": [True, False]}, r"`params\['gain'\]` must be an array of real numbers"),
    ],
)
def test_sweep_rejects_values_the_constructor_rejects(esn, task, params, match):
    with pytest.raises(ValueError, match=match):
        rc.sweep(esn, *task, params=params, progress=False)


def test_sweep_rejects_a_value_that_overflows_the_reservoir_dtype(task):
    esn32 = rc.ESN(1, 10, key=jax.random.key(0), dtype=jnp.float32)
    with pytest.raises(ValueError, match=r"`gain` = 1e\+39 overflows float32"):
        rc.sweep(esn32, *task, gains=[1.0, 1e39], progress=False)


def test_sweep_checks_a_substrate_with_the_checks_of_its_own_constructor(task):
    # MemristorCrossbar has no `check_leaf` hook: its __init__'s `check_positive("gain", allow_zero=True)` applies.
    import physical

    xb = physical.MemristorCrossbar(1, 5, 2, key=jax.random.key(0), gain=0.5)
    with pytest.raises(ValueError, match=r"MemristorCrossbar.*`gain` must be >= 0, got -0.5"):
        rc.sweep(xb, *task, gains=[0.0, -0.5], progress=False)


# ------------------------------------------------------------ RidgeCV in a sweep: one warning, not one per config


def test_ridgecv_in_a_sweep_warns_once_with_a_count(task):
    import warnings

    u, y = task
    esn = rc.ESN(1, 10, key=jax.random.key(2), leak=0.5)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        r = rc.sweep(esn, u[:400], y[:400], gains=[0.3, 0.6, 0.9], readout=rc.RidgeCV([1e-9, 1e-3, 1.0]),
                     lyapunov=False, washout=50, progress=False)
    edge = [w for w in record if issubclass(w.category, AlphaGridEdgeWarning)]
    assert len(edge) == 1, [str(w.message) for w in record]
    assert "smallest alpha" in str(edge[0].message) and "of 3 sweep configurations" in str(edge[0].message)
    assert len(r.info["alpha"]) == 3 and min(r.info["alpha"]) == pytest.approx(1e-9)


def test_sweep_records_what_a_title_needs(result, tmp_path):
    assert result.info["reservoir"] == "ESN" and result.info["units"] == 40
    assert result.default_title().startswith("ESN (N = 40)") and "8 configurations" in result.default_title()


def test_statistics_blocks_follow_the_solver_and_a_memory_cap(task):
    """Gram statistics in blocks of 256 steps, QR statistics in blocks of 2048 (each block costs one QR), and a
    large batch lowers the block so that one block of the batch's features stays under `BLOCK_BYTES`."""
    from reservoirs._model import BLOCK_BYTES, batched_chunk

    u, y = task
    e64 = rc.ESN(1, 40, key=jax.random.key(0))
    e32 = rc.ESN(1, 40, key=jax.random.key(0), dtype=jnp.float32)
    assert batched_chunk(e64, rc.Ridge(1e-6), u, u, y, None, 64) == 256
    assert batched_chunk(e32, rc.Ridge(1e-6), u, u, y, None, 64) == 256  # float64 statistics of float32 states
    assert batched_chunk(e64, rc.Ridge(1e-6, solver="qr"), u, u, y, None, 64) == 2048
    big = rc.ESN(1, 2000, key=jax.random.key(0), connectivity=0.01)
    c = batched_chunk(big, rc.Ridge(1e-6, solver="qr"), u, u, y, None, 64)
    assert 64 <= c < 2048 and 64 * c * (2000 + 2) * 8 <= BLOCK_BYTES


def test_sweep_with_qr_statistics_matches_individual_fits(esn, task):
    u, y = task
    r = rc.sweep(esn, u, y, gains=jnp.array([0.3, 0.9, 1.4]), readout=rc.Ridge(1e-7, solver="qr"), washout=100,
                 lyapunov=False, progress=False)
    n_train = r.info["n_train"]
    for i, g in enumerate(r.params["gain"]):
        e = eqx.tree_at(lambda e: e.gain, esn, jnp.asarray(g))
        m = rc.fit(e, u[:n_train], y[:n_train], readout=rc.Ridge(1e-7, solver="qr"), washout=100)
        pred, _ = rc.predict(m, u[n_train:])
        assert r.nrmse[i] == pytest.approx(float(rc.nrmse(y[n_train:], pred)), rel=1e-6)

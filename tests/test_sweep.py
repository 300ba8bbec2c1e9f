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

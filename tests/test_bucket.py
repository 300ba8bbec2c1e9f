"""physical.WaterBucket: the wave tank against a NumPy leapfrog, its discrete energy, its exponents, its errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physical
import reservoirs as rc
from physical import NonIdealities, WaterBucket

KEY = jax.random.key(0)
_step = eqx.filter_jit(lambda tank, state, u: tank.step(state, u))
# A small tank: 8 x 10 cells of 1 cm, 0.1 s samples.
SMALL = dict(grid=(8, 10), size=(0.10, 0.08))


def numpy_leapfrog(tank: WaterBucket, u: np.ndarray, h=None, h_prev=None):
    """A plain NumPy transcription of the scheme in the class docstring; returns the heights after each sample."""
    ny, nx = tank.shape
    dx, dt, S = tank.dx, tank.dt, tank.substeps
    c2 = float(tank.wave_speed) ** 2
    b, A = float(tank.damping), float(tank.gain)
    inv_s, inv_d = float(tank.inv_saturation), float(tank.inv_depth)
    profile = np.asarray(tank.motor_profile, np.float64)
    W = np.asarray(tank.motor_weights, np.float64)
    s = float(tank.input_scaling)
    h = np.zeros((ny, nx)) if h is None else h.copy()
    hp = np.zeros((ny, nx)) if h_prev is None else h_prev.copy()
    out = []
    for n in range(u.shape[0]):
        amp = s * (W @ u[n])
        source = np.einsum("k,kij->ij", amp, profile)
        for j in range(S):
            pump = math.cos(2 * math.pi * tank.pump_cycles * j / S)
            motor = math.sin(2 * math.pi * tank.motor_cycles * (j + 0.5) / S) if tank.motor_cycles else 1.0
            g = np.pad(h, 1, mode="edge")
            d = np.clip(1 + g * inv_d, 0.1, 2.0)
            div = np.zeros_like(h)
            for i in range(ny):
                for k in range(nx):
                    ci, ck = i + 1, k + 1
                    for di, dk in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                        face = 0.5 * (d[ci + di, ck + dk] + d[ci, ck])
                        div[i, k] += face * (g[ci + di, ck + dk] - g[ci, ck])
            div /= dx * dx
            beta = 0.5 * b * (1 + (inv_s * h) ** 2) * dt
            new = (2 * h - (1 - beta) * hp + dt * dt * (c2 * (1 + A * pump) * div + motor * source)) / (1 + beta)
            new -= new.mean()
            hp, h = h, new
        out.append(h.copy())
    return np.stack(out), h, hp


def test_step_matches_numpy_leapfrog():
    tank = WaterBucket(2, 6, key=KEY, gain=0.4, input_scaling=30.0, damping=1.5, **SMALL)
    u = np.asarray(jax.random.uniform(jax.random.key(1), (6, 2), minval=-1, maxval=1))
    ref, _, _ = numpy_leapfrog(tank, u)
    state = tank.init_state()
    got = []
    for n in range(u.shape[0]):
        state = _step(tank, state, jnp.asarray(u[n]))
        got.append(np.asarray(state[0]))
    got = np.stack(got)
    assert np.abs(ref).max() > 1e-4  # the drive reaches the nonlinear terms (heights of the order of a mm)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    # The probes read the heights at their cells; run() goes through the same step.
    _, feats = rc.run(tank, jnp.asarray(u))
    iy, ix = np.asarray(tank.probe_index).T
    np.testing.assert_allclose(np.asarray(feats), tank.probe_gain * ref[:, iy, ix], rtol=1e-9,
                               atol=1e-12 * tank.probe_gain * np.abs(ref).max())


def _discrete_energy(h_new, h, c2, dx, dt):
    """The leapfrog invariant: 1/2 |(h^{n+1} - h^n)/dt|^2 + 1/2 c^2 a(h^{n+1}, h^n), a(u, v) = -<u, L v>."""
    lap = physical._bucket.laplacian
    return 0.5 * np.sum(((h_new - h) / dt) ** 2) - 0.5 * c2 * np.sum(h_new * np.asarray(lap(jnp.asarray(h), dx)))


def test_undamped_linear_tank_conserves_discrete_energy():
    tank = WaterBucket(1, 4, key=KEY, damping=0.0, saturation_height=None, depth=None, **SMALL)
    ny, nx = tank.shape
    y, x = np.mgrid[0:ny, 0:nx]
    h0 = 1e-3 * np.exp(-((x - 3.0) ** 2 + (y - 4.0) ** 2) / 3.0)
    h0 -= h0.mean()
    state = (jnp.asarray(h0), jnp.asarray(h0), jnp.zeros((0, ny, nx)))
    c2, dx, dt = float(tank.wave_speed) ** 2, tank.dx, tank.dt
    energies = []
    for _ in range(40):
        h, hp, _ = state
        state = _step(tank, state, jnp.zeros(1))
        # The energy between the last two substeps of the sample (state holds h^{n+1}, h^n).
        energies.append(_discrete_energy(np.asarray(state[0]), np.asarray(state[1]), c2, dx, dt))
    energies = np.array(energies)
    assert energies[0] > 0
    assert np.abs(energies / energies[0] - 1).max() < 1e-10
    # With damping the same invariant decays.
    damped = WaterBucket(1, 4, key=KEY, damping=0.8, saturation_height=None, depth=None, **SMALL)
    s = (jnp.asarray(h0), jnp.asarray(h0), jnp.zeros((0, ny, nx)))
    for _ in range(40):
        s = _step(damped, s, jnp.zeros(1))
    e = _discrete_energy(np.asarray(s[0]), np.asarray(s[1]), c2, dx, dt)
    assert e < 0.8 * energies[0]


def test_linear_damped_tank_exponent_is_minus_half_b():
    tank = WaterBucket(1, 4, key=KEY, damping=0.8, saturation_height=None, depth=None, **SMALL)
    u = jax.random.normal(jax.random.key(2), (2000,))
    lam = float(rc.lyapunov_spectrum(tank, u, washout=50)[0])
    # (substeps / 2) log((1 - beta) / (1 + beta)) per sample for the leapfrog, ~ -b T / 2 = -0.04. Benettin's finite
    # time average converges as 1/time (the tangent starts off the slowest eigenvectors, which are not orthogonal).
    assert lam == pytest.approx(tank.linear_exponent(), rel=0.03)
    assert tank.linear_exponent() == pytest.approx(-0.8 * tank.sample_duration / 2, rel=1e-3)
    # The input amplitude does not move it: linear water is never chaotic.
    loud = WaterBucket(1, 4, key=KEY, damping=0.8, saturation_height=None, depth=None, input_scaling=50.0, **SMALL)
    assert float(rc.lyapunov_spectrum(loud, u, washout=50)[0]) == pytest.approx(lam, rel=1e-6)


def test_faraday_pump_crosses_into_chaos():
    base = WaterBucket(1, 16, key=KEY, grid=20)
    u = jax.random.normal(jax.random.key(3), (400,))
    lam0 = float(rc.lyapunov_spectrum(base, u, washout=100)[0])
    lam_hi = float(rc.lyapunov_spectrum(physical.WaterBucket(1, 16, key=KEY, grid=20, gain=0.4), u, washout=100)[0])
    assert lam0 < 0 < lam_hi


def test_same_key_same_bits_and_key_matters():
    kw = dict(readout="sobel", nonideal=NonIdealities(adc_bits=8), input_scaling=20.0, **SMALL)
    u = jax.random.normal(jax.random.key(4), (30, 2))
    a = rc.run(WaterBucket(2, 9, key=KEY, **kw), u)[1]
    b = rc.run(WaterBucket(2, 9, key=KEY, **kw), u)[1]
    c = rc.run(WaterBucket(2, 9, key=jax.random.key(5), **kw), u)[1]
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_camera_frames_are_8_bit_and_frames_add_features():
    tank = WaterBucket(1, 16, key=KEY, readout="camera", nonideal=NonIdealities(adc_bits=8), frames=2,
                       input_scaling=20.0, **SMALL)
    assert tank.feature_size == 32
    _, f = rc.run(tank, jax.random.normal(jax.random.key(6), (20,)))
    levels = np.asarray(f) * 255
    assert np.allclose(levels, np.round(levels)) and f.min() >= 0 and f.max() <= 1
    assert len(np.unique(levels)) > 5


def test_cfl_violation_names_the_largest_stable_step():
    tank = WaterBucket(1, 4, key=KEY, **SMALL)
    limit = tank.dx / (math.sqrt(2) * 0.22 * math.sqrt(2))  # depth nonlinearity: c_max = c sqrt(2) at gain 0
    with pytest.raises(ValueError, match=r"`dt`.*CFL.*largest stable step is 0.0227"):
        WaterBucket(1, 4, key=KEY, dt=0.05, **SMALL)
    assert limit == pytest.approx(0.02273, rel=1e-3)
    WaterBucket(1, 4, key=KEY, dt=0.02, **SMALL)  # within the limit: accepted
    with pytest.raises(ValueError, match="`dt` must divide"):
        WaterBucket(1, 4, key=KEY, dt=0.003, **SMALL)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(probes=np.array([[0.05, 0.09]])), r"`probes` position 0 .* outside the tank"),
        (dict(probes=np.array([[-0.01, 0.02]])), r"`probes` position 0 .* outside the tank"),
        (dict(motors=np.array([[0.02, 0.02], [0.2, 0.02]])), r"`motors` position 1 .* outside the tank"),
        (dict(probes=np.zeros((0, 2))), r"`probes` must be"),
        (dict(readout="lidar"), r"`readout` must be one of"),
        (dict(damping=-1.0), r"`damping` must be >= 0"),
        (dict(wave_speed=0.0), r"`wave_speed` must be > 0"),
        (dict(gain=-0.1), r"`gain` must be >= 0"),
        (dict(motor_weights=np.ones((3, 1))), r"`motor_weights` must have shape \(4, 1\)"),
        (dict(nonideal=NonIdealities(read_noise=0.1)), r"`nonideal` sets \['read_noise'\]"),
        (dict(grid=(8, 8)), r"square cells"),
        (dict(frames=100), r"`frames` must be <="),
    ],
)
def test_bad_arguments_raise_named_value_errors(kwargs, match):
    args = dict(SMALL) | {"probes": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        WaterBucket(1, key=KEY, **args)


def test_registered_presets_and_energy():
    entry = rc.registry()["bucket"]
    assert entry.defaults("xor") == (400, 0.0)
    assert entry.sweep_gains[0] == 0.0
    tank = entry.build(2, 400, 0.0, key=KEY, task="xor")
    assert tank.readout == "sobel" and tank.nonideal.adc_bits == 8 and tank.feature_size == 400
    mg = entry.build(1, 64, 0.1, key=KEY, task="mackey-glass")
    assert mg.readout == "height" and mg.feature_size == 64 and float(mg.gain) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="`task` must be one of"):
        entry.build(1, 64, 0.0, key=KEY, task="narma")
    with pytest.raises(ValueError, match="`probes` must be an int >= 1"):
        entry.build(1, 0, 0.0, key=KEY, task="mackey-glass")
    rep = physical.energy_per_step(mg)
    motor = next(t for t in rep.terms if "motor" in t.name)
    assert motor.count == 4 and motor.joules_per_op == pytest.approx(0.24 * mg.sample_duration)
    assert rep.joules > rep.baseline_joules  # an honest loss: motors cost far more than a small digital ESN

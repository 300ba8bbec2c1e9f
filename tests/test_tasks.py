"""Tests for the `tasks` package: each generator against an independent plain-NumPy reference of the same
equations, plus determinism, metadata and input validation.

Accuracy comparisons run in float64 inside the `x64` fixture, and the float32 default inside the `x32` fixture
(`jax.enable_x64` as a context manager), so these tests neither depend on nor change the session-wide flag.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tasks


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture
def x32():
    """Default float32, whatever the session-wide setting (tests/conftest.py may enable x64)."""
    with jax.enable_x64(False):
        yield


# ------------------------------------------------------------------------------------------------------------
# Plain NumPy references (loops are fine here).


def np_rk4(f, y0, h, n_steps):
    """Classical RK4 for an autonomous ODE, returning all n_steps + 1 grid values."""
    ys = np.empty((n_steps + 1, len(y0)))
    y = np.asarray(y0, dtype=np.float64)
    ys[0] = y
    for i in range(n_steps):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys[i + 1] = y
    return ys


def np_lorenz_field(sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    return lambda y: np.array([sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]])


def np_rossler_field(a=0.2, b=0.2, c=5.7):
    return lambda y: np.array([-y[1] - y[2], y[0] + a * y[1], b + y[2] * (y[0] - c)])


def np_mackey_glass_method_of_steps(tau=17.0, a=0.2, b=0.1, n=10, x0=1.2, h=0.01, intervals=3):
    """Mackey-Glass with constant history x0 on [-tau, 0], by the method of steps, sampled at integer times
    0, 1, ..., intervals * tau.

    On the k-th delay interval the delayed term is a known function (the previous interval's solution), so the DDE
    is an ODE there. Interval k is integrated with RK4 at step h * 2**(k - intervals + 1): each interval uses half
    the step of the next, so every delayed value RK4 asks for (grid and half-step times) is a stored grid value of
    the previous interval and no interpolation is involved. This is independent of the library's ring buffer and
    Hermite interpolation.
    """

    def f(x, xd):
        return a * xd / (1 + xd**n) - b * x

    x, previous, samples = x0, None, [np.array([x0])]
    for k in range(intervals):
        step = h * 2.0 ** (k - intervals + 1)
        n_sub = round(tau / step)
        grid = np.empty(n_sub + 1)
        grid[0] = x
        for i in range(n_sub):
            if previous is None:
                d0 = dm = d1 = x0
            else:
                d0, dm, d1 = previous[2 * i], previous[2 * i + 1], previous[2 * i + 2]
            k1 = f(x, d0)
            k2 = f(x + step / 2 * k1, dm)
            k3 = f(x + step / 2 * k2, dm)
            k4 = f(x + step * k3, d1)
            x = x + step / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            grid[i + 1] = x
        samples.append(grid[round(1 / step) :: round(1 / step)])
        previous = grid
    return np.concatenate(samples)


def np_mackey_glass_euler(history, tau, h, sample_every, transient, n_steps, a=0.2, b=0.1, n=10):
    """Jaeger's (2001) discretisation, transcribed: x[k+1] = x[k] + h (a x[k-m] / (1 + x[k-m]^n) - b x[k]),
    where `history` holds x[-m], ..., x[0]."""
    m = round(tau / h)
    substeps = round(sample_every / h)
    n_transient = round(transient / h)
    x = list(history)  # x[j] is the value at step j - m
    total = n_transient + (n_steps - 1) * substeps
    for k in range(total):
        xk, xd = x[k + m], x[k]
        x.append(xk + h * (a * xd / (1 + xd**n) - b * xk))
    return np.array(x[m + n_transient :: substeps][:n_steps])


def np_henon(x0, n_steps, a=1.4, b=0.3):
    out = np.empty((n_steps, 2))
    x, y = x0
    for i in range(n_steps):
        out[i] = x, y
        x, y = 1 - a * x**2 + y, b * x
    return out


def np_narma10(u):
    """NARMA10 (Atiya & Parlos 2000) from rest, y(t+1) from u(0..t); returns y(1), ..., y(T)."""
    T = len(u)
    y = np.zeros(T + 10)  # y[t + 9] is y(t); y(t) = 0 for t <= 0
    for t in range(T):
        y_t = y[t + 9]
        window = sum(y[t + 9 - i] for i in range(10))
        u_lag = u[t - 9] if t >= 9 else 0.0
        y[t + 10] = 0.3 * y_t + 0.05 * y_t * window + 1.5 * u_lag * u[t] + 0.1
    return y[10:]


# ------------------------------------------------------------------------------------------------------------
# Mackey-Glass.


def test_mackey_glass_rk4_matches_method_of_steps(x64):
    # Three delay intervals (51 time units) from the constant history, no transient. The reference's own error is
    # ~1e-13 (it changes by 3e-13 between h = 0.01 and 0.02). RK4 with Hermite-interpolated half-step delays is
    # fourth order: we measure 2.7e-10 at h = 0.1 and 4.3e-9 at h = 0.2 (ratio 16). A second-order (e.g. linear)
    # delay interpolation would give an error ~1e-5 and a ratio ~4, so both assertions can fail.
    ref = np_mackey_glass_method_of_steps()
    errors = {}
    for h in (0.2, 0.1):
        series = tasks.mackey_glass(len(ref), h=h, transient=0.0, sample_every=1.0)
        assert series.values.dtype == jnp.float64
        errors[h] = np.max(np.abs(np.asarray(series.values[:, 0]) - ref))
    assert errors[0.1] < 1e-8
    assert errors[0.2] / errors[0.1] > 10  # fourth order gives 16


def test_mackey_glass_euler_matches_jaeger_transcription(x64):
    key = jax.random.key(3)
    tau, h, transient, n_steps = 17.0, 0.1, 100.0, 200
    series = tasks.mackey_glass(n_steps, key=key, method="euler", h=h, transient=transient, sample_every=1.0)
    # Documented initial history: x0 + 0.1 * U[-1, 1] at each of the tau/h + 1 nodes t = -tau, ..., 0.
    m = round(tau / h)
    history = 1.2 + 0.1 * np.asarray(jax.random.uniform(key, (m + 1,), jnp.float64, -1.0, 1.0))
    ref = np_mackey_glass_euler(history, tau, h, 1.0, transient, n_steps)
    np.testing.assert_allclose(np.asarray(series.values[:, 0]), ref, rtol=0, atol=1e-12)


def test_mackey_glass_euler_is_first_order_and_close_to_rk4(x64):
    # Sanity link between the two methods: over 51 time units Euler at h = 0.1 is off by ~4e-3, not more.
    ref = np_mackey_glass_method_of_steps()
    euler = tasks.mackey_glass(len(ref), method="euler", transient=0.0).values[:, 0]
    error = np.max(np.abs(np.asarray(euler) - ref))
    assert 1e-4 < error < 2e-2


def test_mackey_glass_attractor_and_metadata(x32):
    series = tasks.mackey_glass(500, key=jax.random.key(0), sample_every=2.0)
    assert series.values.shape == (500, 1)
    assert series.values.dtype == jnp.float32  # follows the default dtype
    assert series.dt == 2.0 and series.name == "mackey_glass"
    assert series.lyapunov_exponent == pytest.approx(0.0052)
    assert series.lyapunov_time == pytest.approx(1 / 0.0052)
    values = np.asarray(series.values)
    # The tau = 17 attractor lives in about [0.4, 1.35] and is not a fixed point.
    assert 0.3 < values.min() < 0.6 and 1.2 < values.max() < 1.45
    assert float(series.std()[0]) > 0.15
    assert tasks.mackey_glass(10, tau=30.0, transient=0.0).lyapunov_exponent is None


# ------------------------------------------------------------------------------------------------------------
# Lorenz and Rössler.


def test_lorenz_matches_fine_numpy_rk4(x64):
    # 3 time units (about 3 Lyapunov times) from a key-perturbed start, against a NumPy RK4 at a 10x finer step
    # (h = 2e-4, own error ~1e-10). We measure 1.25e-6 at h = 2e-3 (6e-8 relative to |x| ~ 20, float32
    # resolution) and 2.0e-5 at h = 4e-3: the ratio 16 of a fourth-order method. A mis-staged or lower-order
    # integrator fails both the bound and the ratio.
    errors = {}
    for h in (0.004, 0.002):
        series = tasks.lorenz(151, key=jax.random.key(1), h=h, transient=0.0)
        y0 = np.asarray(series.values[0])
        assert not np.allclose(y0, 1.0)  # the key perturbed the default (1, 1, 1)
        ref = np_rk4(np_lorenz_field(), y0, 2e-4, 15000)[::100]
        errors[h] = np.max(np.abs(np.asarray(series.values) - ref))
    assert errors[0.002] < 5e-6
    assert errors[0.004] / errors[0.002] > 10


def test_rossler_matches_fine_numpy_rk4(x64):
    # 20 time units (1.4 Lyapunov times) against a NumPy RK4 at a 10x finer step (h = 1e-3). The error peaks on
    # the fast z-spikes: measured 1.7e-6 at h = 0.01 and 2.7e-5 at h = 0.02 (ratio 15.5, fourth order).
    errors = {}
    ref = np_rk4(np_rossler_field(), [1.0, -2.0, 0.5], 1e-3, 20000)[::100]
    for h in (0.02, 0.01):
        series = tasks.rossler(201, h=h, transient=0.0, x0=(1.0, -2.0, 0.5))
        np.testing.assert_array_equal(np.asarray(series.values[0]), [1.0, -2.0, 0.5])
        errors[h] = np.max(np.abs(np.asarray(series.values) - ref))
    assert errors[0.01] < 5e-6
    assert errors[0.02] / errors[0.01] > 10


def test_lorenz_lyapunov_exponent_from_generator(x64):
    # Two-trajectory Benettin estimate (Benettin et al. 1980) using the generator itself as the flow map: advance
    # a reference and a 1e-8-perturbed trajectory by one time unit, record the log stretch, renormalise the
    # separation. 150 time units after a 10-unit burn-in; the deterministic estimate must be within 10% of
    # 0.9056 (Viswanath 1998).
    start = np.asarray(tasks.lorenz(1, transient=20.0).values[0])
    d0 = 1e-8
    xa = start
    xb = start + d0 * np.array([1.0, 1.0, 1.0]) / math.sqrt(3)
    logs = []
    for _ in range(160):
        xa_next = np.asarray(tasks.lorenz(51, transient=0.0, x0=xa).values[-1])
        xb_next = np.asarray(tasks.lorenz(51, transient=0.0, x0=xb).values[-1])
        d = np.linalg.norm(xb_next - xa_next)
        logs.append(math.log(d / d0))
        xa, xb = xa_next, xa_next + (xb_next - xa_next) * d0 / d
    estimate = np.mean(logs[10:])  # per time unit
    assert abs(estimate - 0.9056) < 0.1 * 0.9056, estimate
    series = tasks.lorenz(10)
    assert series.lyapunov_exponent == pytest.approx(0.9056)
    assert series.lyapunov_time == pytest.approx(1.1042, abs=1e-3)


def test_lorenz_rossler_metadata(x32):
    lor = tasks.lorenz(100, dt=0.01, h=0.001, transient=5.0)
    assert lor.values.shape == (100, 3) and lor.values.dtype == jnp.float32
    assert lor.dt == 0.01 and lor.name == "lorenz"
    np.testing.assert_allclose(np.asarray(lor.times[:3]), [0.0, 0.01, 0.02], rtol=1e-6)
    assert tasks.lorenz(5, rho=35.0, transient=0.0).lyapunov_exponent is None
    ros = tasks.rossler(50, transient=10.0)
    assert ros.values.shape == (50, 3) and ros.dt == 0.1 and ros.name == "rossler"
    assert ros.lyapunov_exponent == pytest.approx(0.0714)
    assert ros.lyapunov_time == pytest.approx(14.0, rel=1e-2)
    assert tasks.rossler(5, c=4.0, transient=0.0).lyapunov_exponent is None


# ------------------------------------------------------------------------------------------------------------
# Hénon and NARMA10.


def test_henon_matches_numpy_map(x64):
    # 40 iterations from a fixed start: the map is three flops, so float64 results agree to rounding; chaos
    # (LE 0.42 per iteration) amplifies 1e-16 by at most e^17 ~ 2e7 over 40 iterations.
    series = tasks.henon(40, transient=0, x0=(0.1, -0.2))
    ref = np_henon((0.1, -0.2), 40)
    np.testing.assert_allclose(np.asarray(series.values), ref, rtol=0, atol=1e-8)
    # After a transient the orbit is on the attractor: |x| < 1.3, |y| < 0.4.
    long = tasks.henon(2000, key=jax.random.key(0))
    assert long.values.shape == (2000, 2) and long.dt == 1.0 and long.name == "henon"
    assert np.max(np.abs(np.asarray(long.values[:, 0]))) < 1.3
    assert np.max(np.abs(np.asarray(long.values[:, 1]))) < 0.4
    assert long.lyapunov_exponent == pytest.approx(0.41922)
    assert tasks.henon(5, a=1.2).lyapunov_exponent is None


def test_narma10_matches_numpy_loop(x64):
    inputs, targets = tasks.narma10(600, key=jax.random.key(7))
    assert inputs.shape == targets.shape == (600, 1)
    assert inputs.dtype == targets.dtype == jnp.float64
    u = np.asarray(inputs[:, 0])
    assert 0.0 <= u.min() and u.max() <= 0.5
    ref = np_narma10(u)
    np.testing.assert_allclose(np.asarray(targets[:, 0]), ref, rtol=1e-13, atol=0)


def test_narma10_alignment_is_causal(x64):
    # targets[t] = y(t+1) depends on inputs[0..t] only: changing u(s) leaves targets[:s] unchanged and changes
    # targets[s] (through 1.5 u(s-9) u(s) for s >= 9).
    inputs, targets = tasks.narma10(100, key=jax.random.key(2))
    u = np.asarray(inputs[:, 0]).copy()
    u[50] += 0.1
    ref = np_narma10(u)
    np.testing.assert_allclose(ref[:50], np.asarray(targets[:50, 0]), rtol=1e-13)
    assert abs(ref[50] - float(targets[50, 0])) > 1e-3


def test_narma10_divergence_is_detected():
    # First confirm with the NumPy reference that U[0, 1] inputs really make the recursion blow up.
    u = np.asarray(jax.random.uniform(jax.random.key(0), (1000,), minval=0.0, maxval=1.0), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np_narma10(u)
    assert not np.all(np.isfinite(y) & (np.abs(y) < 1e3))
    with pytest.raises(ValueError, match=r"NARMA10 recursion diverged.*U\[0.0, 1.0\]"):
        tasks.narma10(1000, key=jax.random.key(0), high=1.0)
    # Under jit the same check is an eqx.error_if runtime error.
    with pytest.raises(Exception, match="NARMA10 recursion diverged"):
        out = eqx.filter_jit(lambda k: tasks.narma10(1000, key=k, high=1.0))(jax.random.key(0))
        jax.block_until_ready(out)
    # The standard range is stable.
    inputs, targets = jax.jit(lambda k: tasks.narma10(1000, key=k))(jax.random.key(0))
    assert float(jnp.max(targets)) < 1.5 and float(jnp.min(inputs)) >= 0.0


# ------------------------------------------------------------------------------------------------------------
# Determinism, jit/vmap, TimeSeries.


GENERATORS = {
    "mackey_glass": lambda key: tasks.mackey_glass(64, key=key, transient=50.0),
    "mackey_glass_euler": lambda key: tasks.mackey_glass(64, key=key, transient=50.0, method="euler"),
    "lorenz": lambda key: tasks.lorenz(64, key=key, transient=2.0),
    "rossler": lambda key: tasks.rossler(64, key=key, transient=10.0),
    "henon": lambda key: tasks.henon(64, key=key, transient=20),
    "narma10": lambda key: tasks.TimeSeries(tasks.narma10(64, key=key)[1], 1.0, "narma10"),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_determinism_and_vmap(name):
    generate = GENERATORS[name]
    k0, k1 = jax.random.key(0), jax.random.key(1)
    a, b, c = generate(k0).values, generate(k0).values, generate(k1).values
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    batched = jax.vmap(lambda k: generate(k).values)(jnp.stack([k0, k1]))
    np.testing.assert_allclose(np.asarray(batched[0]), np.asarray(a), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(batched[1]), np.asarray(c), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["mackey_glass", "lorenz", "rossler", "henon"])
def test_no_key_is_deterministic(name):
    generate = GENERATORS[name]
    np.testing.assert_array_equal(np.asarray(generate(None).values), np.asarray(generate(None).values))


def test_time_series_methods():
    values = jnp.arange(20.0).reshape(10, 2)
    series = tasks.TimeSeries(values, 0.5, "ramp", 2.0)
    assert len(series) == 10
    assert series.lyapunov_time == 0.5
    np.testing.assert_allclose(np.asarray(series.times), 0.5 * np.arange(10))
    inputs, targets = series.one_step()
    np.testing.assert_array_equal(np.asarray(inputs), np.asarray(values[:-1]))
    np.testing.assert_array_equal(np.asarray(targets), np.asarray(values[1:]))
    first, rest = series.split(7)
    assert len(first) == 7 and len(rest) == 3 and rest.dt == 0.5 and rest.lyapunov_exponent == 2.0
    np.testing.assert_array_equal(np.asarray(rest.values), np.asarray(values[7:]))
    np.testing.assert_allclose(np.asarray(series.std()), np.std(np.asarray(values), axis=0))
    assert tasks.TimeSeries(values, 1.0, "x").lyapunov_time is None
    for bad in (0, 10, -1):
        with pytest.raises(ValueError, match="`n` must be an int in \\[1, 9\\]"):
            series.split(bad)
    for bad in (2.0, True):  # TypeError when run with jaxtyping's runtime type checking
        with pytest.raises((ValueError, TypeError)):
            series.split(bad)
    with pytest.raises((ValueError, TypeError), match="`values` must be a 2-D|values"):
        tasks.TimeSeries(jnp.zeros(5), 1.0, "flat")
    with pytest.raises(ValueError, match="`dt` must be a positive"):
        tasks.TimeSeries(values, 0.0, "x")
    # A TimeSeries is a pytree: it passes through jit.
    doubled = eqx.filter_jit(lambda s: s.values * 2)(series)
    np.testing.assert_array_equal(np.asarray(doubled), 2 * np.asarray(values))


# ------------------------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: tasks.lorenz(0), "`n_steps` must be a positive int, got 0"),
        (lambda: tasks.lorenz(-3), "`n_steps` must be a positive int, got -3"),
        (lambda: tasks.mackey_glass(0), "`n_steps` must be a positive int"),
        (lambda: tasks.narma10(-1, key=jax.random.key(0)), "`n_steps` must be a positive int"),
        (lambda: tasks.mackey_glass(10, h=0.0), "`h` must be > 0"),
        (lambda: tasks.mackey_glass(10, h=-0.1), "`h` must be > 0"),
        (lambda: tasks.mackey_glass(10, h=0.3), "`tau` must be a whole positive multiple of `h`"),
        (lambda: tasks.mackey_glass(10, tau=17.05), "`tau` must be a whole positive multiple of `h`"),
        (lambda: tasks.mackey_glass(10, tau=-1.0), "`tau` must be > 0"),
        (
            lambda: tasks.mackey_glass(10, sample_every=0.25),
            "`sample_every` must be a whole positive multiple",
        ),
        (lambda: tasks.mackey_glass(10, method="rk45"), "`method` must be 'rk4' or 'euler'"),
        (lambda: tasks.mackey_glass(10, transient=-1.0), "`transient` must be >= 0"),
        (lambda: tasks.lorenz(10, h=0.02, dt=0.02), r"`h` must be in \(0, 0.01\]"),
        (lambda: tasks.lorenz(10, h=0.0), "`h` must be > 0"),
        (lambda: tasks.lorenz(10, h=0.003), "`dt` must be a whole positive multiple of `h`"),
        (lambda: tasks.lorenz(10, x0=(1.0, 2.0)), r"`x0` must be 3 finite real numbers"),
        (lambda: tasks.lorenz(10, sigma=float("nan")), "`sigma` must be finite"),
        (lambda: tasks.rossler(10, h=0.03), "`dt` must be a whole positive multiple of `h`"),
        (lambda: tasks.henon(10, transient=-1), "`transient` must be a non-negative int"),
        (lambda: tasks.narma10(10, key=jax.random.key(0), low=0.5, high=0.5), "`low` must be < `high`"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [lambda: tasks.rossler(2.5), lambda: tasks.henon(True), lambda: tasks.henon(10, transient=3.0)],
)
def test_wrong_type_raises(call):
    # A ValueError naming the argument; a TypeError instead when jaxtyping's runtime type checker is active.
    with pytest.raises((ValueError, TypeError), match="n_steps|transient|rossler|henon"):
        call()


def test_divergent_orbit_raises():
    with pytest.raises(ValueError, match="Hénon orbit escaped"):
        tasks.henon(10, x0=(5.0, 5.0), transient=100)

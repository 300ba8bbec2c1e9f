"""Chaotic benchmark series: Mackey-Glass, Lorenz-63, Rössler and Hénon.

Every generator validates its Python arguments, then calls one jitted function whose array sizes are static
(`jax.lax.scan` over time, no Python loop over steps) and whose physical parameters are traced, so changing a
parameter value does not recompile. Output dtype is JAX's default float (float32, or float64 under
`jax_enable_x64`).
"""

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._series import (
    RealScalarLike,
    TimeSeries,
    _check_finite,
    _default_float,
    _nonnegative,
    _nonnegative_int,
    _positive,
    _positive_int,
    _ratio_steps,
    _real,
)

# Largest Lyapunov exponents (per time unit) of the standard parameter sets; the sources are in the docstrings.
_LORENZ_LE = (
    0.9056  # Viswanath 1998 (PhD thesis, Cornell); also Sprott 2003, "Chaos and Time-Series Analysis".
)
_ROSSLER_LE = 0.0714  # Sprott 2003, "Chaos and Time-Series Analysis", Oxford University Press, appendix A.
_HENON_LE = 0.41922  # Sprott 2003, "Chaos and Time-Series Analysis", appendix A (per iteration).
_MACKEY_GLASS_17_LE = 0.0052  # tau = 17: measured on this generator (Benettin), see `mackey_glass`.


def _close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def _initial_vector(name: str, x0, default: Sequence[float], dim: int) -> np.ndarray:
    if x0 is None:
        return np.asarray(default, dtype=np.float64)
    try:
        arr = np.asarray(x0, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be a sequence of {dim} real numbers, got {x0!r}") from e
    if arr.shape != (dim,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be {dim} finite real numbers (shape ({dim},)), got {x0!r}")
    return arr


# --------------------------------------------------------------------------------------------------------------
# Ordinary differential equations: fixed-step RK4, subsampled.


def _rk4_step(vector_field: Callable, y: Array, h: Array, params: Array) -> Array:
    """One classical fourth-order Runge-Kutta step (Kutta 1901)."""
    k1 = vector_field(y, params)
    k2 = vector_field(y + 0.5 * h * k1, params)
    k3 = vector_field(y + 0.5 * h * k2, params)
    k4 = vector_field(y + h * k3, params)
    return y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


@eqx.filter_jit
def _sample_ode(
    vector_field: Callable,
    y0: Array,
    noise_scale: float,
    key: PRNGKeyArray | None,
    params: Array,
    h: Array,
    n_transient: int,
    substeps: int,
    n_steps: int,
) -> Array:
    if key is not None:
        y0 = y0 + noise_scale * jax.random.normal(key, y0.shape, y0.dtype)

    def step(y, _):
        return _rk4_step(vector_field, y, h, params), None

    y, _ = jax.lax.scan(step, y0, None, length=n_transient)

    def sample(y, _):
        y_next, _ = jax.lax.scan(step, y, None, length=substeps)
        return y_next, y

    _, ys = jax.lax.scan(sample, y, None, length=n_steps)
    return ys


def _lorenz_field(y: Array, params: Array) -> Array:
    sigma, rho, beta = params
    x, yy, z = y
    return jnp.stack([sigma * (yy - x), x * (rho - z) - yy, x * yy - beta * z])


def _rossler_field(y: Array, params: Array) -> Array:
    a, b, c = params
    x, yy, z = y
    return jnp.stack([-yy - z, x + a * yy, b + z * (x - c)])


def lorenz(
    n_steps: int,
    *,
    key: PRNGKeyArray | None = None,
    dt: RealScalarLike = 0.02,
    h: RealScalarLike = 0.002,
    sigma: RealScalarLike = 10.0,
    rho: RealScalarLike = 28.0,
    beta: RealScalarLike = 8.0 / 3.0,
    transient: RealScalarLike = 50.0,
    x0: ArrayLike | Sequence[float] | None = None,
) -> TimeSeries:
    r"""The Lorenz-63 system (Lorenz 1963, J. Atmos. Sci. 20:130):

    $$\dot x = \sigma (y - x), \qquad \dot y = x (\rho - z) - y, \qquad \dot z = x y - \beta z.$$

    Integrated with classical RK4 at a fixed step `h` and sampled every `dt`. A forecasting benchmark is only as
    good as its ground truth, so the step is capped at 0.01 (at `h = 0.002` the RK4 error over a few time units
    is far below float32 resolution).

    **Arguments:**

    - `n_steps`: number of samples returned (positive int).
    - `key`: optional PRNG key. If given, standard normal noise N(0, 1) is added to each coordinate of `x0`, so
        different keys give different trajectories; `None` (default) starts exactly at `x0`.
    - `dt`: time between samples, in Lorenz time units (default 0.02, about 1/55 of a Lyapunov time).
    - `h`: RK4 step, in time units; `0 < h <= 0.01` and `dt / h` a whole number (default 0.002, 10 steps per
        sample).
    - `sigma`, `rho`, `beta`: the Prandtl number, normalised Rayleigh number and geometric factor (defaults 10, 28,
        8/3: Lorenz's chaotic values).
    - `transient`: time units integrated and discarded before the first sample, so that the series starts on the
        attractor (default 50; rounded to a whole number of steps `h`).
    - `x0`: initial state `(x, y, z)` (default `(1, 1, 1)`).

    **Returns:**

    A `TimeSeries` of shape `(n_steps, 3)` with `dt = dt`. For the default parameters `lyapunov_exponent` is
    0.9056 per time unit (Viswanath 1998, PhD thesis, Cornell; Lyapunov time 1.104); otherwise `None`.
    """
    n_steps = _positive_int("n_steps", n_steps)
    h = _positive("h", h)
    if h > 0.01:
        raise ValueError(
            f"`h` must be in (0, 0.01] for Lorenz ground truth (RK4 with step <= 0.01), got {h!r}"
        )
    dt = _positive("dt", dt)
    substeps = _ratio_steps("dt", dt, "h", h)
    sigma, rho, beta = (_real(n, v) for n, v in (("sigma", sigma), ("rho", rho), ("beta", beta)))
    transient = _nonnegative("transient", transient)
    y0 = _initial_vector("x0", x0, (1.0, 1.0, 1.0), 3)
    dtype = _default_float()
    values = _sample_ode(
        _lorenz_field,
        jnp.asarray(y0, dtype),
        1.0,
        key,
        jnp.asarray([sigma, rho, beta], dtype),
        jnp.asarray(h, dtype),
        round(transient / h),
        substeps,
        n_steps,
    )
    values = _check_finite(values, "the Lorenz trajectory became non-finite; check `x0` and the parameters")
    standard = _close(sigma, 10.0) and _close(rho, 28.0) and _close(beta, 8.0 / 3.0)
    return TimeSeries(values, dt, "lorenz", _LORENZ_LE if standard else None)


def rossler(
    n_steps: int,
    *,
    key: PRNGKeyArray | None = None,
    dt: RealScalarLike = 0.1,
    h: RealScalarLike = 0.01,
    a: RealScalarLike = 0.2,
    b: RealScalarLike = 0.2,
    c: RealScalarLike = 5.7,
    transient: RealScalarLike = 200.0,
    x0: ArrayLike | Sequence[float] | None = None,
) -> TimeSeries:
    r"""The Rössler system (Rössler 1976, Phys. Lett. A 57:397):

    $$\dot x = -y - z, \qquad \dot y = x + a y, \qquad \dot z = b + z (x - c).$$

    Integrated with classical RK4 at a fixed step `h` and sampled every `dt`.

    **Arguments:**

    - `n_steps`: number of samples returned (positive int).
    - `key`: optional PRNG key. If given, standard normal noise N(0, 1) is added to each coordinate of `x0`;
        `None` (default) starts exactly at `x0`.
    - `dt`: time between samples, in time units (default 0.1; one turn around the attractor takes about 6).
    - `h`: RK4 step, in time units; `h > 0` and `dt / h` a whole number (default 0.01).
    - `a`, `b`, `c`: the Rössler parameters (defaults 0.2, 0.2, 5.7: the classic chaotic band).
    - `transient`: time units integrated and discarded before the first sample (default 200; rounded to a whole
        number of steps `h`).
    - `x0`: initial state `(x, y, z)` (default `(1, 1, 1)`).

    **Returns:**

    A `TimeSeries` of shape `(n_steps, 3)` with `dt = dt`. For the default parameters `lyapunov_exponent` is
    0.0714 per time unit (Sprott 2003, "Chaos and Time-Series Analysis", Oxford Univ. Press, Lyapunov time about
    14 time units); otherwise `None`.
    """
    n_steps = _positive_int("n_steps", n_steps)
    h = _positive("h", h)
    dt = _positive("dt", dt)
    substeps = _ratio_steps("dt", dt, "h", h)
    a, b, c = (_real(n, v) for n, v in (("a", a), ("b", b), ("c", c)))
    transient = _nonnegative("transient", transient)
    y0 = _initial_vector("x0", x0, (1.0, 1.0, 1.0), 3)
    dtype = _default_float()
    values = _sample_ode(
        _rossler_field,
        jnp.asarray(y0, dtype),
        1.0,
        key,
        jnp.asarray([a, b, c], dtype),
        jnp.asarray(h, dtype),
        round(transient / h),
        substeps,
        n_steps,
    )
    values = _check_finite(
        values, "the Rössler trajectory diverged to infinity; check `x0` and the parameters"
    )
    standard = _close(a, 0.2) and _close(b, 0.2) and _close(c, 5.7)
    return TimeSeries(values, dt, "rossler", _ROSSLER_LE if standard else None)


# --------------------------------------------------------------------------------------------------------------
# Hénon map.


@eqx.filter_jit
def _sample_henon(
    y0: Array, key: PRNGKeyArray | None, params: Array, n_transient: int, n_steps: int
) -> Array:
    if key is not None:
        y0 = y0 + jax.random.uniform(key, y0.shape, y0.dtype, minval=-0.1, maxval=0.1)
    a, b = params

    def step(y, _):
        x, yy = y
        return jnp.stack([1 - a * x**2 + yy, b * x]), None

    y, _ = jax.lax.scan(step, y0, None, length=n_transient)

    def sample(y, _):
        y_next, _ = step(y, None)
        return y_next, y

    _, ys = jax.lax.scan(sample, y, None, length=n_steps)
    return ys


def henon(
    n_steps: int,
    *,
    key: PRNGKeyArray | None = None,
    a: RealScalarLike = 1.4,
    b: RealScalarLike = 0.3,
    transient: int = 1000,
    x0: ArrayLike | Sequence[float] | None = None,
) -> TimeSeries:
    r"""The Hénon map (Hénon 1976, Commun. Math. Phys. 50:69):

    $$x_{k+1} = 1 - a x_k^2 + y_k, \qquad y_{k+1} = b x_k.$$

    **Arguments:**

    - `n_steps`: number of iterates returned (positive int).
    - `key`: optional PRNG key. If given, uniform noise U[-0.1, 0.1] is added to each coordinate of `x0` (small,
        so the start stays in the basin of the attractor); `None` (default) starts exactly at `x0`.
    - `a`, `b`: the map parameters (defaults 1.4 and 0.3: Hénon's chaotic values).
    - `transient`: iterations discarded before the first sample (non-negative int, default 1000).
    - `x0`: initial point `(x, y)` (default `(0, 0)`). Points far from the attractor escape to infinity, which
        raises an error.

    **Returns:**

    A `TimeSeries` of shape `(n_steps, 2)` with `dt = 1` (one iteration). For the default parameters
    `lyapunov_exponent` is 0.41922 per iteration (Sprott 2003, "Chaos and Time-Series Analysis"); otherwise
    `None`.
    """
    n_steps = _positive_int("n_steps", n_steps)
    a, b = _real("a", a), _real("b", b)
    transient = _nonnegative_int("transient", transient)
    y0 = _initial_vector("x0", x0, (0.0, 0.0), 2)
    dtype = _default_float()
    values = _sample_henon(jnp.asarray(y0, dtype), key, jnp.asarray([a, b], dtype), transient, n_steps)
    values = _check_finite(values, "the Hénon orbit escaped to infinity; choose `x0` closer to the attractor")
    standard = _close(a, 1.4) and _close(b, 0.3)
    return TimeSeries(values, 1.0, "henon", _HENON_LE if standard else None)


# --------------------------------------------------------------------------------------------------------------
# Mackey-Glass delay differential equation.


@eqx.filter_jit
def _sample_mackey_glass(
    x0: Array,
    key: PRNGKeyArray | None,
    params: Array,
    h: Array,
    exponent: RealScalarLike,
    delay_steps: int,
    n_transient: int,
    substeps: int,
    n_steps: int,
    method: str,
) -> Array:
    a, b = params
    m = delay_steps
    size = m + 1  # ring buffer of the nodes t - tau, t - tau + h, ..., t

    def field(x, x_delayed):
        return a * x_delayed / (1 + x_delayed**exponent) - b * x

    xs = jnp.full((size,), x0)
    if key is not None:
        xs = xs + 0.1 * jax.random.uniform(key, (size,), xs.dtype, minval=-1.0, maxval=1.0)
    ds = jnp.zeros((size,), xs.dtype)
    # oldest: slot of the node t - tau; k: index of the current node t = k h.
    state = (xs, ds, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))

    def euler_step(state, _):
        xs, ds, oldest, k = state
        current = (oldest + m) % size
        x = xs[current]
        x_new = x + h * field(x, xs[oldest])
        xs = xs.at[oldest].set(x_new)  # the node t - tau is no longer needed; it becomes t + h
        return (xs, ds, (oldest + 1) % size, k + 1), None

    def rk4_step(state, _):
        xs, ds, oldest, k = state
        current = (oldest + m) % size
        following = (oldest + 1) % size  # the node t - tau + h
        x = xs[current]
        x_d0 = xs[oldest]
        k1 = field(x, x_d0)
        ds = ds.at[current].set(k1)  # x'(t), the slope stored for later Hermite interpolation
        x_d1 = xs[following]
        # The node t - tau + h is t = 0 when k = m - 1: there the left slope is the history's (0), not x'(0+).
        d_d0 = ds[oldest]
        d_d1 = jnp.where(k == m - 1, jnp.zeros_like(k1), ds[following])
        x_mid = 0.5 * (x_d0 + x_d1) + (h / 8) * (d_d0 - d_d1)  # cubic Hermite at the midpoint
        k2 = field(x + 0.5 * h * k1, x_mid)
        k3 = field(x + 0.5 * h * k2, x_mid)
        k4 = field(x + h * k3, x_d1)
        x_new = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        xs = xs.at[oldest].set(x_new)
        return (xs, ds, following, k + 1), None

    step = rk4_step if method == "rk4" else euler_step
    state, _ = jax.lax.scan(step, state, None, length=n_transient)

    def sample(state, _):
        xs, _, oldest, _ = state
        x = xs[(oldest + m) % size]
        state, _ = jax.lax.scan(step, state, None, length=substeps)
        return state, x

    _, values = jax.lax.scan(sample, state, None, length=n_steps)
    return values[:, None]


def mackey_glass(
    n_steps: int,
    *,
    key: PRNGKeyArray | None = None,
    tau: RealScalarLike = 17.0,
    a: RealScalarLike = 0.2,
    b: RealScalarLike = 0.1,
    n: RealScalarLike = 10,
    sample_every: RealScalarLike = 1.0,
    h: RealScalarLike = 0.1,
    method: str = "rk4",
    transient: RealScalarLike = 1000.0,
    x0: RealScalarLike = 1.2,
) -> TimeSeries:
    r"""The Mackey-Glass delay differential equation (Mackey & Glass 1977, Science 197:287):

    $$\frac{dx}{dt} = a \frac{x(t - \tau)}{1 + x(t - \tau)^n} - b\, x(t).$$

    The delay makes the state a function on `[t - tau, t]`; it is kept as a ring buffer of the `tau / h + 1`
    values on the step grid `t - tau, ..., t - h, t`, which is why `tau` must be a whole multiple of `h` (the
    derivative jumps of a DDE then fall on grid points, and the delayed value at a grid time is exact).

    Two integrators, chosen by `method`:

    - `"rk4"` (default): classical RK4 with step `h`. Its two middle stages need `x(t - tau + h/2)`, which lies
        between grid nodes; it is taken from the **cubic Hermite** interpolant of the neighbouring nodes and their
        slopes `x'` (the slopes are the RK4 first stages, stored in a second ring buffer). The interpolation error
        is O(h^4), so the scheme stays fourth order (method of steps with Hermite dense output, as in Bellen &
        Zennaro 2003, "Numerical Methods for Delay Differential Equations").
    - `"euler"`: the variant used for the echo state network benchmark of Jaeger 2001 (GMD Report 148) and
        Jaeger & Haas 2004 (Science 304:78): explicit Euler, `x(t + h) = x(t) + h f(x(t), x(t - tau))`, with
        `h = 1/10` and one sample every 10 steps (`sample_every = 1`). It is a first-order, slightly different
        discrete system; use it to reproduce that protocol, and `"rk4"` otherwise.

    **Arguments:**

    - `n_steps`: number of samples returned (positive int).
    - `key`: optional PRNG key. The initial history on `[-tau, 0]` is the constant `x0`; if `key` is given, every
        history node gets an independent perturbation `0.1 * U[-1, 1]`, so different keys give different
        trajectories. `None` (default) is the deterministic constant history. Between nodes the history is the
        cubic Hermite interpolant with zero slopes (exactly constant when unperturbed).
    - `tau`: the delay, in time units (default 17: the standard mildly chaotic benchmark; 30 is "wild").
    - `a`, `b`: production and decay rates, per time unit (defaults 0.2 and 0.1).
    - `n`: the Hill exponent of the production term (default 10). A non-integer `n` needs `x > 0`.
    - `sample_every`: time units between returned samples; a whole multiple of `h` (default 1).
    - `h`: integration step, in time units (default 0.1, Jaeger's 1/10); `tau / h` and `sample_every / h` must
        be whole numbers.
    - `method`: `"rk4"` or `"euler"` (see above).
    - `transient`: time units integrated and discarded before the first sample (default 1000; rounded to a whole
        number of steps `h`).
    - `x0`: the constant initial history (default 1.2).

    **Returns:**

    A `TimeSeries` of shape `(n_steps, 1)` with `dt = sample_every`. For `tau = 17` with the default `a, b, n`,
    `lyapunov_exponent` is 0.0052 per time unit (Lyapunov time about 190 time units): a two-trajectory Benettin
    estimate on this generator's RK4 dynamics (h = 0.1 and 0.05, 2e5 time units; 0.0052 +- 0.0002, and 0.0070
    for `tau = 30`). Farmer 1982 (Physica D 4:366) computed the Lyapunov spectrum of this equation versus `tau`;
    the value often quoted for tau = 17 is about 0.006, so treat the exponent as approximate. For other
    parameters it is `None`.

    **Example:**

    ```python
    # Jaeger & Haas 2004 data: Euler h = 1/10, one sample per time unit, squashed with tanh(x - 1).
    series = tasks.mackey_glass(4084, method="euler", key=jax.random.key(0))
    y = jnp.tanh(series.values - 1)
    ```
    """
    n_steps = _positive_int("n_steps", n_steps)
    if method not in ("rk4", "euler"):
        raise ValueError(f"`method` must be 'rk4' or 'euler', got {method!r}")
    tau = _positive("tau", tau)
    h = _positive("h", h)
    a, b = _positive("a", a), _positive("b", b)
    exponent = _positive("n", n)
    if float(exponent).is_integer():
        exponent = int(exponent)  # integer power: exact, and defined for x < 0
    sample_every = _positive("sample_every", sample_every)
    delay_steps = _ratio_steps("tau", tau, "h", h)
    substeps = _ratio_steps("sample_every", sample_every, "h", h)
    transient = _nonnegative("transient", transient)
    x0 = _real("x0", x0)
    dtype = _default_float()
    values = _sample_mackey_glass(
        jnp.asarray(x0, dtype),
        key,
        jnp.asarray([a, b], dtype),
        jnp.asarray(h, dtype),
        exponent,
        delay_steps,
        round(transient / h),
        substeps,
        n_steps,
        method,
    )
    values = _check_finite(values, "the Mackey-Glass integration became non-finite; check `x0`, `n` and `h`")
    standard = _close(tau, 17.0) and _close(a, 0.2) and _close(b, 0.1) and _close(float(exponent), 10.0)
    return TimeSeries(values, sample_every, "mackey_glass", _MACKEY_GLASS_17_LE if standard else None)

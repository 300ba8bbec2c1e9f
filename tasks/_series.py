"""The `TimeSeries` container and the small validation helpers shared by the generators."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

RealScalarLike = float | int
"""A Python real number. Generator parameters are plain Python numbers: they fix array sizes and are checked
before anything is traced."""


class TimeSeries(eqx.Module):
    """A uniformly sampled, possibly multivariate time series and what is known about its source.

    `TimeSeries` is an immutable `equinox.Module`: `values` is its only array (a pytree leaf, so it passes through
    `jax.jit`, `jax.vmap` and friends), the rest is static metadata.

    **Fields:**

    - `values`: the samples, shape `(time, dim)`. Always 2-D, also for a scalar series (`dim = 1`).
    - `dt`: time between two consecutive samples, in the time unit of the generating equations (for a map, one
        iteration: `dt = 1`).
    - `name`: a short human-readable name of the source, e.g. `"lorenz"`.
    - `lyapunov_exponent`: the largest Lyapunov exponent of the source system, per time unit (not per sample), or
        `None` when no published value applies to the parameters used.

    **Example:**

    ```python
    series = tasks.lorenz(5000, key=jax.random.key(0))
    train, test = series.split(4000)
    inputs, targets = train.one_step()           # predict x(t + dt) from x(t)
    horizon = 5 * series.lyapunov_time / series.dt   # five Lyapunov times, in samples
    ```
    """

    values: Float[Array, "time dim"]
    dt: float = eqx.field(static=True)
    name: str = eqx.field(static=True)
    lyapunov_exponent: float | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if jnp.ndim(self.values) != 2:
            raise ValueError(f"`values` must be a 2-D (time, dim) array, got shape {jnp.shape(self.values)}")
        if not (isinstance(self.dt, RealScalarLike) and math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"`dt` must be a positive finite number, got {self.dt!r}")
        if self.lyapunov_exponent is not None and not (
            isinstance(self.lyapunov_exponent, RealScalarLike) and math.isfinite(self.lyapunov_exponent)
        ):
            raise ValueError(
                f"`lyapunov_exponent` must be a finite number or None, got {self.lyapunov_exponent!r}"
            )

    @property
    def lyapunov_time(self) -> float | None:
        """One Lyapunov time, `1 / lyapunov_exponent`, in time units (`None` if the exponent is unknown or not
        positive). Errors in a forecast of a chaotic system grow by a factor e per Lyapunov time."""
        if self.lyapunov_exponent is None or self.lyapunov_exponent <= 0:
            return None
        return 1.0 / self.lyapunov_exponent

    @property
    def times(self) -> Float[Array, " time"]:
        """Sample times `dt * arange(len(self))`, measured from the first sample of this series."""
        return self.dt * jnp.arange(self.values.shape[0], dtype=self.values.dtype)

    def one_step(self) -> tuple[Float[Array, "steps dim"], Float[Array, "steps dim"]]:
        """The one-step-ahead prediction pair `(values[:-1], values[1:])`: `targets[t]` is the sample that follows
        `inputs[t]`. This is the teacher-forcing training set of an autonomous forecaster."""
        return self.values[:-1], self.values[1:]

    def split(self, n: int) -> tuple["TimeSeries", "TimeSeries"]:
        """Split into the first `n` samples and the remaining `len(self) - n`, both with the same metadata.

        **Arguments:**

        - `n`: number of samples in the first part; an int with `1 <= n <= len(self) - 1`, so that neither part is
            empty. The `times` of the second part start again at 0.
        """
        length = self.values.shape[0]
        if not _is_int(n) or not 1 <= n <= length - 1:
            raise ValueError(f"`n` must be an int in [1, {length - 1}] (len(self) - 1), got {n!r}")
        n = int(n)
        first = TimeSeries(self.values[:n], self.dt, self.name, self.lyapunov_exponent)
        rest = TimeSeries(self.values[n:], self.dt, self.name, self.lyapunov_exponent)
        return first, rest

    def __len__(self) -> int:
        return self.values.shape[0]

    def std(self) -> Float[Array, " dim"]:
        """Standard deviation of each dimension over time (population std, `ddof = 0`): the usual normaliser of
        NRMSE and of the valid-prediction-time error."""
        return jnp.std(self.values, axis=0)


# --------------------------------------------------------------------------------------------------------------
# Validation helpers (Python level, before tracing).


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _positive_int(name: str, value) -> int:
    if not _is_int(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}")
    return int(value)


def _nonnegative_int(name: str, value) -> int:
    if not _is_int(value) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative int, got {value!r}")
    return int(value)


def _real(name: str, value) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        # A ValueError (not TypeError) by the project's convention: every bad argument value is a ValueError.
        raise ValueError(f"`{name}` must be a real number, got {value!r}")  # noqa: TRY004
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value!r}")
    return value


def _positive(name: str, value) -> float:
    value = _real(name, value)
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0, got {value!r}")
    return value


def _nonnegative(name: str, value) -> float:
    value = _real(name, value)
    if value < 0:
        raise ValueError(f"`{name}` must be >= 0, got {value!r}")
    return value


def _ratio_steps(name: str, value: float, h_name: str, h: float) -> int:
    """`value / h` as an int >= 1, or a ValueError if it is not a whole number (relative tolerance 1e-6)."""
    ratio = value / h
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-6 * max(1.0, ratio):
        raise ValueError(
            f"`{name}` must be a whole positive multiple of `{h_name}`; got {name}={value!r}, {h_name}={h!r} "
            f"({name}/{h_name} = {ratio!r})"
        )
    return k


def _default_float():
    """The default floating dtype: float64 if `jax_enable_x64` is on, float32 otherwise."""
    return jnp.zeros(()).dtype


def _check_finite(values: Array, message: str, bound: float | None = None) -> Array:
    """Return `values`, or raise if it contains a NaN or inf (or, if `bound` is given, an entry with
    `|value| > bound`): a `ValueError` when `values` is concrete (eager call), an `eqx.error_if` runtime error
    when it is traced (under `jit`, `vmap`, `scan`)."""
    ok = jnp.isfinite(values)
    if bound is not None:
        ok = ok & (jnp.abs(values) <= bound)
    bad = ~jnp.all(ok)
    if isinstance(values, jax.core.Tracer):
        return eqx.error_if(values, bad, message)
    if bool(bad):
        raise ValueError(message)
    return values

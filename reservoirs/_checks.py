"""Input validation shared by the public entry points.

Two kinds of errors (STYLE.md, practice 10): shapes and configuration raise a Python `ValueError` at trace time;
values (NaN, inf) raise a `ValueError` when the array is concrete, and go through `eqx.error_if` when it is traced.
"""

from __future__ import annotations

import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

#: A real scalar hyperparameter as users pass it: a Python number, a NumPy scalar or a 0-d array.
RealLike = float | int | np.floating | np.integer | np.ndarray | jax.Array


def is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def check_positive(name: str, value, *, allow_zero: bool = False) -> None:
    """Reject a non-positive (or negative, with `allow_zero`) scalar hyperparameter, unless it is traced."""
    if value is None or is_traced(value):
        return
    v = np.asarray(value)
    if v.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {v.shape}")
    if not np.isfinite(v):
        raise ValueError(f"`{name}` must be finite, got {v.item()}")
    if allow_zero and v < 0:
        raise ValueError(f"`{name}` must be >= 0, got {v.item()}")
    if not allow_zero and v <= 0:
        raise ValueError(f"`{name}` must be > 0, got {v.item()}")


def check_interval(name: str, value, low: float, high: float, *, low_open: bool, high_open: bool) -> None:
    """Reject a scalar outside an interval, e.g. `leak` in (0, 1]."""
    if value is None or is_traced(value):
        return
    v = np.asarray(value)
    if v.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {v.shape}")
    bad_low = v <= low if low_open else v < low
    bad_high = v >= high if high_open else v > high
    if not np.isfinite(v) or bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"`{name}` must be in {lo}{low}, {high}{hi}, got {v.item()}")


def check_int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value}")
    return int(value)


def as_series(name: str, x, *, dim: int | None, dtype=None) -> jax.Array:
    """Turn `x` into a `(time, dim)` array and reject wrong shapes and non-finite values.

    A 1-D array is read as one channel, `(time,)` -> `(time, 1)`.
    """
    if x is None:
        raise ValueError(f"`{name}` must be an array of shape (time, {dim if dim is not None else 'dim'}), got None")
    x = jnp.asarray(x, dtype=dtype)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape (time, {dim if dim is not None else 'dim'}), got {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"`{name}` must have shape (time, {dim}), got {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"`{name}` must contain at least one time step, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return check_finite(name, x)


def check_finite(name: str, x: jax.Array) -> jax.Array:
    """NaN/inf in data: a `ValueError` when concrete, an `eqx.error_if` runtime error when traced."""
    if is_traced(x):
        return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"`{name}` contains NaN or inf")
    # NumPy, not jnp: a concrete array closed over inside `jit` would otherwise give a traced predicate.
    values = np.asarray(x)
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))
        raise ValueError(f"`{name}` contains NaN or inf (first at index {tuple(int(i) for i in bad[0])})")
    return x


def check_reservoir(reservoir) -> None:
    from ._reservoir import AbstractReservoir

    if not isinstance(reservoir, AbstractReservoir):
        raise ValueError(f"`reservoir` must be an AbstractReservoir, got {type(reservoir).__name__}")


def check_key(reservoir, key, name: str = "key") -> None:
    if reservoir.stochastic and key is None:
        raise ValueError(f"`{name}` is required: this reservoir is stochastic (its `step` draws noise)")

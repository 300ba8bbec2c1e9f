"""Input validation shared by the public entry points.

Two kinds of errors (STYLE.md, practice 10): shapes and configuration raise a Python `ValueError` at trace time;
values (NaN, inf) raise a `ValueError` when the array is concrete, and go through `eqx.error_if` when it is traced.
"""

from __future__ import annotations

import numbers
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

#: A real scalar hyperparameter as users pass it: a Python number, a NumPy scalar or a 0-d array.
RealLike = float | int | np.floating | np.integer | np.ndarray | jax.Array


def is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _real(name: str, value) -> np.ndarray:
    """`value` as a 0-d real NumPy array; a `ValueError` naming `name` for a string, a bool, a complex number,
    None, an object that is not a number, or an array with more than one element."""
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise ValueError(f"`{name}` must be a real number, got {value!r}")
    try:
        v = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything NumPy cannot read is not a number
        raise ValueError(f"`{name}` must be a real number, got {value!r}") from None
    if v.dtype.kind not in "iuf":
        raise ValueError(f"`{name}` must be a real number, got {value!r} ({v.dtype})")
    if v.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {v.shape}")
    return v


def check_positive(name: str, value, *, allow_zero: bool = False) -> None:
    """Reject a non-positive (or negative, with `allow_zero`) scalar hyperparameter, unless it is traced.

    `None` is accepted (an optional argument left out); a string, a bool or a complex number is rejected.
    """
    if value is None or is_traced(value):
        return
    _record(name, check_positive, {"allow_zero": allow_zero})
    v = _real(name, value)
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
    _record(name, check_interval, {"low": low, "high": high, "low_open": low_open, "high_open": high_open})
    v = _real(name, value)
    bad_low = v <= low if low_open else v < low
    bad_high = v >= high if high_open else v > high
    if not np.isfinite(v) or bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"`{name}` must be in {lo}{low}, {high}{hi}, got {v.item()}")


def real_scalar(name: str, value, dtype) -> jax.Array:
    """`value` as a 0-d array of the floating `dtype`, rejecting what the cast would corrupt.

    A value that is not a real number (a string, None, a bool, a complex number) raises a `ValueError`
    (``"`gain` must be a real number, got '1.0'"``), and so does one that overflows `dtype` (1e39 in float32 would
    become inf, and the weights NaN) or that a non-zero value underflows to zero. A traced value is only cast.
    """
    if is_traced(value):
        return jnp.asarray(value, dtype)
    v = _real(name, value)
    check_representable(name, v, dtype)
    return jnp.asarray(v, dtype)


def check_representable(name: str, value, dtype) -> None:
    """Reject a finite, concrete scalar that becomes inf (overflow) or 0 (underflow) when cast to `dtype`."""
    if is_traced(value):
        return
    v = np.asarray(value, dtype=np.float64)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating) or not np.isfinite(v):
        return
    with np.errstate(over="ignore", under="ignore"):
        cast = v.astype(dtype)
    if not np.isfinite(cast):
        raise ValueError(
            f"`{name}` = {v.item():g} overflows {dtype} (largest finite value {np.finfo(dtype).max:.3g}): it would "
            "become inf and the weights NaN"
        )
    if v != 0 and cast == 0:
        raise ValueError(f"`{name}` = {v.item():g} underflows {dtype} to 0 (smallest {np.finfo(dtype).tiny:.3g})")


def check_int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value}")
    return int(value)


def as_series(name: str, x, *, dim: int | None, dtype=None) -> jax.Array:
    """Turn `x` into a `(time, dim)` array and reject wrong shapes, complex and non-finite values.

    A 1-D array is read as one channel, `(time,)` -> `(time, 1)`. With `dim=None` (any number of channels) at least
    one channel is required: a `(time, 0)` array raises.
    """
    if x is None:
        raise ValueError(f"`{name}` must be an array of shape (time, {dim if dim is not None else 'dim'}), got None")
    if _is_complex(x):
        raise ValueError(
            f"`{name}` must be real, got a complex array: the imaginary part would be silently dropped (pass "
            f"`x.real`, or the real and imaginary parts as separate channels)"
        )
    x = jnp.asarray(x, dtype=dtype)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape (time, {dim if dim is not None else 'dim'}), got {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"`{name}` must have shape (time, {dim}), got {x.shape}")
    if dim is None and x.shape[1] == 0:
        raise ValueError(f"`{name}` must have at least one channel, got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"`{name}` must contain at least one time step, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return check_finite(name, x)


def _is_complex(x) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return jnp.issubdtype(dtype, jnp.complexfloating)
    try:
        return bool(np.iscomplexobj(np.asarray(x)))
    except Exception:  # noqa: BLE001 - jnp.asarray reports what NumPy cannot read
        return False


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
    """A stochastic reservoir needs a PRNG key; a key that is given must be one (not an int seed)."""
    if key is None:
        if reservoir.stochastic:
            cls = type(reservoir).__name__
            raise ValueError(
                f"`{name}` is required: this {cls} is stochastic (its `step` draws noise at every step, e.g. "
                f"thermal, read or background noise), so pass `{name}=jax.random.key(0)` (the same key gives the "
                f"same result, bit for bit), or configure the {cls} without noise"
            )
        return
    dtype = getattr(key, "dtype", None)
    if dtype is None or not (
        jnp.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == np.uint32 and np.shape(key)[-1:] == (2,))
    ):
        raise ValueError(f"`{name}` must be a PRNG key such as `jax.random.key(0)`, got {key!r}")


def check_state(reservoir, state, name: str = "state") -> None:
    """Reject a `state` whose pytree structure or leaf shapes differ from `reservoir.init_state()`.

    The message names `state` and lists the expected shapes, e.g. ``"`state` must have the structure and shapes of
    `reservoir.init_state()`, (40,); got (41,)"``. Dtypes are not checked (a float32 state may start a float64 run).
    """
    expected = jax.eval_shape(reservoir.init_state)
    exp_leaves, exp_tree = jax.tree.flatten(expected)
    try:
        got_leaves, got_tree = jax.tree.flatten(state)
    except Exception:  # noqa: BLE001
        got_leaves, got_tree = None, None
    want = _shapes(expected)
    if got_tree != exp_tree:
        raise ValueError(
            f"`{name}` must have the structure and shapes of `reservoir.init_state()` for this "
            f"{type(reservoir).__name__}: {want}; got {_shapes(state)}"
        )
    for e, g in zip(exp_leaves, got_leaves, strict=True):
        if tuple(np.shape(g)) != tuple(e.shape):
            raise ValueError(
                f"`{name}` must have the structure and shapes of `reservoir.init_state()` for this "
                f"{type(reservoir).__name__}: {want}; got {_shapes(state)}"
            )


def _shapes(tree) -> str:
    """Leaf shapes of a state, e.g. "(40,)" for an array, "LSMState(.v=(135,), .i_exc=(135,), ...)" for a pytree."""
    try:
        leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    except Exception:  # noqa: BLE001
        return type(tree).__name__
    if len(leaves) == 1 and not leaves[0][0]:
        return str(tuple(np.shape(leaves[0][1])))
    parts = [f"{jax.tree_util.keystr(path)}={tuple(np.shape(leaf))}" for path, leaf in leaves]
    return f"{type(tree).__name__}(" + ", ".join(parts) + ")"


# --------------------------------------------------------------------------------------------------------------
# Checking a swept leaf with the constraints its constructor enforced
# --------------------------------------------------------------------------------------------------------------

#: class -> {argument name: (check function, keyword arguments)}, filled when a reservoir's `__init__` validates an
#: argument with `check_positive` / `check_interval`, so that `sweep` can apply the same check to a swept leaf.
_LEAF_CHECKS: dict[type, dict[str, tuple]] = {}


def _record(name: str, fn, kwargs: dict) -> None:
    """Remember the check of `name` for the reservoir class whose `__init__` is calling (looked up a few frames up).

    The `check_*` call sits in the constructor or in a helper it calls; anything else (a metric, a method) is
    ignored: the first `__init__` found decides, and only a reservoir's counts.
    """
    frame = sys._getframe(1)
    for _ in range(12):  # a few helpers deep, plus the wrappers of runtime type checkers (jaxtyping, beartype)
        if frame is None:
            return
        if frame.f_code.co_name == "__init__" and "self" in frame.f_locals:
            owner = frame.f_locals["self"]
            if _is_reservoir(owner):
                _LEAF_CHECKS.setdefault(type(owner), {})[name] = (fn, kwargs)
            return
        frame = frame.f_back


def _is_reservoir(obj) -> bool:
    from ._reservoir import AbstractReservoir

    return isinstance(obj, AbstractReservoir)


def check_leaf(reservoir, name: str, value) -> None:
    """Reject a value of the scalar leaf `name` that the reservoir's constructor would reject.

    A reservoir class may define `check_leaf(name, value)` itself (the `ESN` does); otherwise the constraint that its
    `__init__` applied to the argument of the same name with `check_positive` / `check_interval` is applied again.
    In every case the value must be a real number that the leaf's dtype can hold (no overflow to inf).
    """
    hook = getattr(type(reservoir), "check_leaf", None)
    if callable(hook):
        reservoir.check_leaf(name, value)
    else:
        rule = _LEAF_CHECKS.get(type(reservoir), {}).get(name)
        if rule is not None:
            fn, kwargs = rule
            fn(name, value, **kwargs)
    leaf = getattr(reservoir, name, None)
    _real(name, value)
    if leaf is not None and eqx.is_array(leaf):
        check_representable(name, value, leaf.dtype)

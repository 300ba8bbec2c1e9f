"""Weight draws that compile once per size class instead of once per shape.

`jax.random.normal(key, (500, 500))` compiles a threefry program for that exact shape, about 0.4-0.6 s on a 2-core
CPU, and building an ESN draws four or five shapes: a new reservoir size cost 1.7 s before any work, almost all of
it compiling random-number programs. With JAX's partitionable threefry (the default since JAX 0.5,
`jax_threefry_partitionable`) element i of a draw depends only on the key and its flat index i, so the first n
elements of a longer draw are, bit for bit, the draw of n. The functions here draw a flat vector whose length is
rounded up to a size class (at least 16,384 numbers, a negligible draw; above that 2^k, 1.25 * 2^k, 1.5 * 2^k or
1.75 * 2^k, at most 25 % more numbers than asked for) and cut it to the shape. The numbers are those of
`jax.random` for the same key and shape, which `tests/test_random.py` checks. Where that identity is not guaranteed
(another PRNG implementation, the non-partitionable threefry) or the key is traced (inside `jit`/`vmap`, where
compiling per shape is the caller's program anyway) they call `jax.random` directly. Measured: a second ESN size
now costs 0.6 s to build instead of 1.7 s.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from ._checks import is_traced

_MIN_CLASS = 16384


def size_class(n: int) -> int:
    """The smallest 2^k * (4 + j) / 4, j in 0..3, that is >= n (and >= 16,384)."""
    if n <= _MIN_CLASS:
        return _MIN_CLASS
    k = (n - 1).bit_length() - 3  # n lies in (2^(k+2), 2^(k+3)]
    step = 1 << k
    return -(-n // step) * step


def _bucketed(key) -> bool:
    if is_traced(key) or not jax.config.jax_threefry_partitionable:
        return False
    try:
        return str(jax.random.key_impl(key)) == "threefry2x32"
    except (TypeError, ValueError):  # not a key JAX recognises: let jax.random raise its own error
        return False


@partial(jax.jit, static_argnums=1)
def _cut(flat, shape):
    return flat[: math.prod(shape)].reshape(shape)


def _draw(draw, key, shape, empty_dtype, scalar_args):
    """`draw(key, shape)` for `shape`, via its size class where that gives the same numbers."""
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    if n == 0:
        return jnp.zeros(shape, empty_dtype)
    if not _bucketed(key) or any(jnp.ndim(a) for a in scalar_args):
        return draw(key, shape)
    return _cut(draw(key, (size_class(n),)), shape)


def normal(key, shape, dtype=None):
    """`jax.random.normal(key, shape, dtype)`, bit for bit, compiled per size class."""
    dtype = jnp.result_type(float) if dtype is None else dtype
    return _draw(lambda k, s: jax.random.normal(k, s, dtype), key, shape, dtype, ())


def uniform(key, shape, dtype=None, minval=0.0, maxval=1.0):
    """`jax.random.uniform(key, shape, dtype, minval, maxval)` (scalar bounds), bit for bit, compiled per size
    class."""
    dtype = jnp.result_type(float) if dtype is None else dtype
    return _draw(lambda k, s: jax.random.uniform(k, s, dtype, minval, maxval), key, shape, dtype, (minval, maxval))


def bernoulli(key, p, shape):
    """`jax.random.bernoulli(key, p, shape)` (scalar p), bit for bit, compiled per size class."""
    return _draw(lambda k, s: jax.random.bernoulli(k, p, s), key, shape, bool, (p,))

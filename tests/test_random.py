"""The size-class draws of `reservoirs._random` are `jax.random`'s numbers, bit for bit, and compile once per class."""

import jax
import jax.numpy as jnp
import reservoirs as rc
from reservoirs import _random


def test_size_classes_cover_every_size_with_at_most_a_quarter_more():
    assert _random.size_class(1) == 16384 and _random.size_class(16384) == 16384
    assert [_random.size_class(n) for n in (16385, 20480, 20481, 24577, 28673, 32768, 32769)] == [20480, 20480, 24576, 28672, 32768, 32768, 40960]
    for n in range(16385, 2_000_000, 997):
        c = _random.size_class(n)
        assert n <= c < 1.25 * n + 1


def test_draws_equal_jax_random_bit_for_bit():
    # the identity the module relies on (partitionable threefry): if a JAX release breaks it, this fails
    key = jax.random.key(3)
    for shape, dtype in (((7, 3), jnp.float64), ((257, 2), jnp.float32), ((2, 5, 11), jnp.float64)):
        assert jnp.array_equal(_random.normal(key, shape, dtype), jax.random.normal(key, shape, dtype))
        assert _random.normal(key, shape, dtype).dtype == dtype
    for shape, dtype in (((7, 3), jnp.float64), ((300,), jnp.float32)):
        assert jnp.array_equal(_random.uniform(key, shape, dtype, -1.0, 1.0),
                               jax.random.uniform(key, shape, dtype, -1.0, 1.0))
    assert jnp.array_equal(_random.bernoulli(key, 0.3, (9, 4)), jax.random.bernoulli(key, 0.3, (9, 4)))
    assert _random.normal(key, (0, 4)).shape == (0, 4) and _random.bernoulli(key, 0.5, (3, 0)).dtype == bool


def test_traced_keys_and_array_bounds_fall_through_to_jax_random():
    key = jax.random.key(0)
    direct = jax.random.normal(key, (40, 40))
    assert jnp.array_equal(jax.jit(lambda k: _random.normal(k, (40, 40)))(key), direct)
    lo = jnp.zeros((5,))
    assert jnp.array_equal(_random.uniform(key, (5,), None, lo, 1.0), jax.random.uniform(key, (5,), None, lo, 1.0))


def test_a_new_reservoir_size_compiles_no_new_random_program(caplog):
    # 300 and 310 units share every size class: W 90,000 and 96,100 -> 98,304; bias and W_in -> 16,384
    rc.ESN(1, 300, key=jax.random.key(0))
    with jax.log_compiles(), caplog.at_level("WARNING"):
        esn = rc.ESN(1, 310, key=jax.random.key(1))
    compiled = [r.getMessage() for r in caplog.records if "Finished XLA compilation" in r.getMessage()]
    assert compiled, "the log should show the small per-shape programs (the cut, the spectral radius)"
    assert not [m for m in compiled if "_normal" in m or "_uniform" in m or "_threefry" in m], compiled
    assert jnp.array_equal(esn.bias, jax.random.uniform(jax.random.split(jax.random.key(1), 6)[4], (310,),
                                                        esn.bias.dtype, -1.0, 1.0))

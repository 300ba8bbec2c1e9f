"""Test configuration: accuracy comparisons run in float64.

The library never flips `jax_enable_x64` on import; the tests do, here, once. Float32 behaviour is tested with
explicit `dtype=jnp.float32` or inside `jax.enable_x64(False)`.
"""

import jax

jax.config.update("jax_enable_x64", True)

import gc

import pytest


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_code_between_modules():
    """Drop JAX's compiled executables after each test module: they are rarely shared across modules, and kept
    they add up to more than the suite's 2 GB memory budget."""
    yield
    jax.clear_caches()
    gc.collect()

"""Test configuration: accuracy comparisons run in float64.

The library never flips `jax_enable_x64` on import; the tests do, here, once. Float32 behaviour is tested with
explicit `dtype=jnp.float32`.
"""

import jax

jax.config.update("jax_enable_x64", True)

"""Benchmark tasks for reservoir computing: chaotic time series and input-output systems.

Every generator is deterministic given its arguments and PRNG key, runs as one jitted `jax.lax.scan`, and
returns arrays in JAX's default float dtype (float64 under `jax_enable_x64`, float32 otherwise).
"""

from ._chaotic import henon as henon
from ._chaotic import lorenz as lorenz
from ._chaotic import mackey_glass as mackey_glass
from ._chaotic import rossler as rossler
from ._classification import ClassificationTask as ClassificationTask
from ._classification import delayed_xor as delayed_xor
from ._classification import sine_square as sine_square
from ._classification import temporal_patterns as temporal_patterns
from ._narma import narma10 as narma10
from ._series import TimeSeries as TimeSeries

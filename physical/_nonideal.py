"""Device non-idealities, one composable and seeded set for every substrate.

Two kinds:

- **Static** (drawn once, when the device is built or programmed, from the construction key): quantisation of
  programmed conductances or weights, programming noise, device-to-device variability, stuck-at faults and
  conductance drift. `NonIdealities.program` applies them to an array of target conductances; `vary` applies the
  device-to-device spread to a device parameter.
- **Dynamic** (drawn at every step, from the step key): read noise, detector noise, and the finite resolution of
  the converters (DAC on the way in, ADC on the way out).

Every field's default switches its effect off, and with all of them off every method returns its input unchanged
(bit for bit): the ideal model. A substrate whose configuration has any dynamic noise is `stochastic`, so `fit`,
`forecast` and the diagnostics ask for a key.

The noise models follow the phase-change-memory statistics of Nandakumar et al. 2019 ("Phase-change memory
models for deep learning training and inference", IEEE ICECS 2019, as used in IBM's aihwkit) and Joshi et al.
2020 (Nat. Commun. 11:2473): Gaussian programming noise with a standard deviation in units of the conductance
range, Gaussian read noise proportional to the conductance, drift g(t) = g(t0) (t / t0)^(-nu) (Ielmini et al.
2007, IEEE Trans. Electron Devices 54:308) with nu ~ 0.05 for PCM. Converter quantisation is uniform: 2**bits
levels including both ends of a clipped full-scale range (so on a symmetric range zero is not a level).
"""

from __future__ import annotations

import math
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from reservoirs import _random
from reservoirs._checks import RealLike, is_traced

#: An integer as users pass it: a Python int or a NumPy integer scalar (bools are rejected).
IntLike = int | np.integer


def _is_real(v) -> bool:
    """A real number: Python or NumPy int/float (np.float32(0.1) included), or a 0-d real array; not a bool."""
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, numbers.Real):
        return True
    return isinstance(v, np.ndarray | jax.Array) and v.ndim == 0 and v.dtype.kind in "iuf"


def _is_int(v) -> bool:
    if isinstance(v, bool | np.bool_):
        return False
    return isinstance(v, numbers.Integral) or (
        isinstance(v, np.ndarray | jax.Array) and v.ndim == 0 and v.dtype.kind in "iu"
    )


def _nonneg(name, v):
    if not (_is_real(v) and math.isfinite(float(v)) and float(v) >= 0):
        raise ValueError(f"`{name}` must be a finite number >= 0, got {v!r}")
    return float(v)


def _bits(name, v):
    if v is None:
        return None
    if not _is_int(v) or not 1 <= int(v) <= 32:
        raise ValueError(f"`{name}` must be an integer number of bits in [1, 32] or None (ideal), got {v!r}")
    return int(v)


def quantize(x: Array, lo, hi, levels: int) -> Array:
    """Round `x` to the nearest of `levels` equally spaced values from `lo` to `hi` (inclusive), after clipping.

    `levels` >= 2; the result takes only the values `lo + k (hi - lo) / (levels - 1)`, k = 0..levels-1.
    """
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"`levels` must be an integer >= 2, got {levels!r}")
    if not (is_traced(lo) or is_traced(hi)) and not float(lo) < float(hi):
        raise ValueError(f"the full-scale range must have `lo` < `hi`, got [{lo}, {hi}]")
    step = (hi - lo) / (levels - 1)
    k = jnp.round((jnp.clip(x, lo, hi) - lo) / step)
    return lo + k * step


class NonIdealities(eqx.Module):
    """The non-idealities of a physical substrate. All off by default (the ideal device).

    **Static (applied when a device is programmed; see `program` and `vary`):**

    - `levels`: number of programmable conductance (or weight) levels, >= 2; or give `bits` (levels = 2**bits).
      None: continuous. Levels are equally spaced over the device's range `[g_min, g_max]`.
    - `bits`: conductance resolution in bits, >= 1 (`levels = 2**bits`). Give `levels` or `bits`, not both.
    - `programming_noise`: standard deviation of the programmed conductance, as a fraction of the range
      `g_max - g_min` (PCM: ~0.01-0.05, Nandakumar et al. 2019). Applied after quantisation; the result is clipped
      to the range.
    - `variability`: device-to-device variability, the relative standard deviation of each device's parameters
      (a conductance's gain factor; a dynamic device's constants). 0.2 means 20 %. Factors are log-normal, so they
      stay positive.
    - `stuck_on`, `stuck_off`: fractions of devices stuck at `g_max` / `g_min` (faults), in [0, 1].
    - `drift_nu`, `drift_time`, `drift_t0`: conductance drift g(t) = g(t0) (t / t0)^(-nu) read at `drift_time`
      seconds after programming (reference `drift_t0`, default 1 s). `drift_nu` 0 (default): no drift.

    **Dynamic (drawn every step from the step key):**

    - `read_noise`: relative standard deviation of every analog read (a conductance or a device current), >= 0.
    - `detector_noise`: standard deviation of additive detector noise, in units of the detector's full-scale
      range (photodiodes, current sense amplifiers), >= 0.
    - `dac_bits`: resolution of the digital-to-analog converter that writes inputs; None: ideal.
    - `adc_bits`: resolution of the analog-to-digital converter that reads features; None: ideal.

    Numbers may be Python or NumPy scalars (`np.float32(0.1)`, `np.int64(6)`); they are stored as Python floats and
    ints (static configuration). Bools are rejected: `read_noise=True` is a mistake, not a noise level.
    """

    levels: int | None = eqx.field(static=True, default=None)
    programming_noise: float = eqx.field(static=True, default=0.0)
    variability: float = eqx.field(static=True, default=0.0)
    stuck_on: float = eqx.field(static=True, default=0.0)
    stuck_off: float = eqx.field(static=True, default=0.0)
    drift_nu: float = eqx.field(static=True, default=0.0)
    drift_time: float = eqx.field(static=True, default=1.0)
    drift_t0: float = eqx.field(static=True, default=1.0)
    read_noise: float = eqx.field(static=True, default=0.0)
    detector_noise: float = eqx.field(static=True, default=0.0)
    dac_bits: int | None = eqx.field(static=True, default=None)
    adc_bits: int | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        *,
        levels: IntLike | None = None,
        bits: IntLike | None = None,
        programming_noise: RealLike = 0.0,
        variability: RealLike = 0.0,
        stuck_on: RealLike = 0.0,
        stuck_off: RealLike = 0.0,
        drift_nu: RealLike = 0.0,
        drift_time: RealLike = 1.0,
        drift_t0: RealLike = 1.0,
        read_noise: RealLike = 0.0,
        detector_noise: RealLike = 0.0,
        dac_bits: IntLike | None = None,
        adc_bits: IntLike | None = None,
    ):
        if levels is not None and bits is not None:
            raise ValueError("give either `levels` or `bits`, not both")
        bits = _bits("bits", bits)
        if bits is not None:
            levels = 2**bits
        if levels is not None and (not _is_int(levels) or int(levels) < 2):
            raise ValueError(f"`levels` must be an integer >= 2 or None (continuous), got {levels!r}")
        self.levels = None if levels is None else int(levels)
        self.programming_noise = _nonneg("programming_noise", programming_noise)
        self.variability = _nonneg("variability", variability)
        for name, v in (("stuck_on", stuck_on), ("stuck_off", stuck_off)):
            if not (_is_real(v) and 0 <= float(v) <= 1):
                raise ValueError(f"`{name}` must be a fraction in [0, 1], got {v!r}")
        if float(stuck_on) + float(stuck_off) > 1:
            raise ValueError(f"`stuck_on + stuck_off` must be <= 1, got {float(stuck_on) + float(stuck_off)}")
        self.stuck_on, self.stuck_off = float(stuck_on), float(stuck_off)
        self.drift_nu = _nonneg("drift_nu", drift_nu)
        for name, v in (("drift_time", drift_time), ("drift_t0", drift_t0)):
            if not (_is_real(v) and 0 < float(v) < float("inf")):
                raise ValueError(f"`{name}` must be a time in seconds > 0, got {v!r}")
        if float(drift_time) < float(drift_t0):
            raise ValueError(f"`drift_time` must be >= `drift_t0` ({drift_t0} s), got {drift_time}")
        self.drift_time, self.drift_t0 = float(drift_time), float(drift_t0)
        self.read_noise = _nonneg("read_noise", read_noise)
        self.detector_noise = _nonneg("detector_noise", detector_noise)
        self.dac_bits = _bits("dac_bits", dac_bits)
        self.adc_bits = _bits("adc_bits", adc_bits)

    # ---------------------------------------------------------------------------------------------------- static

    @property
    def ideal(self) -> bool:
        return self == NonIdealities()

    @property
    def stochastic(self) -> bool:
        """True if stepping the device draws noise (and so needs a key)."""
        return self.read_noise > 0 or self.detector_noise > 0

    def program(self, g_target: Float[Array, "..."], g_min, g_max, *, key: PRNGKeyArray) -> Float[Array, "..."]:
        """Conductances actually realised when programming `g_target` (siemens) into devices of range
        [`g_min`, `g_max`]: quantise, add programming noise, clip, apply device variability, stuck-at faults and
        drift, in that order (the order of a write-verify programming cycle followed by a later read)."""
        g = g_target
        k_prog, k_var, k_stuck = jax.random.split(key, 3)
        if self.levels is not None:
            g = quantize(g, g_min, g_max, self.levels)
        if self.programming_noise > 0:
            g = g + self.programming_noise * (g_max - g_min) * _random.normal(k_prog, g.shape, g.dtype)
            g = jnp.clip(g, g_min, g_max)
        if self.variability > 0:
            g = g * self.factors(k_var, g.shape, g.dtype)
        if self.stuck_on > 0 or self.stuck_off > 0:
            r = _random.uniform(k_stuck, g.shape, g.dtype)
            g = jnp.where(r < self.stuck_on, g_max, g)
            g = jnp.where((r >= self.stuck_on) & (r < self.stuck_on + self.stuck_off), g_min, g)
        if self.drift_nu > 0:
            g = g * (self.drift_time / self.drift_t0) ** (-self.drift_nu)
        return g

    def factors(self, key: PRNGKeyArray, shape, dtype) -> Array:
        """Log-normal device-to-device factors with mean 1 and relative standard deviation `variability`."""
        if self.variability == 0:
            return jnp.ones(shape, dtype)
        s2 = jnp.log1p(jnp.asarray(self.variability, dtype) ** 2)
        return jnp.exp(jnp.sqrt(s2) * _random.normal(key, shape, dtype) - s2 / 2)

    def vary(self, value, shape, *, key: PRNGKeyArray, dtype=None) -> Array:
        """A device parameter for each of `shape` devices: `value` times a log-normal device factor."""
        dtype = dtype or jnp.result_type(float)
        v = jnp.broadcast_to(jnp.asarray(value, dtype), shape)
        return v if self.variability == 0 else v * self.factors(key, shape, dtype)

    # --------------------------------------------------------------------------------------------------- dynamic

    def dac(self, v: Array, lo, hi) -> Array:
        """Write `v` through the DAC of full-scale range [lo, hi]: clip and quantise to 2**dac_bits levels.
        Ideal (None): `v` unchanged, not even clipped."""
        if self.dac_bits is None:
            return v
        return quantize(v, lo, hi, 2**self.dac_bits)

    def adc(self, x: Array, lo, hi) -> Array:
        """Read `x` through the ADC of full-scale range [lo, hi]. Ideal (None): unchanged."""
        if self.adc_bits is None:
            return x
        return quantize(x, lo, hi, 2**self.adc_bits)

    def read(self, x: Array, key: PRNGKeyArray | None) -> Array:
        """An analog read of `x` with multiplicative Gaussian read noise (relative std `read_noise`)."""
        if self.read_noise == 0:
            return x
        if key is None:
            raise ValueError("this substrate has read noise: pass `key=` to drive it")
        return x * (1 + self.read_noise * jax.random.normal(key, jnp.shape(x), jnp.result_type(x)))

    def detect(self, x: Array, full_scale, key: PRNGKeyArray | None) -> Array:
        """A detector reading of `x` with additive Gaussian noise of std `detector_noise * full_scale`."""
        if self.detector_noise == 0:
            return x
        if key is None:
            raise ValueError("this substrate has detector noise: pass `key=` to drive it")
        return x + self.detector_noise * full_scale * jax.random.normal(key, jnp.shape(x), jnp.result_type(x))

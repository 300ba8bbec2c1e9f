"""Forecast-quality metrics."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from ._checks import RealLike, as_series, check_positive, is_traced


def _pair(y_true, y_pred):
    y_true = as_series("y_true", y_true, dim=None)
    y_pred = as_series("y_pred", y_pred, dim=y_true.shape[1])
    if y_true.shape != y_pred.shape:
        raise ValueError(f"`y_pred` must have the shape of `y_true` {y_true.shape}, got {y_pred.shape}")
    return y_true, y_pred


def _sigma(sigma, dim: int, dtype) -> Array:
    """A per-output normaliser: a positive scalar (broadcast) or `dim` positive values."""
    s = jnp.asarray(sigma)
    if jnp.issubdtype(s.dtype, jnp.complexfloating) or not jnp.issubdtype(s.dtype, jnp.number):
        raise ValueError(f"`sigma` must be real and > 0, got dtype {s.dtype}")
    s = s.reshape(-1)
    if s.shape[0] == 1:
        s = jnp.broadcast_to(s, (dim,))
    if s.shape[0] != dim:
        raise ValueError(f"`sigma` must be a scalar or have {dim} components (one per output), got {s.shape[0]}")
    if not is_traced(s):
        v = np.asarray(s)
        if not np.all(np.isfinite(v) & (v > 0)):
            raise ValueError(f"`sigma` must be finite and > 0 for every output, got {v.tolist()}")
    return s.astype(dtype)


def _check_spread(spread, what: str, hint: str) -> None:
    """Raise when a normaliser computed from `y_true` is zero (a constant target)."""
    if is_traced(spread):
        return
    v = np.atleast_1d(np.asarray(spread))
    if np.any(v <= 0):
        bad = np.flatnonzero(v <= 0).tolist()
        where = f" in output(s) {bad}" if v.size > 1 else ""
        raise ValueError(f"`y_true` has zero {what}{where} (a constant target): the NRMSE is undefined; {hint}")


def nrmse(
    y_true: Float[ArrayLike, "time ..."],
    y_pred: Float[ArrayLike, "time_pred ..."],
    *,
    norm: str = "std",
    sigma: ArrayLike | Sequence[float] | None = None,
) -> Float[Array, ""]:
    r"""Normalised root-mean-square error.

    - `norm="std"` (default): each component is divided by the standard deviation of its true values, then the RMS
      is taken over time and components: $\sqrt{\mathrm{mean}_{t,i}\,((\hat y_i - y_i)/\sigma_i)^2}$. For one
      component this is the usual $\mathrm{RMSE}/\sigma$ of Jaeger & Haas 2004.
    - `norm="total"`: RMSE over the square root of the total variance, $\sqrt{\sum_t\lVert e_t\rVert^2 /
      \sum_t\lVert y_t - \bar y\rVert^2}$ (Gauthier et al. 2021).
    - `norm="range"`: RMSE / (max - min), the default of ReservoirPy's `nrmse`; values are *not* comparable with
      the σ-normalised ones (for a sine wave the range is 2√2 σ).

    `sigma` (with `norm="std"` only): the per-output normaliser σ_i to use instead of the std of `y_true`, a
    positive scalar or one positive value per output. Pass the training data's std when the test window is short
    (it under-estimates the attractor's spread) or constant.

    A `y_true` with a single time step, or with zero spread (a constant target, where the normaliser is 0 and the
    result would be inf or NaN), raises a `ValueError` unless `sigma` is given.
    """
    if norm not in ("std", "total", "range"):
        raise ValueError(f"`norm` must be one of ('std', 'total', 'range'), got {norm!r}")
    if sigma is not None and norm != "std":
        raise ValueError(f"`sigma` is the normaliser of norm='std'; it cannot be combined with norm={norm!r}")
    y_true, y_pred = _pair(y_true, y_pred)
    if sigma is not None:
        return _rms_scaled(y_true, y_pred, _sigma(sigma, y_true.shape[1], jnp.result_type(y_true, y_pred)))
    if y_true.shape[0] < 2:
        raise ValueError(
            "`y_true` has a single time step: its spread, the NRMSE's normaliser, is undefined; pass `sigma=` "
            "(e.g. the training data's standard deviation)"
        )
    value, spread = _nrmse_parts(y_true, y_pred, norm)
    if norm == "std":
        _check_spread(spread, "variance", "pass `sigma=` (e.g. the training data's standard deviation)")
    else:
        _check_spread(spread, "variance" if norm == "total" else "range", "pass `sigma=` with norm='std'")
    return value


# The arithmetic of the metrics as one compiled program per shape (run eagerly, each of its operations would be
# compiled on its own: five or six programs for every new series length).
@jax.jit
def _rms_scaled(y_true, y_pred, s):
    return jnp.sqrt(jnp.mean(((y_pred - y_true) / s) ** 2))


@partial(jax.jit, static_argnums=2)
def _nrmse_parts(y_true, y_pred, norm):
    """The NRMSE under `norm` and its normaliser (checked by the caller: zero means a constant target)."""
    err = y_pred - y_true
    if norm == "std":
        s = jnp.std(y_true, axis=0)
        return jnp.sqrt(jnp.mean((err / s) ** 2)), s
    if norm == "total":
        tot = jnp.sum((y_true - jnp.mean(y_true, axis=0)) ** 2)
        return jnp.sqrt(jnp.sum(err**2) / tot), tot
    rng = jnp.max(y_true) - jnp.min(y_true)
    return jnp.sqrt(jnp.mean(err**2)) / rng, rng


def forecast_error(
    y_true: Float[Array, "time dim"], y_pred: Float[Array, "time dim"], sigma: Float[Array, " dim"]
) -> Float[Array, " time"]:
    r"""Normalised error per time step, $e(t) = \sqrt{\mathrm{mean}_i ((\hat y_i(t) - y_i(t))/\sigma_i)^2}$."""
    return jnp.sqrt(jnp.mean(((y_pred - y_true) / sigma) ** 2, axis=1))


class VPTResult(NamedTuple):
    """`valid_prediction_time(..., return_capped=True)`: the VPT in Lyapunov times, and `capped`: True when the
    error never exceeded the threshold, so `value` is the window's full horizon and only a *lower bound*."""

    value: Float[Array, ""]
    capped: Bool[Array, ""]


def valid_prediction_time(
    y_true: Float[ArrayLike, "time ..."],
    y_pred: Float[ArrayLike, "time_pred ..."],
    *,
    dt: RealLike,
    lyapunov_time: RealLike,
    threshold: RealLike = 0.4,
    sigma: ArrayLike | Sequence[float] | None = None,
    return_capped: bool = False,
) -> Float[Array, ""] | VPTResult:
    r"""Valid prediction time in Lyapunov times (Pathak et al. 2018, PRL 120:024102; Vlachas et al. 2020).

    The first time at which $e(t) = \sqrt{\mathrm{mean}_i ((\hat y_i(t) - y_i(t))/\sigma_i)^2}$ exceeds
    `threshold`, times `dt / lyapunov_time`. `outputs[0]` is taken to be one step (`dt`) after the start, so a
    forecast that fails at its first step has VPT = 0 and one that never exceeds the threshold returns the full
    horizon `len * dt / lyapunov_time` (a lower bound: the window was too short; `return_capped=True` says so).
    NaN in `y_pred` (a diverged run) counts as above threshold.

    **Arguments:**

    - `dt`: time between samples, in the system's time units (> 0).
    - `lyapunov_time`: 1 / largest Lyapunov exponent, same units (> 0). Lorenz-63: 1.104.
    - `threshold`: default 0.4 (configurable).
    - `sigma`: per-component standard deviation of the attractor (> 0). Pass the training data's, since a short
      test window under-estimates it; defaults to the std of `y_true` (which must then not be constant).
    - `return_capped`: return a `VPTResult(value, capped)` instead of the value alone; `capped` is True when the
      error stayed below the threshold over the whole window (the VPT equals the horizon and is a lower bound).
      Default False (the value alone).

    Example:
        >>> import numpy as np, reservoirs as rc
        >>> truth = np.sin(np.arange(100) * 0.1)[:, None]
        >>> vpt, capped = rc.valid_prediction_time(truth, truth + 0.01, dt=0.1, lyapunov_time=1.0,
        ...                                        return_capped=True)
        >>> print(f"VPT {'>=' if capped else '='} {float(vpt):.1f} Lyapunov times")
        VPT >= 10.0 Lyapunov times
    """
    check_positive("dt", dt)
    check_positive("lyapunov_time", lyapunov_time)
    check_positive("threshold", threshold)
    y_true = as_series("y_true", y_true, dim=None)
    y_pred = jnp.asarray(y_pred)
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_pred.shape != y_true.shape:
        raise ValueError(f"`y_pred` must have the shape of `y_true` {y_true.shape}, got {y_pred.shape}")
    if sigma is None:
        if y_true.shape[0] < 2:
            raise ValueError("`y_true` has a single time step: pass `sigma=` (the training data's std)")
        sigma = jnp.std(y_true, axis=0)
        _check_spread(sigma, "variance", "pass `sigma=` (the training data's standard deviation)")
    else:
        sigma = _sigma(sigma, y_true.shape[1], y_true.dtype)
    vpt, capped = _vpt_parts(y_true, y_pred, sigma, threshold, dt, lyapunov_time)
    return VPTResult(vpt, capped) if return_capped else vpt


@jax.jit
def _vpt_parts(y_true, y_pred, sigma, threshold, dt, lyapunov_time):
    e = forecast_error(y_true, y_pred, sigma)
    bad = ~(e <= threshold)  # NaN counts as bad
    capped = ~jnp.any(bad)
    first = jnp.where(capped, y_true.shape[0], jnp.argmax(bad))
    return first * dt / lyapunov_time, capped


def mean_and_spread(values) -> dict:
    """Mean, median, standard deviation, min and max of a 1-D sample (for reporting over test windows)."""
    v = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
    }

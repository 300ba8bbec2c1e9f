"""Forecast-quality metrics."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._checks import RealLike, as_series, check_positive


def _pair(y_true, y_pred):
    y_true = as_series("y_true", y_true, dim=None)
    y_pred = as_series("y_pred", y_pred, dim=y_true.shape[1])
    if y_true.shape != y_pred.shape:
        raise ValueError(f"`y_pred` must have the shape of `y_true` {y_true.shape}, got {y_pred.shape}")
    return y_true, y_pred


def nrmse(
    y_true: Float[ArrayLike, "time ..."],
    y_pred: Float[ArrayLike, "time_pred ..."],
    *,
    norm: str = "std",
) -> Float[Array, ""]:
    r"""Normalised root-mean-square error.

    - `norm="std"` (default): each component is divided by the standard deviation of its true values, then the RMS
      is taken over time and components: $\sqrt{\mathrm{mean}_{t,i}\,((\hat y_i - y_i)/\sigma_i)^2}$. For one
      component this is the usual $\mathrm{RMSE}/\sigma$ of Jaeger & Haas 2004.
    - `norm="total"`: RMSE over the square root of the total variance, $\sqrt{\sum_t\lVert e_t\rVert^2 /
      \sum_t\lVert y_t - \bar y\rVert^2}$ (Gauthier et al. 2021).
    - `norm="range"`: RMSE / (max - min), the default of ReservoirPy's `nrmse`; values are *not* comparable with
      the σ-normalised ones (for a sine wave the range is 2√2 σ).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    err = y_pred - y_true
    if norm == "std":
        sigma = jnp.std(y_true, axis=0)
        return jnp.sqrt(jnp.mean((err / sigma) ** 2))
    if norm == "total":
        return jnp.sqrt(jnp.sum(err**2) / jnp.sum((y_true - jnp.mean(y_true, axis=0)) ** 2))
    if norm == "range":
        return jnp.sqrt(jnp.mean(err**2)) / (jnp.max(y_true) - jnp.min(y_true))
    raise ValueError(f"`norm` must be one of ('std', 'total', 'range'), got {norm!r}")


def forecast_error(
    y_true: Float[Array, "time dim"], y_pred: Float[Array, "time dim"], sigma: Float[Array, " dim"]
) -> Float[Array, " time"]:
    r"""Normalised error per time step, $e(t) = \sqrt{\mathrm{mean}_i ((\hat y_i(t) - y_i(t))/\sigma_i)^2}$."""
    return jnp.sqrt(jnp.mean(((y_pred - y_true) / sigma) ** 2, axis=1))


def valid_prediction_time(
    y_true: Float[ArrayLike, "time ..."],
    y_pred: Float[ArrayLike, "time_pred ..."],
    *,
    dt: RealLike,
    lyapunov_time: RealLike,
    threshold: RealLike = 0.4,
    sigma: Float[ArrayLike, " dim"] | None = None,
) -> Float[Array, ""]:
    r"""Valid prediction time in Lyapunov times (Pathak et al. 2018, PRL 120:024102; Vlachas et al. 2020).

    The first time at which $e(t) = \sqrt{\mathrm{mean}_i ((\hat y_i(t) - y_i(t))/\sigma_i)^2}$ exceeds
    `threshold`, times `dt / lyapunov_time`. `outputs[0]` is taken to be one step (`dt`) after the start, so a
    forecast that fails at its first step has VPT = 0 and one that never exceeds the threshold returns the full
    horizon `len * dt / lyapunov_time` (a lower bound: the window was too short). NaN in `y_pred` (a diverged
    run) counts as above threshold.

    **Arguments:**

    - `dt`: time between samples, in the system's time units (> 0).
    - `lyapunov_time`: 1 / largest Lyapunov exponent, same units (> 0). Lorenz-63: 1.104.
    - `threshold`: default 0.4 (configurable).
    - `sigma`: per-component standard deviation of the attractor. Pass the training data's, since a short
      test window under-estimates it; defaults to the std of `y_true`.
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
    sigma = jnp.std(y_true, axis=0) if sigma is None else jnp.asarray(sigma).reshape(-1)
    if sigma.shape[0] != y_true.shape[1]:
        raise ValueError(f"`sigma` must have {y_true.shape[1]} components, got {sigma.shape[0]}")
    e = forecast_error(y_true, y_pred, sigma)
    bad = ~(e <= threshold)  # NaN counts as bad
    n = y_true.shape[0]
    first = jnp.where(jnp.any(bad), jnp.argmax(bad), n)
    return first * dt / lyapunov_time


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

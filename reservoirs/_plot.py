"""Figures: a forecast against the truth, and a 3-D attractor."""

from __future__ import annotations

import numpy as np


def plot_forecast(
    truth,
    prediction,
    *,
    dt: float = 1.0,
    lyapunov_time: float | None = None,
    vpt: float | None = None,
    labels: tuple[str, ...] | None = None,
    title: str = "",
    ax=None,
):
    """Plot a closed-loop forecast against the truth, one panel per component.

    The time axis is in Lyapunov times when `lyapunov_time` is given, else in the series' time units. A valid
    prediction time `vpt` (in Lyapunov times) is drawn as a dashed line. Returns the matplotlib `Figure`.
    """
    import matplotlib.pyplot as plt

    truth = np.asarray(truth)
    prediction = np.asarray(prediction)
    if truth.ndim == 1:
        truth, prediction = truth[:, None], prediction[:, None]
    if truth.shape != prediction.shape:
        raise ValueError(f"`prediction` must have the shape of `truth` {truth.shape}, got {prediction.shape}")
    dim = truth.shape[1]
    t = (np.arange(truth.shape[0]) + 1) * dt
    unit = "time"
    if lyapunov_time:
        t = t / lyapunov_time
        unit = "Lyapunov times"
    if ax is None:
        fig, axes = plt.subplots(dim, 1, figsize=(8, 1.8 + 1.4 * dim), sharex=True, squeeze=False)
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    labels = labels or tuple(f"$x_{i + 1}$" for i in range(dim))
    for i, a in enumerate(axes[:dim]):
        a.plot(t, truth[:, i], color="k", lw=1.2, label="truth")
        a.plot(t, prediction[:, i], color="tab:red", lw=1.0, ls="--", label="forecast")
        if vpt is not None and lyapunov_time:
            a.axvline(vpt, color="tab:blue", lw=0.8, ls=":", label=f"VPT = {vpt:.2f}")
        a.set_ylabel(labels[i])
    axes[0].legend(loc="upper right", fontsize=8, ncol=3)
    axes[dim - 1].set_xlabel(unit)
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return fig


def plot_attractor(truth, prediction, *, title: str = "", ax=None):
    """Draw the true and the forecast trajectory of a 3-D system (e.g. Lorenz-63) in 3-D. Returns the Figure."""
    import matplotlib.pyplot as plt

    truth = np.asarray(truth)
    prediction = np.asarray(prediction)
    if truth.ndim != 2 or truth.shape[1] != 3:
        raise ValueError(f"`truth` must have shape (time, 3), got {truth.shape}")
    if ax is None:
        fig = plt.figure(figsize=(5.5, 5))
        ax = fig.add_subplot(projection="3d")
    else:
        fig = ax.figure
    ax.plot(*truth.T, color="k", lw=0.5, label="truth")
    ok = np.all(np.isfinite(prediction), axis=1)
    ax.plot(*prediction[ok].T, color="tab:red", lw=0.5, alpha=0.8, label="forecast")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    return fig

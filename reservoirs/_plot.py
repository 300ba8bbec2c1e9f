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


def plot_sweep(result):
    """Figure for a `SweepResult`: 1-D, the largest exponent, memory capacity and test error against the swept
    parameter with the edge of chaos marked; 2-D, phase diagrams of the exponent (zero contour = edge) and the
    error."""
    import matplotlib.pyplot as plt

    names = result.names
    if len(result.shape) == 1:
        x = result.params[names[0]]
        order = np.argsort(x)
        x = x[order]
        panels = []
        if result.lyapunov is not None:
            panels.append(("largest exponent (1/step)", result.lyapunov[order], "linear"))
        if result.memory_capacity is not None:
            panels.append(("memory capacity", result.memory_capacity[order], "linear"))
        panels.append(("test NRMSE", result.nrmse[order], "log"))
        fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels) + 0.6), sharex=True, squeeze=False)
        axes = axes[:, 0]
        edge = result.edge_of_chaos(names[0]) if result.lyapunov is not None and names[0] == "gain" else None
        bad = result.diverged[order]
        for ax, (label, y, scale) in zip(axes, panels, strict=True):
            ax.plot(x, y, "o-", ms=3, color="tab:blue")
            if bad.any():
                ax.plot(x[bad], np.zeros(bad.sum()) if scale == "linear" else np.ones(bad.sum()), "x",
                        color="tab:red", label="diverged")
            if scale == "log" and np.any(np.isfinite(y) & (y > 0)):
                ax.set_yscale("log")
            if label.startswith("largest"):
                ax.axhline(0, color="k", lw=0.6)
            if edge is not None:
                ax.axvline(edge, color="tab:red", ls="--", lw=1, label=f"edge of chaos {edge:.3g}")
            best = result.best_index
            if best is not None and label == "test NRMSE":
                ax.plot(result.params[names[0]][best], result.nrmse[best], "*", ms=12, color="gold",
                        markeredgecolor="k", label="best")
            ax.set_ylabel(label)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        axes[-1].set_xlabel(names[0])
        fig.tight_layout()
        return fig

    n1, n2 = result.shape
    p1 = result.params[names[0]].reshape(n1, n2)[:, 0]
    p2 = result.params[names[1]].reshape(n1, n2)[0, :]
    maps = []
    if result.lyapunov is not None:
        maps.append(("largest exponent (1/step)", result.lyapunov.reshape(n1, n2), "RdBu_r"))
    maps.append(("log10 test NRMSE", np.log10(result.nrmse.reshape(n1, n2)), "viridis"))
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps), 4.2), squeeze=False)
    for ax, (label, z, cmap) in zip(axes[0], maps, strict=True):
        kw = {}
        if label.startswith("largest") and np.nanmin(z) < 0 < np.nanmax(z):
            from matplotlib.colors import TwoSlopeNorm

            kw = {"norm": TwoSlopeNorm(vcenter=0.0, vmin=np.nanmin(z), vmax=np.nanmax(z))}
        m = ax.pcolormesh(p2, p1, z, cmap=cmap, shading="auto", **kw)
        fig.colorbar(m, ax=ax, label=label)
        if result.lyapunov is not None:
            lam = result.lyapunov.reshape(n1, n2)
            if np.nanmin(lam) < 0 < np.nanmax(lam):
                ax.contour(p2, p1, lam, levels=[0.0], colors="k", linewidths=1.2)
        ax.set_xlabel(names[1])
        ax.set_ylabel(names[0])
        ax.set_title(label + (" (black: edge of chaos)" if result.lyapunov is not None else ""), fontsize=9)
    fig.tight_layout()
    return fig

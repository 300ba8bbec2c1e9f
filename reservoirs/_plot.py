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
    vpt_capped: bool = False,
    diverged_at: int | None = None,
    labels: tuple[str, ...] | None = None,
    title: str = "",
    ax=None,
):
    """Plot a closed-loop forecast against the truth, one panel per component.

    The time axis is in Lyapunov times when `lyapunov_time` is given, else in the series' time units. A valid
    prediction time `vpt` (in Lyapunov times) is drawn as a dotted line labelled "VPT = x", or "VPT ≥ x" with
    `vpt_capped=True` (the error never exceeded the threshold in the window: a lower bound; see
    `valid_prediction_time(..., return_capped=True)`).

    The y-limits follow the truth (its range plus a 15 % margin on each side), so a forecast that blows up does
    not squash the truth into a flat line. The step where the forecast diverged is marked with a vertical line and
    a label: `diverged_at` (e.g. `ForecastResult.diverged_at`; -1 means it did not), or by default the first step
    where the forecast is NaN/inf or further than one truth range outside the truth's range. The legend sits
    outside the axes (to the right of the top panel), where it hides no data. Returns the matplotlib `Figure`.
    """
    import matplotlib.pyplot as plt

    truth = np.asarray(truth, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    if truth.ndim == 1:
        truth = truth[:, None]
    if prediction.ndim == 1:
        prediction = prediction[:, None]
    if truth.shape != prediction.shape:
        raise ValueError(f"`prediction` must have the shape of `truth` {truth.shape}, got {prediction.shape}")
    dim = truth.shape[1]
    t = (np.arange(truth.shape[0]) + 1) * dt
    unit = "time"
    if lyapunov_time:
        t = t / lyapunov_time
        unit = "Lyapunov times"
    if diverged_at is None:
        diverged_at = _divergence_step(truth, prediction)
    else:
        diverged_at = int(diverged_at)
        if diverged_at >= truth.shape[0]:
            raise ValueError(f"`diverged_at` must be < {truth.shape[0]} (the forecast length) or -1, got {diverged_at}")
    if ax is None:
        fig, axes = plt.subplots(dim, 1, figsize=(9, 1.8 + 1.4 * dim), sharex=True, squeeze=False,
                                 layout="constrained")
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    labels = labels or tuple(f"$x_{i + 1}$" for i in range(dim))
    for i, a in enumerate(axes[:dim]):
        a.plot(t, truth[:, i], color="k", lw=1.2, label="truth")
        a.plot(t, prediction[:, i], color="tab:red", lw=1.0, ls="--", label="forecast")
        if vpt is not None and lyapunov_time:
            sign = "≥" if vpt_capped else "="
            a.axvline(vpt, color="tab:blue", lw=0.8, ls=":", label=f"VPT {sign} {vpt:.2f}")
        if diverged_at >= 0:
            a.axvline(t[diverged_at], color="tab:orange", lw=1.0, ls="-.",
                      label=f"diverged at step {diverged_at}")
        a.set_ylim(*_truth_limits(truth[:, i]))
        a.set_ylabel(labels[i])
    if diverged_at >= 0:
        axes[0].annotate("forecast diverged", xy=(t[diverged_at], 1.0), xycoords=("data", "axes fraction"),
                         xytext=(3, -3), textcoords="offset points", ha="left", va="top", fontsize=8,
                         color="tab:orange")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, frameon=False)
    axes[dim - 1].set_xlabel(unit)
    if title:
        axes[0].set_title(title)
    return fig


def _truth_limits(y: np.ndarray, margin: float = 0.15) -> tuple[float, float]:
    """The truth's range widened by `margin` of it on each side (a constant truth gets +-1)."""
    y = y[np.isfinite(y)]
    if y.size == 0:
        return -1.0, 1.0
    lo, hi = float(y.min()), float(y.max())
    pad = margin * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


def _divergence_step(truth: np.ndarray, prediction: np.ndarray) -> int:
    """First step where the forecast is NaN/inf or more than one truth range outside the truth's range; -1."""
    lo, hi = np.nanmin(truth, axis=0), np.nanmax(truth, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(prediction) | (prediction < lo - span) | (prediction > hi + span)
    rows = np.flatnonzero(bad.any(axis=1))
    return int(rows[0]) if rows.size else -1


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


def plot_sweep(result, *, title: str | None = None):
    """Figure for a `SweepResult`: 1-D, the largest exponent, memory capacity and test error against the swept
    parameter with the edge of chaos marked; 2-D, phase diagrams of the exponent (zero contour = edge) and the
    error.

    `title` defaults to `result.default_title()` (task, reservoir, N, number of configurations). An axis whose
    values are evenly spaced is linear; log-spaced positive values get a log axis; other uneven values are drawn
    as categories (one equal-width cell per value, ticks labelled with the values), so no cell is stretched."""
    import matplotlib.pyplot as plt

    title = result.default_title() if title is None else title
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
        fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels) + 0.8), sharex=True, squeeze=False,
                                 layout="constrained")
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
        if _axis_kind(x) == "log":
            axes[-1].set_xscale("log")
        axes[-1].set_xlabel(names[0])
        if title:
            fig.suptitle(title, fontsize=10)
        return fig

    n1, n2 = result.shape
    p1 = result.params[names[0]].reshape(n1, n2)[:, 0]
    p2 = result.params[names[1]].reshape(n1, n2)[0, :]
    o1, o2 = np.argsort(p1), np.argsort(p2)
    p1, p2 = p1[o1], p2[o2]

    def grid(a):
        return np.asarray(a, dtype=float).reshape(n1, n2)[o1][:, o2]

    maps = []
    if result.lyapunov is not None:
        maps.append(("largest exponent (1/step)", grid(result.lyapunov), "RdBu_r"))
    with np.errstate(divide="ignore", invalid="ignore"):
        maps.append(("log10 test NRMSE", np.log10(grid(result.nrmse)), "viridis"))
    (xc, xe, xkind), (yc, ye, ykind) = _cells(p2), _cells(p1)
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps), 4.6), squeeze=False, layout="constrained")
    for ax, (label, z, cmap) in zip(axes[0], maps, strict=True):
        kw = {}
        if label.startswith("largest") and np.nanmin(z) < 0 < np.nanmax(z):
            from matplotlib.colors import TwoSlopeNorm

            kw = {"norm": TwoSlopeNorm(vcenter=0.0, vmin=np.nanmin(z), vmax=np.nanmax(z))}
        m = ax.pcolormesh(xe, ye, z, cmap=cmap, shading="flat", **kw)
        fig.colorbar(m, ax=ax, label=label)
        if result.lyapunov is not None:
            lam = grid(result.lyapunov)
            if np.nanmin(lam) < 0 < np.nanmax(lam) and min(n1, n2) >= 2:
                ax.contour(xc, yc, lam, levels=[0.0], colors="k", linewidths=1.2)
        _style_axis(ax, "x", xkind, p2)
        _style_axis(ax, "y", ykind, p1)
        ax.set_xlabel(names[1])
        ax.set_ylabel(names[0])
        ax.set_title(label + (" (black: edge of chaos)" if result.lyapunov is not None else ""), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _axis_kind(v) -> str:
    """`"linear"` for evenly spaced values, `"log"` for positive log-spaced ones, else `"categorical"`."""
    v = np.sort(np.asarray(v, dtype=float))
    if v.size < 3:
        return "linear"
    d = np.diff(v)
    if np.allclose(d, d[0], rtol=1e-6, atol=0.0):
        return "linear"
    if np.all(v > 0):
        dl = np.diff(np.log(v))
        if np.allclose(dl, dl[0], rtol=1e-6, atol=0.0):
            return "log"
    return "categorical"


def _cells(v) -> tuple[np.ndarray, np.ndarray, str]:
    """Cell centres and edges for sorted values `v`, in the coordinates of the axis kind (see `_axis_kind`)."""
    kind = _axis_kind(v)
    c = {"linear": v, "log": np.log10(v), "categorical": np.arange(v.size, dtype=float)}[kind]
    if c.size == 1:
        half = 0.5 if kind != "linear" or c[0] == 0 else 0.1 * abs(c[0])
        e = np.array([c[0] - half, c[0] + half])
    else:
        mid = (c[1:] + c[:-1]) / 2
        e = np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
    if kind == "log":
        return v, 10.0**e, kind
    return c, e, kind


def _style_axis(ax, which: str, kind: str, values) -> None:
    if kind == "log":
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    elif kind == "categorical":
        ticks = np.arange(len(values))
        (ax.set_xticks if which == "x" else ax.set_yticks)(ticks, [f"{v:.3g}" for v in values])

"""Figures (Agg backend): legends that hide no data, honest y-limits and labels, sweep titles and axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import reservoirs as rc  # noqa: E402
from reservoirs._plot import plot_sweep  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _lorenz_like(n=300):
    t = np.arange(n) * 0.02
    return np.stack([10 * np.sin(t), 12 * np.cos(1.3 * t), 25 + 8 * np.sin(0.7 * t)], axis=1)


def _line_labels(ax):
    return [ln.get_label() for ln in ax.get_lines()]


def test_forecast_legend_sits_outside_every_panel():
    truth = _lorenz_like()
    fig = rc.plot_forecast(truth, truth + 0.3, dt=0.02, lyapunov_time=1.104, vpt=2.0)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 1
    box = legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel"
    # ... and it is still inside the figure (not cut off when saved)
    fbox = fig.bbox
    assert fbox.x0 <= box.x0 and box.x1 <= fbox.x1 + 1 and fbox.y0 <= box.y0 and box.y1 <= fbox.y1 + 1


def test_diverged_forecast_keeps_the_truth_readable_and_marks_the_step():
    truth = _lorenz_like()
    pred = truth.copy()
    pred[150:200] = truth[150:200] * np.exp(np.arange(50) / 3.0)[:, None]  # blows up to ~1e7 ...
    pred[200:] = np.nan  # ... then NaN, as `forecast` reports a diverged run
    fig = rc.plot_forecast(truth, pred, dt=0.02, lyapunov_time=1.104)
    for i, ax in enumerate(fig.axes[:3]):
        lo, hi = ax.get_ylim()
        tlo, thi = truth[:, i].min(), truth[:, i].max()
        span = thi - tlo
        assert tlo - 0.2 * span <= lo < tlo and thi < hi <= thi + 0.2 * span  # the truth's range, plus a margin
    # default detection: the first step more than one truth range outside the truth's range
    first_out = int(np.flatnonzero(((pred < truth.min(0) - np.ptp(truth, 0)) |
                                    (pred > truth.max(0) + np.ptp(truth, 0))).any(1))[0])
    labels = _line_labels(fig.axes[0])
    assert f"diverged at step {first_out}" in labels
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("diverged"))
    assert line.get_xdata()[0] == pytest.approx((first_out + 1) * 0.02 / 1.104)
    # an explicit step (ForecastResult.diverged_at) wins; -1 means no divergence and draws no marker
    assert "diverged at step 200" in _line_labels(rc.plot_forecast(truth, pred, diverged_at=200).axes[0])
    assert not any(s.startswith("diverged") for s in _line_labels(rc.plot_forecast(truth, truth, diverged_at=-1)
                                                                  .axes[0]))


def test_capped_vpt_is_labelled_as_a_lower_bound():
    truth = _lorenz_like()
    capped = rc.plot_forecast(truth, truth, dt=0.02, lyapunov_time=1.104, vpt=5.43, vpt_capped=True)
    assert "VPT ≥ 5.43" in _line_labels(capped.axes[0])
    exact = rc.plot_forecast(truth, truth, dt=0.02, lyapunov_time=1.104, vpt=5.43)
    assert "VPT = 5.43" in _line_labels(exact.axes[0])


def _grid_result(gains, leaks, task=None):
    g, lk = np.meshgrid(gains, leaks, indexing="ij")
    lam = (g - 1.0).reshape(-1) * lk.reshape(-1)
    n = lam.size
    info = {"reservoir": "ESN", "units": 50, "task": task}
    return rc.SweepResult(params={"gain": g.reshape(-1), "leak": lk.reshape(-1)}, shape=g.shape,
                          nrmse=np.full(n, 0.1) + 0.01 * np.arange(n), lyapunov=lam, memory_capacity=None,
                          diverged=np.zeros(n, bool), info=info)


def test_sweep_figures_carry_a_title():
    r = _grid_result(np.linspace(0.5, 2.0, 4), [0.3, 0.6, 0.9], task="mackey-glass")
    fig = r.plot()
    assert fig._suptitle.get_text() == "mackey-glass: ESN (N = 50), sweep of gain x leak (12 configurations)"
    assert r.plot(title="my title")._suptitle.get_text() == "my title"
    one = rc.SweepResult(params={"gain": np.linspace(0.1, 2, 5)}, shape=(5,), nrmse=np.ones(5),
                         lyapunov=np.linspace(-1, 1, 5), memory_capacity=None, diverged=np.zeros(5, bool))
    assert one.plot()._suptitle.get_text() == "reservoir, sweep of gain (5 configurations)"


def test_phase_diagram_axes_follow_the_spacing_of_the_values():
    log_gains = np.logspace(-2, 1, 7)
    fig = plot_sweep(_grid_result(log_gains, np.linspace(0.2, 1.0, 5)))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"  # rows: gain (log-spaced); columns: leak
    lo, hi = ax.get_ylim()
    assert lo < log_gains[0] and hi > log_gains[-1] and hi / lo < 10 * (log_gains[-1] / log_gains[0])
    # uneven, not log-spaced values: one equal cell per value, ticks labelled with the values
    fig = plot_sweep(_grid_result(np.array([0.5, 1.0, 3.0, 3.5]), np.array([0.05, 0.1, 1.0])))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.5", "1", "3", "3.5"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.05", "0.1", "1"]
    np.testing.assert_allclose(ax.get_yticks(), [0, 1, 2, 3])
    # a 1-D sweep over log-spaced gains gets a log x axis
    one = rc.SweepResult(params={"gain": log_gains}, shape=(7,), nrmse=np.ones(7), lyapunov=np.linspace(-1, 1, 7),
                         memory_capacity=None, diverged=np.zeros(7, bool))
    assert plot_sweep(one).axes[-1].get_xscale() == "log"

"""Gain sweeps: every configuration in one compiled, vmapped call, sharded over the visible devices."""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Float, PRNGKeyArray

from ._checks import RealLike, check_int, check_key, check_leaf, check_reservoir
from ._diagnostics import lyapunov_impl, memory_capacity_impl
from ._model import _drive_inputs, _fit_impl, _predict_impl, batched_chunk, prepare_task
from ._reservoir import AbstractReservoir
from ._ridge import AbstractReadout, AlphaGridEdgeWarning, RidgeCV, alpha_edge, alpha_edge_advice


@dataclass(frozen=True)
class SweepResult:
    """The outcome of `sweep`: NumPy arrays with one entry per configuration (flattened grid, row-major).

    - `params`: swept parameter name -> value per configuration; `shape`: the grid shape, `(n,)` or `(n1, n2)`.
    - `nrmse`: one-step NRMSE on the held-out test segment (σ-normalised); NaN where the configuration diverged.
    - `lyapunov`: largest conditional Lyapunov exponent per step (or None if not computed).
    - `memory_capacity`: Jaeger's short-term memory capacity (or None).
    - `diverged`: True where the configuration produced NaN/inf (reported; the other configurations are kept).
    - `info`: how the sweep ran (`n_train`, `n_test`, `washout`, `batch_size`, `devices`), what it swept
      (`reservoir`: the class name, `units`: N, `features`, `task`: the name passed to `sweep`, or None) and, with a
      `RidgeCV` readout, `alpha`: the ridge parameter chosen per configuration.
    """

    params: dict[str, np.ndarray]
    shape: tuple[int, ...]
    nrmse: np.ndarray
    lyapunov: np.ndarray | None
    memory_capacity: np.ndarray | None
    diverged: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.params)

    def __len__(self) -> int:
        return int(self.nrmse.shape[0])

    @property
    def best_index(self) -> int | None:
        """Index of the configuration with the lowest test NRMSE among those that did not diverge."""
        ok = ~self.diverged & np.isfinite(self.nrmse)
        if not ok.any():
            return None
        return int(np.flatnonzero(ok)[np.argmin(self.nrmse[ok])])

    @property
    def best(self) -> dict | None:
        """The best configuration's parameters and metrics."""
        i = self.best_index
        return None if i is None else self.row(i)

    @property
    def best_gain(self) -> float | None:
        i = self.best_index
        return None if i is None or "gain" not in self.params else float(self.params["gain"][i])

    def row(self, i: int) -> dict:
        r = {k: float(v[i]) for k, v in self.params.items()}
        r["nrmse"] = float(self.nrmse[i])
        if self.lyapunov is not None:
            r["lyapunov"] = float(self.lyapunov[i])
        if self.memory_capacity is not None:
            r["memory_capacity"] = float(self.memory_capacity[i])
        r["diverged"] = bool(self.diverged[i])
        return r

    def edge_of_chaos(self, param: str = "gain", *, mode: str = "sustained") -> float | np.ndarray | None:
        """Value of `param` at which the largest conditional exponent crosses zero upwards (ordered -> chaotic),
        linearly interpolated between the two sweep points around the crossing.

        The exponent of a driven reservoir need not be monotonic in the gain: it can turn positive, fall back below
        zero (a window of order) and turn positive again. `mode` says which upward crossing to report:

        - `"sustained"` (default): the smallest value above which the exponent stays >= 0 for the rest of the
          sweep, i.e. the last upward crossing, provided the exponent does not fall back below zero after it.
          None when the sweep ends in order (the last point is negative), so a transient excursion into chaos is
          never reported as the edge.
        - `"first"`: the first upward crossing (what earlier versions reported).
        - `"last"`: the last upward crossing, even if the exponent falls back below zero after it.

        Points whose exponent is not finite (diverged configurations) are skipped. A sweep whose exponents are all
        positive or all negative has no crossing: None. For a 1-D sweep, a float or None; for a 2-D grid, one
        value per value of the other parameter (NaN where there is none). `to_dict()["edge_of_chaos"]` uses the
        default mode.
        """
        if mode not in _EDGE_MODES:
            raise ValueError(f"`mode` must be one of {_EDGE_MODES}, got {mode!r}")
        if self.lyapunov is None:
            raise ValueError("this sweep did not compute Lyapunov exponents (`lyapunov=False`)")
        if param not in self.params:
            raise ValueError(f"`param` must be one of the swept parameters {self.names}, got {param!r}")
        if len(self.shape) == 1:
            return _zero_crossing(self.params[param], self.lyapunov, mode)
        axis = self.names.index(param)
        lam = self.lyapunov.reshape(self.shape)
        p = self.params[param].reshape(self.shape)
        lam, p = np.moveaxis(lam, axis, -1), np.moveaxis(p, axis, -1)
        out = [_zero_crossing(p[i], lam[i], mode) for i in range(lam.shape[0])]
        return np.array([np.nan if v is None else v for v in out])

    def default_title(self) -> str:
        """The default figure title, from what the sweep recorded in `info`: task, reservoir, N and the number of
        configurations, e.g. "mackey-glass: ESN (N = 200), sweep of gain (64 configurations)"."""
        info = self.info
        who = info.get("reservoir", "reservoir")
        if info.get("units") is not None:
            who += f" (N = {info['units']})"
        head = f"{info['task']}: {who}" if info.get("task") else who
        return f"{head}, sweep of {' x '.join(self.names)} ({len(self)} configurations)"

    def to_dict(self) -> dict:
        d = {k: v.tolist() for k, v in self.params.items()}
        d["nrmse"] = _nan_to_none(self.nrmse)
        d["lyapunov"] = None if self.lyapunov is None else _nan_to_none(self.lyapunov)
        d["memory_capacity"] = None if self.memory_capacity is None else _nan_to_none(self.memory_capacity)
        d["diverged"] = self.diverged.tolist()
        edge = None
        if self.lyapunov is not None and "gain" in self.params:
            e = self.edge_of_chaos("gain")
            edge = e if e is None or isinstance(e, float) else _nan_to_none(e)
        d["edge_of_chaos"] = edge
        d["best_gain"] = self.best_gain
        d["shape"] = list(self.shape)
        return d

    def to_json(self, path: str | Path | None = None) -> str:
        s = json.dumps(self.to_dict())
        if path is not None:
            Path(path).write_text(s)
        return s

    def to_csv(self, path: str | Path | None = None) -> str:
        buf = io.StringIO()
        rows = [self.row(i) for i in range(len(self))]
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        if path is not None:
            Path(path).write_text(buf.getvalue())
        return buf.getvalue()

    def table(self, max_rows: int = 20) -> str:
        """A readable text table (every k-th row when there are more than `max_rows`), with the best marked."""
        cols = [*self.names, "nrmse"]
        if self.lyapunov is not None:
            cols.append("lyapunov")
        if self.memory_capacity is not None:
            cols.append("memory_capacity")
        idx = np.arange(len(self))
        if len(idx) > max_rows:
            idx = np.unique(np.r_[idx[:: math.ceil(len(idx) / max_rows)], [self.best_index or 0]])
        lines = ["  ".join(f"{c:>15}" for c in cols) + "  note"]
        for i in idx:
            r = self.row(int(i))
            note = "diverged" if r["diverged"] else ("best" if i == self.best_index else "")
            lines.append("  ".join(f"{r[c]:>15.4g}" for c in cols) + f"  {note}")
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None, *, title: str | None = None):
        """Exponent, memory capacity and error against gain with the edge of chaos marked (1-D), or a phase
        diagram of the exponent and the error (2-D). Returns the matplotlib Figure; saves it if `path` is given.

        `title`: the figure title; default `self.default_title()` (task, reservoir, N, number of configurations).
        Unevenly spaced values (e.g. log-spaced gains) get a log axis, or a categorical one."""
        from ._plot import plot_sweep

        fig = plot_sweep(self, title=title)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def _nan_to_none(a) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float)]


_EDGE_MODES = ("sustained", "first", "last")


def _zero_crossing(x, y, mode: str = "sustained") -> float | None:
    """The upward zero crossing of y(x) that `mode` selects (see `SweepResult.edge_of_chaos`), interpolated."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    up = [i for i in range(len(x) - 1) if y[i] < 0 <= y[i + 1]]
    if not up:
        return None
    if mode == "first":
        i = up[0]
    else:
        i = up[-1]
        if mode == "sustained" and np.any(y[i + 1 :] < 0):
            return None
    return float(x[i] + (0 - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))


def _to_host(a) -> np.ndarray:
    """Bring a (possibly sharded) result to this host; on several hosts, gather the other hosts' shards."""
    if jax.process_count() > 1 and not a.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def _set_leaves(reservoir, names, values):
    return eqx.tree_at(lambda r: tuple(getattr(r, n) for n in names), reservoir, tuple(values))


def _sigma_nrmse(y, t):
    sigma = jnp.std(t, axis=0)
    return jnp.sqrt(jnp.mean(((y - t) / jnp.where(sigma > 0, sigma, 1.0)) ** 2))


def _evaluate(reservoir, names, values, data, key, cfg):
    """Metrics for one configuration; vmapped over `values` with the reservoir's arrays shared."""
    res = _set_leaves(reservoir, names, [values[i].astype(jnp.asarray(getattr(reservoir, n)).dtype)
                                          for i, n in enumerate(names)])
    train_in, train_tgt, test_in, test_tgt, drive, mc_input = data
    out = {}
    fitted = _fit_impl(res, cfg["readout"], drive, train_in, train_tgt, res.init_state(), key, cfg["washout"],
                      cfg["chunk"])
    model, finite = fitted if isinstance(fitted, tuple) else (fitted, jnp.asarray(True))
    y, _ = _predict_impl(model, test_in, None if key is None else jax.random.fold_in(key, 1))
    err = _sigma_nrmse(y, test_tgt)
    bad = ~jnp.isfinite(err) | ~jnp.all(jnp.isfinite(model.readout.weights)) | ~finite
    if cfg["lyapunov"]:
        lam = lyapunov_impl(res, drive[: cfg["lyapunov_steps"]], res.init_state(), key, cfg["washout"], 1,
                            cfg["tangent_key"])[0]
        out["lyapunov"] = lam
        bad = bad | ~jnp.isfinite(lam)
    if cfg["memory_capacity"]:
        mc = memory_capacity_impl(res, mc_input, None if key is None else jax.random.fold_in(key, 2),
                                  cfg["mc_washout"], cfg["mc_train"], cfg["mc_delays"], cfg["mc_alpha"])
        out["memory_capacity"] = mc.total
    if cfg["report_alpha"]:
        out["alpha"] = model.readout.alpha
    out["nrmse"] = jnp.where(bad, jnp.nan, err)
    out["diverged"] = bad
    return out


@eqx.filter_jit
def _evaluate_batch(reservoir, names, values, data, key, cfg):
    reservoir = reservoir.for_batch(values.shape[0])  # e.g. an ELL matrix stored densely: a matrix-matrix product
    return jax.vmap(lambda v: _evaluate(reservoir, names, v, data, key, cfg))(values)


def _warn_alpha_edges(grid, chosen, diverged) -> None:
    """One `AlphaGridEdgeWarning` for a sweep, counting the configurations whose alpha sat at an edge."""
    grid = np.asarray(grid, dtype=np.float64)
    counts: dict[str, int] = {}
    for a, bad in zip(np.asarray(chosen, dtype=np.float64), diverged, strict=True):
        if bad or not np.isfinite(a):
            continue
        edge = alpha_edge(int(np.argmin(np.abs(grid - a))), grid)
        if edge is not None:
            counts[edge] = counts.get(edge, 0) + 1
    for edge, k in counts.items():
        warnings.warn(f"{alpha_edge_advice(edge, grid)} [in {k} of {len(chosen)} sweep configurations]",
                      AlphaGridEdgeWarning, stacklevel=3)


def _real_values(name, vals) -> np.ndarray:
    a = np.asarray(vals)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"`params[{name!r}]` must be an array of real numbers, got dtype {a.dtype}")
    return a.astype(np.float64).reshape(-1)


def _parse_params(reservoir, params, grid):
    if not params:
        raise ValueError("`params` must name at least one parameter to sweep, e.g. {'gain': jnp.linspace(0.1, 2, 64)}")
    names, arrays = [], []
    for name, vals in params.items():
        leaf = getattr(reservoir, name, None) if isinstance(name, str) else None
        if leaf is None or not eqx.is_array(leaf) or jnp.ndim(leaf) != 0:
            raise ValueError(f"`params` key {name!r} must name a scalar array leaf of the reservoir (e.g. 'gain')")
        v = _real_values(name, vals)
        if v.size < 1 or not np.all(np.isfinite(v)):
            raise ValueError(f"`params[{name!r}]` must be a non-empty array of finite values")
        # The sweep replaces leaves without calling the constructor: apply the constructor's own checks up front,
        # before anything is traced (a negative gain or a leak of 1.5 would otherwise run, silently).
        for x in np.unique(v):
            try:
                check_leaf(reservoir, name, float(x))
            except ValueError as e:
                raise ValueError(
                    f"`params[{name!r}]` holds {x:g}, which {type(reservoir).__name__} does not accept: {e}"
                ) from None
        names.append(name)
        arrays.append(v)
    if len(names) > 1 and grid:
        mesh = np.meshgrid(*arrays, indexing="ij")
        shape = tuple(a.size for a in arrays)
        arrays = [m.reshape(-1) for m in mesh]
    else:
        if len({a.size for a in arrays}) != 1:
            raise ValueError("with `grid=False` every `params` array must have the same length")
        shape = (arrays[0].size,)
    return tuple(names), np.stack(arrays, axis=1), shape


def sweep(
    reservoir: AbstractReservoir,
    inputs: Float[ArrayLike, "time_in ..."] | None,
    targets: Float[ArrayLike, "time_out ..."],
    *,
    params: dict | None = None,
    gains=None,
    grid: bool = True,
    test_fraction: RealLike = 0.2,
    washout: int = 100,
    readout: AbstractReadout | None = None,
    lyapunov: bool = True,
    lyapunov_steps: int | None = None,
    memory_capacity: bool = False,
    memory_capacity_steps: int = 4000,
    key: PRNGKeyArray | None = None,
    batch_size: int = 64,
    progress: bool = True,
    devices=None,
    task: str | None = None,
) -> SweepResult:
    """Sweep scalar hyperparameters (the gain, the leak, the input scaling, ...) of any reservoir over a task.

    Only the swept leaves are batched: the weight matrix is shared, so for a batch of B gains the recurrent
    product is one matrix-matrix product per time step. Each configuration gets its own streaming Gram matrix,
    readout and metrics:

    - the one-step NRMSE (σ-normalised) on the last `test_fraction` of the series, after fitting on the rest;
    - the largest conditional Lyapunov exponent along the training drive (if `lyapunov`);
    - Jaeger's memory capacity on an i.i.d. input (if `memory_capacity`).

    Configurations run in batches of `batch_size` (one compiled call each; the same compiled code for every
    batch), so memory is bounded however many configurations there are; a progress bar shows the batches.
    Each batch is sharded over `devices` (default: all visible devices) along the configuration axis with
    `jax.sharding`; on several hosts call `jax.distributed.initialize()` first and the same code shards over all.
    A configuration that diverges (NaN/inf) is marked in `SweepResult.diverged`; it never stops the sweep.

    **Arguments:**

    - `reservoir`: any `AbstractReservoir`; its current values are used for the leaves not swept.
    - `inputs`, `targets`: the task, as for `fit` (e.g. `x[:-1]`, `x[1:]` for one-step prediction).
    - `params`: `{name: values}` for scalar leaves of the reservoir; two names with `grid=True` make a 2-D grid
      (phase diagram), with `grid=False` the arrays are zipped. `gains=v` is short for `params={"gain": v}`.
    - `test_fraction`: held-out fraction for the NRMSE, in (0, 1). Default 0.2.
    - `washout`, `readout`: as for `fit` (default `Ridge(1e-6)`).
    - `lyapunov_steps`: training steps used for the exponent (default: all of them).
    - `key`: PRNG key (noise of stochastic substrates, and the memory-capacity input).
    - `batch_size`: configurations per compiled call. Default 64.
    - `task`: a name for the task (e.g. "mackey-glass"), kept in `SweepResult.info` for titles and reports.

    Every swept value is checked up front with the reservoir's own constructor checks (`ESN`: gain > 0, leak in
    (0, 1], ...; see `reservoirs._checks.check_leaf`): a value the constructor would reject raises a `ValueError`
    naming the parameter and the allowed range, before anything is compiled. With a `RidgeCV` readout, the alpha
    chosen per configuration is kept in `info["alpha"]`, and one `AlphaGridEdgeWarning` (with a count) says if it
    sat at an edge of the grid.

    Example:
        >>> import jax, jax.numpy as jnp, reservoirs as rc
        >>> x = jnp.sin(jnp.arange(600.0) / 7)
        >>> esn = rc.ESN(1, 30, leak=0.5, key=jax.random.key(0))
        >>> result = rc.sweep(esn, x[:-1], x[1:], gains=jnp.linspace(0.2, 2.0, 4), progress=False)
        >>> result.shape, result.lyapunov.shape
        ((4,), (4,))
        >>> print(result.table())  # doctest: +SKIP
        >>> fig = result.plot("sweep.png")  # doctest: +SKIP
    """
    check_reservoir(reservoir)
    if gains is not None:
        if params:
            raise ValueError("pass either `gains` or `params`, not both")
        params = {"gain": gains}
    names, values, shape = _parse_params(reservoir, params, grid)
    inputs, targets, readout = prepare_task(reservoir, inputs, targets, readout)
    tf = float(test_fraction)
    if not 0 < tf < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction}")
    n_test = max(2, int(round(tf * targets.shape[0])))
    n_train = targets.shape[0] - n_test
    washout = check_int("washout", washout, minimum=0)
    if washout >= n_train:
        raise ValueError(f"`washout` must be < the training length {n_train}, got {washout}")
    if reservoir.in_size == 0:
        raise ValueError("`sweep` measures one-step prediction and needs a reservoir with an input (in_size >= 1)")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lyapunov_steps = n_train if lyapunov_steps is None else check_int("lyapunov_steps", lyapunov_steps, minimum=1)
    if lyapunov and not washout < lyapunov_steps <= n_train:
        raise ValueError(f"`lyapunov_steps` must be in ({washout}, {n_train}], got {lyapunov_steps}")
    check_key(reservoir, key)
    if task is not None and not isinstance(task, str):
        raise ValueError(f"`task` must be a string or None, got {task!r}")
    report_alpha = isinstance(readout, RidgeCV)
    if report_alpha:
        readout = readout.quiet()  # no warning per configuration from inside the compiled batch: one, below
    if memory_capacity and reservoir.in_size < 1:
        raise ValueError("`memory_capacity=True` needs a reservoir with an input (in_size >= 1)")

    train_in, train_tgt = inputs[:n_train], targets[:n_train]
    test_in, test_tgt = inputs[n_train:], targets[n_train:]
    drive = _drive_inputs(reservoir, train_in, train_tgt, jnp.zeros(targets.shape[1], targets.dtype))
    mc_steps = check_int("memory_capacity_steps", memory_capacity_steps, minimum=100)
    mc_key = jax.random.key(12345) if key is None else jax.random.fold_in(key, 7)
    mc_input = jax.random.uniform(mc_key, (mc_steps,), targets.dtype, -1.0, 1.0)
    devices = jax.devices() if devices is None else list(devices)
    n_dev = len(devices)
    bs = int(math.ceil(min(batch_size, len(values)) / n_dev) * n_dev)
    cfg = {
        "readout": readout,
        "washout": washout,
        "chunk": batched_chunk(reservoir, readout, drive, train_in, train_tgt, key, bs),
        "lyapunov": bool(lyapunov),
        "lyapunov_steps": lyapunov_steps,
        "tangent_key": jax.random.key(0),
        "memory_capacity": bool(memory_capacity),
        "mc_washout": min(500, mc_steps // 5),
        "mc_train": int(round(0.75 * mc_steps)),
        "mc_delays": min(2 * reservoir.feature_size, 400),
        "mc_alpha": 1e-10,
        "report_alpha": report_alpha,
    }
    data = (train_in, train_tgt, test_in, test_tgt, drive, mc_input)

    sharding = None
    if n_dev > 1:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        sharding = NamedSharding(Mesh(np.array(devices), ("configs",)), PartitionSpec("configs"))
    dtype = jnp.asarray(reservoir.gain).dtype
    n = len(values)
    batches = range(0, n, bs)
    it = batches
    if progress:
        from ._progress import progress_bar

        it = progress_bar(batches, total=len(batches), desc=f"sweep {' x '.join(names)} ({n} configs)", unit="batch")
    outs: dict[str, list] = {}
    for start in it:
        chunk = values[start : start + bs]
        pad = bs - len(chunk)
        if pad:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
        v = jnp.asarray(chunk, dtype)
        if sharding is not None:
            v = jax.device_put(v, sharding)
        res = _evaluate_batch(reservoir, names, v, data, key, cfg)
        for k, a in res.items():
            outs.setdefault(k, []).append(_to_host(a)[: bs - pad])
    out = {k: np.concatenate(v) for k, v in outs.items()}
    size = getattr(reservoir, "size", None)
    info = {
        "n_train": n_train,
        "n_test": n_test,
        "washout": washout,
        "batch_size": bs,
        "devices": n_dev,
        "reservoir": type(reservoir).__name__,
        "units": int(size) if isinstance(size, int | np.integer) else int(reservoir.feature_size),
        "features": int(reservoir.feature_size),
        "task": task,
    }
    if "alpha" in out:
        chosen = out.pop("alpha")
        info["alpha"] = chosen.tolist()
        _warn_alpha_edges(readout.alphas, chosen, out["diverged"].astype(bool))
    return SweepResult(
        params={name: values[:, i] for i, name in enumerate(names)},
        shape=shape,
        nrmse=out["nrmse"],
        lyapunov=out.get("lyapunov"),
        memory_capacity=out.get("memory_capacity"),
        diverged=out["diverged"].astype(bool),
        info=info,
    )


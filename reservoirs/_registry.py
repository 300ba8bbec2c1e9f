"""One place that knows the reservoirs: name -> constructor, CLI preset, default sweep range, description.

Each reservoir's own module registers itself (`register_reservoir(...)` at import time), so adding a substrate
touches its own file, its tests and the docs only. The CLI lists, builds and sweeps whatever is registered.
`reservoirs` registers the ESN and the LSM; `physical` registers its substrates when it is imported (the CLI
imports it lazily through `registry()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: The tasks a `build` function may be asked to configure for: forecasting series and classification tasks.
FORECAST_TASKS = ("mackey-glass", "lorenz", "rossler", "henon")
CLASSIFY_TASKS = ("sine-square", "xor", "patterns")


@dataclass(frozen=True)
class ReservoirEntry:
    """A registered reservoir.

    - `name`: the CLI name (`--substrate NAME`).
    - `build(in_size, units, gain, *, key, task)`: a reservoir for `in_size` input channels, of size `units` (the
      substrate's own size unit: neurons, nodes, virtual nodes, probes), at `gain`, for the task named `task`
      (one of `FORECAST_TASKS` or `CLASSIFY_TASKS`; a build may choose task-specific settings, chosen on held-out
      data and documented in its module).
    - `units`, `gain`: the CLI defaults (per task where `task_defaults` overrides them).
    - `sweep_gains`: `(start, stop)` of the default gain sweep, the substrate's own ordered-to-chaotic range in its
      gain's physical unit.
    - `gain_unit`: what the gain is, with its unit, for help texts and figure labels.
    - `description`: one line for `reservoirs --help`.
    - `forecasts`: False where the reservoir cannot forecast a chaotic series in closed loop (the CLI then says
      so plainly instead of printing a meaningless NRMSE), with `forecast_note` saying why.
    - `min_gain`: the smallest gain the substrate accepts (0 where a feed-forward setting exists).
    - `task_defaults`: `{task: {"units": ..., "gain": ...}}` overrides of the defaults per task. A forecasting
      task may also override the readout (`"alpha"`, `"passthrough"`) and the CLI's data protocol of
      `reservoirs._presets.PRESETS` (`"train"`, `"washout"`, `"horizon"`, `"series_kwargs"`, and `"standardize"`,
      default True), where the substrate has its own published protocol (NG-RC on Lorenz).
    - `sweeps`: False where the reservoir has no gain to sweep (the CLI's `sweep` then refuses, with
      `sweep_note` saying why); `sweep_gains` is then unused.
    """

    name: str
    build: Callable[..., Any]
    units: int
    gain: float
    sweep_gains: tuple[float, float]
    description: str
    gain_unit: str = "dimensionless"
    forecasts: bool = True
    forecast_note: str = ""
    min_gain: float = 0.0
    task_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    sweeps: bool = True
    sweep_note: str = ""

    def defaults(self, task: str | None = None) -> tuple[int, float]:
        """`(units, gain)` for `task`."""
        d = self.task_defaults.get(task, {}) if task is not None else {}
        return int(d.get("units", self.units)), float(d.get("gain", self.gain))


_REGISTRY: dict[str, ReservoirEntry] = {}


def register_reservoir(
    name: str,
    *,
    build: Callable[..., Any],
    units: int,
    gain: float,
    sweep_gains: tuple[float, float],
    description: str,
    **kwargs: Any,
) -> ReservoirEntry:
    """Register a reservoir under `name` (see `ReservoirEntry` for the fields); returns the entry.

    Registering the same name again replaces the entry (module reloads in notebooks).
    """
    if not isinstance(name, str) or not name or not name.replace("-", "").isalnum():
        raise ValueError(f"`name` must be a non-empty alphanumeric name (dashes allowed), got {name!r}")
    if not callable(build):
        raise ValueError(f"`build` must be callable, got {type(build).__name__}")
    lo, hi = sweep_gains
    if not (0 <= lo < hi):
        raise ValueError(f"`sweep_gains` must be (start, stop) with 0 <= start < stop, got {sweep_gains!r}")
    entry = ReservoirEntry(name=name, build=build, units=int(units), gain=float(gain),
                           sweep_gains=(float(lo), float(hi)), description=description, **kwargs)
    _REGISTRY[name] = entry
    return entry


def registry() -> dict[str, ReservoirEntry]:
    """All registered reservoirs, in registration order (importing `physical` registers its substrates)."""
    try:
        import physical  # noqa: F401  (registers the physical substrates)
    except ImportError:  # pragma: no cover - the distribution ships `physical`; a stripped install still works
        pass
    return dict(_REGISTRY)


def get_reservoir_entry(name: str) -> ReservoirEntry:
    """The entry registered as `name`; a `ValueError` lists the registered names otherwise."""
    reg = registry()
    if name not in reg:
        raise ValueError(f"`substrate` must be one of {tuple(reg)}, got {name!r}")
    return reg[name]


class ReservoirPreset(NamedTuple):
    """What `preset` returns: the reservoir, the readout it was tuned with and the settings used."""

    reservoir: Any
    readout: Any
    units: int
    gain: float
    washout: int


def preset(
    name: str,
    *,
    key,
    task: str = "mackey-glass",
    in_size: int | None = None,
    units: int | None = None,
    gain: float | None = None,
) -> ReservoirPreset:
    """The registered reservoir `name` at its documented preset for `task`, with the readout it was tuned with.

    This is the library's one-line substrate swap: the same preset the CLI runs (`reservoirs forecast --substrate
    NAME`), chosen on held-out data with `reservoirs.sweep` and documented in the substrate's module. A
    constructor's own defaults reproduce its paper's set-up (e.g. Zhong et al.'s 2.5 V Henon pulses for the
    memristor crossbar), which is not always the setting that forecasts a chaotic series well.

    **Arguments:**

    - `name`: a registered reservoir (`reservoirs.registry()`: "esn", "lsm", "memristor", "photonic", ...).
    - `key`: PRNG key for the reservoir's weights, masks and static non-idealities.
    - `task`: one of `FORECAST_TASKS` or `CLASSIFY_TASKS`. Default "mackey-glass".
    - `in_size`: input channels (default: the task's, 1 for Mackey-Glass, 3 for Lorenz and Rossler, 2 for Henon).
    - `units`, `gain`: override the preset's size and gain.

    **Returns:** a `ReservoirPreset` `(reservoir, readout, units, gain, washout)`; for classification tasks the
    readout is None (the `fit` default for labels applies). Fit with `standardize=True` (the CLI does): the presets
    assume standardised data, except where the entry's `task_defaults` say `"standardize": False` (the NG-RC on
    Lorenz, chosen on raw data as in Gauthier et al.'s protocol).

    Example:
        >>> import jax, reservoirs as rc
        >>> reservoir, readout, *_ = rc.preset("memristor", key=jax.random.key(0))
        >>> # model = rc.fit(reservoir, x[:-1], x[1:], readout=readout, standardize=True)
    """
    from ._presets import PRESETS
    from ._ridge import Ridge

    entry = get_reservoir_entry(name)
    if task not in FORECAST_TASKS + CLASSIFY_TASKS:
        raise ValueError(f"`task` must be one of {FORECAST_TASKS + CLASSIFY_TASKS}, got {task!r}")
    if in_size is None:
        in_size = {"lorenz": 3, "rossler": 3, "henon": 2, "xor": 2}.get(task, 1)
    d_units, d_gain = entry.defaults(task)
    units = d_units if units is None else int(units)
    gain = d_gain if gain is None else float(gain)
    if units < 1:
        raise ValueError(f"`units` must be an integer >= 1, got {units}")
    if not gain >= entry.min_gain:
        raise ValueError(f"`gain` must be >= {entry.min_gain:g} for {name}, got {gain}")
    reservoir = entry.build(int(in_size), units, gain, key=key, task=task)
    readout, washout = None, 100
    if task in PRESETS:
        p = PRESETS[task]
        d = entry.task_defaults.get(task, {})
        readout = Ridge(float(d.get("alpha", p.alpha)), input_passthrough=bool(d.get("passthrough", p.passthrough)))
        washout = int(d.get("washout", p.washout))
    return ReservoirPreset(reservoir, readout, units, gain, washout)

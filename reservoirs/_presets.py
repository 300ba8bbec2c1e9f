"""Task presets of the echo-state network and the liquid state machine, and their registry entries.

The ESN's hyperparameters are per task (a Lorenz forecast wants a different leak and feature map than Mackey-Glass),
so its preset lives beside the task table; each was measured on held-out data (`benchmarks/bench_accuracy.py`).
The physical substrates register themselves in their own modules (`physical/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._registry import CLASSIFY_TASKS, FORECAST_TASKS, register_reservoir


@dataclass(frozen=True)
class Preset:
    """Data and ESN settings for one forecasting task (hyperparameters measured on held-out data).

    `train`, `washout`, `horizon`: samples of training, discarded transient and closed-loop forecast; `units`,
    `gain`, `leak`, `input_scaling`, `bias_scaling`, `feature_map`: the ESN; `alpha`, `passthrough`: the ridge
    readout; `series_kwargs`: arguments of the task's generator (e.g. the sampling step `dt`).
    """

    train: int
    washout: int
    horizon: int
    units: int
    gain: float
    leak: float
    input_scaling: float
    bias_scaling: float
    alpha: float
    feature_map: str = "linear"
    passthrough: bool = False
    series_kwargs: dict = field(default_factory=dict)


#: Forecasting presets. Horizons exceed the expected valid prediction time, so a VPT is not capped by them
#: (Mackey-Glass: 1500 samples = 7.8 Lyapunov times; Lorenz: 1400 steps of 0.02 = 25 Lyapunov times).
PRESETS: dict[str, Preset] = {
    "mackey-glass": Preset(
        train=4000, washout=500, horizon=1500, units=400, gain=1.0, leak=0.3, input_scaling=0.5, bias_scaling=0.2,
        alpha=1e-9,
    ),
    "lorenz": Preset(
        train=10000, washout=500, horizon=1400, units=500, gain=0.9, leak=1.0, input_scaling=0.3,
        bias_scaling=0.5, alpha=1e-7, feature_map="pathak", passthrough=True, series_kwargs={"dt": 0.02},
    ),
    "rossler": Preset(
        train=10000, washout=500, horizon=1500, units=400, gain=0.5, leak=1.0, input_scaling=0.3,
        bias_scaling=0.5, alpha=1e-8, feature_map="pathak", passthrough=True, series_kwargs={"dt": 0.1},
    ),
    "henon": Preset(
        train=4000, washout=200, horizon=40, units=300, gain=0.6, leak=1.0, input_scaling=0.5, bias_scaling=0.5,
        alpha=1e-9, feature_map="quadratic", passthrough=True,
    ),
}
assert tuple(PRESETS) == FORECAST_TASKS

#: ESN settings for the classification tasks: a memoryful (leak 1, gain 0.9) tanh reservoir of 100 units.
CLASSIFY_ESN = dict(units=100, gain=0.9, leak=1.0, input_scaling=1.0, bias_scaling=0.2)


def _build_esn(in_size: int, units: int, gain: float, *, key, task: str | None = None):
    from ._esn import ESN

    if task in PRESETS:
        p = PRESETS[task]
        return ESN(in_size, units, key=key, gain=gain, leak=p.leak, input_scaling=p.input_scaling,
                   bias_scaling=p.bias_scaling, feature_map=p.feature_map)
    c = CLASSIFY_ESN
    return ESN(in_size, units, key=key, gain=gain, leak=c["leak"], input_scaling=c["input_scaling"],
               bias_scaling=c["bias_scaling"])


def _build_lsm(in_size: int, units: int, gain: float, *, key, task: str | None = None):
    from ._lsm import LSM

    # Maass et al. 2002's deterministic column (constant 13.5 nA background, no noise), so that no key is needed;
    # features: filtered spike trains and membrane potentials.
    return LSM(in_size, units, key=key, gain=gain, input_scaling=1.0, background_current=13.5,
               background_spread=0.0, noise=0.0, readout="both")


register_reservoir(
    "esn",
    build=_build_esn,
    units=200,
    gain=1.0,
    sweep_gains=(0.1, 2.0),
    description="leaky tanh echo-state network; gain = spectral radius of W",
    gain_unit="spectral radius",
    min_gain=0.0,
    task_defaults={
        **{t: {"units": p.units, "gain": p.gain, "alpha": p.alpha, "passthrough": p.passthrough}
           for t, p in PRESETS.items()},
        **{t: {"units": CLASSIFY_ESN["units"], "gain": CLASSIFY_ESN["gain"]} for t in CLASSIFY_TASKS},
    },
)

register_reservoir(
    "lsm",
    build=_build_lsm,
    units=135,
    gain=1.0,
    sweep_gains=(0.2, 4.0),
    description="liquid state machine: Maass et al. 2002 LIF column with dynamic synapses; gain = synaptic scale",
    gain_unit="recurrent synaptic amplitude scale",
    forecasts=False,
    forecast_note=(
        "a liquid state machine cannot forecast a chaotic series in closed loop: its spike-filtered features give "
        "one-step Mackey-Glass NRMSE 0.25 at best (an ESN of the same size: 0.0002), so the fed-back errors grow "
        "at once (benchmarks/RESULTS.md, LSM section); use it for classification"
    ),
    min_gain=0.0,
    task_defaults={t: {"alpha": 1e-6} for t in FORECAST_TASKS},
)


#: Per-task settings of the CLI's NG-RC (`reservoirs --substrate ngrc`; `units` = delay taps k): skip s, degree,
#: ridge, and (Lorenz) the data protocol of Gauthier et al. 2021 (Nat. Commun. 12:5564): dt = 0.025, 400 training
#: samples, k = 2, s = 1, constant + linear + quadratic features, increments predicted, raw (unstandardised) data.
#: Their ridge of 2.5e-6 reproduces their test NRMSE on their own data (scipy's RK23 at its default tolerances:
#: 2.11e-3 +- 0.45e-3 over their 10 windows, `benchmarks/bench_ngrc.py`), but on accurately integrated data (this
#: toolkit's RK4 generator) the same fit diverges in closed loop in 9 of 10 windows: the integrator's error acted as
#: a regulariser. Chosen on held-out seeds 100-109 with the CLI protocol (mean / min VPT in Lyapunov times, closed
#: loops that diverged): Lorenz ridge 1e-5: 1.72 / 0.09, 6 diverged; 1e-4: 0.54 / 0.18, 10; 1e-3: 5.13 / 2.65, 1;
#: 3e-3: 2.30 / 0.20, 4; 0.1: 3.86 / 1.70, 1; 0.3: 4.34 / 1.36, 0; 1: 3.61 / 1.22, 0 -> 0.3, the best that never
#: diverged (the closed loop's stability is not monotonic in the ridge). Mackey-Glass (seeds 100-105, standardised):
#: quadratic monomials do not forecast it (VPT <= 0.44 for k = 2-8, s = 1-6); cubic ones with k = 4 taps 8 samples
#: apart reach 1.25 / 0.86, none diverged. Rossler at dt = 0.1: 0.48 / 0.15 (k = 3, ridge 0.1; k = 2-4, ridges
#: 1e-8 to 1: at most 0.69): a short forecast. Henon is a quadratic map of two taps: exact (one-step NRMSE 4e-13).
NGRC_PRESETS: dict[str, dict] = {
    "mackey-glass": dict(units=4, skip=8, degree=3, alpha=1e-6),
    "lorenz": dict(units=2, skip=1, degree=2, alpha=0.3, train=401, washout=1, horizon=1104,
                   series_kwargs={"dt": 0.025, "h": 0.0025}, standardize=False),
    "rossler": dict(units=3, skip=1, degree=2, alpha=0.1),
    "henon": dict(units=2, skip=1, degree=2, alpha=1e-9),
    "sine-square": dict(units=4, skip=1, degree=2),
    "xor": dict(units=4, skip=1, degree=2),
    "patterns": dict(units=4, skip=1, degree=2),
}
assert set(NGRC_PRESETS) == set(FORECAST_TASKS + CLASSIFY_TASKS)
_NGRC_BUILD_KEYS = ("skip", "degree")


def _build_ngrc(in_size: int, units: int, gain: float, *, key, task: str | None = None):
    from ._ngrc import NGRC

    d = NGRC_PRESETS.get(task, NGRC_PRESETS["mackey-glass"])
    return NGRC(in_size, units, **{k: d[k] for k in _NGRC_BUILD_KEYS})


register_reservoir(
    "ngrc",
    build=_build_ngrc,
    units=2,
    gain=0.0,
    sweep_gains=(0.0, 1.0),
    description="next-generation reservoir computer (Gauthier et al. 2021): delay taps and their quadratic "
                "monomials; units = delay taps",
    gain_unit="none (no recurrence)",
    sweeps=False,
    sweep_note="an NG-RC has no recurrent dynamics (its state is a delay line), so there is no gain and no edge of "
               "chaos to sweep",
    task_defaults={t: {k: v for k, v in d.items() if k not in _NGRC_BUILD_KEYS} | {"gain": 0.0}
                   for t, d in NGRC_PRESETS.items()},
)

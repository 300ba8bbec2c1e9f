"""reservoirs: reservoir computing on JAX.

Echo-state networks, liquid state machines and physical substrates are `AbstractReservoir`s; `fit` trains a
ridge readout from streaming Gram statistics, `predict` runs it teacher-forced and `forecast` runs it in closed
loop.
"""

from ._classify import BaselineResult as BaselineResult
from ._classify import InputWindow as InputWindow
from ._classify import RidgeClassifier as RidgeClassifier
from ._classify import accuracy as accuracy
from ._classify import classify as classify
from ._classify import confusion_matrix as confusion_matrix
from ._classify import fit_classifier as fit_classifier
from ._classify import fit_sequences as fit_sequences
from ._classify import raw_input_baseline as raw_input_baseline
from ._diagnostics import (
    ESPResult as ESPResult,
)
from ._diagnostics import (
    MemoryCapacity as MemoryCapacity,
)
from ._diagnostics import (
    SeparationRanks as SeparationRanks,
)
from ._diagnostics import (
    echo_state_property as echo_state_property,
)
from ._diagnostics import (
    lyapunov_spectrum as lyapunov_spectrum,
)
from ._diagnostics import (
    memory_capacity as memory_capacity,
)
from ._diagnostics import (
    separation_ranks as separation_ranks,
)
from ._esn import ESN as ESN
from ._esn import EllMatrix as EllMatrix
from ._esn import spectral_radius as spectral_radius
from ._lsm import LSM as LSM
from ._ngrc import NGRC as NGRC
from ._parallel import DriveReport as DriveReport
from ._online import OnlineReadout as OnlineReadout
from ._online import OnlineResult as OnlineResult
from ._online import OnlineState as OnlineState
from ._online import fit_online as fit_online
from ._online import force as force
from ._online import lms as lms
from ._online import rls as rls
from ._tune import TuneResult as TuneResult
from ._tune import constraint_of as constraint_of
from ._tune import tune as tune
from ._lsm import FiringRates as FiringRates
from ._lsm import LSMState as LSMState
from ._lsm import PerturbationResult as PerturbationResult
from ._lsm import SpikingEnergyTerm as SpikingEnergyTerm
from ._lsm import branching_ratio as branching_ratio
from ._lsm import firing_rates as firing_rates
from ._lsm import plot_raster as plot_raster
from ._lsm import spike_perturbation as spike_perturbation
from ._lsm import spike_trains as spike_trains
from ._lsm import synaptic_events as synaptic_events
from ._metrics import (
    forecast_error as forecast_error,
)
from ._metrics import (
    mean_and_spread as mean_and_spread,
)
from ._metrics import (
    nrmse as nrmse,
)
from ._metrics import (
    valid_prediction_time as valid_prediction_time,
)
from ._metrics import VPTResult as VPTResult
from ._model import (
    ForecastResult as ForecastResult,
)
from ._model import (
    Model as Model,
)
from ._model import (
    fit as fit,
)
from ._model import (
    forecast as forecast,
)
from ._model import (
    load_model as load_model,
)
from ._model import (
    predict as predict,
)
from ._model import (
    save_model as save_model,
)
from ._model import Standardize as Standardize
from ._plot import plot_attractor as plot_attractor
from ._plot import plot_forecast as plot_forecast
from ._registry import ReservoirEntry as ReservoirEntry
from ._registry import register_reservoir as register_reservoir
from ._registry import registry as registry
from ._registry import preset as preset
from ._registry import ReservoirPreset as ReservoirPreset
from ._reservoir import AbstractReservoir as AbstractReservoir
from ._reservoir import run as run
from ._ridge import (
    AbstractReadout as AbstractReadout,
)
from ._ridge import AlphaGridEdgeWarning as AlphaGridEdgeWarning
from ._ridge import (
    GramStats as GramStats,
    QRStats as QRStats,
)
from ._ridge import (
    Ridge as Ridge,
)
from ._ridge import (
    RidgeCV as RidgeCV,
)
from ._ridge import (
    RidgePath as RidgePath,
)
from ._sweep import SweepResult as SweepResult
from ._sweep import sweep as sweep

from . import _presets  # noqa: E402,F401  (registers the ESN and the LSM)

__version__ = "0.1.0"

"""reservoirs: reservoir computing on JAX.

Echo-state networks and physical substrates are `AbstractReservoir`s; `fit` trains a ridge readout from streaming
Gram statistics, `predict` runs it teacher-forced and `forecast` runs it in closed loop.
"""

from ._esn import ESN as ESN, EllMatrix as EllMatrix, spectral_radius as spectral_radius
from ._metrics import (
    forecast_error as forecast_error,
    mean_and_spread as mean_and_spread,
    nrmse as nrmse,
    valid_prediction_time as valid_prediction_time,
)
from ._model import (
    ForecastResult as ForecastResult,
    Model as Model,
    fit as fit,
    forecast as forecast,
    load_model as load_model,
    predict as predict,
    save_model as save_model,
)
from ._reservoir import AbstractReservoir as AbstractReservoir, run as run
from ._ridge import (
    AbstractReadout as AbstractReadout,
    GramStats as GramStats,
    Ridge as Ridge,
    RidgeCV as RidgeCV,
    RidgePath as RidgePath,
)

__version__ = "0.1.0"

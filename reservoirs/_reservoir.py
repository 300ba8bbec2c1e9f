"""The reservoir protocol and the one scan driver that every substrate goes through."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from ._checks import as_series, check_key, check_reservoir, check_state

State = PyTree[Array]


class AbstractReservoir(eqx.Module):
    """A driven dynamical system whose state a linear readout can see.

    Echo-state networks, spiking liquids and physical substrates are all reservoirs: a state that an input drives,
    a `gain` knob that moves the dynamics from ordered, through the edge of chaos, into chaos, and a feature vector
    that a readout sees. Everything in the toolkit (`fit`, `predict`, `forecast`, metrics, sweeps, the CLI) works
    with any subclass.

    Subclasses are final Equinox modules and implement:

    - `init_state()`: the state before any input (any pytree of arrays).
    - `step(state, u, *, key=None)`: advance one input sample. `u` has shape `(in_size + feedback_size,)`: the
      external input followed by the fed-back output, if the reservoir has output feedback.
    - `features(state)`: the vector, of length `feature_size`, that the readout sees.

    and provide the fields or properties `gain` (a scalar array leaf, so that a sweep can batch it), `in_size` and
    `feature_size`. `feedback_size` (default 0), `stochastic` (default False; True when `step` consumes its
    `key`), `standardize_inputs` and `predicts_increment` (default False) and `differentiable` (default True)
    may be overridden, and so may `for_batch` (a layout for driving many copies at once; default: unchanged).
    """

    gain: eqx.AbstractVar[Float[Array, ""]]
    in_size: eqx.AbstractVar[int]

    @abc.abstractmethod
    def init_state(self) -> State:
        raise NotImplementedError

    @abc.abstractmethod
    def step(self, state: State, u: Float[Array, " inputs"], *, key: PRNGKeyArray | None = None) -> State:
        raise NotImplementedError

    @abc.abstractmethod
    def features(self, state: State) -> Float[Array, " features"]:
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def feature_size(self) -> int:
        raise NotImplementedError

    @property
    def feedback_size(self) -> int:
        return 0

    @property
    def stochastic(self) -> bool:
        return False

    @property
    def standardize_inputs(self) -> bool:
        """Whether `fit` standardises inputs and targets by default (see `fit`'s `standardize`).

        True for substrates whose physical input range (volts, amperes, optical power) assumes inputs of order one;
        False (the default) where `input_scaling` is meant to be set for the data as given.
        """
        return False

    @property
    def differentiable(self) -> bool:
        """Whether gradients of a loss with respect to the hyperparameters carry information (`tune`'s
        `method="gradient"`): True here; False for spiking reservoirs, whose thresholds have zero derivative almost
        everywhere. `differentiable_note` says why."""
        return True

    @property
    def differentiable_note(self) -> str:
        return ""

    def for_batch(self, batch: int) -> "AbstractReservoir":
        """The same reservoir laid out for `batch` copies driven at once (the configurations of a sweep, the time
        segments of a parallel-in-time drive), where another storage of the same weights runs faster batched than
        one at a time. The dynamics are the same up to rounding. Default: `self`."""
        return self

    @property
    def predicts_increment(self) -> bool:
        """Whether `fit` trains the readout on increments by default (see `fit`'s `residual`): False here; True for
        the `NGRC`, whose published protocol predicts `u(t+1) - u(t)`."""
        return False


def step_key(key: PRNGKeyArray | None, t: Any) -> PRNGKeyArray | None:
    """The key for time step `t`: `fold_in(key, t)`, so that no `(time, 2)` key array is ever materialised."""
    return None if key is None else jax.random.fold_in(key, t)


def _scan_features(reservoir, state, inputs, key, t0):
    def body(state, xs):
        u, t = xs
        state = reservoir.step(state, u, key=step_key(key, t))
        return state, reservoir.features(state)

    ts = t0 + jnp.arange(inputs.shape[0])
    return jax.lax.scan(body, state, (inputs, ts))


_scan_features_jit = eqx.filter_jit(_scan_features)


def run(
    reservoir: AbstractReservoir,
    inputs: Float[ArrayLike, "time *inputs"],
    state: State | None = None,
    *,
    key: PRNGKeyArray | None = None,
) -> tuple[State, Float[Array, "time features"]]:
    """Drive `reservoir` with `inputs` (one `jax.lax.scan`) and return the final state and the features.

    This materialises the `(time, features)` matrix: use it to look at states. `fit` never does.

    **Arguments:**

    - `reservoir`: any `AbstractReservoir`.
    - `inputs`: shape `(time, in_size + feedback_size)`; a 1-D array is read as one channel.
    - `state`: the state to start from; `reservoir.init_state()` by default.
    - `key`: PRNG key for stochastic substrates (thermal or read noise); step `t` uses `fold_in(key, t)`.

    **Returns:** `(final_state, features)`.

    Example:
        >>> esn = ESN(1, 100, key=jax.random.key(0))
        >>> state, feats = run(esn, jnp.sin(jnp.arange(200.0) / 5))
    """
    check_reservoir(reservoir)
    inputs = as_series("inputs", inputs, dim=reservoir.in_size + reservoir.feedback_size)
    check_key(reservoir, key)
    if state is None:
        state = reservoir.init_state()
    else:
        check_state(reservoir, state)
    return _scan_features_jit(reservoir, state, inputs, key, 0)

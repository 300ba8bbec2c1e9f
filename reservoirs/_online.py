"""Online readouts (RLS, LMS, FORCE), each an `(init, update)` pair in the manner of optax, stepped inside the scan."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._checks import as_series, check_int, check_interval, check_key, check_positive, check_reservoir, check_state
from ._model import Model
from ._reservoir import step_key
from ._ridge import Ridge


class OnlineState(NamedTuple):
    """The running readout: `W` (outputs x features, the last column the bias when `fit_intercept`), `P` (the
    inverse correlation matrix for RLS / FORCE; `(0, 0)` for LMS) and the number of updates."""

    W: Float[Array, "outputs features"]
    P: Float[Array, "features features"]
    count: Array


class OnlineReadout(NamedTuple):
    """`init(n_features, n_outputs, dtype) -> OnlineState` and `update(state, z, y) -> (state, y_before)`: one
    sample `z` (features) with its target `y`; `y_before` is the output before the update (the a-priori output,
    whose error drives the update). `fit_intercept`: a constant 1 is appended to `z` (a bias)."""

    init: Callable
    update: Callable
    fit_intercept: bool
    name: str


def _augment(z, fit_intercept):
    return jnp.concatenate([z, jnp.ones((1,), z.dtype)]) if fit_intercept else z


def rls(alpha: float = 1.0, *, forgetting: float = 1.0, fit_intercept: bool = True) -> OnlineReadout:
    r"""Recursive least squares (Haykin, *Adaptive Filter Theory*, ch. 10): with `P(0) = I / alpha`,

    $$k = \frac{P z}{\lambda + z^\top P z}, \quad W \leftarrow W - (W z - y)\,k^\top, \quad
      P \leftarrow (P - k\, z^\top P) / \lambda.$$

    With forgetting factor λ = 1 (default) and `P(0) = I / alpha`, after T samples W is exactly the ridge solution
    `argmin sum_t |y_t - W z_t|^2 + alpha |W|^2` (the bias, if any, penalised like a weight): RLS matches the batch
    fit on stationary data. λ < 1 forgets old samples with time constant 1 / (1 - λ) (non-stationary data).
    """
    check_positive("alpha", alpha)
    check_interval("forgetting", forgetting, 0.0, 1.0, low_open=True, high_open=False)

    def init(n_features, n_outputs, dtype):
        f = n_features + int(fit_intercept)
        return OnlineState(jnp.zeros((n_outputs, f), dtype), jnp.eye(f, dtype=dtype) / alpha,
                           jnp.zeros((), jnp.int32))

    def update(state, z, y):
        z = _augment(z, fit_intercept)
        y_before = state.W @ z
        Pz = state.P @ z
        k = Pz / (forgetting + z @ Pz)
        W = state.W - jnp.outer(y_before - y, k)
        P = (state.P - jnp.outer(k, Pz)) / forgetting
        P = (P + P.T) / 2  # keep it symmetric against rounding over long runs
        return OnlineState(W, P, state.count + 1), y_before

    return OnlineReadout(init, update, bool(fit_intercept), "rls")


def lms(learning_rate: float = 0.01, *, fit_intercept: bool = True) -> OnlineReadout:
    r"""Least mean squares (Widrow & Hoff 1960): $W \leftarrow W - \mu\,(W z - y)\,z^\top$. Cheap (no P), slow to
    converge when the features are correlated; stable for $0 < \mu < 2 / \lambda_{max}(E[z z^\top])$."""
    check_positive("learning_rate", learning_rate)

    def init(n_features, n_outputs, dtype):
        f = n_features + int(fit_intercept)
        return OnlineState(jnp.zeros((n_outputs, f), dtype), jnp.zeros((0, 0), dtype), jnp.zeros((), jnp.int32))

    def update(state, z, y):
        z = _augment(z, fit_intercept)
        y_before = state.W @ z
        W = state.W - learning_rate * jnp.outer(y_before - y, z)
        return OnlineState(W, state.P, state.count + 1), y_before

    return OnlineReadout(init, update, bool(fit_intercept), "lms")


def force(alpha: float = 1.0, *, fit_intercept: bool = False) -> OnlineReadout:
    r"""FORCE learning (Sussillo & Abbott 2009, Neuron 63:544): the RLS update of the readout, applied while the
    network runs on its *own* output fed back (not the target), from the first step, so that the output error is
    kept small from the start and the feedback tames the chaotic network. `alpha` is their α (`P(0) = I / α`; they
    use 1-100); no bias by default, as in their network. Use it with `fit_online(..., feedback="output")`."""
    r = rls(alpha, fit_intercept=fit_intercept)
    return OnlineReadout(r.init, r.update, r.fit_intercept, "force")


class OnlineResult(NamedTuple):
    """What `fit_online` returns: `model` (a `Model` with a `Ridge` readout holding the learned weights, so that
    `predict`, `forecast` and `save_model` work as after `fit`), `outputs` (the a-priori output at every training
    step, `(time, outputs)`), `errors` (`outputs - targets`), `state` (the readout's final `OnlineState`)."""

    model: Model
    outputs: Float[Array, "time outputs"]
    errors: Float[Array, "time outputs"]
    state: OnlineState


@eqx.filter_jit
def _run_online(reservoir, readout_init, update, fit_intercept, inputs, targets, washout, feedback_own, key, rstate,
                res_state):
    n_out = targets.shape[1]
    probe = reservoir.features(res_state)
    ostate = rstate if rstate is not None else readout_init(probe.shape[0], n_out, probe.dtype)

    def body(carry, xs):
        state, ostate, y_prev = carry
        u, y, t = xs
        drive = u
        if reservoir.feedback_size:
            drive = jnp.concatenate([u, y_prev.astype(u.dtype)])
        state = reservoir.step(state, drive, key=step_key(key, t))
        z = reservoir.features(state)
        new_ostate, y_before = update(ostate, z, y)
        learn = t >= washout
        ostate = jax.tree.map(lambda a, b: jnp.where(learn, a, b), new_ostate, ostate)
        # the fed-back signal: the network's own (a-priori) output for FORCE, the true target otherwise
        fb = y_before.astype(y.dtype) if feedback_own else y
        return (state, ostate, fb), y_before

    ts = jnp.arange(inputs.shape[0])
    y0 = jnp.zeros(n_out, targets.dtype)
    (state, ostate, last), outs = jax.lax.scan(body, (res_state, ostate, y0), (inputs, targets, ts))
    W = ostate.W
    weights, bias = (W[:, :-1], W[:, -1]) if fit_intercept else (W, jnp.zeros(n_out, W.dtype))
    return state, ostate, outs, weights, bias, last


def fit_online(
    reservoir,
    inputs: Float[ArrayLike, "time_in ..."] | None,
    targets: Float[ArrayLike, "time_out ..."],
    *,
    readout=None,
    washout: int = 0,
    feedback: str = "teacher",
    state=None,
    key=None,
) -> OnlineResult:
    """Drive `reservoir` and update an online readout at every step, in one `jax.lax.scan`.

    - `readout`: `rls()` (default), `lms(...)` or `force(...)`.
    - `inputs`: `(time, in_size)`, or None for a reservoir driven only by its output feedback (in_size 0).
    - `washout`: steps driven but not learned from.
    - `feedback` (reservoirs with `feedback_size > 0`): `"teacher"` feeds back the previous target (teacher forcing);
      `"output"` feeds back the readout's own previous output, as FORCE learning does (the default for a `force()`
      readout is still `"teacher"` unless you ask: pass `feedback="output"`).
    - `state`: the reservoir's initial state (default `reservoir.init_state()`). An autonomous network trained with
      FORCE needs a non-zero one (Sussillo & Abbott start from random activity): from zero, with a zero readout,
      nothing ever moves.
    - `key`: for stochastic substrates.

    **Returns:** an `OnlineResult`; `result.model` continues from the end of training (`forecast(result.model, n)`
    runs the closed loop).
    """
    check_reservoir(reservoir)
    readout = rls() if readout is None else readout
    if not isinstance(readout, OnlineReadout):
        raise ValueError(f"`readout` must be an OnlineReadout (rls(), lms(), force()), got {type(readout).__name__}")
    if feedback not in ("teacher", "output"):
        raise ValueError(f"`feedback` must be 'teacher' or 'output', got {feedback!r}")
    targets = as_series("targets", targets, dim=None)
    if inputs is None:
        if reservoir.in_size:
            raise ValueError(f"`inputs` is required: the reservoir has in_size={reservoir.in_size}")
        inputs = jnp.zeros((targets.shape[0], 0), targets.dtype)
    else:
        inputs = as_series("inputs", inputs, dim=reservoir.in_size)
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"`inputs` and `targets` must have the same length, got {inputs.shape[0]} and "
                         f"{targets.shape[0]}")
    if reservoir.feedback_size and reservoir.feedback_size != targets.shape[1]:
        raise ValueError(f"`targets` must have {reservoir.feedback_size} channels to be fed back, got "
                         f"{targets.shape[1]}")
    if feedback == "output" and not reservoir.feedback_size:
        raise ValueError("`feedback='output'` needs a reservoir with output feedback (feedback_size > 0)")
    washout = check_int("washout", washout, minimum=0)
    if washout >= inputs.shape[0]:
        raise ValueError(f"`washout` must be < the series length {inputs.shape[0]}, got {washout}")
    check_key(reservoir, key)
    if state is None:
        state = reservoir.init_state()
    else:
        check_state(reservoir, state)
    state, ostate, outs, weights, bias, last = _run_online(
        reservoir, readout.init, readout.update, readout.fit_intercept, inputs, targets, washout,
        feedback == "output", key, None, state)
    if not bool(jnp.all(jnp.isfinite(weights))):
        raise ValueError(f"the online readout ({readout.name}) diverged (NaN or inf weights): lower the learning rate "
                         "or raise alpha")
    fitted = Ridge(0.0, weights=weights, bias=bias)
    seen = targets[washout:]
    last_output = last if feedback == "output" else targets[-1]
    model = Model(reservoir, fitted, state, last_output.astype(targets.dtype), jnp.mean(seen, axis=0),
                  jnp.std(seen, axis=0))
    return OnlineResult(model, outs, outs - targets, ostate)

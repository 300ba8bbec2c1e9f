"""Hyperparameter tuning: gradient descent (optax) through the whole fit, or a vmapped random population search."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checks import as_series, check_int, check_key, check_positive, check_reservoir
from ._model import _closed_loop_step, _fit_core, _predict_impl
from ._progress import progress_bar
from ._reservoir import step_key
from ._ridge import Ridge

#: Hyperparameters tuned by default, where the reservoir has them as scalar leaves (an ESN has all four).
DEFAULT_PARAMS = ("gain", "leak", "input_scaling", "bias_scaling")
_ALPHA = "alpha"
#: The ridge strength's free coordinate is `ln(alpha) / _ALPHA_SCALE`: a unit step in it is a factor e⁴ ≈ 55 in
#: alpha, as the useful ridge strengths span about 1e-12 to 1e-2 (23 e-folds) while a gain or a scaling moves within
#: a factor of a few. The optimiser's step (Adam's is about its learning rate in every free coordinate) then covers
#: the ridge range as fast as the others: measured in `benchmarks/bench_tune.py` (Lorenz, N = 300, Adam 0.3, 38
#: evaluations), `ln(alpha)` itself crawled at the step limit and ended 1.49x the grid's best, log10 alpha 0.91x,
#: this scale 0.60x (within 10 % after 15 evaluations); Mackey-Glass 0.68x / 0.71x / 0.72x.
_ALPHA_SCALE = 4.0


def alpha_to_free(alpha):
    """The free coordinate of a ridge strength `alpha` (> 0)."""
    return jnp.log(alpha) / _ALPHA_SCALE


def alpha_of(free):
    """The ridge strength of a free coordinate (inverse of `alpha_to_free`)."""
    return jnp.exp(free * _ALPHA_SCALE)


@dataclass(frozen=True)
class Constraint:
    """How a hyperparameter is kept valid while the optimiser moves freely: `value = to_value(free)`.

    `"positive"`: value = exp(free) (> 0; a start at or near 0, where the exponential would freeze it, is moved
    up to `floor`, 0.01); `"interval"`: value = low + (high -
    low) sigmoid(free), strictly inside (low, high) (a start on a closed end is moved 1e-3 of the width inside);
    `"real"`: value = free.
    """

    kind: str
    low: float = 0.0
    high: float = 1.0
    floor: float = 1e-2

    def to_free(self, value: float) -> float:
        v = float(value)
        if self.kind == "positive":
            return math.log(max(v, self.floor))
        if self.kind == "interval":
            w = self.high - self.low
            p = (min(max(v, self.low + 1e-3 * w), self.high - 1e-3 * w) - self.low) / w
            return math.log(p / (1 - p))
        return v

    def to_value(self, free):
        if self.kind == "positive":
            return jnp.exp(free)
        if self.kind == "interval":
            return self.low + (self.high - self.low) * jax.nn.sigmoid(free)
        return free


def constraint_of(reservoir, name: str) -> Constraint:
    """The constraint the reservoir's constructor puts on the scalar leaf `name` (`> 0`, `>= 0` or an interval)."""
    from . import _checks

    rule = None
    try:
        from ._esn import _SCALAR_RULES, ESN

        if isinstance(reservoir, ESN):
            rule = _SCALAR_RULES.get(name)
    except ImportError:  # pragma: no cover
        pass
    if rule is None:
        rule = _checks._LEAF_CHECKS.get(type(reservoir), {}).get(name)
    if rule is None:
        return Constraint("real")
    fn, kwargs = rule
    if fn is _checks.check_positive:
        return Constraint("positive")
    return Constraint("interval", low=float(kwargs["low"]), high=float(kwargs["high"]))


@dataclass
class TuneResult:
    """What `tune` returns.

    - `reservoir`: the reservoir with the best hyperparameters found; `readout`: an unfitted `Ridge` with the best
      ridge strength (fit both on all the training data, `fit(result.reservoir, ..., readout=result.readout)`).
    - `params`: the best values by name (`"alpha"` for the ridge strength); `initial`: the starting values.
    - `validation_nrmse`: the best validation loss; `initial_nrmse`: the loss at the starting values.
    - `history`: the validation loss of every evaluation in the order they ran, `(evaluations,)` for a random
      search, `(steps + 1, restarts)` for gradient descent (NaN where a configuration diverged).
    - `diverged`: per restart (gradient) or per configuration (random), whether its loss became NaN or inf: those
      are reported here and skipped, never fatal.
    - `evaluations`: model evaluations (a gradient step counts one: the loss and its gradient come from one
      forward and one backward pass); `seconds`: wall time, compilation included; `method`.
    """

    reservoir: Any
    readout: Ridge
    params: dict[str, float]
    initial: dict[str, float]
    validation_nrmse: float
    initial_nrmse: float
    history: np.ndarray
    diverged: np.ndarray
    evaluations: int
    seconds: float
    method: str
    info: dict = field(default_factory=dict)

    def best_so_far(self) -> np.ndarray:
        """The lowest validation loss after each evaluation (evaluations in the order they ran; NaN skipped)."""
        h = np.asarray(self.history, float).reshape(-1)
        h = np.where(np.isfinite(h), h, np.inf)
        return np.minimum.accumulate(h)

    def plot(self, ax=None, label: str | None = None):
        """Best validation NRMSE against the number of model evaluations (log y). Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.2))
        best = self.best_so_far()
        ax.plot(np.arange(1, best.size + 1), best, label=label or self.method)
        ax.set_yscale("log")
        ax.set_xlabel("model evaluations")
        ax.set_ylabel("best validation NRMSE")
        ax.legend(fontsize=8)
        return ax


def _with_values(reservoir, names, values):
    """`sweep`'s leaf replacement (`_sweep._set_leaves`), each value cast to its leaf's dtype."""
    from ._sweep import _set_leaves

    return _set_leaves(reservoir, names,
                       [jnp.asarray(v, getattr(reservoir, n).dtype) for n, v in zip(names, values, strict=True)])


def _teacher_states(reservoir, state, inputs, key, t0):
    """The state *before* each input of `inputs` (teacher forcing), stacked."""

    def body(state, xs):
        u, t = xs
        return reservoir.step(state, u, key=step_key(key, t)), state

    _, before = jax.lax.scan(body, state, (inputs, t0 + jnp.arange(inputs.shape[0])))
    return before


def make_loss(reservoir, names, constraints, data, *, washout, horizon, stride, passthrough, solver, key,
              fixed_alpha):
    """The validation loss as a function of the free parameters (a dict of scalars): fit on the training part,
    then the σ-normalised NRMSE on the validation part, one step ahead (`horizon=1`) or in closed loop over
    `horizon` steps from every `stride`-th validation sample."""
    tr_in, tr_tgt, va_in, va_tgt = data
    sigma = jnp.std(va_tgt, axis=0)
    sigma = jnp.where(sigma > 0, sigma, 1.0)

    def loss(free):
        res = _with_values(reservoir, names, [constraints[n].to_value(free[n]) for n in names])
        alpha = alpha_of(free[_ALPHA]) if _ALPHA in free else fixed_alpha
        readout = Ridge(alpha, input_passthrough=passthrough, solver=solver)
        model, finite, _ = _fit_core(res, readout, tr_in, tr_in, tr_tgt, res.init_state(), key, washout, None)
        if horizon == 1:
            pred, _ = _predict_impl(model, va_in, key)
            err = jnp.sqrt(jnp.mean(((pred - va_tgt) / sigma) ** 2))
        else:
            before = _teacher_states(model.reservoir, model.state, va_in, key, tr_in.shape[0])
            starts = jnp.arange(0, va_in.shape[0] - horizon + 1, stride)

            def closed(s):
                def body(carry, j):
                    state, y_prev = carry
                    state, y = _closed_loop_step(model, state, y_prev, y_prev, step_key(key, s + j))
                    return (state, y.astype(y_prev.dtype)), y

                state0 = jax.tree.map(lambda a: a[s], before)
                _, ys = jax.lax.scan(body, (state0, va_in[s]), jnp.arange(horizon))
                truth = jax.lax.dynamic_slice_in_dim(va_tgt, s, horizon)
                return jnp.mean(((ys - truth) / sigma) ** 2)

            err = jnp.sqrt(jnp.mean(jax.lax.map(closed, starts)))
        return jnp.where(finite & jnp.isfinite(err), err, jnp.nan)

    return loss


def _check_params(reservoir, params) -> tuple[str, ...]:
    if params is None:
        names = tuple(n for n in DEFAULT_PARAMS if eqx.is_array(getattr(reservoir, n, None))
                      and jnp.ndim(getattr(reservoir, n)) == 0 and (n == "gain" or constraint_of(reservoir, n).kind
                                                                     != "real"))
        if hasattr(reservoir, "check_leaf"):  # e.g. the NG-RC: no gain to tune
            names = tuple(n for n in names if _leaf_allowed(reservoir, n))
        return names
    if isinstance(params, str):
        params = (params,)
    names = tuple(params)
    for n in names:
        if not isinstance(n, str):
            raise ValueError(f"`params` must be names of scalar hyperparameters, got {n!r}")
        leaf = getattr(reservoir, n, None)
        if n == _ALPHA:
            raise ValueError("`params` names the reservoir's hyperparameters; the ridge strength is tuned by "
                             "`tune_alpha=True`")
        if not eqx.is_array(leaf) or jnp.ndim(leaf) != 0 or not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise ValueError(f"`params`: {type(reservoir).__name__} has no scalar floating hyperparameter {n!r}")
        if not _leaf_allowed(reservoir, n):
            raise ValueError(f"`params`: {n!r} cannot be tuned on {type(reservoir).__name__}")
    if len(set(names)) != len(names):
        raise ValueError(f"`params` lists a name twice: {names}")
    return names


def _leaf_allowed(reservoir, name) -> bool:
    hook = getattr(type(reservoir), "check_leaf", None)
    if not callable(hook):
        return True
    try:
        reservoir.check_leaf(name, float(getattr(reservoir, name)) or 1.0)
    except ValueError:
        return False
    return True


def tune(
    reservoir,
    inputs,
    targets,
    *,
    params=None,
    alpha: float = 1e-6,
    tune_alpha: bool = True,
    method: str = "gradient",
    optimizer=None,
    steps: int = 50,
    restarts: int = 1,
    population: int = 64,
    spread: float = 0.5,
    validation: float = 0.25,
    washout: int = 100,
    horizon: int = 1,
    stride: int = 10,
    input_passthrough: bool = False,
    solver: str = "auto",
    key=None,
    noise_key=None,
    batch_size: int = 16,
    progress: bool = True,
) -> TuneResult:
    """Tune a reservoir's continuous hyperparameters on a validation split: by gradient or by random search.

    The last `validation` fraction of `(inputs, targets)` is held out. For a set of hyperparameters the readout is
    fitted on the rest (the same one-call `fit`: the scan, the streaming statistics and the ridge solve) and the
    loss is the σ-normalised NRMSE on the held-out part, one step ahead (`horizon=1`, teacher-forced) or in closed
    loop over `horizon` steps from every `stride`-th held-out sample (for forecasting; needs targets that are
    the next inputs). Everything is JAX, so:

    - `method="gradient"`: `jax.grad` of that loss through the whole pipeline, and any optax optimiser (default
      `optax.adam(0.05)` on the free parameters), for `steps` steps. Constraints are kept by reparameterisation
      (`constraint_of`: a positive gain is `exp(free)`, a leak in (0, 1] a scaled sigmoid); the ridge strength is
      tuned as `ln(alpha) / 4` (a unit step is a factor 55 in alpha: its useful range is that much wider).
      `restarts` > 1 runs that many starting points at once, as one vmapped population:
      the first is the reservoir as given, the others are perturbed by N(0, spread²) in the free coordinates
      (`key` required). A restart whose loss becomes NaN or inf is frozen and reported in `diverged`.
    - `method="random"`: `population` configurations drawn around the given one (N(0, spread²) in the free
      coordinates, so four times wider in `ln alpha`; the first is the given one), evaluated `batch_size` at a
      time in one vmapped call each. Use it where gradients carry no information: spiking reservoirs (zero
      derivative almost everywhere) and substrates with hard thresholds or quantisation; `method="gradient"`
      raises a `ValueError` saying so for those.

    **Arguments:** `reservoir` (any `AbstractReservoir`), `inputs` and `targets` as for `fit`; `params`: the names
    of the scalar hyperparameters to tune (default: those of `gain, leak, input_scaling, bias_scaling` that the
    reservoir has); `alpha`: the ridge strength to start from (`tune_alpha=False` keeps it fixed);
    `input_passthrough`, `solver`: the `Ridge` readout's; `washout` as for `fit`; `noise_key` for stochastic
    substrates (the same noise for every configuration); `progress`: a progress bar over steps or batches.

    **Returns:** a `TuneResult` (tuned reservoir, readout, values, loss history, evaluations, seconds).

    Example:
        >>> x = tasks.mackey_glass(2001, key=jax.random.key(0)).values
        >>> esn = rc.ESN(1, 100, leak=0.5, key=jax.random.key(1))
        >>> result = rc.tune(esn, x[:-1], x[1:], steps=20, progress=False)
        >>> result.params["gain"], result.validation_nrmse
    """
    t_start = time.perf_counter()
    check_reservoir(reservoir)
    if method not in ("gradient", "random"):
        raise ValueError(f"`method` must be 'gradient' or 'random', got {method!r}")
    names = _check_params(reservoir, params)
    if not names and not tune_alpha:
        raise ValueError("nothing to tune: `params` is empty and `tune_alpha` is False")
    check_positive("alpha", alpha)
    check_positive("spread", spread)
    steps = check_int("steps", steps, minimum=1)
    restarts = check_int("restarts", restarts, minimum=1)
    population = check_int("population", population, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    washout = check_int("washout", washout, minimum=0)
    horizon = check_int("horizon", horizon, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    if not (isinstance(validation, (int, float)) and 0 < validation < 1):
        raise ValueError(f"`validation` must be a fraction in (0, 1), got {validation!r}")
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(f"`optimizer` must be an optax.GradientTransformation, got {type(optimizer).__name__}")
    if method == "gradient" and not getattr(reservoir, "differentiable", True):
        raise ValueError(
            f"`method='gradient'` cannot tune a {type(reservoir).__name__}: {reservoir.differentiable_note} Use "
            "`method='random'` (a vmapped random population search, the same API)"
        )
    if (restarts > 1 and method == "gradient") or method == "random":
        if key is None:
            raise ValueError("`key` is required for restarts > 1 and for method='random' (it draws the starts)")
    check_key(reservoir, noise_key, "noise_key")
    if reservoir.feedback_size:
        raise ValueError("`tune` does not support reservoirs with output feedback (feedback_size > 0)")
    inputs = as_series("inputs", inputs, dim=reservoir.in_size)
    targets = as_series("targets", targets, dim=None)
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"`inputs` and `targets` must have the same length, got {inputs.shape[0]} and "
                         f"{targets.shape[0]}")
    n_val = int(round(validation * inputs.shape[0]))
    n_tr = inputs.shape[0] - n_val
    if n_val < max(2, horizon) or n_tr <= washout + 1:
        raise ValueError(
            f"too little data: {n_tr} training samples (washout {washout}) and {n_val} validation samples "
            f"(horizon {horizon}); give a longer series or change `validation`"
        )
    if horizon > 1 and inputs.shape[1] != targets.shape[1]:
        raise ValueError("`horizon` > 1 (a closed-loop loss) needs targets that are the next inputs (same channels)")
    data = (inputs[:n_tr], targets[:n_tr], inputs[n_tr:], targets[n_tr:])
    constraints = {n: constraint_of(reservoir, n) for n in names}
    initial = {n: float(getattr(reservoir, n)) for n in names} | {_ALPHA: float(alpha)}
    free0 = {n: constraints[n].to_free(initial[n]) for n in names}
    if tune_alpha:
        free0[_ALPHA] = float(alpha_to_free(float(alpha)))
    dtype = jnp.result_type(float)
    free0 = {k: jnp.asarray(v, dtype) for k, v in free0.items()}
    loss = make_loss(reservoir, names, constraints, data, washout=washout, horizon=horizon, stride=stride,
                     passthrough=bool(input_passthrough), solver=solver, key=noise_key,
                     fixed_alpha=jnp.asarray(alpha, dtype))

    if method == "gradient":
        history, diverged, best_free, init_loss = _gradient(loss, free0, optimizer or optax.adam(0.05), steps,
                                                            restarts, spread, key, progress)
        evaluations = restarts * (steps + 1)
    else:
        history, diverged, best_free, init_loss = _random(loss, free0, population, spread, key, batch_size, progress)
        evaluations = population
    finite = np.where(np.isfinite(history), history, np.inf)
    if not np.isfinite(finite).any():
        raise ValueError(
            "every configuration diverged (NaN or inf validation loss): the starting hyperparameters are unstable; "
            "lower the gain or the input scaling"
        )
    values = {n: float(constraints[n].to_value(best_free[n])) for n in names}
    values[_ALPHA] = float(alpha_of(best_free[_ALPHA])) if tune_alpha else float(alpha)
    tuned = _with_values(reservoir, names, [values[n] for n in names])
    readout = Ridge(values[_ALPHA], input_passthrough=bool(input_passthrough), solver=solver)
    return TuneResult(tuned, readout, values, initial, float(np.min(finite)), init_loss, history, diverged,
                      int(evaluations), time.perf_counter() - t_start, method,
                      info={"params": names, "validation_samples": n_val, "horizon": horizon})


def _gradient(loss, free0, opt, steps, restarts, spread, key, progress):
    free = jax.tree.map(lambda v: jnp.repeat(v[None], restarts, 0), free0)
    if restarts > 1:
        keys = jax.random.split(key, len(free))
        free = {k: v.at[1:].add(spread * jax.random.normal(kk, (restarts - 1,), v.dtype))
                for (k, v), kk in zip(sorted(free.items()), keys, strict=True)}
    opt_state = jax.vmap(opt.init)(free)
    value_and_grad = jax.vmap(jax.value_and_grad(loss))

    @eqx.filter_jit
    def update(free, opt_state):
        val, g = value_and_grad(free)
        ok = jnp.isfinite(val)
        for v in jax.tree.leaves(g):
            ok = ok & jnp.isfinite(v)
        updates, new_state = jax.vmap(opt.update)(g, opt_state, free)
        new_free = optax.apply_updates(free, updates)

        def keep(new, old):
            mask = ok.reshape(ok.shape + (1,) * (new.ndim - 1))
            return jnp.where(mask, new, old)

        return val, g, jax.tree.map(keep, new_free, free), jax.tree.map(keep, new_state, opt_state)

    history = np.full((steps + 1, restarts), np.nan)
    best_val = np.full(restarts, np.inf)
    best_free = jax.tree.map(np.asarray, free)
    bar = progress_bar(range(steps + 1), desc="tune (gradient)", disable=not progress, leave=False)
    for i in bar:
        current = free
        val, g, free, opt_state = update(free, opt_state)
        v = np.asarray(val)
        history[i] = v
        if i == 0 and np.isfinite(v[0]):
            grads = np.stack([np.asarray(x)[0] for x in jax.tree.leaves(g)])
            if np.all(grads == 0):
                raise ValueError(
                    "the validation loss has zero gradient with respect to every tuned hyperparameter: the "
                    "reservoir's dynamics are not differentiable in them (hard thresholds, quantisation); use "
                    "`method='random'`"
                )
        better = np.isfinite(v) & (v < best_val)
        if better.any():
            cur = jax.tree.map(np.asarray, current)
            best_free = {k: np.where(better, cur[k], best_free[k]) for k in best_free}
            best_val = np.where(better, v, best_val)
        if progress:
            bar.set_postfix(best=f"{np.nanmin(np.where(np.isfinite(best_val), best_val, np.nan)):.3g}"
                            if np.isfinite(best_val).any() else "nan")
    diverged = ~np.all(np.isfinite(history), axis=0)
    r = int(np.argmin(best_val))
    return history, diverged, {k: v[r] for k, v in best_free.items()}, float(history[0, 0])


def _random(loss, free0, population, spread, key, batch_size, progress):
    keys = jax.random.split(key, len(free0))
    samples = {}
    for (k, v), kk in zip(sorted(free0.items()), keys, strict=True):
        width = spread
        samples[k] = v + width * jax.random.normal(kk, (population,), v.dtype)
        samples[k] = samples[k].at[0].set(v)
    batched = eqx.filter_jit(jax.vmap(loss))
    history = np.full(population, np.nan)
    starts = range(0, population, batch_size)
    for s in progress_bar(starts, desc="tune (random)", disable=not progress, leave=False):
        idx = np.arange(s, min(s + batch_size, population))
        pad = np.concatenate([idx, np.repeat(idx[-1], batch_size - idx.size)])  # one shape: one compilation
        vals = np.asarray(batched({k: v[pad] for k, v in samples.items()}))
        history[idx] = vals[: idx.size]
    diverged = ~np.isfinite(history)
    best = int(np.argmin(np.where(np.isfinite(history), history, np.inf)))
    return history, diverged, {k: np.asarray(v[best]) for k, v in samples.items()}, float(history[0])

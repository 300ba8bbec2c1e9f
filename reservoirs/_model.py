"""Training (`fit`), teacher-forced prediction (`predict`) and closed-loop forecasting (`forecast`)."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree

from . import _parallel
from ._parallel import DriveReport
from ._checks import RealLike, as_series, check_int, check_key, check_positive, check_reservoir, is_traced
from ._reservoir import AbstractReservoir, State, step_key
from ._ridge import AbstractReadout, QRStats, Ridge, merge_all


class Standardize(eqx.Module):
    """An affine map to standard units, `z = (x - mean) / std`, that a `Model` keeps for its inputs and outputs.

    Physical substrates expect inputs of order one (a voltage range, an optical power, a current around its bias):
    `fit(..., standardize=True)` fits one `Standardize` to the training inputs and one to the targets, trains in
    standard units, and `predict`/`forecast` map back, so outputs come back in data units. Ridge regression is
    linear in the targets, so standardising them changes nothing but the units of the fitted weights.

    - `mean`, `std`: per channel; a channel with zero spread gets `std = 1` (it is only shifted).
    """

    mean: Float[Array, " channels"]
    std: Float[Array, " channels"]

    @staticmethod
    def fit(x: Float[Array, "time channels"]) -> "Standardize":
        """The map that takes `x` (time, channels) to zero mean and unit standard deviation per channel."""
        mean = jnp.mean(x, axis=0)
        std = jnp.std(x, axis=0)
        return Standardize(mean, jnp.where(std > 0, std, jnp.ones_like(std)))

    def __call__(self, x):
        return (x - self.mean.astype(x.dtype)) / self.std.astype(x.dtype)

    def inverse(self, z):
        return z * self.std.astype(z.dtype) + self.mean.astype(z.dtype)


def _apply(scaler, x):
    return x if scaler is None else scaler(x)


def _invert(scaler, z):
    return z if scaler is None else scaler.inverse(z)


class Model(eqx.Module):
    """A trained model: reservoir, fitted readout, and where the series stands.

    - `reservoir`, `readout`: the substrate and its fitted readout.
    - `state`: the reservoir state after the last input it consumed.
    - `last_output`: the last known output value: after `fit`, the last training target (the true value); after
      `predict` or `forecast`, the model's own last output. A closed loop feeds it back first, so `forecast`
      continues the series from the sample after it.
    - `target_mean`, `target_std`: per-output statistics of the training targets (data units), used to detect
      divergence.
    - `input_scaler`, `output_scaler`: the `Standardize` maps of `fit(..., standardize=True)`, or None. The readout
      works in standard units; `last_output` and every output a user sees are in data units.
    - `residual`: the readout predicts the increment over the present input, `y(t) = u(t) + readout(features)`
      (`fit(..., residual=True)`; the NG-RC's default); `output_scaler` then standardises the increments.

    A `Model` is a pytree: `save_model`/`load_model` round-trip it, `jax.vmap` batches it.
    """

    reservoir: AbstractReservoir
    readout: AbstractReadout
    state: PyTree[Array]
    last_output: Float[Array, " outputs"]
    target_mean: Float[Array, " outputs"]
    target_std: Float[Array, " outputs"]
    input_scaler: Standardize | None = None
    output_scaler: Standardize | None = None
    residual: bool = eqx.field(static=True, default=False)

    @property
    def out_size(self) -> int:
        return self.last_output.shape[0]

    def reset(self, state: State | None = None) -> "Model":
        """The same trained model with the reservoir back at `state` (its initial state by default)."""
        state = self.reservoir.init_state() if state is None else state
        return eqx.tree_at(lambda m: m.state, self, state)

    def with_last_output(self, y) -> "Model":
        """The same model with `last_output` replaced, e.g. by a true observation before a closed-loop run."""
        y = jnp.asarray(y, self.last_output.dtype).reshape(self.last_output.shape)
        return eqx.tree_at(lambda m: m.last_output, self, y)


def _readout_input(reservoir, readout, state, u_ext):
    z = reservoir.features(state)
    if readout.input_passthrough:
        z = jnp.concatenate([z, u_ext.astype(z.dtype)])
    return z


def _scan_steps(reservoir, state, drive, key, t0):
    def body(state, xs):
        u, t = xs
        return reservoir.step(state, u, key=step_key(key, t)), None

    state, _ = jax.lax.scan(body, state, (drive, t0 + jnp.arange(drive.shape[0])))
    return state


def _stats_dtype_and_empty(reservoir, readout, state, drive, ext, targets, key, t0):
    """The statistics' dtype, class and empty statistics for this readout, from the features after one step.
    Statistics in at least JAX's default float: float32 states get float64 statistics when x64 is on (the normal
    equations square the condition number); the readout's solver picks Gram or QR statistics."""
    def first(state, u, ue):
        return _readout_input(reservoir, readout, reservoir.step(state, u, key=step_key(key, t0)), ue)

    probe = jax.eval_shape(first, state, drive[0], ext[0])
    dtype = jnp.promote_types(probe.dtype, jnp.result_type(float))
    stats_cls = readout.stats_type(dtype)
    return dtype, stats_cls, stats_cls.empty(probe.shape[0], targets.shape[1], dtype)


def _block_layout(ranges: tuple[int, ...], chunk: int) -> tuple[int, list[tuple[int, int, int]]]:
    """One block length for all `ranges` (consecutive runs of steps, each folded into its own statistics) and the
    blocks `(segment, start, valid steps)`: at most `chunk` steps per block, chosen to pad as few steps as possible
    (each range is cut into equal blocks; its last block is padded)."""
    best = None
    for c in range(max(1, chunk // 2), chunk + 1):
        padded = sum(-(-r // c) * c for r in ranges)
        if best is None or padded <= best[0]:
            best = (padded, c)
    c = best[1]
    blocks, start = [], 0
    for s, r in enumerate(ranges):
        for b in range(-(-r // c)):
            blocks.append((s, start + b * c, min(c, r - b * c)))
        start += r
    return c, blocks


def _accumulate(reservoir, readout, state, drive, ext, targets, key, t0, chunk, skip=0, spans=None):
    """Drive over the series and return the state after its last step and the statistics (Gram or QR, per the
    readout) of each span: a list, one per entry of `spans` (default: one span of all steps after `skip`).

    The first `skip` steps (the washout) only advance the state. The series is driven by one scan over blocks of
    at most `chunk` steps, each block inside one span; a block's padded steps leave the state as it was and add no
    row. One scan, whatever the number of spans, the washout or the remainder: the reservoir's step is compiled
    once (each extra scan compiled it again: 0.3-0.5 s per copy)."""
    length = drive.shape[0]
    spans = (length - skip,) if spans is None else tuple(spans)
    dtype, stats_cls, stats = _stats_dtype_and_empty(reservoir, readout, state, drive, ext, targets, key, t0)
    chunk = default_chunk() if chunk is None else chunk
    ranges = (skip + spans[0],) + spans[1:]
    c, blocks = _block_layout(ranges, min(chunk, max(ranges)))
    padded = any(n < c for _, _, n in blocks)
    seg, starts, valid = (jnp.asarray(np.array(v), jnp.int32) for v in zip(*blocks))
    extra = c - min(n for _, _, n in blocks)  # rows past the end that a last, padded block may read

    def pad(x):
        return jnp.concatenate([x, jnp.zeros((extra, *x.shape[1:]), x.dtype)]) if extra else x

    D, E, Y = pad(drive), pad(ext), pad(targets)
    rows = jnp.arange(c)

    def body(state, xs):
        u, ue, t, ok = xs
        new = reservoir.step(state, u, key=step_key(key, t0 + t))
        if padded:
            new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, state)
        return new, _readout_input(reservoir, readout, new, ue)

    def outer(carry, xs):
        state, acc = carry
        s, start, n = xs
        t = start + rows
        ok = rows < n
        d, e, y = (jax.lax.dynamic_slice_in_dim(x, start, c) for x in (D, E, Y))
        state, Z = jax.lax.scan(body, state, (d, e, t, ok))
        w = ok & (t >= skip)
        Z, y = Z.astype(dtype), y.astype(dtype)
        if len(ranges) == 1:
            return (state, (acc[0].add_block(Z, y, w),)), None

        def update(i):  # only the block's own span is updated (no copy of the others' statistics)
            return lambda acc: acc[:i] + (acc[i].add_block(Z, y, w),) + acc[i + 1:]

        return (state, jax.lax.switch(s, [update(i) for i in range(len(ranges))], acc)), None

    (state, acc), _ = jax.lax.scan(outer, (state, (stats,) * len(ranges)), (seg, starts, valid))
    return state, list(acc)


def default_chunk() -> int:
    """Steps per statistics block when `chunk_size=None`: 2048 for both statistics. QR: each block costs one QR of
    (features + block) rows, so larger blocks amortise it (fit time at N = 1000, T = 10,000 in float32 fell from
    4.7 s at 256 to 2.4 s at 2048). Gram: on CPU a block of >= 384 features goes to the host BLAS (`_linalg.moments`),
    whose call costs are amortised the same way (float64 fits, T = 10,000, N = 500 / 1000 / 2000: 0.289 / 1.49 /
    4.57 s in blocks of 256, 0.252 / 1.40 / 4.13 s in blocks of 2048); in XLA the time is flat from 256 to 2048."""
    return 2048


#: Bytes of one statistics block of a batch (batch x block x features) that `batched_chunk` aims to stay under.
BLOCK_BYTES = 128 * 2**20


def batched_chunk(reservoir, readout, drive, ext, targets, key, batch: int) -> int:
    """Steps per statistics block for `batch` fits run side by side (a sweep): 2048 for QR statistics, 256 for Gram
    statistics (a batch's Grams stay in XLA, see `_linalg.moments`, where larger blocks only cost memory: a float64
    64-gain sweep, N = 500, T = 5000, took 4.81 s in blocks of 256 and 5.10 s in blocks of 1024), lowered so that one
    block of the batch's features stays under `BLOCK_BYTES` (at least 64 steps). Measured, the same sweep in float32
    (QR statistics): 7.2 s and 0.73 GB peak with blocks of 256, 5.0 s and 1.06 GB with this cap (1042 steps), 4.6 s
    and 1.43 GB with 2048."""
    dtype, stats_cls, _ = _stats_dtype_and_empty(reservoir, readout, reservoir.init_state(), drive, ext, targets,
                                                 key, 0)
    row = batch * (reservoir.feature_size + ext.shape[-1] + 1) * jnp.dtype(dtype).itemsize
    return int(min(default_chunk() if stats_cls is QRStats else 256, max(64, BLOCK_BYTES // max(row, 1))))


def _accumulate_parallel(reservoir, readout, state, drive, ext, targets, key, t0, chunk, segments, overlap):
    """`_accumulate` driven parallel in time (see `_parallel`): `segments` overlapping segments as one batch.
    Returns the state after the last step (from the last segment, then a sequential tail), the statistics and the
    largest relative seam mismatch."""
    length = drive.shape[0]
    B, w = segments, overlap
    L, tail = _parallel.layout(length, B, w)
    idx = _parallel.segment_index(B, w, L)
    D, E, Y, TS = drive[idx], ext[idx], targets[idx], t0 + idx
    dtype, stats_cls, stats = _stats_dtype_and_empty(reservoir, readout, state, drive, ext, targets, key, t0)
    batched = reservoir.for_batch(B)  # e.g. an ELL matrix stored densely: one matrix-matrix product per step
    vstep = jax.vmap(lambda s, u, t: batched.step(s, u, key=step_key(key, t)))
    vfeat = jax.vmap(lambda s, e: _readout_input(batched, readout, s, e))

    def warm_body(X, xs):  # every segment warms up; segment 0 is exact, its states are training rows
        d, e, t = xs
        X = vstep(X, d, t)
        return X, _readout_input(reservoir, readout, _parallel._take(X, 0), e[0])

    X = _parallel.stack_initial(state, reservoir.init_state(), B)
    X, Z0 = jax.lax.scan(warm_body, X, (D[:w], E[:w], TS[:w]))
    stats = stats.add_block(Z0.astype(dtype), Y[:w, 0].astype(dtype))
    warm = X

    steps = max(1, min(L, (default_chunk() if chunk is None else chunk) // B))
    n_chunks, rest = divmod(L, steps)

    def block(X, d, e, t):
        def body(X, xs):
            d, e, t = xs
            X = vstep(X, d, t)
            return X, vfeat(X, e)

        return jax.lax.scan(body, X, (d, e, t))

    def fold(stats, Z, y):
        return stats.add_block(Z.reshape(-1, Z.shape[-1]).astype(dtype), y.reshape(-1, y.shape[-1]).astype(dtype))

    def outer(carry, xs):
        X, stats = carry
        X, Z = block(X, *xs[:-1])
        return (X, fold(stats, Z, xs[-1])), None

    def split(x):
        return x[w : w + n_chunks * steps].reshape(n_chunks, steps, *x.shape[1:])

    if n_chunks:
        (X, stats), _ = jax.lax.scan(outer, (X, stats), (split(D), split(E), split(TS), split(Y)))
    if rest:
        sl = slice(w + n_chunks * steps, w + L)
        X, Z = block(X, D[sl], E[sl], TS[sl])
        stats = fold(stats, Z, Y[sl])
    mismatch = _parallel.seam_mismatch(warm, X)
    state = _parallel._take(X, B - 1)
    if tail:
        sl = slice(length - tail, length)
        state, (s,) = _accumulate(reservoir, readout, state, drive[sl], ext[sl], targets[sl], key,
                                  t0 + length - tail, chunk)
        stats = stats.merge(s)
    return state, stats, mismatch


def _fit_core(reservoir, readout, drive, ext, targets, state, key, washout, chunk, scalers=(None, None),
              parallel=None):
    """The fitted `Model`, whether the training statistics are finite (False: the reservoir diverged) and the largest
    seam mismatch of a parallel-in-time drive (`parallel = (segments, overlap)`; 0 for the sequential scan)."""
    spans = readout.segments(drive.shape[0] - washout)
    mismatch = jnp.zeros((), jnp.float32)
    if parallel is None:
        state, all_stats = _accumulate(reservoir, readout, state, drive, ext, targets, key, 0, chunk, washout, spans)
    else:
        state = _scan_steps(reservoir, state, drive[:washout], key, 0)
        t0 = washout
        all_stats = []
        for length in spans:
            sl = slice(t0, t0 + length)
            state, s, m = _accumulate_parallel(reservoir, readout, state, drive[sl], ext[sl], targets[sl], key, t0,
                                               chunk, *parallel)
            mismatch = jnp.maximum(mismatch, m)
            all_stats.append(s)
            t0 += length
    fitted = readout.fit_stats(all_stats)
    total = merge_all(all_stats)
    std = jnp.sqrt(total.target_var())
    in_scaler, out_scaler = scalers
    mean = _invert(out_scaler, total.mean_y)
    if out_scaler is not None:
        std = std * out_scaler.std.astype(std.dtype)
    last = _invert(out_scaler, targets[-1])
    # Diverged features (a linear or photonic loop with gain > 1) leave NaN/inf in the statistics: reported by `fit`.
    finite = total.all_finite()
    return Model(reservoir, fitted, state, last, mean, std, in_scaler, out_scaler), finite, mismatch


_fit_checked = eqx.filter_jit(_fit_core)
_probe_distances = eqx.filter_jit(_parallel.probe_distances)


@eqx.filter_jit
def _fit_impl(reservoir, readout, drive, ext, targets, state, key, washout, chunk, scalers=(None, None)):
    """`_fit_core` without the finiteness flag (the sweep marks diverged configurations itself)."""
    return _fit_core(reservoir, readout, drive, ext, targets, state, key, washout, chunk, scalers)[0]


def _plan_parallel(reservoir, state, drive, key, t0, spans, parallel, feature_size, others=()):
    """`((segments, overlap) or None, DriveReport)` for driving `spans` (steps after `t0`) parallel in time.
    `parallel`: True forces the parallel path where it can run at all, False the sequential scan, "auto" decides.
    `feature_size`: a callable giving the readout's input size, called only when "auto" needs it."""
    if parallel is False:
        return None, _parallel.DriveReport(False, reason="sequential scan requested (parallel=False)")
    if any(is_traced(x) for x in jax.tree.leaves((reservoir, state, drive, key, others))):
        return None, _parallel.DriveReport(False, reason="inside a JAX transformation: the plan needs concrete data")
    shortest = min(spans)
    if parallel == "auto":
        if shortest < _parallel.MIN_LENGTH:
            return None, _parallel.DriveReport(
                False, reason=f"span of {shortest} steps < {_parallel.MIN_LENGTH}: sequential is as fast")
        feature_size = feature_size()
        if feature_size < _parallel.MIN_STATE:
            return None, _parallel.DriveReport(
                False, reason=f"{feature_size} features < {_parallel.MIN_STATE}: a batched step costs as much as "
                "the steps it replaces")
    n = min(_parallel.PROBE_STEPS, drive.shape[0] // 2)
    tol = _parallel.seam_tolerance(_parallel.state_dtype(state))
    if n < 8:
        return None, _parallel.DriveReport(False, tolerance=tol, reason="series too short to probe")
    d = np.asarray(_probe_distances(reservoir, state, drive, key, 0, n))
    overlap, rate, why = _parallel.choose_overlap(d, tol)
    if overlap is None:
        return None, _parallel.DriveReport(False, contraction=rate, tolerance=tol, reason=why)
    segments = _parallel.plan(shortest, overlap)
    if not segments:
        return None, _parallel.DriveReport(
            False, overlap=overlap, contraction=rate, tolerance=tol,
            reason=f"{why}; an overlap of {overlap} steps leaves fewer than {_parallel.MIN_SEGMENTS} segments in "
            f"{shortest} steps")
    return (segments, overlap), _parallel.DriveReport(True, segments, overlap, rate, math.nan, tol, why)


def _drive_inputs(reservoir, inputs, targets, y0):
    """The vector each `step` sees: external inputs, then (with output feedback) the previous target."""
    if not reservoir.feedback_size:
        return inputs
    prev = jnp.concatenate([y0[None, :], targets[:-1]], axis=0)
    return jnp.concatenate([inputs, prev.astype(inputs.dtype)], axis=1)


def prepare_task(reservoir, inputs, targets, readout):
    """Validate a (reservoir, inputs, targets, readout) task as `fit` and `sweep` take it; returns arrays."""
    check_reservoir(reservoir)
    readout = Ridge(1e-6) if readout is None else readout
    if not isinstance(readout, AbstractReadout):
        raise ValueError(f"`readout` must be a Ridge or RidgeCV (an AbstractReadout), got {type(readout).__name__}")
    targets = as_series("targets", targets, dim=None)
    if inputs is None:
        if reservoir.in_size != 0:
            raise ValueError(f"`inputs` is required: the reservoir has in_size={reservoir.in_size}")
        inputs = jnp.zeros((targets.shape[0], 0), targets.dtype)
    else:
        inputs = as_series("inputs", inputs, dim=reservoir.in_size)
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(
            f"`inputs` and `targets` must have the same length, got {inputs.shape[0]} and {targets.shape[0]}"
        )
    if reservoir.feedback_size and targets.shape[1] != reservoir.feedback_size:
        raise ValueError(
            f"`targets` must have {reservoir.feedback_size} channels to be fed back, got {targets.shape[1]}"
        )
    return inputs, targets, readout


def fit(
    reservoir: AbstractReservoir,
    inputs: Float[ArrayLike, "time_in ..."] | None,
    targets: Float[ArrayLike, "time_out ..."],
    *,
    readout: AbstractReadout | None = None,
    washout: int = 100,
    state: State | None = None,
    key: PRNGKeyArray | None = None,
    chunk_size: int | None = None,
    standardize: bool | None = None,
    residual: bool | None = None,
    parallel: object = "auto",
    return_report: bool = False,
) -> Model | tuple[Model, DriveReport]:
    """Train a readout on a reservoir driven by `inputs` to produce `targets`. One compiled call.

    The reservoir is driven by one `jax.lax.scan` (washout, training and any validation split alike); after
    `washout` steps, features are accumulated in blocks of at most `chunk_size` steps into centred Gram statistics
    (float64) or a streaming QR factor (float32; see `Ridge`'s `solver`), so memory does not grow with the length of
    the series.

    **Arguments:**

    - `reservoir`: any `AbstractReservoir` (an `ESN`, a physical substrate, ...).
    - `inputs`: `(time, in_size)` external inputs (1-D allowed for one channel). `None` for a reservoir with
      `in_size == 0` (driven only by output feedback).
    - `targets`: `(time, outputs)`; `targets[t]` is what the readout should produce after the reservoir consumed
      `inputs[t]`. For one-step forecasting, `inputs = x[:-1]` and `targets = x[1:]`.
    - `readout`: a `Ridge` (default `Ridge(1e-6)`) or a `RidgeCV` (ridge path with validation).
    - `washout`: initial steps whose states are discarded, 0 <= washout < time. Default 100.
    - `state`: initial reservoir state (default `reservoir.init_state()`).
    - `key`: PRNG key, required by stochastic substrates.
    - `chunk_size`: the most steps per statistics block (the series is cut into equal blocks of between half and
      all of it, whichever pads the last block least). Default `None`: 2048 steps (see `default_chunk`). Memory
      holds one block of features.
    - `standardize`: fit a `Standardize` map to the inputs and one to the targets, train in standard units and keep
      both in the model, so that `predict` and `forecast` take and return data units. Default `None`: standardise
      exactly when the reservoir asks for it (`reservoir.standardize_inputs`, True for the physical substrates,
      whose voltage, current or power ranges assume inputs of order one; False for the ESN and the LSM, whose
      `input_scaling` is set for the data as given).
    - `residual`: train the readout on the increments `targets - inputs` and predict `inputs + readout(features)`,
      so that the ridge penalty pulls the model towards persistence rather than towards zero (Gauthier et al.
      2021's NG-RC predicts the increment this way). Needs targets with the inputs' shape and no output feedback.
      Default `None`: exactly when the reservoir asks for it (`reservoir.predicts_increment`, True for an `NGRC`)
      and the targets have the inputs' shape.
    - `parallel`: drive the reservoir parallel in time (`True`), sequentially (`False`), or decide (`"auto"`,
      the default). The parallel path cuts the series into overlapping segments driven as one batch (a
      matrix-matrix product per step instead of a matrix-vector one); a probe measures how fast the reservoir
      forgets its initial state and sets the overlap, and every seam is checked: the result is used only if each
      segment's state agrees with its predecessor's to 64 ulps of the state dtype, otherwise the sequential scan
      runs. `"auto"` tries it for spans of at least 4096 steps and at least 768 features (where it measured faster,
      `benchmarks/bench_speed.py`); `True` tries it at any size and warns if the seams disagree (the sequential
      result is returned then too). Inside `jit`/`vmap` the sequential scan always runs.
    - `return_report`: also return a `DriveReport` (which path ran, segments, overlap, measured contraction, largest
      seam mismatch, and why).

    With output feedback (`reservoir.feedback_size > 0`) the previous target is fed back (teacher forcing); at
    `t = 0` the feedback is zero.

    **Returns:** a `Model` holding the fitted readout, the state after the last input and the last target, so that
    `forecast(model, n)` continues the series. A reservoir whose features become NaN or inf during training (an
    unstable configuration) raises a `ValueError` naming its gain.

    Example:
        >>> import jax, tasks, reservoirs as rc
        >>> x = tasks.mackey_glass(1201, key=jax.random.key(0)).values
        >>> esn = rc.ESN(1, 100, leak=0.3, key=jax.random.key(1))
        >>> model = rc.fit(esn, x[:-1], x[1:], readout=rc.Ridge(1e-8), washout=100)
        >>> outputs, model = rc.predict(model, x[:10])
    """
    if isinstance(inputs, (list, tuple)) or getattr(inputs, "ndim", 2) == 3:
        from ._classify import fit_sequences

        return fit_sequences(reservoir, inputs, targets, readout=readout, washout=washout, key=key,
                             chunk=1024 if chunk_size is None else chunk_size)
    inputs, targets, readout = prepare_task(reservoir, inputs, targets, readout)
    residual = _check_residual(reservoir, inputs, targets, residual)
    washout = check_int("washout", washout, minimum=0)
    if washout >= inputs.shape[0]:
        raise ValueError(f"`washout` must be < the series length {inputs.shape[0]}, got {washout}")
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    check_key(reservoir, key)
    state = _initial_state(reservoir, state)
    if standardize is None:
        standardize = bool(getattr(reservoir, "standardize_inputs", False))
    observed = targets
    if residual:
        targets = targets - inputs.astype(targets.dtype)
    scalers = (None, None)
    if standardize:
        scalers = (Standardize.fit(inputs[washout:]) if inputs.shape[1] else None, Standardize.fit(targets[washout:]))
        inputs, targets = _apply(scalers[0], inputs), _apply(scalers[1], targets)
    y0 = jnp.zeros(targets.shape[1], targets.dtype)
    drive = _drive_inputs(reservoir, inputs, targets, y0)
    _parallel.check_parallel(parallel)
    spans = readout.segments(inputs.shape[0] - washout)
    plan, report = _plan_parallel(reservoir, state, drive, key, 0, spans, parallel,
                                  lambda: _feature_count(reservoir, readout, inputs), (readout, targets))
    if plan is None and parallel is True:
        warnings.warn(f"parallel=True: the sequential scan ran: {report.reason}", RuntimeWarning, stacklevel=2)
    if plan is not None:
        model, finite, mismatch = _fit_checked(reservoir, readout, drive, inputs, targets, state, key, washout,
                                               chunk_size, scalers, plan)
        report = dataclasses.replace(report, seam_mismatch=float(mismatch))
        if not float(mismatch) <= report.tolerance:
            report = _fell_back(report, parallel)
            plan = None
    if plan is None:
        model, finite, _ = _fit_checked(reservoir, readout, drive, inputs, targets, state, key, washout, chunk_size,
                                        scalers)
    if not is_traced(finite) and not bool(finite):
        raise ValueError(
            f"the reservoir diverged during `fit` (NaN or inf features) at gain={_gain_str(reservoir)}: this "
            "configuration is unstable; lower the gain or the input scaling (a sweep marks such configurations "
            "instead of raising)"
        )
    if residual:  # the model's outputs are the observed values: their statistics and the last one
        seen = observed[washout:]
        model = dataclasses.replace(model, last_output=observed[-1], target_mean=jnp.mean(seen, axis=0),
                                    target_std=jnp.std(seen, axis=0), residual=True)
    return (model, report) if return_report else model


def _feature_count(reservoir, readout, inputs) -> int:
    """The readout's input size, from the declared `feature_size` (an `eval_shape` of the features cost ~1 ms)."""
    return int(reservoir.feature_size) + (inputs.shape[1] if readout.input_passthrough else 0)


def _fell_back(report: DriveReport, parallel) -> DriveReport:
    """The report of a parallel drive whose seams disagreed: the sequential scan ran instead."""
    why = (f"seams disagree: largest mismatch {report.seam_mismatch:.1e} > tolerance {report.tolerance:.1e} with "
           f"overlap {report.overlap}; the sequential scan ran")
    if parallel is True:
        warnings.warn(f"parallel=True: {why}", RuntimeWarning, stacklevel=3)
    return dataclasses.replace(report, parallel=False, reason=why)


def _check_residual(reservoir, inputs, targets, residual) -> bool:
    asked = bool(getattr(reservoir, "predicts_increment", False))
    fits = inputs.shape[1] == targets.shape[1] and not reservoir.feedback_size
    if residual is None:
        return asked and fits
    if not isinstance(residual, (bool, np.bool_)):
        raise ValueError(f"`residual` must be True, False or None, got {residual!r}")
    if residual and not fits:
        raise ValueError(
            "`residual=True` needs targets with the inputs' shape and a reservoir without output feedback, got "
            f"{inputs.shape[1]} input and {targets.shape[1]} target channels, feedback_size={reservoir.feedback_size}"
        )
    return bool(residual)


def _gain_str(reservoir) -> str:
    try:
        return format(float(reservoir.gain), "g")
    except (TypeError, ValueError):
        return "?"


def _initial_state(reservoir, state):
    if state is None:
        return reservoir.init_state()
    try:
        from ._checks import check_state
    except ImportError:  # pragma: no cover
        return state
    check_state(reservoir, state)
    return state


def _output(model, z, u_ext):
    """The model's output in data units from the readout's input `z` (features, and the inputs if passed through)."""
    y = _invert(model.output_scaler, model.readout(z))
    if model.residual:  # the readout predicts the increment over the present input (data units)
        y = u_ext.astype(y.dtype) + y
    return y


def _model_step(model, state, y_prev, u_ext, key_t):
    """One step of a model whose fed-back channels (and, for a generative model, inputs) carry `y_prev`: the new
    state and the readout's input."""
    res = model.reservoir
    u = _apply(model.input_scaler, u_ext) if res.in_size else u_ext
    parts = [u] if res.in_size else []
    if res.feedback_size:
        parts.append(_apply(model.output_scaler, y_prev).astype(u.dtype))
    drive = jnp.concatenate(parts) if len(parts) > 1 else parts[0]
    state = res.step(state, drive, key=key_t)
    return state, _readout_input(res, model.readout, state, u)


def _closed_loop_step(model, state, y_prev, u_ext, key_t):
    """`_model_step` and the model's output."""
    state, z = _model_step(model, state, y_prev, u_ext, key_t)
    return state, _output(model, z, u_ext)


#: `predict` of a model without output feedback keeps the readout's inputs and reads them out with one matrix-matrix
#: product after the scan when they have at most `READOUT_FEATURES` features and `READOUT_BYTES` bytes; otherwise, and
#: under a JAX transformation (the sweeps and tuning vmap it: the kept features would multiply by the batch), the
#: readout runs at every step. Measured, T = 10,000, medians of runs alternated between the two: N = 100 (float64)
#: 12.6 -> 10.6 ms per `predict`; N = 200-400 equal within 3 %; N = 500 slower by 5 % (float32) and 11 % (float64),
#: where writing the features costs more than the per-step readout saves.
READOUT_FEATURES = 256
READOUT_BYTES = 16 * 2**20


@eqx.filter_jit
def _predict_impl(model, inputs, key, t0=0, read_all=False):
    """Teacher-forced outputs and the advanced model; `read_all=True` allows the one matrix-matrix readout after the
    scan (see `READOUT_FEATURES`)."""
    res = model.reservoir
    steps = t0 + jnp.arange(inputs.shape[0])
    out_dtype = model.last_output.dtype  # outputs in the dtype of the training targets
    if read_all and not res.feedback_size:
        z = jax.eval_shape(lambda s, u: _readout_input(res, model.readout, s, u), model.state, inputs[0])
        if z.shape[0] <= READOUT_FEATURES and inputs.shape[0] * z.shape[0] * z.dtype.itemsize <= READOUT_BYTES:
            # no feedback: the scan keeps the readout's inputs and one matrix-matrix product reads them all out
            def drive(state, xs):
                u_ext, t = xs
                return _model_step(model, state, None, u_ext, step_key(key, t))

            state, Z = jax.lax.scan(drive, model.state, (inputs, steps))
            ys = jax.vmap(lambda z, u: _output(model, z, u))(Z, inputs).astype(out_dtype)
            model = eqx.tree_at(lambda m: (m.state, m.last_output), model, (state, ys[-1]))
            return ys, model

    def body(carry, xs):
        state, y_prev = carry
        u, t = xs
        state, y = _closed_loop_step(model, state, y_prev, u, step_key(key, t))
        y = y.astype(out_dtype)
        return (state, y), y

    (state, y_last), ys = jax.lax.scan(body, (model.state, model.last_output), (inputs, steps))
    model = eqx.tree_at(lambda m: (m.state, m.last_output), model, (state, y_last.astype(out_dtype)))
    return ys, model


@eqx.filter_jit
def _predict_parallel(model, inputs, key, segments, overlap):
    """`_predict_impl` driven parallel in time (a model without output feedback): outputs in time order and the
    largest relative seam mismatch."""
    B, w = segments, overlap
    length = inputs.shape[0]
    L, tail = _parallel.layout(length, B, w)
    idx = _parallel.segment_index(B, w, L)
    U, TS = inputs[idx], idx
    res = model.reservoir
    dummy = model.last_output
    batched = eqx.tree_at(lambda m: m.reservoir, model, res.for_batch(B))  # its layout for a batch of B segments

    def one(s, u, t):
        s, y = _closed_loop_step(batched, s, dummy, u, step_key(key, t))
        return s, y.astype(dummy.dtype)

    vone = jax.vmap(one)

    def body(X, xs):
        return vone(X, *xs)

    X = _parallel.stack_initial(model.state, res.init_state(), B)
    X, Y0 = jax.lax.scan(body, X, (U[:w], TS[:w]))
    warm = X
    X, Y = jax.lax.scan(body, X, (U[w:], TS[w:]))
    mismatch = _parallel.seam_mismatch(warm, X)
    ys = [Y0[:, 0], jnp.swapaxes(Y, 0, 1).reshape(B * L, -1)]
    model = eqx.tree_at(lambda m: m.state, model, _parallel._take(X, B - 1))
    if tail:
        yt, model = _predict_impl(model, inputs[length - tail :], key, length - tail)
        ys.append(yt)
    out = jnp.concatenate(ys, axis=0)
    model = eqx.tree_at(lambda m: m.last_output, model, out[-1])
    return out, model, mismatch


def _check_model(model):
    if not isinstance(model, Model):
        raise ValueError(f"`model` must be a trained Model (from `reservoirs.fit`), got {type(model).__name__}")


def predict(
    model: Model,
    inputs: Float[ArrayLike, "time *inputs"],
    *,
    key: PRNGKeyArray | None = None,
    parallel: object = "auto",
    return_report: bool = False,
) -> tuple[Float[Array, "time outputs"], Model] | tuple[Float[Array, "time outputs"], Model, DriveReport]:
    """Teacher-forced prediction: drive the trained model with known `inputs`, starting from `model.state`.

    One scan. With output feedback, the model's own previous output is fed back (the targets are unknown here).

    `parallel` and `return_report` as in `fit`: a model without output feedback can be driven parallel in time
    over long inputs (each seam checked; the sequential scan otherwise).

    **Returns:** `(outputs, model)`: `outputs[t]` is the readout after consuming `inputs[t]`; `model` has advanced
    state and `last_output = outputs[-1]`, so a following `forecast` continues from there. With
    `return_report=True`, `(outputs, model, report)`.
    """
    _check_model(model)
    if model.reservoir.in_size == 0:
        raise ValueError("this model has no external input (in_size=0): use `forecast(model, n_steps)`")
    inputs = as_series("inputs", inputs, dim=model.reservoir.in_size)
    check_key(model.reservoir, key)
    _parallel.check_parallel(parallel)
    res = model.reservoir
    if res.feedback_size and parallel is not False:
        plan, report = None, DriveReport(False, reason="output feedback: each step needs the previous output")
    else:
        plan, report = _plan_parallel(res, model.state, inputs, key, 0, (inputs.shape[0],), parallel,
                                      lambda: _feature_count(res, model.readout, inputs), model)
    if plan is None and parallel is True:
        warnings.warn(f"parallel=True: the sequential scan ran: {report.reason}", RuntimeWarning, stacklevel=2)
    if plan is not None:
        outputs, advanced, mismatch = _predict_parallel(model, inputs, key, *plan)
        report = dataclasses.replace(report, seam_mismatch=float(mismatch))
        if not float(mismatch) <= report.tolerance:
            report = _fell_back(report, parallel)
            plan = None
        else:
            model = advanced
    if plan is None:
        traced = any(is_traced(x) for x in jax.tree.leaves((model, inputs, key)))
        outputs, model = _predict_impl(model, inputs, key, read_all=not traced)
    if not is_traced(outputs):
        ok = np.all(np.isfinite(np.asarray(outputs)), axis=1)
        if not ok.all():
            warnings.warn(
                f"`predict` produced NaN or inf outputs from step {int(np.argmin(ok))} of {ok.size}: the reservoir "
                "diverged under these inputs (an unstable configuration, or inputs far outside the training range)",
                RuntimeWarning,
                stacklevel=2,
            )
    return (outputs, model, report) if return_report else (outputs, model)


class ForecastResult(eqx.Module):
    """The outcome of a closed-loop forecast.

    - `outputs`: `(n_steps, outputs)`; NaN from the step where the run diverged onwards.
    - `model`: the model advanced to the end of the forecast (or frozen at the divergence).
    - `diverged`: True if the run left the range `|y - mean| <= divergence_threshold * std` of the training
      targets, or produced NaN/inf.
    - `diverged_at`: index of the first diverged step, -1 if none.
    """

    outputs: Float[Array, "steps outputs"]
    model: Model
    diverged: Bool[Array, ""]
    diverged_at: Int[Array, ""]


@eqx.filter_jit
def _forecast_impl(model, n_steps, key, threshold):
    res = model.reservoir
    if res.in_size and res.in_size != model.out_size:
        raise ValueError(
            f"closed-loop forecasting feeds the output back as the next input: needs in_size == outputs, got "
            f"in_size={res.in_size} and {model.out_size} outputs"
        )
    dtype = model.last_output.dtype
    scale = jnp.where(model.target_std > 0, model.target_std, 1.0)

    def body(carry, t):
        state, y_prev, bad_at = carry
        u_ext = y_prev if res.in_size else y_prev[:0]
        new_state, y = _closed_loop_step(model, state, y_prev, u_ext, step_key(key, t))
        y = y.astype(dtype)
        bad = ~jnp.all(jnp.isfinite(y)) | jnp.any(jnp.abs(y - model.target_mean) > threshold * scale)
        already = bad_at >= 0
        bad_at = jnp.where(~already & bad, t, bad_at)
        stop = already | bad
        state = jax.tree.map(lambda a, b: jnp.where(stop, a, b), state, new_state)
        y_prev = jnp.where(stop, y_prev, y)
        out = jnp.where(stop, jnp.nan, y)
        return (state, y_prev, bad_at), out

    init = (model.state, model.last_output, jnp.asarray(-1, jnp.int32))
    (state, y_last, bad_at), ys = jax.lax.scan(body, init, jnp.arange(n_steps, dtype=jnp.int32))
    model = eqx.tree_at(lambda m: (m.state, m.last_output), model, (state, y_last))
    return ForecastResult(ys, model, bad_at >= 0, bad_at)


@eqx.filter_jit
def _warmup_impl(model, values, key):
    res = model.reservoir

    def body(state, xs):
        v, t = xs
        parts = [_apply(model.input_scaler, v)] if res.in_size else []
        if res.feedback_size:
            parts.append(_apply(model.output_scaler, v))
        drive = jnp.concatenate(parts) if len(parts) > 1 else parts[0]
        return res.step(state, drive, key=step_key(key, t)), None

    state, _ = jax.lax.scan(body, model.state, (values[:-1], jnp.arange(values.shape[0] - 1)))
    return eqx.tree_at(lambda m: (m.state, m.last_output), model, (state, values[-1].astype(model.last_output.dtype)))


def forecast(
    model: Model,
    n_steps: int,
    *,
    warmup: Float[ArrayLike, "time *outputs"] | None = None,
    key: PRNGKeyArray | None = None,
    divergence_threshold: RealLike = 100.0,
) -> ForecastResult:
    """Closed-loop (autonomous) forecast: the readout's output becomes the next input. One scan.

    The model must be generative: its inputs are its outputs (`in_size == outputs`), or it is driven only by
    output feedback (`in_size == 0`).

    **Arguments:**

    - `model`: a trained `Model`. The run starts from `model.state` by feeding back `model.last_output`, so after
      `fit` on `x[:-1] -> x[1:]` the first output predicts the sample after the last training target.
    - `n_steps`: number of steps to forecast, >= 1.
    - `warmup`: optional known values `(time, outputs)` to synchronise the reservoir first (teacher forcing on
      `warmup[:-1]`, then the closed loop starts from `warmup[-1]`): `forecast(model.reset(), 84,
      warmup=test[:1001])` is Jaeger's protocol; the first output then predicts the sample after `warmup[-1]`.
    - `key`: PRNG key for stochastic substrates.
    - `divergence_threshold`: in training-target standard deviations; an output further than this from the
      training mean (or NaN/inf) marks the run as diverged. Default 100.

    **Returns:** a `ForecastResult`. A diverging run is *reported* (`diverged`, `diverged_at`, and a
    `RuntimeWarning` when called outside `jit`/`vmap`); outputs from that step on are NaN and the state is frozen.
    """
    _check_model(model)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    check_positive("divergence_threshold", divergence_threshold)
    check_key(model.reservoir, key)
    if warmup is not None:
        warmup = as_series("warmup", warmup, dim=model.out_size)
        if warmup.shape[0] < 2:
            raise ValueError(f"`warmup` must hold at least 2 samples, got {warmup.shape[0]}")
        wkey = None if key is None else jax.random.fold_in(key, 1)
        model = _warmup_impl(model, warmup, wkey)
    result = _forecast_impl(model, n_steps, key, divergence_threshold)
    if not is_traced(result.diverged) and bool(result.diverged):
        warnings.warn(
            f"closed-loop forecast diverged at step {int(result.diverged_at)} of {n_steps}: outputs from there on "
            "are NaN (see ForecastResult.diverged_at)",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


_MAGIC_V1 = b"reservoirs-model-v1\n"
_MAGIC = b"reservoirs-model-v2\n"


def save_model(path: str | Path, model: Model) -> None:
    """Save a trained model: a magic line, a small JSON header with a SHA-256 checksum, then the model.

    The payload is a pickle of the model's skeleton (array shapes and static fields, no values) followed by its
    arrays (Equinox serialisation). `load_model(path)` verifies the checksum, so a truncated or corrupted file is
    refused instead of loading silently. The skeleton is a pickle: load only files you trust, as with any pickle.
    """
    import hashlib
    import io

    _check_model(model)
    arrays, static = eqx.partition(model, eqx.is_array)
    skeleton = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), arrays)
    header = pickle.dumps(eqx.combine(skeleton, static))
    buf = io.BytesIO()
    buf.write(len(header).to_bytes(8, "little") + header)
    eqx.tree_serialise_leaves(buf, model)
    payload = buf.getvalue()
    meta = json.dumps({
        "x64": bool(jax.config.jax_enable_x64),
        "class": type(model).__name__,
        "payload_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }).encode()
    with open(path, "wb") as f:
        f.write(_MAGIC)
        f.write(len(meta).to_bytes(8, "little") + meta)
        f.write(payload)


class _Invalid(ValueError):
    pass


def _read_block(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    if pos + 8 > len(data):
        raise _Invalid(f"truncated before the {what}")
    n = int.from_bytes(data[pos : pos + 8], "little")
    if n > len(data) - pos - 8:
        raise _Invalid(f"truncated in the {what} ({n} bytes announced, {len(data) - pos - 8} present)")
    return data[pos + 8 : pos + 8 + n], pos + 8 + n


def load_model(path: str | Path) -> Model:
    """Load a model written by `save_model`; the numbers come back bit for bit.

    Raises a `ValueError` starting "not a valid reservoirs model file" for a file that is not one, is truncated,
    fails its checksum or holds something other than a `Model`, and one that says how to enable float64 for a
    float64 model loaded without `jax_enable_x64`.
    """
    import hashlib
    import io

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"`path` {str(path)!r} does not exist or is not a file")
    data = p.read_bytes()
    try:
        if data.startswith(_MAGIC_V1):
            version, pos = 1, len(_MAGIC_V1)
        elif data.startswith(_MAGIC):
            version, pos = 2, len(_MAGIC)
        else:
            raise _Invalid("it does not start with the reservoirs model header")
        meta_bytes, pos = _read_block(data, pos, "metadata")
        try:
            meta = json.loads(meta_bytes)
        except ValueError as e:
            raise _Invalid(f"garbled metadata ({e})") from None
        if not isinstance(meta, dict) or "x64" not in meta:
            raise _Invalid("garbled metadata")
        payload = data[pos:]
        if version == 2:
            if len(payload) != meta.get("payload_bytes"):
                raise _Invalid(f"truncated or padded: {len(payload)} bytes of model, {meta.get('payload_bytes')} "
                               "expected")
            if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
                raise _Invalid("checksum mismatch (the file is corrupted)")
        if meta["x64"] and not jax.config.jax_enable_x64:
            raise ValueError(
                "`path` holds a float64 model: enable it with jax.config.update('jax_enable_x64', True) first"
            )
        header, pos = _read_block(payload, 0, "model structure")
        try:
            skeleton = pickle.loads(header)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
            raise _Invalid(f"unreadable model structure ({type(e).__name__}: {e})") from None
        if not isinstance(skeleton, Model):
            raise _Invalid(f"it holds a {type(skeleton).__name__}, not a reservoirs Model")
        like = jax.tree.map(
            lambda s: jnp.zeros(s.shape, s.dtype),
            skeleton,
            is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct),
        )
        try:
            return eqx.tree_deserialise_leaves(io.BytesIO(payload[pos:]), like)
        except Exception as e:  # noqa: BLE001
            raise _Invalid(f"the arrays do not match the model structure ({type(e).__name__}: {e})") from None
    except _Invalid as e:
        raise ValueError(f"not a valid reservoirs model file: {str(path)!r}: {e}") from None

"""Classification with any reservoir: a ridge readout of one-hot labels, fitting on batches of sequences,
accuracy and confusion matrix, a reservoir-free baseline, and the runner behind `reservoirs classify`.

- `fit_sequences` fits any readout on a *batch* of sequences (a list of `(time_i, dim)` arrays or a
  `(batch, time, dim)` array): every sequence starts from the reservoir's initial state and discards its own
  washout, and the Gram statistics of all of them are summed before one solve. Sequences of equal length are
  driven together (one `jax.lax.scan` over time of a `vmap`ped step, the weights shared), ragged lists are
  grouped by length; the whole fit is one compiled call.
- `RidgeClassifier` is ridge regression on one-hot targets with an argmax (Bishop 2006, "Pattern Recognition
  and Machine Learning", sec. 4.1.3, least squares for classification), per step or per sequence (the features
  at the end of the sequence, or their time average).
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._checks import (
    RealLike,
    as_series,
    check_int,
    check_key,
    check_positive,
    check_reservoir,
    is_traced,
)
from ._model import Model, _drive_inputs, _readout_input, fit
from ._reservoir import AbstractReservoir, step_key
from ._ridge import AbstractReadout, GramStats, QRStats, Ridge, RidgeCV, merge_all

POOLINGS = ("step", "last", "mean")


class RidgeClassifier(AbstractReadout):
    r"""Ridge regression on one-hot class targets; the predicted class is the argmax of the outputs.

    $$W = \arg\min_W \sum_n \lVert e_{c_n} - W z_n - b\rVert^2 + \alpha \lVert W\rVert_F^2,
    \qquad \hat c(z) = \arg\max_k\, (W z + b)_k$$

    (least squares for classification, Bishop 2006, "Pattern Recognition and Machine Learning", sec. 4.1.3; the
    usual reservoir readout for labels, e.g. Jaeger 2001, GMD Report 148, and Lukoševičius 2012, "A practical
    guide to applying echo state networks"). The solve is `Ridge`'s: centred Gram statistics, unpenalised bias.

    **Arguments:**

    - `alpha`: ridge parameter, >= 0, added to the *summed* Gram as in `Ridge`. Default 1e-6.
    - `pooling`: which feature vectors are classified.
        - `"step"`: every time step has a label (a stream or a batch of labelled streams).
        - `"last"`: one label per sequence, read from the features after its last input.
        - `"mean"`: one label per sequence, read from the time average of its features after the washout.
    - `input_passthrough`: also feed the external input to the readout (the last input, or the mean input, for
      pooled readouts). Default False.
    - `alphas`: optional candidate ridge parameters: then `alpha` is chosen among them on a holdout, the last
      `holdout` fraction of the training samples (steps of a stream, or whole sequences of a batch), by the
      validation error of the one-hot regression (`RidgeCV`'s ridge path), and the readout is refitted on all
      of them. Default None (use `alpha`).
    - `holdout`: validation fraction for `alphas`, in (0, 1). Default 0.2.

    After fitting, `weights` (classes × features) and `bias` are set, and `washout` records the steps that the
    `"mean"` pooling skipped in training (`classify` skips the same).
    """

    alpha: Float[Array, ""]
    weights: Float[Array, "classes features"] | None
    bias: Float[Array, " classes"] | None
    cv: RidgeCV | None
    pooling: str = eqx.field(static=True)
    input_passthrough: bool = eqx.field(static=True)
    washout: int = eqx.field(static=True)

    def __init__(
        self,
        alpha: RealLike = 1e-6,
        pooling: str = "step",
        *,
        input_passthrough: bool = False,
        weights=None,
        bias=None,
        washout: int = 0,
        alphas=None,
        holdout: float = 0.2,
        cv: RidgeCV | None = None,
    ):
        check_positive("alpha", alpha, allow_zero=True)
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {POOLINGS}, got {pooling!r}")
        if alphas is not None:  # the strategy is built (and validated) once, outside any trace
            cv = RidgeCV(alphas, holdout=holdout, input_passthrough=input_passthrough)
        self.cv = cv
        self.alpha = jnp.asarray(alpha, dtype=jnp.result_type(float))
        self.weights = weights
        self.bias = bias
        self.pooling = pooling
        self.input_passthrough = bool(input_passthrough)
        self.washout = check_int("washout", washout, minimum=0)

    @property
    def fitted(self) -> bool:
        return self.weights is not None

    @property
    def out_size(self) -> int:
        if self.weights is None:
            raise ValueError("this RidgeClassifier is not fitted yet: call `reservoirs.fit_classifier` first")
        return self.weights.shape[0]

    @property
    def n_classes(self) -> int:
        return self.out_size

    def segments(self, length: int) -> tuple[int, ...]:
        return (length,) if self.cv is None else self.cv.segments(length)

    def fit_stats(self, stats: list[GramStats | QRStats]) -> "RidgeClassifier":
        if self.cv is None:
            r = Ridge(self.alpha, input_passthrough=self.input_passthrough).fit_stats(stats)
        else:
            r = self.cv.fit_stats(stats)
        return RidgeClassifier(
            r.alpha, self.pooling, input_passthrough=self.input_passthrough, weights=r.weights, bias=r.bias,
            washout=self.washout, cv=self.cv,
        )

    def with_washout(self, washout: int) -> "RidgeClassifier":
        return RidgeClassifier(
            self.alpha, self.pooling, input_passthrough=self.input_passthrough, weights=self.weights,
            bias=self.bias, washout=washout, cv=self.cv,
        )

    def __call__(self, z: Float[Array, " features"]) -> Float[Array, " classes"]:
        """The class scores (the regression outputs) for one feature vector; `argmax` is the label."""
        if self.weights is None:
            raise ValueError("this RidgeClassifier is not fitted yet: call `reservoirs.fit_classifier` first")
        return self.weights @ z.astype(self.weights.dtype) + self.bias


# --------------------------------------------------------------------------------------------------------------
# The batched driver: a batch of states advanced together, one scan over time.


def _init_batch(reservoir, batch: int):
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *jnp.shape(x))), reservoir.init_state())


def _batch_step(reservoir, states, u, keys, t):
    if keys is None:
        return jax.vmap(lambda s, x: reservoir.step(s, x, key=None))(states, u)
    return jax.vmap(lambda s, x, k: reservoir.step(s, x, key=step_key(k, t)))(states, u, keys)


def _batch_z(reservoir, readout, states, ext):
    return jax.vmap(lambda s, e: _readout_input(reservoir, readout, s, e))(states, ext)


def _drive_batch(reservoir, states, drive, keys, t0):
    """Advance a batch of states over time-major `drive` (time, batch, inputs); no features."""
    if drive.shape[0] == 0:
        return states

    def body(states, xs):
        u, t = xs
        return _batch_step(reservoir, states, u, keys, t), None

    states, _ = jax.lax.scan(body, states, (drive, t0 + jnp.arange(drive.shape[0])))
    return states


def _gram_dtype(dtype):
    # As in `_model._accumulate`: the Gram in at least JAX's default float (float64 statistics for float32 states
    # under x64; the normal equations square the condition number).
    return jnp.promote_types(dtype, jnp.result_type(float))


def _accumulate_batch(reservoir, readout, states, drive, ext, targets, keys, t0, rows):
    """Gram statistics of a batch driven over time-major arrays, a (steps x batch, features) block at a time.

    The batched counterpart of `_model._accumulate`: each block holds `max(1, rows // batch)` time steps of every
    sequence, so a block has about `rows` rows whatever the batch size.
    """
    length, batch = drive.shape[:2]
    chunk = max(1, min(rows // batch, length))
    n_chunks, rest = divmod(length, chunk)
    ts = t0 + jnp.arange(length)

    def block(states, d, e, t):
        def body(states, xs):
            u, ue, tt = xs
            states = _batch_step(reservoir, states, u, keys, tt)
            return states, _batch_z(reservoir, readout, states, ue)

        states, Z = jax.lax.scan(body, states, (d, e, t))
        return states, Z.reshape(-1, Z.shape[-1])

    def split(x):
        return x[: n_chunks * chunk].reshape(n_chunks, chunk, *x.shape[1:])

    def rows_of(y):
        return y.reshape(-1, y.shape[-1]).astype(dtype)

    _, probe = jax.eval_shape(block, states, drive[:1], ext[:1], ts[:1])
    dtype = _gram_dtype(probe.dtype)
    stats = readout.stats_type(dtype).empty(probe.shape[1], targets.shape[-1], dtype)

    def outer(carry, xs):
        states, stats = carry
        states, Z = block(states, *xs[:-1])
        return (states, stats.add_block(Z.astype(dtype), rows_of(xs[-1]))), None

    if n_chunks:
        (states, stats), _ = jax.lax.scan(
            outer, (states, stats), (split(drive), split(ext), split(ts), split(targets))
        )
    if rest:
        sl = slice(n_chunks * chunk, length)
        states, Z = block(states, drive[sl], ext[sl], ts[sl])
        stats = stats.add_block(Z.astype(dtype), rows_of(targets[sl]))
    return states, stats


def _pooled_features(reservoir, readout, states, drive, ext, keys, washout, pooling):
    """One readout input per sequence: after the last step (`"last"`) or averaged after the washout (`"mean"`)."""
    length = drive.shape[0]
    if pooling == "last":
        states = _drive_batch(reservoir, states, drive, keys, 0)
        return states, _batch_z(reservoir, readout, states, ext[-1])
    states = _drive_batch(reservoir, states, drive[:washout], keys, 0)
    z_shape = jax.eval_shape(lambda s, e: _batch_z(reservoir, readout, s, e), states, ext[0])

    def body(carry, xs):
        states, acc = carry
        u, ue, t = xs
        states = _batch_step(reservoir, states, u, keys, t)
        return (states, acc + _batch_z(reservoir, readout, states, ue)), None

    acc = jnp.zeros(z_shape.shape, z_shape.dtype)
    ts = washout + jnp.arange(length - washout)
    (states, acc), _ = jax.lax.scan(body, (states, acc), (drive[washout:], ext[washout:], ts))
    return states, acc / (length - washout)


def _sequence_keys(key, index):
    return None if key is None else jax.vmap(lambda i: jax.random.fold_in(key, i))(index)


def _time_major(x):
    return jnp.swapaxes(x, 0, 1)


def _group_stats(reservoir, readout, group, key, washout, rows, pooling):
    inputs, targets, index = group
    batch = inputs.shape[0]
    keys = _sequence_keys(key, index)
    states = _init_batch(reservoir, batch)
    if pooling == "step":
        y0 = jnp.zeros(targets.shape[-1], targets.dtype)
        drive = jax.vmap(lambda u, y: _drive_inputs(reservoir, u, y, y0))(inputs, targets)
        d, e, y = _time_major(drive), _time_major(inputs), _time_major(targets)
        states = _drive_batch(reservoir, states, d[:washout], keys, 0)
        states, stats = _accumulate_batch(reservoir, readout, states, d[washout:], e[washout:], y[washout:], keys,
                                          washout, rows)
        return states, stats
    d = _time_major(inputs)
    states, Z = _pooled_features(reservoir, readout, states, d, d, keys, washout, pooling)
    dtype = _gram_dtype(Z.dtype)
    return states, readout.stats_type(dtype).from_block(Z.astype(dtype), targets.astype(dtype))


@eqx.filter_jit
def _fit_sequences_impl(reservoir, readout, groups, segments, last_at, key, washout, rows, pooling):
    seg_stats = []
    final = None
    for seg in segments:
        stats = []
        for g in seg:
            states, s = _group_stats(reservoir, readout, groups[g], key, washout, rows, pooling)
            stats.append(s)
            if g == last_at[0]:
                final = jax.tree.map(lambda x: x[last_at[1]], states)
        seg_stats.append(merge_all(stats))
    fitted = readout.fit_stats(seg_stats)
    total = merge_all(seg_stats)
    std = jnp.sqrt(total.target_var())
    last_target = groups[last_at[0]][1][last_at[1]]
    last_target = last_target[-1] if pooling == "step" else last_target
    return Model(reservoir, fitted, final, last_target, total.mean_y, std)


# --------------------------------------------------------------------------------------------------------------
# Validation of batches.


def _as_batch(name: str, x, dim: int | None) -> list[jax.Array] | jax.Array:
    """A `(batch, time, dim)` array (returned as one array) or a list of `(time_i, dim)` arrays."""
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"`{name}` must hold at least one sequence, got an empty {type(x).__name__}")
        out = [as_series(f"{name}[{i}]", s, dim=dim) for i, s in enumerate(x)]
        if dim is None:
            dims = {s.shape[1] for s in out}
            if len(dims) > 1:
                raise ValueError(f"all sequences of `{name}` must have the same number of channels, got {dims}")
        return out
    x = jnp.asarray(x)
    if x.ndim == 2 and dim is None:  # (batch, time) of scalar targets
        x = x[:, :, None]
    if x.ndim != 3:
        want = f"(batch, time, {dim if dim is not None else 'dim'})"
        raise ValueError(f"`{name}` must be a list of (time, dim) arrays or an array of shape {want}, got {x.shape}")
    if dim is not None and x.shape[2] != dim:
        raise ValueError(f"`{name}` must have shape (batch, time, {dim}), got {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"`{name}` must hold at least one sequence of one step, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    from ._checks import check_finite

    return check_finite(name, x)


def _lengths(batch) -> list[int]:
    return [s.shape[0] for s in batch] if isinstance(batch, list) else [batch.shape[1]] * batch.shape[0]


def _groups(inputs, targets, segments: tuple[int, ...]):
    """Cut the sequences into consecutive segments, and each segment into groups of equal length."""
    n = len(_lengths(inputs))
    groups, seg_groups, last_at = [], [], None
    start = 0
    for size in segments:
        idx = list(range(start, start + size))
        start += size
        if not isinstance(inputs, list):
            members = {inputs.shape[1]: idx}
        else:
            members: dict[int, list[int]] = {}
            for i in idx:
                members.setdefault(inputs[i].shape[0], []).append(i)
        these = []
        for _, ids in members.items():
            if isinstance(inputs, list):
                u = jnp.stack([inputs[i] for i in ids])
                y = jnp.stack([targets[i] for i in ids])
            else:
                u, y = inputs[ids[0] : ids[-1] + 1], targets[ids[0] : ids[-1] + 1]
            if n - 1 in ids:
                last_at = (len(groups), ids.index(n - 1))
            these.append(len(groups))
            groups.append((u, y, jnp.asarray(ids, jnp.int32)))
        seg_groups.append(tuple(these))
    return tuple(groups), tuple(seg_groups), last_at


def fit_sequences(
    reservoir: AbstractReservoir,
    inputs: Sequence[ArrayLike] | Float[ArrayLike, "batch time inputs"],
    targets: Sequence[ArrayLike] | Float[ArrayLike, "..."],
    *,
    readout: AbstractReadout | None = None,
    washout: int = 0,
    key: PRNGKeyArray | None = None,
    chunk: int = 1024,
) -> Model:
    """Fit a readout on a batch of sequences: each one driven from the reservoir's initial state, its own
    `washout` discarded, the Gram statistics of all of them summed, one solve. One compiled call.

    **Arguments:**

    - `reservoir`: any `AbstractReservoir`.
    - `inputs`: a `(batch, time, in_size)` array, or a list of `(time_i, in_size)` arrays (ragged lengths allowed;
      equal lengths are driven together, one compiled scan per distinct length).
    - `targets`: for a per-step readout (`Ridge`, `RidgeCV`, `RidgeClassifier(pooling="step")`), what the readout
      should produce after every input: `(batch, time, outputs)` or a list of `(time_i, outputs)`; for a
      per-sequence readout (`RidgeClassifier` with `pooling="last"` or `"mean"`), one row per sequence:
      `(batch, outputs)`.
    - `readout`: the readout to fit; default `Ridge(1e-6)`. A `RidgeCV` validates on whole sequences (its
      holdout or folds are consecutive groups of sequences).
    - `washout`: initial steps of *every* sequence whose features are discarded, `0 <= washout < ` the shortest
      length. Default 0 (sequences start from the same rest state, so nothing needs washing out for a
      per-sequence label; a per-step stream usually wants a washout).
    - `key`: PRNG key, required by stochastic substrates. Sequence `i` uses `fold_in(key, i)`, and its step `t`
      `fold_in(fold_in(key, i), t)`.
    - `chunk`: about how many rows (time steps x sequences) go into one Gram block. Default 1024.

    With output feedback, each sequence feeds back its own previous target (zero at its first step).

    **Returns:** a `Model`; its `state` is the state after the last input of the last sequence, its
    `last_output` the last target of the last sequence.
    """
    check_reservoir(reservoir)
    readout = Ridge(1e-6) if readout is None else readout
    if not isinstance(readout, AbstractReadout):
        raise ValueError(f"`readout` must be an AbstractReadout (Ridge, RidgeCV, RidgeClassifier), got "
                         f"{type(readout).__name__}")
    pooling = getattr(readout, "pooling", "step")
    inputs = _as_batch("inputs", inputs, reservoir.in_size)
    lengths = _lengths(inputs)
    n = len(lengths)
    if pooling == "step":
        targets = _as_batch("targets", targets, None)
        t_lengths = _lengths(targets)
        if t_lengths != lengths:
            raise ValueError(f"`targets` must have one row per input step: sequence lengths {t_lengths[:5]}... "
                             f"against {lengths[:5]}..." if n > 5 else
                             f"`targets` must have one row per input step: lengths {t_lengths} against {lengths}")
        if reservoir.feedback_size:
            width = targets[0].shape[1] if isinstance(targets, list) else targets.shape[2]
            if width != reservoir.feedback_size:
                raise ValueError(f"`targets` must have {reservoir.feedback_size} channels to be fed back, got {width}")
    else:
        if reservoir.feedback_size:
            raise ValueError("a per-sequence readout cannot feed its output back: use a reservoir with "
                             "feedback_size=0")
        targets = jnp.asarray(targets)
        if targets.ndim == 1:
            targets = targets[:, None]
        if targets.ndim != 2 or targets.shape[0] != n:
            raise ValueError(f"`targets` must have shape ({n}, outputs) for a per-sequence readout "
                             f"(pooling={pooling!r}), got {targets.shape}")
        if not jnp.issubdtype(targets.dtype, jnp.inexact):
            targets = targets.astype(jnp.result_type(float))
        if isinstance(inputs, list):
            targets = [targets[i] for i in range(n)]
    washout = check_int("washout", washout, minimum=0)
    if washout >= min(lengths):
        raise ValueError(f"`washout` must be < the shortest sequence length {min(lengths)}, got {washout}")
    chunk = check_int("chunk", chunk, minimum=1)
    check_key(reservoir, key)
    segments = readout.segments(n)
    groups, seg_groups, last_at = _groups(inputs, targets, segments)
    model = _fit_sequences_impl(reservoir, readout, groups, seg_groups, last_at, key, washout, chunk, pooling)
    if isinstance(model.readout, RidgeClassifier):
        model = eqx.tree_at(lambda m: m.readout, model, model.readout.with_washout(washout))
    return model


# --------------------------------------------------------------------------------------------------------------
# Labels.


def _check_labels(labels, shape, n_classes: int | None) -> tuple[jax.Array, int]:
    """Integer labels of exactly `shape`, in [0, n_classes); infers n_classes = max + 1 (at least 2)."""
    arr = np.asarray(labels)
    if arr.shape != tuple(shape):
        raise ValueError(f"`labels` must have shape {tuple(shape)}, got {arr.shape}")
    if arr.size == 0:
        raise ValueError("`labels` must not be empty")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"`labels` must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if n_classes is None:
        n_classes = max(int(arr.max()) + 1, 2)
    else:
        n_classes = check_int("n_classes", n_classes, minimum=2)
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"`labels` must be in [0, {n_classes}) (n_classes={n_classes}), got values in "
                         f"[{int(arr.min())}, {int(arr.max())}]")
    return jnp.asarray(arr, jnp.int32), n_classes


def _one_hot(labels, n_classes):
    return jax.nn.one_hot(labels, n_classes, dtype=jnp.result_type(float))


def fit_classifier(
    reservoir: AbstractReservoir,
    inputs: Sequence[ArrayLike] | Float[ArrayLike, "..."],
    labels: Sequence[ArrayLike] | ArrayLike,
    *,
    readout: RidgeClassifier | None = None,
    washout: int = 0,
    key: PRNGKeyArray | None = None,
    n_classes: int | None = None,
    chunk: int = 1024,
) -> Model:
    """Train a `RidgeClassifier` on a reservoir's features. One compiled call.

    **Arguments:**

    - `reservoir`: any `AbstractReservoir` without output feedback.
    - `inputs`: a stream `(time, in_size)` with `pooling="step"` (exactly `reservoirs.fit` on one-hot targets);
      or a batch of sequences, `(batch, time, in_size)` or a list of `(time_i, in_size)` arrays (`fit_sequences`).
    - `labels`: integer classes in `[0, n_classes)`: `(time,)` for a stream; `(batch, time)` (or a list of
      `(time_i,)`) for a batch with `pooling="step"`; `(batch,)` with `pooling="last"` or `"mean"`.
    - `readout`: a `RidgeClassifier`. Default: `RidgeClassifier(1e-6, "step")` when the labels are per step,
      `RidgeClassifier(1e-6, "last")` when there is one label per sequence.
    - `washout`: initial steps discarded (of the stream, or of every sequence), as in `fit`. Default 0.
    - `key`: PRNG key, required by stochastic substrates.
    - `n_classes`: number of classes, >= 2; default `max(labels) + 1` (at least 2).
    - `chunk`: rows per Gram block.

    **Returns:** a `Model` whose readout is the fitted `RidgeClassifier`; `classify(model, inputs)` labels new data.

    **Raises:** `ValueError` naming `labels` if they are not integers, have the wrong shape or lie outside
    `[0, n_classes)`; naming `inputs` if a sequence has the wrong number of channels.
    """
    check_reservoir(reservoir)
    if reservoir.feedback_size:
        raise ValueError("`reservoir` must not feed its output back (feedback_size > 0) for classification")
    if readout is not None and not isinstance(readout, RidgeClassifier):
        raise ValueError(f"`readout` must be a RidgeClassifier, got {type(readout).__name__}")
    if isinstance(inputs, (list, tuple)):
        batch = _as_batch("inputs", inputs, reservoir.in_size)
        lengths = _lengths(batch)
        per_seq_labels = not isinstance(labels, (list, tuple))
        if readout is None:
            readout = RidgeClassifier(1e-6, "last" if per_seq_labels else "step")
        if readout.pooling == "step":
            if not isinstance(labels, (list, tuple)) or len(labels) != len(lengths):
                raise ValueError(f"`labels` must be a list of {len(lengths)} per-step label arrays (pooling='step')")
            checked = [_check_labels(lab, (t,), n_classes)[1] for lab, t in zip(labels, lengths, strict=True)]
            n_classes = max(checked) if n_classes is None else n_classes
            ys = [_one_hot(_check_labels(lab, (t,), n_classes)[0], n_classes)
                  for lab, t in zip(labels, lengths, strict=True)]
            return fit_sequences(reservoir, batch, ys, readout=readout, washout=washout, key=key, chunk=chunk)
        labs, n_classes = _check_labels(labels, (len(lengths),), n_classes)
        return fit_sequences(reservoir, batch, _one_hot(labs, n_classes), readout=readout, washout=washout, key=key,
                             chunk=chunk)
    x = jnp.asarray(inputs)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim == 2:
        if readout is None:
            readout = RidgeClassifier(1e-6, "step")
        if readout.pooling != "step":
            raise ValueError(f"`inputs` must be a batch of sequences (batch, time, dim) or a list for "
                             f"pooling={readout.pooling!r}; got one stream of shape {x.shape}")
        x = as_series("inputs", x, dim=reservoir.in_size)
        labs, n_classes = _check_labels(labels, (x.shape[0],), n_classes)
        # Classification inputs are used as given, on a stream as on a batch of sequences (the task generators make
        # them of order one): no standardisation, and never of the one-hot targets.
        extra = {"standardize": False} if "standardize" in inspect.signature(fit).parameters else {}
        return fit(reservoir, x, _one_hot(labs, n_classes), readout=readout, washout=washout, key=key,
                   chunk_size=chunk, **extra)
    batch = _as_batch("inputs", x, reservoir.in_size)
    b, t = batch.shape[:2]
    if readout is None:
        readout = RidgeClassifier(1e-6, "last" if np.ndim(labels) == 1 else "step")
    if readout.pooling == "step":
        labs, n_classes = _check_labels(labels, (b, t), n_classes)
    else:
        labs, n_classes = _check_labels(labels, (b,), n_classes)
    return fit_sequences(reservoir, batch, _one_hot(labs, n_classes), readout=readout, washout=washout, key=key,
                         chunk=chunk)


@eqx.filter_jit
def _classify_stream(model, inputs, key):
    res, readout = model.reservoir, model.readout
    # A model trained by `fit(..., standardize=True)` keeps its input and output maps: apply them.
    in_map, out_map = getattr(model, "input_scaler", None), getattr(model, "output_scaler", None)
    if in_map is not None:
        inputs = in_map(inputs)

    def body(state, xs):
        u, t = xs
        state = res.step(state, u, key=step_key(key, t))
        scores = readout(_readout_input(res, readout, state, u))
        scores = scores if out_map is None else out_map.inverse(scores)
        return state, jnp.argmax(scores).astype(jnp.int32)

    _, labels = jax.lax.scan(body, model.state, (inputs, jnp.arange(inputs.shape[0])))
    return labels


@eqx.filter_jit
def _classify_batch(reservoir, readout, inputs, index, key):
    keys = _sequence_keys(key, index)
    states = _init_batch(reservoir, inputs.shape[0])
    d = _time_major(inputs)
    if readout.pooling == "step":

        def body(states, xs):
            u, t = xs
            states = _batch_step(reservoir, states, u, keys, t)
            scores = jax.vmap(readout)(_batch_z(reservoir, readout, states, u))
            return states, jnp.argmax(scores, axis=-1).astype(jnp.int32)

        _, labels = jax.lax.scan(body, states, (d, jnp.arange(d.shape[0])))
        return labels.T
    _, Z = _pooled_features(reservoir, readout, states, d, d, keys, readout.washout, readout.pooling)
    return jnp.argmax(jax.vmap(readout)(Z), axis=-1).astype(jnp.int32)


def classify(
    model: Model,
    inputs: Sequence[ArrayLike] | Float[ArrayLike, "..."],
    *,
    key: PRNGKeyArray | None = None,
) -> Int[Array, "..."] | list[Int[Array, " time"]]:
    """Predicted class labels of a model trained by `fit_classifier`.

    - A stream `(time, in_size)` (per-step readout) is driven from `model.state`, like `predict` (pass
      `model.reset()` to start from rest); returns `(time,)` labels. Step t uses `fold_in(key, t)`.
    - A batch `(batch, time, in_size)` or a list of sequences: every sequence starts from the reservoir's initial
      state, as in training; sequence i uses `fold_in(key, i)`. Returns `(batch, time)` labels (a list of
      `(time_i,)` arrays for a list) with `pooling="step"`, and `(batch,)` labels with `"last"` or `"mean"`.

    `key` is required by stochastic substrates.
    """
    if not isinstance(model, Model) or not isinstance(model.readout, RidgeClassifier):
        raise ValueError("`model` must be a classifier trained by `reservoirs.fit_classifier`")
    res, readout = model.reservoir, model.readout
    check_key(res, key)
    if isinstance(inputs, (list, tuple)):
        batch = _as_batch("inputs", inputs, res.in_size)
        lengths = _lengths(batch)
        if min(lengths) <= readout.washout and readout.pooling == "mean":
            raise ValueError(f"every sequence must be longer than the training washout {readout.washout}")
        out: list[Any] = [None] * len(batch)
        members: dict[int, list[int]] = {}
        for i, t in enumerate(lengths):
            members.setdefault(t, []).append(i)
        for ids in members.values():
            labs = _classify_batch(res, readout, jnp.stack([batch[i] for i in ids]), jnp.asarray(ids, jnp.int32), key)
            for j, i in enumerate(ids):
                out[i] = labs[j]
        return out if readout.pooling == "step" else jnp.stack(out)
    x = jnp.asarray(inputs)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim == 2:
        x = as_series("inputs", x, dim=res.in_size)
        if readout.pooling == "step":
            return _classify_stream(model, x, key)
        if x.shape[0] <= readout.washout and readout.pooling == "mean":
            raise ValueError(f"the sequence must be longer than the training washout {readout.washout}")
        return _classify_batch(res, readout, x[None], jnp.zeros(1, jnp.int32), key)[0]
    batch = _as_batch("inputs", x, res.in_size)
    if batch.shape[1] <= readout.washout and readout.pooling == "mean":
        raise ValueError(f"the sequences must be longer than the training washout {readout.washout}")
    return _classify_batch(res, readout, batch, jnp.arange(batch.shape[0], dtype=jnp.int32), key)


# --------------------------------------------------------------------------------------------------------------
# Scores.


def _flat_labels(name, x):
    if isinstance(x, (list, tuple)):
        x = np.concatenate([np.asarray(v).reshape(-1) for v in x]) if len(x) else np.zeros(0)
    return x


def accuracy(labels: ArrayLike | Sequence[ArrayLike], predicted: ArrayLike | Sequence[ArrayLike]) -> Float[Array, ""]:
    """Fraction of `predicted` labels equal to `labels` (same shape; lists of per-sequence arrays allowed)."""
    labels, predicted = _flat_labels("labels", labels), _flat_labels("predicted", predicted)
    if jnp.shape(labels) != jnp.shape(predicted):
        raise ValueError(f"`predicted` must have the shape of `labels` {jnp.shape(labels)}, got {jnp.shape(predicted)}")
    if jnp.size(labels) == 0:
        raise ValueError("`labels` must not be empty")
    return jnp.mean(jnp.asarray(labels) == jnp.asarray(predicted), dtype=jnp.result_type(float))


def confusion_matrix(
    labels: ArrayLike | Sequence[ArrayLike], predicted: ArrayLike | Sequence[ArrayLike], n_classes: int
) -> Int[Array, "classes classes"]:
    """`C[i, j]`: how many samples of true class i were predicted as class j (rows: truth, columns: prediction)."""
    n_classes = check_int("n_classes", n_classes, minimum=1)
    labels, predicted = _flat_labels("labels", labels), _flat_labels("predicted", predicted)
    if jnp.shape(labels) != jnp.shape(predicted):
        raise ValueError(f"`predicted` must have the shape of `labels` {jnp.shape(labels)}, got {jnp.shape(predicted)}")
    labels, predicted = jnp.asarray(labels).reshape(-1), jnp.asarray(predicted).reshape(-1)
    for name, v in (("labels", labels), ("predicted", predicted)):
        if not jnp.issubdtype(v.dtype, jnp.integer):
            raise ValueError(f"`{name}` must be integer class indices, got dtype {v.dtype}")
        if not is_traced(v) and v.size and (int(v.min()) < 0 or int(v.max()) >= n_classes):
            raise ValueError(f"`{name}` must be in [0, {n_classes}), got values in [{int(v.min())}, {int(v.max())}]")
    return jnp.zeros((n_classes, n_classes), jnp.int32).at[labels, predicted].add(1)


# --------------------------------------------------------------------------------------------------------------
# The reservoir-free baseline.


class InputWindow(AbstractReservoir):
    """Not a reservoir: a shift register of the last `window` inputs, so that a readout sees the raw input window.

    `features = [u(t), u(t-1), ..., u(t-window+1)]` (zeros before the start). `gain` is a dummy (0): nothing is
    recurrent. Used by `raw_input_baseline`.
    """

    gain: Float[Array, ""]
    in_size: int = eqx.field(static=True)
    window: int = eqx.field(static=True)

    def __init__(self, in_size: int, window: int):
        self.in_size = check_int("in_size", in_size, minimum=1)
        self.window = check_int("window", window, minimum=1)
        self.gain = jnp.zeros((), jnp.result_type(float))

    def init_state(self) -> Float[Array, "window inputs"]:
        return jnp.zeros((self.window, self.in_size), jnp.result_type(float))

    def step(self, state, u, *, key=None):
        return jnp.concatenate([u[None, :].astype(state.dtype), state[:-1]], axis=0)

    def features(self, state):
        return state.reshape(-1)

    @property
    def feature_size(self) -> int:
        return self.window * self.in_size


class BaselineResult(eqx.Module):
    """The raw-input baseline: its fitted `model`, the `predicted` test labels, their `accuracy` (after the
    washout, for a stream), and the `window` (input samples) the readout saw."""

    model: Model
    predicted: Int[Array, "..."]
    accuracy: Float[Array, ""]
    window: int = eqx.field(static=True)


def raw_input_baseline(
    task: Any,
    test: Any | None = None,
    *,
    window: int | None = None,
    alpha: RealLike = 1e-6,
    washout: int | None = None,
    alphas=None,
) -> BaselineResult:
    """A linear readout of the raw input window, no reservoir: what a reservoir must beat.

    The readout is the same `RidgeClassifier` that a reservoir gets, fed the last `window` input samples
    (a shift register, `InputWindow`) instead of a reservoir state. A reservoir claims to add a nonlinearity and
    fading memory; this baseline has neither nonlinearity, and only the memory its window gives it.

    **Arguments:**

    - `task`: the training data: a `tasks.ClassificationTask` (anything with `inputs`, `labels`, `n_classes` and
      `per_sequence`).
    - `test`: the data to score (fresh data from the same generator); default `task` itself (training accuracy).
    - `window`: input samples the readout sees, int >= 1. Default: 1 (the current input only) for a per-step
      task; the whole sequence for a per-sequence task (the readout sees every raw sample; pooling `"last"`).
    - `alpha`: ridge parameter. Default 1e-6.
    - `washout`: steps not scored (and not fitted) at the start of a stream, default `window - 1` (until the
      window is full); 0 for per-sequence tasks.
    - `alphas`: optional ridge path, chosen on a holdout of the training data as in `RidgeClassifier`.

    **Returns:** a `BaselineResult`. A stream is classified from rest (`model.reset()`).
    """
    for name, obj in (("task", task), ("test", test)):
        if obj is not None and not all(hasattr(obj, a) for a in ("inputs", "labels", "n_classes", "per_sequence")):
            raise ValueError(f"`{name}` must be a ClassificationTask (inputs, labels, n_classes, per_sequence)")
    test = task if test is None else test
    if test.per_sequence != task.per_sequence or test.inputs.shape[-1] != task.inputs.shape[-1]:
        raise ValueError("`test` must come from the same kind of task as `task` (per_sequence and input channels)")
    dim = task.inputs.shape[-1]
    if window is None:
        window = task.inputs.shape[1] if task.per_sequence else 1
    window = check_int("window", window, minimum=1)
    if washout is None:
        washout = 0 if task.per_sequence else window - 1
    washout = check_int("washout", washout, minimum=0)
    pooling = "last" if task.per_sequence else "step"
    win = InputWindow(dim, window)
    readout = RidgeClassifier(alpha, pooling, alphas=alphas)
    model = fit_classifier(win, task.inputs, task.labels, readout=readout, washout=washout,
                           n_classes=task.n_classes)
    if task.per_sequence:
        predicted = classify(model, test.inputs)
        acc = accuracy(test.labels, predicted)
    else:
        predicted = classify(model.reset(), test.inputs)
        acc = accuracy(test.labels[washout:], predicted[washout:])
    return BaselineResult(model, predicted, acc, window)


# --------------------------------------------------------------------------------------------------------------
# The runner behind `reservoirs classify`, and its figure.

#: Data sizes and readout settings per task, chosen so that one ESN run takes a few seconds on 2 CPU cores
#: (including compilation). `baseline_window`: the input samples the reservoir-free readout sees: one whole
#: period (sine-square), exactly the samples the label depends on (xor: delay + 1), the whole sequence (patterns).
CLASSIFY_SETTINGS: dict[str, dict[str, Any]] = {
    "sine-square": dict(train=250, test=125, washout=16, pooling="step", baseline_window=8,
                        kwargs={"samples_per_period": 8}),
    "xor": dict(train=2000, test=1000, washout=20, pooling="step", baseline_window=3,
                kwargs={"delay": 2}),
    "patterns": dict(train=200, test=200, washout=0, pooling="mean", baseline_window=None, kwargs={}),
}
CLASSIFY_TASKS = tuple(CLASSIFY_SETTINGS)
#: The ridge path of the runner's readouts (reservoir and baseline alike): the ridge is chosen on the last 20 % of
#: the training data, so substrates with many features and few training sequences are not left interpolating.
CLASSIFY_ALPHAS = tuple(10.0**k for k in range(-8, 5))
CLASSIFY_JSON_KEYS = ("task", "substrate", "units", "gain", "seed", "accuracy", "baseline_accuracy", "fit_seconds")


def _make_task(task: str, n: int, key):
    import tasks

    s = CLASSIFY_SETTINGS[task]
    gen = {"sine-square": tasks.sine_square, "xor": tasks.delayed_xor, "patterns": tasks.temporal_patterns}[task]
    return gen(n, key=key, **s["kwargs"])


def run_classify(
    task: str = "sine-square",
    *,
    substrate: str = "esn",
    units: int | None = None,
    gain: float | None = None,
    seed: int = 0,
) -> dict:
    """Train a classifier on a task with a registered reservoir, score it on fresh test data, and score the
    raw-input baseline on the same data.

    The reservoir comes from the registry (`reservoirs._registry.get_reservoir_entry(substrate)`), configured for
    `task`; `units` and `gain` default to the entry's defaults for the task. The data key and the reservoir key are
    `jax.random.split(jax.random.key(seed))`; the data (and the noise key of a stochastic substrate) come from the
    data key: one generator call, cut into a training part and a disjoint test part that follows it, so the test
    data are never seen in training. A stream (per-step task) is scored after the washout, classified from
    rest. `fit_seconds` includes JIT compilation (what a user waits for).

    **Returns:** a dict with `task, substrate, units, gain, seed, accuracy, baseline_accuracy, fit_seconds`,
    `classify_seconds`, `n_train`, `n_test` (labelled steps or sequences), `confusion` (nested list, rows =
    truth), `baseline_confusion`, `chance` (the frequency of the commonest test class), `baseline_window`,
    `pooling`, `alpha` and `baseline_alpha` (the ridges chosen on the last 20 % of the training data from
    `CLASSIFY_ALPHAS`), `class_names`, `per_sequence`, and a sample of test inputs with their true and predicted labels
    for `plot_classification`.
    """
    from ._registry import get_reservoir_entry

    if task not in CLASSIFY_SETTINGS:
        raise ValueError(f"`task` must be one of {CLASSIFY_TASKS}, got {task!r}")
    entry = get_reservoir_entry(substrate)
    d_units, d_gain = entry.defaults(task)
    units = d_units if units is None else units
    gain = d_gain if gain is None else gain
    s = CLASSIFY_SETTINGS[task]
    k_data, k_res = jax.random.split(jax.random.key(seed))
    k_train, k_noise = jax.random.split(k_data)
    # One generator call (one compilation) for both sets, cut into disjoint parts: the test data follow the
    # training data and are never seen in training.
    both = _make_task(task, s["train"] + s["test"], k_train)
    cut = s["train"] * (1 if both.per_sequence else s["kwargs"].get("samples_per_period", 1))
    train, test = both.split(cut)
    in_size = train.inputs.shape[-1]
    reservoir = entry.build(in_size, units, gain, key=k_res, task=task)
    k_fit, k_cls = jax.random.split(k_noise)
    k_fit, k_cls = (k_fit, k_cls) if reservoir.stochastic else (None, None)
    washout = s["washout"]
    readout = RidgeClassifier(pooling=s["pooling"], alphas=CLASSIFY_ALPHAS)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # The chosen ridge is reported (`alpha`); a choice at the end of the documented grid is not an error here.
        warnings.filterwarnings("ignore", message="RidgeCV chose the")
        model = jax.block_until_ready(
            fit_classifier(reservoir, train.inputs, train.labels, readout=readout, washout=washout, key=k_fit,
                           n_classes=train.n_classes)
        )
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    if train.per_sequence:
        predicted = jax.block_until_ready(classify(model, test.inputs, key=k_cls))
        truth, scored = test.labels, predicted
    else:
        predicted = jax.block_until_ready(classify(model.reset(), test.inputs, key=k_cls))
        truth, scored = test.labels[washout:], predicted[washout:]
    classify_seconds = time.perf_counter() - t0
    with warnings.catch_warnings():
        # A raw input with no linear signal (XOR) wants an infinite ridge: the grid-edge warning is expected here.
        warnings.filterwarnings("ignore", message="RidgeCV chose the")
        base = raw_input_baseline(train, test, window=s["baseline_window"], alphas=CLASSIFY_ALPHAS,
                                  washout=None if train.per_sequence else washout)
        base = jax.block_until_ready(base)
    base_scored = base.predicted if train.per_sequence else base.predicted[washout:]
    counts = np.bincount(np.asarray(truth), minlength=train.n_classes)
    if train.per_sequence:
        n_show = min(6, test.inputs.shape[0])
        sample = dict(sample_inputs=np.asarray(test.inputs[:n_show]), sample_labels=np.asarray(test.labels[:n_show]),
                      sample_predicted=np.asarray(predicted[:n_show]))
    else:
        n_show = min(96, test.inputs.shape[0] - washout)
        sl = slice(washout, washout + n_show)
        sample = dict(sample_inputs=np.asarray(test.inputs[sl]), sample_labels=np.asarray(test.labels[sl]),
                      sample_predicted=np.asarray(predicted[sl]))
    return {
        "task": task,
        "substrate": substrate,
        "units": int(units),
        "gain": float(gain),
        "seed": int(seed),
        "accuracy": float(accuracy(truth, scored)),
        "baseline_accuracy": float(accuracy(truth, base_scored)),
        "fit_seconds": fit_seconds,
        "classify_seconds": classify_seconds,
        "n_train": len(train) - (0 if train.per_sequence else washout),
        "n_test": int(np.asarray(truth).shape[0]),
        "confusion": np.asarray(confusion_matrix(truth, scored, train.n_classes)).tolist(),
        "baseline_confusion": np.asarray(confusion_matrix(truth, base_scored, train.n_classes)).tolist(),
        "chance": float(counts.max() / counts.sum()),
        "baseline_window": int(base.window),
        "alpha": float(model.readout.alpha),
        "baseline_alpha": float(base.model.readout.alpha),
        "pooling": s["pooling"],
        "class_names": list(train.class_names),
        "per_sequence": bool(train.per_sequence),
        **sample,
    }


def plot_classification(result: dict, path: str | Path) -> list[Path]:
    """Draw a `run_classify` result: the confusion matrix and a sample of test inputs coloured by true class
    (predicted labels marked where they are wrong). Writes a PNG to `path`; returns `[path]`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = result["class_names"]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, (ax_c, ax_s) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 2.4]})
    cm = np.asarray(result["confusion"])
    ax_c.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax_c.text(j, i, str(cm[i, j]), ha="center", va="center",
                      color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax_c.set_xticks(range(len(names)), names)
    ax_c.set_yticks(range(len(names)), names)
    ax_c.set_xlabel("predicted")
    ax_c.set_ylabel("true")
    ax_c.set_title(f"accuracy {result['accuracy']:.3f} (baseline {result['baseline_accuracy']:.3f})", fontsize=9)
    u = np.asarray(result["sample_inputs"])
    lab = np.asarray(result["sample_labels"])
    pred = np.asarray(result["sample_predicted"])
    if result["per_sequence"]:
        for i in range(u.shape[0]):
            wrong = " (misclassified)" if pred[i] != lab[i] else ""
            ax_s.plot(u[i, :, 0] + 2.5 * i, color=colours[int(lab[i]) % len(colours)], lw=1)
            ax_s.text(u.shape[1], 2.5 * i, names[int(lab[i])] + wrong, fontsize=7, va="center")
        ax_s.set_yticks([])
        ax_s.set_xlabel("time step within the sequence")
    else:
        t = np.arange(u.shape[0])
        for c in range(u.shape[1]):
            offset = 1.5 * c
            ax_s.plot(t, u[:, c] + offset, color="0.7", lw=0.8, zorder=1)
            for k, name in enumerate(names):
                m = lab == k
                ax_s.scatter(t[m], u[m, c] + offset, s=10, color=colours[k % len(colours)], zorder=2,
                             label=name if c == 0 else None)
        bad = pred != lab
        if bad.any():
            ax_s.scatter(t[bad], np.full(bad.sum(), u.min() - 0.4), marker="x", s=14, color="k",
                         label="misclassified")
        ax_s.set_xlabel("test step (after the washout)")
        ax_s.set_ylabel("input" if u.shape[1] == 1 else "inputs (channel c shifted by 1.5 c)", fontsize=8)
        ax_s.set_ylim(top=float(u.max()) + 1.5 * (u.shape[1] - 1) + 0.8)  # room for the legend above the data
        ax_s.legend(fontsize=7, loc="upper right", ncol=len(names) + 1)
    ax_s.set_title("test inputs, coloured by true class", fontsize=9)
    fig.suptitle(f"{result['task']}: {result['substrate']}, units {result['units']}, gain {result['gain']:g}, "
                 f"seed {result['seed']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]

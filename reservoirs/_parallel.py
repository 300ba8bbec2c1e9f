"""Parallel-in-time driving of reservoirs with fading memory, self-verifying.

A reservoir with the echo-state property forgets its initial state: two copies driven by the same inputs from
different states converge. So a long series can be cut into `B` segments that each start `w` steps early from the
reservoir's initial state, driven together as one batch: the recurrent matrix-vector product becomes a
matrix-matrix product, and `B` segments of `L` steps cost about `w + L` batched steps instead of `B L` sequential
ones. Segment 0 starts from the true state and is exact from its first step.

Every seam is checked. Segment `b` spends its first `w` steps warming up over times that segment `b - 1` also
covers, so at the seam the two states of the same time are compared: segment `b - 1`'s (converged, by induction from
the exact segment 0) and segment `b`'s after its warm-up. The result is used only if every seam agrees within
`seam_tolerance(dtype)` (64 ulps of the state's scale); otherwise the caller falls back to the sequential scan and the
report says why. Near or past the edge of chaos the states do not converge and the sequential scan runs.

The overlap `w` comes from a probe: the distance between a trajectory with history and one started fresh from the
initial state, under the same inputs, measured step by step; `w` is 1.5x the steps it takes to fall to the seam
tolerance (extrapolated from the measured contraction rate when the probe is shorter), rounded up to a multiple of
64 so that similar series share compiled programs.

References: the echo-state property and state forgetting, Jaeger (2001) GMD Report 148, and Yildiz, Jaeger & Kiebel
(2012) Neural Networks 35:1; splitting a contracting recurrence into overlapping windows is the classical
"overlapping domain decomposition in time" (e.g. Gander 2015, "50 years of time parallel time integration").
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._reservoir import step_key

#: Segments driven as one batch when the series is long enough (fewer when it is not; see `plan`). Measured in
#: `benchmarks/bench_parallel.py`: on a 2-core CPU a batch of 16 dense ESN steps at N = 1000 costs about 4 single
#: steps, so throughput stops improving beyond this.
DEFAULT_SEGMENTS = 16
#: Fewest segments worth the overlap: with fewer the warm-up eats the gain.
MIN_SEGMENTS = 4
#: Probe length (steps with history, then as many steps comparing the two trajectories).
PROBE_STEPS = 256
#: Shortest span driven in parallel by default (shorter fits take milliseconds sequentially).
MIN_LENGTH = 4096
#: Smallest state (features) driven in parallel by default. Below it the batched steps, the overlap and the probe
#: cost as much as the steps they replace: at N = 100 a batch of 16 costs 7 single steps; at N = 500
#: (`benchmarks/bench_speed.py`, fit + predict, T = 10,000, float64, two runs on a quiet machine) the parallel
#: default took 0.558 / 0.588 s against 0.475 / 0.460 s sequential, at N = 1000 1.78 s against 2.79 s (1.94 s with
#: ELL storage). The threshold sits between the two sizes measured.
MIN_STATE = 768


@dataclasses.dataclass(frozen=True)
class DriveReport:
    """How a series was driven: `fit(..., return_report=True)` and `predict(..., return_report=True)` return one.

    - `parallel`: True if the parallel-in-time result was used, False if the sequential scan ran.
    - `segments`, `overlap`: the batch of segments and the warm-up steps each one (but the first) ran; 1 and 0 for
      the sequential scan.
    - `contraction`: the distance between a fresh and a warmed-up trajectory shrinks by this factor per step
      (geometric mean over the probe); NaN if not probed.
    - `seam_mismatch`: the largest state difference at a seam, relative to the state's scale; NaN if none was run.
    - `tolerance`: the largest seam mismatch accepted (64 ulps of the state dtype).
    - `reason`: why this path ran, in words.
    """

    parallel: bool
    segments: int = 1
    overlap: int = 0
    contraction: float = math.nan
    seam_mismatch: float = math.nan
    tolerance: float = math.nan
    reason: str = ""


def check_parallel(parallel) -> None:
    """`parallel` is True, False or "auto" (not 0, 1 or an array: those would silently pick a path)."""
    if not (parallel is True or parallel is False or (isinstance(parallel, str) and parallel == "auto")):
        raise ValueError(f"`parallel` must be True, False or 'auto', got {parallel!r}")


def state_dtype(state) -> np.dtype:
    """The widest inexact dtype among the state's leaves (float32 if none)."""
    leaves = [x for x in jax.tree.leaves(state) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    return np.dtype(jnp.result_type(*leaves)) if leaves else np.dtype(np.float32)


def seam_tolerance(dtype) -> float:
    """Largest relative seam mismatch accepted: 64 ulps (64 eps) of `dtype`."""
    return float(64 * np.finfo(dtype).eps)


def _take(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def relative_distance(a, b):
    """max |a - b| over the inexact leaves, relative to max |a| (exact comparison for integer or boolean leaves:
    any difference is `inf`). Works on batched states: reduces over every axis."""
    worst = jnp.zeros((), jnp.float32)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = jnp.asarray(x), jnp.asarray(y)
        if x.size == 0:
            continue
        if jnp.issubdtype(x.dtype, jnp.inexact):
            # equal entries (an infinite "time since the last spike" included) count as no difference
            diff = jnp.where(x == y, 0.0, jnp.abs(x - y))
            finite = jnp.where(jnp.isfinite(x), jnp.abs(x), 0.0)
            scale = jnp.maximum(jnp.max(finite), jnp.finfo(x.dtype).tiny)
            d = (jnp.max(diff) / scale).astype(jnp.float32)
        else:
            d = jnp.where(jnp.any(x != y), jnp.inf, 0.0).astype(jnp.float32)
        worst = jnp.maximum(worst, d)
    return worst


def stack_initial(state, init, segments: int):
    """The batch of segment start states: the true `state` for segment 0, `init` for the others."""
    return jax.tree.map(
        lambda s, z: jnp.concatenate([jnp.asarray(s)[None], jnp.broadcast_to(z, (segments - 1, *jnp.shape(z)))]),
        state, init,
    )


def layout(length: int, segments: int, overlap: int) -> tuple[int, int]:
    """`(L, tail)`: each segment covers `overlap + L` steps starting at `b L`; the last `tail` steps (fewer than
    `segments`) run sequentially after the batch."""
    L = (length - overlap) // segments
    return L, length - overlap - segments * L


def segment_index(segments: int, overlap: int, L: int):
    """`(overlap + L, segments)` time indices: column `b` is segment `b`'s steps, `b L + j`."""
    return jnp.arange(segments)[None, :] * L + jnp.arange(overlap + L)[:, None]


def seam_mismatch(warm, end):
    """Largest relative difference between segment `b - 1`'s last state and segment `b`'s state after its warm-up
    (the same time step), over the seams `b = 1 .. B - 1`."""
    prev = jax.tree.map(lambda a: a[:-1], end)
    nxt = jax.tree.map(lambda a: a[1:], warm)
    return relative_distance(prev, nxt)


def probe_distances(reservoir, state, drive, key, t0, n: int):
    """Relative distance, step by step over `n` steps, between a trajectory that has run `n` steps from `state` and
    one started from `reservoir.init_state()`, both driven by `drive[n:2n]` (times `t0 + n ...`)."""
    ts = t0 + jnp.arange(2 * n)

    def body(s, xs):
        u, t = xs
        return reservoir.step(s, u, key=step_key(key, t)), None

    a, _ = jax.lax.scan(body, state, (drive[:n], ts[:n]))
    b = reservoir.init_state()

    def pair(carry, xs):
        a, b = carry
        u, t = xs
        a = reservoir.step(a, u, key=step_key(key, t))
        b = reservoir.step(b, u, key=step_key(key, t))
        return (a, b), relative_distance(a, b)

    _, d = jax.lax.scan(pair, (a, b), (drive[n:2 * n], ts[n:]))
    return d


def choose_overlap(distances: np.ndarray, tol: float) -> tuple[int | None, float, str]:
    """`(overlap, contraction, reason)` from the probe's distances; overlap None when the states do not converge."""
    d = np.asarray(distances, dtype=np.float64)
    n = d.size
    if not np.all(np.isfinite(d)):
        return None, math.nan, (
            f"the states do not converge: after {n} steps a fresh trajectory still differs from a warmed-up one in "
            "discrete entries (spikes, counters) or non-finite values (an unstable configuration)")
    below = np.nonzero(d <= tol)[0]
    i0 = n // 8  # skip the first transient; geometric mean of the per-step factor over the rest
    first, last = d[i0], d[-1]
    rate = float((last / first) ** (1.0 / max(1, n - 1 - i0))) if first > 0 and last > 0 else 0.0
    if below.size:
        steps = int(below[0]) + 1
    else:
        if not rate < 0.999:
            return None, rate, (
                f"no contraction: a fresh trajectory stays {last:.1e} (relative) from a warmed-up one after {n} "
                f"steps (factor {rate:.4f} per step); near or past the edge of chaos states do not converge"
            )
        steps = n + int(math.ceil(math.log(tol / last) / math.log(rate)))
    overlap = int(64 * math.ceil((1.5 * steps + 16) / 64))
    return overlap, rate, f"a fresh state converges to {tol:.1e} in about {steps} steps"


def plan(length: int, overlap: int, segments: int = DEFAULT_SEGMENTS) -> int:
    """Segments for a span of `length` steps: the largest power of two up to `segments` whose segments are at least
    as long as the overlap (0 if fewer than `MIN_SEGMENTS` fit)."""
    b = segments
    while b >= MIN_SEGMENTS and (length - overlap) // b < overlap:
        b //= 2
    return b if b >= MIN_SEGMENTS else 0

"""Diagnostics that make the edge of chaos visible, for any reservoir.

All of them are pure functions of a reservoir (a pytree), so they `jax.vmap` over a batch of gains like everything
else; the weight matrix stays shared and the recurrent products become matrix-matrix products.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray

from . import _linalg
from ._checks import RealLike, as_series, check_int, check_key, check_positive, check_reservoir
from ._model import _fit_impl, _predict_impl, _scan_steps
from ._reservoir import AbstractReservoir, step_key
from ._ridge import Ridge

# --------------------------------------------------------------------------------------------------------------
# Conditional Lyapunov spectrum (Benettin et al. 1980, Meccanica 15:9; input-driven: conditional exponents)
# --------------------------------------------------------------------------------------------------------------


def lyapunov_impl(reservoir, inputs, state, key, washout: int, k: int, tangent_key):
    """Traceable core of `lyapunov_spectrum`: exponents per step, shape (k,)."""
    state = _scan_steps(reservoir, state, inputs[:washout], key, 0)
    x0, unravel = ravel_pytree(state)
    n = x0.shape[0]
    Q = _linalg.qr(jax.random.normal(tangent_key, (n, k), x0.dtype))[0]
    tiny = jnp.finfo(x0.dtype).tiny

    def body(carry, xs):
        x, Q, acc = carry
        u, t = xs
        kt = step_key(key, t)

        def f(xf):
            return ravel_pytree(reservoir.step(unravel(xf), u, key=kt))[0]

        x_new, f_lin = jax.linearize(f, x)
        JQ = jax.vmap(f_lin, in_axes=1, out_axes=1)(Q)
        if k == 1:
            r = jnp.linalg.norm(JQ[:, 0])
            Q = JQ / jnp.maximum(r, tiny)
            acc = acc + jnp.log(jnp.maximum(r, tiny))[None]
        else:
            Q, R = _linalg.qr(JQ)
            acc = acc + jnp.log(jnp.maximum(jnp.abs(jnp.diagonal(R)), tiny))
        return (x_new, Q, acc), None

    rest = inputs[washout:]
    ts = washout + jnp.arange(rest.shape[0])
    (_, _, acc), _ = jax.lax.scan(body, (x0, Q, jnp.zeros(k, x0.dtype)), (rest, ts))
    return jnp.sort(acc / rest.shape[0])[::-1]


_lyapunov_jit = eqx.filter_jit(lyapunov_impl)


def lyapunov_spectrum(
    reservoir: AbstractReservoir,
    inputs: Float[ArrayLike, "time ..."],
    *,
    k: int = 1,
    washout: int = 100,
    state=None,
    key: PRNGKeyArray | None = None,
    tangent_key: PRNGKeyArray | None = None,
) -> Float[Array, " k"]:
    r"""The `k` leading conditional Lyapunov exponents of the input-driven reservoir, per input sample.

    Benettin's method (Benettin et al. 1980, Meccanica 15:9; Shimada & Nagashima 1979): `k` tangent vectors are
    pushed through the linearised `step` (`jax.linearize`, so any substrate works without a hand-written
    Jacobian) and re-orthonormalised by a QR decomposition at every step; the exponents are the time averages of
    $\log|R_{ii}|$. "Conditional" means along the trajectory driven by the given input (Jaeger 2001; a
    stochastic substrate uses the same noise realisation for the tangent and the reference, since the key of
    step `t` is shared). Negative: the reservoir forgets its initial state (ordered); positive: it amplifies
    perturbations (chaotic); the gain at which the largest crosses zero is the edge of chaos.

    **Arguments:**

    - `reservoir`: any `AbstractReservoir`.
    - `inputs`: `(time, in_size + feedback_size)` drive; zeros for an autonomous network.
    - `k`: number of exponents, 1 <= k <= state dimension. Default 1 (the largest).
    - `washout`: steps to discard before averaging (the state settles onto the driven attractor). Default 100.
    - `state`: initial state (default `reservoir.init_state()`); for an autonomous network start it off zero.
    - `key`: PRNG key for stochastic substrates.
    - `tangent_key`: key for the random initial tangent vectors (default `jax.random.key(0)`).

    **Returns:** the exponents in decreasing order, in units of 1/step (divide by the sample spacing for 1/time).
    """
    check_reservoir(reservoir)
    inputs = as_series("inputs", inputs, dim=reservoir.in_size + reservoir.feedback_size)
    washout = check_int("washout", washout, minimum=0)
    if washout >= inputs.shape[0]:
        raise ValueError(f"`washout` must be < the series length {inputs.shape[0]}, got {washout}")
    state = reservoir.init_state() if state is None else state
    n = ravel_pytree(state)[0].shape[0]
    k = check_int("k", k, minimum=1)
    if k > n:
        raise ValueError(f"`k` must be <= the state dimension {n}, got {k}")
    check_key(reservoir, key)
    tangent_key = jax.random.key(0) if tangent_key is None else tangent_key
    return _lyapunov_jit(reservoir, inputs, state, key, washout, k, tangent_key)


# --------------------------------------------------------------------------------------------------------------
# Echo-state property
# --------------------------------------------------------------------------------------------------------------


class ESPResult(eqx.Module):
    """`distance[t]`: Euclidean distance between two copies started apart and driven by the same input;
    `converged`: whether the final distance fell below `tol` times the initial one."""

    distance: Float[Array, " time"]
    converged: Bool[Array, ""]


def echo_state_property(
    reservoir: AbstractReservoir,
    inputs: Float[ArrayLike, "time ..."],
    *,
    key: PRNGKeyArray,
    noise_key: PRNGKeyArray | None = None,
    tol: RealLike = 1e-6,
) -> ESPResult:
    """Check the echo-state property empirically (Jaeger 2001; Yildiz, Jaeger & Kiebel 2012, Neural Netw. 35:1).

    Two copies start from `reservoir.init_state()` and from a random state (each leaf uniform in [-1, 1], drawn
    with `key`) and are driven by the same `inputs` (and the same noise, `noise_key`, for stochastic substrates).
    With the echo-state property the distance between them decays to zero: the state is a function of the input
    history alone.
    """
    check_reservoir(reservoir)
    inputs = as_series("inputs", inputs, dim=reservoir.in_size + reservoir.feedback_size)
    check_positive("tol", tol)
    check_key(reservoir, noise_key, "noise_key")
    return _esp_impl(reservoir, inputs, key, noise_key, tol)


@eqx.filter_jit
def _esp_impl(reservoir, inputs, key, noise_key, tol):
    a = reservoir.init_state()
    leaves, treedef = jax.tree.flatten(a)
    keys = jax.random.split(key, len(leaves))
    b = jax.tree.unflatten(
        treedef, [jax.random.uniform(kk, x.shape, x.dtype, -1.0, 1.0) for kk, x in zip(keys, leaves, strict=True)]
    )

    def dist(p, q):
        return jnp.linalg.norm(ravel_pytree(p)[0] - ravel_pytree(q)[0])

    def body(carry, xs):
        p, q = carry
        u, t = xs
        kt = step_key(noise_key, t)
        p, q = reservoir.step(p, u, key=kt), reservoir.step(q, u, key=kt)
        return (p, q), dist(p, q)

    d0 = dist(a, b)
    _, d = jax.lax.scan(body, (a, b), (inputs, jnp.arange(inputs.shape[0])))
    return ESPResult(d, d[-1] < tol * d0)


# --------------------------------------------------------------------------------------------------------------
# Memory capacity (Jaeger 2002, GMD Report 152)
# --------------------------------------------------------------------------------------------------------------


class MemoryCapacity(eqx.Module):
    """`total` = Σ_k `per_delay[k-1]`, with `per_delay[k-1]` the squared correlation between u(t-k) and the
    readout trained to recall it."""

    total: Float[Array, ""]
    per_delay: Float[Array, " delays"]


def _delay_targets(u, max_delay):
    """targets[t, k-1] = u[t-k] (zero before the start; those rows fall in the washout)."""
    T = u.shape[0]
    idx = jnp.arange(T)[:, None] - jnp.arange(1, max_delay + 1)[None, :]
    return jnp.where(idx >= 0, u[jnp.clip(idx, 0)], 0.0)


def memory_capacity_impl(reservoir, u, key, washout: int, n_train: int, max_delay: int, alpha):
    """Traceable core of `memory_capacity`: `u` is (time,) i.i.d. input."""
    drive = jnp.broadcast_to(u[:, None], (u.shape[0], reservoir.in_size)).astype(u.dtype)
    targets = _delay_targets(u, max_delay)
    readout = Ridge(alpha)
    state = reservoir.init_state()
    fitted = _fit_impl(
        reservoir, readout, drive[:n_train], drive[:n_train], targets[:n_train], state, key, washout, 256
    )
    model = fitted[0] if isinstance(fitted, tuple) else fitted  # `_fit_impl` returns (model, finite)
    y, _ = _predict_impl(model, drive[n_train:], None if key is None else jax.random.fold_in(key, 1))
    yt = targets[n_train:]
    yc = y - y.mean(0)
    tc = yt - yt.mean(0)
    cov = jnp.sum(yc * tc, axis=0)
    r2 = cov**2 / (jnp.sum(yc**2, axis=0) * jnp.sum(tc**2, axis=0))
    r2 = jnp.where(jnp.isfinite(r2), r2, 0.0)
    return MemoryCapacity(jnp.sum(r2), r2)


def memory_capacity(
    reservoir: AbstractReservoir,
    *,
    key: PRNGKeyArray,
    n_steps: int = 6000,
    washout: int = 500,
    test_fraction: RealLike = 0.25,
    max_delay: int | None = None,
    alpha: RealLike = 1e-10,
    noise_key: PRNGKeyArray | None = None,
) -> MemoryCapacity:
    r"""Short-term memory capacity (Jaeger 2002, GMD Report 152): $MC = \sum_k r^2(u(t-k), \hat y_k(t))$.

    The input is i.i.d. uniform on [-1, 1] (every input channel gets the same u). One readout per delay
    k = 1..`max_delay` is trained by ridge regression on the first part of the series (all delays share one
    streaming Gram matrix) and its squared correlation with u(t-k) is measured on the held-out last
    `test_fraction`. MC <= N for N state variables (Jaeger 2002).

    Numerically, the state matrix of a linear reservoir is ill-conditioned, so naive estimates under-report
    MC; run this in float64 and keep `alpha` tiny (default 1e-10): a linear N = 100 network then measures close
    to its theoretical N.

    **Arguments:**

    - `key`: PRNG key for the input sequence.
    - `n_steps`: series length (train + test). Default 6000.
    - `washout`: initial steps discarded. Default 500.
    - `test_fraction`: held-out fraction, in (0, 1). Default 0.25.
    - `max_delay`: largest delay; default `2 * feature_size` (capped at 400).
    - `alpha`: ridge parameter. Default 1e-10.
    - `noise_key`: PRNG key for stochastic substrates.
    """
    check_reservoir(reservoir)
    if reservoir.in_size < 1:
        raise ValueError("memory capacity needs an input: the reservoir has in_size=0")
    n_steps = check_int("n_steps", n_steps, minimum=10)
    washout = check_int("washout", washout, minimum=0)
    check_positive("alpha", alpha, allow_zero=True)
    tf = float(test_fraction)
    if not 0 < tf < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction}")
    n_train = int(round(n_steps * (1 - tf)))
    if washout >= n_train - 1:
        raise ValueError(f"`washout` must be < the training length {n_train - 1}, got {washout}")
    if max_delay is None:
        max_delay = min(2 * reservoir.feature_size, 400)
    max_delay = check_int("max_delay", max_delay, minimum=1)
    check_key(reservoir, noise_key, "noise_key")
    dtype = ravel_pytree(reservoir.init_state())[0].dtype
    u = jax.random.uniform(key, (n_steps,), dtype, -1.0, 1.0)
    return _mc_jit(reservoir, u, noise_key, washout, n_train, max_delay, alpha)


_mc_jit = eqx.filter_jit(memory_capacity_impl)


# --------------------------------------------------------------------------------------------------------------
# Kernel quality and generalisation rank (Legenstein & Maass 2007, Neural Netw. 20:323)
# --------------------------------------------------------------------------------------------------------------


class SeparationRanks(eqx.Module):
    """`kernel_quality`: rank of the final states for m independent input streams (high: the reservoir separates
    inputs). `generalization_rank`: rank for m streams that differ only in their distant past (low: it
    generalises, forgetting what does not matter). Their difference tracks computational performance."""

    kernel_quality: Int[Array, ""]
    generalization_rank: Int[Array, ""]

    @property
    def difference(self):
        return self.kernel_quality - self.generalization_rank


def numerical_rank(M: Float[Array, "m n"], rtol) -> Int[Array, ""]:
    s = _linalg.singular_values(M)
    return jnp.sum(s > rtol * s[0])


def separation_ranks_impl(reservoir, streams_a, streams_b, key, rtol):
    """Traceable core: `streams_*` are (m, time, in); returns `SeparationRanks`."""

    def final_features(stream):
        state = _scan_steps(reservoir, reservoir.init_state(), stream, key, 0)
        return reservoir.features(state)

    A = jax.vmap(final_features)(streams_a)
    B = jax.vmap(final_features)(streams_b)
    return SeparationRanks(numerical_rank(A, rtol), numerical_rank(B, rtol))


def separation_ranks(
    reservoir: AbstractReservoir,
    *,
    key: PRNGKeyArray,
    n_streams: int | None = None,
    length: int = 100,
    shared_suffix: int = 50,
    rtol: RealLike = 1e-6,
    noise_key: PRNGKeyArray | None = None,
) -> SeparationRanks:
    """Kernel quality and generalisation rank (Legenstein & Maass 2007, "Edge of chaos and prediction of
    computational performance for neural circuit models", Neural Netw. 20:323).

    - Kernel quality: `n_streams` independent i.i.d. uniform [-1, 1] input streams of `length` steps drive the
      reservoir from its initial state; the numerical rank (singular values above `rtol` times the largest) of
      the matrix of final feature vectors.
    - Generalisation rank: the same, for streams whose last `shared_suffix` steps are identical, so that they
      differ only in the distant past.

    `n_streams` defaults to `feature_size` (the largest possible rank).
    """
    check_reservoir(reservoir)
    if reservoir.in_size < 1:
        raise ValueError("separation ranks need an input: the reservoir has in_size=0")
    m = reservoir.feature_size if n_streams is None else check_int("n_streams", n_streams, minimum=2)
    length = check_int("length", length, minimum=2)
    shared_suffix = check_int("shared_suffix", shared_suffix, minimum=1)
    if shared_suffix >= length:
        raise ValueError(f"`shared_suffix` must be < `length`={length}, got {shared_suffix}")
    check_positive("rtol", rtol)
    check_key(reservoir, noise_key, "noise_key")
    ka, kb, ks = jax.random.split(key, 3)
    dtype = ravel_pytree(reservoir.init_state())[0].dtype
    shape = (m, length, reservoir.in_size)
    a = jax.random.uniform(ka, shape, dtype, -1.0, 1.0)
    b = jax.random.uniform(kb, shape, dtype, -1.0, 1.0)
    suffix = jax.random.uniform(ks, (shared_suffix, reservoir.in_size), dtype, -1.0, 1.0)
    b = b.at[:, length - shared_suffix :].set(suffix)
    if reservoir.feedback_size:
        pad = jnp.zeros((m, length, reservoir.feedback_size), dtype)
        a, b = jnp.concatenate([a, pad], -1), jnp.concatenate([b, pad], -1)
    return _sep_jit(reservoir, a, b, noise_key, rtol)


_sep_jit = eqx.filter_jit(separation_ranks_impl)

"""Dense linear algebra that never issues a *batched* LAPACK call.

jaxlib 0.10's CPU LAPACK kernels split a batch of matrices into chunks, schedule the chunks on XLA's intra-op
thread pool and block until they finish (`ParallelBatchMap`). When the executor runs as many independent batched
calls at once as the pool has threads (two, on a 2-core machine), every pool thread blocks waiting for chunks that
no thread is free to run: a deadlock. A sweep is exactly that situation (`vmap` over configurations makes every
factorisation batched, and the readout fit and the memory-capacity fit run side by side).

Every factorisation in this package goes through the functions below. Called on one matrix they are the plain
`jax.numpy.linalg` functions (a batch of one runs inline). Under `vmap` they loop over the batch with `lax.map`,
so each LAPACK call sees a single matrix. On accelerators the loop costs a little parallelism on small
factorisations; the sweeps' cost is dominated by the reservoir scans, not by these.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


def _loop_under_vmap(fun: Callable) -> Callable:
    """`fun` with a `vmap` rule that loops over the batch (`lax.map`), one matrix per call. Arrays only."""
    wrapped = jax.custom_batching.custom_vmap(fun)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, *args):
        batched = [i for i, b in enumerate(in_batched) if b]

        def one(xs):
            full = list(args)
            for i, x in zip(batched, xs, strict=True):
                full[i] = x
            return wrapped(*full)

        out = jax.lax.map(one, tuple(args[i] for i in batched))
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return wrapped


def unbatched(fun: Callable) -> Callable:
    """Wrap a function of arrays so that `vmap` turns it into a loop over the batch instead of a batched call.

    Arguments must be arrays (or scalars); unbatched arguments are closed over, not copied per iteration.
    Nested `vmap`s nest the loops.

    Differentiable in reverse mode (`jax.grad`, `jax.vjp`): a custom VJP whose backward pass is JAX's own VJP of
    `fun`, wrapped the same way, so that a vmapped gradient (a population of tuned configurations) loops over the
    batch too and still issues no batched LAPACK call. Forward mode (`jax.jvp`) is not available through it (a
    `custom_vjp` function has no JVP rule).
    """
    loop = _loop_under_vmap(fun)

    @jax.custom_vjp
    def f(*args):
        return loop(*args)

    def f_fwd(*args):
        return loop(*args), args

    def f_bwd(args, ct):
        ct_leaves, ct_tree = jax.tree_util.tree_flatten(ct)
        n = len(args)

        def pullback(*flat):
            primals, cts = flat[:n], jax.tree_util.tree_unflatten(ct_tree, list(flat[n:]))
            return jax.vjp(fun, *primals)[1](cts)

        return _loop_under_vmap(pullback)(*args, *ct_leaves)

    f.defvjp(f_fwd, f_bwd)
    f.__doc__ = fun.__doc__
    f.__name__ = getattr(fun, "__name__", "unbatched")
    return f


@unbatched
def cholesky(a):
    """Lower Cholesky factor (NaN where `a` is not positive definite)."""
    return jnp.linalg.cholesky(a)


@unbatched
def cho_solve(L, b):
    """Solve `L Lᵀ x = b` given the lower factor `L`."""
    return jax.scipy.linalg.cho_solve((L, True), b)


@unbatched
def eigh(a):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix."""
    return jnp.linalg.eigh(a)


@unbatched
def qr(a):
    """Reduced QR factorisation."""
    return jnp.linalg.qr(a)


@unbatched
def singular_values(a):
    """Singular values, descending."""
    return jnp.linalg.svd(a, compute_uv=False)


# --- Gram blocks --------------------------------------------------------------------------------------------------
# XLA's CPU dot forms XᵀX of a (block × features) block at a fraction of the host BLAS's speed: NumPy's `X.T @ X`
# calls syrk (half the products) and formed the Gram of 9900 × 2000 float64 training states in 0.44 s against XLA's
# 1.10 s on the reference 2-core machine (`benchmarks/bench_speed.py`, one BLAS thread). On CPU, one unbatched block
# of at least `HOST_GRAM_MIN_FEATURES` features therefore goes to NumPy through `jax.pure_callback` (each call costs
# about 0.3 ms, so smaller blocks stay in XLA: float64 fits of 10,000 steps in 2048-step blocks took 0.061 / 0.106 /
# 0.252 s through the host at N = 200 / 300 / 500 against 0.058 / 0.108 / 0.289 s in XLA). A batch (a sweep under
# `vmap`) stays in XLA, where the copies of the batch's blocks in and of its Grams out cost more than the syrk saves
# (`benchmarks/bench_edge.py`), and so does every other backend.

#: The fewest features for which one Gram block goes to the host BLAS on CPU (see above).
HOST_GRAM_MIN_FEATURES = 384


def _moments_xla(X, Y):
    return X.T @ X, X.T @ Y


def _moments_numpy(X, Y):
    X, Y = np.asarray(X), np.asarray(Y)
    return X.T @ X, X.T @ Y


@jax.custom_batching.custom_vmap
def _moments_host(X, Y):
    f, o = X.shape[1], Y.shape[1]
    shapes = (jax.ShapeDtypeStruct((f, f), X.dtype), jax.ShapeDtypeStruct((f, o), X.dtype))
    return jax.pure_callback(_moments_numpy, shapes, X, Y)


@_moments_host.def_vmap
def _moments_host_vmap(axis_size, in_batched, X, Y):
    out = jax.vmap(_moments_xla, in_axes=tuple(0 if b else None for b in in_batched))(X, Y)
    return out, (True, True)


@jax.custom_jvp
def moments(X, Y):
    """`(XᵀX, XᵀY)` of a (k, f) block `X` and its (k, o) targets `Y`: on the host BLAS (NumPy) for one float32 or
    float64 block of at least `HOST_GRAM_MIN_FEATURES` features on CPU, in XLA otherwise (fewer features, a batch
    under `vmap`, another backend, another dtype). Differentiable: the tangents are formed in XLA."""
    if X.dtype not in (jnp.float32, jnp.float64) or Y.dtype != X.dtype or X.shape[1] < HOST_GRAM_MIN_FEATURES:
        return _moments_xla(X, Y)
    return jax.lax.platform_dependent(X, Y, cpu=_moments_host, default=_moments_xla)


@moments.defjvp
def _moments_jvp(primals, tangents):
    X, Y = primals
    dX, dY = tangents
    XdX = X.T @ dX
    return moments(X, Y), (XdX + XdX.T, dX.T @ Y + X.T @ dY)

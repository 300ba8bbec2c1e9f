"""The echo-state network (Jaeger 2001) with a spectral-radius gain knob."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from . import _linalg, _random
from ._checks import RealLike, check_int, check_interval, check_positive, is_traced, real_scalar
from ._reservoir import AbstractReservoir

_ACTIVATIONS: dict[str, Callable] = {"tanh": jnp.tanh, "identity": lambda z: z}


#: Batch size from which `ESN.for_batch` stores an ELL matrix densely (`benchmarks/bench_layout.py`, connectivity
#: 0.1, n = 500-2000: at a batch of 4 the two tie in float64 (0.9-1.2x) and dense is 1.6-3.8x faster in float32; at
#: 16 dense is 1.7-2.9x faster).
DENSE_BATCH = 4
#: Largest dense copy `ESN.for_batch` makes of an ELL matrix (n = 8192 in float64).
DENSE_BATCH_MAX_BYTES = 512 * 2**20


def ell_min_bytes(dtype) -> int:
    """Dense size beyond which a reservoir at connectivity <= 0.1 is stored as ELL by default: 3.5 MiB in float64
    (N > 677), 4 MiB in narrower dtypes (N > 1024 in float32). Sequential `fit` + `predict`, T = 5000 each,
    connectivity 0.1, dense / ELL seconds (`benchmarks/bench_layout.py`, 2-core CPU): float64 N = 650 0.355 / 0.394,
    N = 700 0.530 / 0.385; float32 N = 1000 0.482 / 0.565, N = 1100-1400 within 10 % either way."""
    return int(3.5 * 2**20) if jnp.dtype(dtype).itemsize >= 8 else 4 * 2**20


class EllMatrix(eqx.Module):
    """A sparse square matrix with the same number `k` of non-zeros in every row (ELLPACK layout).

    `W @ x` is a gather of `x` at `indices` and a row sum: `k * n` multiply-adds instead of `n**2`. The gather takes
    whole rows of `x` laid out as `(n, batch)`: XLA's CPU gather of one-element rows runs about twice as fast as its
    gather of scalars (`x[indices]`; a standalone scan of ESN updates at connectivity 0.1, float64, n = 500 / 1000 /
    2000: 24 / 74 / 228 µs per step against 59 / 163 / 504 µs). `benchmarks/bench_layout.py` times it against the
    dense product: one reservoir in float64, 31 / 84 / 193 µs against 24 / 133 / 553 µs. A batch of vectors is a
    matrix-matrix product, where the dense layout wins instead (see `ESN.for_batch`).
    """

    indices: Int[Array, "n k"]
    values: Float[Array, "n k"]
    n: int = eqx.field(static=True)

    def mv(self, x: Float[Array, "*batch n"]) -> Float[Array, "*batch n"]:
        xt = jnp.moveaxis(x, -1, 0)
        rows = xt.reshape(self.n, -1)[self.indices]  # (n, k, batch): one-element rows when unbatched
        y = jnp.einsum("nk,nkm->nm", self.values, rows)
        return jnp.moveaxis(y.reshape(xt.shape), 0, -1)

    def todense(self) -> Float[Array, "n n"]:
        rows = jnp.broadcast_to(jnp.arange(self.n)[:, None], self.indices.shape)
        return jnp.zeros((self.n, self.n), self.values.dtype).at[rows, self.indices].add(self.values)

    @staticmethod
    def fromdense(W) -> "EllMatrix":
        """Pack a dense matrix (concrete) into ELL; rows with fewer non-zeros are padded with explicit zeros."""
        W = np.asarray(W)
        n = W.shape[0]
        nnz = (W != 0).sum(axis=1)
        k = max(int(nnz.max()), 1)
        indices = np.zeros((n, k), np.int32)
        values = np.zeros((n, k), W.dtype)
        for i in range(n):  # construction only, never on a time axis
            cols = np.flatnonzero(W[i])
            indices[i, : cols.size] = cols
            values[i, : cols.size] = W[i, cols]
        return EllMatrix(jnp.asarray(indices), jnp.asarray(values), n)


def matvec(W: Float[Array, "n n"] | EllMatrix, x: Float[Array, "*batch n"]) -> Float[Array, "*batch n"]:
    """`W @ x` for a dense or an ELL matrix; `x` may carry leading batch axes (then one matrix-matrix product)."""
    if isinstance(W, EllMatrix):
        return W.mv(x)
    return x @ W.T


def _host_spectral_radius(w):
    w = np.asarray(w)
    if w.ndim == 3:
        return np.array([np.max(np.abs(np.linalg.eigvals(m.astype(np.float64)))) for m in w], dtype=w.dtype)
    return np.asarray(np.max(np.abs(np.linalg.eigvals(w.astype(np.float64)))), dtype=w.dtype)


@jax.jit
def _spectral_radius(W):
    return jax.pure_callback(
        _host_spectral_radius, jax.ShapeDtypeStruct((), W.dtype), W, vmap_method="expand_dims"
    )


def spectral_radius(W: Float[Array, "n n"]) -> Float[Array, ""]:
    """Largest absolute eigenvalue of a square matrix, computed by LAPACK (`numpy.linalg.eigvals`) on the host.

    A `jax.pure_callback`, so that it works on every backend (JAX's own `eig` is CPU-only) and under `vmap`. The
    callback is one module-level function behind one `jax.jit`, so building many ESNs of the same size compiles it
    once (a fresh closure per call used to compile it again for every `ESN(...)`).

    Outside a trace the result is waited for before returning: a script that built ESNs and exited at once aborted
    or hung in JAX's shutdown (a callback thread still waiting for the interpreter that was finalising; a script
    building four ESNs of N = 760: 6 aborts and 2 hangs in 8 runs before, 8 clean runs after).
    """
    rho = _spectral_radius(jnp.asarray(W))
    return rho if is_traced(rho) else jax.block_until_ready(rho)


def _normalise(W):
    rho = spectral_radius(W)
    return W / jnp.where(rho > 0, rho, 1.0)


class ESN(AbstractReservoir):
    r"""Leaky echo-state network (Jaeger 2001, GMD Report 148; Jaeger et al. 2007, Neural Netw. 20:335).

    $$x(t+1) = (1 - a)\,x(t) + a \tanh\big(g\,W x(t) + s_{in} W_{in} u(t+1) + s_b\,b + s_{fb} W_{fb}\,y(t)\big)$$

    `W` is normalised to spectral radius 1 at construction, so **`gain` g is the spectral radius** of the
    recurrent matrix actually used. For a leak `a < 1` the effective linearised spectral radius is
    `1 - a + a g` (Jaeger et al. 2007).

    **Arguments:**

    - `in_size`: number of external input channels (0 for an autonomous, feedback-driven network).
    - `size`: number of units N.
    - `key`: PRNG key; the same key gives the same weights, bit for bit.
    - `gain`: spectral radius of the recurrent matrix, > 0. Default 0.9.
    - `leak`: leak rate a in (0, 1]; 1 is the classical non-leaky ESN. Default 1.
    - `input_scaling`: scale of the input weights (drawn uniform in [-1, 1]), >= 0. Default 1.
    - `bias_scaling`: scale of the bias (drawn uniform in [-1, 1]), >= 0. Default 0.
    - `connectivity`: fraction of non-zero recurrent weights per row, in (0, 1]. Each row gets exactly
      `max(1, round(connectivity * size))` non-zeros at random columns, Gaussian values. Default 1 (dense).
    - `input_connectivity`: fraction of non-zero input weights, in (0, 1]. Default 1.
    - `feedback_size`: number of fed-back output channels (0: no feedback). When > 0 the reservoir's `step`
      expects `u` of length `in_size + feedback_size`; `fit` feeds back the previous target (teacher forcing) and
      `predict`/`forecast` the model's own previous output.
    - `feedback_scaling`: scale of the feedback weights (uniform in [-1, 1]). Default 1.
    - `feature_map`: what the readout sees. `"linear"`: x. `"pathak"`: x with every second unit squared, the
      symmetry-breaking trick of Pathak et al. 2017 (Chaos 27:121102) and Lu et al. 2017 (Chaos 27:041102), which
      helps on Lorenz. `"quadratic"`: [x, x**2]. Default `"linear"`.
    - `activation`: `"tanh"` or `"identity"` (a linear reservoir, for memory-capacity studies).
    - `topology`: `"normal"` (Gaussian weights, default) or `"orthogonal"`: a Haar-random orthogonal matrix, all
      of whose eigenvalues lie on the unit circle; orthogonal networks have near-optimal short-term memory
      (White, Lee & Sompolinsky 2004, PRL 92:148102). `"orthogonal"` requires `connectivity = 1`.
    - `sparse`: store `W` as an ELL sparse matrix (True), dense (False) or decide (None: ELL when
      `connectivity <= 0.1` and the dense matrix would exceed 3.5 MiB in float64 (N > 677) or 4 MiB in float32
      (N > 1024), see `ell_min_bytes`, or `connectivity <= 0.2` and it would exceed 10 MiB, where ELL measured
      faster than dense on a 2-core CPU (`benchmarks/bench_layout.py`: one step, connectivity 0.1, float64:
      N = 500 31 vs 24 µs, N = 1000 84 vs 133 µs; float32: N = 1000 45 vs 42 µs, N = 2000 199 vs 293 µs; and
      `fit` + `predict` around the crossover). Batched drives (sweeps, parallel-in-time segments) store it densely
      for the batch: `for_batch`.
    - `dtype`: floating dtype of weights and state; default JAX's default float (float32, or float64 under
      `jax_enable_x64`). The weights are drawn in this dtype, so the same key gives a *different* network in
      float32 and in float64; to compare precisions on one network, cast the leaves of one ESN
      (`eqx.tree_at(lambda e: (e.W, e.W_in, e.bias), esn, ...)`), as `benchmarks/bench_float32.py` does.

    Example:
        >>> esn = ESN(1, 500, gain=1.1, leak=0.3, key=jax.random.key(0))
        >>> esn.feature_size
        500
    """

    W: Float[Array, "size size"] | EllMatrix
    W_in: Float[Array, "size in_size"]
    W_fb: Float[Array, "size feedback_size"]
    bias: Float[Array, " size"]
    gain: Float[Array, ""]
    leak: Float[Array, ""]
    input_scaling: Float[Array, ""]
    bias_scaling: Float[Array, ""]
    feedback_scaling: Float[Array, ""]
    size: int = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    fb_size: int = eqx.field(static=True)
    feature_map: str = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        size: int,
        *,
        key: PRNGKeyArray,
        gain: RealLike = 0.9,
        leak: RealLike = 1.0,
        input_scaling: RealLike = 1.0,
        bias_scaling: RealLike = 0.0,
        connectivity: RealLike = 1.0,
        input_connectivity: RealLike = 1.0,
        feedback_size: int = 0,
        feedback_scaling: RealLike = 1.0,
        feature_map: str = "linear",
        activation: str = "tanh",
        topology: str = "normal",
        sparse: bool | None = None,
        dtype=None,
    ):
        """Draw the weights (the arguments are described in the class docstring); every hyperparameter is
        checked here, and a bad one raises a `ValueError` that names it and its allowed range.

        Example:
            >>> import jax, jax.numpy as jnp, reservoirs as rc
            >>> esn = rc.ESN(1, 200, gain=0.95, leak=0.3, key=jax.random.key(0))
            >>> state, features = rc.run(esn, jnp.sin(jnp.arange(100.0) / 5))
            >>> features.shape
            (100, 200)
        """
        in_size = check_int("in_size", in_size, minimum=0)
        _check_choice("topology", topology, ("normal", "orthogonal"))
        if topology == "orthogonal" and connectivity != 1.0:
            raise ValueError(f"`connectivity` must be 1 for an orthogonal topology, got {connectivity}")
        size = check_int("size", size, minimum=1)
        feedback_size = check_int("feedback_size", feedback_size, minimum=0)
        check_interval("connectivity", connectivity, 0.0, 1.0, low_open=True, high_open=False)
        check_interval("input_connectivity", input_connectivity, 0.0, 1.0, low_open=True, high_open=False)
        if in_size + feedback_size == 0:
            raise ValueError("`in_size` + `feedback_size` must be >= 1: a reservoir needs an input or a feedback")
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dtype}")
        k_w, k_c, k_in, k_mask, k_b, k_fb = jax.random.split(key, 6)

        k = max(1, int(round(connectivity * size)))
        if topology == "orthogonal":
            Q, R = _linalg.qr(_random.normal(k_w, (size, size), dtype))
            W = Q * jnp.sign(jnp.diagonal(R))[None, :]  # Haar measure (Mezzadri 2007)
            ell = None
        elif k == size:
            W = _random.normal(k_w, (size, size), dtype)
            ell = None
        else:
            cols = jnp.argsort(_random.uniform(k_c, (size, size)), axis=1)[:, :k].astype(jnp.int32)
            ell = EllMatrix(cols, _random.normal(k_w, (size, k), dtype), size)
            W = ell.todense()
        rho = spectral_radius(W)
        rho = jnp.where(rho > 0, rho, 1.0)
        if sparse is None:  # ELL where fit + predict measured faster (benchmarks/bench_layout.py)
            dense_bytes = size * size * jnp.dtype(dtype).itemsize
            sparse = ell is not None and ((connectivity <= 0.1 and dense_bytes > ell_min_bytes(dtype))
                                          or (connectivity <= 0.2 and dense_bytes > 10 * 2**20))
        if sparse:
            ell = ell if ell is not None else EllMatrix.fromdense(W)
            self.W = EllMatrix(ell.indices, ell.values / rho, size)
        else:
            self.W = W / rho

        W_in = _random.uniform(k_in, (size, in_size), dtype, -1.0, 1.0)
        if input_connectivity < 1.0:
            W_in = W_in * (_random.uniform(k_mask, (size, in_size)) < input_connectivity)
        self.W_in = W_in
        self.bias = _random.uniform(k_b, (size,), dtype, -1.0, 1.0)
        self.W_fb = _random.uniform(k_fb, (size, feedback_size), dtype, -1.0, 1.0)
        for name, value in _scalars(dtype, gain, leak, input_scaling, bias_scaling, feedback_scaling).items():
            setattr(self, name, value)
        self.size = size
        self.in_size = in_size
        self.fb_size = feedback_size
        self.feature_map = _check_choice("feature_map", feature_map, ("linear", "pathak", "quadratic"))
        self.activation = _check_choice("activation", activation, tuple(_ACTIVATIONS))

    @classmethod
    def from_weights(
        cls,
        W,
        W_in,
        bias=None,
        W_fb=None,
        *,
        gain: RealLike = 1.0,
        leak: RealLike = 1.0,
        input_scaling: RealLike = 1.0,
        bias_scaling: RealLike = 1.0,
        feedback_scaling: RealLike = 1.0,
        normalise: bool = True,
        feature_map: str = "linear",
        activation: str = "tanh",
        sparse: bool = False,
        dtype=None,
    ) -> "ESN":
        """Build an ESN from given weight arrays (e.g. to reproduce another library's network exactly).

        With `normalise=True`, `W` is rescaled to spectral radius 1 so that `gain` is the spectral radius; with
        `normalise=False`, `W` is used as given and `gain` multiplies it. `bias` defaults to zeros and `W_fb` to no
        feedback.
        """
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        W = jnp.asarray(W, dtype)
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise ValueError(f"`W` must be a square matrix, got shape {W.shape}")
        size = W.shape[0]
        W_in = jnp.asarray(W_in, dtype)
        if W_in.ndim != 2 or W_in.shape[0] != size:
            raise ValueError(f"`W_in` must have shape ({size}, in_size), got {W_in.shape}")
        bias = jnp.zeros(size, dtype) if bias is None else jnp.asarray(bias, dtype).reshape(-1)
        if bias.shape != (size,):
            raise ValueError(f"`bias` must have shape ({size},), got {bias.shape}")
        W_fb = jnp.zeros((size, 0), dtype) if W_fb is None else jnp.asarray(W_fb, dtype)
        if W_fb.ndim != 2 or W_fb.shape[0] != size:
            raise ValueError(f"`W_fb` must have shape ({size}, feedback_size), got {W_fb.shape}")
        if W_in.shape[1] + W_fb.shape[1] == 0:
            raise ValueError("`W_in` and `W_fb` cannot both have zero columns")
        if normalise:
            W = _normalise(W)
        fields = dict(
            W=EllMatrix.fromdense(W) if sparse else W,
            W_in=W_in,
            W_fb=W_fb,
            bias=bias,
            **_scalars(dtype, gain, leak, input_scaling, bias_scaling, feedback_scaling),
            size=size,
            in_size=int(W_in.shape[1]),
            fb_size=int(W_fb.shape[1]),
            feature_map=_check_choice("feature_map", feature_map, ("linear", "pathak", "quadratic")),
            activation=_check_choice("activation", activation, tuple(_ACTIVATIONS)),
        )
        # Bypass __init__ (which draws random weights): a frozen dataclass is filled with object.__setattr__.
        self = object.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        return self

    @property
    def feedback_size(self) -> int:
        return self.fb_size

    @property
    def feature_size(self) -> int:
        return 2 * self.size if self.feature_map == "quadratic" else self.size

    def init_state(self) -> Float[Array, " size"]:
        return jnp.zeros(self.size, self.bias.dtype)

    def for_batch(self, batch) -> "ESN":  # batch checked below (a ValueError naming it)
        """An ELL-stored `W` becomes dense for a batch of `DENSE_BATCH` or more copies (sweeps, parallel-in-time
        segments), where one matrix-matrix product beats a batched gather (`benchmarks/bench_layout.py`; float64,
        connectivity 0.1, µs per batched step, dense / ELL, n = 1000: 249 / 310 at a batch of 4, 492 / 1045 at 16,
        1096 / 4390 at 64; a 64-gain sweep at n = 1000 took 16.6 s instead of 30.8 s). Kept sparse when the dense
        matrix would exceed `DENSE_BATCH_MAX_BYTES`."""
        batch = check_int("batch", batch, minimum=1)
        if not isinstance(self.W, EllMatrix) or batch < DENSE_BATCH:
            return self
        if self.W.n**2 * jnp.dtype(self.W.values.dtype).itemsize > DENSE_BATCH_MAX_BYTES:
            return self
        return eqx.tree_at(lambda r: r.W, self, self.W.todense())

    def preactivation(self, x: Float[Array, " size"], u: Float[Array, " inputs"]) -> Float[Array, " size"]:
        """The argument of the nonlinearity; split out so that diagnostics can reuse it."""
        u = u.astype(x.dtype)
        z = self.gain * matvec(self.W, x) + self.bias_scaling * self.bias
        if self.in_size:
            z = z + self.input_scaling * (self.W_in @ u[: self.in_size])
        if self.fb_size:
            z = z + self.feedback_scaling * (self.W_fb @ u[self.in_size :])
        return z

    def step(self, state: Float[Array, " size"], u: Float[Array, " inputs"], *, key=None) -> Float[Array, " size"]:
        act = _ACTIVATIONS[self.activation]
        return (1 - self.leak) * state + self.leak * act(self.preactivation(state, u))

    def features(self, state: Float[Array, " size"]) -> Float[Array, " features"]:
        if self.feature_map == "pathak":
            return state.at[1::2].set(state[1::2] ** 2)
        if self.feature_map == "quadratic":
            return jnp.concatenate([state, state**2])
        return state

    def check_leaf(self, name: str, value) -> None:
        """Reject a value of the scalar leaf `name` that the constructor would reject (used by `sweep`, which
        replaces leaves without calling `__init__`): `gain` > 0, `leak` in (0, 1], scalings >= 0."""
        if name in _SCALAR_RULES:
            _check_scalar(name, value)


#: The constraint on each scalar hyperparameter leaf, shared by the constructors and `ESN.check_leaf` (a sweep).
_SCALAR_RULES: dict[str, tuple[Callable, dict]] = {
    "gain": (check_positive, {}),
    "leak": (check_interval, {"low": 0.0, "high": 1.0, "low_open": True, "high_open": False}),
    "input_scaling": (check_positive, {"allow_zero": True}),
    "bias_scaling": (check_positive, {"allow_zero": True}),
    "feedback_scaling": (check_positive, {"allow_zero": True}),
}


def _check_scalar(name: str, value) -> None:
    if value is None:
        raise ValueError(f"`{name}` must be a real number, got None")
    fn, kwargs = _SCALAR_RULES[name]
    fn(name, value, **kwargs)


def _scalars(dtype, gain, leak, input_scaling, bias_scaling, feedback_scaling) -> dict:
    values = dict(gain=gain, leak=leak, input_scaling=input_scaling, bias_scaling=bias_scaling,
                  feedback_scaling=feedback_scaling)
    for name, value in values.items():
        _check_scalar(name, value)
    # `real_scalar` also rejects a value that overflows the dtype (1e39 in float32 is inf: NaN weights).
    return {name: real_scalar(name, value, dtype) for name, value in values.items()}


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}")
    return value

"""Ridge-regression readouts fitted from streaming, centred Gram statistics.

Ridge regression needs only the Gram matrices XᵀX and XᵀY, so `fit` accumulates them inside the scan over chunks of
K time steps (one K×F block, then one BLAS-3 product) and never stores the T×F feature matrix. The statistics are
kept *centred* and merged chunk by chunk with the pairwise update of Chan, Golub & LeVeque (1979, "Updating formulae
and a pairwise algorithm for computing sample variances"), which keeps float32 accurate on long series and lets the
intercept stay unpenalised: the ridge is applied to the centred Gram, and the bias is recovered from the means.
"""

from __future__ import annotations

import abc
import dataclasses
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from . import _linalg
from ._lstsq import QRStats, masked_block
from ._checks import RealLike, check_int, check_interval, check_positive, is_traced


class AlphaGridEdgeWarning(UserWarning):
    """`RidgeCV` chose the smallest or the largest ridge parameter of its grid: the validation optimum may lie
    outside the grid, so the chosen alpha is only the best *of the grid*. Widen the grid on that side."""


class GramStats(eqx.Module):
    """Sufficient statistics of a linear regression Y ≈ X W + b over `count` samples.

    `cxx = Σ (x - x̄)(x - x̄)ᵀ`, `cxy = Σ (x - x̄)(y - ȳ)ᵀ`, `cyy = Σ (y - ȳ)(y - ȳ)ᵀ`.
    """

    count: Float[Array, ""]
    mean_x: Float[Array, " features"]
    mean_y: Float[Array, " outputs"]
    cxx: Float[Array, "features features"]
    cxy: Float[Array, "features outputs"]
    cyy: Float[Array, "outputs outputs"]

    @staticmethod
    def empty(n_features: int, n_outputs: int, dtype) -> "GramStats":
        z = jnp.zeros
        return GramStats(
            z((), dtype),
            z(n_features, dtype),
            z(n_outputs, dtype),
            z((n_features, n_features), dtype),
            z((n_features, n_outputs), dtype),
            z((n_outputs, n_outputs), dtype),
        )

    @staticmethod
    def from_block(X: Float[Array, "k features"], Y: Float[Array, "k outputs"], w=None) -> "GramStats":
        """The statistics of the rows of (X, Y); with a boolean `w` (k,), of the rows where `w` is True only (the
        others may hold anything, even NaN: `fit` pads its last block and skips its washout this way)."""
        if w is None:
            mx = jnp.mean(X, axis=0)
            my = jnp.mean(Y, axis=0)
            Xc = X - mx
            Yc = Y - my
            return GramStats(jnp.asarray(X.shape[0], X.dtype), mx, my, *_linalg.moments(Xc, Yc), Yc.T @ Yc)
        X, Y, count, mx, my = masked_block(X, Y, w)
        Xc = jnp.where(w[:, None], X - mx, 0)
        Yc = jnp.where(w[:, None], Y - my, 0)
        return GramStats(count, mx, my, *_linalg.moments(Xc, Yc), Yc.T @ Yc)

    def merge(self, other: "GramStats") -> "GramStats":
        n = self.count + other.count
        wb = jnp.where(n > 0, other.count / jnp.where(n > 0, n, 1), 0.0)
        dx = other.mean_x - self.mean_x
        dy = other.mean_y - self.mean_y
        c = self.count * wb  # = n_a n_b / n
        return GramStats(
            n,
            self.mean_x + wb * dx,
            self.mean_y + wb * dy,
            self.cxx + other.cxx + c * jnp.outer(dx, dx),
            self.cxy + other.cxy + c * jnp.outer(dx, dy),
            self.cyy + other.cyy + c * jnp.outer(dy, dy),
        )

    def add_block(self, X: Float[Array, "k features"], Y: Float[Array, "k outputs"], w=None) -> "GramStats":
        """These statistics with a (k, F) block of features and its (k, O) targets added (only the rows where the
        boolean `w` is True, if given)."""
        return self.merge(GramStats.from_block(X.astype(self.cxx.dtype), Y.astype(self.cxx.dtype), w))

    def target_var(self) -> Float[Array, " outputs"]:
        """Per-output variance of the targets (population, divided by `count`)."""
        return jnp.diag(self.cyy) / jnp.where(self.count > 0, self.count, 1)

    def all_finite(self) -> Array:
        return jnp.all(jnp.isfinite(self.cxx)) & jnp.all(jnp.isfinite(self.cxy))

    def ridge_solution(self, alpha, fit_intercept: bool = True) -> tuple[Array, Array]:
        """`(W, b)` of the ridge regression (W: features × outputs) from the normal equations."""
        s = self if fit_intercept else self.uncentred()
        W = solve_ridge(s.cxx, s.cxy, jnp.asarray(alpha, s.cxx.dtype))
        return W, s.mean_y - s.mean_x @ W

    def path_errors(self, val: "GramStats", alphas, fit_intercept: bool = True) -> tuple[Array, Array]:
        """Validation SSE on `val` for every alpha, and `val`'s total sum of squares (see `_path_errors`)."""
        return _path_errors(self if fit_intercept else self.uncentred(), val, alphas)

    def uncentred(self) -> "GramStats":
        """Raw moments XᵀX, XᵀY, YᵀY (zero means): for a regression without intercept."""
        n = self.count
        return GramStats(
            n,
            jnp.zeros_like(self.mean_x),
            jnp.zeros_like(self.mean_y),
            self.cxx + n * jnp.outer(self.mean_x, self.mean_x),
            self.cxy + n * jnp.outer(self.mean_x, self.mean_y),
            self.cyy + n * jnp.outer(self.mean_y, self.mean_y),
        )


#: Solvers of the ridge readouts: "gram" (normal equations, Cholesky), "qr" (streaming QR, `reservoirs._lstsq`),
#: "auto" (QR where the statistics are float32 or narrower, the normal equations in float64).
SOLVERS = ("auto", "gram", "qr")


def stats_type(solver: str, dtype) -> type:
    """The statistics class `fit` accumulates for `solver` when the statistics have dtype `dtype`."""
    if solver == "gram":
        return GramStats
    if solver == "qr":
        return QRStats
    return QRStats if jnp.finfo(dtype).bits <= 32 else GramStats


def _check_solver(solver) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"`solver` must be one of {SOLVERS}, got {solver!r}")
    return solver


def merge_all(stats: list[GramStats | QRStats]) -> GramStats | QRStats:
    out = stats[0]
    for s in stats[1:]:
        out = out.merge(s)
    return out


def _cholesky_solve(cxx, cxy, alpha):
    """`(cxx + alpha I)⁻¹ cxy` by Cholesky (NaN if the shifted Gram is not positive definite)."""
    n = cxx.shape[-1]
    L = _linalg.cholesky(cxx + jnp.asarray(alpha, cxx.dtype) * jnp.eye(n, dtype=cxx.dtype))
    return _linalg.cho_solve(L, cxy)


def _pinv_solve(cxx, cxy, alpha):
    """The same by an eigendecomposition, dropping eigenvalues below rounding: the pseudo-inverse solution."""
    lam, Q = _linalg.eigh(cxx)
    lam = lam + jnp.asarray(alpha, cxx.dtype)
    tol = jnp.finfo(cxx.dtype).eps * cxx.shape[-1] * jnp.max(jnp.abs(lam))
    inv = jnp.where(lam > tol, 1.0 / jnp.where(lam > tol, lam, 1.0), 0.0)
    return Q @ (inv[:, None] * (Q.T @ cxy))


@_linalg.unbatched
def solve_ridge(cxx: Float[Array, "f f"], cxy: Float[Array, "f o"], alpha) -> Float[Array, "f o"]:
    """`(cxx + alpha I)⁻¹ cxy` by Cholesky; falls back to an eigendecomposition if the factorisation fails
    (alpha = 0 on a rank-deficient Gram), where the pseudo-inverse is used.

    Under `vmap` (a sweep) this is a loop over the systems (see `reservoirs._linalg`), so the `lax.cond` stays a
    real branch: the eigendecomposition runs only for a system whose Cholesky factorisation failed.
    """
    W = _cholesky_solve(cxx, cxy, alpha)
    return jax.lax.cond(jnp.all(jnp.isfinite(W)), lambda: W, lambda: _pinv_solve(cxx, cxy, alpha))


class AbstractReadout(eqx.Module):
    """A readout learned from `GramStats`.

    - `segments(length)`: how to cut the `length` training samples into consecutive segments, each of which gets
      its own statistics (one segment for a plain fit; train and validation for a holdout; k folds).
    - `fit_stats(stats)`: returns the *fitted* readout (a new module; nothing is mutated).
    - `__call__(z)`: the output for one feature vector.
    """

    input_passthrough: eqx.AbstractVar[bool]

    @abc.abstractmethod
    def segments(self, length: int) -> tuple[int, ...]:
        raise NotImplementedError

    def stats_type(self, dtype) -> type:
        """The statistics `fit` accumulates for this readout (`GramStats` or `QRStats`), per its `solver`."""
        return stats_type(getattr(self, "solver", "auto"), dtype)

    @abc.abstractmethod
    def fit_stats(self, stats: list[GramStats]) -> "AbstractReadout":
        raise NotImplementedError

    @abc.abstractmethod
    def __call__(self, z: Float[Array, " features"]) -> Float[Array, " outputs"]:
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def out_size(self) -> int:
        raise NotImplementedError


class RidgePath(eqx.Module):
    """The validation curve of a ridge path: normalised MSE (MSE / target variance) per alpha."""

    alphas: Float[Array, " n_alphas"]
    errors: Float[Array, " n_alphas"]


class Ridge(AbstractReadout):
    r"""Ridge (Tikhonov) regression readout: y = W z + b.

    $$W = \arg\min_W \sum_t \lVert y_t - W z_t - b\rVert^2 + \alpha \lVert W\rVert_F^2$$

    The intercept `b` is not penalised (it is fitted on the centred Gram). `alpha` multiplies the identity added to
    the *summed* Gram (not the per-sample mean), as in ReservoirPy and Lukoševičius 2012 ("A practical guide to
    applying echo state networks"), so values are comparable across libraries.

    **Arguments:**

    - `alpha`: ridge parameter, >= 0. Default 1e-6.
    - `input_passthrough`: also feed the external input u(t) to the readout (z = [features, u]). Default False.
    - `fit_intercept`: fit the unpenalised bias b. Default True.

    After `fit`, `weights` (outputs × features) and `bias` are set; `path` holds the validation curve when the
    readout came from `RidgeCV`.

    - `solver`: how the least-squares problem is accumulated and solved. `"gram"`: centred Gram statistics and a
      Cholesky solve (the normal equations; cheapest). `"qr"`: a streaming QR factor of the feature matrix
      (`reservoirs._lstsq.QRStats`), which does not square the condition number. `"auto"` (default): QR where
      the statistics are float32 (JAX's default, x64 off), the Gram in float64.

    Precision: the normal equations square the condition number of the feature matrix, so `fit` accumulates its
    statistics in at least JAX's default float: with x64 enabled, a float32 reservoir gets float64 statistics and
    float64 readout weights. With x64 disabled everything is float32; there a Gram solve resolves only ~1e-7
    times the largest Gram eigenvalue (an implicit ridge that cost one-step Mackey-Glass, N = 300, a factor of
    about 200 in NRMSE), which is why `"auto"` switches to the QR factor: it resolves ~1e-7 of the largest
    singular value instead (benchmarks/bench_float32.py measures both against float64).
    """

    alpha: Float[Array, ""]
    weights: Float[Array, "outputs features"] | None
    bias: Float[Array, " outputs"] | None
    path: RidgePath | None
    input_passthrough: bool = eqx.field(static=True)
    fit_intercept: bool = eqx.field(static=True)
    solver: str = eqx.field(static=True, default="auto")

    def __init__(
        self,
        alpha: RealLike = 1e-6,
        *,
        input_passthrough: bool = False,
        fit_intercept: bool = True,
        solver: str = "auto",
        weights=None,
        bias=None,
        path: RidgePath | None = None,
    ):
        check_positive("alpha", alpha, allow_zero=True)
        self.alpha = jnp.asarray(alpha, dtype=jnp.result_type(float))
        self.weights = weights
        self.bias = bias
        self.path = path
        self.input_passthrough = bool(input_passthrough)
        self.fit_intercept = bool(fit_intercept)
        self.solver = _check_solver(solver)

    @property
    def fitted(self) -> bool:
        return self.weights is not None

    @property
    def out_size(self) -> int:
        if self.weights is None:
            raise ValueError("this Ridge readout is not fitted yet: call `reservoirs.fit` first")
        return self.weights.shape[0]

    def segments(self, length: int) -> tuple[int, ...]:
        return (length,)

    def fit_stats(self, stats: list[GramStats | QRStats]) -> "Ridge":
        s = merge_all(stats)
        alpha = self.alpha.astype(s.mean_y.dtype)
        W, b = s.ridge_solution(alpha, self.fit_intercept)
        return Ridge(
            alpha,
            input_passthrough=self.input_passthrough,
            fit_intercept=self.fit_intercept,
            solver=self.solver,
            weights=W.T,
            bias=b,
            path=self.path,
        )

    def __call__(self, z: Float[Array, " features"]) -> Float[Array, " outputs"]:
        if self.weights is None:
            raise ValueError("this Ridge readout is not fitted yet: call `reservoirs.fit` first")
        return self.weights @ z.astype(self.weights.dtype) + self.bias


def _path_errors(train: GramStats, val: GramStats, alphas) -> tuple[Array, Array]:
    """Validation sum of squared errors for every alpha, from one eigendecomposition of the training Gram."""
    lam, Q = _linalg.eigh(train.cxx)
    P = Q.T @ train.cxy  # (f, o)

    def sse(alpha):
        W = Q @ (P / (lam + alpha)[:, None])
        b = train.mean_y - train.mean_x @ W
        resid_mean = val.mean_y - b - val.mean_x @ W
        e = (
            jnp.trace(val.cyy)
            - 2 * jnp.sum(W * val.cxy)
            + jnp.sum(W * (val.cxx @ W))
            + val.count * jnp.sum(resid_mean**2)
        )
        return jnp.maximum(e, 0.0)

    return jax.vmap(sse)(alphas), jnp.trace(val.cyy)


class RidgeCV(AbstractReadout):
    """Ridge readout whose `alpha` is chosen on a ridge *path* by holdout or k-fold validation.

    For each training split the Gram is eigendecomposed once (Q Λ Qᵀ) and every alpha costs only
    `Q (Λ + α)⁻¹ Qᵀ XᵀY`; the validation error is computed from the validation split's Gram statistics, so no
    state matrix is ever stored. The folds are consecutive blocks of time (no shuffling: a time series). After the
    choice, the readout is refitted on all the training samples.

    **Arguments:**

    - `alphas`: candidate ridge parameters (all >= 0). Default 20 values log-spaced from 1e-14 to 1e1.
    - `folds`: 1 for a holdout (the last `holdout` fraction of the samples validates), or k >= 2 for k-fold.
    - `holdout`: validation fraction for `folds=1`, in (0, 1). Default 0.2.
    - `input_passthrough`, `fit_intercept`, `solver`: as in `Ridge` (with `"qr"`, each split keeps a QR factor
      and the path comes from one SVD of the training factor).
    - `warn_at_edge`: warn (`AlphaGridEdgeWarning`) when the chosen alpha is the smallest (other than 0) or the
      largest of the grid, where the true optimum may lie outside it. Default True. Inside `jit` the warning comes
      from a `jax.debug.callback` after each fit; `sweep` turns it off per configuration and warns once, with a
      count, instead.

    The fitted result is a `Ridge` whose `path` holds the alphas and their normalised validation MSE.
    """

    alphas: Float[Array, " n_alphas"]
    folds: int = eqx.field(static=True)
    holdout: float = eqx.field(static=True)
    input_passthrough: bool = eqx.field(static=True)
    fit_intercept: bool = eqx.field(static=True)
    warn_at_edge: bool = eqx.field(static=True)
    solver: str = eqx.field(static=True, default="auto")

    def __init__(
        self,
        alphas=None,
        *,
        folds: int = 1,
        holdout: float = 0.2,
        input_passthrough: bool = False,
        fit_intercept: bool = True,
        warn_at_edge: bool = True,
        solver: str = "auto",
    ):
        if alphas is None:
            alphas = jnp.logspace(-14, 1, 20)
        alphas = jnp.asarray(alphas, dtype=jnp.result_type(float))
        if alphas.ndim != 1 or alphas.shape[0] < 1:
            raise ValueError(f"`alphas` must be a non-empty 1-D array, got shape {alphas.shape}")
        if not bool(jnp.all(jnp.isfinite(alphas) & (alphas >= 0))):
            raise ValueError("`alphas` must all be finite and >= 0")
        self.alphas = alphas
        self.folds = check_int("folds", folds, minimum=1)
        check_interval("holdout", holdout, 0.0, 1.0, low_open=True, high_open=True)
        self.holdout = float(holdout)
        self.input_passthrough = bool(input_passthrough)
        self.fit_intercept = bool(fit_intercept)
        self.warn_at_edge = bool(warn_at_edge)
        self.solver = _check_solver(solver)

    def quiet(self) -> "RidgeCV":
        """The same strategy with `warn_at_edge=False` (for sweeps, which report the edge once, with a count)."""
        return dataclasses.replace(self, warn_at_edge=False)

    @property
    def out_size(self) -> int:
        raise ValueError("a RidgeCV is a fitting strategy: the fitted readout is a `Ridge`")

    def segments(self, length: int) -> tuple[int, ...]:
        if self.folds == 1:
            n_val = int(round(self.holdout * length))
            if n_val < 1 or length - n_val < 1:
                raise ValueError(f"`holdout`={self.holdout} leaves an empty split of {length} training samples")
            return (length - n_val, n_val)
        if length < self.folds:
            raise ValueError(f"`folds`={self.folds} exceeds the {length} training samples")
        size = length // self.folds
        return (size,) * (self.folds - 1) + (length - size * (self.folds - 1),)

    def fit_stats(self, stats: list[GramStats | QRStats]) -> Ridge:
        alphas = self.alphas.astype(stats[0].mean_y.dtype)
        if self.folds == 1:
            sse, tot = stats[0].path_errors(stats[1], alphas, self.fit_intercept)
        else:
            sse = jnp.zeros_like(alphas)
            tot = 0.0
            for k in range(self.folds):
                train = merge_all([s for j, s in enumerate(stats) if j != k])
                e, t = train.path_errors(stats[k], alphas, self.fit_intercept)
                sse, tot = sse + e, tot + t
        errors = sse / jnp.where(tot > 0, tot, 1.0)
        i_best = jnp.argmin(errors)
        best = alphas[i_best]
        if self.warn_at_edge:
            if is_traced(errors):
                jax.debug.callback(_warn_alpha_edge, i_best, alphas, errors)
            else:
                _warn_alpha_edge(i_best, alphas, errors)
        ridge = Ridge(0.0, input_passthrough=self.input_passthrough, fit_intercept=self.fit_intercept,
                      solver=self.solver)
        ridge = eqx.tree_at(
            lambda r: (r.alpha, r.path), ridge, (best, RidgePath(alphas, errors)), is_leaf=lambda x: x is None
        )
        return ridge.fit_stats(stats)

    def __call__(self, z):
        raise ValueError("a RidgeCV is a fitting strategy: pass it to `reservoirs.fit`, which returns a fitted Ridge")


def alpha_edge(index, alphas, errors=None) -> str | None:
    """`"smallest"` or `"largest"` if `alphas[index]` is at that edge of the grid, else None (concrete values).

    A grid of one value has no edge; the smallest edge does not count when it is 0 (no smaller ridge exists), nor
    does a choice whose validation error is not finite.
    """
    a = np.asarray(alphas, dtype=np.float64).reshape(-1)
    i = int(index)
    if a.size < 2 or np.ptp(a) == 0:
        return None
    if errors is not None and not np.isfinite(np.asarray(errors).reshape(-1)[i]):
        return None
    if a[i] == a.max():
        return "largest"
    if a[i] == a.min() and a[i] > 0:
        return "smallest"
    return None


def alpha_edge_advice(edge: str, alphas) -> str:
    """The sentence that says which edge and suggests a wider grid (three more decades on that side)."""
    a = np.asarray(alphas, dtype=np.float64).reshape(-1)
    lo = a[a > 0].min() if np.any(a > 0) else 1e-14
    lo_exp, hi_exp = np.log10(lo), np.log10(a.max())
    if edge == "largest":
        hi_exp += 3
        side = "above"
    else:
        lo_exp -= 3
        side = "below"
    n = a.size + 6
    return (
        f"RidgeCV chose the {edge} alpha of its grid ({a.min() if edge == 'smallest' else a.max():.3g}): the "
        f"validation optimum may lie {side} the grid; widen it, e.g. "
        f"RidgeCV(jnp.logspace({lo_exp:.3g}, {hi_exp:.3g}, {n}))"
    )


def _warn_alpha_edge(index, alphas, errors) -> None:
    edge = alpha_edge(index, alphas, errors)
    if edge is not None:
        warnings.warn(alpha_edge_advice(edge, alphas), AlphaGridEdgeWarning, stacklevel=3)

"""Streaming least squares by QR: ridge regression that does not square the condition number.

The Gram statistics of `_ridge.GramStats` are the cheapest sufficient statistics of a linear regression, but the
normal equations square the condition number of the feature matrix: in float32 (JAX's default, x64 off) a Gram
solve resolves singular values only down to about 3e-4 of the largest, and reservoir features are that
ill-conditioned. `QRStats` keeps instead the triangular factor R of the (shifted) design matrix `Z = [1, X, Y]`,
updated chunk by chunk as `R ← qr([R; Z_chunk]).R` (the tall-skinny / streaming QR of Demmel, Grigori, Hoemmen &
Langou 2012, "Communication-optimal parallel and sequential QR and LU factorizations", SIAM J. Sci. Comput.
34:A206; see also Golub & Van Loan, "Matrix Computations", 4th ed., §5.3 for the least-squares use of R). Memory
stays (1 + features + outputs)² whatever the length of the series, and the solve works on R, whose condition
number is that of X, not its square.

Why the augmented matrix: with the ones column first, the trailing block `R[1:, 1:]` is the R factor of the
*centred* [X, Y] (the first Householder reflection removes the means), so the unpenalised intercept needs no Gram;
with the targets as the last columns, `R[1:1+F, 1+F:]` is Qᵀy and `R[1+F:, 1+F:]` holds the residual of the
unregularised fit. The ridge solution for any alpha comes from `R_xx` and `Qᵀy` alone:

    W(α) = argmin ‖R_xx W − Qᵀy‖² + α‖W‖²,

solved by a second QR of `[R_xx; √α I]` (or, for a whole ridge path, one SVD of `R_xx`). The validation error of
any (W, b) on a validation split is `‖R_val [−b'; −W; I]‖²` exactly, from that split's own R.

Each chunk is shifted by the running reference (the first chunk's mean) before it enters the factor, so large
offsets do not cost float32 digits; factors with different shifts are merged exactly by a unit upper-triangular
change of basis.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from . import _linalg


def _r_factor(a):
    """The upper-triangular R of `a` (rows >= columns), sign as LAPACK returns it."""
    return jnp.linalg.qr(a, mode="r")


_r_factor_unbatched = _linalg.unbatched(_r_factor)


def masked_block(X, Y, w):
    """`(X, Y, count, mean_x, mean_y)` of the rows where the boolean `w` (k,) is True: the other rows zeroed (they
    may hold anything, even NaN), the count and means of the kept rows (zero where none is kept)."""
    X = jnp.where(w[:, None], X, 0)
    Y = jnp.where(w[:, None], Y, 0)
    count = jnp.sum(w).astype(X.dtype)
    safe = jnp.where(count > 0, count, 1)
    return X, Y, count, jnp.sum(X, axis=0) / safe, jnp.sum(Y, axis=0) / safe


class QRStats(eqx.Module):
    """Streaming QR sufficient statistics of a regression Y ≈ X W + b over `count` samples.

    - `count`: number of samples.
    - `shift_x`, `shift_y`: the reference subtracted from every sample (the first chunk's means).
    - `R`: `(1 + F + O)²` upper-triangular factor of `[1, X - shift_x, Y - shift_y]`.

    Same interface as `GramStats` for `fit`: `empty`, `from_block`, `add_block`, `merge`, `mean_x`, `mean_y`,
    `target_var`, `all_finite`; the ridge solves live in `ridge_solution` and `path_errors`.
    """

    count: Float[Array, ""]
    shift_x: Float[Array, " features"]
    shift_y: Float[Array, " outputs"]
    R: Float[Array, "m m"]

    @property
    def n_features(self) -> int:
        return self.shift_x.shape[0]

    @staticmethod
    def empty(n_features: int, n_outputs: int, dtype) -> "QRStats":
        m = 1 + n_features + n_outputs
        return QRStats(jnp.zeros((), dtype), jnp.zeros(n_features, dtype), jnp.zeros(n_outputs, dtype),
                       jnp.zeros((m, m), dtype))

    @staticmethod
    def from_block(X: Float[Array, "k features"], Y: Float[Array, "k outputs"]) -> "QRStats":
        return QRStats.empty(X.shape[1], Y.shape[1], X.dtype).add_block(X, Y)

    def add_block(self, X: Float[Array, "k features"], Y: Float[Array, "k outputs"], w=None) -> "QRStats":
        """Fold a (k, F) block of features and its (k, O) targets into the factor: one QR of (m + k) × m. With a
        boolean `w` (k,), only the rows where it is True (a zero row of `[1, X, Y]` leaves RᵀR unchanged)."""
        X = X.astype(self.R.dtype)
        Y = Y.astype(self.R.dtype)
        first = self.count == 0
        if w is None:
            count = jnp.asarray(X.shape[0], self.R.dtype)
            mx, my = jnp.mean(X, axis=0), jnp.mean(Y, axis=0)
        else:
            X, Y, count, mx, my = masked_block(X, Y, w)
        sx = jnp.where(first, mx, self.shift_x)
        sy = jnp.where(first, my, self.shift_y)
        Z = jnp.concatenate([jnp.ones((X.shape[0], 1), X.dtype), X - sx, Y - sy], axis=1)
        if w is not None:
            Z = jnp.where(w[:, None], Z, 0)
        R = _r_factor_unbatched(jnp.concatenate([self.R, Z], axis=0))
        return QRStats(self.count + count, sx, sy, R)

    def _rebased(self, shift_x, shift_y) -> Array:
        """This factor expressed for another shift: `[1, Z - c'] = [1, Z - c] E`, E unit upper triangular."""
        d = jnp.concatenate([self.shift_x - shift_x, self.shift_y - shift_y])
        return self.R.at[:, 1:].add(self.R[:, :1] * d[None, :])

    def merge(self, other: "QRStats") -> "QRStats":
        """The statistics of both sample sets (exact up to rounding; associative)."""
        first = self.count == 0
        sx = jnp.where(first, other.shift_x, self.shift_x)
        sy = jnp.where(first, other.shift_y, self.shift_y)
        stacked = jnp.concatenate([self._rebased(sx, sy), other._rebased(sx, sy)], axis=0)
        return QRStats(self.count + other.count, sx, sy, _r_factor_unbatched(stacked))

    def _means(self) -> Array:
        r00 = self.R[0, 0]
        return jnp.where(r00 != 0, self.R[0, 1:] / jnp.where(r00 != 0, r00, 1), 0.0)

    @property
    def mean_x(self) -> Float[Array, " features"]:
        return self.shift_x + self._means()[: self.n_features]

    @property
    def mean_y(self) -> Float[Array, " outputs"]:
        return self.shift_y + self._means()[self.n_features :]

    def target_var(self) -> Float[Array, " outputs"]:
        """Per-output variance of the targets (population, divided by `count`)."""
        centred_y = self.R[1:, 1 + self.n_features :]
        return jnp.sum(centred_y**2, axis=0) / jnp.where(self.count > 0, self.count, 1)

    def all_finite(self) -> Array:
        return jnp.all(jnp.isfinite(self.R))

    def factors(self, fit_intercept: bool) -> tuple[Array, Array]:
        """`(A_x, A_y)` with `[A_x, A_y]ᵀ[A_x, A_y]` the (centred if `fit_intercept`) Gram of [X, Y]."""
        F = self.n_features
        A = self.R[1:, 1:] if fit_intercept else self._rebased(jnp.zeros_like(self.shift_x),
                                                                  jnp.zeros_like(self.shift_y))[:, 1:]
        return A[:, :F], A[:, F:]

    def ridge_solution(self, alpha, fit_intercept: bool = True) -> tuple[Array, Array]:
        """`(W, b)` of the ridge regression (W: features × outputs); b = 0 without intercept."""
        A_x, A_y = self.factors(fit_intercept)
        W = solve_ridge_qr(A_x, A_y, jnp.asarray(alpha, A_x.dtype))
        b = self.mean_y - self.mean_x @ W if fit_intercept else jnp.zeros_like(self.shift_y)
        return W, b

    def sse(self, W, b) -> Array:
        """Sum of squared residuals `Σ ‖y - (x W + b)‖²` over these samples, from the factor alone."""
        # Y - X W - b = (Y - c_y) - (X - c_x) W - (b + c_x W - c_y)
        offset = b + self.shift_x @ W - self.shift_y
        coef = jnp.concatenate([-offset[None, :], -W, jnp.eye(W.shape[1], dtype=W.dtype)], axis=0)
        return jnp.sum((self.R @ coef) ** 2)

    def path_errors(self, val: "QRStats", alphas, fit_intercept: bool = True) -> tuple[Array, Array]:
        """Validation SSE on `val` for every alpha (one SVD of this training factor), and `val`'s total variance
        (sum of squares about its own mean), as `_ridge._path_errors` gives them from Gram statistics."""
        A_x, A_y = self.factors(fit_intercept)
        U, s, Vt = _svd(A_x)
        P = U.T @ A_y
        mx, my = (self.mean_x, self.mean_y) if fit_intercept else (None, None)

        def one(alpha):
            d = s / (s**2 + alpha)
            W = Vt.T @ (d[:, None] * P)
            b = my - mx @ W if fit_intercept else jnp.zeros(W.shape[1], W.dtype)
            return val.sse(W, b)

        total = jnp.sum(val.R[1:, 1 + val.n_features :] ** 2)
        return jax.vmap(one)(alphas), total


@_linalg.unbatched
def _svd(a):
    return jnp.linalg.svd(a, full_matrices=False)


@_linalg.unbatched
def solve_ridge_qr(A_x: Float[Array, "r f"], A_y: Float[Array, "r o"], alpha) -> Float[Array, "f o"]:
    """`argmin_W ‖A_x W - A_y‖² + alpha ‖W‖²` by the QR of `[A_x; √alpha I]` and a triangular solve (backward
    stable: the factor's smallest singular value is at least √alpha). Where that factor is numerically singular
    the SVD solution `V diag(s / (s² + alpha)) Uᵀ` instead: with alpha > 0 only where a diagonal of the factor is
    at rounding level (below `eps` times the largest), since the ridge rows keep it regular otherwise; at
    alpha = 0 where a diagonal is below `eps * F` times the largest (NumPy's `lstsq` rule), and singular values
    below `eps * F * s_max` are then dropped, which gives the minimum-norm least-squares solution.

    The triangular solve is preferred with a ridge because it is the more accurate of the two in float32: on the
    Mackey-Glass preset (alpha = 1e-9, √alpha a few `eps · s_max`) the factor's diagonal spans 2e-6 of its
    largest, and the SVD route (LAPACK's divide and conquer, as JAX calls it) gave a one-step NRMSE 1.6x that of
    the float64 solve, the triangular solve 1.01x (`benchmarks/bench_float32.py`)."""
    F = A_x.shape[1]
    eps = jnp.finfo(A_x.dtype).eps
    # The QR of [A_x A_y; √alpha I 0]: its first F columns are the factor R of [A_x; √alpha I], and the block
    # beside R is Qᵀ [A_y; 0], the right-hand side, without forming Q (half the work of `qr` with Q).
    M = jnp.concatenate([jnp.concatenate([A_x, A_y.astype(A_x.dtype)], axis=1),
                         jnp.concatenate([jnp.sqrt(alpha) * jnp.eye(F, dtype=A_x.dtype),
                                          jnp.zeros((F, A_y.shape[1]), A_x.dtype)], axis=1)], axis=0)
    Rfull = jnp.linalg.qr(M, mode="r")
    R, rhs = Rfull[:F, :F], Rfull[:F, F:]
    diag = jnp.abs(jnp.diagonal(R))
    tol = jnp.where(alpha > 0, eps, eps * F)
    ok = jnp.min(diag) > tol * jnp.max(diag)

    def triangular():
        return jax.scipy.linalg.solve_triangular(R, rhs, lower=False)

    def pinv():
        U, s, Vt = jnp.linalg.svd(A_x, full_matrices=False)
        keep = (s > eps * F * jnp.max(s)) | (alpha > 0)  # a ridge keeps every direction, damped
        d = jnp.where(keep, s / jnp.where(keep, s**2 + alpha, 1.0), 0.0)
        return Vt.T @ (d[:, None] * (U.T @ A_y))

    return jax.lax.cond(ok, triangular, pinv)

"""The next-generation reservoir computer (NG-RC): a nonlinear vector autoregression of delay taps."""

from __future__ import annotations

import itertools
import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._checks import RealLike, check_int, check_positive, real_scalar
from ._reservoir import AbstractReservoir


def _monomial_indices(n: int, degree: int) -> np.ndarray:
    """`(count, degree)` indices of the unique monomials of `degree` in `n` variables, in the order of
    `itertools.combinations_with_replacement` (for degree 2: `x0 x0, x0 x1, ..., x1 x1, ...`, Gauthier et al.'s
    order)."""
    return np.array(list(itertools.combinations_with_replacement(range(n), degree)), dtype=np.int32).reshape(-1, degree)


class NGRC(AbstractReservoir):
    r"""Next-generation reservoir computer, or nonlinear vector autoregression (NVAR), of Gauthier, Bollt, Griffith
    & Barbosa 2021 (Nat. Commun. 12:5564, "Next generation reservoir computing").

    No random recurrent network: the state is a delay line of the last inputs, and the readout sees a fixed
    polynomial of its taps. With `k` taps spaced `s` steps apart,

    $$\mathbb{O}_{lin}(t) = u(t) \oplus u(t - s) \oplus \dots \oplus u(t - (k-1)s), \qquad
      \mathbb{O}_{nonlin}(t) = \lceil \mathbb{O}_{lin} \otimes \mathbb{O}_{lin} \rceil
      \;(\text{the unique monomials}),$$

    and the features are $s_{in}\,\mathbb{O}_{lin}$ followed by the unique monomials of degree 2 to `degree` of
    it. Gauthier et al.'s total feature vector also holds a constant 1: here the `Ridge` readout's unpenalised
    intercept plays that role. As in their model, `fit` trains the readout on the increment by default
    (`predicts_increment`, `fit(..., residual=None)`): $u(t+1) = u(t) + W \mathbb{O}(t) + b$, so that the ridge
    penalty pulls the model towards persistence, not towards zero.

    **Arguments:**

    - `in_size`: number of input channels d (>= 1).
    - `delays`: number of delay taps k (>= 1). Default 2 (Gauthier et al.'s Lorenz setting).
    - `skip`: steps between taps s (>= 1). Default 1.
    - `degree`: highest polynomial degree of the monomials, 1 (a linear autoregression), 2 (default) or 3.
    - `input_scaling`: s_in, multiplies the inputs before the monomials (> 0; default 1). With a ridge penalty the
      scale matters: monomials of degree p scale as s_in**p.
    - `increment`: whether `fit` predicts the increment `u(t+1) - u(t)` by default (True, Gauthier et al.'s
      formulation; `fit(..., residual=False)` overrides it for one fit).
    - `dtype`: floating dtype of the delay line; default JAX's default float.

    `gain` is 0 and has no effect: an NG-RC has no recurrent dynamics to move through the edge of chaos (a delay
    line forgets its input exactly after (k-1)s + 1 steps), so it cannot be swept (`sweep` raises). `units` in the
    CLI is the number of delay taps.

    Example:
        >>> ngrc = NGRC(3, delays=2)
        >>> ngrc.feature_size  # 6 linear + 21 quadratic
        27
    """

    gain: Float[Array, ""]
    input_scaling: Float[Array, ""]
    in_size: int = eqx.field(static=True)
    delays: int = eqx.field(static=True)
    skip: int = eqx.field(static=True)
    degree: int = eqx.field(static=True)
    increment: bool = eqx.field(static=True)
    dtype: str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        delays: int = 2,
        *,
        skip: int = 1,
        degree: int = 2,
        input_scaling: RealLike = 1.0,
        increment: bool = True,
        dtype=None,
        key: PRNGKeyArray | None = None,
    ):
        """Build the delay line (the arguments are described in the class docstring). `key` is accepted for the
        registry's uniform signature and unused: an NG-RC has no random weights."""
        self.in_size = check_int("in_size", in_size, minimum=1)
        self.delays = check_int("delays", delays, minimum=1)
        self.skip = check_int("skip", skip, minimum=1)
        degree = check_int("degree", degree, minimum=1)
        if degree > 3:
            raise ValueError(f"`degree` must be 1, 2 or 3, got {degree}")
        self.degree = degree
        if not isinstance(increment, (bool, np.bool_)):
            raise ValueError(f"`increment` must be True or False, got {increment!r}")
        self.increment = bool(increment)
        check_positive("input_scaling", input_scaling)
        dt = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        if not jnp.issubdtype(dt, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dt}")
        self.dtype = str(dt)
        self.input_scaling = real_scalar("input_scaling", input_scaling, dt)
        self.gain = jnp.zeros((), dt)

    @property
    def memory(self) -> int:
        """Steps the delay line holds: `(delays - 1) * skip + 1`; a `fit` washout of at least `memory - 1` steps
        discards the features that still see the zero initial line."""
        return (self.delays - 1) * self.skip + 1

    @property
    def predicts_increment(self) -> bool:
        return self.increment

    @property
    def linear_size(self) -> int:
        return self.delays * self.in_size

    @property
    def feature_size(self) -> int:
        n = self.linear_size
        return sum(math.comb(n + p - 1, p) for p in range(1, self.degree + 1))

    def check_leaf(self, name: str, value) -> None:
        """`sweep`'s check of a swept leaf: the gain cannot be swept (there is no recurrence)."""
        if name == "gain":
            raise ValueError(
                "`gain` cannot be swept on an NGRC: a next-generation reservoir has no recurrent dynamics (its "
                "state is a delay line), so there is no ordered-to-chaotic transition to sweep through"
            )
        if name == "input_scaling":
            check_positive(name, value)

    def init_state(self) -> Float[Array, "memory in_size"]:
        return jnp.zeros((self.memory, self.in_size), self.dtype)

    def step(self, state, u, *, key=None):
        u = jnp.asarray(u, state.dtype).reshape(self.in_size)
        return jnp.concatenate([u[None, :], state[:-1]], axis=0)

    def features(self, state) -> Float[Array, " features"]:
        lin = self.input_scaling.astype(state.dtype) * state[:: self.skip].reshape(-1)
        parts = [lin]
        for p in range(2, self.degree + 1):
            idx = _monomial_indices(lin.shape[0], p)
            parts.append(jnp.prod(lin[idx], axis=1))
        return jnp.concatenate(parts)

    def energy_terms(self):
        """Per input sample: one multiply per degree above one of each monomial (digital), no recurrent MACs."""
        from ._lsm import SpikingEnergyTerm  # the four-field NamedTuple that `physical.energy_per_step` accepts

        n = self.linear_size
        mults = self.linear_size + sum((p - 1) * math.comb(n + p - 1, p) for p in range(2, self.degree + 1))
        return [SpikingEnergyTerm("digital multiplies (input scaling + monomials)", float(mults), 4.6e-12,
                                  "Horowitz 2014 (ISSCC): 45 nm fp32 multiply 3.7 pJ + add 0.9 pJ")]

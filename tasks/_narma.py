"""The NARMA10 input-output task."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._series import RealScalarLike, _check_finite, _default_float, _positive_int, _real

# |y| above this counts as divergence. For u ~ U[0, 0.5] the output stays in about [0.1, 1]; once y stays above
# about 1.4 the quadratic term 0.05 y sum(y) outgrows the decay and y explodes within a few steps.
_DIVERGENCE_BOUND = 1e3


@eqx.filter_jit
def _narma10(key: PRNGKeyArray, low: Array, high: Array, n_steps: int) -> tuple[Array, Array]:
    dtype = low.dtype
    u = jax.random.uniform(key, (n_steps,), dtype, minval=low, maxval=high)
    u_lag9 = jnp.concatenate([jnp.zeros((9,), dtype), u[:-9]])[:n_steps]  # u(t - 9), 0 before the start

    def step(y_window, inputs):
        # y_window = (y(t-9), ..., y(t)).
        u_t, u_t9 = inputs
        y_t = y_window[-1]
        y_next = 0.3 * y_t + 0.05 * y_t * jnp.sum(y_window) + 1.5 * u_t9 * u_t + 0.1
        return jnp.concatenate([y_window[1:], y_next[None]]), y_next

    _, y = jax.lax.scan(step, jnp.zeros((10,), dtype), (u, u_lag9))
    return u[:, None], y[:, None]


def narma10(
    n_steps: int,
    *,
    key: PRNGKeyArray,
    low: RealScalarLike = 0.0,
    high: RealScalarLike = 0.5,
) -> tuple[Float[Array, "time 1"], Float[Array, "time 1"]]:
    r"""The NARMA10 task: a tenth-order nonlinear autoregressive moving-average system driven by i.i.d. noise
    (Atiya & Parlos 2000, IEEE Trans. Neural Netw. 11:697):

    $$y(t+1) = 0.3\, y(t) + 0.05\, y(t) \sum_{i=0}^{9} y(t-i) + 1.5\, u(t-9)\, u(t) + 0.1,
    \qquad u(t) \sim U[\text{low}, \text{high}].$$

    A reservoir reads `u` and must output `y`; it needs ten steps of memory and a quadratic nonlinearity.
    The recursion starts from rest: `y(t) = 0` for `t <= 0` and `u(t) = 0` for `t < 0`, so the first few dozen
    samples are a start-up transient; discard them along with the reservoir washout.

    **Arguments:**

    - `n_steps`: number of (input, target) pairs (positive int).
    - `key`: PRNG key for the input sequence (required: the task is random).
    - `low`, `high`: range of the uniform input, `low < high` (defaults 0 and 0.5, the standard task). Wider
        ranges can make the recursion diverge, e.g. `high = 1`.

    **Returns:**

    `(inputs, targets)`, each of shape `(n_steps, 1)`, with `inputs[t] = u(t)` and `targets[t] = y(t + 1)`, so
    that `targets[t]` depends on `inputs[0..t]` only.

    **Raises:**

    `ValueError` if the recursion diverges (a non-finite value, or `|y|` above 1e3) when called eagerly; under
    `jax.jit`/`vmap` the same check is an `eqx.error_if` runtime error.
    """
    n_steps = _positive_int("n_steps", n_steps)
    low, high = _real("low", low), _real("high", high)
    if not low < high:
        raise ValueError(f"`low` must be < `high`, got low={low!r}, high={high!r}")
    dtype = _default_float()
    inputs, targets = _narma10(key, jnp.asarray(low, dtype), jnp.asarray(high, dtype), n_steps)
    message = (
        f"the NARMA10 recursion diverged for inputs u ~ U[{low}, {high}]; use a narrower input range "
        "(the standard task uses U[0, 0.5])"
    )
    targets = _check_finite(targets, message, bound=_DIVERGENCE_BOUND)
    return inputs, targets

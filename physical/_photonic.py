"""A photonic (or optoelectronic) reservoir: one nonlinear node with delayed feedback and N virtual nodes."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from reservoirs import AbstractReservoir
from reservoirs import _random
from reservoirs._checks import RealLike, check_int, check_positive, is_traced

from ._energy import EnergyTerm
from ._nonideal import NonIdealities

_NONLINEARITIES = ("mackey_glass", "ikeda", "sine")
_MASKS = ("binary", "uniform")
# NonIdealities fields that describe programmed conductances: nothing in this substrate is programmed.
_UNUSED_NONIDEAL = ("levels", "programming_noise", "stuck_on", "stuck_off", "drift_nu")

#: Energy of one nonlinear-node operation of a time-delay photonic reservoir: 4.4 fJ, the system figure reported
#: for an all-optical time-delay reservoir built around a nonlinear amplifying loop mirror (NALM), at 20 TOPS.
PHOTONIC_J_PER_OP = 4.4e-15
PHOTONIC_SOURCE = (
    "Aadhi et al., 'Scalable photonic reservoir computing for parallel machine learning tasks', Nat. Commun., "
    "doi:10.1038/s41467-025-67983-z (abstract): time-delay NALM photonic reservoir, 4.4 fJ per operation at "
    "20 TOPS; counted here as one operation per virtual-node update"
)


def _power_abs(z, p):
    """|z|**p with a zero derivative at z = 0 (the naive form's derivative there is 0 * inf = NaN for p < 1)."""
    az = jnp.abs(z)
    nz = az > 0
    return jnp.where(nz, jnp.where(nz, az, 1) ** p, 0)


def _compose(earlier, later):
    """Compose affine maps x -> A x + B: first `earlier`, then `later`."""
    a1, b1 = earlier
    a2, b2 = later
    return a1 * a2, a2 * b1 + b2


class PhotonicDelay(AbstractReservoir):
    r"""A single nonlinear node with delayed feedback, time-multiplexed into N virtual nodes.

    The delay-based reservoir of Appeltant et al. 2011 (Nat. Commun. 2:468), realised optoelectronically by Larger
    et al. 2012 (Opt. Express 20:3241) and Paquot et al. 2012 (Sci. Rep. 2:287). A nonlinear node with response
    time $T$ sits in a loop of delay $\tau = N\theta T$; the input sample $u(n)$ is held for one round trip and
    multiplied by a mask $m_i$, so that the $N$ points spaced $\theta T$ along the loop act as $N$ coupled
    "virtual" nodes. Integrating the node's first-order low-pass response exactly over one node spacing (input
    held constant over it) gives the virtual-node map (Appeltant et al. 2011, Methods; node time unit,
    $a = e^{-\theta}$):

    $$x_i(n) = a\,x_{i-1}(n) + (1 - a)\,\eta\,F\big(x_i(n-1) + \gamma\,m_i \cdot u(n)\big),
    \qquad i = 1..N, \qquad x_0(n) = x_N(n-1).$$

    With `desync` = k > 0 the loop delay is $\tau = (N + k)\theta T$, k node spacings longer than the input period
    $N\theta T$, and node i is fed by the loop's value k nodes earlier: $x_i(n-1)$ in $F$ becomes $x_{i-k}(n-1)$
    (read as $x_{N+i-k}(n-2)$ for $i \le k$). This delay/clock mismatch couples the virtual nodes into a ring and
    markedly improves memory and NARMA10 performance (Ortin & Pesquera 2019, Front. Phys. 7:210; measurements
    below). The state is then the whole delay line, the last $N + k$ node values; the readout sees the last N.

    Neighbouring virtual nodes are coupled through the node's inertia ($a$): a small `theta` couples them
    strongly, a large one decouples them. The map is affine in $x_{i-1}$, so one step is an associative scan
    (`jax.lax.associative_scan`) over the composition of the affine maps $x \mapsto a x + b_i$: $O(\log N)$ depth
    instead of a loop over the $N$ nodes.

    Nonlinearities $F$ (`nonlinearity`):

    - `"mackey_glass"`: $F(z) = z / (1 + |z|^p)$, the electronic Mackey-Glass node of Appeltant et al. 2011
      (odd-symmetric form). $p = 1$ is the reservoir-computing regime of that paper; the delay system needs a steep
      nonlinearity ($p \approx 7$) and a large $\eta$ to become chaotic.
    - `"ikeda"`: $F(z) = \sin^2(z + \phi_0)$, the electro-optic (Mach-Zehnder intensity modulator) node of Larger
      et al. 2012, with bias phase $\phi_0$; `gain` is the normalised feedback strength $\beta$.
    - `"sine"`: $F(z) = \sin(z)$, the nonlinearity of the optoelectronic reservoir of Paquot et al. 2012.

    **`gain` is $\eta$**, the feedback strength (the round-trip gain of the loop). Small $\eta$: the loop forgets
    its state (ordered, echo-state property); large $\eta$: with a steep enough nonlinearity the delay system
    oscillates or becomes chaotic. The largest conditional Lyapunov exponent crosses zero in between. Nothing is
    checked at construction about stability: a configuration may oscillate, be chaotic, or (for an unbounded
    Mackey-Glass with $p < 1$) grow without bound; `fit` and `sweep` report non-finite results.

    **Non-idealities** (`nonideal`, all off by default; then the model is exactly the ideal map above):

    - `dac_bits`: the arbitrary-waveform generator writes the masked input $J_i(n) = m_i \cdot u(n)$ through a DAC
      of full scale $[-$`dac_range`$, +$`dac_range`$]$ (clipped there, then quantised).
    - `variability`: the modulator's response differs from one time slot to the next; each virtual node's mask
      amplitude is multiplied by a log-normal factor (mean 1, relative spread `variability`), drawn once from the
      construction `key`. (There is one physical node, so there is no node-to-node spread of $F$ or $\eta$.)
    - `read_noise`: relative intensity noise of the light source: the node output $F$ carries multiplicative
      Gaussian noise of relative standard deviation `read_noise`, independently for each virtual node.
    - `detector_noise`: additive Gaussian photodetector noise on each detected node state, of standard deviation
      `detector_noise` times the detector's full scale (`detector_range[1] - detector_range[0]`). In the
      optoelectronic loops the photodiode closes the loop (Larger et al. 2012; Paquot et al. 2012), so its noise is
      both read out and fed back: it is added to the state in `step`.
    - `adc_bits`: the readout tap is digitised by an ADC of full scale `detector_range` (clipped, quantised to
      `2**adc_bits` levels) in `features`; the ADC is outside the loop.

    The conductance-programming fields (`levels`, `programming_noise`, `stuck_on`, `stuck_off`, `drift_nu`) have
    no counterpart here and are rejected. With `read_noise` or `detector_noise` the reservoir is `stochastic`:
    `step` needs a `key`, split into one key per noise source.

    **Measured with this model** (float64, sigma-normalised NRMSE, `Ridge(1e-10)`; `benchmarks/bench_substrates.py`,
    figures in `benchmarks/RESULTS.md`):

    - NARMA10, 400 virtual nodes, 4000 training samples (200 washout), 1000 test, 10 seeds each with its own data:
      `nonlinearity="ikeda", desync=10, theta=2.5, gain=1.2, input_scaling=0.03, phi0=-0.5` scores a median of
      0.100 (0.067-0.193), comparable with the ~0.15 reported by Appeltant et al. 2011; with 2000 training samples
      it measured 0.10-0.19 depending on the data. The synchronous loop (`desync=0`) stays near 0.4 at best
      whatever the nonlinearity and settings (0.84 with the configuration above; 0.52 with Mackey-Glass,
      theta = 0.2, eta = 0.5, gamma = 0.05, p = 1). The odd-symmetric Mackey-Glass node has no even-order terms
      about its rest state, which NARMA10's product u(t) u(t-9) needs, and for eta > 1 it is bistable (nodes
      settle on +-(eta - 1)), which generalises poorly.
    - Edge of chaos (Mackey-Glass, p = 7, theta = 0.2, gamma = 0.05, N = 400, `desync=0`): under NARMA10 drive the
      largest conditional exponent is -0.69 per sample at eta = 0.5, near zero or (in the bistable range, for
      some masks) strongly negative between eta = 1 and 1.6, and crosses zero at eta = 1.60 (three seeds); +0.13
      at 1.7, +0.33 at 2.5. Started from rest with zero input, the loop loses stability at eta = 1.00 (F'(0) = 1).

    **Arguments:**

    - `in_size`: number of input channels, >= 1. Default 1.
    - `n_virtual`: number of virtual nodes N, >= 1 (the feature count). Default 400 (Appeltant et al. 2011).
    - `key`: PRNG key for the mask and the device variability.
    - `gain`: feedback strength $\eta$, >= 0. Default 0.5 (the value quoted for Appeltant et al. 2011).
    - `input_scaling`: input gain $\gamma$, >= 0. Default 0.05 (a small input, as in Appeltant et al. 2011).
    - `desync`: delay/clock mismatch k >= 0, in node spacings: loop delay $(N + k)\theta T$. Default 0 (the map
      above, $\tau = N\theta T$, Appeltant et al. 2011).
    - `theta`: virtual-node spacing $\theta$, in units of the node's response time $T$, > 0. Default 0.2
      (Appeltant et al. 2011).
    - `nonlinearity`: `"mackey_glass"` (default), `"ikeda"` or `"sine"`.
    - `p`: Mackey-Glass exponent, > 0. Default 1. (Unused by the other nonlinearities.)
    - `phi0`: Ikeda bias phase $\phi_0$ in radians. Default $\pi/4$ (the quadrature point, where $\sin^2$ is
      steepest). (Unused by the other nonlinearities.)
    - `mask`: `"binary"` (default, $m_{ij} \in \{-1, +1\}$ with equal probability, Appeltant et al. 2011),
      `"uniform"` ($m_{ij} \sim U[-1, 1]$), or an array of shape `(n_virtual, in_size)`.
    - `nonideal`: a `NonIdealities`; default (None) all off.
    - `dac_range`: DAC full scale for the masked input $m_i \cdot u(n)$, > 0: scale the inputs so that
      $|m_i \cdot u| \le$ `dac_range` (for one channel and a binary mask, $|u| \le$ `dac_range`). Default 1.
    - `detector_range`: `(low, high)` full scale of the photodetector and the readout ADC, in state units. Default:
      the range the node can reach at the construction gain, $\eta\,[\min F, \max F]$ ($x$ is a convex
      combination of past values of $\eta F$). It is fixed hardware: a later sweep to a larger `gain` clips.
      Required with a noisy or quantised readout when $F$ is unbounded (Mackey-Glass with $p < 1$).
    - `response_time`: the node's response time $T$ in seconds (order 1e-9 s for optoelectronic loops). Used
      only for the time and rate properties (`loop_delay`); the model itself is in node time units. Default 1e-9.
    - `dtype`: floating dtype of the state and parameters; default JAX's default float.

    **Energy:** `energy_terms()` counts N nonlinear-node operations per input sample at 4.4 fJ each (Aadhi et al.,
    Nat. Commun., doi:10.1038/s41467-025-67983-z, a system figure for a time-delay loop-mirror reservoir). The DAC
    and ADC conversions are left out: no per-conversion figure is cited here, and they can dominate.

    Example:
        >>> res = PhotonicDelay(1, 400, key=jax.random.key(0), gain=0.5, theta=0.2)
        >>> model = reservoirs.fit(res, u_train, y_train, washout=200)
    """

    mask: Float[Array, "n_virtual in_size"]
    mask_gain: Float[Array, " n_virtual"]
    gain: Float[Array, ""]
    input_scaling: Float[Array, ""]
    theta: Float[Array, ""]
    p: Float[Array, ""]
    phi0: Float[Array, ""]
    nonideal: NonIdealities
    n_virtual: int = eqx.field(static=True)
    desync: int = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    nonlinearity: str = eqx.field(static=True)
    dac_range: float = eqx.field(static=True)
    detector_range: tuple[float, float] = eqx.field(static=True)
    response_time: float = eqx.field(static=True)

    def __init__(
        self,
        in_size: int = 1,
        n_virtual: int = 400,
        *,
        key: PRNGKeyArray,
        gain: RealLike = 0.5,
        input_scaling: RealLike = 0.05,
        theta: RealLike = 0.2,
        nonlinearity: str = "mackey_glass",
        p: RealLike = 1.0,
        phi0: RealLike = math.pi / 4,
        mask: str | Float[ArrayLike, "n_virtual in_size"] = "binary",
        nonideal: NonIdealities | None = None,
        dac_range: RealLike = 1.0,
        detector_range: tuple[float, float] | None = None,
        response_time: float = 1e-9,
        desync: int = 0,
        dtype=None,
    ):
        in_size = check_int("in_size", in_size, minimum=1)
        n_virtual = check_int("n_virtual", n_virtual, minimum=1)
        desync = check_int("desync", desync, minimum=0)
        if desync >= n_virtual:
            raise ValueError(f"`desync` must be < `n_virtual` ({n_virtual}), got {desync}")
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"`nonlinearity` must be one of {_NONLINEARITIES}, got {nonlinearity!r}")
        check_positive("gain", gain, allow_zero=True)
        check_positive("input_scaling", input_scaling, allow_zero=True)
        check_positive("theta", theta)
        check_positive("p", p)
        _check_finite("phi0", phi0)
        check_positive("dac_range", dac_range)
        check_positive("response_time", response_time)
        nonideal = NonIdealities() if nonideal is None else nonideal
        if not isinstance(nonideal, NonIdealities):
            raise ValueError(f"`nonideal` must be a NonIdealities, got {type(nonideal).__name__}")
        unused = [n for n in _UNUSED_NONIDEAL if getattr(nonideal, n) != getattr(NonIdealities(), n)]
        if unused:
            raise ValueError(f"`nonideal` sets {unused}, which a photonic delay loop does not have (no programmed "
                             "conductances); use dac_bits, adc_bits, read_noise, detector_noise or variability")
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dtype}")
        k_mask, k_var = jax.random.split(key)

        if isinstance(mask, str):
            if mask == "binary":
                m = jnp.where(_random.bernoulli(k_mask, 0.5, (n_virtual, in_size)), 1.0, -1.0).astype(dtype)
            elif mask == "uniform":
                m = _random.uniform(k_mask, (n_virtual, in_size), dtype, -1.0, 1.0)
            else:
                raise ValueError(f"`mask` must be one of {_MASKS} or an array of shape (n_virtual, in_size), "
                                 f"got {mask!r}")
        else:
            m = jnp.asarray(mask, dtype)
            if m.shape != (n_virtual, in_size):
                raise ValueError(f"`mask` must have shape ({n_virtual}, {in_size}), got {m.shape}")
        self.mask = m
        self.mask_gain = nonideal.vary(1.0, (n_virtual,), key=k_var, dtype=dtype)
        self.gain = jnp.asarray(gain, dtype)
        self.input_scaling = jnp.asarray(input_scaling, dtype)
        self.theta = jnp.asarray(theta, dtype)
        self.p = jnp.asarray(p, dtype)
        self.phi0 = jnp.asarray(phi0, dtype)
        self.nonideal = nonideal
        self.n_virtual = n_virtual
        self.desync = desync
        self.in_size = in_size
        self.nonlinearity = nonlinearity
        self.dac_range = float(dac_range)
        self.response_time = float(response_time)
        self.detector_range = _detector_range(detector_range, nonlinearity, gain, p, nonideal)

    # ------------------------------------------------------------------------------------------------- protocol

    @property
    def feature_size(self) -> int:
        return self.n_virtual

    @property
    def standardize_inputs(self) -> bool:
        """True: `fit` standardises inputs and targets by default (the modulator's optical power range assumes inputs of order one)."""
        return True

    @property
    def stochastic(self) -> bool:
        return self.nonideal.stochastic

    @property
    def input_period(self) -> float:
        """The time per input sample, N theta T, in seconds."""
        return float(self.n_virtual * self.theta * self.response_time)

    @property
    def loop_delay(self) -> float:
        """The loop delay tau = (N + desync) theta T in seconds."""
        return float((self.n_virtual + self.desync) * self.theta * self.response_time)

    def init_state(self) -> Float[Array, " line"]:
        """The delay line at rest: the last `n_virtual + desync` node values, all zero."""
        return jnp.zeros(self.n_virtual + self.desync, self.mask.dtype)

    def nonlinear(self, z: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """The node's nonlinearity F (Appeltant et al. 2011; Larger et al. 2012; Paquot et al. 2012)."""
        if self.nonlinearity == "mackey_glass":
            return z / (1 + _power_abs(z, self.p))
        if self.nonlinearity == "ikeda":
            return jnp.sin(z + self.phi0) ** 2
        return jnp.sin(z)

    def drive(self, u: Float[Array, " inputs"]) -> Float[Array, " n_virtual"]:
        """The masked, scaled input gamma m_i . u(n) as the node receives it (through the DAC and modulator)."""
        j = self.mask @ u[: self.in_size].astype(self.mask.dtype)
        j = self.nonideal.dac(j, -self.dac_range, self.dac_range)
        if self.nonideal.variability > 0:
            j = self.mask_gain * j
        return self.input_scaling * j

    def step(
        self, state: Float[Array, " line"], u: Float[Array, " inputs"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " line"]:
        """One input sample: one round trip of the loop, all N virtual nodes (Appeltant et al. 2011, Methods)."""
        k_rin = k_det = None
        if self.stochastic and key is not None:
            k_rin, k_det = jax.random.split(key)
        a = jnp.exp(-self.theta)
        delayed = state[: self.n_virtual]  # the loop's value one delay tau before each node
        f = self.nonideal.read(self.nonlinear(delayed + self.drive(u)), k_rin)  # laser intensity noise
        b = (1 - a) * self.gain * f
        # x_i = a x_{i-1} + b_i: compose the N affine maps, then apply them to x_0 = x_N(n-1).
        A, B = jax.lax.associative_scan(_compose, (jnp.broadcast_to(a, b.shape), b))
        x = A * state[-1] + B
        lo, hi = self.detector_range
        x = self.nonideal.detect(x, hi - lo, k_det)
        if self.desync:
            x = jnp.concatenate([state[self.n_virtual :], x])
        return x

    def features(self, state: Float[Array, " line"]) -> Float[Array, " n_virtual"]:
        """The detected node states of the last round trip, digitised by the readout ADC (`detector_range`)."""
        lo, hi = self.detector_range
        return self.nonideal.adc(state[state.shape[0] - self.n_virtual :], lo, hi)

    def energy_terms(self) -> list[EnergyTerm]:
        """Per input sample: N nonlinear-node operations (one per virtual node) at `PHOTONIC_J_PER_OP`.

        DAC and ADC conversions (N of each per sample) are not counted: no cited per-conversion energy is used here.
        """
        return [EnergyTerm("nonlinear-node operations (virtual nodes)", float(self.n_virtual), PHOTONIC_J_PER_OP,
                           PHOTONIC_SOURCE)]


def _check_finite(name, value):
    v = np.asarray(value)
    if v.ndim != 0 or not np.isfinite(v):
        raise ValueError(f"`{name}` must be a finite scalar, got {value!r}")


def _f_range(nonlinearity: str, p: float) -> tuple[float, float]:
    """[min F, max F] over the real line; infinite for an unbounded Mackey-Glass (p < 1)."""
    if nonlinearity == "ikeda":
        return 0.0, 1.0
    if nonlinearity == "sine":
        return -1.0, 1.0
    if p < 1:
        return -math.inf, math.inf
    if p == 1:
        return -1.0, 1.0
    z = (p - 1) ** (-1 / p)  # argmax of z / (1 + z**p)
    return -z * (p - 1) / p, z * (p - 1) / p


def _detector_range(detector_range, nonlinearity, gain, p, nonideal) -> tuple[float, float]:
    if detector_range is not None:
        try:
            lo, hi = (float(v) for v in detector_range)
        except (TypeError, ValueError):
            raise ValueError(f"`detector_range` must be a pair (low, high), got {detector_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"`detector_range` must be finite with low < high, got {detector_range!r}")
        return lo, hi
    readout_used = nonideal.adc_bits is not None or nonideal.detector_noise > 0
    if is_traced(gain) or is_traced(p):
        if readout_used:
            raise ValueError("`detector_range` is required when `gain` or `p` is traced at construction")
        return -1.0, 1.0  # unused: the readout is ideal
    f_lo, f_hi = _f_range(nonlinearity, float(p))
    eta = float(gain)
    if not math.isfinite(f_hi) or eta == 0:
        if readout_used:
            raise ValueError("`detector_range` is required: F is unbounded (Mackey-Glass with p < 1) or gain is 0, "
                             "so no default full scale exists for the detector and ADC")
        return -1.0, 1.0  # unused: the readout is ideal
    return eta * f_lo, eta * f_hi


# ------------------------------------------------------------------------------------------------------- registry

#: Per-task presets of the CLI's photonic delay loop (`reservoirs --substrate photonic`), for inputs standardised to
#: zero mean and unit std: the electro-optic (Ikeda) node with a delay/clock mismatch of 10 node spacings
#: (Larger et al. 2012; Ortin & Pesquera 2019), theta = 2.5, phi0 = -0.5, 400 virtual nodes for forecasting.
#: Chosen with closed-loop forecasts on held-out seeds 100-104 (CLI protocol, `Ridge(1e-9)`, no pass-through):
#: Mackey-Glass over 1500 closed-loop steps (7.8 Lyapunov times), input scaling 0.1: VPT mean 2.2, 3.7, 4.4, 5.1,
#: 4.4, 3.8 Lyapunov times at eta = 0.9, 1.0, 1.1, 1.2, 1.3, 1.4 (input scaling 0.05 and 0.2 were worse; eta = 0.5,
#: the earlier CLI default, diverged for 2 of 3 seeds). Under Mackey-Glass drive the largest conditional exponent of
#: this loop crosses zero at eta = 2.40 (`reservoirs.sweep`, seed 100), so the preset sits in the ordered regime.
#: Seeds 100-102, CLI protocol and readouts: Lorenz VPT 10.0 (9.0-11.1) at eta = 0.8 (9.9 at 1.2); Rossler 6.3
#: (5.2-8.0) at eta = 0.8 (at 1.2 the closed loop diverged for all three seeds); Henon 3.6 (2.9-4.2) at eta = 1.2
#: with input scaling 0.3 (at 0.1 some closed loops left the attractor). Classification: the same loop with 100
#: nodes and a larger input scaling (not tuned). Reported on seeds 0-9 (`benchmarks/bench_substrate_forecast.py`):
#: Mackey-Glass VPT 2.60 for every seed (the 500-step cap), 4.87 (3.37-7.31) over 1500 steps, one-step NRMSE 4.9e-5.
PHOTONIC_PRESETS: dict[str, dict] = {
    "mackey-glass": dict(units=400, gain=1.2, input_scaling=0.1),
    "lorenz": dict(units=400, gain=0.8, input_scaling=0.1),
    "rossler": dict(units=400, gain=0.8, input_scaling=0.1),
    "henon": dict(units=400, gain=1.2, input_scaling=0.3),
    "sine-square": dict(units=100, gain=1.2, input_scaling=0.5),
    "xor": dict(units=100, gain=1.2, input_scaling=0.5),
    "patterns": dict(units=100, gain=1.2, input_scaling=0.5),
}
_PHOTONIC_FIXED = dict(nonlinearity="ikeda", desync=10, theta=2.5, phi0=-0.5)


def build_photonic(in_size: int, units: int, gain: float, *, key: PRNGKeyArray, task: str | None = None):
    """The CLI's photonic delay loop for `task` (`PHOTONIC_PRESETS`): `units` virtual nodes at feedback strength
    `gain` (eta), Ikeda node, `desync` min(10, units - 1), theta 2.5, phi0 -0.5, and the task's input scaling.

    Readout: the CLI's per-task readouts (Mackey-Glass: `Ridge(1e-9)`, no input pass-through; the other
    forecasting tasks: their presets' alpha with the input passed through), with which the presets were chosen.
    """
    d = _task_preset(PHOTONIC_PRESETS, task)
    kw = dict(_PHOTONIC_FIXED, desync=min(_PHOTONIC_FIXED["desync"], int(units) - 1))
    return PhotonicDelay(in_size, units, key=key, gain=gain, input_scaling=d["input_scaling"], **kw)


def _task_preset(presets: dict, task: str | None) -> dict:
    if task is None:
        return presets["mackey-glass"]
    if task not in presets:
        raise ValueError(f"`task` must be one of {tuple(presets)}, got {task!r}")
    return presets[task]


def _register() -> None:
    from reservoirs import register_reservoir

    register_reservoir(
        "photonic",
        build=build_photonic,
        units=PHOTONIC_PRESETS["mackey-glass"]["units"],
        gain=PHOTONIC_PRESETS["mackey-glass"]["gain"],
        sweep_gains=(0.1, 3.0),
        description="photonic delay loop: one electro-optic node with delayed feedback, N virtual nodes "
        "(Appeltant et al. 2011; Larger et al. 2012)",
        gain_unit="feedback strength eta (dimensionless round-trip gain)",
        min_gain=0.0,
        task_defaults={t: {"units": d["units"], "gain": d["gain"]} for t, d in PHOTONIC_PRESETS.items()},
    )


_register()

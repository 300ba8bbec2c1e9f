"""Spin-torque nano-oscillators (STNOs): one oscillator with delayed feedback, or a coupled array, time-multiplexed."""

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

_TOPOLOGIES = ("single", "array")
_UNUSED_NONIDEAL = ("levels", "programming_noise", "stuck_on", "stuck_off", "drift_nu")

#: Largest |feedback gain| kappa accepted: beyond it the fed-back current swings by more than 5 I_dc per unit of
#: relative power change, far outside the range where the Slavin-Tiberkevich expansion (and the junction) survive.
MAX_FEEDBACK = 5.0
#: Supercriticality range accepted: zeta > 1 (above the auto-oscillation threshold) and <= 10 (the weakly nonlinear
#: model of Slavin & Tiberkevich 2009 assumes moderate supercriticality; real junctions break down well before).
MAX_ZETA = 10.0

STNO_ENERGY_SOURCE = (
    "estimate, not a measured per-operation figure: Joule heating I_dc^2 R per virtual-node interval theta "
    "(SUBSTRATE-NOTES; e.g. 5 mA into 50 ohm for 100 ns = 0.125 nJ); for scale, a weighted-STNO neuron delivers "
    "> 3 uW of rf output at 240 MHz (Bohnert et al. 2023, Commun. Eng.)"
)


class SpinTorqueOscillator(AbstractReservoir):
    r"""Spin-torque nano-oscillators as a reservoir: one STNO with delayed feedback, or an array of coupled STNOs,
    time-multiplexed into N virtual nodes (Torrejon et al. 2017, Nature 547:428).

    **Oscillator model.** The universal auto-oscillator model of Slavin & Tiberkevich 2009 (IEEE Trans. Magn.
    45:1875): the complex amplitude $c$ of the oscillation, power $p = |c|^2 \in [0, 1]$, obeys

    $$\dot c = -i\,(\omega_0 + N p)\,c - \Gamma_+(p)\,c + \Gamma_-(p)\,c,
    \qquad \Gamma_+ = \Gamma_G (1 + Q p), \qquad \Gamma_- = \sigma I (1 - p),$$

    so the power obeys $\dot p = -2[\Gamma_+(p) - \Gamma_-(p)]\,p$. With the supercriticality
    $\zeta = I / I_{th}$ ($I_{th} = \Gamma_G / \sigma$) the free-running oscillator settles at
    $p_0 = (\zeta - 1)/(\zeta + Q)$ with the amplitude relaxation rate $\Gamma_p = 2\Gamma_G(\zeta - 1)$.

    **Time multiplexing** (Torrejon et al. 2017; Appeltant et al. 2011, Nat. Commun. 2:468). Each input sample
    $u(n)$ is held for $N\theta$ seconds; during virtual node $i$ (duration $\theta$) the dc current is modulated by
    a mask, $I_i(n) = I_{dc}[1 + \gamma\,m_i\cdot u(n) + \ldots]$, and the rectified amplitude $\sqrt{p}$ (the
    diode envelope) at the end of each interval is one feature. The current is held constant over each interval.

    **Two topologies** (`topology`):

    - `"single"`: one STNO whose rectified power is fed back into its own bias current after a delay of `delay`
      virtual-node intervals (Riou et al. 2019, PR Applied 12:024049, delayed feedback extends memory; the
      discretisation of PROTOCOLS.md): $I_i(n) = I_{dc}[1 + \gamma m_i\cdot u(n) + \kappa\,(p(t - \tau) - p_0)/p_0]$.
      **`gain` is $\kappa$**, the delayed-feedback strength, in $[-5, 5]$. Only the power enters, so the state
      is the delay line of powers (the phase decouples). The power equation is a logistic (Bernoulli) equation
      for a constant current, $\dot p = 2a\,p - 2b\,p^2$ with $a = \Gamma_G(\zeta_i - 1)$, $b = \Gamma_G(\zeta_i + Q)$,
      and is integrated **exactly** over each interval:
      $p(\theta) = p\,/\,\big(e^{-2a\theta} + b\,p\,(1 - e^{-2a\theta})/a\big)$.
      Without feedback ($\kappa = 0$) one STNO is **contractive**: the largest conditional Lyapunov exponent is
      $\approx -\Gamma_p N\theta$ per input sample (measured, `tests/test_spintronic.py`). Chaos needs the
      feedback: a positive $\kappa > 0.5$ switches the oscillator off (at $p = 0$ the current
      $\zeta(1 - \kappa)I_{th}$ is below threshold, so $p = 0$ is stable); a negative one makes it oscillate and
      become weakly chaotic in narrow windows (SUBSTRATE-NOTES; `benchmarks/results/spintronic.md`).
    - `"array"`: `n_oscillators` STNOs coupled through their rf currents with a random coupling matrix $W$
      (Gaussian, zero diagonal, spectral radius 1, drawn from `key`) and a coupling phase $\beta$ (Slavin &
      Tiberkevich 2009, mutual synchronisation; Romera et al. 2018, Nature 563:230; Kanao et al. 2019, arXiv:1905.07937):

      $$\dot c_j = -i(\Delta\omega_j + N p_j)\,c_j - \Gamma_G(1 + Q p_j)\,c_j + \Gamma_G\zeta_{j,i}(n)(1 - p_j)\,c_j
      + g\,\Gamma_G\,e^{i\beta}\sum_k W_{jk} c_k + F_{inj}\,\Gamma_G,$$

      in the frame rotating at the nominal frequency $\omega_0 = 2\pi f_0$; $\Delta\omega_j$ is device $j$'s
      frequency offset (`frequency_spread`) and $F_{inj}$ (`injection`) a common rf reference current at $f_0$
      to which the oscillators injection-lock (Slavin & Tiberkevich 2009, injection locking; Romera et al. 2018 drive
      their oscillators with rf signals). **`gain` is $g$**, the coupling rate in units of $\Gamma_G$, >= 0.
      The nonlinear frequency shift $N p$ turns amplitude fluctuations into phase slips and the coupling turns
      phase differences back into amplitude changes; this amplitude-phase loop makes the chaos robust. With the
      injection (the registered preset) the locked, uncoupled array is ordered ($\lambda < 0$) and the largest
      exponent first crosses zero at $g \approx 0.16$-$0.23$ under Mackey-Glass drive (two coupling matrices;
      for one of them a marginally ordered window follows before chaos resumes at $g = 0.99$; see below). Integration: RK4 with `substeps` steps per virtual node. Without
      injection the global phase is neutral (the equations are invariant under $c \to c\,e^{i\alpha}$ and the
      readout cannot see it), so after each input sample all amplitudes are rotated into the frame where
      oscillator 0 is real and positive: the state is the array in that frame and the Lyapunov exponents are
      those of the observable dynamics (the relative phases of uncoupled, unlocked oscillators stay neutral,
      $\lambda = 0$ at $g = 0$).

    Whether noise and injection are on (`stochastic`, the gauge) is decided at construction from `thermal_noise`
    and `injection`; a sweep may change their values but not switch them on from zero.

    Features: $\sqrt{p}$ of every oscillator at the end of every virtual node, `n_oscillators * n_virtual` of them.

    **Non-idealities and noise:**

    - `thermal_noise` $D$ (1/s, >= 0): thermal fluctuations (Slavin & Tiberkevich 2009: $D \propto k_B T$).
      Single: Gaussian noise $\sqrt{2 D \theta}\,\xi$ added to $p$ after each interval, then clipped to [0, 1]
      (PROTOCOLS.md). Array: complex Gaussian noise of variance $2 D h$ added to each $c_j$ at each RK4 substep.
      With $D > 0$ the reservoir is `stochastic`: `step` needs a key.
    - `nonideal.read_noise` (relative) and `detector_noise` (of the [0, 1] full scale) act on the diode readings,
      `adc_bits` digitises them over [0, 1] in `features`, `dac_bits` quantises the masked input over
      [-`dac_range`, `dac_range`] before it modulates the current. Read noise is outside the loop: the feedback
      uses the device's power.
    - `nonideal.variability`: device-to-device spread of the damping rate $\Gamma_G$ (log-normal factors, one per
      oscillator, from `key`); `frequency_spread`: relative standard deviation of the devices' frequencies
      ($\Delta\omega_j = 2\pi f_0\,\delta_j$, $\delta_j \sim N(0, $`frequency_spread`$^2)$; a common random device-
      to-device spread; one oscillator has offset 0).

    **Measured with this model** (float64; `benchmarks/bench_spintronic.py`, figures in
    `benchmarks/results/spintronic.md`; drive: standardised Mackey-Glass, exponents per input sample):

    - Single STNO, N = 50 nodes of 2 ns, delay N theta: without feedback lambda = -9.99 against
      -Gamma_p N theta = -10.0 (contractive). kappa > 0.5 switches the oscillator off (p = 0 becomes stable,
      lambda < -39); negative kappa gives limit cycles and weak chaos in windows between about -3 and -1
      (lambda up to +0.03, against -10 without feedback). No robust crossing: not the registered default.
    - Registered array (16 oscillators x 20 nodes, injection 0.3, frequency spread 1 %): under the CLI sweep
      (`reservoirs sweep --substrate spintronic --task mackey-glass`) lambda runs from -0.19 at g = 0 to +1.07,
      crossing zero at g = 0.16 and staying positive to g = 1.5; with another coupling matrix the first crossing
      is at g = 0.23, followed by a re-entrant, marginally ordered window (g = 0.68-0.97, lambda -0.01 to -0.18)
      and chaos again from g = 0.99. Memory capacity 2.6 at g = 0.15 (3.1 at g = 0). Sine/square: 100 % on three
      seeds against 63-70 % for the raw-input baseline (8-sample window). One-step Mackey-Glass NRMSE 0.015 at
      g = 0, but the closed-loop forecast is poor: valid prediction time 0.03 Lyapunov times at the best
      validation gain (0.2), at most 0.1 in every setting tried (input scaling, theta, ridge, passthrough).

    **Defaults** (physically plausible, order of magnitude only where marked [M]; vortex MTJ STNOs):

    - `damping_rate` $\Gamma_G$ = 5e7 1/s ($1/\Gamma_G$ = 20 ns): vortex STNOs relax in 10-100 ns, slower near
      threshold (Taniguchi et al., arXiv:1707.01960; Torrejon et al. 2017) [M].
    - `zeta` = 2.0 (range used in the literature 1.1-3) [M]; `q` Q = 2 (1-5) [M].
    - `nonlinear_shift` N = 3 $\Gamma_G$ = 1.5e8 rad/s (about 24 MHz per unit power; vortex oscillators tune by
      tens of MHz with current) [M].
    - `frequency` $f_0$ = 300 MHz (Torrejon et al.'s FeB vortex junction, about 375 nm) [M].
    - `theta` = 10 ns per virtual node (Torrejon et al. used tens of ns per node) [M]; `threshold_current`
      $I_{th}$ = 4 mA and `resistance` R = 50 ohm (used only for the energy estimate) [M].

    **Arguments:**

    - `in_size`: number of input channels, >= 1. Default 1.
    - `n_virtual`: virtual nodes per oscillator N, >= 1. Default 50.
    - `key`: PRNG key for the mask, the coupling matrix and the device spreads.
    - `topology`: `"single"` (default) or `"array"`.
    - `n_oscillators`: array size, >= 2 for `"array"` (must be 1 for `"single"`). Default 1.
    - `gain`: $\kappa$ (single, in [-5, 5]) or $g$ (array, >= 0). Default 0 (no feedback / uncoupled).
    - `zeta`: supercriticality $I_{dc}/I_{th}$, in (1, 10]. Default 2.
    - `q`: nonlinear damping Q, >= 0. Default 2.
    - `damping_rate`: $\Gamma_G$ in 1/s, > 0. Default 5e7.
    - `nonlinear_shift`: N in rad/s. Default 1.5e8 (array only; the single STNO's phase decouples).
    - `coupling_phase`: $\beta$ in radians. Default 0 (array only).
    - `theta`: virtual-node duration in seconds, > 0. Default 1e-8.
    - `input_scaling`: $\gamma$, the relative current modulation per unit of masked input, >= 0. Default 0.2.
    - `delay`: feedback delay in virtual-node intervals, >= `n_virtual` (single only). Default `n_virtual`.
    - `frequency`, `frequency_spread`: $f_0$ in Hz (> 0) and the relative frequency spread (>= 0, array only).
    - `thermal_noise`: D in 1/s, >= 0. Default 0.
    - `injection`: $F_{inj}$, the rf reference in units of $\Gamma_G$ (amplitude units per $1/\Gamma_G$), >= 0
      (array only). Default 0 (free-running, gauge-fixed); the registered preset uses 0.3.
    - `substeps`: RK4 substeps per virtual node (array), >= 1. Default 4.
    - `mask`: `"binary"` ($\pm 1$, default) or `"uniform"` (U[-1, 1]), or an array `(n_oscillators, n_virtual,
      in_size)`.
    - `nonideal`, `dac_range`: as above. `threshold_current` (A), `resistance` (ohm): energy only.
    - `dtype`: floating dtype; default JAX's default float.

    **Energy:** `energy_terms()` counts `n_oscillators * n_virtual` virtual-node intervals per input sample, each
    costing $I_{dc}^2 R\,\theta$ (an estimate: no primary per-operation figure exists; SUBSTRATE-NOTES). At the
    defaults, (8 mA)^2 x 50 ohm x 10 ns = 32 pJ per node.

    Example:
        >>> res = SpinTorqueOscillator(1, 20, key=jax.random.key(0), topology="array", n_oscillators=16, gain=1.0)
        >>> model = reservoirs.fit(res, u_train, y_train, washout=200)
    """

    mask: Float[Array, "oscillators n_virtual in_size"]
    coupling: Float[Array, "oscillators oscillators"]
    detuning: Float[Array, " oscillators"]
    damping_factor: Float[Array, " oscillators"]
    gain: Float[Array, ""]
    zeta: Float[Array, ""]
    q: Float[Array, ""]
    damping_rate: Float[Array, ""]
    nonlinear_shift: Float[Array, ""]
    coupling_phase: Float[Array, ""]
    theta: Float[Array, ""]
    input_scaling: Float[Array, ""]
    thermal_noise: Float[Array, ""]
    injection: Float[Array, ""]
    nonideal: NonIdealities
    in_size: int = eqx.field(static=True)
    n_virtual: int = eqx.field(static=True)
    n_oscillators: int = eqx.field(static=True)
    topology: str = eqx.field(static=True)
    delay: int = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    noisy: bool = eqx.field(static=True)
    injected: bool = eqx.field(static=True)
    dac_range: float = eqx.field(static=True)
    frequency: float = eqx.field(static=True)
    threshold_current: float = eqx.field(static=True)
    resistance: float = eqx.field(static=True)

    def __init__(
        self,
        in_size: int = 1,
        n_virtual: int = 50,
        *,
        key: PRNGKeyArray,
        topology: str = "single",
        n_oscillators: int = 1,
        gain: RealLike = 0.0,
        zeta: RealLike = 2.0,
        q: RealLike = 2.0,
        damping_rate: RealLike = 5e7,
        nonlinear_shift: RealLike = 1.5e8,
        coupling_phase: RealLike = 0.0,
        theta: RealLike = 1e-8,
        input_scaling: RealLike = 0.2,
        delay: int | None = None,
        frequency: float = 3e8,
        frequency_spread: float = 0.0,
        thermal_noise: RealLike = 0.0,
        injection: RealLike = 0.0,
        substeps: int = 4,
        mask: str | Float[ArrayLike, "oscillators n_virtual in_size"] = "binary",
        nonideal: NonIdealities | None = None,
        dac_range: float = 1.0,
        threshold_current: float = 4e-3,
        resistance: float = 50.0,
        dtype=None,
    ):
        in_size = check_int("in_size", in_size, minimum=1)
        n_virtual = check_int("n_virtual", n_virtual, minimum=1)
        if topology not in _TOPOLOGIES:
            raise ValueError(f"`topology` must be one of {_TOPOLOGIES}, got {topology!r}")
        n_oscillators = check_int("n_oscillators", n_oscillators, minimum=1)
        if topology == "single" and n_oscillators != 1:
            raise ValueError(f"`n_oscillators` must be 1 for topology='single', got {n_oscillators}")
        if topology == "array" and n_oscillators < 2:
            raise ValueError(f"`n_oscillators` must be >= 2 for topology='array', got {n_oscillators}")
        if topology == "single":
            _check_range("gain", gain, -MAX_FEEDBACK, MAX_FEEDBACK, "the feedback gain kappa")
        else:
            check_positive("gain", gain, allow_zero=True)
        _check_zeta(zeta)
        check_positive("q", q, allow_zero=True)
        check_positive("damping_rate", damping_rate)
        _check_finite("nonlinear_shift", nonlinear_shift)
        _check_finite("coupling_phase", coupling_phase)
        check_positive("theta", theta)
        check_positive("input_scaling", input_scaling, allow_zero=True)
        check_positive("frequency", frequency)
        check_positive("frequency_spread", frequency_spread, allow_zero=True)
        check_positive("thermal_noise", thermal_noise, allow_zero=True)
        check_positive("injection", injection, allow_zero=True)
        substeps = check_int("substeps", substeps, minimum=1)
        check_positive("dac_range", dac_range)
        check_positive("threshold_current", threshold_current)
        check_positive("resistance", resistance)
        if delay is not None and topology == "array":
            raise ValueError("`delay` is the feedback delay of topology='single'; the array has no delayed feedback")
        delay = n_virtual if delay is None else check_int("delay", delay, minimum=1)
        if delay < n_virtual:
            raise ValueError(f"`delay` must be >= `n_virtual` ({n_virtual}) virtual-node intervals, got {delay}")
        nonideal = NonIdealities() if nonideal is None else nonideal
        if not isinstance(nonideal, NonIdealities):
            raise ValueError(f"`nonideal` must be a NonIdealities, got {type(nonideal).__name__}")
        unused = [n for n in _UNUSED_NONIDEAL if getattr(nonideal, n) != getattr(NonIdealities(), n)]
        if unused:
            raise ValueError(f"`nonideal` sets {unused}, which a spin-torque oscillator does not have (no programmed "
                             "conductances); use dac_bits, adc_bits, read_noise, detector_noise or variability")
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dtype}")
        k_mask, k_w, k_f, k_var = jax.random.split(key, 4)
        M = n_oscillators
        shape = (M, n_virtual, in_size)
        if isinstance(mask, str):
            if mask == "binary":
                m = jnp.where(_random.bernoulli(k_mask, 0.5, shape), 1.0, -1.0).astype(dtype)
            elif mask == "uniform":
                m = _random.uniform(k_mask, shape, dtype, -1.0, 1.0)
            else:
                raise ValueError(f"`mask` must be 'binary', 'uniform' or an array of shape {shape}, got {mask!r}")
        else:
            m = jnp.asarray(mask, dtype)
            if m.shape != shape:
                raise ValueError(f"`mask` must have shape {shape}, got {m.shape}")
        if topology == "array":
            w = _random.normal(k_w, (M, M), dtype) * (1 - jnp.eye(M, dtype=dtype))
            rho = np.max(np.abs(np.linalg.eigvals(np.asarray(w, np.float64))))
            w = w / jnp.asarray(rho if rho > 0 else 1.0, dtype)
            det = 2 * math.pi * float(frequency) * float(frequency_spread) * _random.normal(k_f, (M,), dtype)
            det = det.at[0].set(0.0)
        else:
            w = jnp.zeros((M, M), dtype)
            det = jnp.zeros((M,), dtype)
        self.mask = m
        self.coupling = w
        self.detuning = det
        self.damping_factor = nonideal.vary(1.0, (M,), key=k_var, dtype=dtype)
        self.gain = jnp.asarray(gain, dtype)
        self.zeta = jnp.asarray(zeta, dtype)
        self.q = jnp.asarray(q, dtype)
        self.damping_rate = jnp.asarray(damping_rate, dtype)
        self.nonlinear_shift = jnp.asarray(nonlinear_shift, dtype)
        self.coupling_phase = jnp.asarray(coupling_phase, dtype)
        self.theta = jnp.asarray(theta, dtype)
        self.input_scaling = jnp.asarray(input_scaling, dtype)
        self.thermal_noise = jnp.asarray(thermal_noise, dtype)
        self.injection = jnp.asarray(injection, dtype)
        self.injected = is_traced(injection) or float(injection) > 0
        self.nonideal = nonideal
        self.in_size = in_size
        self.n_virtual = n_virtual
        self.n_oscillators = M
        self.topology = topology
        self.delay = delay
        self.substeps = substeps
        self.noisy = is_traced(thermal_noise) or float(thermal_noise) > 0
        self.dac_range = float(dac_range)
        self.frequency = float(frequency)
        self.threshold_current = float(threshold_current)
        self.resistance = float(resistance)

    # ------------------------------------------------------------------------------------------------- protocol

    @property
    def feature_size(self) -> int:
        return self.n_oscillators * self.n_virtual

    @property
    def standardize_inputs(self) -> bool:
        """True: `fit` standardises inputs and targets by default (the drive current's range assumes inputs of order one)."""
        return True

    @property
    def stochastic(self) -> bool:
        return self.noisy or self.nonideal.stochastic

    @property
    def p0(self) -> Float[Array, ""]:
        """Free-running steady power p0 = (zeta - 1)/(zeta + Q) (Slavin & Tiberkevich 2009)."""
        return (self.zeta - 1) / (self.zeta + self.q)

    @property
    def relaxation_rate(self) -> Float[Array, ""]:
        """Amplitude relaxation rate Gamma_p = 2 Gamma_G (zeta - 1), in 1/s (Slavin & Tiberkevich 2009)."""
        return 2 * self.damping_rate * (self.zeta - 1)

    @property
    def input_period(self) -> float:
        """Seconds per input sample, N theta."""
        return float(self.n_virtual * self.theta)

    def init_state(self) -> tuple[Array, Array]:
        """`(dynamics, readings)`: the free-running oscillators and their diode readings, all at p0.

        Single: `dynamics` is the delay line of the last `delay` powers. Array: `(n_oscillators, 2)` real and
        imaginary parts of the amplitudes, started at sqrt(p0) with phases spread by the golden angle.
        """
        dt = self.mask.dtype
        p0 = self.p0.astype(dt)
        readings = jnp.full((self.n_oscillators, self.n_virtual), jnp.sqrt(p0), dt)
        if self.topology == "single":
            return jnp.full((self.delay,), p0, dt), readings
        phi = 2.399963229728653 * jnp.arange(self.n_oscillators, dtype=dt)
        amp = jnp.sqrt(p0)
        return jnp.stack([amp * jnp.cos(phi), amp * jnp.sin(phi)], axis=1), readings

    def current(self, u: Float[Array, " inputs"]) -> Float[Array, "oscillators n_virtual"]:
        """The input part of the supercriticality per node, zeta (1 + gamma m_i . u), through the DAC."""
        j = self.mask @ u[: self.in_size].astype(self.mask.dtype)
        j = self.nonideal.dac(j, -self.dac_range, self.dac_range)
        return self.zeta * (1 + self.input_scaling * j)

    def step(self, state, u: Float[Array, " inputs"], *, key: PRNGKeyArray | None = None):
        """One input sample: N virtual-node intervals of theta seconds each (Torrejon et al. 2017)."""
        if self.stochastic and key is None:
            raise ValueError("this oscillator is stochastic (thermal or read noise): pass `key=` to `step`")
        k_th = k_rd = k_det = None
        if key is not None:
            k_th, k_rd, k_det = jax.random.split(key, 3)
        dyn, _ = state
        z_in = self.current(u)
        if self.topology == "single":
            dyn, p = self._step_single(dyn, z_in[0], k_th)
            p = p[None]
        else:
            dyn, p = self._step_array(dyn, z_in, k_th)
        r = self.nonideal.read(_safe_sqrt(p), k_rd)
        r = self.nonideal.detect(r, 1.0, k_det)
        return dyn, r

    def features(self, state) -> Float[Array, " features"]:
        """The diode readings sqrt(p) of every oscillator and virtual node, through the ADC (full scale [0, 1])."""
        return self.nonideal.adc(state[1].reshape(-1), 0.0, 1.0)

    # ---------------------------------------------------------------------------------------------- dynamics

    def _step_single(self, line, z_in, key):
        N = self.n_virtual
        p0 = self.p0
        g_t = self.damping_rate * self.damping_factor[0] * self.theta  # Gamma_G theta
        fb = self.zeta * self.gain * (line[:N] - p0) / p0  # kappa (p(t - tau) - p0)/p0, in units of I_th
        zeta = z_in + fb
        if self.noisy:
            xi = jnp.sqrt(2 * self.thermal_noise * self.theta) * jax.random.normal(key, (N,), line.dtype)
        else:
            xi = jnp.zeros((N,), line.dtype)

        def node(p, xs):
            z, x = xs
            p = jnp.clip(logistic_update(p, z, self.q, g_t) + x, 0.0, 1.0)
            return p, p

        _, p = jax.lax.scan(node, line[-1], (zeta, xi))
        return jnp.concatenate([line[N:], p]), p

    def _step_array(self, amp, z_in, key):
        M, N, S = self.n_oscillators, self.n_virtual, self.substeps
        dt = amp.dtype
        gam = self.damping_factor  # Gamma_j / Gamma_G
        h = self.damping_rate * self.theta / S  # substep in units of 1/Gamma_G
        det = self.detuning / self.damping_rate
        nu = self.nonlinear_shift / self.damping_rate
        cw = self.gain * jnp.exp(1j * self.coupling_phase) * self.coupling.astype(jnp.result_type(1j * amp))
        c0 = amp[:, 0] + 1j * amp[:, 1]

        def rhs(c, z):
            p = jnp.real(c * jnp.conj(c))
            return (-1j * (det + nu * p) - gam * (1 + self.q * p) + gam * z * (1 - p)) * c + cw @ c + self.injection

        if self.noisy:
            xi = jax.random.normal(key, (N, S, M, 2), dt)
            xi = jnp.sqrt(2 * self.thermal_noise * self.theta / S / 2) * (xi[..., 0] + 1j * xi[..., 1])
        else:
            xi = None

        def node(c, xs):
            z, x = xs
            for s in range(S):  # S RK4 substeps with the current held constant (unrolled; S is small)
                k1 = rhs(c, z)
                k2 = rhs(c + 0.5 * h * k1, z)
                k3 = rhs(c + 0.5 * h * k2, z)
                k4 = rhs(c + h * k3, z)
                c = c + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
                if x is not None:
                    c = c + x[s]
                pc = jnp.real(c * jnp.conj(c))
                c = c * jnp.where(pc > 1, jax.lax.rsqrt(jnp.where(pc > 1, pc, 1.0)), 1.0)  # keep p in [0, 1]
            return c, jnp.real(c * jnp.conj(c))

        c, p = jax.lax.scan(node, c0, (z_in.T, xi))
        if not self.injected:
            # Gauge: rotate into the frame where oscillator 0 is real and positive (the global phase is neutral).
            a0 = _safe_sqrt(jnp.real(c[0] * jnp.conj(c[0])))
            rot = jnp.where(a0 > 0, jnp.conj(c[0]) / jnp.where(a0 > 0, a0, 1.0), 1.0)
            c = c * rot
        return jnp.stack([jnp.real(c), jnp.imag(c)], axis=1).astype(dt), p.T

    def energy_terms(self) -> list[EnergyTerm]:
        """Per input sample: `n_oscillators * n_virtual` intervals of Joule heating I_dc^2 R theta (an estimate)."""
        i_dc = float(self.zeta) * self.threshold_current
        j = i_dc**2 * self.resistance * float(self.theta)
        return [EnergyTerm(f"STNO virtual-node intervals (I_dc={i_dc * 1e3:.3g} mA, R={self.resistance:g} ohm, "
                           f"theta={float(self.theta) * 1e9:.3g} ns)", float(self.feature_size), j,
                           STNO_ENERGY_SOURCE)]


def logistic_update(p, zeta, q, g_t):
    r"""Exact solution over one interval of the power equation with a constant current (Slavin & Tiberkevich
    2009): $\dot p = -2\Gamma_G[(1 + Q p) - \zeta(1 - p)]p = 2a p - 2b p^2$, $a = \Gamma_G(\zeta - 1)$,
    $b = \Gamma_G(\zeta + Q)$; with $E = e^{-2a\theta}$, $p(\theta) = p / (E + b p (1 - E)/a)$, and
    $(1 - E)/a \to 2\theta$ as $a \to 0$. `g_t` is $\Gamma_G\theta$ (dimensionless)."""
    a = zeta - 1  # in units of Gamma_G
    b = zeta + q
    x = -2 * a * g_t
    E = jnp.exp(x)
    small = jnp.abs(x) < 1e-6
    safe_a = jnp.where(small, 1.0, a)
    frac = jnp.where(small, 2 * g_t * (1 + x / 2), -jnp.expm1(x) / safe_a)  # (1 - E)/a, in units of 1/Gamma_G
    return p / (E + b * p * frac)


def _safe_sqrt(p):
    """sqrt(p) for p >= 0 with a zero (not infinite) derivative at p = 0, so tangents stay finite."""
    pos = p > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, p, 1.0)), 0.0)


def _check_zeta(zeta):
    if zeta is None or is_traced(zeta):
        return
    v = np.asarray(zeta)
    if v.ndim != 0 or not np.isfinite(v) or not 1 < v <= MAX_ZETA:
        raise ValueError(f"`zeta` (supercriticality I_dc / I_th) must be in (1, {MAX_ZETA}], got {zeta!r}")


def _check_range(name, value, lo, hi, what):
    if value is None or is_traced(value):
        return
    v = np.asarray(value)
    if v.ndim != 0 or not np.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"`{name}` ({what}) must be in [{lo}, {hi}], got {value!r}")


def _check_finite(name, value):
    if is_traced(value):
        return
    v = np.asarray(value)
    if v.ndim != 0 or not np.isfinite(v):
        raise ValueError(f"`{name}` must be a finite scalar, got {value!r}")


# ------------------------------------------------------------------------------------------------------ registry

#: CLI presets per task, chosen on the sweep's data from two trials (without injection the exponent against g was
#: non-monotonic and ~0 at g = 0, the relative phases being neutral). Forecasting tasks and the sweep:
#: the injection-locked array, whose coupling `gain` crosses the edge of chaos at g = 0.16 (CLI data and key) under
#: Mackey-Glass drive (benchmarks/results/spintronic.md). Inputs are standardised. Sine/square: the same array,
#: in the ordered regime (g = 0.1).
_PRESETS = {
    "forecast": dict(topology="array", n_virtual=20, frequency_spread=0.01, injection=0.3, input_scaling=0.2),
    "sine-square": dict(topology="array", n_virtual=20, frequency_spread=0.01, injection=0.3, input_scaling=0.2),
}


def _build(in_size, units, gain, *, key, task="mackey-glass"):
    kw = _PRESETS.get(task, _PRESETS["forecast"])
    return SpinTorqueOscillator(in_size, key=key, n_oscillators=units, gain=gain, **kw)


def _register():
    from reservoirs import register_reservoir

    register_reservoir(
        "spintronic",
        build=_build,
        units=16,
        gain=0.15,
        sweep_gains=(0.0, 1.5),
        description="spin-torque nano-oscillators: 16 coupled, injection-locked STNOs time-multiplexed into virtual "
        "nodes (Slavin & Tiberkevich 2009; Torrejon et al. 2017); gain = coupling rate / Gamma_G",
        gain_unit="coupling rate g of the STNO array, in units of the damping rate Gamma_G",
        min_gain=0.0,
        forecasts=False,
        forecast_note="the array's sqrt(p) features carry about 3 samples of memory; closed-loop Mackey-Glass "
        "lasts 0.03 Lyapunov times (benchmarks/results/spintronic.md), although one-step prediction is fine",
        task_defaults={"sine-square": {"units": 16, "gain": 0.1}},
    )


_register()

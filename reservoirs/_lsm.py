r"""A liquid state machine: leaky integrate-and-fire neurons with dynamic synapses on a 3-D grid.

The default is the cortical column of Maass, Natschläger & Markram 2002 ("Real-time computing without stable
states", Neural Comput. 14:2531, Appendix). Units throughout: time in ms, potentials in mV, currents in nA,
resistance in MΩ (so that MΩ x nA = mV), rates in Hz.

**Gradients.** A spike is a threshold crossing: its derivative with respect to the membrane potential is zero
almost everywhere (and undefined at the threshold). JAX differentiates the simulation as written, so derivatives
see the sub-threshold dynamics, the synaptic currents and the amplitudes of the spikes that did occur, but never a
change in *whether or when* a neuron fires. No surrogate gradient is provided. Two consequences:

- `reservoirs.lyapunov_spectrum` (which linearises `step` with `jax.linearize`) measures only the contraction of
  the membrane and synaptic variables between spikes: it stays near zero (-0.03 to +0.006 per sample in
  `benchmarks/bench_lsm.py`) with no trend across the edge, and says nothing about the edge of chaos of a spiking
  network. Use `spike_perturbation` (the Hamming distance between spike trains after
  one extra spike; Bertschinger & Natschläger 2004, Neural Comput. 16:1413, for binary networks) or
  `branching_ratio` instead.
- Readouts are trained by ridge regression on the filtered spike trains (`reservoirs.fit`), which needs no
  gradient through the liquid.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray
from scipy import special

from ._checks import RealLike, as_series, check_int, check_interval, check_key, check_positive, check_reservoir
from ._reservoir import AbstractReservoir, step_key

#: Connection types, presynaptic population first: "EI" is excitatory -> inhibitory.
CONNECTION_TYPES = ("EE", "EI", "IE", "II")

#: Maass et al. 2002, Appendix: scale C of the connection probability C exp(-(D/lambda)^2).
MAASS_CONNECTIVITY = {"EE": 0.3, "EI": 0.2, "IE": 0.4, "II": 0.1}
#: Maass et al. 2002, Appendix: mean (U, D, F) of the dynamic synapses, D and F in ms (the paper gives seconds:
#: EE .5/1.1/.05, EI .05/.125/1.2, IE .25/.7/.02, II .32/.144/.06), after Markram, Wang & Tsodyks 1998
#: (PNAS 95:5323) and Gupta, Wang & Markram 2000 (Science 287:273).
MAASS_SYNAPSES = {
    "EE": (0.5, 1100.0, 50.0),
    "EI": (0.05, 125.0, 1200.0),
    "IE": (0.25, 700.0, 20.0),
    "II": (0.32, 144.0, 60.0),
}
#: Maass et al. 2002, Appendix: mean synaptic amplitude A in nA (negative: inhibitory).
MAASS_AMPLITUDES = {"EE": 30.0, "EI": 60.0, "IE": -19.0, "II": -19.0}
#: Maass et al. 2002, Appendix: transmission delays in ms.
MAASS_DELAYS = {"EE": 1.5, "EI": 0.8, "IE": 0.8, "II": 0.8}

_ENCODERS = ("current", "poisson", "latency", "spikes")
_READOUTS = ("trace", "voltage", "both")
#: The `since` counter saturates here (steps); exp(-CAP dt / F) is 0 for every realistic F.
_SINCE_CAP = 1.0e6


class SynapseGroup(eqx.Module):
    """The synapses leaving one presynaptic population with one delay, stored by presynaptic neuron.

    Row `j` holds the outgoing synapses of neuron `pre_start + j`, padded to `k` columns (padding: `post = size`,
    which every scatter drops, and `weight = 0`). A presynaptic spike touches one row: delivery costs
    O(spikes x k), not O(synapses).
    """

    post: Int[Array, "rows k"]
    weight: Float[Array, "rows k"]  # A, nA (before the gain)
    U: Float[Array, "rows k"]
    D: Float[Array, "rows k"]  # ms
    F: Float[Array, "rows k"]  # ms
    pre_start: int = eqx.field(static=True)
    delay: int = eqx.field(static=True)  # in time steps, >= 1
    inhibitory: bool = eqx.field(static=True)
    capacity: int = eqx.field(static=True)  # spikes delivered per pass of the while loop

    @property
    def rows(self) -> int:
        return self.post.shape[0]

    def deliver(self, isi, current, u, R, gain, dt: float):
        """Deliver the spikes that arrive now: TM update of the touched rows and a scatter-add of the PSC jumps.

        `isi[j] > 0` means that presynaptic neuron j's spike arrives now; it is that spike's inter-spike interval
        in time steps. Returns the updated `(current, u, R)`.
        """
        n_pre = self.rows
        size = current.shape[0]

        def body(carry):
            remaining, current, u, R = carry
            # compaction: the (up to) `capacity` arriving rows; top_k is ~3x faster than nonzero on CPU
            flag, i = jax.lax.top_k(remaining.astype(jnp.float32), self.capacity)
            valid = flag > 0
            idx = jnp.where(valid, i, n_pre)
            delta = (jnp.maximum(isi[i], 1.0) * dt)[:, None]
            U, D, F = self.U[i], self.D[i], self.F[i]
            u_prev, R_prev = u[i], R[i]
            # Maass et al. 2002, eq. in the Appendix (Markram, Wang & Tsodyks 1998):
            # u_n = U + u_{n-1} (1 - U) exp(-Δ/F),  R_n = 1 + (R_{n-1} - u_{n-1} R_{n-1} - 1) exp(-Δ/D)
            u_new = U + u_prev * (1 - U) * jnp.exp(-delta / F)
            R_new = 1 + (R_prev - u_prev * R_prev - 1) * jnp.exp(-delta / D)
            amp = jnp.where(valid[:, None], gain * self.weight[i] * u_new * R_new, 0)
            post = jnp.where(valid[:, None], self.post[i], size)
            current = current.at[post.reshape(-1)].add(amp.reshape(-1).astype(current.dtype), mode="drop")
            u = u.at[idx].set(u_new.astype(u.dtype), mode="drop")
            R = R.at[idx].set(R_new.astype(R.dtype), mode="drop")
            remaining = remaining.at[idx].set(False, mode="drop")
            return remaining, current, u, R

        arrive = isi > 0.5
        _, current, u, R = jax.lax.while_loop(lambda c: jnp.any(c[0]), body, (arrive, current, u, R))
        return current, u, R


class LSMState(eqx.Module):
    """The state of an `LSM`; every leaf is floating point, so that generic diagnostics can perturb it.

    - `v`: membrane potentials (mV, rest 0). `i_exc`, `i_inh`: synaptic currents (nA) from excitatory (and input)
      and inhibitory synapses. `noise`: the Ornstein-Uhlenbeck background current (nA; zero without noise).
    - `refractory`: time steps of absolute refractoriness left. `since`: time steps since each neuron's last
      spike (saturating at 1e6).
    - `history`: ring buffer of the last `ring` time steps; an entry > 0 is a spike, its value the inter-spike
      interval in steps (what the dynamic synapses need on arrival). `position`: the ring slot written next.
    - `u`, `R`: Tsodyks-Markram variables of the last spike per synapse, one array per `SynapseGroup`.
    - `trace`: the spike trains filtered with an exponential kernel; the readout's features.
    """

    v: Float[Array, " size"]
    i_exc: Float[Array, " size"]
    i_inh: Float[Array, " size"]
    noise: Float[Array, " size"]
    refractory: Float[Array, " size"]
    since: Float[Array, " size"]
    history: Float[Array, "ring size"]
    position: Float[Array, ""]
    u: tuple[Float[Array, "_rows _k"], ...]
    R: tuple[Float[Array, "_rows _k"], ...]
    trace: Float[Array, " size"]


class LSM(AbstractReservoir):
    r"""Liquid state machine (Maass, Natschläger & Markram 2002, Neural Comput. 14:2531).

    `size` leaky integrate-and-fire neurons sit on the integer points of a 3-D grid (default: Maass's 15 x 3 x 3
    column, 135 neurons, a random 20 % of them inhibitory). A neuron a projects to b with probability
    $C_{ab} \exp(-(D(a,b)/\lambda)^2)$, with D the Euclidean grid distance (no self-connections). Membrane:

    $$\tau_m \frac{dV}{dt} = -V + R_{in}\,(I_{exc} + I_{inh} + I_b + I_{noise} + I_{in}),$$

    spike when $V \ge V_{th}$, then $V = V_{reset}$, held there for the refractory period. Each spike reaches its
    targets after the delay of its connection type and adds $g \, A \, u_n R_n$ to an exponentially decaying
    synaptic current ($\tau_s$ = 3 ms excitatory, 6 ms inhibitory), where $u_n$, $R_n$ follow the
    Tsodyks-Markram recursion with per-synapse U, D, F (Maass 2002, Appendix; Markram, Wang & Tsodyks 1998,
    PNAS 95:5323):

    $$u_n = U + u_{n-1}(1-U)e^{-\Delta_{n-1}/F}, \quad R_n = 1 + (R_{n-1} - u_{n-1}R_{n-1} - 1)e^{-\Delta_{n-1}/D},
    \quad u_1 = U,\ R_1 = 1,$$

    $\Delta_{n-1}$ the interval between spikes n-1 and n. **`gain` g scales all recurrent amplitudes A** (the
    input synapses are not scaled): it moves the liquid from ordered (perturbations die out) to chaotic. Measured
    with `spike_perturbation` (3 networks, 16 perturbations each): with the default background the order
    parameter crosses zero at g ≈ 1.3 (spontaneous) and 1.5 (driven), so g = 1 is on the ordered side; with
    Maass's noiseless 13.5 nA background, driven by a random current, at g ≈ 2.6 (`benchmarks/bench_lsm.py`).

    Time is discretised with step `dt` (ms); one input sample spans `steps_per_sample` steps, and `step` advances
    one sample. The membrane and the synaptic currents are integrated exactly between steps (exact integration of
    the linear sub-threshold dynamics, Rotter & Diesmann 1999, Biol. Cybern. 81:381); spikes are registered at the
    end of the step in which V crossed the threshold, so spike times carry an error of up to `dt`. Delays and
    refractory periods are rounded to whole steps (at least one step for a delay). At the default `dt` = 0.5 ms the
    0.8 ms delays become 1.0 ms; use `dt` = 0.1 ms for Maass's delays exactly.

    The features (what the readout sees) are the spike trains filtered with an exponential kernel
    (`tau_readout` = 30 ms, Maass 2002), sampled at the end of each input sample: trace += 1 at every spike, so
    a neuron firing steadily at r Hz has trace ≈ r x tau_readout / 1000.

    Inputs, by `encoder` (a static choice):

    - `"current"`: direct current injection, $I_{in} = s_{in} W_{in} u$ (nA), held over the sample.
    - `"poisson"`: rate coding: channel c fires a Poisson train (at most one spike per step) of rate
      `max_rate` x clip(u_c, 0, 1) Hz. Needs the step key, so the LSM is `stochastic`.
    - `"latency"`: channel c fires one spike per sample, at step round((1 - u_c) (steps_per_sample - 1)) for
      u_c in (0, 1] (strong inputs fire early), none for u_c <= 0.
    - `"spikes"`: u_c is a spike count, delivered at the sample's first step (to feed given spike trains: use
      `steps_per_sample=1` so that one sample is one time step).

    Input spikes add $s_{in} W_{in}$ to the excitatory synaptic current through static synapses (no short-term
    plasticity: a simplification). $W_{in}$: each channel reaches a random `input_connectivity` fraction of the
    neurons with amplitudes of mean 18 nA (onto excitatory) and 9 nA (onto inhibitory neurons), gamma-distributed
    with a standard deviation of `amplitude_spread` (100 %) of the mean (Maass 2002, Appendix).

    Heterogeneity (Maass 2002, Appendix): U, D, F are drawn per synapse from Gaussians with a standard deviation of
    `parameter_spread` (50 %) of the mean, truncated to (0, 2 x mean] (and U <= 1) so that the mean is kept;
    amplitudes A from a gamma distribution with a standard deviation of `amplitude_spread` (100 %) of the mean.
    Initial membrane potentials are uniform in [V_reset, V_th] (Maass 2002), drawn once at construction, so that
    `init_state()` is deterministic.

    **Background drive.** Maass 2002 used a constant 13.5 nA (R I_b = 13.5 mV, below the 15 mV threshold), which
    leaves an undriven column silent. Here each neuron's constant background is drawn uniformly from
    `background_current` ± `background_spread` (default 13.5-14.5 nA: still below threshold, so that no neuron is
    an autonomous oscillator, whose phase would be a memory that never fades), plus an Ornstein-Uhlenbeck noise
    current of standard deviation `noise` (default 2.5 nA, correlation time 3 ms). These defaults were tuned for
    spontaneous firing of 5-15 Hz: excitatory 7.3 ± 0.5 Hz, inhibitory 13.3 ± 1.9 Hz, ISI CV 0.86 (10 networks,
    5 s each, `benchmarks/bench_lsm.py`). The noise makes the default LSM `stochastic`: `run`, `fit` and
    `predict` need a `key`. `background_current=13.5, background_spread=0, noise=0` is Maass's deterministic
    setting (activity only when driven). A suprathreshold deterministic background (e.g. 14.75 ± 1 nA) also
    fires at ~10 Hz, but its regularly firing neurons never forget the initial state.

    Independent noise costs computation: classifying jittered spike-train templates from the liquid state, the
    default (noisy) column scores 0.61 on average (chance 0.38) when every trial gets its own noise, and 0.97
    when all trials share one noise realisation, as does Maass's noiseless setting (`benchmarks/bench_lsm.py`).
    For computing, prefer `noise=0` (with `background_current=13.5, background_spread=0`) or a fixed key.

    **Arguments** (units in brackets):

    - `in_size`: number of input channels (>= 0).
    - `size`: number of neurons. Without `grid`, the neurons fill the first `size` points of a
      (ceil(size / 9), 3, 3) column. Default 135.
    - `key`: PRNG key; the same key gives the same network, bit for bit.
    - `grid`: (nx, ny, nz), with nx ny nz == size. Default: see `size`.
    - `gain`: scale of all recurrent synaptic amplitudes, > 0. Default 1 (Maass's amplitudes).
    - `input_scaling`: scale of the input weights W_in, >= 0. Default 1.
    - `encoder`: `"current"` (default), `"poisson"`, `"latency"` or `"spikes"` (above).
    - `dt` [ms]: time step, > 0. Default 0.5.
    - `steps_per_sample`: time steps per input sample, >= 1. Default 20 (one sample = 10 ms).
    - `inhibitory_fraction`: fraction of inhibitory neurons, in [0, 1]. Default 0.2.
    - `lam`: the length constant λ of the connection probability, in grid units, > 0. Default 2.
    - `connectivity`: C per connection type, in [0, 1]; a dict with any of "EE", "EI", "IE", "II". Default
      `MAASS_CONNECTIVITY`.
    - `synapses`: (U, D [ms], F [ms]) per connection type. Default `MAASS_SYNAPSES`.
    - `amplitudes` [nA]: mean A per connection type (E-> positive, I-> negative). Default `MAASS_AMPLITUDES`.
    - `delays` [ms]: per connection type, > 0. Default `MAASS_DELAYS`.
    - `input_amplitudes` [nA]: mean input amplitude onto (excitatory, inhibitory) neurons. Default (18, 9).
    - `input_connectivity`: probability that an input channel reaches a neuron, in [0, 1]. Default 0.3.
    - `tau_m` [ms]: membrane time constant, > 0. Default 30.
    - `v_thresh`, `v_reset` [mV]: threshold and reset, `v_thresh > v_reset`. Defaults 15 and 13.5.
    - `r_in` [MΩ]: input resistance, > 0. Default 1.
    - `refractory` [ms]: (excitatory, inhibitory) absolute refractory periods, >= 0. Default (3, 2).
    - `tau_syn` [ms]: (excitatory, inhibitory) synaptic time constants, > 0. Default (3, 6).
    - `background_current` [nA]: mean constant background current. Default 14.0 (see above).
    - `background_spread` [nA]: the background of each neuron is drawn uniformly from `background_current` ±
      this, >= 0. Default 0.5.
    - `noise` [nA]: standard deviation of an Ornstein-Uhlenbeck background current with correlation time
      `tau_syn[0]`, >= 0. Default 2.5. Any noise makes the LSM `stochastic` (`fit` and `run` need a `key`).
    - `parameter_spread`, `amplitude_spread`: relative standard deviations (above), >= 0. Defaults 0.5 and 1.
    - `tau_readout` [ms]: the exponential kernel of the features, > 0. Default 30.
    - `max_rate` [Hz]: the Poisson encoder's rate at u = 1, in (0, 1000 / dt]. Default 100.
    - `readout`: the features: `"trace"` (default, Maass 2002: the filtered spike trains), `"voltage"` (the
      membrane potentials, an analog read-out that a spiking chip would not provide) or `"both"` (concatenated).
    - `dtype`: floating dtype; default JAX's default float.

    Example:
        >>> lsm = LSM(1, key=jax.random.key(0))            # Maass's 135-neuron column
        >>> state, feats = run(lsm, jnp.zeros((100, 1)), key=jax.random.key(1))
        >>> feats.shape
        (100, 135)
    """

    W_in: Float[Array, "size in_size"]
    background: Float[Array, " size"]
    v_init: Float[Array, " size"]
    refractory_steps: Float[Array, " size"]
    positions: Int[Array, "size 3"]
    groups: tuple[SynapseGroup, ...]
    gain: Float[Array, ""]
    input_scaling: Float[Array, ""]
    tau_m: Float[Array, ""]
    v_thresh: Float[Array, ""]
    v_reset: Float[Array, ""]
    r_in: Float[Array, ""]
    tau_exc: Float[Array, ""]
    tau_inh: Float[Array, ""]
    noise: Float[Array, ""]
    tau_readout: Float[Array, ""]
    max_rate: Float[Array, ""]
    size: int = eqx.field(static=True)
    n_exc: int = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    grid: tuple[int, int, int] = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    steps_per_sample: int = eqx.field(static=True)
    encoder: str = eqx.field(static=True)
    readout: str = eqx.field(static=True)
    ring: int = eqx.field(static=True)
    noisy: bool = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        size: int = 135,
        *,
        key: PRNGKeyArray,
        grid: tuple[int, int, int] | None = None,
        gain: RealLike = 1.0,
        input_scaling: RealLike = 1.0,
        encoder: str = "current",
        dt: RealLike = 0.5,
        steps_per_sample: int = 20,
        inhibitory_fraction: RealLike = 0.2,
        lam: RealLike = 2.0,
        connectivity: dict[str, float] | None = None,
        synapses: dict[str, tuple[float, float, float]] | None = None,
        amplitudes: dict[str, float] | None = None,
        delays: dict[str, float] | None = None,
        input_amplitudes: tuple[float, float] = (18.0, 9.0),
        input_connectivity: RealLike = 0.3,
        tau_m: RealLike = 30.0,
        v_thresh: RealLike = 15.0,
        v_reset: RealLike = 13.5,
        r_in: RealLike = 1.0,
        refractory: tuple[float, float] = (3.0, 2.0),
        tau_syn: tuple[float, float] = (3.0, 6.0),
        background_current: RealLike = 14.0,
        background_spread: RealLike = 0.5,
        noise: RealLike = 2.5,
        parameter_spread: RealLike = 0.5,
        amplitude_spread: RealLike = 1.0,
        tau_readout: RealLike = 30.0,
        max_rate: RealLike = 100.0,
        readout: str = "trace",
        dtype=None,
    ):
        # ---- validation: every argument named, with its allowed range
        in_size = check_int("in_size", in_size, minimum=0)
        size = check_int("size", size, minimum=1)
        grid = _check_grid(grid, size)
        check_positive("dt", dt)
        dt = float(dt)
        steps_per_sample = check_int("steps_per_sample", steps_per_sample, minimum=1)
        if encoder not in _ENCODERS:
            raise ValueError(f"`encoder` must be one of {_ENCODERS}, got {encoder!r}")
        if readout not in _READOUTS:
            raise ValueError(f"`readout` must be one of {_READOUTS}, got {readout!r}")
        check_interval("inhibitory_fraction", inhibitory_fraction, 0.0, 1.0, low_open=False, high_open=False)
        check_positive("lam", lam)
        check_positive("gain", gain)
        check_positive("input_scaling", input_scaling, allow_zero=True)
        check_interval("input_connectivity", input_connectivity, 0.0, 1.0, low_open=False, high_open=False)
        for name, value in (("tau_m", tau_m), ("r_in", r_in), ("tau_readout", tau_readout), ("max_rate", max_rate)):
            check_positive(name, value)
        for name, value in (("v_thresh", v_thresh), ("v_reset", v_reset), ("background_current", background_current)):
            _check_finite_scalar(name, value)
        if not float(v_thresh) > float(v_reset):
            raise ValueError(f"`v_thresh` must be > `v_reset` = {float(v_reset)} mV, got {float(v_thresh)}")
        for name, value in (
            ("background_spread", background_spread),
            ("noise", noise),
            ("parameter_spread", parameter_spread),
            ("amplitude_spread", amplitude_spread),
        ):
            check_positive(name, value, allow_zero=True)
        if encoder == "poisson" and float(max_rate) * dt > 1000.0:
            raise ValueError(
                f"`max_rate` must be <= 1000 / dt = {1000.0 / dt:g} Hz (one spike per step), got {max_rate}"
            )
        refractory = _check_pair("refractory", refractory, allow_zero=True)
        tau_syn = _check_pair("tau_syn", tau_syn, allow_zero=False)
        input_amplitudes = _check_pair("input_amplitudes", input_amplitudes, allow_zero=True)
        conn = _check_table("connectivity", connectivity, MAASS_CONNECTIVITY, _check_probability)
        syn = _check_table("synapses", synapses, MAASS_SYNAPSES, _check_udf)
        amp = _check_table("amplitudes", amplitudes, MAASS_AMPLITUDES, _check_amplitude)
        dly = _check_table("delays", delays, MAASS_DELAYS, _check_delay)
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dtype}")

        n_inh = int(round(float(inhibitory_fraction) * size))
        n_exc = size - n_inh
        k_net, k_syn = jax.random.split(key)
        nx, ny, nz = grid
        offsets, d2 = _candidate_offsets(grid, float(lam), max(conn.values()))
        cv = float(amplitude_spread)
        draw = _network_draws(k_net, size, offsets.shape[0], in_size)

        # ---- neurons on the grid: neurons 0..n_exc-1 are excitatory, a random permutation places them
        slots = np.argsort(np.asarray(draw["slots"]), kind="stable")
        positions = np.stack([slots // (ny * nz), (slots // nz) % ny, slots % nz], axis=1).astype(np.int32)
        pre, post = _sample_connections(np.asarray(draw["connect"]), positions, grid, n_exc, float(lam), conn,
                                        offsets, d2)

        # ---- synapse parameters, one draw per synapse (type-dependent means)
        is_inh = np.arange(size) >= n_exc
        ctype = 2 * is_inh[pre].astype(np.int64) + is_inh[post].astype(np.int64)  # 0 EE, 1 EI, 2 IE, 3 II
        means = np.array([syn[t] for t in CONNECTION_TYPES], np.float64)  # (4, 3)
        a_means = np.array([amp[t] for t in CONNECTION_TYPES], np.float64)
        n_syn = pre.size
        n_pad = 1 << max(n_syn - 1, 0).bit_length()  # one compilation per power of two
        uniforms = np.asarray(_uniforms(k_syn, 4 * n_pad), np.float64).reshape(4, n_pad)[:, :n_syn]
        ps = float(parameter_spread)
        U = _positive_normal(uniforms[0], means[ctype, 0], ps, upper=1.0)
        D = _positive_normal(uniforms[1], means[ctype, 1], ps)
        F = _positive_normal(uniforms[2], means[ctype, 2], ps)
        A = _gamma(uniforms[3], a_means[ctype], cv)
        delay_steps = {t: max(1, int(round(dly[t] / dt))) for t in CONNECTION_TYPES}

        # ---- group by (presynaptic population, delay): each group is one ring-buffer read per step
        groups = []
        for pre_inh in (False, True):
            types = ("IE", "II") if pre_inh else ("EE", "EI")
            for d in sorted({delay_steps[t] for t in types}):
                members = [i for i, t in enumerate(CONNECTION_TYPES) if t in types and delay_steps[t] == d]
                sel = np.isin(ctype, members)
                start, stop = (n_exc, size) if pre_inh else (0, n_exc)
                if not sel.any():  # no synapses of this kind: nothing to deliver
                    continue
                groups.append(
                    _pack_group(pre[sel] - start, post[sel], A[sel], U[sel], D[sel], F[sel], stop - start, size,
                                start, d, pre_inh, dt, dtype)
                )

        # ---- input weights: a random `input_connectivity` fraction, gamma amplitudes
        mask = np.asarray(draw["in_mask"]) < float(input_connectivity)
        in_mean = np.where(is_inh, input_amplitudes[1], input_amplitudes[0])[:, None]
        W_in = _gamma(np.asarray(draw["in_amp"], np.float64), in_mean, cv) * mask

        bg = float(background_current) + float(background_spread) * (2 * draw["background"] - 1)
        v_init = float(v_reset) + (float(v_thresh) - float(v_reset)) * np.asarray(draw["v_init"], np.float64)
        ref = np.where(is_inh, refractory[1], refractory[0])

        self.W_in = jnp.asarray(W_in, dtype)
        self.background = jnp.asarray(bg, dtype)
        self.v_init = jnp.asarray(v_init, dtype)
        self.refractory_steps = jnp.asarray(np.round(ref / dt), dtype)
        self.positions = jnp.asarray(positions)
        self.groups = tuple(groups)
        self.gain = jnp.asarray(gain, dtype)
        self.input_scaling = jnp.asarray(input_scaling, dtype)
        self.tau_m = jnp.asarray(tau_m, dtype)
        self.v_thresh = jnp.asarray(v_thresh, dtype)
        self.v_reset = jnp.asarray(v_reset, dtype)
        self.r_in = jnp.asarray(r_in, dtype)
        self.tau_exc = jnp.asarray(tau_syn[0], dtype)
        self.tau_inh = jnp.asarray(tau_syn[1], dtype)
        self.noise = jnp.asarray(noise, dtype)
        self.tau_readout = jnp.asarray(tau_readout, dtype)
        self.max_rate = jnp.asarray(max_rate, dtype)
        self.size = size
        self.n_exc = n_exc
        self.in_size = in_size
        self.grid = grid
        self.dt = dt
        self.steps_per_sample = steps_per_sample
        self.encoder = encoder
        self.readout = readout
        self.ring = max([g.delay for g in groups], default=1)
        self.noisy = float(noise) > 0

    # ------------------------------------------------------------------------------------------------------------
    # AbstractReservoir
    # ------------------------------------------------------------------------------------------------------------

    @property
    def feature_size(self) -> int:
        return 2 * self.size if self.readout == "both" else self.size

    @property
    def stochastic(self) -> bool:
        return self.encoder == "poisson" or self.noisy

    @property
    def differentiable(self) -> bool:
        return False

    @property
    def differentiable_note(self) -> str:
        return ("its spike threshold has zero derivative almost everywhere, so gradients with respect to the "
                "hyperparameters are zero or meaningless (no surrogate gradients are provided).")

    @property
    def n_inh(self) -> int:
        return self.size - self.n_exc

    @property
    def sample_duration(self) -> float:
        """Duration of one input sample, ms."""
        return self.dt * self.steps_per_sample

    @property
    def n_synapses(self) -> int:
        """Number of recurrent synapses."""
        return int(sum(int(np.sum(np.asarray(g.post) < self.size)) for g in self.groups))

    def out_degree(self) -> Float[Array, " size"]:
        """Number of recurrent synapses leaving each neuron (the synaptic events one of its spikes causes)."""
        deg = jnp.zeros(self.size, self.v_init.dtype)
        for g in self.groups:
            deg = deg.at[g.pre_start : g.pre_start + g.rows].add(jnp.sum(g.post < self.size, axis=1).astype(deg.dtype))
        return deg

    def connection_matrix(self) -> Float[Array, "size size"]:
        """Dense matrix of the amplitudes A (nA, without the gain): entry [post, pre]. For inspection and tests."""
        W = jnp.zeros((self.size + 1, self.size), self.v_init.dtype)  # row `size` collects the padding
        for g in self.groups:
            pre = jnp.broadcast_to(g.pre_start + jnp.arange(g.rows)[:, None], g.post.shape)
            W = W.at[g.post, pre].add(g.weight)
        return W[: self.size]

    def init_state(self) -> LSMState:
        dtype = self.v_init.dtype
        zeros = jnp.zeros(self.size, dtype)
        return LSMState(
            v=self.v_init,
            i_exc=zeros,
            i_inh=zeros,
            noise=zeros,
            refractory=zeros,
            since=jnp.full(self.size, _SINCE_CAP, dtype),
            history=jnp.zeros((self.ring, self.size), dtype),
            position=jnp.zeros((), dtype),
            u=tuple(g.U.astype(dtype) for g in self.groups),
            R=tuple(jnp.ones_like(g.U, dtype) for g in self.groups),
            trace=zeros,
        )

    def step(self, state: LSMState, u: Float[Array, " inputs"], *, key: PRNGKeyArray | None = None) -> LSMState:
        return self.advance(state, u, key=key)[0]

    def features(self, state: LSMState) -> Float[Array, " features"]:
        if self.readout == "voltage":
            return state.v
        if self.readout == "both":
            return jnp.concatenate([state.trace, state.v])
        return state.trace

    # ------------------------------------------------------------------------------------------------------------
    # Simulation
    # ------------------------------------------------------------------------------------------------------------

    def advance(
        self, state: LSMState, u: Float[Array, " inputs"], *, key: PRNGKeyArray | None = None
    ) -> tuple[LSMState, Bool[Array, "steps size"]]:
        """Advance one input sample (`steps_per_sample` time steps, one `lax.scan`); also return the spikes."""
        dtype = self.v_init.dtype
        sps = self.steps_per_sample
        u = u[: self.in_size].astype(dtype)
        ext = jnp.zeros(self.size, dtype)
        in_spikes = None
        if self.encoder == "current":
            ext = self.input_scaling * (self.W_in @ u)
        elif self.encoder == "poisson":
            p = self.max_rate * jnp.clip(u, 0, 1) * (self.dt / 1000.0)
            draw = jax.random.uniform(jax.random.fold_in(key, 0), (sps, self.in_size), jnp.float32)
            in_spikes = (draw < p).astype(dtype)
        elif self.encoder == "latency":
            k = jnp.round((1 - jnp.clip(u, 0, 1)) * (sps - 1))
            in_spikes = ((jnp.arange(sps)[:, None] == k[None, :]) & (u > 0)[None, :]).astype(dtype)
        else:  # "spikes"
            in_spikes = jnp.zeros((sps, self.in_size), dtype).at[0].set(u)
        if self.noisy:
            # float32 draws (half the threefry work of float64; the noise needs no more precision), then cast
            xi = jax.random.normal(jax.random.fold_in(key, 1), (sps, self.size), jnp.float32).astype(dtype)
        else:
            xi = jnp.zeros((sps, 0), dtype)
        in_current = (
            jnp.zeros((sps, self.size), dtype)
            if in_spikes is None
            else self.input_scaling * (in_spikes @ self.W_in.T)
        )

        def body(s, xs):
            return self._substep(s, ext, *xs)

        return jax.lax.scan(body, state, (in_current, xi))

    def _substep(self, s: LSMState, ext, in_current, xi):
        dt = self.dt
        dtype = s.v.dtype
        pos = jnp.mod(jnp.floor(s.position).astype(jnp.int32), self.ring)
        i_exc, i_inh = s.i_exc, s.i_inh
        us, Rs = [], []
        for g, u_g, R_g in zip(self.groups, s.u, s.R, strict=True):
            slot = jnp.mod(pos - g.delay, self.ring)
            isi = jax.lax.dynamic_index_in_dim(s.history, slot, keepdims=False)[g.pre_start : g.pre_start + g.rows]
            if g.inhibitory:
                i_inh, u_g, R_g = g.deliver(isi, i_inh, u_g, R_g, self.gain, dt)
            else:
                i_exc, u_g, R_g = g.deliver(isi, i_exc, u_g, R_g, self.gain, dt)
            us.append(u_g)
            Rs.append(R_g)
        i_exc = i_exc + in_current

        # Ornstein-Uhlenbeck background noise (exact update), correlation time tau_exc
        if self.noisy:
            a = jnp.exp(-dt / self.tau_exc)
            noise = s.noise * a + self.noise * jnp.sqrt(1 - a * a) * xi
        else:
            noise = s.noise

        # exact integration of the membrane over one step (Rotter & Diesmann 1999): constant currents, and the
        # exponentially decaying synaptic currents
        em = jnp.exp(-dt / self.tau_m)
        ee = jnp.exp(-dt / self.tau_exc)
        ei = jnp.exp(-dt / self.tau_inh)
        v_free = (
            s.v * em
            + self.r_in * (self.background + ext + noise) * (1 - em)
            + self.r_in * (i_exc * _psc_propagator(self.tau_exc, self.tau_m, ee, em)
                           + i_inh * _psc_propagator(self.tau_inh, self.tau_m, ei, em))
        )
        refractory = s.refractory > 0.5
        v = jnp.where(refractory, self.v_reset, v_free)
        spike = (v >= self.v_thresh) & ~refractory
        v = jnp.where(spike, self.v_reset, v)
        ref = jnp.where(spike, self.refractory_steps, jnp.maximum(s.refractory - 1, 0))
        since = jnp.minimum(jnp.maximum(s.since, 0) + 1, _SINCE_CAP)
        isi = jnp.where(spike, since, 0).astype(dtype)
        since = jnp.where(spike, 0, since)
        history = jax.lax.dynamic_update_index_in_dim(s.history, isi, pos, 0)
        trace = s.trace * jnp.exp(-dt / self.tau_readout) + spike.astype(dtype)
        new = LSMState(
            v=v,
            i_exc=i_exc * ee,
            i_inh=i_inh * ei,
            noise=noise,
            refractory=ref,
            since=since,
            history=history,
            position=jnp.mod(pos + 1, self.ring).astype(dtype),
            u=tuple(us),
            R=tuple(Rs),
            trace=trace,
        )
        return new, spike

    # ------------------------------------------------------------------------------------------------------------
    # Energy
    # ------------------------------------------------------------------------------------------------------------

    def energy_terms(
        self, synaptic_events_per_sample: RealLike | None = None, *, chip: str = "loihi", rate: RealLike = 10.0
    ) -> tuple[SpikingEnergyTerm, ...]:
        """Energy per input sample on a neuromorphic chip: synaptic events x the chip's energy per synaptic op.

        `synaptic_events_per_sample`: measured events per sample (`synaptic_events(lsm, spikes)` / samples). If
        None, estimated for every neuron firing at `rate` Hz (default 10): `n_synapses x rate x sample
        duration`. Counts synaptic operations only: neuron updates, spike routing and input encoding are not
        included. `chip`: one of `SYNOP_ENERGY` ("loihi", "truenorth", "spinnaker").
        """
        if chip not in SYNOP_ENERGY:
            raise ValueError(f"`chip` must be one of {tuple(SYNOP_ENERGY)}, got {chip!r}")
        if synaptic_events_per_sample is None:
            check_positive("rate", rate, allow_zero=True)
            events = self.n_synapses * float(rate) * self.sample_duration / 1000.0
            how = f"estimated at {float(rate):g} Hz per neuron"
        else:
            check_positive("synaptic_events_per_sample", synaptic_events_per_sample, allow_zero=True)
            events = float(synaptic_events_per_sample)
            how = "measured"
        joules, source = SYNOP_ENERGY[chip]
        return (SpikingEnergyTerm(f"synaptic events ({chip}, {how})", events, joules, source),)


# ----------------------------------------------------------------------------------------------------------------
# Energy figures (PROTOCOLS.md, "Energy figures for accounting")
# ----------------------------------------------------------------------------------------------------------------

#: Joules per synaptic operation, with the source of each figure.
SYNOP_ENERGY: dict[str, tuple[float, str]] = {
    "loihi": (
        23.6e-12,
        "Davies et al. 2018, 'Loihi: a neuromorphic manycore processor with on-chip learning', IEEE Micro 38(1):82"
        " (energy per synaptic spike operation, 23.6 pJ)",
    ),
    "truenorth": (
        26e-12,
        "Merolla et al. 2014, 'A million spiking-neuron integrated circuit with a scalable communication network"
        " and interface', Science 345:668 (26 pJ per synaptic event)",
    ),
    "spinnaker": (
        45e-12,
        "SpiNNaker, 45 pJ per synaptic operation: figure from the project's PROTOCOLS.md energy table; primary"
        " source not checked here",
    ),
}


class SpikingEnergyTerm(NamedTuple):
    """One kind of operation per input sample: the same fields as `physical.EnergyTerm` (name, count,
    joules_per_op, source), so `physical.EnergyTerm(*term)` converts it."""

    name: str
    count: float
    joules_per_op: float
    source: str

    @property
    def joules(self) -> float:
        return self.count * self.joules_per_op


# ----------------------------------------------------------------------------------------------------------------
# Spike recording and spiking diagnostics
# ----------------------------------------------------------------------------------------------------------------


@eqx.filter_jit
def _spike_scan(lsm, state, inputs, key):
    def body(state, xs):
        u, t = xs
        state, spikes = lsm.advance(state, u, key=step_key(key, t))
        return state, spikes

    return jax.lax.scan(body, state, (inputs, jnp.arange(inputs.shape[0])))


def spike_trains(
    lsm: LSM,
    inputs: Float[ArrayLike, "time ..."],
    state: LSMState | None = None,
    *,
    key: PRNGKeyArray | None = None,
) -> tuple[LSMState, Bool[Array, "time steps size"]]:
    """Drive `lsm` with `inputs` and record every spike: `spikes[t, k, i]` is True when neuron i fired in time
    step k of input sample t (time `(t * steps_per_sample + k + 1) * dt` ms from the start).

    Same time indexing and keys as `reservoirs.run` (sample t uses `fold_in(key, t)`), so the features of `run`
    are the filtered version of these spikes. **Returns:** `(final_state, spikes)`.
    """
    _check_lsm(lsm)
    inputs = as_series("inputs", inputs, dim=lsm.in_size)
    check_key(lsm, key)
    state = lsm.init_state() if state is None else state
    return _spike_scan(lsm, state, inputs, key)


def _flat(spikes, size):
    s = jnp.asarray(spikes)
    if s.ndim < 2 or s.shape[-1] != size:
        raise ValueError(f"`spikes` must have shape (..., {size}), got {s.shape}")
    return s.reshape(-1, size)


class FiringRates(NamedTuple):
    """Mean firing rates in Hz: over the excitatory and the inhibitory population, and per neuron."""

    excitatory: float
    inhibitory: float
    per_neuron: np.ndarray


def firing_rates(lsm: LSM, spikes: Bool[ArrayLike, "... size"]) -> FiringRates:
    """Firing rates (Hz) from a spike record of `spike_trains` (any shape ending in `size`; time steps of `lsm.dt`)."""
    _check_lsm(lsm)
    s = np.asarray(_flat(spikes, lsm.size), np.float64)
    per = s.sum(0) / (s.shape[0] * lsm.dt / 1000.0)
    inh = float(per[lsm.n_exc :].mean()) if lsm.n_inh else float("nan")
    return FiringRates(float(per[: lsm.n_exc].mean()), inh, per)


def synaptic_events(lsm: LSM, spikes: Bool[ArrayLike, "... size"]) -> float:
    """Total recurrent synaptic events in a spike record: each spike of neuron j counts `out_degree[j]` events."""
    _check_lsm(lsm)
    counts = np.asarray(_flat(spikes, lsm.size), np.float64).sum(0)
    return float(counts @ np.asarray(lsm.out_degree(), np.float64))


def branching_ratio(lsm: LSM, spikes: Bool[ArrayLike, "... size"], *, bin_ms: RealLike = 4.0) -> float:
    """Branching ratio m: the slope of a linear regression of the population spike count in one bin on the count
    in the previous bin, A(t+1) ≈ m A(t) + h (the conventional estimator; Wilting & Priesemann 2018, Nat. Commun.
    9:2325, eq. 2, valid under full sampling, which a simulation has). m < 1: activity dies out (subcritical);
    m ≈ 1: critical (Beggs & Plenz 2003, J. Neurosci. 23:11167); m > 1: it grows.

    `bin_ms`: bin width in ms, rounded to whole time steps (default 4 ms, about a delay plus a synaptic rise; the
    estimate depends on it). NaN when the activity does not vary.
    """
    _check_lsm(lsm)
    check_positive("bin_ms", bin_ms)
    s = np.asarray(_flat(spikes, lsm.size), np.float64).sum(1)
    b = max(1, int(round(float(bin_ms) / lsm.dt)))
    n = s.size // b
    if n < 3:
        raise ValueError(f"`spikes` must span at least 3 bins of {b * lsm.dt:g} ms, got {s.size} steps")
    A = s[: n * b].reshape(n, b).sum(1)
    x, y = A[:-1], A[1:]
    var = np.var(x)
    return float(np.mean((x - x.mean()) * (y - y.mean())) / var) if var > 0 else float("nan")


class PerturbationResult(eqx.Module):
    """`distance[t]`: mean (over trials) Hamming distance between the spike counts of the perturbed and the
    unperturbed liquid in input sample t after the perturbation (t = 0 contains the extra spike itself).
    `order_parameter`: ln of the mean distance over the last half of the horizon, relative to the one spike put
    in (floored at 1 / (trials x window), the resolution): < 0 ordered, the perturbation dies out; > 0 it grows
    (chaotic); the edge of chaos is its zero crossing. `survival`: fraction of trials still differing at the end."""

    distance: Float[Array, " horizon"]
    order_parameter: Float[Array, ""]
    survival: Float[Array, ""]


def spike_perturbation(
    lsm: LSM,
    inputs: Float[ArrayLike, "time ..."],
    *,
    key: PRNGKeyArray,
    washout: int = 50,
    n_trials: int = 16,
    noise_key: PRNGKeyArray | None = None,
) -> PerturbationResult:
    """An order parameter for spiking liquids: does one extra spike die out or spread?

    The liquid is driven by `inputs[:washout]`; then, in each of `n_trials` copies, one random non-refractory
    neuron is made to fire one extra spike (its potential is set 10 mV above threshold), and both the copy and
    the unperturbed liquid are driven by the rest of `inputs` (with the same noise, `noise_key`). The Hamming
    distance between their spike trains, counted per input sample and neuron, is averaged over trials. This is
    the spiking analogue of the perturbation analysis of Bertschinger & Natschläger 2004 (Neural Comput.
    16:1413) used by Legenstein & Maass 2007 (Neural Netw. 20:323) for the edge of chaos; unlike
    `lyapunov_spectrum` it sees the threshold.

    `key` picks the perturbed neurons. **Returns:** a `PerturbationResult`.
    """
    _check_lsm(lsm)
    inputs = as_series("inputs", inputs, dim=lsm.in_size)
    washout = check_int("washout", washout, minimum=0)
    n_trials = check_int("n_trials", n_trials, minimum=1)
    if inputs.shape[0] - washout < 2:
        raise ValueError(f"`washout` must leave at least 2 samples of the {inputs.shape[0]} inputs, got {washout}")
    check_key(lsm, noise_key, "noise_key")
    return _perturbation_impl(lsm, inputs, key, noise_key, washout, n_trials)


@eqx.filter_jit
def _perturbation_impl(lsm, inputs, key, noise_key, washout: int, n_trials: int):
    def run_from(state, xs, t0):
        def body(state, x):
            u, t = x
            state, spikes = lsm.advance(state, u, key=step_key(noise_key, t))
            return state, jnp.sum(spikes, axis=0)

        return jax.lax.scan(body, state, (xs, t0 + jnp.arange(xs.shape[0])))[1]

    def drive(state, xs):
        def body(state, x):
            u, t = x
            return lsm.advance(state, u, key=step_key(noise_key, t))[0], None

        return jax.lax.scan(body, state, (xs, jnp.arange(xs.shape[0])))[0]

    state = drive(lsm.init_state(), inputs[:washout])
    rest = inputs[washout:]
    ref = run_from(state, rest, washout)
    # perturb a random non-refractory neuron (uniformly among them), one per trial
    logits = jnp.where(state.refractory > 0.5, -jnp.inf, 0.0)
    neurons = jax.random.categorical(key, logits, shape=(n_trials,))

    def trial(j):
        s = eqx.tree_at(lambda s: s.v, state, state.v.at[j].set(lsm.v_thresh + 10.0))
        counts = run_from(s, rest, washout)
        return jnp.sum(jnp.abs(counts - ref), axis=1).astype(lsm.v_init.dtype)

    d = jax.vmap(trial)(neurons)  # (trials, horizon)
    h = d.shape[1]
    late = d[:, h // 2 :]
    floor = 1.0 / late.size
    return PerturbationResult(
        jnp.mean(d, axis=0), jnp.log(jnp.maximum(jnp.mean(late), floor)), jnp.mean(d[:, -1] > 0)
    )


def plot_raster(lsm: LSM, spikes: Bool[ArrayLike, "... size"], *, ax=None, title: str = "", max_neurons=None):
    """Spike raster: one dot per spike, time (ms) against neuron index; excitatory neurons (indices below
    `lsm.n_exc`) in dark blue, inhibitory in red. `spikes` as returned by `spike_trains`. Returns the Figure."""
    import matplotlib.pyplot as plt

    _check_lsm(lsm)
    s = np.asarray(_flat(spikes, lsm.size))
    n = lsm.size if max_neurons is None else min(lsm.size, check_int("max_neurons", max_neurons, minimum=1))
    t, i = np.nonzero(s[:, :n])
    times = (t + 1) * lsm.dt
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.5))
    else:
        fig = ax.figure
    exc = i < lsm.n_exc
    ax.scatter(times[exc], i[exc], s=2, c="#1f3b73", marker="|", label="excitatory")
    ax.scatter(times[~exc], i[~exc], s=2, c="#c0392b", marker="|", label="inhibitory")
    ax.set_xlim(0, s.shape[0] * lsm.dt)
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    rates = firing_rates(lsm, s)
    ax.set_title(title or f"E {rates.excitatory:.1f} Hz, I {rates.inhibitory:.1f} Hz")
    ax.legend(loc="upper right", fontsize="small", markerscale=4)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Construction helpers (eager: sizes depend on the random draw)
# ----------------------------------------------------------------------------------------------------------------


def _psc_propagator(tau_s, tau_m, es, em):
    """Voltage (per unit R I0) after one step from a synaptic current I0 exp(-t/tau_s) on a membrane tau_m:
    tau_s / (tau_s - tau_m) (exp(-dt/tau_s) - exp(-dt/tau_m)); its limit (dt/tau_m) exp(-dt/tau_m) at equal taus."""
    diff = tau_s - tau_m
    same = jnp.abs(diff) < 1e-9 * tau_m
    safe = jnp.where(same, 1.0, diff)
    dt = -jnp.log(em) * tau_m
    return jnp.where(same, dt / tau_m * em, tau_s / safe * (es - em))


def _candidate_offsets(grid, lam, c_max):
    """Grid offsets (dx, dy, dz) != 0 with c_max exp(-(D/lam)^2) >= 1e-6, and their squared lengths.

    Dropping the rest loses, in expectation, less than one synapse per 10^4 neurons at the defaults, and makes
    construction O(size x offsets) instead of O(size^2)."""
    r_cut = lam * math.sqrt(max(math.log(max(c_max, 1e-300) / 1e-6), 0.0))
    rx, ry, rz = (min(int(math.floor(r_cut)), n - 1) for n in grid)
    ox, oy, oz = np.meshgrid(np.arange(-rx, rx + 1), np.arange(-ry, ry + 1), np.arange(-rz, rz + 1), indexing="ij")
    off = np.stack([ox.ravel(), oy.ravel(), oz.ravel()], 1)
    d2 = (off**2).sum(1)
    keep = (d2 > 0) & (d2 <= r_cut**2)
    return off[keep], d2[keep]


def _network_draws(key, size: int, n_offsets: int, in_size: int) -> dict[str, np.ndarray]:
    """Every fixed-shape random draw of the construction, as uniforms from one compiled call (one threefry);
    non-uniform variates are made from them on the host by inverse CDFs, which compile nothing."""
    shapes = dict(
        slots=(size,),  # argsort: a random permutation
        connect=(size, n_offsets),
        in_mask=(size, in_size),
        in_amp=(size, in_size),
        background=(size,),
        v_init=(size,),
    )
    total = sum(math.prod(s) for s in shapes.values())
    flat = np.asarray(_uniforms(key, 1 << (total - 1).bit_length()), np.float64)  # a power of two: few compiles
    out, i = {}, 0
    for name, shape in shapes.items():
        n = math.prod(shape)
        out[name] = flat[i : i + n].reshape(shape)
        i += n
    return out


@functools.partial(jax.jit, static_argnums=(1,))
def _uniforms(key, n: int):
    return jax.random.uniform(key, (n,), jnp.float32, 1e-7, 1.0 - 1e-7)


def _sample_connections(draws, positions, grid, n_exc, lam, conn, off, d2):
    """The synapses a -> b, drawn with probability C exp(-(D/lam)^2) (D the grid distance, a != b) from the
    uniforms `draws[b, offset]`. Returns (pre, post), sorted by pre then post."""
    size = positions.shape[0]
    nx, ny, nz = grid
    occupant = np.full(nx * ny * nz, -1, np.int64)
    occupant[(positions[:, 0] * ny + positions[:, 1]) * nz + positions[:, 2]] = np.arange(size)
    is_inh = (np.arange(size) >= n_exc).astype(np.int64)
    table = np.array([[conn["EE"], conn["EI"]], [conn["IE"], conn["II"]]])
    pre_list, post_list = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    chunk = max(1, 2_000_000 // max(off.shape[0], 1))
    for b0 in range(0, size if off.shape[0] else 0, chunk):  # construction only, never on a time axis
        b = np.arange(b0, min(size, b0 + chunk))
        p = positions[b][:, None, :] + off[None, :, :]
        inside = np.all((p >= 0) & (p < np.array(grid)), axis=2)
        flat = (np.clip(p[..., 0], 0, nx - 1) * ny + np.clip(p[..., 1], 0, ny - 1)) * nz + np.clip(p[..., 2], 0, nz - 1)
        a = np.where(inside, occupant[flat], -1)
        ok = a >= 0
        C = np.where(ok, table[is_inh[np.maximum(a, 0)], is_inh[b][:, None]], 0.0)
        hit = ok & (draws[b] < C * np.exp(-d2[None, :] / lam**2))
        rows, cols = np.nonzero(hit)
        pre_list.append(a[rows, cols])
        post_list.append(b[rows])
    pre, post = np.concatenate(pre_list), np.concatenate(post_list)
    order = np.lexsort((post, pre))
    return pre[order], post[order]


def _pack_group(pre, post, A, U, D, F, n_pre, size, start, delay, inhibitory, dt_ms, dtype):
    """Pad the synapse list of one group into rows by presynaptic neuron (ELL layout, by source)."""
    deg = np.bincount(pre, minlength=n_pre)
    k = max(int(deg.max(initial=0)), 1)
    slot = np.arange(pre.size) - np.repeat(np.cumsum(deg) - deg, deg)  # pre is sorted
    P = np.full((n_pre, k), size, np.int32)
    W = np.zeros((n_pre, k))
    Uk, Dk, Fk = np.full((n_pre, k), 0.5), np.ones((n_pre, k)), np.ones((n_pre, k))
    for arr, val in ((P, post), (W, A), (Uk, U), (Dk, D), (Fk, F)):
        arr[pre, slot] = val
    # rows handled per pass of the delivery loop: 3x the spikes expected per step at 10 Hz (at least 8); a burst
    # takes more passes (exact, just slower). Measured: 10,000 neurons, dt = 0.5 ms, 0.29 s per simulated second.
    capacity = int(min(n_pre, max(8, math.ceil(n_pre * dt_ms * 0.03))))
    return SynapseGroup(
        jnp.asarray(P), jnp.asarray(W, dtype), jnp.asarray(Uk, dtype), jnp.asarray(Dk, dtype), jnp.asarray(Fk, dtype),
        int(start), int(delay), bool(inhibitory), capacity,
    )


def _positive_normal(v, mean, rel_sd, upper=None):
    """Gaussian with standard deviation `rel_sd * mean`, truncated to (0, 2 mean] (and <= upper), by the inverse
    CDF of the uniforms `v`. Symmetric truncation keeps the mean."""
    mean = np.asarray(mean, np.float64)
    if rel_sd == 0:
        return mean.copy()
    sd = rel_sd * mean
    hi = 2 * mean if upper is None else np.minimum(2 * mean, upper)
    lo = 1e-3 * mean
    plo, phi = special.ndtr((lo - mean) / sd), special.ndtr((hi - mean) / sd)
    return np.clip(mean + sd * special.ndtri(plo + v * (phi - plo)), lo, hi)


def _gamma(v, mean, cv):
    """Gamma-distributed values with the given mean (sign kept) and coefficient of variation `cv`, by the
    inverse CDF of the uniforms `v` (a gamma of shape 1 / cv^2; cv = 1 is the exponential distribution)."""
    mean = np.asarray(mean, np.float64)
    if cv == 0:
        return np.broadcast_to(mean, np.broadcast_shapes(mean.shape, v.shape)).copy()
    k = 1.0 / cv**2
    return mean * special.gammaincinv(k, v) / k


def _check_grid(grid, size):
    if grid is None:
        return (int(math.ceil(size / 9)), 3, 3)
    if not isinstance(grid, tuple | list) or len(grid) != 3:
        raise ValueError(f"`grid` must be a tuple (nx, ny, nz) of three ints, got {grid!r}")
    grid = tuple(check_int("grid", int(g) if isinstance(g, np.integer) else g, minimum=1) for g in grid)
    if grid[0] * grid[1] * grid[2] != size:
        raise ValueError(f"`grid` must hold exactly `size` = {size} neurons, got {grid} ({int(np.prod(grid))} points)")
    return grid


def _check_finite_scalar(name, value):
    v = np.asarray(value)
    if v.ndim != 0 or not np.isfinite(v):
        raise ValueError(f"`{name}` must be a finite scalar, got {value!r}")


def _check_pair(name, value, *, allow_zero):
    try:
        a, b = (float(x) for x in value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a pair (excitatory, inhibitory) of numbers, got {value!r}") from None
    for x in (a, b):
        if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
            raise ValueError(f"`{name}` must be a pair of numbers {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return a, b


def _check_table(name, value, default, check):
    out = dict(default)
    if value is None:
        return out
    if not isinstance(value, dict):
        raise ValueError(f"`{name}` must be a dict keyed by {CONNECTION_TYPES}, got {type(value).__name__}")
    for k, v in value.items():
        if k not in CONNECTION_TYPES:
            raise ValueError(f"`{name}` keys must be among {CONNECTION_TYPES}, got {k!r}")
        out[k] = check(f"{name}[{k!r}]", k, v)
    return out


def _check_probability(name, _, v):
    check_interval(name, v, 0.0, 1.0, low_open=False, high_open=False)
    return float(v)


def _check_udf(name, _, v):
    try:
        U, D, F = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a triple (U, D [ms], F [ms]), got {v!r}") from None
    if not 0 < U <= 1:
        raise ValueError(f"`{name}`: U must be in (0, 1], got {U}")
    if not (D > 0 and F > 0 and np.isfinite(D) and np.isfinite(F)):
        raise ValueError(f"`{name}`: D and F must be > 0 ms, got D={D}, F={F}")
    return U, D, F


def _check_amplitude(name, kind, v):
    _check_finite_scalar(name, v)
    v = float(v)
    if (kind[0] == "E" and v < 0) or (kind[0] == "I" and v > 0):
        sign = ">= 0 (excitatory)" if kind[0] == "E" else "<= 0 (inhibitory)"
        raise ValueError(f"`{name}` must be {sign}, got {v}")
    return v


def _check_delay(name, _, v):
    check_positive(name, v)
    return float(v)


def _check_lsm(lsm):
    check_reservoir(lsm)
    if not isinstance(lsm, LSM):
        raise ValueError(f"`lsm` must be an LSM, got {type(lsm).__name__}")

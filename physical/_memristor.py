"""A recurrent memristor crossbar whose nodes are volatile dynamic memristors (Zhong et al. 2021)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from reservoirs import AbstractReservoir, spectral_radius
from reservoirs import _random
from reservoirs._checks import RealLike, check_int, check_positive

from ._energy import EnergyTerm
from ._nonideal import NonIdealities

#: Energy per multiply-accumulate of an analog in-memory-computing crossbar, periphery included: the midpoint of
#: the 0.2-0.8 pJ/MAC range of Le Gallo et al. 2023 (Nat. Electron. 6:680, a 64-core PCM chip).
CROSSBAR_J_PER_MAC = 0.5e-12
CROSSBAR_SOURCE = "Le Gallo et al. 2023 (Nat. Electron. 6:680): 0.2-0.8 pJ/MAC incl. periphery, midpoint"


def zhong_node_step(G, V, r, g0, kp, kn, a):
    """One step of the volatile dynamic-memristor model released with Zhong et al. 2021 (Nat. Commun. 12:408):

        G(t+1) = r G(t) + (1 - r) G0 + s(V) (H(V) - G(t)),   s(V) = a|V| / (a|V| + 1),   H(V) = 1 if V > 0 else 0
        I(t)   = G(t+1) (Kp max(V, 0)^3 - Kn max(-V, 0)^3)

    `G` is the normalised conductance state (dimensionless, relaxing to `G0` with factor `r` per step), `V` the
    applied voltage (V), `I` the device current in the model's units (the published fit; they scale as the
    device's read current). Returns `(G(t+1), I(t))`. Works element-wise on arrays.
    """
    s = a * jnp.abs(V) / (a * jnp.abs(V) + 1)
    H = (V > 0).astype(G.dtype)
    G_new = r * G + (1 - r) * g0 + s * (H - G)
    I = G_new * (kp * jnp.maximum(V, 0) ** 3 - kn * jnp.maximum(-V, 0) ** 3)
    return G_new, I


class MemristorCrossbar(AbstractReservoir):
    """A recurrent memristor crossbar closing a loop through volatile dynamic memristor nodes.

    **Physics.** `n_nodes` volatile memristors (Zhong et al. 2021, `zhong_node_step`) are driven by voltage pulses.
    Each input sample u(n) is time-multiplexed over `mask_length` pulses, as in Zhong et al.: pulse k of node j
    carries v_min + (v_max - v_min) (1 + s m_jk . u(n)) / 2 with a random mask m_jk in {-1, +1} and input scaling s.
    The node currents of pulse k-1 are read as voltages V_row = I / I_fs (I_fs = Kp v_max^3, the full-scale node
    current) onto the rows of a differential crossbar, whose column currents are I_col = (G+ - G-) V_row
    (amperes; conductances in siemens, in [`g_min`, `g_max`]). A transimpedance driver with feedback resistance
    R_f turns them into a voltage added to the next pulse, and clips the total to the rails [-v_max, v_max]:

        V_j(n, k) = clip(V_in,j(n, k) + g R_f sum_i (G+_ji - G-_ji) V_row,i(n, k-1), -v_max, v_max)

    The target weight matrix W (Gaussian) is normalised to spectral radius 1 and mapped to the pair as
    G+- = g_min + (g_max - g_min) max(+-W, 0) / max|W|, with R_f = max|W| / (g_max - g_min), so that R_f (G+ - G-)
    = W exactly for an ideal array. R_f is fixed at design time: programming errors change the loop's spectrum.

    **Gain.** `gain` (g, dimensionless) is the drive gain of the transimpedance feedback: g = 0 is Zhong et al.'s
    feed-forward dynamic-memristor reservoir (each device's own short-term memory only); raising it closes the
    crossbar loop and carries the array from ordered to chaotic dynamics (find the crossing with
    `reservoirs.sweep`). The feedback drive g V_row does not scale with `v_max`, so the crossing does: about
    g = 1.2 v_max under Mackey-Glass drive at 0.12 V, 2.7-4.7 at 2.5 V under Henon drive.

    **Operating voltage.** At 2.5 V pulses each node's conductance saturates within a sample (its switching rate
    s(V) ~ 0.2 per pulse against a relaxation rate 1 - r = 0.01), which suits one-step tasks such as Zhong et al.'s
    Henon map but leaves almost no memory; at about 0.1 V the conductances integrate the input over tens of pulses.
    The CLI's presets (`MEMRISTOR_PRESETS`, registered as `"memristor"`) use 0.12 V pulses for that reason.

    **Features.** The `n_nodes * mask_length` node currents of the last sample, read through `nonideal.read` (read
    noise; the same read feeds the crossbar), divided by I_fs, through `nonideal.adc` (full scale [-Kn/Kp, 1]).

    **Non-idealities** (`nonideal`, a `NonIdealities`): conductance `levels`/`bits`, programming noise, stuck-at
    faults and drift apply to every crossbar device; `variability` to the crossbar conductances and to each node's
    constants (its relaxation rate 1 - r and a, Kp, Kn); `read_noise` to the column currents and the node currents;
    `dac_bits` to the input pulses (full scale [v_min, v_max]); `adc_bits` to the features.

    **Arguments:**

    - `in_size`: number of input channels (>= 1). `n_nodes`: number of memristor nodes N (default 25, as Zhong et
      al.'s Henon set-up). `mask_length`: pulses per input sample M (default 4, ditto).
    - `key`: PRNG key for the weights, the masks and the static non-idealities.
    - `gain`: feedback drive gain g >= 0 (default 0: no feedback). `input_scaling`: s > 0 (default 1; inputs
      should be scaled to about [-1, 1]).
    - `v_min`, `v_max`: input pulse range in volts (default 0 and 2.5 V, Zhong et al.'s code for the Henon task);
      v_max is also the driver's rail.
    - `g_min`, `g_max`: crossbar conductance range in siemens (default 0.1 uS and 25 uS, PCM-like; g_max > g_min >=
      0).
    - `r`, `g0`, `kp`, `kn`, `a`: node model constants (Zhong et al. 2021 defaults 0.99, 0.5, 9.13, 0.32, 0.23).
    - `nonideal`: the device non-idealities (default: none, the ideal model).
    - `dtype`: floating dtype (default JAX's default float).

    Example:
        >>> xbar = MemristorCrossbar(1, 25, key=jax.random.key(0), gain=2.0,
        ...                          nonideal=NonIdealities(bits=4, variability=0.2))
        >>> model = reservoirs.fit(xbar, u[:-1], u[1:])
    """

    G_plus: Float[Array, "nodes nodes"]
    G_minus: Float[Array, "nodes nodes"]
    r_f: Float[Array, ""]
    mask: Float[Array, "nodes pulses in_size"]
    r: Float[Array, " nodes"]
    a: Float[Array, " nodes"]
    kp: Float[Array, " nodes"]
    kn: Float[Array, " nodes"]
    g0: Float[Array, ""]
    gain: Float[Array, ""]
    input_scaling: Float[Array, ""]
    v_min: float = eqx.field(static=True)
    v_max: float = eqx.field(static=True)
    g_min: float = eqx.field(static=True)
    g_max: float = eqx.field(static=True)
    kp_nominal: float = eqx.field(static=True)
    kn_nominal: float = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    n_nodes: int = eqx.field(static=True)
    mask_length: int = eqx.field(static=True)
    nonideal: NonIdealities = eqx.field(static=True)

    def __init__(
        self,
        in_size: int = 1,
        n_nodes: int = 25,
        mask_length: int = 4,
        *,
        key: PRNGKeyArray,
        gain: RealLike = 0.0,
        input_scaling: RealLike = 1.0,
        v_min: float = 0.0,
        v_max: float = 2.5,
        g_min: float = 0.1e-6,
        g_max: float = 25e-6,
        r: float = 0.99,
        g0: float = 0.5,
        kp: float = 9.13,
        kn: float = 0.32,
        a: float = 0.23,
        nonideal: NonIdealities | None = None,
        dtype=None,
    ):
        self.in_size = check_int("in_size", in_size, minimum=1)
        self.n_nodes = check_int("n_nodes", n_nodes, minimum=1)
        self.mask_length = check_int("mask_length", mask_length, minimum=1)
        check_positive("gain", gain, allow_zero=True)
        check_positive("input_scaling", input_scaling)
        check_positive("v_max", v_max)
        if not np.isfinite(v_min) or not 0 <= v_min < v_max:
            raise ValueError(f"`v_min` must be in [0, v_max) = [0, {v_max}) volts, got {v_min}")
        check_positive("g_min", g_min, allow_zero=True)
        check_positive("g_max", g_max)
        if g_min >= g_max:
            raise ValueError(f"the conductance range must have `g_min` < `g_max`, got [{g_min}, {g_max}] S")
        check_positive("r", r, allow_zero=True)
        check_positive("g0", g0, allow_zero=True)
        if not 0 <= r < 1:
            raise ValueError(f"`r` (the node's retention factor per step) must be in [0, 1), got {r}")
        if not 0 <= g0 <= 1:
            raise ValueError(f"`g0` (the node's rest conductance, normalised) must be in [0, 1], got {g0}")
        check_positive("kp", kp)  # Kp > 0: it sets the full-scale current
        for name, v in (("kn", kn), ("a", a)):
            check_positive(name, v, allow_zero=True)
        nonideal = NonIdealities() if nonideal is None else nonideal
        if not isinstance(nonideal, NonIdealities):
            raise ValueError(f"`nonideal` must be a physical.NonIdealities, got {type(nonideal).__name__}")
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dtype}")
        k_w, k_mask, k_prog_p, k_prog_m, k_r, k_a, k_kp, k_kn = jax.random.split(key, 8)

        N = self.n_nodes
        W = _random.normal(k_w, (N, N), dtype)
        W = W / spectral_radius(W)
        w_max = jnp.max(jnp.abs(W))
        span = g_max - g_min
        G_plus = g_min + span * jnp.maximum(W, 0) / w_max
        G_minus = g_min + span * jnp.maximum(-W, 0) / w_max
        self.G_plus = nonideal.program(G_plus, g_min, g_max, key=k_prog_p)
        self.G_minus = nonideal.program(G_minus, g_min, g_max, key=k_prog_m)
        self.r_f = (w_max / span).astype(dtype)
        self.mask = jnp.where(_random.bernoulli(k_mask, 0.5, (N, self.mask_length, self.in_size)), 1.0, -1.0)
        self.mask = self.mask.astype(dtype)
        # Device-to-device variability: the relaxation rate 1 - r varies (so r stays below 1), and a, Kp, Kn.
        self.r = 1 - nonideal.vary(1 - r, (N,), key=k_r, dtype=dtype)
        self.r = jnp.clip(self.r, 0.0, 1.0 - 1e-6)
        self.a = nonideal.vary(a, (N,), key=k_a, dtype=dtype)
        self.kp = nonideal.vary(kp, (N,), key=k_kp, dtype=dtype)
        self.kn = nonideal.vary(kn, (N,), key=k_kn, dtype=dtype)
        self.g0 = jnp.asarray(g0, dtype)
        self.gain = jnp.asarray(gain, dtype)
        self.input_scaling = jnp.asarray(input_scaling, dtype)
        self.v_min, self.v_max, self.g_min, self.g_max = float(v_min), float(v_max), float(g_min), float(g_max)
        self.kp_nominal = float(kp)
        self.kn_nominal = float(kn)
        self.nonideal = nonideal

    @property
    def feature_size(self) -> int:
        return self.n_nodes * self.mask_length

    @property
    def standardize_inputs(self) -> bool:
        """True: `fit` standardises inputs and targets by default (pulse voltages in [v_min, v_max] assumes inputs of order one)."""
        return True

    @property
    def stochastic(self) -> bool:
        return self.nonideal.stochastic

    @property
    def full_scale_current(self) -> float:
        """I_fs = Kp v_max^3 (nominal Kp): node currents are read as V_row = I / I_fs volts."""
        return self.kp_nominal * self.v_max**3

    def init_state(self) -> tuple[Float[Array, " nodes"], Float[Array, "nodes pulses"]]:
        """(node conductance states at rest G0, the last sample's node currents: zero)."""
        N, dtype = self.n_nodes, self.kp.dtype
        return jnp.full((N,), self.g0, dtype), jnp.zeros((N, self.mask_length), dtype)

    def input_voltages(self, u: Float[Array, " in_size"]) -> Float[Array, "nodes pulses"]:
        """The input pulses of one sample (volts): v_min + (v_max - v_min) (1 + s m . u) / 2, through the DAC."""
        mu = jnp.einsum("jkc,c->jk", self.mask, u.astype(self.mask.dtype))
        v = self.v_min + (self.v_max - self.v_min) * (1 + self.input_scaling * mu) / 2
        return self.nonideal.dac(v, self.v_min, self.v_max)

    def step(self, state, u, *, key=None):
        G, I_last = state
        v_in = self.input_voltages(u)  # (N, M)
        i_fs = self.full_scale_current
        keys = (None,) * self.mask_length if key is None else tuple(jax.random.split(key, self.mask_length))

        I_prev = I_last[:, -1]
        currents = []
        read = I_prev  # the previous pulse's read-out (the same analog read feeds the loop and the readout)
        for k in range(self.mask_length):  # a few pulses per sample: unrolled
            kk = (None, None, None) if keys[k] is None else tuple(jax.random.split(keys[k], 3))
            v_row = read / i_fs
            i_plus = self.nonideal.read(self.G_plus @ v_row, kk[1])
            i_minus = self.nonideal.read(self.G_minus @ v_row, kk[2])
            v = jnp.clip(v_in[:, k] + self.gain * self.r_f * (i_plus - i_minus), -self.v_max, self.v_max)
            G, I_prev = zhong_node_step(G, v, self.r, self.g0, self.kp, self.kn, self.a)
            read = self.nonideal.read(I_prev, kk[0])  # read noise on every node-current read
            currents.append(read)
        return G, jnp.stack(currents, axis=1)

    def features(self, state) -> Float[Array, " features"]:
        """The last sample's node-current reads / I_fs, through the ADC of full scale [-Kn/Kp, 1] (the range of
        I / I_fs for |V| <= v_max and G in [0, 1])."""
        _, I = state
        return self.nonideal.adc(I.reshape(-1) / self.full_scale_current, -self.kn_nominal / self.kp_nominal, 1.0)

    def energy_terms(self) -> list[EnergyTerm]:
        """Per input sample: 2 N^2 crossbar MACs (the differential pair) per pulse, at `CROSSBAR_J_PER_MAC`.

        Not included, for want of a cited per-operation figure: the node pulses themselves and the converters
        (Le Gallo et al.'s figure includes the crossbar's own periphery)."""
        n_mac = 2 * self.n_nodes**2 * self.mask_length
        return [EnergyTerm("crossbar MACs (G+ and G-)", float(n_mac), CROSSBAR_J_PER_MAC, CROSSBAR_SOURCE)]


# ------------------------------------------------------------------------------------------------------- registry

#: Per-task presets of the CLI's memristor crossbar (`reservoirs --substrate memristor`), for inputs standardised
#: to zero mean and unit std: nodes (`units`), feedback drive gain, input scaling and pulse amplitude `v_max` (volts;
#: `v_min` = 0, 4 pulses per sample).
#:
#: The presets use low-voltage pulses. At Zhong et al.'s 2.5 V the nodes' switching rate s(V) = a|V| / (a|V| + 1)
#: is about 0.2 per pulse, twenty times the relaxation rate 1 - r = 0.01, so every conductance sits near
#: (s + (1 - r) G0) / (s + 1 - r) ~ 0.97 and forgets within about one sample: the features are an almost memoryless
#: cubic of the present input (Mackey-Glass: one-step NRMSE ~0.01, closed-loop VPT ~0.1 Lyapunov times at every gain
#: and input scaling tried, 1e-10 <= alpha <= 1e-3). At 0.12 V, s(V) ~ a|V| ~ 0.01-0.03 is comparable with 1 - r:
#: the conductances move over [G0, 1] and integrate the input over tens of pulses. The crossbar feedback drives the
#: nodes with g V_row, V_row = I / I_fs in [0, 1] whatever v_max, so the gain scales with v_max (g / v_max ~ 0.2
#: here).
#: First search, 50 nodes (Mackey-Glass, seeds 100-104, CLI protocol, `Ridge(1e-9, input_passthrough=True)`): VPT 1.40
#: Lyapunov times mean (0.93-1.74), one-step NRMSE 0.004; v_max = 0.05-0.2 V gave 1.2-1.5 at g / v_max = 0.2-0.3, larger ratios
#: diverge more often; without the input pass-through, 0.96 (0.83-1.05). Seeds 100-102, CLI protocols and readouts,
#: input scaling 0.15 (0.3 was worse or diverged), g = 0.024 against g = 0: Henon VPT 11.0 (10.5-11.7) against 4.9,
#: Lorenz 9.2 (7.7-11.1) against 6.2, Rossler 3.8 (2.7-4.3) against 3.1. Under Mackey-Glass drive the largest
#: conditional exponent crosses zero at g = 0.144 (g / v_max = 1.2, as the 2.5 V crossings of 2.7-4.7 under Henon
#: drive; `reservoirs.sweep`, seed 100): the preset sits in the ordered regime, the sweep range (0, 0.3) spans both.
#: Mackey-Glass, re-chosen for the tail (the issue's bar is VPT >= 1 per seed): about 100 configurations on held-out
#: seeds 100-119, the front-runners checked again on seeds 120-159 (CLI protocol). The 50-node preset above
#: (g 0.024, input scaling 0.3, v_max 0.12, alpha 1e-9) reached VPT >= 1 on 43 of the 60 seeds (mean 1.60, min
#: 0.35); more nodes at those settings were worse (100: 65 %, 200: 50 % on seeds 100-119); they help once the pulses
#: are larger and the ridge stronger: 100 nodes, v_max 0.16, g 0.032, input scaling 0.25, alpha 3e-9: 54 / 60 (min
#: 0.84); 150 nodes, same: 53 / 60; 200 nodes, v_max 0.2, g 0.04, input scaling 0.25, alpha 1e-8: 56 / 60 (mean
#: 1.62, min 0.74, 10th percentile 1.04), the most seeds >= 1, chosen. The good region is narrow (g / v_max about
#: 0.2, input scaling about 0.25, alpha within a factor 3; 8 pulses per sample were worse everywhere tried) and no
#: setting found reaches VPT >= 1 on every seed: the failures cluster on particular series (seeds 103, 111 fail in
#: most good configurations). Classification: the same pulses as the other tasks, 25 nodes, a larger input scaling
#: (not tuned). Reported on seeds 0-9 in `benchmarks/bench_substrate_forecast.py`.
MEMRISTOR_PRESETS: dict[str, dict] = {
    "mackey-glass": dict(units=200, gain=0.04, input_scaling=0.25, v_max=0.2),
    "lorenz": dict(units=50, gain=0.024, input_scaling=0.15, v_max=0.12),
    "rossler": dict(units=50, gain=0.024, input_scaling=0.15, v_max=0.12),
    "henon": dict(units=50, gain=0.024, input_scaling=0.15, v_max=0.12),
    "sine-square": dict(units=25, gain=0.024, input_scaling=0.5, v_max=0.12),
    "xor": dict(units=25, gain=0.024, input_scaling=0.5, v_max=0.12),
    "patterns": dict(units=25, gain=0.024, input_scaling=0.5, v_max=0.12),
}


#: Readout settings the presets were chosen with, where they differ from the CLI's task preset (read by the CLI
#: from the registry's `task_defaults`): Mackey-Glass passes the input through to the readout (VPT 1.40 against
#: 0.96 without, seeds 100-104, 50 nodes), ridge 1e-8 (chosen with the 200-node preset, above).
_READOUTS = {"mackey-glass": {"alpha": 1e-8, "passthrough": True}}


def build_memristor(in_size: int, units: int, gain: float, *, key: PRNGKeyArray, task: str | None = None):
    """The CLI's memristor crossbar for `task` (`MEMRISTOR_PRESETS`): `units` nodes, 4 pulses per sample, feedback
    drive gain `gain`, the task's input scaling and pulse amplitude (`v_min` = 0, `v_max` from the preset).

    Readout: the presets were chosen with the CLI's task readouts, except Mackey-Glass, which passes the input
    through: `Ridge(1e-8, input_passthrough=True)` (registered as `alpha` and `passthrough` in `task_defaults`).
    """
    d = _task_preset(MEMRISTOR_PRESETS, task)
    return MemristorCrossbar(in_size, units, 4, key=key, gain=gain, input_scaling=d["input_scaling"],
                             v_max=d["v_max"])


def _task_preset(presets: dict, task: str | None) -> dict:
    if task is None:
        return presets["mackey-glass"]
    if task not in presets:
        raise ValueError(f"`task` must be one of {tuple(presets)}, got {task!r}")
    return presets[task]


def _register() -> None:
    from reservoirs import register_reservoir

    register_reservoir(
        "memristor",
        build=build_memristor,
        units=MEMRISTOR_PRESETS["mackey-glass"]["units"],
        gain=MEMRISTOR_PRESETS["mackey-glass"]["gain"],
        sweep_gains=(0.0, 0.3),
        description="memristor crossbar closing a loop through volatile dynamic memristors (Zhong et al. 2021)",
        gain_unit="transimpedance feedback drive gain g (dimensionless; 0 = feed-forward)",
        min_gain=0.0,
        task_defaults={t: {"units": d["units"], "gain": d["gain"], **_READOUTS.get(t, {})}
                       for t, d in MEMRISTOR_PRESETS.items()},
    )


_register()

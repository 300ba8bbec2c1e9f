"""A wave tank ("pattern recognition in a bucket"): the damped 2-D wave equation driven by motors, read by probes
or a camera (Fernando & Sojakka 2003)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from reservoirs import AbstractReservoir
from reservoirs import _random
from reservoirs._checks import RealLike, check_int, check_positive, is_traced

from ._energy import EnergyTerm
from ._nonideal import NonIdealities

_READOUTS = ("height", "camera", "sobel")
_WEIGHTS = ("mask", "channels")
# NonIdealities fields that describe programmed conductances: nothing in a tank is programmed.
_UNUSED_NONIDEAL = ("levels", "programming_noise", "stuck_on", "stuck_off", "drift_nu", "read_noise",
                    "detector_noise")

#: Electrical power of one small DC vibration motor at its rated voltage: 3 V x 80 mA = 0.24 W, the order of the
#: rated current of 10 mm coin and 6 mm pager eccentric-mass motors in vendor datasheets (e.g. Precision
#: Microdrives 310-series). An estimate of the drive's order of magnitude, not a measurement of the LEGO motors of
#: Fernando & Sojakka 2003 (their power is not reported).
MOTOR_POWER_W = 0.24
MOTOR_SOURCE = ("estimate: small DC vibration motor at rated 3 V x 80 mA (vendor datasheets of 10 mm coin motors, "
                "e.g. Precision Microdrives 310-series); counted at rated power for the whole sample")
#: Energy per pixel of a CMOS image sensor readout (pixel, column ADC, interface): ~1 nJ, from a ~0.3 W sensor
#: streaming 8 Mpixel frames at 30 frames/s (0.3 / 2.4e8 = 1.25 nJ). Order of magnitude.
CAMERA_J_PER_PIXEL = 1.25e-9
CAMERA_SOURCE = "estimate: ~0.3 W CMOS image sensor at 8 Mpixel x 30 frame/s = 1.25 nJ per pixel read"
#: Illumination for the shadowgraph: an LED panel of 10 W under the tank (Fernando & Sojakka used an overhead
#: projector, whose halogen lamp draws ~250-400 W).
LAMP_POWER_W = 10.0
LAMP_SOURCE = ("estimate: 10 W LED panel under the tank (an overhead projector's halogen lamp, as in Fernando & "
               "Sojakka 2003, draws ~250-400 W)")
#: One conversion of a wave-gauge signal by a 16-bit SAR ADC at ~1 Msample/s and ~5 mW: 5 nJ per sample.
PROBE_ADC_J = 5e-9
PROBE_ADC_SOURCE = "estimate: 16-bit SAR ADC, ~5 mW at 1 Msample/s = 5 nJ per conversion (datasheet order)"


def _lattice(n: int) -> tuple[int, int]:
    """The most square `rows x cols = n` lattice (rows <= cols)."""
    rows = int(math.isqrt(n))
    while n % rows:
        rows -= 1
    return rows, n // rows


def _positions(name: str, value, size: tuple[float, float]) -> np.ndarray:
    """`(n, 2)` positions `(x, y)` in metres inside the tank `[0, Lx] x [0, Ly]`, or a ValueError naming `name`."""
    p = np.asarray(value, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1:
        raise ValueError(f"`{name}` must be an int or an array of (x, y) positions in metres, shape (n, 2); "
                         f"got shape {p.shape}")
    lx, ly = size
    bad = ~np.isfinite(p).all(1) | (p[:, 0] < 0) | (p[:, 0] > lx) | (p[:, 1] < 0) | (p[:, 1] > ly)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`{name}` position {i} = ({p[i, 0]:.4g}, {p[i, 1]:.4g}) m is outside the tank "
                         f"[0, {lx:g}] x [0, {ly:g}] m")
    return p


def laplacian(h: Float[Array, "ny nx"], dx) -> Float[Array, "ny nx"]:
    r"""The 5-point Laplacian with reflecting (no-flux, Neumann) walls: mirror ghost cells, $\sum \nabla^2 h = 0$."""
    hp = jnp.pad(h, 1, mode="edge")
    return (hp[1:-1, 2:] + hp[1:-1, :-2] + hp[2:, 1:-1] + hp[:-2, 1:-1] - 4 * h) / (dx * dx)


def depth_laplacian(h: Float[Array, "ny nx"], dx, inv_depth) -> Float[Array, "ny nx"]:
    r"""$\nabla\cdot\big((1 + h/h_0)\nabla h\big)$ in conservative (flux) form with reflecting walls.

    The local wave speed of shallow water is $\sqrt{g (h_0 + h)}$: a crest travels faster than a trough. The
    factor $1 + h/h_0$ is clipped to [0.1, 2] (a dry or doubled depth leaves the model's validity anyway, and the
    clip keeps the CFL bound). Face coefficients are the means of the two cells; wall fluxes are zero, so
    $\sum \nabla\cdot(\ldots) = 0$ exactly. `inv_depth` = 0 gives the plain 5-point Laplacian.
    """
    hp = jnp.pad(h, 1, mode="edge")
    d = jnp.clip(1 + hp * inv_depth, 0.1, 2.0)
    dc = d[1:-1, 1:-1]
    c = hp[1:-1, 1:-1]
    fx = 0.5 * (d[1:-1, 2:] + dc) * (hp[1:-1, 2:] - c) - 0.5 * (d[1:-1, :-2] + dc) * (c - hp[1:-1, :-2])
    fy = 0.5 * (d[2:, 1:-1] + dc) * (hp[2:, 1:-1] - c) - 0.5 * (d[:-2, 1:-1] + dc) * (c - hp[:-2, 1:-1])
    return (fx + fy) / (dx * dx)


def sobel_magnitude(img: Float[Array, "ny nx"]) -> Float[Array, "ny nx"]:
    """The Sobel edge energy Gx^2 + Gy^2 of an image (the squared gradient magnitude; edge-replicated borders).

    Fernando & Sojakka 2003 Sobel-filtered the camera frames before the perceptron. The edge energy is a quadratic
    function of the surface, so a linear readout of it sees products of the waves launched by different inputs:
    what XOR needs. (The magnitude, its square root, measured worse here: 0.80 against 0.9x on delayed XOR.)
    """
    p = jnp.pad(img, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    gx, gy = gx / 8, gy / 8  # the normalised Sobel kernel: the gradient in grey levels per pixel
    return gx * gx + gy * gy


class WaterBucket(AbstractReservoir):
    r"""A shallow water tank driven by vibrating motors and read by wave probes or a camera.

    The "pattern recognition in a bucket" of Fernando & Sojakka 2003 (ECAL, LNCS 2801:588): motors vibrate the
    water of a tank lit from below, a camera films the interference pattern, and a linear readout of the
    (Sobel-filtered) frames solves XOR and a two-word speech task. Here the surface height $h(x, y, t)$ (metres,
    deviation from the rest depth) obeys the damped wave equation with parametric (Faraday) forcing, the
    shallow-water (amplitude-dependent) wave speed and a nonlinear damping:

    $$h_{tt} = c^2 \big(1 + A\cos\Omega t\big)\,\nabla\cdot\Big(\big(1 + \tfrac{h}{h_0}\big)\nabla h\Big)
    - b\,\Big(1 + \frac{h^2}{h_s^2}\Big)\,h_t + \sum_k a_k(t)\,g_k(x, y).$$

    - $c$ (`wave_speed`, m/s): shallow-water speed $\sqrt{g h_0}$, 0.22 m/s at $h_0$ = 5 mm (textbook; see
      SUBSTRATE-NOTES). The model is non-dispersive: it keeps the wave equation, not the full gravity-capillary
      dispersion $\omega^2 = (g k + \sigma k^3/\rho)\tanh(k h_0)$.
    - $b$ (`damping`, 1/s): linear damping; viscous damping $2\nu k^2$ is ~0.8 /s at a 1 cm wavelength, plus wall
      losses. Default 0.8 /s.
    - $A$ (**`gain`**, dimensionless): depth of the parametric pump: the tank is shaken vertically at $\Omega$, which
      modulates the effective gravity and hence $c^2$ (Faraday 1831; Benjamin & Ursell 1954, Proc. R. Soc. A
      225:505, the Mathieu equation of each mode). The pump is phase-locked to the sample clock: `pump_cycles`
      periods per input sample, $\Omega = 2\pi\,$`pump_cycles`$/T$. For a mode of frequency $\omega \approx
      \Omega/2$ the pump overcomes the damping above $A_c \approx 2b/\omega$; above it standing Faraday waves grow,
      and with many unstable modes the surface becomes spatiotemporally chaotic (Kudrolli & Gollub 1996, Physica D
      97:133).
    - $h_s$ (`saturation_height`, m): the amplitude at which the nonlinear damping doubles the linear one. It is
      what bounds the parametric growth (nonlinear damping terms of the Faraday amplitude equations: Milner 1991,
      J. Fluid Mech. 225:81; Zhang & Viñals 1997, J. Fluid Mech. 336:301); a model choice, not a fitted constant.
      `None` (infinite): no nonlinear damping.
    - $h_0$ (`depth`, m): the rest depth in the local speed $c^2 (1 + h/h_0)$ (shallow water, $c^2 = g(h_0 + h)$:
      crests run faster than troughs), in conservative flux form (`depth_laplacian`); the factor is clipped to
      [0.1, 2]. Default 5 mm. `None`: the plain Laplacian. With `saturation_height=None, depth=None` the tank is
      linear.
    - $a_k(t) g_k$: motor $k$ at `motors[k]`, a Gaussian footprint $g_k$ of standard deviation `motor_width`
      (peak 1, minus its mean over the tank so that the motor moves water without adding any: the mean height is
      conserved), with surface acceleration $a_k(t) = s\,(W u(n))_k \sin(2\pi\,$`motor_cycles`$\,t/T)$ during
      sample $n$: the motors vibrate for the whole sample, with an amplitude set by the input ($s$ =
      `input_scaling`, m/s² per unit input; $W$ the `motor_weights`). `motor_cycles = 0` is a steady push.

    **Linear water is never chaotic.** In the linear tank without pump every mode decays at the same rate,
    $\lambda = -b/2$ per second, whatever the input ($-bT/2$ per sample, `linear_exponent()`); the input sets the
    amplitude, the damping the memory, and nothing makes two copies of the tank diverge. (The uniform mode, a
    change of water volume, is removed: the tank holds a fixed volume.) A pump above threshold makes the linear
    tank grow without bound (a linear instability, not chaos). The gain knob is therefore the pump, with the
    nonlinear terms bounding the growth. Measured (`benchmarks/bench_bucket.py`, 20 x 20 preset, Mackey-Glass
    drive): the largest conditional exponent is -0.039 per sample at A = 0, crosses zero near A = 0.06-0.08 and
    stays at +0.02..+0.05 up to A ~ 0.45-0.5; with one motor placement it fell back to -0.07..-0.09 above
    A ~ 0.54 (a large, phase-locked standing wave), hence the registered sweep range (0, 0.45). In the chaotic
    range heights reach the depth and energy collects at the shortest waves the grid holds, so the chaos is a
    property of this discretised model, not a validated prediction for a real tank. Closed-loop Mackey-Glass is
    poor (valid prediction time 0.05-0.2 Lyapunov times).

    **Scheme.** Leapfrog (central differences in time, the damping term centred, as in the scalar-wave RNN cell of
    Hughes et al. 2019, Sci. Adv. 5:eaay6946), 5-point Laplacian with mirrored ghost cells (reflecting walls):

    $$h^{j+1} = \frac{2h^j - (1 - \beta^j) h^{j-1} + \Delta t^2\,[c_j^2 \nabla\cdot((1 + h^j/h_0)\nabla h^j)
    + s^j]}{1 + \beta^j},
    \qquad \beta^j = \tfrac{1}{2} b\,(1 + (h^j/h_s)^2)\,\Delta t,$$

    then the mean of $h^{j+1}$ is set to zero (volume conservation; it only removes round-off and the part the
    nonlinear damping moves). One input sample spans `substeps` leapfrog steps, $T$ = `substeps` x `dt`. The
    scheme is stable for $c_{max}\,\Delta t \le \Delta x/\sqrt 2$ (CFL), $c_{max} = c\sqrt{2(1 + A)}$ with the
    depth term (its factor reaches 2), $c\sqrt{1 + A}$ without; construction refuses a step that breaks it and
    names the largest stable step. A later sweep of `gain` above the constructed value is not re-checked (the
    default `dt` leaves room for $A \le 1$).

    **Readout** (`readout`): features at `probes` (an int: that many points on a regular lattice; or positions):

    - `"height"`: wave-gauge voltages, `probe_gain` x h (V; default 1000 V/m, 1 V per mm).
    - `"camera"`: the shadowgraph a camera films through the tank lit from below, at the probe pixels. At small
      slopes the transmitted intensity is $I/I_0 = 1 - \kappa\nabla^2 h$ (the surface acts as a lens;
      $\kappa$ = `camera_focus`, the lamp-to-screen optical distance in m); pixel value $= \mathrm{clip}(I/2I_0,
      0, 1)$, so that still water is mid-grey.
    - `"sobel"`: the Sobel edge energy $G_x^2 + G_y^2$ (normalised kernel, grey levels per pixel) of the camera
      frame (Fernando & Sojakka 2003 Sobel-filtered their frames), at the probe pixels. It is quadratic in the
      surface: the nonlinearity that lets a linear readout of a nearly linear tank solve XOR.

    With `frames` > 1 the surface is sampled `frames` times per input sample (evenly, the last at its end), as
    a camera faster than the input rate would; the features are the frames' values, earliest first.

    **Non-idealities** (`nonideal`): `adc_bits` quantises the readout: the camera's grey levels (8 bits for a
    camera: `NonIdealities(adc_bits=8)`, applied before the Sobel filter, as a camera delivers quantised frames)
    or the probe voltages over $\pm$`probe_range` V. `dac_bits`
    quantises the motor drive $W u$ over $\pm$`dac_range`. `variability` spreads the motors' strengths
    (log-normal factors drawn from the construction key). Camera read noise, motor jitter and evaporation (a
    drift of $c$) are not modelled; the tank is deterministic (`stochastic` is False).

    **Arguments:**

    - `in_size`: input channels, >= 1. Default 1.
    - `probes`: number of probe points (on a regular lattice over the tank) or an `(n, 2)` array of (x, y)
      positions in metres. Default 64. A position outside the tank raises a ValueError.
    - `key`: PRNG key for the motor positions and weights (and the motor variability).
    - `gain`: pump depth $A$ >= 0. Default 0 (no pump: linear, ordered).
    - `grid`: cells `n` or `(ny, nx)`; cells are square. Default 64.
    - `size`: tank side(s) `(Lx, Ly)` in metres (a float: square). Default 0.2 m.
    - `wave_speed` (m/s, default 0.22), `damping` (1/s, default 0.8), `saturation_height` (m or None, default
      3e-3), `depth` (m or None, default 5e-3).
    - `sample_duration`: $T$, seconds per input sample (a camera frame). Default 0.1 s (10 frames/s).
    - `dt`: leapfrog time step in seconds; default: the largest $T/m$ (m integer) within the CFL limit at
      $A = 1$ and with at least 10 steps per pump period. `substeps` = $T$/`dt` must be an integer.
    - `pump_cycles`: pump periods per sample, >= 1. Default 1 (a 10 Hz pump; Faraday waves at 5 Hz, 4.4 cm).
    - `motors`: number of motors (random positions in the central 70 % of the tank) or an `(m, 2)` array of
      positions in metres. Default 4 (Fernando & Sojakka used four motors [from a secondary summary]).
    - `motor_width`: footprint standard deviation in metres. Default 0.01.
    - `motor_weights`: `"mask"` (i.i.d. uniform in [-1, 1], default), `"channels"` (motor k driven by channel
      k mod in_size, weight 1) or an `(m, in_size)` array.
    - `motor_cycles`: vibration periods per sample, >= 0. Default 1.
    - `input_scaling`: $s$, peak surface acceleration per unit input in m/s², >= 0. Default 2.
    - `readout`: `"height"` (default), `"camera"` or `"sobel"`. `frames`: samples of the surface per input
      sample, >= 1 (features: `frames` x probes). Default 1.
    - `probe_gain` (V/m, default 1000), `probe_range` (V, default 5), `camera_focus` ($\kappa$ in m, default 0.05).
    - `nonideal`: a `NonIdealities`; default None (ideal). `dac_range`: motor-drive full scale, default 3.
    - `dtype`: floating dtype; default JAX's default float.

    **Energy:** `energy_terms()`: each motor at `MOTOR_POWER_W` for the sample duration; for camera readouts the
    lamp for the sample duration and one sensor read per pixel of the frame; for probes one ADC conversion each.
    All are order-of-magnitude estimates with their sources; the tank itself dissipates far less (the wave energy).

    Example:
        >>> tank = WaterBucket(1, 64, key=jax.random.key(0), gain=0.0, grid=32)
        >>> model = reservoirs.fit(tank, u[:-1], u[1:], washout=100)
    """

    gain: Float[Array, ""]
    wave_speed: Float[Array, ""]
    damping: Float[Array, ""]
    inv_saturation: Float[Array, ""]
    inv_depth: Float[Array, ""]
    input_scaling: Float[Array, ""]
    motor_profile: Float[Array, "motors ny nx"]
    motor_weights: Float[Array, "motors in_size"]
    motor_positions: Float[Array, "motors 2"]
    probe_positions: Float[Array, "probes 2"]
    probe_index: Int[Array, "probes 2"]
    nonideal: NonIdealities
    in_size: int = eqx.field(static=True)
    shape: tuple[int, int] = eqx.field(static=True)
    size: tuple[float, float] = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    pump_cycles: int = eqx.field(static=True)
    motor_cycles: int = eqx.field(static=True)
    readout: str = eqx.field(static=True)
    frames: int = eqx.field(static=True)
    probe_gain: float = eqx.field(static=True)
    probe_range: float = eqx.field(static=True)
    camera_focus: float = eqx.field(static=True)
    dac_range: float = eqx.field(static=True)

    def __init__(
        self,
        in_size: int = 1,
        probes: int | Float[ArrayLike, "probes 2"] = 64,
        *,
        key: PRNGKeyArray,
        gain: RealLike = 0.0,
        grid: int | tuple[int, int] = 64,
        size: float | tuple[float, float] = 0.2,
        wave_speed: RealLike = 0.22,
        damping: RealLike = 0.8,
        saturation_height: RealLike | None = 3e-3,
        depth: RealLike | None = 5e-3,
        sample_duration: float = 0.1,
        dt: float | None = None,
        pump_cycles: int = 1,
        motors: int | Float[ArrayLike, "motors 2"] = 4,
        motor_width: float = 0.01,
        motor_weights: str | Float[ArrayLike, "motors in_size"] = "mask",
        motor_cycles: int = 1,
        input_scaling: RealLike = 2.0,
        readout: str = "height",
        frames: int = 1,
        probe_gain: float = 1000.0,
        probe_range: float = 5.0,
        camera_focus: float = 0.05,
        nonideal: NonIdealities | None = None,
        dac_range: float = 3.0,
        dtype=None,
    ):
        in_size = check_int("in_size", in_size, minimum=1)
        if isinstance(grid, int | np.integer) and not isinstance(grid, bool):
            grid = (int(grid), int(grid))
        if not (isinstance(grid, tuple | list) and len(grid) == 2):
            raise ValueError(f"`grid` must be an int or a pair (ny, nx) of ints >= 3, got {grid!r}")
        ny = check_int("grid", grid[0], minimum=3)
        nx = check_int("grid", grid[1], minimum=3)
        if isinstance(size, tuple | list):
            if len(size) != 2:
                raise ValueError(f"`size` must be a length in metres or a pair (Lx, Ly), got {size!r}")
            lx, ly = float(size[0]), float(size[1])
        else:
            lx = ly = float(size)
        check_positive("size", lx)
        check_positive("size", ly)
        dx = lx / nx
        if not math.isclose(dx, ly / ny, rel_tol=1e-6):
            raise ValueError(f"`size` and `grid` must give square cells: Lx/nx = {dx:.4g} m but Ly/ny = "
                             f"{ly / ny:.4g} m")
        for name, v in (("gain", gain), ("damping", damping), ("input_scaling", input_scaling)):
            check_positive(name, v, allow_zero=True)
        check_positive("wave_speed", wave_speed)
        if saturation_height is not None:
            check_positive("saturation_height", saturation_height)
        if depth is not None:
            check_positive("depth", depth)
        check_positive("sample_duration", sample_duration)
        pump_cycles = check_int("pump_cycles", pump_cycles, minimum=1)
        motor_cycles = check_int("motor_cycles", motor_cycles, minimum=0)
        frames = check_int("frames", frames, minimum=1)
        check_positive("motor_width", motor_width)
        for name, v in (("probe_gain", probe_gain), ("probe_range", probe_range), ("camera_focus", camera_focus),
                        ("dac_range", dac_range)):
            check_positive(name, v)
        if readout not in _READOUTS:
            raise ValueError(f"`readout` must be one of {_READOUTS}, got {readout!r}")
        nonideal = NonIdealities() if nonideal is None else nonideal
        if not isinstance(nonideal, NonIdealities):
            raise ValueError(f"`nonideal` must be a NonIdealities, got {type(nonideal).__name__}")
        unused = [n for n in _UNUSED_NONIDEAL if getattr(nonideal, n) != getattr(NonIdealities(), n)]
        if unused:
            raise ValueError(f"`nonideal` sets {unused}, which this water tank does not model; use adc_bits, "
                             "dac_bits or variability")
        dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dtype}")

        # Time step: CFL c_max dt <= dx / sqrt(2), c_max = c sqrt(1 + A), times sqrt(2) with the depth term.
        T = float(sample_duration)
        traced = is_traced(wave_speed) or is_traced(gain)
        c = 0.22 if is_traced(wave_speed) else float(wave_speed)
        a_now = 0.0 if is_traced(gain) else float(gain)
        # With the shallow-water nonlinearity the local c^2 reaches twice its rest value (the clip of 1 + h/h0).
        c_rest_max = c * (math.sqrt(2.0) if depth is not None else 1.0)
        if dt is None:
            limit = dx / (c_rest_max * math.sqrt(2.0) * math.sqrt(1.0 + max(a_now, 1.0)))
            limit = min(limit, T / (10 * pump_cycles))
            substeps = max(1, math.ceil(T / limit - 1e-9))
        else:
            check_positive("dt", dt)
            substeps = round(T / float(dt))
            if substeps < 1 or not math.isclose(substeps * float(dt), T, rel_tol=1e-6):
                raise ValueError(f"`dt` must divide `sample_duration` ({T:g} s) into an integer number of steps, "
                                 f"got {dt!r}")
            if not traced:
                c_max = c_rest_max * math.sqrt(1.0 + a_now)
                dt_max = dx / (c_max * math.sqrt(2.0))
                if float(dt) > dt_max * (1 + 1e-12):
                    raise ValueError(
                        f"`dt` = {float(dt):.4g} s breaks the CFL condition c_max dt <= dx / sqrt(2) (c_max = "
                        f"{c_max:.4g} m/s at gain {a_now:g}, dx = {dx:.4g} m): the largest stable step is "
                        f"{dt_max:.4g} s")
        self.dt = T / substeps
        self.substeps = int(substeps)

        k_pos, k_w, k_var = jax.random.split(key, 3)
        if isinstance(motors, int | np.integer) and not isinstance(motors, bool):
            n_m = check_int("motors", int(motors), minimum=1)
            frac = np.asarray(_random.uniform(k_pos, (n_m, 2), minval=0.15, maxval=0.85), np.float64)
            mpos = frac * np.array([lx, ly])
        else:
            mpos = _positions("motors", motors, (lx, ly))
            n_m = mpos.shape[0]
        if isinstance(probes, int | np.integer) and not isinstance(probes, bool):
            n_p = check_int("probes", int(probes), minimum=1)
            rows, cols = _lattice(n_p)
            if lx < ly:
                rows, cols = cols, rows
            xs = (np.arange(cols) + 0.5) / cols * lx
            ys = (np.arange(rows) + 0.5) / rows * ly
            ppos = np.stack(np.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
        else:
            ppos = _positions("probes", probes, (lx, ly))
        pidx = np.stack([np.clip(np.floor(ppos[:, 1] / dx), 0, ny - 1),
                         np.clip(np.floor(ppos[:, 0] / dx), 0, nx - 1)], -1).astype(np.int32)

        if isinstance(motor_weights, str):
            if motor_weights == "mask":
                w = _random.uniform(k_w, (n_m, in_size), dtype, -1.0, 1.0)
            elif motor_weights == "channels":
                w = jnp.asarray((np.arange(n_m)[:, None] % in_size) == np.arange(in_size)[None, :], dtype)
            else:
                raise ValueError(f"`motor_weights` must be one of {_WEIGHTS} or an array of shape "
                                 f"({n_m}, {in_size}), got {motor_weights!r}")
        else:
            w = jnp.asarray(motor_weights, dtype)
            if w.shape != (n_m, in_size):
                raise ValueError(f"`motor_weights` must have shape ({n_m}, {in_size}), got {w.shape}")
            if not bool(jnp.all(jnp.isfinite(w))):
                raise ValueError("`motor_weights` contains NaN or inf")

        yc = (np.arange(ny) + 0.5) * dx
        xc = (np.arange(nx) + 0.5) * dx
        d2 = (xc[None, None, :] - mpos[:, 0, None, None]) ** 2 + (yc[None, :, None] - mpos[:, 1, None, None]) ** 2
        g = np.exp(-d2 / (2 * float(motor_width) ** 2))
        g = g - g.mean(axis=(1, 2), keepdims=True)
        strength = np.asarray(nonideal.vary(1.0, (n_m,), key=k_var, dtype=dtype), np.float64)
        self.motor_profile = jnp.asarray(g * strength[:, None, None], dtype)
        self.motor_weights = w
        self.motor_positions = jnp.asarray(mpos, dtype)
        self.probe_positions = jnp.asarray(ppos, dtype)
        self.probe_index = jnp.asarray(pidx)
        self.gain = jnp.asarray(gain, dtype)
        self.wave_speed = jnp.asarray(wave_speed, dtype)
        self.damping = jnp.asarray(damping, dtype)
        self.inv_saturation = jnp.asarray(0.0 if saturation_height is None else 1.0 / saturation_height, dtype)
        self.inv_depth = jnp.asarray(0.0 if depth is None else 1.0 / depth, dtype)
        self.input_scaling = jnp.asarray(input_scaling, dtype)
        self.nonideal = nonideal
        self.in_size = in_size
        self.shape = (ny, nx)
        self.size = (lx, ly)
        self.pump_cycles = pump_cycles
        self.motor_cycles = motor_cycles
        self.readout = readout
        if frames > self.substeps:
            raise ValueError(f"`frames` must be <= the substeps per sample ({self.substeps}), got {frames}")
        self.frames = frames
        self.probe_gain = float(probe_gain)
        self.probe_range = float(probe_range)
        self.camera_focus = float(camera_focus)
        self.dac_range = float(dac_range)

    # --------------------------------------------------------------------------------------------- properties

    @property
    def feature_size(self) -> int:
        return int(self.probe_index.shape[0]) * self.frames

    @property
    def n_probes(self) -> int:
        return int(self.probe_index.shape[0])

    @property
    def n_motors(self) -> int:
        return int(self.motor_profile.shape[0])

    @property
    def dx(self) -> float:
        """Cell size in metres."""
        return self.size[0] / self.shape[1]

    @property
    def sample_duration(self) -> float:
        """T = substeps x dt, seconds per input sample."""
        return self.substeps * self.dt

    @property
    def pump_frequency(self) -> float:
        """Omega / 2 pi in Hz."""
        return self.pump_cycles / self.sample_duration

    def max_stable_dt(self, gain=None) -> float:
        """The CFL limit dx / (sqrt 2 c sqrt(1 + A)) in seconds, at `gain` (default the current one)."""
        a = float(self.gain if gain is None else gain)
        return self.dx / (math.sqrt(2.0) * float(self.wave_speed) * math.sqrt(1.0 + a))

    def linear_exponent(self) -> float:
        """The linear tank's Lyapunov exponent per input sample: (substeps / 2) log((1 - beta) / (1 + beta)),
        beta = b dt / 2, the leapfrog's exact decay (~ -b T / 2)."""
        beta = float(self.damping) * self.dt / 2
        return self.substeps / 2 * math.log((1 - beta) / (1 + beta))

    # ----------------------------------------------------------------------------------------------- protocol

    def init_state(self) -> tuple[Float[Array, "ny nx"], Float[Array, "ny nx"], Float[Array, "frames_1 ny nx"]]:
        """Still water: `(h, h_prev, earlier)`: the current and previous height fields (m), and the `frames - 1`
        earlier camera frames of the last sample (heights at the capture instants), all zero."""
        z = jnp.zeros(self.shape, self.motor_profile.dtype)
        return z, z, jnp.zeros((self.frames - 1, *self.shape), z.dtype)

    def drive(self, u: Float[Array, " inputs"]) -> Float[Array, " motors"]:
        """Motor amplitudes s (W u)_k in m/s² for one sample (through the DAC)."""
        a = self.motor_weights @ u[: self.in_size].astype(self.motor_weights.dtype)
        return self.input_scaling * self.nonideal.dac(a, -self.dac_range, self.dac_range)

    def _tables(self, dtype):
        j = np.arange(self.substeps)
        pump = np.cos(2 * np.pi * self.pump_cycles * j / self.substeps)
        if self.motor_cycles == 0:
            motor = np.ones(self.substeps)
        else:
            motor = np.sin(2 * np.pi * self.motor_cycles * (j + 0.5) / self.substeps)
        return jnp.asarray(pump, dtype), jnp.asarray(motor, dtype)

    def step(self, state, u: Float[Array, " inputs"], *, key: PRNGKeyArray | None = None):
        """One input sample: `substeps` leapfrog steps with the motors vibrating at amplitudes set by `u`."""
        h, h_prev, _ = state
        dtype = h.dtype
        dt = jnp.asarray(self.dt, dtype)
        source = jnp.tensordot(self.drive(u).astype(dtype), self.motor_profile.astype(dtype), axes=1)
        pump, motor = self._tables(dtype)
        c2 = self.wave_speed.astype(dtype) ** 2
        half_b_dt = 0.5 * self.damping.astype(dtype) * dt
        inv_s2 = self.inv_saturation.astype(dtype) ** 2
        inv_d = self.inv_depth.astype(dtype)
        gain = self.gain.astype(dtype)
        dx = self.dx

        def sub(carry, xs):
            h, h_prev = carry
            p, m = xs
            beta = half_b_dt * (1 + inv_s2 * h * h)
            force = c2 * (1 + gain * p) * depth_laplacian(h, dx, inv_d) + m * source
            rhs = 2 * h - (1 - beta) * h_prev + dt * dt * force
            h_new = rhs / (1 + beta)
            h_new = h_new - jnp.mean(h_new)
            return (h_new, h), h_new

        (h, h_prev), hs = jax.lax.scan(sub, (h, h_prev), (pump, motor))
        return h, h_prev, hs[np.asarray(self._frame_substeps()[:-1], dtype=np.int32)]

    def _frame_substeps(self) -> list[int]:
        """The substeps (0-based) after which the camera or probes sample the surface; the last is the sample's end."""
        return [round(self.substeps * (i + 1) / self.frames) - 1 for i in range(self.frames)]

    def camera(self, h: Float[Array, "ny nx"]) -> Float[Array, "ny nx"]:
        """The shadowgraph frame: clip((1 - kappa lap h) / 2, 0, 1), grey levels in [0, 1] (still water 0.5),
        quantised by the ADC when `nonideal.adc_bits` is set."""
        img = jnp.clip(0.5 * (1 - self.camera_focus * laplacian(h, self.dx)), 0.0, 1.0)
        return self.nonideal.adc(img, 0.0, 1.0)

    def features(self, state) -> Float[Array, " features"]:
        """Probe voltages, camera pixels or Sobel edge energies at the probe positions, for each of the `frames`
        frames of the last sample (earliest first): `frames x probes` values (see the class docstring)."""
        fields = jnp.concatenate([state[2], state[0][None]], axis=0)
        return jax.vmap(self._frame_features)(fields).reshape(-1)

    def _frame_features(self, h: Float[Array, "ny nx"]) -> Float[Array, " probes"]:
        iy, ix = self.probe_index[:, 0], self.probe_index[:, 1]
        if self.readout == "height":
            v = self.probe_gain * h[iy, ix]
            return self.nonideal.adc(v, -self.probe_range, self.probe_range)
        img = self.camera(h)
        if self.readout == "sobel":
            img = sobel_magnitude(img)
        return img[iy, ix]

    def heights(self, inputs: Float[ArrayLike, "time inputs"], state=None) -> Float[Array, "time ny nx"]:
        """The height field (m) after each input sample (one `jax.lax.scan`): for plots and animations."""
        u = jnp.asarray(inputs, self.motor_profile.dtype)
        u = u[:, None] if u.ndim == 1 else u
        if u.ndim != 2 or u.shape[1] != self.in_size:
            raise ValueError(f"`inputs` must have shape (time, {self.in_size}), got {jnp.shape(inputs)}")
        state = self.init_state() if state is None else state
        return _heights_jit(self, state, u)

    def plot_surface(self, state=None, *, ax=None, title: str | None = None):
        """A still of the height field (mm) with the motors (triangles) and probes (dots) marked; returns the
        matplotlib Figure. `state`: a state or a height field; default still water."""
        return plot_surface(self, state, ax=ax, title=title)

    def animate_surface(self, inputs, path=None, *, fps: int = 10, max_frames: int = 200):
        """Animate the surface under `inputs`; see `physical._bucket.animate_surface`."""
        return animate_surface(self, inputs, path, fps=fps, max_frames=max_frames)

    def energy_terms(self) -> list[EnergyTerm]:
        """Per input sample: motors at rated power for T; the lamp and the camera's pixels, or one ADC conversion
        per probe. Estimates; see the module constants for the sources."""
        T = self.sample_duration
        terms = [EnergyTerm("vibration motors (rated power x sample duration)", float(self.n_motors),
                            MOTOR_POWER_W * T, MOTOR_SOURCE)]
        if self.readout == "height":
            terms.append(EnergyTerm("wave-probe ADC conversions", float(self.feature_size), PROBE_ADC_J,
                                    PROBE_ADC_SOURCE))
        else:
            terms.append(EnergyTerm("shadowgraph lamp (power x sample duration)", 1.0, LAMP_POWER_W * T, LAMP_SOURCE))
            pixels = float(self.frames * self.shape[0] * self.shape[1])
            terms.append(EnergyTerm("camera pixel reads (frames x pixels)", pixels,
                                    CAMERA_J_PER_PIXEL, CAMERA_SOURCE))
        return terms


@eqx.filter_jit
def _heights_jit(tank, state, u):
    def body(state, x):
        state = tank.step(state, x)
        return state, state[0]

    return jax.lax.scan(body, state, u)[1]


def _field(tank, state):
    if state is None:
        return np.zeros(tank.shape)
    h = state[0] if isinstance(state, tuple | list) else state
    return np.asarray(h, np.float64)


def _draw(tank, ax, h, vmax):
    lx, ly = tank.size
    im = ax.imshow(1e3 * h, origin="lower", extent=(0, 100 * lx, 0, 100 * ly), cmap="RdBu_r", vmin=-vmax,
                   vmax=vmax)
    m = np.asarray(tank.motor_positions) * 100
    p = np.asarray(tank.probe_positions) * 100
    ax.plot(p[:, 0], p[:, 1], "k.", ms=2, label="probes")
    ax.plot(m[:, 0], m[:, 1], "k^", ms=8, mfc="gold", label="motors")
    ax.set_xlabel("x (cm)")
    ax.set_ylabel("y (cm)")
    return im


def plot_surface(tank: WaterBucket, state=None, *, ax=None, title: str | None = None):
    """A still of the tank's height field in mm (colour), motors (gold triangles) and probes (dots) marked.
    Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    h = _field(tank, state)
    if h.shape != tank.shape:
        raise ValueError(f"`state` must hold a height field of shape {tank.shape}, got {h.shape}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(5, 4.2))
    ax = ax if ax is not None else fig.add_subplot()
    vmax = max(float(np.abs(1e3 * h).max()), 1e-6)
    im = _draw(tank, ax, h, vmax)
    fig.colorbar(im, ax=ax, label="height h (mm)")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(title or f"water tank, pump A = {float(tank.gain):.3g}")
    return fig


def animate_surface(tank: WaterBucket, inputs, path=None, *, fps: int = 10, max_frames: int = 200):
    """Animate the surface under `inputs` (one frame per input sample, at most `max_frames`) with matplotlib's
    `FuncAnimation`.

    With `path` ending in `.mp4` the animation is written with ffmpeg when matplotlib finds it, otherwise as a GIF
    beside it (Pillow); `.gif` always uses Pillow. Returns `(animation, written_path_or_None, writer_name)`:
    the writer actually used (`"ffmpeg"`, `"pillow"` or None when nothing was saved).
    """
    import matplotlib.pyplot as plt
    from matplotlib import animation

    check_int("fps", fps, minimum=1)
    check_int("max_frames", max_frames, minimum=1)
    hs = np.asarray(tank.heights(inputs)[:max_frames], np.float64)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    vmax = max(float(np.abs(1e3 * hs).max()), 1e-6)
    im = _draw(tank, ax, hs[0], vmax)
    fig.colorbar(im, ax=ax, label="height h (mm)")
    ttl = ax.set_title("")

    def update(i):
        im.set_data(1e3 * hs[i])
        ttl.set_text(f"t = {i * tank.sample_duration:.1f} s (sample {i}), A = {float(tank.gain):.3g}")
        return im, ttl

    anim = animation.FuncAnimation(fig, update, frames=hs.shape[0], interval=1000 / fps, blit=False)
    written, writer = None, None
    if path is not None:
        from pathlib import Path

        path = Path(path)
        if path.suffix.lower() == ".mp4" and animation.writers.is_available("ffmpeg"):
            anim.save(path, writer=animation.FFMpegWriter(fps=fps))
            written, writer = path, "ffmpeg"
        else:
            path = path.with_suffix(".gif")
            anim.save(path, writer=animation.PillowWriter(fps=fps))
            written, writer = path, "pillow"
        plt.close(fig)
    return anim, written, writer


# ------------------------------------------------------------------------------------------------------ registry

#: Per-task settings of the registered `"bucket"` (measured with `benchmarks/bench_bucket.py`; CLI seed 0): a 20 x 20
#: tank of 0.2 m (1 cm cells, 10 leapfrog steps per 0.1 s sample) so that a CLI run takes seconds.
#:
#: - Forecasting: wave-probe heights at 64 points, the textbook damping 0.8 /s.
#: - XOR and sine/square: the camera's Sobel edge energy at all 400 pixels, 8-bit frames, and a strong damping
#:   (8 /s: about 2.5 samples of memory), so that the waves of the last few inputs dominate the frame (with
#:   0.8 /s delayed XOR scored 0.54, with the square-rooted Sobel magnitude 0.80).
#: - Patterns (rising against falling chirps, time-averaged features): a linear tank read through any quadratic
#:   feature cannot tell a chirp from its time reversal (the time average of a quadratic form of a linear
#:   response depends only on the input's autocorrelation, which both classes share), so the motors drive the
#:   water hard (40 m/s^2 per unit input: heights of the order of the depth), where the shallow-water speed
#:   and the nonlinear damping act; probe heights, damping 2 /s.
BUCKET_PRESETS = {
    "forecast": dict(grid=20, readout="height", damping=0.8),
    "camera": dict(grid=20, readout="sobel", damping=8.0, nonideal=dict(adc_bits=8)),
    "patterns": dict(grid=20, readout="height", damping=2.0, input_scaling=40.0),
}


def _build_bucket(in_size: int, units: int, gain: float, *, key, task: str | None = None) -> WaterBucket:
    from reservoirs._registry import CLASSIFY_TASKS, FORECAST_TASKS

    if task is not None and task not in FORECAST_TASKS + CLASSIFY_TASKS:
        raise ValueError(f"`task` must be one of {FORECAST_TASKS + CLASSIFY_TASKS}, got {task!r}")
    name = {"xor": "camera", "sine-square": "camera", "patterns": "patterns"}.get(task, "forecast")
    p = dict(BUCKET_PRESETS[name])
    nonideal = NonIdealities(**p.pop("nonideal", {}))
    return WaterBucket(in_size, units, key=key, gain=gain, nonideal=nonideal, **p)


def _register() -> None:
    from reservoirs._registry import CLASSIFY_TASKS, FORECAST_TASKS, register_reservoir

    register_reservoir(
        "bucket",
        build=_build_bucket,
        units=64,
        gain=0.0,
        sweep_gains=(0.0, 0.45),
        description="water tank driven by motors (Fernando & Sojakka 2003); gain = Faraday pump depth A",
        gain_unit="parametric (Faraday) pump depth A, c^2 -> c^2 (1 + A cos Omega t)",
        min_gain=0.0,
        forecasts=False,
        forecast_note="the tank's probe heights give a good one-step prediction (NRMSE 0.004) but its closed loop "
        "on Mackey-Glass diverges at the defaults (10 of 10 seeds) and lasts 0.09 Lyapunov times on average "
        "(benchmarks/results/substrate_forecast.md); use it for classification",
        task_defaults={
            **{t: {"units": 64, "gain": 0.0, "alpha": 1e-8} for t in FORECAST_TASKS},
            **{t: {"units": 400, "gain": 0.0} for t in CLASSIFY_TASKS},
        },
    )


_register()

"""Classification tasks: sine/square waveforms, delayed XOR, and two temporal "word" patterns.

Each generator returns a `ClassificationTask`: inputs that drive a reservoir and integer labels, either one per
time step (`per_sequence=False`: the readout classifies every step of one long stream) or one per sequence
(`per_sequence=True`: a batch of equal-length sequences, each classified from its own features). All arrays are
made by one jitted function of the key (no Python loop over time or over sequences), in JAX's default float
dtype (float32, or float64 under `jax_enable_x64`); labels are int32.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._series import _default_float, _nonnegative, _nonnegative_int, _positive, _positive_int, _real


class ClassificationTask(eqx.Module):
    """Inputs and labels of a classification task.

    **Fields:**

    - `inputs`: `(time, dim)` for a per-step task (one stream), `(batch, time, dim)` for a per-sequence task.
    - `labels`: int32, `(time,)` (the class at every step) or `(batch,)` (the class of each sequence).
    - `n_classes`: number of classes; labels lie in `[0, n_classes)`.
    - `per_sequence`: whether there is one label per sequence (pool the features of a sequence: the state at its
      end, or its time average) or one per step.
    - `class_names`: a name for every class, in label order.
    - `name`: the task's CLI name (`"sine-square"`, `"xor"`, `"patterns"`).

    A `ClassificationTask` is a pytree (`inputs` and `labels` are its leaves); the rest is static metadata.
    """

    inputs: Float[Array, "..."]
    labels: Int[Array, "..."]
    n_classes: int = eqx.field(static=True)
    per_sequence: bool = eqx.field(static=True)
    class_names: tuple[str, ...] = eqx.field(static=True)
    name: str = eqx.field(static=True)

    def __check_init__(self):
        want = 3 if self.per_sequence else 2
        if jnp.ndim(self.inputs) != want:
            kind = "(batch, time, dim)" if self.per_sequence else "(time, dim)"
            raise ValueError(f"`inputs` must have shape {kind}, got {jnp.shape(self.inputs)}")
        expected = self.inputs.shape[:1]  # (batch,) or (time,)
        if jnp.shape(self.labels) != expected:
            raise ValueError(f"`labels` must have shape {expected}, got {jnp.shape(self.labels)}")
        if len(self.class_names) != self.n_classes:
            raise ValueError(f"`class_names` must name {self.n_classes} classes, got {self.class_names!r}")

    def split(self, n: int) -> tuple["ClassificationTask", "ClassificationTask"]:
        """The first `n` labelled samples (steps of the stream, or sequences) and the rest, as two tasks.

        `n` must be an int in [1, len(self) - 1]. For a stream, the second part starts mid-stream: classify it
        after a washout.
        """
        length = self.labels.shape[0]
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= length - 1:
            raise ValueError(f"`n` must be an int in [1, {length - 1}] (len(self) - 1), got {n!r}")
        meta = (self.n_classes, self.per_sequence, self.class_names, self.name)
        return (
            ClassificationTask(self.inputs[:n], self.labels[:n], *meta),
            ClassificationTask(self.inputs[n:], self.labels[n:], *meta),
        )

    def __len__(self) -> int:
        """Number of labelled samples: time steps (per-step task) or sequences (per-sequence task)."""
        return self.labels.shape[0]


def _probability(name: str, value) -> float:
    value = _real(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"`{name}` must be in (0, 1), got {value!r}")
    return value


# --------------------------------------------------------------------------------------------------------------
# Sine / square waveforms.


@eqx.filter_jit
def _sine_square(key, n_periods: int, spp: int, p_square, noise, dtype):
    k_cls, k_noise = jax.random.split(key)
    cls = jax.random.bernoulli(k_cls, p_square, (n_periods,)).astype(jnp.int32)
    phase = 2 * jnp.pi * jnp.arange(spp, dtype=dtype) / spp
    sine = jnp.sin(phase)
    square = jnp.where(jnp.arange(spp) < spp // 2, 1.0, -1.0).astype(dtype)
    waves = jnp.where(cls[:, None] == 1, square[None, :], sine[None, :])  # (periods, spp)
    u = waves.reshape(-1)
    u = u + noise * jax.random.normal(k_noise, u.shape, dtype)
    return u[:, None], jnp.repeat(cls, spp)


def sine_square(
    n_periods: int,
    *,
    key: PRNGKeyArray,
    samples_per_period: int = 8,
    p_square: float = 0.5,
    noise: float = 0.0,
) -> ClassificationTask:
    r"""Randomly ordered sine and square periods; classify every sample (Torrejon et al. 2017, Nature 547:428;
    Marković et al. 2019, Appl. Phys. Lett. 114:012409).

    Each of `n_periods` periods is, independently, a sine (class 0, with probability `1 - p_square`) or a square
    wave (class 1) of unit amplitude, sampled at `samples_per_period` points (8 in both papers):

    $$u_k = \sin(2\pi k / P) \quad\text{or}\quad u_k = +1 \ (k < P/2),\ -1 \ (k \ge P/2), \qquad k = 0..P-1,$$

    plus optional white noise of standard deviation `noise`. The label of every sample is the class of the period
    it belongs to. Both waves take the values +1 and -1, so the current sample alone does not decide the class
    (a sample of 0 or ±0.707 is a sine, but no *linear* function of u tells that): the readout needs a
    nonlinearity and a few samples of memory. Torrejon et al. and Marković et al. report > 99 % for a spin-torque
    oscillator.

    **Arguments:**

    - `n_periods`: number of periods (positive int); the stream has `n_periods * samples_per_period` samples.
    - `key`: PRNG key (the order of the classes and the noise).
    - `samples_per_period`: samples per period P, an even int >= 2. Default 8.
    - `p_square`: probability that a period is square, in (0, 1). Default 0.5.
    - `noise`: standard deviation of additive Gaussian noise on u, >= 0 (dimensionless, amplitude units).
      Default 0.

    **Returns:** a per-step `ClassificationTask`, inputs `(time, 1)`, labels `(time,)` in {0: sine, 1: square}.
    """
    n_periods = _positive_int("n_periods", n_periods)
    spp = _positive_int("samples_per_period", samples_per_period)
    if spp < 2 or spp % 2:
        raise ValueError(f"`samples_per_period` must be an even int >= 2, got {samples_per_period!r}")
    p_square = _probability("p_square", p_square)
    noise = _nonnegative("noise", noise)
    dtype = _default_float()
    u, labels = _sine_square(key, n_periods, spp, jnp.asarray(p_square), jnp.asarray(noise, dtype), dtype)
    return ClassificationTask(u, labels, 2, False, ("sine", "square"), "sine-square")


# --------------------------------------------------------------------------------------------------------------
# Delayed XOR.


@eqx.filter_jit
def _delayed_xor(key, n_steps: int, delay, hold, dtype):
    # `delay` and `hold` are traced (index arithmetic, no shape depends on them): one compilation per length.
    t = jnp.arange(n_steps)
    draws = jax.random.bernoulli(key, 0.5, (n_steps, 2)).astype(jnp.int32)
    bits = draws[t // hold]  # bit k is held over steps k*hold .. (k+1)*hold - 1
    past = jnp.where((t >= delay)[:, None], bits[jnp.maximum(t - delay, 0)], 0)
    labels = past[:, 0] ^ past[:, 1]
    return bits.astype(dtype), labels


def delayed_xor(n_steps: int, *, key: PRNGKeyArray, delay: int = 2, hold: int = 1) -> ClassificationTask:
    r"""The XOR of two binary streams, `delay` steps back (after Fernando & Sojakka 2003, "Pattern recognition in a
    bucket", ECAL, LNCS 2801:588, whose bucket of water, driven by two motors, solved XOR).

    Two independent streams of fair random bits a(t), b(t) ∈ {0, 1} (each bit held for `hold` steps) drive the
    reservoir; the label at step t is

    $$y(t) = a(t - d) \oplus b(t - d),$$

    with d = `delay` and a = b = 0 before the start (so y = 0 for t < d). XOR is not linearly separable: a
    linear readout of the inputs, however long its window, scores chance (50 %); the reservoir must supply both
    the nonlinearity and d steps of memory.

    **Arguments:**

    - `n_steps`: length of the stream (positive int).
    - `key`: PRNG key for the bits.
    - `delay`: d, how many steps back the XOR is taken, an int >= 0 (0: the XOR of the current inputs). Default 2.
    - `hold`: each bit is held for this many steps (slow substrates, such as water, need several), int >= 1.
      Default 1.

    **Returns:** a per-step `ClassificationTask`, inputs `(time, 2)` in {0, 1}, labels `(time,)` in
    {0: equal, 1: different}.
    """
    n_steps = _positive_int("n_steps", n_steps)
    delay = _nonnegative_int("delay", delay)
    if delay >= n_steps:
        raise ValueError(f"`delay` must be < `n_steps` = {n_steps}, got {delay}")
    hold = _positive_int("hold", hold)
    u, labels = _delayed_xor(key, n_steps, jnp.asarray(delay), jnp.asarray(hold), _default_float())
    return ClassificationTask(u, labels, 2, False, ("equal", "different"), "xor")


# --------------------------------------------------------------------------------------------------------------
# Two temporal patterns ("words").


@eqx.filter_jit
def _temporal_patterns(key, n: int, length: int, f_low, f_high, duration, jitter: int, stretch, noise, dtype):
    k_cls, k_on, k_dur, k_phase, k_noise = jax.random.split(key, 5)
    labels = jax.random.bernoulli(k_cls, 0.5, (n,)).astype(jnp.int32)
    d = duration * (1 + jax.random.uniform(k_dur, (n,), dtype, -stretch, stretch))  # word length, samples
    onset = jax.random.randint(k_on, (n,), 0, jitter + 1).astype(dtype)
    phi0 = jax.random.uniform(k_phase, (n,), dtype, 0.0, 2 * jnp.pi)
    t = jnp.arange(length, dtype=dtype)[None, :]
    tau = (t - onset[:, None]) / d[:, None]  # 0 .. 1 across the word
    inside = (tau >= 0) & (tau < 1)
    f_a = jnp.where(labels == 0, f_low, f_high)[:, None]
    f_b = jnp.where(labels == 0, f_high, f_low)[:, None]
    # Instantaneous frequency f_a + (f_b - f_a) tau (cycles/sample); the phase is its integral over samples.
    phase = phi0[:, None] + 2 * jnp.pi * d[:, None] * (f_a * tau + 0.5 * (f_b - f_a) * tau**2)
    envelope = jnp.where(inside, jnp.sin(jnp.pi * jnp.clip(tau, 0, 1)) ** 2, 0.0)
    u = envelope * jnp.sin(phase) + noise * jax.random.normal(k_noise, (n, length), dtype)
    return u[:, :, None].astype(dtype), labels


def temporal_patterns(
    n_sequences: int,
    *,
    key: PRNGKeyArray,
    length: int = 60,
    duration: float = 40.0,
    f_low: float = 0.04,
    f_high: float = 0.16,
    jitter: int = 10,
    stretch: float = 0.15,
    noise: float = 0.1,
) -> ClassificationTask:
    r"""Two spoken-word-like patterns, a rising and a falling chirp, with timing jitter, tempo changes and noise;
    one label per sequence (in the spirit of the two-word "zero"/"one" task of Fernando & Sojakka 2003).

    A word is a Hann-windowed chirp whose instantaneous frequency sweeps linearly across a "formant" band,
    up (class 0, "rising": `f_low` -> `f_high`) or down (class 1, "falling": `f_high` -> `f_low`), like the
    second-formant transition that tells two syllables apart (e.g. /ba/ against /da/):

    $$u(t) = \sin^2(\pi\tau)\,\sin\!\Big(\phi_0 + 2\pi D\big(f_a\tau + \tfrac12 (f_b - f_a)\tau^2\big)\Big)
    + \sigma\,\xi(t), \qquad \tau = (t - t_0)/D \in [0, 1),$$

    and 0 (plus noise) outside the word. Per sequence, the onset t0 is uniform in {0, ..., jitter}, the duration
    D = duration (1 + U[-stretch, stretch]) (speaking rate), and the phase φ0 uniform in [0, 2π).

    Why this pair: a falling chirp is the time reversal of a rising one, so **both classes have the same power
    spectrum** and the same envelope; only the *order* of the frequencies differs. The random phase and onset
    make the class-mean waveform vanish, so a linear readout of the raw samples is near chance, and a fixed
    spectral feature does not separate them either: a classifier needs memory and a nonlinearity, which is what a
    reservoir is claimed to provide.

    **Arguments:**

    - `n_sequences`: number of sequences (positive int); classes are drawn with probability 1/2 each.
    - `key`: PRNG key.
    - `length`: samples per sequence, int >= 2. Default 60.
    - `duration`: nominal word length D in samples, > 0, with `jitter + duration (1 + stretch) <= length`.
      Default 40.
    - `f_low`, `f_high`: ends of the frequency sweep in cycles per sample, 0 < f_low < f_high <= 0.5. Defaults 0.04
      and 0.16.
    - `jitter`: largest onset delay in samples, int >= 0. Default 10.
    - `stretch`: relative tempo jitter, in [0, 1). Default 0.15.
    - `noise`: standard deviation σ of additive white Gaussian noise (the word's peak amplitude is 1), >= 0.
      Default 0.1.

    **Returns:** a per-sequence `ClassificationTask`, inputs `(batch, length, 1)`, labels `(batch,)` in
    {0: rising, 1: falling}.
    """
    n = _positive_int("n_sequences", n_sequences)
    length = _positive_int("length", length)
    if length < 2:
        raise ValueError(f"`length` must be an int >= 2, got {length}")
    duration = _positive("duration", duration)
    f_low, f_high = _positive("f_low", f_low), _positive("f_high", f_high)
    if not f_low < f_high <= 0.5:
        raise ValueError(f"`f_low` < `f_high` <= 0.5 (cycles per sample) is required, got {f_low!r}, {f_high!r}")
    jitter = _nonnegative_int("jitter", jitter)
    stretch = _nonnegative("stretch", stretch)
    if stretch >= 1:
        raise ValueError(f"`stretch` must be in [0, 1), got {stretch!r}")
    if jitter + math.ceil(duration * (1 + stretch)) > length:
        raise ValueError(
            f"`length` must hold the longest word: jitter + duration * (1 + stretch) = "
            f"{jitter + duration * (1 + stretch):g} > length = {length}"
        )
    noise = _nonnegative("noise", noise)
    dtype = _default_float()
    u, labels = _temporal_patterns(
        key, n, length, jnp.asarray(f_low, dtype), jnp.asarray(f_high, dtype), jnp.asarray(duration, dtype),
        jitter, jnp.asarray(stretch, dtype), jnp.asarray(noise, dtype), dtype,
    )
    return ClassificationTask(u, labels, 2, True, ("rising", "falling"), "patterns")

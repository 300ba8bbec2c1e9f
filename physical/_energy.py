"""Energy per input sample, from operation counts times cited per-operation energies.

A substrate declares what it does per input sample in `energy_terms()`: a list of `EnergyTerm(name, count,
joules_per_op, source)`. `energy_per_step` sums them and puts them next to a digital baseline: a dense echo-state
network with as many units as the substrate has features, run on a digital processor at `DIGITAL_J_PER_MAC`.

These are order-of-magnitude estimates. The per-operation figures are system-level numbers reported for the
technology (periphery included where the source includes it); they are not measurements of this model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from reservoirs import ESN, AbstractReservoir

#: Digital baseline: one 32-bit floating-point multiply (3.7 pJ) plus one add (0.9 pJ) in 45 nm CMOS
#: (Horowitz 2014, "Computing's energy problem (and what we can do about it)", IEEE ISSCC, pp. 10-14, Fig. 1.1.9).
#: Arithmetic only: fetching the weight from a small SRAM adds ~5-10 pJ and from DRAM ~640 pJ (same source), so
#: the digital figures here are a lower bound.
DIGITAL_J_PER_MAC = 4.6e-12
DIGITAL_SOURCE = "Horowitz 2014 (ISSCC): 45 nm fp32 multiply 3.7 pJ + add 0.9 pJ, arithmetic only"


class EnergyTerm(NamedTuple):
    """One kind of operation: `count` per input sample, each costing `joules_per_op` (J), with its source."""

    name: str
    count: float
    joules_per_op: float
    source: str

    @property
    def joules(self) -> float:
        return self.count * self.joules_per_op


@dataclass(frozen=True)
class EnergyReport:
    """`joules` per input sample (the sum of `terms`), and the digital baseline for the same feature count."""

    substrate: str
    terms: tuple[EnergyTerm, ...]
    baseline: tuple[EnergyTerm, ...]

    @property
    def joules(self) -> float:
        return float(sum(t.joules for t in self.terms))

    @property
    def baseline_joules(self) -> float:
        return float(sum(t.joules for t in self.baseline))

    @property
    def ratio(self) -> float:
        """Digital baseline energy / substrate energy (how many times less the substrate spends)."""
        return self.baseline_joules / self.joules if self.joules > 0 else float("inf")

    def to_dict(self) -> dict:
        def rows(terms):
            return [t._asdict() | {"joules": t.joules} for t in terms]

        return dict(substrate=self.substrate, joules_per_step=self.joules,
                    baseline_joules_per_step=self.baseline_joules, ratio=self.ratio,
                    terms=rows(self.terms), baseline=rows(self.baseline))

    def table(self) -> str:
        rows = [f"energy per input sample, {self.substrate}: {_fmt(self.joules)} "
                f"(digital ESN baseline {_fmt(self.baseline_joules)}, {self.ratio:.3g}x)"]
        for prefix, t in [("", t) for t in self.terms] + [("baseline: ", t) for t in self.baseline]:
            rows.append(f"  {prefix + t.name:<44} {t.count:>10.4g} x {_fmt(t.joules_per_op):>9} = {_fmt(t.joules):>9}  "
                        f"[{t.source}]")
        return "\n".join(rows)


def _fmt(j: float) -> str:
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12), ("fJ", 1e-15)):
        if abs(j) >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j / 1e-18:.3g} aJ"


def digital_terms(n_units: int, in_size: int, nnz: int | None = None) -> tuple[EnergyTerm, ...]:
    """A digital ESN step: `nnz` recurrent MACs (default dense, `n_units**2`) plus the input MACs."""
    nnz = n_units * n_units if nnz is None else nnz
    return (EnergyTerm("digital MACs (recurrent + input)", float(nnz + n_units * in_size), DIGITAL_J_PER_MAC,
                       DIGITAL_SOURCE),)


def energy_per_step(reservoir) -> EnergyReport:
    """Joules per input sample of `reservoir`, with a digital ESN baseline.

    Physical substrates list their operations in `energy_terms()` and are compared with a dense digital ESN with
    as many units as the substrate has features. An `ESN` is itself digital (its MACs at `DIGITAL_J_PER_MAC`,
    counting the non-zeros of a sparse W); its baseline is the dense ESN with its own number of units (`size`,
    not `feature_size`, which a quadratic feature map doubles) and inputs (external plus fed-back). A
    `reservoirs.LSM` is costed as synaptic events on Loihi at 10 Hz per neuron (call
    `lsm.energy_terms(measured_events, chip=...)` for measured activity).

    Example:
        >>> report = energy_per_step(physical.MemristorCrossbar(key=jax.random.key(0)))
        >>> print(report.table())
    """
    if not isinstance(reservoir, AbstractReservoir):
        raise ValueError(f"`reservoir` must be an AbstractReservoir, got {type(reservoir).__name__}")
    if isinstance(reservoir, ESN):
        # The baseline is a dense ESN of the same number of *units* (not features: a quadratic feature map doubles
        # the features of the same N units) and the same inputs, so a sparse ESN is compared with its dense twin.
        W = reservoir.W
        nnz = int(np.count_nonzero(np.asarray(W))) if not hasattr(W, "values") else int(np.asarray(W.values).size)
        n_in = reservoir.in_size + reservoir.feedback_size
        terms = digital_terms(reservoir.size, n_in, nnz)
        return EnergyReport("ESN (digital)", terms, digital_terms(reservoir.size, n_in))
    baseline = digital_terms(reservoir.feature_size, reservoir.in_size)
    if not hasattr(reservoir, "energy_terms"):
        raise ValueError(f"{type(reservoir).__name__} does not declare `energy_terms()`; no energy estimate")
    # Any NamedTuple with the same four fields (the LSM's, which cannot import this package) becomes an EnergyTerm.
    terms = tuple(EnergyTerm(t.name, float(t.count), float(t.joules_per_op), t.source)
                  for t in reservoir.energy_terms())
    return EnergyReport(type(reservoir).__name__, terms, baseline)

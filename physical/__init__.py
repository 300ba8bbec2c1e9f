"""physical: device models as reservoirs.

Each substrate is a `reservoirs.AbstractReservoir` whose dynamics come from a device model, with a documented
physical gain knob, a composable set of non-idealities (`NonIdealities`) and an energy estimate
(`energy_per_step`). Swap one for an `ESN` in one line: `fit`, `forecast`, `sweep`, the diagnostics and the CLI
work unchanged.
"""

from ._bucket import WaterBucket as WaterBucket
from ._energy import DIGITAL_J_PER_MAC as DIGITAL_J_PER_MAC
from ._energy import EnergyReport as EnergyReport
from ._energy import EnergyTerm as EnergyTerm
from ._energy import energy_per_step as energy_per_step
from ._memristor import MemristorCrossbar as MemristorCrossbar
from ._memristor import zhong_node_step as zhong_node_step
from ._nonideal import NonIdealities as NonIdealities
from ._nonideal import quantize as quantize
from ._photonic import PhotonicDelay as PhotonicDelay
from ._spintronic import SpinTorqueOscillator as SpinTorqueOscillator

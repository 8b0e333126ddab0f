"""The connectome-constrained optic lobe of Lappalainen et al. (Nature 2024, "flyvis") in JAX.

net = flyenvs.connectome.optic_lobe.build()          # 65 types, 45,669 neurons, 1,513,231 edges
params = flyenvs.connectome.optic_lobe.load_pretrained(0)
v = net.simulate(params, stimulus, dt_s=1 / 200)   # [T, 721] -> [T, 45669]
"""

from .connectome import Connectome, compile_connectome, hex_columns
from .network import (
    DEFAULT_DT_S,
    OpticLobe,
    OpticLobeParams,
    build,
    params_from_vector,
    params_to_vector,
    project,
)
from .pretrained import N_MODELS, load_ensemble, load_pretrained
from .seam import network_factory, type_columns

__all__ = [
    "DEFAULT_DT_S",
    "N_MODELS",
    "Connectome",
    "OpticLobe",
    "OpticLobeParams",
    "build",
    "compile_connectome",
    "hex_columns",
    "load_ensemble",
    "load_pretrained",
    "network_factory",
    "params_from_vector",
    "params_to_vector",
    "project",
    "type_columns",
]

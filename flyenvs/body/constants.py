"""Names and orderings of the fly body, shared by every layer.

Leg order is NeuroMechFly's: LF, LM, LH, RF, RM, RH (left/right x front/middle/hind).
Each leg has 7 actuated degrees of freedom, in this order:
ThC pitch/roll/yaw (``Coxa``, ``Coxa_roll``, ``Coxa_yaw``), CTr pitch/roll (``Femur``,
``Femur_roll``), FTi pitch (``Tibia``) and TiTa pitch (``Tarsus1``).
"""

from __future__ import annotations

LEGS: tuple[str, ...] = ("LF", "LM", "LH", "RF", "RM", "RH")
LEG_DOFS: tuple[str, ...] = ("Coxa", "Coxa_roll", "Coxa_yaw", "Femur", "Femur_roll", "Tibia", "Tarsus1")
N_LEGS: int = len(LEGS)
N_DOFS_PER_LEG: int = len(LEG_DOFS)

#: The 42 actuated leg joints, leg-major (index = leg * 7 + dof), as in flygym's ``all_leg_dofs``.
LEG_JOINTS: tuple[str, ...] = tuple(f"joint_{leg}{dof}" for leg in LEGS for dof in LEG_DOFS)
N_LEG_JOINTS: int = len(LEG_JOINTS)

#: Distal tarsal segment of each leg (the contact / adhesion site), in leg order.
TARSUS_TIPS: tuple[str, ...] = tuple(f"{leg}Tarsus5" for leg in LEGS)
N_ADHESION: int = N_LEGS

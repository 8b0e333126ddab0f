"""Names and orderings of the fly body, shared by every layer.

Leg order is NeuroMechFly's: LF, LM, LH, RF, RM, RH (left/right x front/middle/hind).
Each leg has 7 actuated degrees of freedom, in this order:
ThC pitch/roll/yaw (``Coxa``, ``Coxa_roll``, ``Coxa_yaw``), CTr pitch/roll (``Femur``,
``Femur_roll``), FTi pitch (``Tibia``) and TiTa pitch (``Tarsus1``).
"""

from __future__ import annotations

LEGS: tuple[str, ...] = ("LF", "LM", "LH", "RF", "RM", "RH")
LEG_DOFS: tuple[str, ...] = (
    "Coxa",
    "Coxa_roll",
    "Coxa_yaw",
    "Femur",
    "Femur_roll",
    "Tibia",
    "Tarsus1",
)
N_LEGS: int = len(LEGS)
N_DOFS_PER_LEG: int = len(LEG_DOFS)

#: The 42 actuated leg joints, leg-major (index = leg * 7 + dof), as in flygym's ``all_leg_dofs``.
LEG_JOINTS: tuple[str, ...] = tuple(f"joint_{leg}{dof}" for leg in LEGS for dof in LEG_DOFS)
N_LEG_JOINTS: int = len(LEG_JOINTS)

#: Distal tarsal segment of each leg (the contact / adhesion site), in leg order.
TARSUS_TIPS: tuple[str, ...] = tuple(f"{leg}Tarsus5" for leg in LEGS)
N_ADHESION: int = N_LEGS

# --- Model elements added by flyenvs.body (names) ------------------------------------------------
#: Free joint of the thorax (root of the body).
FREE_JOINT: str = "root"
#: Floor plane geom.
FLOOR_GEOM: str = "floor"
#: Camera following the thorax, for videos.
TRACKING_CAMERA: str = "tracking"
#: Eye frames (sites; x forward, z up at rest), left then right.
EYE_SITES: tuple[str, ...] = ("l_eye", "r_eye")
#: Sites at the distal end of each tarsus (end effectors, adhesion points), in leg order.
TARSUS_TIP_SITES: tuple[str, ...] = tuple(f"{t}_tip" for t in TARSUS_TIPS)
#: Body segments carrying an ellipsoid that collides with the floor (``body_contact``).
BODY_CONTACT_SEGMENTS: tuple[str, ...] = ("Thorax", "Head", "A1A2", "A3", "A4", "A5", "A6")
#: Leg segments whose meshes collide in the ``"reference"`` variant (flygym's "legs" set).
LEG_COLLISION_SEGMENTS: tuple[str, ...] = (
    "Coxa", "Femur", "Tibia", "Tarsus1", "Tarsus2", "Tarsus3", "Tarsus4", "Tarsus5",
)  # fmt: skip

# --- Physics parameters --------------------------------------------------------------------------
#: Physics timestep of the ``"train"`` variant (s): the largest at which 10 s of random actions
#: keep ground penetration <= 0.05 mm (20+ seeds). See docs/body.md for the evidence.
TRAIN_TIMESTEP_S: float = 2.5e-4
#: NeuroMechFly's own timestep, used by the ``"reference"`` variant (s).
REFERENCE_TIMESTEP_S: float = 1e-4
TIMESTEP_S: dict[str, float] = {"train": TRAIN_TIMESTEP_S, "reference": REFERENCE_TIMESTEP_S}
#: Newton solver iterations / line-search iterations of ``"train"``.
TRAIN_SOLVER_ITERATIONS: int = 20
TRAIN_LS_ITERATIONS: int = 10
#: Rotor-like inertia added to each actuated leg joint in ``"train"`` (g mm^2).
TRAIN_ARMATURE: float = 1e-4
#: Position-actuator gain (uN mm / rad) and force limit (uN mm): flygym 1.2.1 defaults.
ACTUATOR_KP: float = 45.0
ACTUATOR_FORCE_LIMIT: float = 65.0
#: Leg-joint damping (uN mm s / rad) and actuator force limit (uN mm) of ``"train"``: with
#: flygym's values (0.06, 65) random targets swing the joints at several hundred rad/s and the
#: tarsi strike the floor at up to 0.5 m/s; these cap a joint driven by its own actuator near
#: 25 rad/s (force limit / damping), which the recorded 12 Hz tripod step still tracks.
TRAIN_JOINT_DAMPING: float = 0.6
TRAIN_ACTUATOR_FORCE_LIMIT: float = 15.0
#: Adhesion force per tarsus at adhesion = 1 (g mm s^-2 = uN): flygym's adhesion gain (40),
#: about 4x the fly's weight (1.0e-3 g x 9810 mm s^-2 = 9.8 uN).
ADHESION_FORCE_MAX: float = 40.0

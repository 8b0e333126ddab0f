"""The NeuroMechFly body: composition (:func:`load`), names (:mod:`.constants`), index arrays
(:func:`layout`), neutral pose and NeuroMechFly's recorded step kinematics."""

from flyenvs.body import constants
from flyenvs.body.kinematics import SingleSteps, in_stance, single_steps, step_angles
from flyenvs.body.layout import Layout, layout, neutral_joint_angles, neutral_qpos
from flyenvs.body.model import VARIANTS, build_mjcf, compile_mjcf, load

__all__ = [
    "VARIANTS",
    "Layout",
    "SingleSteps",
    "build_mjcf",
    "compile_mjcf",
    "constants",
    "in_stance",
    "layout",
    "load",
    "neutral_joint_angles",
    "neutral_qpos",
    "single_steps",
    "step_angles",
]

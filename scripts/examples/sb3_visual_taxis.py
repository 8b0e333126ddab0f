"""Stable-Baselines3 PPO (``MultiInputPolicy``) on ``flyenvs/VisualTaxis-v1`` (the dict
observation holds the compound eyes' ``vision`` [2, 721] beside proprioception), native vector env.

Example (needs ``pip install -e '.[sb3]'``)::

    MUJOCO_GL=egl python scripts/examples/sb3_visual_taxis.py --steps 8192 --num-envs 8 \\
        --out outputs/sb3_visual_taxis.zip

Prints the mean episode reward before and after training; see ``sb3_ppo.py`` for the options
and docs/external_trainers.md for timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sb3_ppo import main, parse_args  # noqa: E402

if __name__ == "__main__":
    args = parse_args(None, __doc__.splitlines()[0], "outputs/sb3_visual_taxis.zip")
    main("flyenvs/VisualTaxis-v1", args)

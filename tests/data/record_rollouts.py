"""Record ``rollouts_v1.npz`` for ``tests/test_rollout_regression.py``.

Run only when a change is *meant* to alter observations, rewards or dynamics, together with a
new id version and a line in docs/versions.md::

    MUJOCO_GL=egl python tests/data/record_rollouts.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_rollout_regression import CASES, RECORDING, rollout  # noqa: E402

if __name__ == "__main__":
    out = {}
    for case in sorted(CASES):
        for key, value in rollout(case).items():
            out[f"{case}/{key}"] = value
        print(case, np.round(out[f"{case}/reward"], 4))
    np.savez_compressed(RECORDING, **out)
    print("wrote", RECORDING)

"""The eyes on the fly: eye poses from the physics readout (C MuJoCo backend) feed the caster."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from flyenvs.vision import Pillar, make_scene, make_texture, ommatidia_directions, render_eyes


@pytest.fixture(scope="module")
def readout():
    body = pytest.importorskip("flyenvs.body")
    from flyenvs.sim.mujoco_backend import MujocoBackend

    try:
        model = body.load()
    except FileNotFoundError as err:
        pytest.skip(f"fly assets missing: {err}")
    backend = MujocoBackend(model)
    return backend.readout(backend.init(body.neutral_qpos(model)))


def test_eye_frames_from_the_readout(readout):
    pos, xmat = np.asarray(readout.eye_pos_mm), np.asarray(readout.eye_xmat)
    assert pos.shape == (2, 3) and xmat.shape == (2, 3, 3)
    for r in xmat:
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-6)
    assert pos[0, 1] > pos[1, 1]  # left eye on the left (+y)
    assert pos[0, 2] > 0.0  # above the floor


@pytest.mark.parametrize(("pillar_xy", "dark_eyes"), [((15.0, 0.0), (0, 1)), ((0.0, 15.0), (0,))])
def test_fly_sees_a_pillar(readout, pillar_xy, dark_eyes):
    body_xy = np.asarray(readout.body_pos_mm)[:2]
    heading = np.asarray(readout.eye_xmat)[0][:, 0]  # eye frame x axis in the world
    yaw = np.arctan2(heading[1], heading[0])
    c, s = np.cos(yaw), np.sin(yaw)
    x, y = pillar_xy
    centre = (body_xy[0] + c * x - s * y, body_xy[1] + s * x + c * y, 5.0)
    scene = make_scene(
        ground=make_texture("uniform", 1.0),
        panorama=make_texture("uniform", 1.0),
        pillars=[Pillar(centre, 1.5, 10.0, lum=0.0)],
    )
    out = np.asarray(jax.jit(render_eyes)(scene, readout.eye_pos_mm, readout.eye_xmat))
    dirs = ommatidia_directions()
    for eye in (0, 1):
        if eye in dark_eyes:
            bearing = np.degrees(np.arctan2(y, x))
            az = np.degrees(np.arctan2(dirs[eye, :, 1], dirs[eye, :, 0]))
            toward = np.abs(az - bearing) < 10
            assert out[eye, toward].min() < 0.1
        else:
            assert out[eye].min() > 0.999

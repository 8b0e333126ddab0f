"""flyenvs.body: model composition, variants, index arrays, neutral pose, asset errors."""

from __future__ import annotations

import shutil

import mujoco
import numpy as np
import pytest

import flyenvs.body as fb
from flyenvs import _paths
from flyenvs.body import constants as C


@pytest.fixture(scope="module")
def train() -> mujoco.MjModel:
    return fb.load("train")


@pytest.fixture(scope="module")
def reference() -> mujoco.MjModel:
    return fb.load("reference")


def test_train_sizes_and_options(train):
    assert (train.nq, train.nv, train.nu) == (49, 48, 42)  # free joint + 42 leg hinges
    assert train.njnt == 43
    assert train.opt.timestep == C.TRAIN_TIMESTEP_S == 2.5e-4
    assert train.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    names = [train.actuator(i).name for i in range(train.nu)]
    assert names == [f"actuator_{j}" for j in C.LEG_JOINTS]
    assert [train.joint(int(train.actuator_trnid[i, 0])).name for i in range(42)] == list(
        C.LEG_JOINTS
    )


def test_reference_sizes_and_options(reference):
    assert (reference.nq, reference.nv, reference.nu) == (94, 93, 42)  # NeuroMechFly's 87 hinges
    assert reference.opt.timestep == C.REFERENCE_TIMESTEP_S == 1e-4
    assert reference.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER


def test_train_collides_only_through_primitive_pairs(train):
    assert np.all(train.geom_contype == 0) and np.all(train.geom_conaffinity == 0)
    assert train.npair == C.N_LEGS + len(C.BODY_CONTACT_SEGMENTS)
    floor = train.geom(C.FLOOR_GEOM).id
    primitives = {int(mujoco.mjtGeom.mjGEOM_SPHERE), int(mujoco.mjtGeom.mjGEOM_ELLIPSOID)}
    for g1, g2 in zip(train.pair_geom1, train.pair_geom2, strict=True):
        assert floor in (g1, g2)
        assert train.geom_type[g1 if g2 == floor else g2] in primitives


def test_leg_dynamics_train_damped_reference_as_flygym(train, reference):
    """train: damped, force-limited legs (docs/body.md); reference: flygym 1.2.1's values."""
    lay_t, lay_r = fb.layout(train), fb.layout(reference)
    dof_t = train.jnt_dofadr[[train.joint(j).id for j in C.LEG_JOINTS]]
    dof_r = reference.jnt_dofadr[[reference.joint(j).id for j in C.LEG_JOINTS]]
    np.testing.assert_array_equal(train.dof_damping[dof_t], C.TRAIN_JOINT_DAMPING)
    np.testing.assert_array_equal(reference.dof_damping[dof_r], 0.06)
    np.testing.assert_array_equal(
        train.actuator_forcerange[lay_t.leg_actuator_ids],
        np.tile([-C.TRAIN_ACTUATOR_FORCE_LIMIT, C.TRAIN_ACTUATOR_FORCE_LIMIT], (42, 1)),
    )
    np.testing.assert_array_equal(
        reference.actuator_forcerange[lay_r.leg_actuator_ids],
        np.tile([-C.ACTUATOR_FORCE_LIMIT, C.ACTUATOR_FORCE_LIMIT], (42, 1)),
    )
    assert C.TRAIN_ACTUATOR_FORCE_LIMIT / C.TRAIN_JOINT_DAMPING == pytest.approx(25.0)


def test_joint_axes_match_neuromechfly(train, reference):
    # NeuroMechFly (seqik, ypr order): yaw about x, pitch about y, roll about z.
    expected = {"Coxa_yaw": [1, 0, 0], "Coxa": [0, 1, 0], "Coxa_roll": [0, 0, 1],
                "Femur": [0, 1, 0], "Femur_roll": [0, 0, 1], "Tibia": [0, 1, 0],
                "Tarsus1": [0, 1, 0]}  # fmt: skip
    for model in (train, reference):
        for leg in C.LEGS:
            for dof, axis in expected.items():
                np.testing.assert_allclose(model.joint(f"joint_{leg}{dof}").axis, axis)


def test_masses_as_neuromechfly(train, reference):
    # flygym 1.2.1 masses (g): whole fly about 1.0e-3 g; welding segments keeps the mass.
    total = train.body_subtreemass[train.body("Thorax").id]
    assert total == pytest.approx(1.0245e-3, rel=1e-3)
    assert reference.body_subtreemass[reference.body("Thorax").id] == pytest.approx(total)


def test_load_returns_independent_copies():
    a = fb.load()
    a.opt.timestep = 0.5
    assert fb.load().opt.timestep == C.TRAIN_TIMESTEP_S


def test_unknown_variant_lists_valid():
    with pytest.raises(ValueError, match="train.*reference"):
        fb.load("fast")


def test_layout_indices(train):
    lay = fb.layout(train)
    for i, name in enumerate(C.LEG_JOINTS):
        assert train.jnt_qposadr[train.joint(name).id] == lay.leg_qpos_adr[i]
        assert train.jnt_dofadr[train.joint(name).id] == lay.leg_qvel_adr[i]
    assert [train.site(int(s)).name for s in lay.tarsus_site_ids] == list(C.TARSUS_TIP_SITES)
    assert [train.body(int(b)).name for b in lay.tarsus_body_ids] == [
        f"{leg}Tarsus1" for leg in C.LEGS
    ]  # tarsi 2-5 are welded and fused into tarsus 1
    assert list(np.flatnonzero(lay.geom_leg >= 0)) == sorted(lay.tarsus_geom_ids)
    with pytest.raises(ValueError):
        lay.leg_qpos_adr[0] = 0  # read-only


def test_neutral_pose_geometry(train):
    lay = fb.layout(train)
    data = mujoco.MjData(train)
    data.qpos[:] = fb.neutral_qpos(train)
    mujoco.mj_forward(train, data)
    tips = data.site_xpos[lay.tarsus_site_ids]
    assert np.all(tips[:, 2] >= 0) and tips[:, 2].min() < 0.05
    # left legs at +y, right legs at -y; front legs ahead of hind legs
    assert np.all(tips[:3, 1] > 0) and np.all(tips[3:, 1] < 0)
    assert tips[0, 0] > tips[2, 0] and tips[3, 0] > tips[5, 0]
    # eyes: left at +y, right at -y, frames x forward / z up for a level thorax
    eyes = data.site_xpos[lay.eye_site_ids]
    assert eyes[0, 1] > 0 > eyes[1, 1]
    for k in range(2):
        np.testing.assert_allclose(data.site_xmat[lay.eye_site_ids[k]].reshape(3, 3), np.eye(3),
                                   atol=1e-9)  # fmt: skip


def test_ctrlrange_covers_recorded_steps(train):
    angles = fb.single_steps().joint_angles_rad
    lo, hi = train.actuator_ctrlrange.T
    assert np.all(angles >= lo) and np.all(angles <= hi)


def test_recorded_steps_and_gait():
    steps = fb.single_steps()
    assert steps.joint_angles_rad.shape == (45, 42)
    assert steps.timestep_s == pytest.approx(0.003)
    np.testing.assert_allclose(fb.step_angles(np.zeros(6)), steps.joint_angles_rad[0])
    np.testing.assert_allclose(fb.step_angles(np.full(6, 2 * np.pi)), steps.joint_angles_rad[0])
    assert not fb.in_stance(np.zeros(6)).any() and fb.in_stance(np.full(6, 6.0)).all()
    ctrl, adh = fb.kinematics.tripod_gait(np.array([0.0, 1 / 24]))
    assert ctrl.shape == (2, 42) and adh.shape == (2, 6)
    np.testing.assert_array_equal(adh[0], 1 - adh[1])  # tripods alternate


def test_neutral_pose_stands_under_gravity(train):
    """Neutral pose held by the actuators, adhesion on: stands for 1 s, no body contact,
    penetration < 0.05 mm at every physics step."""
    from flyenvs.sim import MujocoBackend

    backend = MujocoBackend(train)
    state = backend.init(fb.neutral_qpos(train))
    worst = 0.0
    for _ in range(int(round(1.0 / train.opt.timestep))):
        state = backend.step(state, fb.neutral_joint_angles(), np.ones(6), 1)
        if state.ncon:
            worst = min(worst, float(state.contact.dist[: state.ncon].min()))
        r = backend.readout(state)
        assert r.body_contact == 0.0
    assert worst > -0.05
    assert r.body_pos_mm[2] > 0.9 and r.gravity_body[2] < -0.99
    assert np.all(r.tarsus_force > 0)
    np.testing.assert_allclose(r.tarsus_force.sum(), 6 * C.ADHESION_FORCE_MAX + 9.81 * 1.0245,
                               rtol=0.05)  # fmt: skip  # adhesion + weight (uN)


# --- asset errors -------------------------------------------------------------------------------


@pytest.fixture
def assets_copy(tmp_path, monkeypatch):
    dst = tmp_path / "assets"
    shutil.copytree(_paths.ASSETS_DIR / "neuromechfly", dst / "neuromechfly")
    monkeypatch.setattr(_paths, "ASSETS_DIR", dst)
    return dst / "neuromechfly"


def test_missing_mesh_names_file(assets_copy):
    (assets_copy / "meshes" / "lf_tibia.stl").unlink()
    with pytest.raises(FileNotFoundError, match="lf_tibia.stl"):
        fb.load()


def test_missing_mjcf_names_file(assets_copy):
    (assets_copy / "neuromechfly.xml").unlink()
    with pytest.raises(FileNotFoundError, match="neuromechfly.xml"):
        fb.load("reference")


def test_corrupt_mjcf_names_file(assets_copy):
    (assets_copy / "neuromechfly.xml").write_text("<mujoco><worldbody>")
    with pytest.raises(ValueError, match="neuromechfly.xml"):
        fb.load()


def test_corrupt_mesh_names_file(assets_copy):
    (assets_copy / "meshes" / "lf_tarsus5.stl").write_bytes(b"solid nonsense")
    with pytest.raises(ValueError, match="lf_tarsus5.stl"):
        fb.load()


def test_corrupt_visual_mesh_names_file(assets_copy):
    (assets_copy / "meshes" / "lf_tibia.stl").write_bytes(b"solid nonsense")
    with pytest.raises(ValueError, match="lf_tibia"):
        fb.load("reference")


def test_corrupt_kinematics_names_file(assets_copy):
    (assets_copy / "single_steps_untethered.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="single_steps_untethered.npz"):
        fb.single_steps()

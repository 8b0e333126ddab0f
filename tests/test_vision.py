"""Compound eyes: lattice, known scenes, MuJoCo agreement, jit/vmap, pictures, bad inputs."""

from __future__ import annotations

import ast

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from reference_wheels import UNZIPPED

from flyenvs.vision import (
    N_OMMATIDIA,
    EyeGeometry,
    Pillar,
    Sphere,
    cast_rays,
    eye_ray_directions_world,
    hex_coords,
    hex_image,
    make_scene,
    make_texture,
    neighbour_pairs,
    ommatidia_directions,
    ray_directions,
    render_eyes,
    rotate_panorama,
    save_png,
    set_pillar,
    set_sphere,
)
from flyenvs.vision.lattice import ray_offsets
from flyenvs.vision.mujoco_scene import PANORAMA, multiray, scene_to_spec

FLYVIS_HEX_UTILS = UNZIPPED / "flyvis-1.2.0-py3-none-any" / "flyvis" / "utils" / "hex_utils.py"
EYE_POS = np.array([[0.3, 0.2, 1.0], [0.3, -0.2, 1.0]])
EYE_XMAT = np.stack([np.eye(3), np.eye(3)])
render = jax.jit(render_eyes)


def yaw_xmat(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return np.stack([r, r])


def bright_world(**kwargs) -> object:
    """Uniform bright ground, panorama and sky, plus the given objects."""
    return make_scene(
        ground=make_texture("uniform", 1.0),
        panorama=make_texture("uniform", 1.0),
        sky_lum=1.0,
        **kwargs,
    )


# ----- lattice ---------------------------------------------------------------------------


def test_lattice_count_and_flyvis_order():
    u, v = hex_coords()
    assert len(u) == N_OMMATIDIA == 721
    assert np.all((np.abs(u) <= 15) & (np.abs(v) <= 15) & (np.abs(u + v) <= 15))
    assert len(set(zip(u.tolist(), v.tolist(), strict=True))) == 721
    np.testing.assert_array_equal(np.lexsort((v, u)), np.arange(721))  # u, then v ascending
    assert (u[0], v[0], u[-1], v[-1]) == (-15, 0, 15, 0)


def test_lattice_order_equals_flyvis_source():
    """Run flyvis's own get_hex_coords (extracted from the wheel without importing torch)."""
    if not FLYVIS_HEX_UTILS.exists():
        pytest.skip(f"flyvis wheel not unpacked at {FLYVIS_HEX_UTILS}")
    tree = ast.parse(FLYVIS_HEX_UTILS.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_hex_coords")
    fn.returns = None
    for arg in fn.args.args:
        arg.annotation = None
    namespace = {"np": np, "torch": None}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "hex_utils", "exec"), namespace)
    fu, fv = namespace["get_hex_coords"](15)
    u, v = hex_coords()
    np.testing.assert_array_equal(u, fu)
    np.testing.assert_array_equal(v, fv)


def test_directions_unit_mirrored_and_spaced_about_5_deg():
    dirs = ommatidia_directions()
    assert dirs.shape == (2, 721, 3)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(dirs[1], dirs[0] * [1, -1, 1])
    pairs = neighbour_pairs()
    assert len(pairs) == 3 * 15 * (3 * 15 + 1)  # edges of an extent-15 hexagon: 2070
    cos = np.sum(dirs[0, pairs[:, 0]] * dirs[0, pairs[:, 1]], axis=-1)
    ang = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    assert 4.5 <= np.median(ang) <= 5.1
    assert ang.min() > 3.5 and ang.max() <= 5.0 + 1e-6
    # left eye looks left, with a little binocular overlap in front
    az = np.degrees(np.arctan2(dirs[0, :, 1], dirs[0, :, 0]))
    assert np.mean(dirs[0, :, 1] > 0) > 0.9
    assert az.min() < 0.0 < az.max()
    # the central column (u = v = 0) is the axis; u + v/2 grows downwards, v grows anteriorly
    u, v = hex_coords()
    centre = np.flatnonzero((u == 0) & (v == 0))[0]
    below = np.flatnonzero((u == 1) & (v == 0))[0]
    front = np.flatnonzero((u == -1) & (v == 2))[0]  # same height, two columns anterior
    assert dirs[0, below, 2] < dirs[0, centre, 2]
    assert dirs[0, front, 0] > dirs[0, centre, 0]
    assert abs(dirs[0, front, 2] - dirs[0, centre, 2]) < 1e-9


def test_ray_cubature_moments():
    g = EyeGeometry()
    offsets, weights = ray_offsets(g)
    sigma = np.deg2rad(g.acceptance_deg) / (2 * np.sqrt(2 * np.log(2)))
    np.testing.assert_allclose(weights.sum(), 1.0)
    np.testing.assert_allclose(weights @ offsets, 0.0, atol=1e-15)
    np.testing.assert_allclose(weights @ offsets[:, 0] ** 2, sigma**2)
    np.testing.assert_allclose(weights @ offsets[:, 1] ** 4, 3 * sigma**4)
    dirs, w = ray_directions(g)
    assert dirs.shape == (2, 721, 7, 3) and w.shape == (7,)
    one, w1 = ray_directions(g._replace(n_rays=1))
    np.testing.assert_allclose(one[:, :, 0], ommatidia_directions(g))
    np.testing.assert_allclose(dirs[:, :, 0], ommatidia_directions(g))


# ----- known scenes ----------------------------------------------------------------------


def frontal(eye: int, within_deg: float = 12.0) -> np.ndarray:
    d = ommatidia_directions()[eye]
    return np.degrees(np.arccos(np.clip(d[:, 0], -1, 1))) < within_deg


def test_pillar_ahead_darkens_frontal_ommatidia_of_both_eyes():
    scene = bright_world(pillars=[Pillar((15.0, 0.0, 5.0), 1.5, 10.0, lum=0.0)])
    out = np.asarray(render(scene, EYE_POS, EYE_XMAT))
    assert out.shape == (2, 721)
    for eye in (0, 1):
        front = frontal(eye)
        assert front.sum() >= 5
        assert out[eye, front].min() < 0.1  # dark pillar in front
        d = ommatidia_directions()[eye]
        lateral = np.abs(np.degrees(np.arctan2(d[:, 1], d[:, 0]))) > 30.0
        assert out[eye, lateral].min() > 0.999  # elsewhere the bright world


def test_pillar_on_the_left_darkens_only_the_left_eye():
    scene = bright_world(pillars=[Pillar((0.3, 15.0, 5.0), 1.5, 10.0, lum=0.0)])
    out = np.asarray(render(scene, EYE_POS, EYE_XMAT))
    assert out[0].min() < 0.1
    assert (out[0] < 0.5).sum() >= 5
    assert out[1].min() > 0.999


def test_eyes_move_with_the_body():
    """Turning the fly left by 90 deg brings the left pillar in front of both eyes."""
    scene = bright_world(pillars=[Pillar((0.0, 15.0, 5.0), 1.5, 10.0, lum=0.0)])
    pos = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    out = np.asarray(render(scene, pos, yaw_xmat(np.pi / 2)))
    for eye in (0, 1):
        assert out[eye, frontal(eye)].min() < 0.1


@pytest.mark.parametrize("kind", ["sine", "grating"])
def test_grating_shifted_by_one_period_is_the_same(kind):
    period = 2 * np.pi / 12
    base = make_scene(
        ground=make_texture("checker", 0.2, 0.8, period=3.0),
        panorama=make_texture(kind, 0.0, 1.0, period=period, angle_rad=0.1),
        panorama_z_mm=(-100.0, 100.0),
    )
    shifted = base._replace(panorama=base.panorama._replace(angle_rad=jnp.float32(0.1 + period)))
    half = base._replace(panorama=base.panorama._replace(angle_rad=jnp.float32(0.1 + period / 2)))
    a, b, c = (np.asarray(render(s, EYE_POS, EYE_XMAT)) for s in (base, shifted, half))
    assert a.std() > 0.1
    assert np.mean(np.abs(a - b) < 1e-3) > 0.995
    assert np.median(np.abs(a - b)) < 1e-4
    assert np.mean(np.abs(a - c)) > 0.1  # half a period is not the same


def test_two_channels_and_texture_kinds():
    scene = make_scene(
        ground=make_texture("checker", (0.1, 0.9), (0.9, 0.1), period=2.0, n_channels=2),
        spheres=[Sphere((0.0, 5.0, 2.0), 1.0, lum=(0.0, 1.0))],
        sky_lum=(1.0, 0.5),
        n_channels=2,
    )
    out = np.asarray(render(scene, EYE_POS, EYE_XMAT))
    assert out.shape == (2, 721, 2)
    assert np.all((out >= 0) & (out <= 1))
    assert np.any(out[..., 0] != out[..., 1])


def test_scene_updates_inside_jit_and_vmap():
    scene = bright_world(max_spheres=1, max_cylinders=1)

    @jax.jit
    @jax.vmap
    def look(x_mm, on):
        s = set_sphere(scene, 0, jnp.stack([x_mm, 0.0, 1.0]), on)
        s = set_pillar(s, 0, jnp.array([0.3, 6.0, 1.0]), ~on)  # default slot: r = h = 1 mm
        return render_eyes(rotate_panorama(s, x_mm), EYE_POS, EYE_XMAT)

    out = np.asarray(look(jnp.array([8.0, 8.0]), jnp.array([True, False])))
    assert out[0, 0, frontal(0)].min() < 0.1 and out[0, 1, frontal(1)].min() < 0.1
    assert out[0].min() < 0.1 and out[0, 0].min() < 0.1  # sphere ahead, no pillar
    assert out[1, 1].min() > 0.999 and out[1, 0].min() < 0.1  # pillar on the left only
    assert float(rotate_panorama(scene, 0.5).panorama.angle_rad) == 0.5
    with pytest.raises(ValueError, match="sphere index"):
        set_sphere(scene, 1, jnp.zeros(3))
    with pytest.raises(ValueError, match="pillar index"):
        set_pillar(scene, -1, jnp.zeros(3))


def test_cast_rays_analytic_distances():
    scene = make_scene(
        ground=make_texture("uniform", 0.5),
        ground_z_mm=-1.0,
        panorama=make_texture("uniform", 0.25),
        panorama_radius_mm=100.0,
        panorama_z_mm=(-10.0, 10.0),
        spheres=[Sphere((10.0, 0.0, 0.0), 1.0, lum=0.0)],
        pillars=[Pillar((0.0, 0.0, 20.0), 2.0, 5.0, lum=0.75)],
        sky_lum=1.0,
    )
    dirs = np.array(
        [[2, 0, 0], [0, 0, -1], [0, 1, 0], [0, 0, 1], [0, 1, 1], [1, 1, 0]], np.float32
    )  # not all unit length: cast_rays normalises
    t, lum = jax.jit(cast_rays)(scene, np.zeros(3, np.float32), dirs)
    np.testing.assert_allclose(t[:4], [9.0, 1.0, 100.0, 15.0], rtol=1e-5)
    assert not np.isfinite(t[4])  # 45 deg up: over the panorama's top, into the sky
    np.testing.assert_allclose(t[5], 100.0, rtol=1e-5)
    np.testing.assert_allclose(lum[:, 0], [0.0, 0.5, 0.25, 0.75, 1.0, 0.25])


# ----- agreement with MuJoCo --------------------------------------------------------------


@pytest.fixture(scope="module")
def mj_scene():
    scene = make_scene(
        ground=make_texture("checker", 0.2, 0.8, period=2.0),
        panorama=make_texture("grating", 0.0, 1.0, period=np.deg2rad(30)),
        panorama_center_mm=(3.0, -2.0),
        panorama_radius_mm=60.0,
        panorama_z_mm=(-20.0, 30.0),
        pillars=[Pillar((10.0, 0.0, 5.0), 2.0, 5.0), Pillar((-4.0, -6.0, 1.0), 1.0, 3.0)],
        spheres=[Sphere((3.0, 10.0, 1.0), 1.5), Sphere((-8.0, 3.0, 4.0), 2.5)],
    )
    model = scene_to_spec(scene).compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return scene, model, data


@pytest.mark.parametrize("yaw", [0.0, 2.0])
def test_caster_agrees_with_mj_multiray(mj_scene, yaw):
    scene, model, data = mj_scene
    pos = EYE_POS + [1.0, -0.5, 0.2]
    dirs = np.asarray(eye_ray_directions_world(yaw_xmat(yaw)), np.float64)
    pan_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, PANORAMA)
    compared = 0
    for eye in range(2):
        rays = dirs[eye].reshape(-1, 3)
        d_mj, gid = multiray(model, data, pos[eye], rays)
        d_jax, _ = jax.jit(cast_rays)(scene, pos[eye].astype(np.float32), rays.astype(np.float32))
        d_jax = np.asarray(d_jax)
        # MuJoCo's panorama cylinder has caps, ours is an open tube: drop rays ending on a cap
        hit_z = pos[eye, 2] + d_mj * rays[:, 2]
        cap = (gid == pan_id) & ((hit_z > 30.0 - 1e-6) | (hit_z < -20.0 + 1e-6))
        keep = ~cap
        assert keep.sum() > 0.7 * len(rays)
        np.testing.assert_array_equal(np.isfinite(d_mj[keep]), np.isfinite(d_jax[keep]))
        hit = keep & np.isfinite(d_mj)
        np.testing.assert_allclose(d_jax[hit], d_mj[hit], rtol=1e-4, atol=1e-4)
        compared += hit.sum()
        assert len(set(gid[hit].tolist())) >= 3  # several primitive types took part
    assert compared > 5000


# ----- jit / vmap ------------------------------------------------------------------------


def test_vmap_over_envs_no_nan():
    n = 4
    rng = np.random.default_rng(0)
    scene = make_scene(
        ground=make_texture("sine", 0.0, 1.0, period=4.0),
        panorama=make_texture("grating", 0.1, 0.9, period=np.deg2rad(20)),
        pillars=[Pillar((10.0, 0.0, 5.0), 2.0, 5.0)],
        spheres=[Sphere((0.0, 8.0, 2.0), 1.0)],
    )
    scenes = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), scene)
    scenes = scenes._replace(
        sphere_center_mm=scenes.sphere_center_mm.at[:, 0, 0].set(jnp.arange(n) * 3.0),
        panorama=scenes.panorama._replace(angle_rad=jnp.linspace(0, 1, n)),
    )
    pos = EYE_POS[None] + rng.normal(0, 0.5, (n, 1, 3))
    xmat = np.stack([yaw_xmat(a) for a in rng.uniform(-np.pi, np.pi, n)])
    out = jax.jit(jax.vmap(render_eyes))(scenes, pos, xmat)
    assert out.shape == (n, 2, 721)
    assert not bool(jnp.isnan(out).any())
    assert bool(((out >= 0) & (out <= 1)).all())
    np.testing.assert_allclose(
        out[1], render(jax.tree.map(lambda x: x[1], scenes), pos[1], xmat[1]), atol=1e-6
    )
    assert float(jnp.abs(out[0] - out[1]).max()) > 0.1
    # only the poses batched (one shared scene), and a nested vmap
    shared = jax.jit(jax.vmap(render_eyes, in_axes=(None, 0, 0)))(scene, pos, xmat)
    np.testing.assert_allclose(shared[2], render(scene, pos[2], xmat[2]), atol=1e-6)
    nested = jax.jit(jax.vmap(jax.vmap(render_eyes, in_axes=(None, 0, 0)), in_axes=(None, 0, 0)))
    np.testing.assert_allclose(
        nested(scene, pos.reshape(2, 2, 2, 3), xmat.reshape(2, 2, 2, 3, 3))[1, 0],
        shared[2],
        atol=1e-6,
    )


# ----- pictures --------------------------------------------------------------------------


def test_hex_image_draws_both_eyes(tmp_path):
    readout = np.zeros((2, 721))
    readout[0] = 1.0  # left eye white, right eye black
    img = hex_image(readout)
    assert img.dtype == np.uint8 and img.shape == (250, 452, 3)
    h, w, _ = img.shape
    left, right = img[:, : w // 2].reshape(-1, 3), img[:, w // 2 :].reshape(-1, 3)
    white, black = np.all(left == 255, axis=1), np.all(right == 0, axis=1)
    assert white.mean() > 0.4 and black.mean() > 0.4
    assert not np.all(right == 255, axis=1).any() and not np.all(left == 0, axis=1).any()
    path = save_png(
        tmp_path / "eyes.png", hex_image(np.asarray(render(bright_world(), EYE_POS, EYE_XMAT)))
    )
    import imageio.v3 as iio

    assert iio.imread(path).shape == (250, 452, 3)


# ----- bad inputs ------------------------------------------------------------------------


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="unknown texture kind"):
        make_texture("stripes")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        make_texture("uniform", 1.5)
    with pytest.raises(ValueError, match="period"):
        make_texture("grating", period=0.0)
    with pytest.raises(ValueError, match="max_spheres"):
        make_scene(spheres=[Sphere((0, 0, 0), 1.0)] * 3, max_spheres=2)
    with pytest.raises(ValueError, match="pillar 0"):
        make_scene(pillars=[Pillar((0, 0, 0), -1.0, 1.0)])
    with pytest.raises(ValueError, match="n_channels"):
        make_scene(n_channels=3)
    with pytest.raises(ValueError, match="channel"):
        make_scene(ground=make_texture("uniform", 0.5), n_channels=2)
    with pytest.raises(ValueError, match="panorama_z_mm"):
        make_scene(panorama_z_mm=(5.0, 1.0))
    with pytest.raises(ValueError, match="n_rays"):
        ommatidia_directions(EyeGeometry(n_rays=3))
    with pytest.raises(ValueError, match="interommatidial_deg"):
        ommatidia_directions(EyeGeometry(interommatidial_deg=20.0))
    with pytest.raises(ValueError, match=r"eye_pos_mm \[2, 3\]"):
        render_eyes(bright_world(), np.zeros(3), EYE_XMAT)
    with pytest.raises(ValueError, match="readout must be"):
        hex_image(np.zeros((721,)))
    with pytest.raises(ValueError, match="NaN"):
        hex_image(np.full((2, 721), np.nan))
    with pytest.raises(ValueError, match="uint8"):
        save_png("/tmp/never.png", np.zeros((4, 4, 3)))

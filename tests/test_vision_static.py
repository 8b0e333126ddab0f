"""The caster's specialisation on scene values known while tracing gives the general path's
values bit for bit (a task's base scene is a constant under ``jit``; an argument is traced)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flyenvs.vision import (
    Pillar,
    Sphere,
    cast_rays,
    make_scene,
    make_texture,
    render_eyes,
    set_pillar,
)

SCENES = {
    "taxis": lambda: make_scene(
        ground=make_texture("uniform", 0.5, 0.5),
        pillars=[Pillar((3.0, 1.0, 6.0), 1.5, 6.0, 0.0)],
        max_spheres=1,
        max_cylinders=1,
    ),
    "grating_panorama_uniform_ground": lambda: make_scene(
        ground=make_texture("uniform", 0.5, 0.5),
        panorama=make_texture("grating", 0.1, 0.9, period=2 * np.pi / 8),
        panorama_radius_mm=30.0,
        panorama_z_mm=(-5.0, 25.0),
    ),
    "checker_ground_sine_panorama_objects": lambda: make_scene(
        ground=make_texture("checker", 0.2, 0.8, period=2.0),
        panorama=make_texture("sine", 0.0, 1.0, period=0.5),
        panorama_radius_mm=40.0,
        panorama_z_mm=(-20.0, 30.0),
        pillars=[Pillar((15.0, 3.0, 5.0), 1.5, 5.0, 0.0)],
        spheres=[Sphere((5.0, 8.0, 1.0), 1.0, 0.1)],
    ),
    "panorama_only_two_channels": lambda: make_scene(
        panorama=make_texture("checker", (0.0, 0.2), (1.0, 0.7), period=0.3, n_channels=2),
        panorama_radius_mm=20.0,
        sky_lum=(1.0, 0.5),
        n_channels=2,
    ),
    "empty": make_scene,
}


def _poses(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` eye poses [n, 2, 3] and frames [n, 2, 3, 3]: random yaw, pitch and position."""
    rng = np.random.default_rng(0)
    yaw, pitch = rng.uniform(-3.0, 3.0, n), rng.uniform(-0.4, 0.4, n)
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    zero, one = np.zeros(n), np.ones(n)
    rz = np.stack([cy, -sy, zero, sy, cy, zero, zero, zero, one], -1).reshape(n, 3, 3)
    ry = np.stack([cp, zero, sp, zero, one, zero, -sp, zero, cp], -1).reshape(n, 3, 3)
    xmat = np.repeat((rz @ ry)[:, None], 2, axis=1).astype(np.float32)
    pos = np.array([[0.3, 0.2, 1.0], [0.3, -0.2, 1.0]]) + rng.normal(0, 2.0, (n, 1, 3)) * [
        1,
        1,
        0.2,
    ]
    return pos.astype(np.float32), xmat


@pytest.mark.parametrize("name", sorted(SCENES))
def test_constant_scene_renders_as_traced_scene(name):
    scene = SCENES[name]()
    pos, xmat = _poses(16)
    const = jax.jit(jax.vmap(lambda p, x: render_eyes(scene, p, x)))
    traced = jax.jit(jax.vmap(render_eyes, in_axes=(None, 0, 0)))
    np.testing.assert_array_equal(
        np.asarray(const(pos, xmat)), np.asarray(traced(scene, pos, xmat))
    )
    if scene.cylinder_on.shape[0]:  # a moved pillar: one slot traced, the rest constant
        moved = jax.jit(jax.vmap(lambda p, x: render_eyes(set_pillar(scene, 0, p[0] + 3), p, x)))
        expect = jax.jit(
            jax.vmap(lambda s, p, x: render_eyes(set_pillar(s, 0, p[0] + 3), p, x), (None, 0, 0))
        )
        np.testing.assert_array_equal(np.asarray(moved(pos, xmat)), expect(scene, pos, xmat))


@pytest.mark.parametrize("name", sorted(SCENES))
def test_cast_rays_constant_scene_same_as_traced(name):
    scene = SCENES[name]()
    rng = np.random.default_rng(1)
    origins = (rng.normal(0, 5, (300, 3)) + [0, 0, 3]).astype(np.float32)
    dirs = rng.normal(0, 1, (300, 3)).astype(np.float32)
    const = jax.jit(lambda o, d: cast_rays(scene, o, d))(origins, dirs)
    traced = jax.jit(cast_rays)(scene, jnp.asarray(origins), jnp.asarray(dirs))
    for a, b in zip(const, traced, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

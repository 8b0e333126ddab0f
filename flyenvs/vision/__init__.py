"""flyenvs.vision: two compound eyes of 721 ommatidia each, ray-cast in pure JAX.

>>> scene = make_scene(ground=make_texture("checker", 0.2, 0.8, period=2.0),
...                    pillars=[Pillar((20.0, 0.0, 5.0), 2.0, 5.0, lum=0.0)])
>>> vision = render_eyes(scene, readout.eye_pos_mm, readout.eye_xmat)   # [2, 721]
>>> save_png("eyes.png", hex_image(vision))

See ``docs/vision.md`` for the lattice, geometry sources and conventions.
"""

from flyenvs.vision.caster import T_MIN_MM, cast_rays, eye_ray_directions_world, render_eyes
from flyenvs.vision.hex_image import hex_image, save_png
from flyenvs.vision.lattice import (
    DEFAULT_GEOMETRY,
    EXTENT,
    N_OMMATIDIA,
    EyeGeometry,
    hex_coords,
    lattice_xy,
    neighbour_pairs,
    ommatidia_directions,
    ray_directions,
)
from flyenvs.vision.scene import (
    CHECKER,
    GRATING,
    SINE,
    TEXTURE_KINDS,
    UNIFORM,
    Pillar,
    Scene,
    Sphere,
    Texture,
    make_scene,
    make_texture,
    rotate_panorama,
    set_pillar,
    set_sphere,
)

__all__ = [
    "CHECKER",
    "DEFAULT_GEOMETRY",
    "EXTENT",
    "GRATING",
    "N_OMMATIDIA",
    "SINE",
    "TEXTURE_KINDS",
    "T_MIN_MM",
    "UNIFORM",
    "EyeGeometry",
    "Pillar",
    "Scene",
    "Sphere",
    "Texture",
    "cast_rays",
    "eye_ray_directions_world",
    "hex_coords",
    "hex_image",
    "lattice_xy",
    "make_scene",
    "make_texture",
    "neighbour_pairs",
    "ommatidia_directions",
    "ray_directions",
    "render_eyes",
    "rotate_panorama",
    "save_png",
    "set_pillar",
    "set_sphere",
]

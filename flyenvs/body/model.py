"""Compose the NeuroMechFly body with ``dm_control.mjcf`` and compile it to a ``mujoco.MjModel``.

Two variants (see ``docs/body.md``):

* ``"reference"``: NeuroMechFly as flygym 1.2.1 builds it by default: all 87 hinges (legs,
  passive tarsi 2-5, neck, antennae) with flygym's stiffness/damping, flygym's solver settings and
  1e-4 s timestep, leg meshes colliding with the floor and each other through flygym's contact
  pairs, contact parameters and friction. Added for flyenvs: free joint, floor, eye sites,
  tracking camera, tarsus-tip sites and the body-floor primitives of ``"train"``.
* ``"train"``: only the 42 actuated leg hinges (tarsi 2-5, neck and antennae welded, so the
  compiler fuses static segments), collisions only through explicit ``<pair>`` primitives
  (a sphere at each tarsus tip and ellipsoids on thorax, head and abdomen against the floor;
  meshes are visual only), ``implicitfast`` and ``TRAIN_TIMESTEP_S``.

Units as NeuroMechFly: mm, g (body mass about 1e-3 g), s; forces in g mm s^-2 (= uN).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import mujoco
import numpy as np
from dm_control import mjcf

from flyenvs._paths import asset_path
from flyenvs.body import constants as C
from flyenvs.body.kinematics import single_steps
from flyenvs.body.layout import neutral_joint_angles

MJCF_FILE = ("neuromechfly", "neuromechfly.xml")
VARIANTS: tuple[str, ...] = ("train", "reference")

# flygym 1.2.1 ``Fly`` defaults (flygym/fly.py).
_NMF_JOINT_STIFFNESS = 0.05
_NMF_JOINT_DAMPING = 0.06
_NMF_PASSIVE_STIFFNESS = 1.0
_NMF_PASSIVE_DAMPING = 1.0
_NMF_NECK_STIFFNESS = 10.0
_NMF_TARSUS_STIFFNESS = 7.5
_NMF_TARSUS_DAMPING = 1e-2
_NMF_FRICTION = (1.0, 1.0, 0.005, 0.0001, 0.0001)  # pair friction: slide x2, spin, roll x2
_NMF_SOLREF = (2e-4, 1e3)
_NMF_SOLIMP = (0.999, 0.9999, 1e-3, 0.5, 2.0)

#: Contact parameters of ``"train"``: flygym's (timeconst 2e-4 s, damping ratio 1e3) are clamped
#: to 2 x timestep by MuJoCo at 1e-3 s and then let adhered tarsi sink ~1 mm; a critically
#: damped contact at 2 x timestep with impedance 0.97-0.995 keeps standing and walking
#: penetration < 0.05 mm and stays well conditioned in float32 on MJX (docs/body.md).
TRAIN_SOLREF = (2 * C.TRAIN_TIMESTEP_S, 1.0)
TRAIN_SOLIMP = (0.97, 0.995, 1e-3, 0.5, 2.0)


#: Actuator ctrlranges: the recorded walking range of each joint scaled about the neutral pose by
#: this factor (1 = exactly the recorded range; wider ranges let random targets slam the tarsi
#: into the floor faster, see docs/body.md).
CTRL_RANGE_SCALE = 1.0
#: Radius (mm) of the tarsus-tip contact sphere.
TIP_RADIUS_MM = 0.02


def _read_stl_vertices(data: bytes, path: Path) -> np.ndarray:
    """Vertices [n, 3] of a binary STL file's bytes (file units); ``path`` names it in errors."""
    if len(data) < 84:
        raise ValueError(f"corrupt mesh asset {path}: shorter than an STL header")
    n = int(np.frombuffer(data[80:84], np.uint32)[0])
    if len(data) < 84 + 50 * n:
        raise ValueError(f"corrupt mesh asset {path}: {n} triangles announced, file truncated")
    tri = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    return np.frombuffer(data[84 : 84 + 50 * n], dtype=tri)["v"].reshape(-1, 3).astype(float)


def _mesh_vertices(root: mjcf.RootElement, segment: str, xml_dir: Path) -> np.ndarray:
    """Vertices [n, 3] (mm) of a segment's mesh in its body frame, scale applied."""
    mesh = root.find("mesh", f"mesh_{segment}")
    path = xml_dir / f"meshes/{mesh.file.prefix}{mesh.file.extension}"
    return _read_stl_vertices(mesh.file.contents, path) * np.asarray(mesh.scale, dtype=float)


def _ctrl_ranges() -> np.ndarray:
    """[42, 2] actuator ctrlrange (rad): the recorded walking range scaled by CTRL_RANGE_SCALE
    about the neutral pose, within [-pi, pi]."""
    angles = single_steps().joint_angles_rad
    neutral = neutral_joint_angles()
    lo = neutral + CTRL_RANGE_SCALE * (angles.min(0) - neutral)
    hi = neutral + CTRL_RANGE_SCALE * (angles.max(0) - neutral)
    return np.stack([np.maximum(lo, -np.pi), np.minimum(hi, np.pi)], axis=1)


def _load_root(xml_path: Path) -> mjcf.RootElement:
    try:
        return mjcf.from_path(str(xml_path))
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - dm_control raises many types; re-raise naming file
        raise ValueError(f"cannot parse fly MJCF {xml_path}: {e}") from e


def _check_mesh_files(xml_path: Path) -> None:
    import xml.etree.ElementTree as ET

    try:
        tree = ET.parse(xml_path)
    except ET.ParseError as e:
        raise ValueError(f"corrupt fly MJCF {xml_path}: {e}") from e
    for mesh in tree.getroot().iter("mesh"):
        f = xml_path.parent / mesh.get("file", "")
        if not f.is_file():
            raise FileNotFoundError(f"flyenvs asset not found: {f} (mesh of {xml_path})")


def build_mjcf(variant: str = "train") -> mjcf.RootElement:
    """The fly, floor, camera and contacts as a PyMJCF tree (uncompiled; callers may add arena
    elements before compiling with :func:`compile_mjcf`)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown body variant {variant!r}; valid: {list(VARIANTS)}")
    xml_path = asset_path(*MJCF_FILE)
    _check_mesh_files(xml_path)
    root = _load_root(xml_path)
    root.model = f"neuromechfly_{variant}"
    root.statistic.meaninertia = None  # deprecated in MuJoCo 3, has no effect
    train = variant == "train"
    xml_dir = xml_path.parent

    # --- joints ---------------------------------------------------------------------------
    leg_joints = set(C.LEG_JOINTS)
    for joint in root.find_all("joint"):
        if joint.name in leg_joints:
            joint.stiffness = _NMF_JOINT_STIFFNESS
            joint.damping = C.TRAIN_JOINT_DAMPING if train else _NMF_JOINT_DAMPING
            if train:
                joint.armature = C.TRAIN_ARMATURE
        elif train:
            joint.remove()  # weld: the segment becomes static and is fused into its parent
        elif "Tarsus" in joint.name:
            joint.stiffness, joint.damping = _NMF_TARSUS_STIFFNESS, _NMF_TARSUS_DAMPING
        elif joint.name.startswith("joint_Head"):
            joint.stiffness, joint.damping = _NMF_NECK_STIFFNESS, _NMF_PASSIVE_DAMPING
        else:
            joint.stiffness, joint.damping = _NMF_PASSIVE_STIFFNESS, _NMF_PASSIVE_DAMPING
    thorax = root.find("body", "Thorax")
    thorax.add("freejoint", name=C.FREE_JOINT)

    # --- actuators ------------------------------------------------------------------------
    force_limit = C.TRAIN_ACTUATOR_FORCE_LIMIT if train else C.ACTUATOR_FORCE_LIMIT
    for name, (lo, hi) in zip(C.LEG_JOINTS, _ctrl_ranges(), strict=True):
        root.actuator.add(
            "position",
            name=f"actuator_{name}",
            joint=name,
            kp=C.ACTUATOR_KP,
            ctrlrange=[lo, hi],
            forcerange=[-force_limit, force_limit],
            forcelimited=True,
        )

    # --- options --------------------------------------------------------------------------
    opt = root.option
    if train:
        opt.timestep = C.TRAIN_TIMESTEP_S
        opt.integrator = "implicitfast"
        opt.solver = "Newton"
        opt.iterations = C.TRAIN_SOLVER_ITERATIONS
        opt.ls_iterations = C.TRAIN_LS_ITERATIONS
        opt.tolerance = 1e-8
        opt.noslip_iterations = 0
        opt.ccd_iterations = 50
        opt.flag.multiccd = "disable"
        opt.flag.energy = "disable"
        root.size.njmax = None
        root.size.nconmax = None
        root.size.memory = "1M"  # small arena: cheap MjData allocation/copies
    else:
        opt.timestep = C.REFERENCE_TIMESTEP_S

    # --- visuals: floor, light, camera, eyes ----------------------------------------------
    root.asset.add(
        "texture", name="floor_tex", type="2d", builtin="checker", width=256, height=256,
        rgb1=[0.35, 0.35, 0.38], rgb2=[0.6, 0.6, 0.62],
    )  # fmt: skip
    root.asset.add("material", name="floor_mat", texture="floor_tex", texrepeat=[40, 40])
    root.asset.add("material", name="contact_mat", rgba=[0.9, 0.3, 0.2, 0.4])
    floor = root.worldbody.add(
        "geom", name=C.FLOOR_GEOM, type="plane", size=[100, 100, 1], material="floor_mat",
        contype=0, conaffinity=0,
    )  # fmt: skip
    root.worldbody.add("light", name="sun", directional=True, pos=[0, 0, 50], dir=[0, 0, -1])
    # Tracking camera: 3/4 view from the fly's right, following the thorax (world-aligned).
    thorax.add("camera", name=C.TRACKING_CAMERA, mode="track", pos=[0, -8, 5],
               xyaxes=[1, 0, 0, 0, 0.530, 0.848], fovy=45)  # fmt: skip
    for side, site in (("L", C.EYE_SITES[0]), ("R", C.EYE_SITES[1])):
        eye = root.find("body", f"{side}Eye")
        y = 0.38 if side == "L" else -0.38  # flygym's eye-camera offsets (config.yaml)
        eye.add("site", name=site, pos=[-0.03, y, 0], size=[0.02], rgba=[0, 0, 0, 0], group=4)

    _colour_meshes(root)

    # --- contact primitives -----------------------------------------------------------------
    pair_kw = {"friction": _NMF_FRICTION, "solref": _NMF_SOLREF, "solimp": _NMF_SOLIMP}
    if train:
        pair_kw.update(solref=TRAIN_SOLREF, solimp=TRAIN_SOLIMP)
    for leg, tip in zip(C.LEGS, C.TARSUS_TIPS, strict=True):
        body = root.find("body", tip)
        v = _mesh_vertices(root, tip, xml_dir)
        tip_pos = v[np.argmin(v[:, 2])]
        center = tip_pos + np.array([0.0, 0.0, TIP_RADIUS_MM])
        body.add("site", name=f"{tip}_tip", pos=tip_pos, size=[0.01], group=4)
        body.add("geom", name=f"{leg}_tip_collision", type="sphere", size=[TIP_RADIUS_MM],
                 pos=center, contype=0, conaffinity=0, mass=0, group=3,
                 material="contact_mat")  # fmt: skip
        root.contact.add("pair", name=f"floor_{leg}_tip", geom1=f"{leg}_tip_collision",
                         geom2=floor, **pair_kw)  # fmt: skip
    for segment in C.BODY_CONTACT_SEGMENTS:
        body = root.find("body", segment)
        v = _mesh_vertices(root, segment, xml_dir)
        lo, hi = v.min(0), v.max(0)
        body.add("geom", name=f"{segment}_collision", type="ellipsoid", size=(hi - lo) / 2,
                 pos=(hi + lo) / 2, contype=0, conaffinity=0, mass=0, group=3,
                 material="contact_mat")  # fmt: skip
        root.contact.add("pair", name=f"floor_{segment}", geom1=f"{segment}_collision",
                         geom2=floor, **pair_kw)  # fmt: skip
    if not train:
        _add_flygym_leg_contacts(root, floor, pair_kw)
    return root


#: Segment colours (rgba) after flygym 1.2.1's ``config.yaml`` appearance section (plain colours,
#: no textures), matched by substring of the geom name, first match wins.
_COLOURS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("Eye", (0.67, 0.21, 0.12, 1.0)),
    ("Wing", (0.8, 0.8, 0.9, 0.3)),
    ("Haltere", (0.59, 0.43, 0.24, 0.6)),
    ("Arista", (0.26, 0.2, 0.16, 1.0)),
    ("Coxa", (0.59, 0.39, 0.12, 1.0)),
    ("Femur", (0.63, 0.43, 0.16, 1.0)),
    ("Tibia", (0.67, 0.47, 0.2, 1.0)),
    ("Tarsus", (0.71, 0.51, 0.24, 1.0)),
    ("A6", (0.39, 0.2, 0.0, 1.0)),
    ("", (0.59, 0.39, 0.12, 1.0)),  # thorax, head, abdomen, antennae, proboscis
)


def _colour_meshes(root: mjcf.RootElement) -> None:
    for geom in root.find_all("geom"):
        if geom.type == "mesh":
            geom.rgba = next(c for key, c in _COLOURS if key in geom.name)


def _add_flygym_leg_contacts(root: mjcf.RootElement, floor, pair_kw: dict) -> None:
    """flygym 1.2.1's default contacts: leg meshes vs floor, and leg meshes vs each other
    (pairs of segments that are not parent/child), with flygym's parameters."""
    segs = [f"{leg}{s}" for leg in C.LEGS for s in C.LEG_COLLISION_SEGMENTS]
    for s in segs:
        root.contact.add("pair", name=f"floor_{s}", geom1=s, geom2=floor, **pair_kw)
    solkw = {"solref": _NMF_SOLREF, "solimp": _NMF_SOLIMP, "margin": 0.0}
    for i, a in enumerate(segs):
        for b in segs[i + 1 :]:
            ba, bb = root.find("body", a), root.find("body", b)
            if ba.parent is bb or bb.parent is ba:
                continue
            root.contact.add("pair", name=f"self_{a}_{b}", geom1=a, geom2=b, **solkw)


def compile_mjcf(root: mjcf.RootElement) -> mujoco.MjModel:
    """Compile a PyMJCF tree (with its mesh assets) to an ``MjModel``."""
    xml = root.to_xml_string()
    assets = root.get_assets()
    try:
        return mujoco.MjModel.from_xml_string(xml, assets)
    except ValueError as e:
        raise ValueError(f"cannot compile fly model from {asset_path(*MJCF_FILE)}: {e}") from e


@functools.cache
def _load_cached(variant: str, assets_dir: str) -> mujoco.MjModel:
    del assets_dir  # cache key only
    return compile_mjcf(build_mjcf(variant))


def load(variant: str = "train") -> mujoco.MjModel:
    """The compiled fly model (a fresh copy; compiled once per variant and process).

    Args:
        variant: ``"train"`` (default) or ``"reference"``.

    Returns:
        ``mujoco.MjModel``; train: nq = 49, nv = 48, nu = 42; reference: nq = 94, nv = 93, nu = 42.

    Raises:
        ValueError: unknown variant, or corrupt asset (message names the file).
        FileNotFoundError: missing asset (message names the file).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown body variant {variant!r}; valid: {list(VARIANTS)}")
    from flyenvs import _paths

    return copy.deepcopy(_load_cached(variant, str(_paths.ASSETS_DIR)))

"""Reproduce ``assets/neuromechfly/`` from the two flygym wheels on PyPI.

Get the wheels with ``pip download --no-deps flygym==1.2.1 flygym==2.1.1`` (or use the copies in
``/work/wheels``), then run::

    python scripts/import_assets.py --flygym1 flygym-1.2.1-py3-none-any.whl \
        --flygym2 flygym-2.1.1-py3-none-any.whl [--out assets/neuromechfly]

What it does (see ``assets/README.md``):

* takes NeuroMechFly's static MJCF ``neuromechfly_seqik_kinorder_ypr.xml`` from flygym 1.2.1 and
  points its 71 mesh assets at the simplified meshes (<= 2,000 faces) of flygym 2.1.1. Those exist
  for the left and central segments only; the right side mirrors the left (``scale="1000 -1000
  1000"``), as flygym 1.2.1 itself mirrored its right-side meshes for the left side. The skybox
  texture is dropped; nothing else in the MJCF is changed;
* copies the 40 meshes the MJCF uses;
* converts NeuroMechFly's recorded single-step kinematics (``behavior/single_steps_untethered.pkl``)
  to ``single_steps_untethered.npz`` (no pickle in the repository);
* copies the Apache-2.0 license and writes a NOTICE.

The pickle is read with :mod:`pickle` from the wheel the user points at (trusted input: the
published flygym wheel).
"""

from __future__ import annotations

import argparse
import io
import pickle
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np

MJCF_MEMBER = "flygym/data/mjcf/neuromechfly_seqik_kinorder_ypr.xml"
STEPS_MEMBER = "flygym/data/behavior/single_steps_untethered.pkl"
LICENSE_MEMBER = "flygym-1.2.1.dist-info/LICENSE"
MESH_DIR2 = "flygym/assets/model/neuromechfly/meshes/simplified_max2000faces/"

LEGS = ("LF", "LM", "LH", "RF", "RM", "RH")
DOFS = ("Coxa", "Coxa_roll", "Coxa_yaw", "Femur", "Femur_roll", "Tibia", "Tarsus1")

_CENTRAL = {
    "Thorax": "c_thorax",
    "A1A2": "c_abdomen12",
    "A3": "c_abdomen3",
    "A4": "c_abdomen4",
    "A5": "c_abdomen5",
    "A6": "c_abdomen6",
    "Head": "c_head",
    "Rostrum": "c_rostrum",
    "Haustellum": "c_haustellum",
}
_PAIRED = {
    "Eye": "eye",
    "Pedicel": "pedicel",
    "Funiculus": "funiculus",
    "Arista": "arista",
    "Haltere": "haltere",
    "Wing": "wing",
}
_LEG_SEGMENTS = {
    "Coxa": "coxa",
    "Femur": "trochanterfemur",
    "Tibia": "tibia",
    **{f"Tarsus{i}": f"tarsus{i}" for i in range(1, 6)},
}

NOTICE = """NeuroMechFly body model (MJCF, meshes, recorded kinematics) in this folder
Copyright the NeuroMechFly / flygym authors (Neuroengineering Laboratory, EPFL).
Licensed under the Apache License, Version 2.0 (see LICENSE in this folder).

Source: the flygym wheels on PyPI:
  flygym 1.2.1: flygym/data/mjcf/neuromechfly_seqik_kinorder_ypr.xml,
                flygym/data/behavior/single_steps_untethered.pkl
  flygym 2.1.1: flygym/assets/model/neuromechfly/meshes/simplified_max2000faces/*.stl
Modified by flyenvs (scripts/import_assets.py): mesh references replaced by the simplified
meshes (right side mirrored from the left), skybox texture removed, kinematics converted from
pickle to npz. See assets/README.md.

Please cite: Wang-Chen et al. (2024), NeuroMechFly v2: simulating embodied sensorimotor control
in adult Drosophila, Nature Methods; Lobato-Rios et al. (2022), Nature Methods.
"""


def simplified_mesh_for(name: str) -> tuple[str, bool]:
    """flygym 2.1.1 simplified mesh stem and whether to mirror it (y -> -y) for a flygym 1.2.1
    segment name such as ``RFTarsus3``, ``LEye`` or ``Thorax``."""
    if name in _CENTRAL:
        return _CENTRAL[name], False
    side, rest = name[0], name[1:]
    if side not in "LR":
        raise ValueError(f"unknown NeuroMechFly segment {name!r}")
    mirror = side == "R"
    if rest in _PAIRED:
        return f"l_{_PAIRED[rest]}", mirror
    m = re.fullmatch(r"([FMH])(\w+)", rest)
    if m and m.group(2) in _LEG_SEGMENTS:
        return f"l{m.group(1).lower()}_{_LEG_SEGMENTS[m.group(2)]}", mirror
    raise ValueError(f"no simplified mesh for NeuroMechFly segment {name!r}")


def convert_mjcf(xml_text: str) -> tuple[str, list[str]]:
    """Rewrite the mesh assets of the flygym 1.2.1 MJCF; returns (xml, mesh stems used)."""
    root = ET.fromstring(xml_text)
    asset = root.find("asset")
    used: set[str] = set()
    for mesh in asset.findall("mesh"):
        segment = mesh.get("name").removeprefix("mesh_")
        stem, mirror = simplified_mesh_for(segment)
        used.add(stem)
        mesh.set("file", f"meshes/{stem}.stl")
        mesh.set("scale", "1000 -1000 1000" if mirror else "1000 1000 1000")
    for tex in asset.findall("texture"):
        if tex.get("type") == "skybox":
            asset.remove(tex)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n", sorted(used)


def convert_steps(pkl_bytes: bytes) -> dict[str, np.ndarray]:
    """NeuroMechFly single-step kinematics as plain arrays.

    Returns ``joint_angles_rad`` [n_frames, 42] (order ``LEG_JOINTS``), ``timestep_s`` [],
    ``stance_start_s`` [6] (swing runs from 0 to this time, then stance; order ``LEGS``),
    ``joint_names`` [42] and ``legs`` [6].
    """
    data = pickle.loads(pkl_bytes)  # noqa: S301 - trusted: the published flygym wheel
    names = [f"joint_{leg}{dof}" for leg in LEGS for dof in DOFS]
    angles = np.stack([np.asarray(data[n], dtype=np.float64) for n in names], axis=1)
    swing = data["swing_stance_time"]
    if any(float(swing["swing"][leg]) != 0.0 for leg in LEGS):
        raise ValueError("expected every swing phase to start at t=0 in the recorded step")
    return {
        "joint_angles_rad": angles,
        "timestep_s": np.float64(data["meta"]["timestep"]),
        "stance_start_s": np.array([float(swing["stance"][leg]) for leg in LEGS]),
        "joint_names": np.array(names),
        "legs": np.array(LEGS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flygym1", type=Path, required=True, help="flygym-1.2.1 wheel (.whl)")
    parser.add_argument("--flygym2", type=Path, required=True, help="flygym-2.1.1 wheel (.whl)")
    default_out = Path(__file__).resolve().parents[1] / "assets" / "neuromechfly"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    for whl in (args.flygym1, args.flygym2):
        if not whl.is_file():
            raise SystemExit(f"wheel not found: {whl}")

    out: Path = args.out
    (out / "meshes").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.flygym1) as z1, zipfile.ZipFile(args.flygym2) as z2:
        xml, stems = convert_mjcf(z1.read(MJCF_MEMBER).decode())
        (out / "neuromechfly.xml").write_text(xml)
        for stem in stems:
            (out / "meshes" / f"{stem}.stl").write_bytes(z2.read(f"{MESH_DIR2}{stem}.stl"))
        steps = convert_steps(z1.read(STEPS_MEMBER))
        buf = io.BytesIO()
        np.savez(buf, **steps)
        (out / "single_steps_untethered.npz").write_bytes(buf.getvalue())
        (out / "LICENSE").write_bytes(z1.read(LICENSE_MEMBER))
    (out / "NOTICE").write_text(NOTICE)
    print(f"wrote {out}: neuromechfly.xml, {len(stems)} meshes, single_steps_untethered.npz")


if __name__ == "__main__":
    main()

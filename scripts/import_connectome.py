"""Import the flyvis connectome and the pretrained flyvis ensemble into ``assets/connectome/``.

Sources (both MIT, unzipped wheels from PyPI; nothing is downloaded here):
- ``flyvis==1.2.0``: ``flyvis/connectome/fib25-fib19_v2.2.json`` (618,148 bytes), copied verbatim.
- ``flycns==0.7.0``: ``flycns/data/flyvis-1.2.0-ensemble/`` (the 50 task-trained flyvis networks,
  ``flow/0000``, as little-endian binaries listed in ``manifest.json`` with SHA-256 hashes).

The ensemble is written as one compressed ``flyvis_ensemble_1.2.0.npz``: ``params`` float32
[50, 734] = (65 resting potentials | 65 time constants in s | 604 pair strengths), in the order of
:mod:`flyenvs.connectome.optic_lobe.connectome` (which this script checks is flycns's order,
pair by pair and filter row by filter row, including the synapse counts).

    python scripts/fetch_reference_wheels.py        # into ~/.cache/flyenvs/wheels (W below)
    python scripts/import_connectome.py --flyvis W/x/flyvis-1.2.0-py3-none-any \
        --flycns W/x/flycns-0.7.0-py3-none-any
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from flyenvs.connectome.optic_lobe.connectome import CONNECTOME_FILE, compile_connectome

JSON_BYTES = 618_148
ENSEMBLE_FILE = "flyvis_ensemble_1.2.0.npz"
ROOT = Path(__file__).resolve().parents[1]


def read_flycns_arrays(directory: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read flycns's compiled directory, verifying each array's SHA-256 and size."""
    manifest = json.loads((directory / "manifest.json").read_text())
    arrays = {}
    for entry in manifest["arrays"]:
        data = (directory / entry["file"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            raise ValueError(f"{entry['file']}: sha256 {digest} != manifest {entry['sha256']}")
        dtype = np.dtype(entry["dtype"]).newbyteorder("<")
        arrays[entry["name"]] = (
            np.frombuffer(data, dtype).reshape(entry["shape"]).astype(dtype.newbyteorder("="))
        )
    return arrays, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flyvis", type=Path, required=True, help="unzipped flyvis 1.2.0 wheel")
    parser.add_argument("--flycns", type=Path, required=True, help="unzipped flycns 0.7.0 wheel")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "connectome")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    src_json = args.flyvis / "flyvis" / "connectome" / CONNECTOME_FILE
    if src_json.stat().st_size != JSON_BYTES:
        raise ValueError(f"{src_json} has {src_json.stat().st_size} bytes, expected {JSON_BYTES}")
    shutil.copyfile(src_json, args.out / CONNECTOME_FILE)

    ens_dir = args.flycns / "flycns" / "data" / "flyvis-1.2.0-ensemble"
    arrays, manifest = read_flycns_arrays(ens_dir)
    shutil.copyfile(ens_dir / "LICENSE-flyvis.txt", args.out / "LICENSE-flyvis.txt")
    flycns_license = args.flycns / "flycns-0.7.0.dist-info" / "licenses" / "LICENSE"
    shutil.copyfile(flycns_license, args.out / "LICENSE-flycns.txt")

    c = compile_connectome(args.out / CONNECTOME_FILE)
    checks = {
        "cell types": tuple(manifest["strings"]["type"]) == c.cell_types,
        "pair_source": np.array_equal(arrays["pair_source"], c.pair_source),
        "pair_target": np.array_equal(arrays["pair_target"], c.pair_target),
        "pair_sign": np.array_equal(arrays["pair_sign"], c.pair_sign),
        "group_pair": np.array_equal(arrays["group_pair"], c.row_pair),
        "group_du": np.array_equal(arrays["group_du"], c.row_du),
        "group_dv": np.array_equal(arrays["group_dv"], c.row_dv),
        "group_n_syn": np.array_equal(arrays["group_n_syn"], c.row_n_syn),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise ValueError(f"flycns ensemble order differs from the compiled connectome: {bad}")

    params = np.concatenate(
        [arrays["bias"], arrays["time_const_s"], arrays["strength"]], axis=1
    ).astype(np.float32)
    np.savez_compressed(
        args.out / ENSEMBLE_FILE,
        params=params,
        cell_types=np.array(c.cell_types),
        pair_source=c.pair_source.astype(np.int16),
        pair_target=c.pair_target.astype(np.int16),
        source=np.array(json.dumps(manifest["sources"][0]["key"])),
    )
    size = (args.out / ENSEMBLE_FILE).stat().st_size
    print(f"wrote {args.out / CONNECTOME_FILE} ({JSON_BYTES} bytes)")
    print(f"wrote {args.out / ENSEMBLE_FILE}: params {params.shape} float32, {size} bytes")


if __name__ == "__main__":
    main()

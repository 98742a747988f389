"""Throughput of the COCO+LVIS merge on synthetic annotations of real-file proportions.

The real files cannot be downloaded here, so this script writes COCO- and LVIS-format files
with COCO-sized photos (480 x 640), ~7 COCO polygons (20 vertices) and ~12 LVIS polygons
(40 vertices) per image, half of the COCO objects re-annotated in LVIS, then times the merge
and prints a table: images/s, output bytes per object, peak memory, and a linear
extrapolation to LVIS v1 train (100,170 images). Usage::

    python benchmarks/coco_lvis_merge.py [--images 2000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import flags  # noqa: E402
from ritm_lite.data.coco_lvis import merge_coco_lvis  # noqa: E402

H, W = 480, 640


def ellipse(rng: np.random.Generator, n: int, centre=None, radii=None) -> tuple[list[float], tuple]:
    cx, cy = centre if centre is not None else (rng.uniform(60, W - 60), rng.uniform(60, H - 60))
    a, b = radii if radii is not None else rng.uniform(10, 90, 2)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1 + 0.08 * rng.standard_normal(n)  # ragged outline, like a hand-drawn polygon
    pts = np.stack([np.clip(cx + a * r * np.cos(t), 0, W - 1),
                    np.clip(cy + b * r * np.sin(t), 0, H - 1)], 1)
    return [round(float(v), 2) for v in pts.ravel()], ((cx, cy), (a, b))


def write_files(root: Path, n_images: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "x"}]}
    lvis = {"images": [], "annotations": [],
            "categories": [{"id": 1, "name": "x", "synset": "x.n.01"}]}
    for i in range(1, n_images + 1):
        name = f"{i:012d}.jpg"
        url = f"http://images.cocodataset.org/train2017/{name}"
        coco["images"].append({"id": i, "file_name": name, "coco_url": url, "height": H,
                               "width": W})
        lvis["images"].append({"id": i, "coco_url": url, "height": H, "width": W,
                               "neg_category_ids": [], "not_exhaustive_category_ids": []})
        shared = []
        for _ in range(rng.poisson(7)):
            poly, shape = ellipse(rng, 20)
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": i,
                                        "category_id": 1, "segmentation": [poly], "iscrowd": 0})
            if rng.random() < 0.5:
                shared.append(shape)
        for k in range(rng.poisson(12)):
            poly, _ = ellipse(rng, 40, *(shared[k] if k < len(shared) else (None, None)))
            lvis["annotations"].append({"id": len(lvis["annotations"]) + 1, "image_id": i,
                                        "category_id": 1, "segmentation": [poly]})
    paths = root / "instances.json", root / "lvis.json"
    for path, data in zip(paths, (coco, lvis)):
        path.write_text(json.dumps(data))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=flags.count(1, 1_000_000), default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        coco_path, lvis_path = write_files(Path(tmp), args.images)
        start = time.perf_counter()
        summary = merge_coco_lvis(coco_path, lvis_path, Path(tmp) / "out", progress=False)
        seconds = time.perf_counter() - start
        out = Path(tmp) / "out" / "train"
        out_bytes = sum(p.stat().st_size for p in out.iterdir())
        json_mb = (coco_path.stat().st_size + lvis_path.stat().st_size) / 2**20
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_obj = summary["num_objects"]
    rate = args.images / seconds
    print(f"| images | input JSON | objects kept | replaced | seconds | images/s | "
          f"output B/object | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    replaced = summary["coco_masks"]["replaced_by_lvis"]
    print(f"| {args.images} | {json_mb:.1f} MB | {n_obj} | {replaced} | "
          f"{seconds:.1f} | {rate:.0f} | {out_bytes / n_obj:.0f} | {peak_mb:.0f} MB |")
    out_gb = 1.5e6 * out_bytes / n_obj / 2**30
    print(f"\nlinear extrapolation to LVIS v1 train (100,170 images, ~1.5M kept objects): "
          f"~{100_170 / rate / 60:.0f} min on this machine, output ~{out_gb:.2f} GB")


if __name__ == "__main__":
    main()

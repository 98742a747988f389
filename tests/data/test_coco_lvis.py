"""The COCO+LVIS merge on small COCO- and LVIS-format files built here with known geometry.

Every mask is an axis-aligned rectangle (or an L-shape), whose pycocotools area is exactly
``w * h``, so every IoU below is a fraction worked out by hand:

image "a.jpg" (100 x 100), in both files (COCO id 1, LVIS id 7: matched by *name*)
    c1 rect [10,10,50,50] polygon, 1600 px      l1 rect [11,11,50,50], 1521 px
        IoU(c1, l1) = 1521/1600 = 0.95 -> c1 replaced by l1
    c2 rect [60,10,90,40] compressed RLE, 900   l3 rect [60,10,87,40], 810
        IoU = 810/900 = 0.90 > 0.8 -> c2 replaced by l3
    c3 rect [60,60,95,95] uncompressed RLE 1225 l4 rect [60,60,88,88], 784
        IoU = 784/1225 = 0.64 <= 0.7 -> both kept
    c7 rect [10,60,40,90] polygon, 900          l7 L-shape in the same box, 500
        box IoU = 1.0 but mask IoU = 500/900 = 0.56 -> both kept
    c4 crowd (uncompressed RLE) -> skipped      l2 rect [12,10,50,50], 1520
    c5 rect [0,0,8,9] = 72 px -> dropped             IoU(l2, l1) = 1482/1559 = 0.95 > 0.85
    c6 rect [40,0,48,10] = 80 px -> kept (not under 80)   -> l2 removed as a duplicate of l1
                                                l5 rect [64,60,92,88], 784
                                                    IoU(l5, l4) = 672/896 = 0.75 <= 0.85: kept
                                                l6 rect [40,80,47,90] = 70 px -> dropped
image "b.jpg" (80 x 120): LVIS only            l8 rect [0,0,50,50] -> kept
image "c.jpg": COCO only (skipped)              c8
image "d.jpg": both, every mask tiny            c9 25 px, l9 36 px -> image not written
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from ritm_lite.data import coco_lvis
from ritm_lite.data.coco_lvis import (MergeConfig, MergedCocoLvis, image_masks, merge_coco_lvis,
                                      merge_image)
from ritm_lite.data.coco_lvis_files import compressed_run_lengths, load_annotation_file, segmentation_to_rle
from ritm_lite.utils import PROJECT_ROOT


def rect_poly(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def rect_mask(h, w, x0, y0, x1, y1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def uncompressed(mask):
    flat = mask.astype(np.uint8).reshape(-1, order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    runs = np.diff(bounds).tolist()
    return {"size": list(mask.shape), "counts": ([0] if flat[0] else []) + runs}


def compressed(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


L_SHAPE = [[10, 60, 20, 60, 20, 80, 40, 80, 40, 90, 10, 90]]


def coco_ann(i, image_id, seg, crowd=0):
    return {"id": i, "image_id": image_id, "category_id": 1, "segmentation": seg,
            "iscrowd": crowd, "area": 0, "bbox": [0, 0, 0, 0]}


def lvis_ann(i, image_id, seg):
    return {"id": i, "image_id": image_id, "category_id": 1, "segmentation": seg,
            "area": 0, "bbox": [0, 0, 0, 0]}


def coco_image(i, name, h=100, w=100):
    return {"id": i, "file_name": name, "height": h, "width": w,
            "coco_url": f"http://images.cocodataset.org/train2017/{name}"}


def lvis_image(i, name, h=100, w=100):
    return {"id": i, "coco_url": f"http://images.cocodataset.org/train2017/{name}", "height": h,
            "width": w, "neg_category_ids": [], "not_exhaustive_category_ids": []}


def build(tmp: Path) -> tuple[dict, dict, Path, Path, Path]:
    """Write the COCO file, the LVIS file and the image folder described in the docstring."""
    coco = {"images": [coco_image(1, "a.jpg"), coco_image(2, "c.jpg"), coco_image(3, "d.jpg")],
            "categories": [{"id": 1, "name": "thing", "supercategory": "thing"}],
            "annotations": [
                coco_ann(1, 1, rect_poly(10, 10, 50, 50)),
                coco_ann(2, 1, compressed(rect_mask(100, 100, 60, 10, 90, 40))),
                coco_ann(3, 1, uncompressed(rect_mask(100, 100, 60, 60, 95, 95))),
                coco_ann(4, 1, uncompressed(rect_mask(100, 100, 0, 90, 30, 100)), crowd=1),
                coco_ann(5, 1, rect_poly(0, 0, 8, 9)),
                coco_ann(6, 1, rect_poly(40, 0, 48, 10)),
                coco_ann(7, 1, rect_poly(10, 60, 40, 90)),
                coco_ann(8, 2, rect_poly(0, 0, 50, 50)),
                coco_ann(9, 3, rect_poly(0, 0, 5, 5)),
            ]}
    lvis = {"images": [lvis_image(7, "a.jpg"), lvis_image(8, "b.jpg", 80, 120),
                       lvis_image(9, "d.jpg")],
            "categories": [{"id": 1, "name": "thing", "synset": "thing.n.01", "frequency": "f"}],
            "annotations": [
                lvis_ann(11, 7, rect_poly(11, 11, 50, 50)),
                lvis_ann(12, 7, rect_poly(12, 10, 50, 50)),
                lvis_ann(13, 7, rect_poly(60, 10, 87, 40)),
                lvis_ann(14, 7, rect_poly(60, 60, 88, 88)),
                lvis_ann(15, 7, rect_poly(64, 60, 92, 88)),
                lvis_ann(16, 7, rect_poly(40, 80, 47, 90)),
                lvis_ann(17, 7, L_SHAPE),
                lvis_ann(18, 8, rect_poly(0, 0, 50, 50)),
                lvis_ann(19, 9, rect_poly(0, 0, 6, 6)),
            ]}
    coco_path, lvis_path, images = tmp / "instances.json", tmp / "lvis.json", tmp / "images"
    coco_path.write_text(json.dumps(coco))
    lvis_path.write_text(json.dumps(lvis))
    (images / "train2017").mkdir(parents=True)
    for name, (h, w) in {"a.jpg": (100, 100), "b.jpg": (80, 120), "c.jpg": (100, 100),
                         "d.jpg": (100, 100)}.items():
        cv2.imwrite(str(images / "train2017" / name), np.full((h, w, 3), 127, np.uint8))
    return coco, lvis, coco_path, lvis_path, images


EXPECTED = {
    "images": {"written": 2, "lvis": 3, "coco": 3, "matched": 2, "lvis_only": 1,
               "coco_only_skipped": 1, "coco_only_kept": 0, "without_objects": 1},
    "coco_masks": {"total": 8, "crowd_skipped": 1, "dropped_small": 2, "replaced_by_lvis": 2,
                   "kept": 3, "in_skipped_images": 1},
    "lvis_masks": {"total": 9, "dropped_small": 2, "removed_duplicates": 1, "kept": 6},
}


@pytest.fixture
def files(tmp_path):
    return build(tmp_path)


def test_merge_counts_follow_the_geometry(files, tmp_path):
    _, _, coco_path, lvis_path, images = files
    summary = merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", images_dir=images,
                              progress=False)
    for group, expected in EXPECTED.items():
        assert summary[group] == expected, group
    assert summary["num_images"] == 2 and summary["num_objects"] == 9


def test_which_mask_replaced_which(files):
    _, _, coco_path, lvis_path, _ = files
    coco, lvis = load_annotation_file(coco_path, "coco"), load_annotation_file(lvis_path, "lvis")
    coco_masks, crowd = image_masks(coco, coco.images[1])
    lvis_masks, _ = image_masks(lvis, lvis.images[7])
    assert crowd == 1 and [m.area for m in coco_masks] == [1600, 900, 1225, 72, 80, 900]
    assert [m.area for m in lvis_masks] == [1521, 1520, 810, 784, 784, 70, 500]
    result = merge_image(coco_masks, lvis_masks)
    assert [(c.ann_id, l.ann_id) for c, l in result.replaced] == [(1, 11), (2, 13)]
    assert [(d.ann_id, k.ann_id) for d, k in result.removed] == [(12, 11)]
    assert sorted(m.ann_id for m in result.dropped_small) == [5, 16]
    assert [m.ann_id for m in result.objects] == [11, 13, 14, 15, 17, 3, 6, 7]
    # moving a threshold moves the decision: c3/l4 (IoU 0.64) match at 0.6, l5/l4 (0.75) at 0.7
    loose = merge_image(coco_masks, lvis_masks, MergeConfig(replace_mask_iou=0.6,
                                                            replace_box_iou=0.6,
                                                            duplicate_mask_iou=0.7))
    assert (3, 14) in [(c.ann_id, l.ann_id) for c, l in loose.replaced]
    assert (15, 14) in [(d.ann_id, k.ann_id) for d, k in loose.removed]
    # a COCO mask with the same box as an LVIS mask but mask IoU 0.56 is kept in any case
    assert 7 in [m.ann_id for m in loose.kept_coco]


def test_reader_round_trip(files, tmp_path):
    _, _, coco_path, lvis_path, images = files
    merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", images_dir=images, progress=False)
    ds = MergedCocoLvis(tmp_path / "out", "train")
    assert len(ds) == 2
    assert ds.image_path(0) == images / "train2017" / "a.jpg"
    assert ds.object_sources(0) == ["lvis"] * 5 + ["coco"] * 3
    assert ds.object_areas(0) == [1521, 810, 784, 784, 500, 1225, 80, 900]
    masks = ds.load_masks(0)
    assert all(m.dtype == bool and m.shape == (100, 100) for m in masks)
    assert np.array_equal(masks[1], rect_mask(100, 100, 60, 10, 87, 40))
    assert np.array_equal(masks[5], rect_mask(100, 100, 60, 60, 95, 95))  # from uncompressed RLE
    l_shape = rect_mask(100, 100, 10, 60, 20, 90) | rect_mask(100, 100, 10, 80, 40, 90)
    assert np.array_equal(masks[4], l_shape)
    assert [int(m.sum()) for m in masks] == ds.object_areas(0)
    image = ds.load_image(1)
    assert image.shape == (80, 120, 3) and image.dtype == np.uint8
    assert ds.load_masks(1)[0].shape == (80, 120)
    np.testing.assert_array_equal(ds.object_boxes(1), [[0, 0, 50, 50]])
    clone = pickle.loads(pickle.dumps(ds))  # as DataLoader workers receive it
    assert len(pickle.dumps(ds)) < 1000  # by location, not by content
    assert all(np.array_equal(a, b) for a, b in zip(clone.load_masks(0), masks))


def test_keep_coco_only_images_and_two_coco_files(files, tmp_path):
    coco, _, _, lvis_path, images = files
    train = dict(coco, images=coco["images"][:1],
                 annotations=[a for a in coco["annotations"] if a["image_id"] == 1])
    val = dict(coco, images=coco["images"][1:],
               annotations=[a for a in coco["annotations"] if a["image_id"] != 1])
    paths = [tmp_path / "train.json", tmp_path / "val.json"]
    for path, data in zip(paths, (train, val)):
        path.write_text(json.dumps(data))
    summary = merge_coco_lvis(paths, lvis_path, tmp_path / "out", images_dir=images,
                              config=MergeConfig(keep_coco_only_images=True), progress=False)
    assert summary["images"]["coco_only_kept"] == 1 and summary["images"]["written"] == 3
    assert summary["coco_masks"]["kept"] == 4 and summary["num_objects"] == 10
    ds = MergedCocoLvis(tmp_path / "out", "train")
    assert ds.object_sources(2) == ["coco"] and ds.image_path(2).name == "c.jpg"


def test_cli_end_to_end(files, tmp_path, capsys):
    _, _, coco_path, lvis_path, images = files
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    args = ["--coco", str(coco_path), "--lvis", str(lvis_path), "--out", str(tmp_path / "out"),
            "--images", str(images), "--split", "val"]
    run = subprocess.run([sys.executable, "-m", "ritm_lite.data.coco_lvis", *args],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "2 images, 9 objects" in run.stdout and "replaced_by_lvis=2" in run.stdout
    summary = json.loads((tmp_path / "out" / "val" / "summary.json").read_text())
    assert summary["lvis_masks"] == EXPECTED["lvis_masks"]
    assert len(MergedCocoLvis(tmp_path / "out", "val")) == 2
    # errors: exit status 2 and one "error:" line, in-process (a subprocess each is slow)
    assert coco_lvis.main(args) == 2 and "--overwrite" in capsys.readouterr().err
    swapped = ["--coco", str(lvis_path), "--lvis", str(coco_path)] + args[4:] + ["--overwrite"]
    assert coco_lvis.main(swapped) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "looks like an LVIS v1 file" in err


# ---------------------------------------------------------------- malformed and mismatched input


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not a JSON annotation file"),
    ([1, 2], "expected a JSON object"),
    ({"images": []}, "missing list(s) ['annotations']"),
    ({"images": [], "annotations": []}, "lists no images"),
    ({"images": [{"id": 1, "height": 4, "coco_url": "x/a.jpg", "neg_category_ids": []}],
      "annotations": []}, "image #0 lacks 'id', 'height' or 'width'"),
    ({"images": [lvis_image(1, "a.jpg")], "annotations": [{"id": 5, "image_id": 1}]},
     "annotation #0 lacks 'image_id' or 'segmentation'"),
])
def test_malformed_files_are_refused(files, tmp_path, content, message):
    _, _, coco_path, _, _ = files
    bad = write(tmp_path / "bad.json", content)
    with pytest.raises(ValueError, match=re.escape(message)):
        merge_coco_lvis(coco_path, bad, tmp_path / "out", progress=False)


def test_binary_file_is_refused(files, tmp_path):
    _, _, coco_path, _, _ = files
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ValueError, match="not a JSON annotation file"):
        merge_coco_lvis(coco_path, bad, tmp_path / "out", progress=False)


def test_files_of_the_wrong_kind_are_refused(files, tmp_path):
    _, _, coco_path, lvis_path, _ = files
    with pytest.raises(ValueError, match="looks like a COCO instances file, but --lvis expects"):
        merge_coco_lvis(coco_path, coco_path, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="looks like an LVIS v1 file, but --coco expects"):
        merge_coco_lvis(lvis_path, lvis_path, tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        merge_coco_lvis(tmp_path / "nope.json", lvis_path, tmp_path / "out", progress=False)


def test_mismatched_inputs_are_refused(files, tmp_path):
    coco, lvis, coco_path, lvis_path, images = files
    resized = json.loads(json.dumps(lvis))
    resized["images"][0]["height"] = 99
    with pytest.raises(ValueError, match="do not describe the same images"):
        merge_coco_lvis(coco_path, write(tmp_path / "l.json", resized), tmp_path / "o",
                        progress=False)
    wrong_size = json.loads(json.dumps(coco))
    wrong_size["annotations"][1]["segmentation"] = compressed(rect_mask(50, 100, 0, 0, 5, 5))
    with pytest.raises(ValueError, match=r"annotation 2 of image a.jpg: mask size \(50, 100\) "
                                         r"does not match its image \(100, 100\)"):
        merge_coco_lvis(write(tmp_path / "c.json", wrong_size), lvis_path, tmp_path / "o",
                        progress=False)
    orphan = json.loads(json.dumps(lvis))
    orphan["annotations"][0]["image_id"] = 12345
    with pytest.raises(ValueError, match="refers to image id 12345"):
        merge_coco_lvis(coco_path, write(tmp_path / "l2.json", orphan), tmp_path / "o",
                        progress=False)
    strangers = json.loads(json.dumps(lvis))
    for image in strangers["images"]:
        image["coco_url"] = image["coco_url"].replace(".jpg", "x.jpg")
    with pytest.raises(ValueError, match="no image of .* matches"):
        merge_coco_lvis(coco_path, write(tmp_path / "l3.json", strangers), tmp_path / "o",
                        progress=False)
    (images / "train2017" / "b.jpg").unlink()
    with pytest.raises(ValueError, match=r"1 image\(s\) are not in .*b.jpg"):
        merge_coco_lvis(coco_path, lvis_path, tmp_path / "o", images_dir=images, progress=False)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_reader_refuses_missing_foreign_and_truncated_folders(files, tmp_path):
    _, _, coco_path, lvis_path, images = files
    with pytest.raises(FileNotFoundError, match="run `python -m ritm_lite.data.coco_lvis"):
        MergedCocoLvis(tmp_path / "out", "train")
    (tmp_path / "foreign" / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match="has no summary.json"):
        MergedCocoLvis(tmp_path / "foreign", "train")
    write(tmp_path / "foreign" / "train" / "summary.json", {"format": "something else"})
    with pytest.raises(ValueError, match="not a merged COCO\\+LVIS folder"):
        MergedCocoLvis(tmp_path / "foreign", "train")
    merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", images_dir=images, progress=False)
    rle = tmp_path / "out" / "train" / "rle.bin"
    rle.write_bytes(rle.read_bytes()[:-5])
    with pytest.raises(ValueError, match="rle.bin is missing or truncated"):
        MergedCocoLvis(tmp_path / "out", "train")
    with pytest.raises(FileExistsError, match="overwrite"):
        merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", progress=False)
    merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", images_dir=images, overwrite=True,
                    progress=False)
    ds = MergedCocoLvis(tmp_path / "out", "train")
    cv2.imwrite(str(images / "train2017" / "a.jpg"), np.zeros((50, 60, 3), np.uint8))
    with pytest.raises(RuntimeError, match="wrong image folder"):
        ds.load_image(0)
    summary = json.loads((tmp_path / "out" / "train" / "summary.json").read_text())
    write(tmp_path / "out" / "train" / "summary.json", {**summary, "images_dir": None})
    with pytest.raises(RuntimeError, match="pass images_dir"):
        MergedCocoLvis(tmp_path / "out", "train").image_path(0)
    other = MergedCocoLvis(tmp_path / "out", "train", images_dir=images / "train2017")
    assert other.image_path(1) == images / "train2017" / "b.jpg"  # a flat folder works too


# ------------------------------------------------------------------------- interrupted writes


def test_failure_mid_way_leaves_nothing_that_looks_complete(files, tmp_path, monkeypatch):
    _, _, coco_path, lvis_path, images = files
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated failure half-way")
        return merge_image(*args, **kwargs)

    monkeypatch.setattr(coco_lvis, "merge_image", failing)
    with pytest.raises(RuntimeError, match="simulated failure"):
        merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", progress=False)
    assert list((tmp_path / "out").iterdir()) == []  # temporary folder cleaned up
    with pytest.raises(FileNotFoundError):
        MergedCocoLvis(tmp_path / "out", "train")
    # an existing, complete split survives a failed --overwrite untouched
    monkeypatch.setattr(coco_lvis, "merge_image", merge_image)
    merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", images_dir=images, progress=False)
    before = (tmp_path / "out" / "train" / "summary.json").read_bytes()
    calls.clear()
    monkeypatch.setattr(coco_lvis, "merge_image", failing)
    with pytest.raises(RuntimeError):
        merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", overwrite=True, progress=False)
    assert (tmp_path / "out" / "train" / "summary.json").read_bytes() == before
    assert len(MergedCocoLvis(tmp_path / "out", "train")) == 2


KILLED = """
import os, sys
from ritm_lite.data import merged_format
from ritm_lite.data.coco_lvis import main
merged_format._write_summary = lambda *a, **k: os._exit(3)  # die like SIGKILL: no cleanup
main(sys.argv[1:])
"""


def test_killed_run_leaves_only_a_hidden_partial_folder(files, tmp_path):
    _, _, coco_path, lvis_path, _ = files
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-c", KILLED, "--coco", str(coco_path), "--lvis",
                          str(lvis_path), "--out", str(out)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=120)
    assert run.returncode == 3, run.stderr
    leftovers = [p.name for p in out.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".train.partial-")
    assert (out / leftovers[0] / "rle.bin").exists()  # it was killed after writing data
    with pytest.raises(FileNotFoundError):
        MergedCocoLvis(out, "train")
    with pytest.raises(ValueError, match="incomplete merge"):
        MergedCocoLvis(out, leftovers[0])


def test_the_default_replacement_is_the_papers_iou_above_80_percent():
    """A COCO/LVIS pair at box and mask IoU 0.75 is two objects by default (the paper's
    "IoU > 80%"), the same object at 0.7; a pair at 0.85 is the same object by default."""
    from ritm_lite.data.merged_format import InstanceMask

    def instance(width: int, kind: str, ann_id: int) -> InstanceMask:
        mask = np.zeros((40, 200), np.uint8)
        mask[:, :width] = 1
        rle = mask_utils.encode(np.asfortranarray(mask))
        bbox = tuple(float(v) for v in mask_utils.toBbox(rle))
        return InstanceMask(rle, int(mask_utils.area(rle)), bbox, kind, ann_id, 1)

    coco = [instance(100, "coco", 1)]
    at_075, at_085 = [instance(75, "lvis", 2)], [instance(85, "lvis", 3)]  # IoU = 75/100, 85/100
    assert merge_image(coco, at_075).replaced == []
    assert len(merge_image(coco, at_075, MergeConfig(replace_box_iou=0.7, replace_mask_iou=0.7)).replaced) == 1
    assert len(merge_image(coco, at_085).replaced) == 1


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`) to the COCO+LVIS merge: a clear error naming file and
# annotation, or a right answer.
#
# Built on the small files above (image "a.jpg" is 100 x 100: COCO image 1 with annotations 1
# (polygon), 2 (compressed RLE), 3 (uncompressed RLE); LVIS image 7).
#
# pycocotools' C code trusts its input: a polygon point at 1e30 makes it allocate until the machine
# runs out of memory, a garbage RLE string makes it loop. So every test of this module runs with a
# *tripwire* around pycocotools that fails the test (instead of hanging or exhausting memory) if the
# bad value ever reaches it: the checks must come first.


def _safe(value) -> bool:
    """Whether ``value`` (any argument given to pycocotools) is harmless to its C code."""
    if isinstance(value, dict) and "counts" in value:
        counts = value["counts"]
        if isinstance(counts, list):
            return all(type(c) is int and c >= 0 for c in counts)
        counts = counts.encode() if isinstance(counts, str) else counts
        return (len(counts) > 0 and all(48 <= b < 112 for b in counts)  # pycocotools' alphabet,
                and not (counts[-1] - 48) & 0x20 and b"o" * 8 not in counts)  # not cut, no huge run
    if isinstance(value, (list, tuple)):
        return all(_safe(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) < 1e5
    if isinstance(value, int):
        return abs(value) < 1e5
    return True


@pytest.fixture(autouse=True)
def tripwire(monkeypatch):
    """Fail (AssertionError) where pycocotools would be handed a value that hangs or floods it."""
    for name in ("frPyObjects", "merge", "area", "toBbox", "iou", "decode"):
        real = getattr(mask_utils, name)

        def guarded(*args, _real=real, _name=name):
            assert _safe(args[:1]), f"pycocotools.{_name} was called with bad input"
            return _real(*args)

        monkeypatch.setattr(mask_utils, name, guarded)


def merge(tmp_path, files, coco=None, lvis=None, **kwargs):
    """Merge the fixture's files, with ``coco`` / ``lvis`` (dicts) written in their place."""
    _, _, coco_path, lvis_path, _ = files
    if coco is not None:
        coco_path = tmp_path / "bad_coco.json"
        coco_path.write_text(json.dumps(coco))
    if lvis is not None:
        lvis_path = tmp_path / "bad_lvis.json"
        lvis_path.write_text(json.dumps(lvis))
    return merge_coco_lvis(coco_path, lvis_path, tmp_path / "out", progress=False, **kwargs)


def with_segmentation(files, index, segmentation):
    coco = copy.deepcopy(files[0])
    coco["annotations"][index]["segmentation"] = segmentation
    return coco


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ----------------------------------------------------------------- polygons (issue items 1, 4)

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e30, 1e8, 10 ** 40,
                                 201, -101, "12", None, True, [3]])
def test_bad_input_bad_polygon_coordinates_are_refused_before_pycocotools(files, tmp_path, bad):
    coco = with_segmentation(files, 0, [[10, 10, 50, 10, bad, 50, 10, 50]])
    with pytest.raises(ValueError, match=r"bad_coco.json: annotation 1 of image a.jpg: polygon "):
        merge(tmp_path, files, coco)
    assert_nothing_written(tmp_path)


def test_bad_input_polygons_may_overshoot_the_image_by_up_to_its_size():
    # [-W, 2W] x [-H, 2H] is accepted and clipped: this rectangle covers the whole image
    rle = segmentation_to_rle(rect_poly(-100, -100, 200, 200), 100, 100, "here")
    assert int(mask_utils.area(rle)) == 100 * 100
    with pytest.raises(ValueError, match=r"here: polygon point #1 \(x, y\) = \(200.5, -100\)"):
        segmentation_to_rle(rect_poly(-100, -100, 200.5, 200), 100, 100, "here")


# ---------------------------------------------------------------------- RLE counts (item 2)

def truncated_counts() -> str:
    counts = compressed(rect_mask(100, 100, 60, 10, 90, 40))["counts"]
    return counts + "Q"  # "Q" = 48 + 0x21: "more groups follow", and none does


@pytest.mark.parametrize("counts, message", [
    ("garbage!!", "'r' at #2, which pycocotools never writes"),
    ("", "add up to 0 pixels, not H\\*W = 10000"),
    (truncated_counts(), "end in the middle of a run"),
    ("o" * 50, "a run too long"),
    (compressed(rect_mask(50, 100, 0, 0, 5, 5))["counts"], "add up to 5000 pixels, not H\\*W"),
])
def test_bad_input_garbage_compressed_rle_names_the_annotation(files, tmp_path, counts, message):
    coco = with_segmentation(files, 1, {"size": [100, 100], "counts": counts})
    where = "bad_coco.json: annotation 2 of image a.jpg: "
    with pytest.raises(ValueError, match=f"{where}.*{message}"):
        merge(tmp_path, files, coco)
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("counts, message", [
    ([-5, 10005], "run #0 has negative length -5"),
    ([10, 20], "add up to 30 pixels"),
    ([1.5, 9998.5], "run length must be an integer, got 1.5"),
    (["a", 9999], "run length must be an integer, got 'a'"),
    ([True, 9999], "run length must be an integer, got True"),
])
def test_bad_input_garbage_uncompressed_rle_names_the_annotation(files, tmp_path, counts, message):
    coco = with_segmentation(files, 2, {"size": [100, 100], "counts": counts})
    where = "bad_coco.json: annotation 3 of image a.jpg: "
    with pytest.raises(ValueError, match=f"{where}.*{re.escape(message)}"):
        merge(tmp_path, files, coco)


def test_bad_input_compressed_run_lengths_invert_pycocotools_encoding():
    rng = np.random.default_rng(0)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(1, 80, 2))
        mask = rng.random((h, w)) < rng.random()
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert compressed_run_lengths(rle["counts"]) == uncompressed(mask)["counts"]
    big = mask_utils.frPyObjects({"size": [65535, 65535], "counts": [5, 65535 ** 2 - 10, 5]},
                                 65535, 65535)  # runs beyond 2**31, as uint32 holds them
    assert compressed_run_lengths(big["counts"]) == [5, 65535 ** 2 - 10, 5]


@pytest.mark.parametrize("segmentation, message", [
    ("hello", "unknown segmentation"), (5, "unknown segmentation"),
    ({"counts": "abc"}, "unknown segmentation"),
    ([10, 10, 20, 10, 20, 20], "a polygon must be a flat list of x, y"),
    ({"size": [100, 100, 3], "counts": [10000]}, "RLE 'size' must be \\[H, W\\]"),
    ({"size": ["a", 100], "counts": [10000]}, "RLE 'size' must be an integer, got 'a'"),
])
def test_bad_input_segmentations_of_the_wrong_type(files, tmp_path, segmentation, message):
    with pytest.raises(ValueError, match=f"annotation 1 of image a.jpg: {message}"):
        merge(tmp_path, files, with_segmentation(files, 0, segmentation))


# ------------------------------------------------- images and annotation fields (items 4, probes)

@pytest.mark.parametrize("key, value, message", [
    ("height", "abc", "image 1: 'height' must be an integer, got 'abc'"),
    ("height", "100", "image 1: 'height' must be an integer, got '100'"),
    ("height", 100.5, "image 1: 'height' must be an integer, got 100.5"),
    ("width", None, "image 1: 'width' must be an integer, got None"),
    ("height", True, "image 1: 'height' must be an integer, got True"),
    ("height", 0, "image 1: size 0x100 (HxW) is not 1..65535 pixels a side"),
    ("width", -1, "image 1: size 100x-1 (HxW) is not 1..65535"),
    ("width", 70000, "image 1: size 100x70000 (HxW) is not 1..65535"),
    ("id", "abc", "image #0: 'id' must be an integer, got 'abc'"),
    ("file_name", 5, "image 1: 'file_name' must be a string, got 5"),
])
def test_bad_input_bad_image_fields_name_the_file_and_image(files, tmp_path, key, value, message):
    coco = copy.deepcopy(files[0])
    coco["images"][0][key] = value
    with pytest.raises(ValueError, match=f"bad_coco.json: {re.escape(message)}"):
        merge(tmp_path, files, coco)


@pytest.mark.parametrize("key, value, message", [
    ("id", "x", "annotation #0: 'id' must be an integer, got 'x'"),
    ("id", None, "annotation #0: 'id' must be an integer, got None"),
    ("image_id", "1", "annotation 1: 'image_id' must be an integer, got '1'"),
    ("image_id", True, "annotation 1: 'image_id' must be an integer, got True"),
    ("category_id", "x", "annotation 1: 'category_id' must be an integer, got 'x'"),
    ("iscrowd", "no", "annotation 1: 'iscrowd' must be 0 or 1, got 'no'"),
    ("id", 2, "annotation 2: the id appears twice in 'annotations'"),
])
def test_bad_input_bad_annotation_fields_name_the_file_and_annotation(files, tmp_path, key, value, message):
    coco = copy.deepcopy(files[0])
    coco["annotations"][0][key] = value
    with pytest.raises(ValueError, match=f"bad_coco.json: {re.escape(message)}"):
        merge(tmp_path, files, coco)


def test_bad_input_duplicate_image_ids_are_refused(files, tmp_path):
    lvis = copy.deepcopy(files[1])
    lvis["images"][1]["id"] = 7  # "b.jpg" takes "a.jpg"'s id: its annotations would move
    with pytest.raises(ValueError, match="bad_lvis.json: image id 7 appears twice in 'images'"):
        merge(tmp_path, files, lvis=lvis)


# -------------------------------------------------------------------- nothing to train (item 3)

def test_bad_input_a_merge_without_any_object_is_an_error(files, tmp_path):
    coco, lvis = copy.deepcopy(files[0]), copy.deepcopy(files[1])
    coco["annotations"], lvis["annotations"] = [], []
    with pytest.raises(ValueError, match="no image has an object: neither the COCO nor the LVIS"):
        merge(tmp_path, files, coco, lvis)
    assert_nothing_written(tmp_path)
    with pytest.raises(ValueError, match=r"no image keeps an object: .* under min_area=100000 px"):
        merge(tmp_path, files, config=MergeConfig(min_area=100_000))
    assert_nothing_written(tmp_path)


# ----------------------------------------------------------------------- thresholds (item 5)

@pytest.mark.parametrize("name", coco_lvis.IOU_THRESHOLDS)
@pytest.mark.parametrize("value", [5, 1.0001, -0.1, float("nan"), "0.7"])
def test_bad_input_iou_thresholds_outside_0_1_are_refused(name, value):
    flag = name.replace("_", "-")
    with pytest.raises(ValueError, match=rf"{name} \(--{flag}\) is an IoU .*\[0, 1\]"):
        MergeConfig(**{name: value})


def test_bad_input_threshold_bounds_keep_their_meaning(files, tmp_path, capsys):
    MergeConfig(min_area=0, replace_box_iou=0, duplicate_mask_iou=1)  # the ends are valid
    with pytest.raises(ValueError, match="min_area"):
        MergeConfig(min_area=-1)
    summary = merge(tmp_path, files, config=MergeConfig(replace_box_iou=1))
    assert summary["coco_masks"]["replaced_by_lvis"] == 0  # 1: "IoU > 1" never holds, rule off
    _, _, coco_path, lvis_path, _ = files
    args = ["--coco", str(coco_path), "--lvis", str(lvis_path), "--out", str(tmp_path / "cli")]
    assert coco_lvis.main(args + ["--replace-box-iou", "5"]) == 2
    assert "error: replace_box_iou (--replace-box-iou)" in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()


# ----------------------------------------------------- a split merged without --images (item 6)

def test_bad_input_a_split_without_images_says_how_to_record_them(files, tmp_path, capsys):
    _, _, coco_path, lvis_path, images = files
    args = ["--coco", str(coco_path), "--lvis", str(lvis_path), "--out", str(tmp_path / "out"),
            "--replace-mask-iou", "0.75"]
    assert coco_lvis.main(args) == 0
    assert "without --images the split records no image folder" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="merged without --images") as err:
        MergedCocoLvis(tmp_path / "out", "train").image_path(0)
    # the message holds the exact command to run: run it, with the image root filled in
    command = re.search(r"`(python -m ritm_lite.data.coco_lvis [^`]*)`", str(err.value)).group(1)
    argv = shlex.split(command.replace("COCO_ROOT", str(images)))[3:]
    assert "--replace-mask-iou" in argv and "--overwrite" in argv
    assert coco_lvis.main(argv) == 0
    ds = MergedCocoLvis(tmp_path / "out", "train")
    assert ds.image_path(0) == images / "train2017" / "a.jpg"
    assert ds.summary["config"]["replace_mask_iou"] == 0.75

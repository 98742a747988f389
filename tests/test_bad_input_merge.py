"""Bad input to the COCO+LVIS merge: a clear error naming file and annotation, or a right answer.

Built on the small files of ``test_coco_lvis`` (image "a.jpg" is 100 x 100: COCO image 1 with
annotations 1 (polygon), 2 (compressed RLE), 3 (uncompressed RLE); LVIS image 7).

pycocotools' C code trusts its input: a polygon point at 1e30 makes it allocate until the
machine runs out of memory, a garbage RLE string makes it loop. So every test here runs with a
*tripwire* around pycocotools that fails the test (instead of hanging or exhausting memory) if
the bad value ever reaches it: the checks must come first.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shlex

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from test_coco_lvis import build, compressed, rect_mask, rect_poly, uncompressed

from ritm_lite.data import coco_lvis
from ritm_lite.data.coco_lvis import MergeConfig, MergedCocoLvis, merge_coco_lvis
from ritm_lite.data.coco_lvis_files import compressed_run_lengths, segmentation_to_rle


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


@pytest.fixture
def files(tmp_path):
    return build(tmp_path)


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
def test_bad_polygon_coordinates_are_refused_before_pycocotools(files, tmp_path, bad):
    coco = with_segmentation(files, 0, [[10, 10, 50, 10, bad, 50, 10, 50]])
    with pytest.raises(ValueError, match=r"bad_coco.json: annotation 1 of image a.jpg: polygon "):
        merge(tmp_path, files, coco)
    assert_nothing_written(tmp_path)


def test_polygons_may_overshoot_the_image_by_up_to_its_size():
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
def test_garbage_compressed_rle_names_the_annotation(files, tmp_path, counts, message):
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
def test_garbage_uncompressed_rle_names_the_annotation(files, tmp_path, counts, message):
    coco = with_segmentation(files, 2, {"size": [100, 100], "counts": counts})
    where = "bad_coco.json: annotation 3 of image a.jpg: "
    with pytest.raises(ValueError, match=f"{where}.*{re.escape(message)}"):
        merge(tmp_path, files, coco)


def test_compressed_run_lengths_invert_pycocotools_encoding():
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
def test_segmentations_of_the_wrong_type(files, tmp_path, segmentation, message):
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
def test_bad_image_fields_name_the_file_and_image(files, tmp_path, key, value, message):
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
def test_bad_annotation_fields_name_the_file_and_annotation(files, tmp_path, key, value, message):
    coco = copy.deepcopy(files[0])
    coco["annotations"][0][key] = value
    with pytest.raises(ValueError, match=f"bad_coco.json: {re.escape(message)}"):
        merge(tmp_path, files, coco)


def test_duplicate_image_ids_are_refused(files, tmp_path):
    lvis = copy.deepcopy(files[1])
    lvis["images"][1]["id"] = 7  # "b.jpg" takes "a.jpg"'s id: its annotations would move
    with pytest.raises(ValueError, match="bad_lvis.json: image id 7 appears twice in 'images'"):
        merge(tmp_path, files, lvis=lvis)


# -------------------------------------------------------------------- nothing to train (item 3)

def test_a_merge_without_any_object_is_an_error(files, tmp_path):
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
def test_iou_thresholds_outside_0_1_are_refused(name, value):
    flag = name.replace("_", "-")
    with pytest.raises(ValueError, match=rf"{name} \(--{flag}\) is an IoU .*\[0, 1\]"):
        MergeConfig(**{name: value})


def test_threshold_bounds_keep_their_meaning(files, tmp_path, capsys):
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

def test_a_split_without_images_says_how_to_record_them(files, tmp_path, capsys):
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

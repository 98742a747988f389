"""Every benchmark reader on tiny files written in that benchmark's own format."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from ritm_lite.data.benchmarks import BENCHMARKS, load_benchmark
from ritm_lite.data.masks import mask_labels, read_mask
from ritm_lite.evaluation import GrabCutPeer, evaluate_dataset
from tests.evaluation.test_evaluate_cli import make_grabcut_folder


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])


def rgb_image(seed: int, shape=(12, 16)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_grabcut_maps_128_to_ignore(tmp_path):
    image = rgb_image(0)
    write_rgb(tmp_path / "data_GT" / "b.png", image)  # lossless, so pixels round-trip
    write_rgb(tmp_path / "data_GT" / "a.png", rgb_image(1))
    mask = np.zeros((12, 16), np.uint8)
    mask[2:6, 3:9] = 255
    mask[6, 3:9] = 128
    mask[0, 0] = 200  # > 128 counts as object, like the original
    for name in ("a", "b"):
        (tmp_path / "boundary_GT").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "boundary_GT" / f"{name}.bmp"), mask)
    bench = load_benchmark("GrabCut", tmp_path)
    assert len(bench) == 2 and [bench[i].name for i in range(2)] == ["a", "b"]
    sample = bench[1]
    np.testing.assert_array_equal(sample.image, image)
    assert sample.gt_mask.dtype == np.int32
    assert (sample.gt_mask == 1).sum() == 4 * 6 + 1 and (sample.gt_mask == -1).sum() == 6
    assert sample.gt_mask[0, 0] == 1 and sample.gt_mask[11, 15] == 0


def test_berkeley_reads_images_and_masks_folders(tmp_path):
    write_rgb(tmp_path / "images" / "x.png", rgb_image(2))
    mask = np.zeros((12, 16), np.uint8)
    mask[4:8, 4:8] = 255
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "masks" / "x.png"), mask)
    sample = load_benchmark("Berkeley", tmp_path)[0]
    assert sample.name == "x" and sample.gt_mask.sum() == 16


@pytest.mark.parametrize("name", ["DAVIS", "COCO_MVal"])
def test_img_gt_layout_reads_the_largest_channel_of_colour_masks(tmp_path, name):
    write_rgb(tmp_path / "img" / "cat1_42.jpg", rgb_image(3))
    mask = np.zeros((12, 16, 3), np.uint8)
    mask[1:3, 1:4, 2] = 255  # any channel
    mask[5, 5, 1] = 128  # the upper half of the grey range is object
    mask[7, 7, 0] = 3  # compression noise in a 0/255 mask is not
    (tmp_path / "gt").mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "cat1_42.png"), mask)
    sample = load_benchmark(name, tmp_path)[0]
    assert sample.name == "cat1_42" and sample.image.shape == (12, 16, 3)
    assert set(np.unique(sample.gt_mask)) == {0, 1} and sample.gt_mask.sum() == 2 * 3 + 1


def test_sbd_gives_one_sample_per_instance(tmp_path):
    for image_id in ("2008_000001", "2008_000002"):
        write_rgb(tmp_path / "img" / f"{image_id}.jpg", rgb_image(4))
    (tmp_path / "inst").mkdir()
    first = np.zeros((12, 16), np.uint8)
    first[0:3, 0:3] = 1
    first[5:10, 5:12] = 2
    second = np.zeros((12, 16), np.uint8)
    second[2:4, 2:4] = 3  # ids need not start at 1
    for image_id, segmentation in (("2008_000001", first), ("2008_000002", second)):
        gt_inst = {
            "Segmentation": segmentation,
            "Boundaries": np.zeros((2, 1), object),
            "Categories": np.array([[15]]),
        }
        savemat(tmp_path / "inst" / f"{image_id}.mat", {"GTinst": gt_inst})
    (tmp_path / "val.txt").write_text("2008_000001\n2008_000002\n")
    bench = load_benchmark("SBD", tmp_path)
    assert [bench[i].name for i in range(len(bench))] == [
        "2008_000001_1",
        "2008_000001_2",
        "2008_000002_3",
    ]
    assert (
        bench[0].gt_mask.sum() == 9 and bench[1].gt_mask.sum() == 35 and bench[2].gt_mask.sum() == 4
    )
    assert set(np.unique(bench[1].gt_mask)) == {0, 1}


def test_pascal_voc_objects_with_ignored_boundary(tmp_path):
    image_id = "2007_000032"
    archive_root, tmp_path = tmp_path, tmp_path / "VOCdevkit" / "VOC2012"
    write_rgb(tmp_path / "JPEGImages" / f"{image_id}.jpg", rgb_image(5))
    indices = np.zeros((12, 16), np.uint8)
    indices[2:5, 2:5] = 1
    indices[7:10, 8:14] = 2
    indices[1, 1:6] = 255  # boundary band
    png = Image.fromarray(indices)  # mode "L"; putpalette turns it into an indexed "P" image
    png.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 252 + [224, 224, 192])
    (tmp_path / "SegmentationObject").mkdir()
    png.save(tmp_path / "SegmentationObject" / f"{image_id}.png")
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Segmentation" / "val.txt").write_text(image_id + "\n")
    bench = load_benchmark("PascalVOC", tmp_path)
    assert len(bench) == 2 and bench[1].name == f"{image_id}_2"
    assert (bench[0].gt_mask == 1).sum() == 9 and (bench[0].gt_mask == -1).sum() == 5
    assert (bench[1].gt_mask == 1).sum() == 18 and (bench[1].gt_mask == -1).sum() == 5
    assert len(load_benchmark("PascalVOC", archive_root)) == 2  # the archive's top folder works too


def test_missing_files_and_unknown_names_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_benchmark("NoSuchSet", tmp_path)
    with pytest.raises(FileNotFoundError, match="data_GT"):
        load_benchmark("GrabCut", tmp_path)
    write_rgb(tmp_path / "img" / "lonely.png", rgb_image(6))
    (tmp_path / "gt").mkdir()
    with pytest.raises(FileNotFoundError, match="no mask for lonely.png"):
        load_benchmark("DAVIS", tmp_path)
    assert set(BENCHMARKS) == {"GrabCut", "Berkeley", "DAVIS", "COCO_MVal", "SBD", "PascalVOC", "DUTS-TR-holdout"}


def test_real_grabcut_has_fifty_objects_with_ignore_bands(grabcut_dir):
    bench = load_benchmark("GrabCut", grabcut_dir)
    assert len(bench) == 50
    sample = bench[1]  # 124080: has a 128 band
    assert sample.image.dtype == np.uint8 and sample.image.shape[:2] == sample.gt_mask.shape
    assert set(np.unique(sample.gt_mask)) == {-1, 0, 1}


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name, root, error, message", [
    ("ImageNet", ".", ValueError, "unknown benchmark 'ImageNet'"),
    (None, ".", ValueError, "unknown benchmark None"),
    ("GrabCut", None, TypeError, "root must be the GrabCut folder's path"),
    ("GrabCut", "", TypeError, "root must be"),
    ("GrabCut", "MISSING", FileNotFoundError, "data_GT is not a folder"),
    ("GrabCut", "FILE", FileNotFoundError, "is not a folder"),
    ("GrabCut", "EMPTY", FileNotFoundError, "no images in"),
    ("SBD", "EMPTY", FileNotFoundError, "split file"),
    ("PascalVOC", "EMPTY", FileNotFoundError, "split file"),
])
def test_bad_input_benchmark_roots(tmp_path, name, root, error, message):
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty" / "data_GT").mkdir(parents=True)
    (tmp_path / "empty" / "boundary_GT").mkdir()
    root = {"MISSING": tmp_path / "missing", "FILE": tmp_path / "file", "EMPTY": tmp_path / "empty"}.get(root, root)
    with pytest.raises(error, match=message):
        load_benchmark(name, root)


def test_bad_input_benchmark_indices_and_files(tmp_path):
    write_rgb(tmp_path / "data_GT" / "a.png", rgb_image(0))
    (tmp_path / "boundary_GT").mkdir()
    cv2.imwrite(str(tmp_path / "boundary_GT" / "a.bmp"), np.full((16, 12), 255, np.uint8))  # transposed
    bench = load_benchmark("GrabCut", tmp_path)
    with pytest.raises(ValueError, match="is 12x16 but its image .* is 16x12"):
        bench[0]
    for index, error, message in [(1, IndexError, "sample 1 of GrabCut, which has 1 objects"),
                                  (-2, IndexError, "sample -2"), ("a", TypeError, "indexed by an integer"),
                                  (0.0, TypeError, "indexed by an integer"), (True, TypeError, "indexed by an integer")]:
        with pytest.raises(error, match=message):
            bench[index]
    cv2.imwrite(str(tmp_path / "boundary_GT" / "a.bmp"), np.zeros((12, 16), np.uint8))  # no object
    with pytest.raises(ValueError, match="a.bmp: the mask has no object pixel"):
        bench[0]
    (tmp_path / "boundary_GT" / "a.bmp").write_bytes(b"BM garbage")
    with pytest.raises(ValueError, match="cannot decode .*a.bmp"):
        bench[0]
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        load_benchmark("GrabCut", tmp_path, bogus=1)


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`): a mask file means the same thing wherever it is read
# (:mod:`ritm_lite.data.masks`), and an object with no pixel is an error naming its file, never an
# object solved at the first click.


def _rewrite_masks(folder: Path, change) -> None:
    for path in sorted(folder.iterdir()):
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert cv2.imwrite(str(path), change(mask).astype(np.uint8))


def test_bad_input_grabcut_masks_saved_as_0_1_are_objects_not_empty(tmp_path):
    grey = make_grabcut_folder(tmp_path / "a")
    _rewrite_masks(grey / "boundary_GT", lambda m: np.where(m > 128, 255, 0))  # 0/255, no band
    reference = load_benchmark("GrabCut", grey)
    relabelled = make_grabcut_folder(tmp_path / "b")
    _rewrite_masks(relabelled / "boundary_GT", lambda m: m > 128)  # the same object as 0/1
    for original, as_01 in zip(reference, load_benchmark("GrabCut", relabelled)):
        np.testing.assert_array_equal(as_01.gt_mask == 1, original.gt_mask == 1)
    # and the evaluation is the one of the 0/255 files, not a perfect NoC
    results = [
        evaluate_dataset(load_benchmark("GrabCut", root), GrabCutPeer(), max_clicks=3, progress=False)
        for root in (tmp_path / "a", relabelled)
    ]
    assert results[0].summary() | {"SPC": 0} == results[1].summary() | {"SPC": 0}


def test_bad_input_an_empty_benchmark_mask_is_an_error_naming_the_file(tmp_path):
    data = make_grabcut_folder(tmp_path / "GrabCut")
    cv2.imwrite(str(data / "boundary_GT" / "toy1.bmp"), np.zeros((48, 64), np.uint8))
    samples = load_benchmark("GrabCut", data)
    samples[0]  # the other object is fine
    with pytest.raises(ValueError, match=r"toy1\.bmp.*no object pixel"):
        samples[1]


def test_bad_input_an_ignore_band_without_object_is_an_error(tmp_path):
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    _rewrite_masks(data / "boundary_GT", lambda m: np.where(m > 0, 128, 0))
    with pytest.raises(ValueError, match="no object pixel"):
        load_benchmark("GrabCut", data)[0]


def test_bad_input_the_mask_rule(tmp_path):
    grey = np.array([[0, 3, 127], [128, 200, 255]], np.uint8)
    np.testing.assert_array_equal(mask_labels(grey, "m"), [[0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(mask_labels(grey, "m", ignore_band=True), [[0, 0, 0], [-1, 1, 1]])
    np.testing.assert_array_equal(mask_labels(np.array([[0, 1]], np.uint8), "m"), [[0, 1]])
    np.testing.assert_array_equal(mask_labels(np.array([[0, 40000]], np.uint16), "m"), [[0, 1]])
    np.testing.assert_array_equal(mask_labels(np.array([[False, True]]), "m"), [[0, 1]])
    for bad in (np.zeros((2, 2, 2), np.uint8), np.zeros((0, 3), np.uint8), np.ones((2, 2), np.float32)):
        with pytest.raises(ValueError, match="non-empty"):
            mask_labels(bad, "m")
    assert cv2.imwrite(str(tmp_path / "colour.png"), np.dstack([np.zeros((2, 2)), np.eye(2) * 255, np.zeros((2, 2))]))
    np.testing.assert_array_equal(read_mask(tmp_path / "colour.png"), np.eye(2))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot decode .*broken\.png"):
        read_mask(tmp_path / "broken.png")

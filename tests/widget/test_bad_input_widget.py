"""Bad input to the widget's session state and to saving results: clear errors or correct files."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ritm_lite.widget import (
    SegmentationState,
    coco_to_label_map,
    result_paths,
    save_coco_rle_json,
    save_label_map_png,
)
from tests.widget_support import DiskPredictor


@pytest.fixture
def state() -> SegmentationState:
    return SegmentationState(DiskPredictor(radius=4), np.zeros((32, 40, 3), np.uint8))


@pytest.mark.parametrize("sign", ["no", "yes", 2, None, [1]])
def test_a_click_sign_that_is_not_a_bool_is_refused(state, sign):
    with pytest.raises(ValueError, match="is_positive"):
        state.add_click(10, 10, sign)
    assert state.clicks == []


@pytest.mark.parametrize("sign, positive", [(True, True), (False, False), (1, True), (0, False), (np.bool_(False), False)])
def test_bools_and_0_1_are_click_signs(state, sign, positive):
    assert state.add_click(10, 10, sign).is_positive is positive


def test_clicks_outside_the_image_change_nothing(state):
    with pytest.raises(ValueError, match="outside"):
        state.add_click(40, 5)  # x == width
    with pytest.raises(ValueError, match="finite"):
        state.add_click(float("nan"), 5)
    assert state.clicks == []


@pytest.mark.parametrize("name", ["labels.jpg", "labels.JPEG", "labels.bmp", "labels"])
def test_a_label_map_is_only_saved_as_png(tmp_path, name):
    with pytest.raises(ValueError, match="png"):
        save_label_map_png(np.ones((4, 4), np.int32), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_a_label_map_without_pixels_or_ids_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no pixels"):
        save_label_map_png(np.zeros((0, 4), np.int32), tmp_path / "a.png")
    with pytest.raises(ValueError, match="0..65535"):
        save_label_map_png(np.full((2, 2), -1, np.int32), tmp_path / "a.png")
    with pytest.raises(ValueError, match="integer"):
        save_label_map_png(np.ones((2, 2), np.float32), tmp_path / "a.png")


def test_a_label_map_png_named_like_a_folder_is_refused(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(IsADirectoryError):
        save_label_map_png(np.ones((2, 2), np.int32), tmp_path / "out.png")


def test_a_dot_in_the_save_name_is_kept(tmp_path):
    png, coco = result_paths(tmp_path / "scan_1.2")
    assert (png.name, coco.name) == ("scan_1.2.png", "scan_1.2.json")
    assert result_paths(tmp_path / "scan.png") == (tmp_path / "scan.png", tmp_path / "scan.json")
    assert result_paths("result.JSON")[0].name == "result.png"
    labels = np.zeros((6, 8), np.int32)
    labels[1:4, 2:6] = 1
    save_label_map_png(labels, png)
    save_coco_rle_json(labels, coco, file_name=png.name)
    np.testing.assert_array_equal(cv2.imread(str(png), cv2.IMREAD_UNCHANGED), labels)
    np.testing.assert_array_equal(coco_to_label_map(json.loads(coco.read_text())), labels)
    assert not (tmp_path / "scan_1.png").exists()


@pytest.mark.parametrize("name", ["", ".", "folder"])
def test_a_save_name_that_is_a_folder_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="folder"):
        result_paths(name)
    with pytest.raises(ValueError, match="folder"):
        result_paths(str(tmp_path) + "/")


@pytest.mark.parametrize("threshold", [2.0, -0.1, float("nan")])
def test_a_threshold_that_is_not_a_probability_is_refused(state, threshold):
    with pytest.raises(ValueError, match="threshold"):
        state.threshold = threshold
    with pytest.raises(ValueError, match="threshold"):
        SegmentationState(DiskPredictor(), np.zeros((8, 8, 3), np.uint8), threshold=threshold)
    assert state.threshold == 0.5


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.full((32, 40), np.nan), "no NaN"),
        (np.full((32, 40), 3.0), r"\[0, 1\]"),
        (np.zeros((32, 40), np.uint8), "no object pixel"),
        (np.full((32, 40), -1, np.int64), "0..65535"),
    ],
)
def test_a_loaded_mask_that_is_not_a_mask_is_refused(state, mask, message):
    with pytest.raises(ValueError, match=message):
        state.load_mask(mask)
    assert state.prior_mask is None


def test_a_loaded_mask_follows_the_one_mask_rule(state, tmp_path):
    from ritm_lite.widget import load_mask

    square = np.zeros((32, 40), np.uint8)
    square[8:20, 10:30] = 255
    noisy = square.copy()
    noisy[0, :5] = 3  # JPEG-like noise in the background
    expected = (square > 0).astype(np.float32)
    for mask in (noisy, square // 255, (square > 0).astype(np.int64), square.astype(np.float32) / 255):
        np.testing.assert_array_equal(load_mask(mask, (32, 40)), expected)
    assert cv2.imwrite(str(tmp_path / "mask.png"), noisy)
    np.testing.assert_array_equal(load_mask(tmp_path / "mask.png", (32, 40)), expected)
    state.load_mask(noisy)
    np.testing.assert_array_equal(state.prior_mask, expected)


# ------------------------------------------------------------ bad state inputs (widget/state.py)
@pytest.mark.parametrize("predictor", [None, "model", object(), np.zeros(3)])
def test_a_predictor_without_the_predictor_methods_is_refused(predictor):
    with pytest.raises(TypeError, match="predictor must have set_image, predict, get_state, set_state, reset"):
        SegmentationState(predictor, np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("image, message", [
    (None, "got shape"), ("not an image", "got shape"), (np.zeros((0, 5, 3), np.uint8), "got shape"),
    (np.zeros((4, 4, 2), np.uint8), "got shape"), (np.zeros((2, 3, 4, 3), np.uint8), "got shape"),
    (np.full((4, 4), np.nan), "NaN"), (np.full((4, 4, 3), np.inf, np.float32), "NaN"),
])
def test_an_image_that_is_not_an_image_is_refused(state, image, message):
    with pytest.raises(ValueError, match=message):
        state.set_image(image)
    assert state.size == (32, 40)  # the old image is kept
    with pytest.raises(ValueError, match=message):
        SegmentationState(DiskPredictor(), image)


@pytest.mark.parametrize("threshold", [None, "0.5", [0.5], True])
def test_a_threshold_of_the_wrong_type_is_refused(state, threshold):
    with pytest.raises(ValueError, match="threshold must be a probability"):
        state.threshold = threshold
    assert state.threshold == 0.5


@pytest.mark.parametrize("budget", [-1, float("nan"), float("inf"), None, "512", True])
def test_an_undo_budget_that_is_not_a_size_is_refused(budget):
    with pytest.raises(ValueError, match="undo_memory_mb must be a finite number"):
        SegmentationState(DiskPredictor(), np.zeros((8, 8, 3), np.uint8), undo_memory_mb=budget)


def test_a_zero_undo_budget_still_undoes_the_last_click():
    state = SegmentationState(DiskPredictor(radius=2), np.zeros((16, 16, 3), np.uint8), undo_memory_mb=0)
    for x in (3, 8, 12):
        state.add_click(x, 8, True)
    assert state.summary()["undo_depth"] == 1 and state.undo() and not state.undo()


@pytest.mark.parametrize("mask", [None, "mask", np.zeros((32, 40, 2, 2), np.uint8), np.zeros((40, 32), np.uint8)])
def test_a_loaded_mask_of_the_wrong_shape_or_type_is_refused(state, mask):
    with pytest.raises(ValueError, match="shape"):
        state.load_mask(mask)
    assert state.prior_mask is None


@pytest.mark.parametrize("x, y", [(None, 3), ("a", 3), (np.inf, 3), (3, -np.inf), (1e300, 3)])
def test_click_coordinates_that_are_not_pixels_are_refused(state, x, y):
    with pytest.raises(ValueError):
        state.add_click(x, y, True)
    assert state.clicks == []


# --------------------------------------------------------------------- bad io inputs (widget/io.py)
@pytest.mark.parametrize("source, error, message", [
    (None, TypeError, "path or encoded bytes"), (5, TypeError, "path or encoded bytes"),
    ([[1, 2]], TypeError, "path or encoded bytes"), (b"", ValueError, "cannot decode the 0-byte"),
    (b"GIF89a nothing", ValueError, "cannot decode"), ("/no/such/photo.png", FileNotFoundError, "does not exist"),
    (np.ones((2, 2), complex), ValueError, "dtype complex128"), (np.array([[None]]), ValueError, "dtype object"),
    (np.full((2, 2), np.nan), ValueError, "NaN"),
])
def test_bad_input_widget_image_sources(source, error, message):
    from ritm_lite.widget import load_image

    with pytest.raises(error, match=message):
        load_image(source)


@pytest.mark.parametrize("size", [(4,), (-4, 4), (0, 4), (4.0, 4), None, "4x4"])
def test_bad_input_widget_mask_image_size(size):
    from ritm_lite.widget import load_mask

    with pytest.raises(ValueError, match="image_size must be"):
        load_mask(np.ones((4, 4), bool), size)


@pytest.mark.parametrize("labels, message", [
    (np.full((3, 3), 1.5), "integer array"), (np.ones((3, 3, 3), int), "integer array"),
    (np.ones((3, 3), bool), "integer array"), (np.zeros((0, 3), int), "non-empty"),
    (-np.ones((3, 3), int), "positive object ids"), (None, "integer array"),
])
def test_bad_input_widget_label_maps_for_coco(tmp_path, labels, message):
    from ritm_lite.widget import label_map_to_coco

    with pytest.raises(ValueError, match=message):
        label_map_to_coco(labels)
    with pytest.raises(ValueError, match=message):
        save_coco_rle_json(labels, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("coco, message", [
    ({}, "KeyError 'images'"), ({"images": []}, "IndexError"),
    ({"images": [{"height": -1, "width": 3}], "annotations": []}, "size -1x3"),
    ({"images": [{"height": "x", "width": 3}], "annotations": []}, "ValueError"), (None, "TypeError"),
])
def test_bad_input_widget_coco_dicts(coco, message):
    with pytest.raises(ValueError, match=message):
        coco_to_label_map(coco)


@pytest.mark.parametrize("path", [None, 3, ""])
def test_bad_input_widget_save_names(path):
    with pytest.raises(ValueError, match="save path"):
        result_paths(path)

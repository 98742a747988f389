"""The augmentation chain keeps image and masks aligned, and each step does what albumentations did."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ritm_lite.data.augmentation import (
    AugmentationConfig,
    augment,
    brightness_contrast,
    crop,
    hflip,
    pad_if_needed,
    resize,
    rgb_shift,
)

NO_COLOUR = {"brightness_contrast_prob": 0.0, "rgb_shift_prob": 0.0}


def coordinate_image(height: int = 150, width: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """An image whose R = row and G = column, and an int32 label map ``row * 1000 + col + 1``."""
    rows, cols = np.mgrid[:height, :width]
    image = np.stack([rows, cols, np.full_like(rows, 77)], axis=2).astype(np.uint8)
    labels = (rows * 1000 + cols + 1).astype(np.int32)[:, :, None]
    return image, labels


def decode(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inside = labels[:, :, 0] > 0
    code = labels[:, :, 0] - 1
    return inside, code // 1000, code % 1000


@pytest.mark.parametrize("crop_size", [(96, 128), (320, 480)])
def test_geometry_keeps_image_and_masks_aligned_exactly(crop_size):
    image, labels = coordinate_image()
    config = dataclasses.replace(AugmentationConfig.train(crop_size), scale_range=None, **NO_COLOUR)
    for seed in range(20):
        out_image, out_labels = augment(image, labels, config, np.random.default_rng(seed))
        assert out_image.shape == (*crop_size, 3) and out_labels.shape == (*crop_size, 1)
        inside, rows, cols = decode(out_labels)
        assert inside.any()
        np.testing.assert_array_equal(out_image[inside][:, 0], rows[inside])
        np.testing.assert_array_equal(out_image[inside][:, 1], cols[inside])
        assert np.all(out_image[~inside] == 0)  # padding is zero in both


def test_resize_keeps_alignment_within_a_pixel():
    image, labels = coordinate_image()
    config = dataclasses.replace(AugmentationConfig.train((96, 128)), **NO_COLOUR)
    for seed in range(20):
        out_image, out_labels = augment(image, labels, config, np.random.default_rng(seed))
        inside, rows, cols = decode(out_labels)
        # Bilinear (image) and nearest (masks) sample the source at most ~1.2 px apart.
        interior = inside & (rows > 0) & (cols > 0) & (rows < 149) & (cols < 199)
        assert np.abs(out_image[interior][:, 0].astype(int) - rows[interior]).max() <= 1.5
        assert np.abs(out_image[interior][:, 1].astype(int) - cols[interior]).max() <= 1.5


def test_resize_sizes_and_interpolation():
    image, labels = coordinate_image(100, 60)
    out_image, out_labels = resize(image, labels, 1.25)
    assert out_image.shape == (125, 75, 3) and out_labels.shape == (125, 75, 1)
    # Nearest neighbour: every label in the output exists in the input.
    assert set(np.unique(out_labels)) <= set(np.unique(labels))
    # Bilinear with centre-aligned pixels: output row i samples source row (i + 0.5) / 1.25 - 0.5.
    expected = np.clip((np.arange(125) + 0.5) / 1.25 - 0.5, 0, 99)
    assert np.abs(out_image[:, 30, 0] - expected).max() <= 1.0


def test_binary_masks_stay_binary_and_labels_preserved():
    image = np.random.default_rng(0).integers(0, 256, (120, 170, 3), dtype=np.uint8)
    masks = np.zeros((120, 170, 3), bool)
    masks[10:60, 20:90, 0] = True
    masks[50:110, 100:160, 1] = True  # channel 2 stays empty
    config = AugmentationConfig.train((96, 128))
    for seed in range(10):
        _, out = augment(image, masks, config, np.random.default_rng(seed))
        assert out.dtype == np.bool_ and out.shape == (96, 128, 3)
        assert not out[:, :, 2].any()
    labels = np.zeros((120, 170, 1), np.uint8)
    labels[10:60, 20:90] = 3
    labels[50:110, 100:160] = 200
    for seed in range(10):
        _, out = augment(image, labels, config, np.random.default_rng(seed))
        assert set(np.unique(out)) <= {0, 3, 200}


def test_hflip():
    image, labels = coordinate_image(4, 5)
    flipped, flipped_labels = hflip(image, labels)
    np.testing.assert_array_equal(flipped[:, :, 1], [[4, 3, 2, 1, 0]] * 4)
    np.testing.assert_array_equal(flipped_labels[:, 0, 0], labels[:, 4, 0])


def test_flip_happens_half_the_time():
    image, labels = coordinate_image()
    config = dataclasses.replace(AugmentationConfig.train((96, 128)), scale_range=None, **NO_COLOUR)
    flips = 0
    for seed in range(400):
        out, _ = augment(image, labels, config, np.random.default_rng(seed))
        flips += int(out[0, 1, 1]) < int(out[0, 0, 1])  # columns run backwards
    assert abs(flips / 400 - 0.5) < 0.08  # ~3 standard deviations


def test_pad_is_centred_with_zeros():
    image, labels = coordinate_image(50, 61)
    padded, padded_labels = pad_if_needed(image, labels, 96, 128)
    assert padded.shape == (96, 128, 3) and padded_labels.shape == (96, 128, 1)
    top, left = (96 - 50) // 2, (128 - 61) // 2  # 23, 33: the odd pixel goes to the end
    np.testing.assert_array_equal(padded[top : top + 50, left : left + 61], image)
    np.testing.assert_array_equal(padded_labels[top : top + 50, left : left + 61], labels)
    assert padded[:top].sum() == 0 and padded_labels[:, : left].sum() == 0
    assert padded[top + 50 :].sum() == 0 and padded_labels[:, left + 61 :].sum() == 0
    same, same_labels = pad_if_needed(image, labels, 40, 40)  # already large enough
    assert same is image and same_labels is labels


def test_val_chain_is_pad_and_crop_only():
    image, labels = coordinate_image(50, 61)
    out, out_labels = augment(image, labels, AugmentationConfig.val((96, 128)), np.random.default_rng(3))
    expected, expected_labels = pad_if_needed(image, labels, 96, 128)
    np.testing.assert_array_equal(out, expected)  # no flip, no colour, crop origin (0, 0)
    np.testing.assert_array_equal(out_labels, expected_labels)


def test_crop_window_and_random_origin_range():
    image, labels = coordinate_image(40, 50)
    cropped, cropped_labels = crop(image, labels, 5, 7, 10, 20)
    assert cropped[0, 0, 0] == 5 and cropped[0, 0, 1] == 7 and cropped.shape == (10, 20, 3)
    assert cropped_labels[0, 0, 0] == 5 * 1000 + 7 + 1
    with pytest.raises(ValueError, match="does not fit"):
        crop(image, labels, 35, 0, 10, 20)
    # RandomCrop's corner is int((H - h) * u), u in [0, 1): tops 0..H-h-1 all occur.
    config = AugmentationConfig.val((30, 50))
    tops = {int(augment(image, labels, config, np.random.default_rng(s))[0][0, 0, 0]) for s in range(300)}
    assert tops == set(range(10))


def test_brightness_contrast_formula():
    image = np.array([[[0, 100, 250]]], np.uint8)
    # alpha 1.2, beta 0.1: 1.2 x + 25.5, clipped and truncated
    np.testing.assert_array_equal(brightness_contrast(image, 1.2, 0.1), [[[25, 145, 255]]])
    np.testing.assert_array_equal(brightness_contrast(image, 0.9, -0.2), [[[0, 39, 174]]])


def test_rgb_shift_formula():
    image = np.array([[[10, 2, 255], [250, 100, 7]]], np.uint8)
    np.testing.assert_array_equal(rgb_shift(image, (5.7, -3.2, 0.0)), [[[15, 0, 255], [255, 96, 7]]])


def test_colour_steps_leave_masks_alone_and_change_the_image():
    image = np.full((96, 128, 3), 120, np.uint8)
    masks = np.zeros((96, 128, 1), bool)
    masks[20:40, 30:70] = True
    config = dataclasses.replace(AugmentationConfig.val((96, 128)), brightness_contrast_prob=1.0, rgb_shift_prob=1.0)
    out, out_masks = augment(image, masks, config, np.random.default_rng(0))
    np.testing.assert_array_equal(out_masks, masks)
    assert not np.array_equal(out, image)


def test_seeded_determinism():
    image, labels = coordinate_image()
    config = AugmentationConfig.train((96, 128))
    a = augment(image, labels, config, np.random.default_rng(42))
    b = augment(image, labels, config, np.random.default_rng(42))
    c = augment(image, labels, config, np.random.default_rng(43))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_empty_mask_stack_and_many_channels():
    image, _ = coordinate_image()
    config = AugmentationConfig.train((96, 128))
    _, out = augment(image, np.zeros((150, 200, 0), bool), config, np.random.default_rng(0))
    assert out.shape == (96, 128, 0)
    many = np.zeros((150, 200, 600), np.uint8)  # more than OpenCV's channel limit
    many[:, :, 599] = 1
    _, out = resize(image, many, 0.8)
    assert out.shape == (120, 160, 600) and out[:, :, 599].all() and not out[:, :, :599].any()


def test_bad_input():
    image, labels = coordinate_image()
    config = AugmentationConfig.train()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="uint8"):
        augment(image.astype(np.float32), labels, config, rng)
    with pytest.raises(ValueError, match="matching the image"):
        augment(image, labels[:100], config, rng)
    with pytest.raises(ValueError, match="dtype"):
        augment(image, labels.astype(np.int64), config, rng)


nan, inf = float("nan"), float("inf")


@pytest.mark.parametrize("change, message", [
    (dict(scale_range=(nan, 1.4)), "scale_range"),
    (dict(scale_range=(0.75, inf)), "scale_range"),
    (dict(scale_range=(0.0, 1.0)), "scale_range must be above 0"),
    (dict(scale_range=(1.4, 0.75)), "scale_range"),
    (dict(scale_range=(1.0, 1000.0)), "scale_range"),
    (dict(scale_range=0.5), "scale_range"),
    (dict(brightness_limit=(-0.25, nan)), "brightness_limit"),
    (dict(contrast_limit=(-inf, 0.4)), "contrast_limit"),
    (dict(contrast_limit=(-2.0, 0.4)), "contrast_limit"),
    (dict(flip_prob=nan), "flip_prob"),
    (dict(flip_prob=True), "flip_prob"),
    (dict(brightness_contrast_prob=1.5), "brightness_contrast_prob"),
    (dict(rgb_shift_prob=-0.1), "rgb_shift_prob"),
    (dict(rgb_shift_limit=nan), "rgb_shift_limit"),
    (dict(rgb_shift_limit=-1.0), "rgb_shift_limit"),
    (dict(crop_size=(0, 480)), "crop_size"),
    (dict(crop_size=(320,)), "crop_size"),
    (dict(crop_size=(320.0, 480)), "crop_size"),
    (dict(crop_size=(10**6, 10**6)), "crop_size"),
    (dict(crop_size="320x480"), "crop_size"),
])
def test_bad_input_augmentation_settings_are_refused(change, message):
    with pytest.raises(ValueError, match=f"augmentation {message}"):
        AugmentationConfig(**change)


def test_bad_input_augmentation_steps():
    image, labels = coordinate_image()
    for scale in (nan, inf, 0.0, -1.0, 1e6, 1e-9):
        with pytest.raises(ValueError, match="resiz"):
            resize(image, labels, scale)
    with pytest.raises(ValueError, match="brightness/contrast"):
        brightness_contrast(image, nan, 0.0)
    with pytest.raises(ValueError, match="rgb_shift"):
        rgb_shift(image, (0.0, inf, 0.0))
    with pytest.raises(ValueError, match="rgb_shift"):
        rgb_shift(image, (0.0, 1.0))
    with pytest.raises(ValueError, match="crop"):
        crop(image, labels, 0, 0, 0, 5)
    with pytest.raises(ValueError, match="pad sizes"):
        pad_if_needed(image, labels, 10**9, 10)
    with pytest.raises(ValueError, match="at least one pixel"):
        augment(image[:0], labels[:0], AugmentationConfig.train(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="numpy arrays"):
        augment(image.tolist(), labels, AugmentationConfig.train(), np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        augment(image, labels, AugmentationConfig.train(), 0)
    with pytest.raises(TypeError, match="config must be an AugmentationConfig"):
        augment(image, labels, None, np.random.default_rng(0))

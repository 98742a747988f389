"""Datasets: sample layout, alignment, background/min-area rules, seeding, the id split, COCO+LVIS protocol."""

from __future__ import annotations

import dataclasses
from pathlib import Path
import re

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ritm_lite.clicks import clicks_from_points
from ritm_lite.data.augmentation import AugmentationConfig
from ritm_lite.data.benchmarks import load_benchmark
from ritm_lite.data.datasets import (
    CocoLvisDataset,
    DatasetConfig,
    FolderDataset,
    InMemorySource,
    InstanceSource,
    image_id_from_name,
    split_by_image_id,
)

SMALL = DatasetConfig.train(crop_size=(64, 96), epoch_len=40)


def red_on_blue(height: int, width: int, boxes) -> tuple[np.ndarray, list[np.ndarray]]:
    """A blue image with red rectangles; one mask per rectangle."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 2] = 200
    masks = []
    for top, left, bottom, right in boxes:
        image[top:bottom, left:right] = (200, 0, 0)
        mask = np.zeros((height, width), bool)
        mask[top:bottom, left:right] = True
        masks.append(mask)
    return image, masks


def write_folder(root: Path) -> Path:
    """Two photos: id 000000000001 with two instances, id 000000000002 with one."""
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    photos = {
        "000000000001": red_on_blue(90, 120, [(10, 10, 50, 60), (55, 70, 85, 115)]),
        "000000000002": red_on_blue(80, 100, [(20, 30, 70, 90)]),
    }
    for image_id, (image, masks) in photos.items():
        for k, mask in enumerate(masks):
            stem = f"toy cat{k:02d}_{image_id}"
            cv2.imwrite(str(root / "img" / f"{stem}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100])
            cv2.imwrite(str(root / "gt" / f"{stem}.png"), mask.astype(np.uint8) * 255)
    return root


def check_sample(sample, shape=(64, 96)):
    assert sample["images"].shape == (3, *shape) and sample["images"].dtype == torch.float32
    assert 0.0 <= sample["images"].min() and sample["images"].max() <= 1.0
    assert sample["points"].shape == (48, 3) and sample["points"].dtype == torch.float32
    assert sample["instances"].shape == (1, *shape) and sample["instances"].dtype == torch.float32
    instances = sample["instances"][0].numpy()
    clicks = clicks_from_points(sample["points"])
    for click in clicks:
        value = instances[int(click.y), int(click.x)]
        assert value == 1.0 if click.is_positive else value != 1.0
    return instances, clicks


def test_image_id_from_name():
    assert image_id_from_name("baseball bat01_000000203931") == "000000203931"
    assert image_id_from_name("airplane00_000000281693.jpg") == "000000281693"
    assert image_id_from_name("245051") == "245051"  # not a COCO_MVal name: the stem itself


def test_split_by_image_id_on_real_coco_mval(coco_mval_dir):
    names = sorted(p.stem for p in (coco_mval_dir / "img").iterdir())
    assert len(names) == 800
    train, val = split_by_image_id(names, val_fraction=0.2, seed=0)
    train_ids = {image_id_from_name(n) for n in train}
    val_ids = {image_id_from_name(n) for n in val}
    assert not train_ids & val_ids
    assert sorted(train + val) == names
    assert len(train_ids | val_ids) == 722 and len(val_ids) == round(0.2 * 722)
    # A split by file would have leaked: some photos hold several instances.
    assert len(names) > len(train_ids | val_ids)
    assert split_by_image_id(names, 0.2, seed=0) == (train, val)
    assert split_by_image_id(names, 0.2, seed=1) != (train, val)
    with pytest.raises(ValueError, match="val_fraction"):
        split_by_image_id(names, 1.5)


def test_folder_dataset_groups_instances_by_photo(tmp_path):
    dataset = FolderDataset(write_folder(tmp_path), config=SMALL, seed=0)
    assert dataset.image_ids == ["000000000001", "000000000002"]
    sample = dataset.load(0)
    assert sample.image.shape == (90, 120, 3) and sample.masks.shape == (90, 120, 2)
    assert sample.masks[:, :, 0].sum() == 40 * 50 and sample.masks[:, :, 1].sum() == 30 * 45
    only_two = FolderDataset(tmp_path, names=["toy cat00_000000000002"], config=SMALL)
    assert only_two.num_images() == 1
    with pytest.raises(FileNotFoundError, match="no image and mask pair"):
        FolderDataset(tmp_path, names=["nope_000000000003"], config=SMALL)


def test_samples_are_aligned_and_clicks_consistent(tmp_path):
    # Resize, flip, pad, crop and brightness/contrast (the RGB shift would tint the black padding).
    augmentation = dataclasses.replace(AugmentationConfig.train((64, 96)), rgb_shift_prob=0.0)
    config = dataclasses.replace(SMALL, augmentation=augmentation, min_object_area=1)
    # Only the photo with a single object, so every red pixel belongs to the target.
    dataset = FolderDataset(write_folder(tmp_path), names=["toy cat00_000000000002"], config=config, seed=0)
    kernel = np.ones((5, 5), np.uint8)  # skip 2 px at edges (bilinear resize, JPEG chroma blur)
    seen_objects = 0
    for index in range(len(dataset)):
        sample = dataset[index]
        instances, _ = check_sample(sample)
        image = sample["images"].numpy()
        red, blue = image[0], image[2]
        inner_object = cv2.erode((instances == 1).astype(np.uint8), kernel, borderValue=0).astype(bool)
        inner_background = cv2.erode((instances == 0).astype(np.uint8), kernel, borderValue=0).astype(bool)
        seen_objects += inner_object.any()
        assert np.all(red[inner_object] > blue[inner_object] + 0.1)
        assert np.all(red[inner_background] <= blue[inner_background] + 1e-6)
    assert seen_objects > len(dataset) // 2


def test_ignore_band_becomes_minus_one(tmp_path):
    write_folder(tmp_path)
    gt = tmp_path / "gt" / "toy cat00_000000000002.png"
    mask = cv2.imread(str(gt), cv2.IMREAD_GRAYSCALE)
    band = cv2.dilate(mask, np.ones((5, 5), np.uint8)) - mask
    cv2.imwrite(str(gt), np.where(band > 0, 128, mask).astype(np.uint8))
    config = DatasetConfig(augmentation=None, min_object_area=1, epoch_len=-1)
    dataset = FolderDataset(tmp_path, names=["toy cat00_000000000002"], config=config, ignore_band=True, seed=0)
    instances = dataset[0]["instances"][0].numpy()
    np.testing.assert_array_equal(instances == -1, band > 0)
    np.testing.assert_array_equal(instances == 1, mask > 0)


def test_min_object_area_and_background_samples():
    image, masks = red_on_blue(120, 160, [(0, 0, 30, 30)])  # 900 px, in a corner
    source = InMemorySource([(image, masks)])
    base = DatasetConfig(augmentation=AugmentationConfig.val((64, 96)), epoch_len=60)

    too_small = CocoLvisDataset(source, dataclasses.replace(base, min_object_area=1000, keep_background_prob=1.0), seed=0)
    for index in range(20):
        instances, clicks = check_sample(too_small[index])
        assert not (instances == 1).any() and not any(c.is_positive for c in clicks)

    # keep_background_prob = 0: re-crop until the object is visible, so every sample has it.
    always = CocoLvisDataset(source, dataclasses.replace(base, min_object_area=1, keep_background_prob=0.0), seed=0)
    assert all((always[i]["instances"] == 1).any() for i in range(len(always)))
    # keep_background_prob = 1: the first crop is kept; most crops miss the corner object.
    never = CocoLvisDataset(source, dataclasses.replace(base, min_object_area=1, keep_background_prob=1.0), seed=0)
    empty = sum(not (never[i]["instances"] == 1).any() for i in range(len(never)))
    assert 0.5 * len(never) < empty < len(never)


def test_coco_lvis_dataset_over_protocol():
    items = [red_on_blue(90, 120, [(10, 10, 50, 60), (55, 70, 85, 115)]), red_on_blue(70, 110, [])]
    source = InMemorySource(items)
    assert isinstance(source, InstanceSource)
    dataset = CocoLvisDataset(source, dataclasses.replace(SMALL, min_object_area=1), seed=3)
    assert len(dataset) == 40 and dataset.num_images() == 2
    assert dataset.load(1).masks.shape == (70, 110, 0)
    for index in range(len(dataset)):
        check_sample(dataset[index])
    with pytest.raises(TypeError, match="InstanceSource"):
        CocoLvisDataset(object())
    with pytest.raises(IndexError):
        dataset[40]


def test_coco_lvis_dataset_from_a_merged_folder(tmp_path):
    """The path training takes: ``python -m ritm_lite.data.coco_lvis`` output -> dataset -> batch."""
    from ritm_lite.data.coco_lvis import merge_coco_lvis
    from ritm_lite.data.samples import SamplePaths
    from ritm_lite.utils import PROJECT_ROOT

    samples = SamplePaths.under(PROJECT_ROOT / "data" / "samples")
    merge_coco_lvis(samples.coco_json, samples.lvis_json, tmp_path / "merged",
                    images_dir=samples.images_dir, progress=False)
    config = dataclasses.replace(SMALL, min_object_area=1, epoch_len=12)
    dataset = CocoLvisDataset.from_disk(tmp_path / "merged", "train", config, seed=0)
    source = dataset.source
    assert dataset.num_images() == len(source) > 0
    for index in range(dataset.num_images()):
        stored = dataset.load(index)
        assert stored.masks.shape[:2] == stored.image.shape[:2]
        assert [int(m.sum()) for m in np.moveaxis(stored.masks, 2, 0)] == source.object_areas(index)
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch["images"].shape == (4, 3, 64, 96)
    for k in range(4):
        check_sample({key: value[k] for key, value in batch.items()})
    with pytest.raises(FileNotFoundError, match="val"):
        CocoLvisDataset.from_disk(tmp_path / "merged", "val", config)


def test_epoch_len_draws_images_at_random():
    items = [red_on_blue(64, 96, [(5 + 5 * k, 5, 30 + 5 * k, 40)]) for k in range(4)]
    config = DatasetConfig(augmentation=None, min_object_area=1, epoch_len=50)
    dataset = CocoLvisDataset(InMemorySource(items), config, seed=0)
    tops = [int(np.argwhere(dataset[i]["instances"][0].numpy() == 1)[:, 0].min()) for i in range(50)]
    assert set(tops) == {5, 10, 15, 20}  # every image drawn
    in_order = CocoLvisDataset(InMemorySource(items), dataclasses.replace(config, epoch_len=-1), seed=0)
    assert len(in_order) == 4
    assert [int(np.argwhere(in_order[i]["instances"][0].numpy() == 1)[:, 0].min()) for i in range(4)] == [5, 10, 15, 20]


def test_seeding_is_per_sample_not_per_worker(tmp_path):
    dataset = FolderDataset(write_folder(tmp_path), config=SMALL, seed=123)
    first = [dataset[i] for i in range(3)]
    again = FolderDataset(tmp_path, config=SMALL, seed=123)[1]
    assert all(torch.equal(first[1][k], again[k]) for k in first[1])
    assert not torch.equal(first[0]["images"], first[1]["images"])  # different items differ
    dataset.set_epoch(1)
    assert not torch.equal(dataset[0]["images"], first[0]["images"])  # and epochs differ
    dataset.set_epoch(0)

    batches_main = list(DataLoader(dataset, batch_size=4, num_workers=0))
    batches_workers = list(DataLoader(dataset, batch_size=4, num_workers=2))
    assert len(batches_main) == len(batches_workers) == 10
    for a, b in zip(batches_main, batches_workers):
        for key in ("images", "points", "instances"):
            assert torch.equal(a[key], b[key])


def test_real_coco_mval_samples(coco_mval_dir):
    names = sorted(p.stem for p in (coco_mval_dir / "img").iterdir())
    train, _ = split_by_image_id(names, 0.2, seed=0)
    dataset = FolderDataset(coco_mval_dir, names=train[:40], config=DatasetConfig.train(epoch_len=6), seed=0)
    for index in range(len(dataset)):
        instances, _ = check_sample(dataset[index], shape=(320, 480))
        assert set(np.unique(instances)) <= {0.0, 1.0}


@pytest.mark.slow
def test_a_batch_trains_the_model():
    """The batch layout is what the model and the losses take: one optimisation step runs."""
    from ritm_lite import build_model
    from ritm_lite.losses import normalized_focal_loss, sigmoid_binary_cross_entropy

    items = [red_on_blue(90, 120, [(10, 10, 50, 60), (55, 70, 85, 115)])]
    dataset = CocoLvisDataset(InMemorySource(items), dataclasses.replace(SMALL, min_object_area=1), seed=0)
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    torch.manual_seed(0)
    model = build_model("hrnet18s").train()
    images = torch.cat([batch["images"], torch.zeros_like(batch["images"][:, :1])], dim=1)
    output = model(images, batch["points"])
    loss = normalized_focal_loss(output["instances"], batch["instances"]).mean()
    loss = loss + 0.4 * sigmoid_binary_cross_entropy(output["instances_aux"], batch["instances"]).mean()
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the clicks reach the network: the click branch (Conv1S) gets a gradient
    assert sum(p.grad.abs().sum() for p in model.maps_transform.parameters()) > 0


def test_in_memory_source_checks_its_photos():
    image, masks = red_on_blue(40, 60, [(5, 5, 20, 30)])
    source = InMemorySource([(image, masks), (image, [])])
    assert len(source) == 2 and source.object_areas(0) == [375] and source.load_masks(1) == []
    with pytest.raises(ValueError, match="photo 0: image"):
        InMemorySource([(image.astype(np.float32), masks)])
    with pytest.raises(ValueError, match="photo 1: masks"):
        InMemorySource([(image, masks), (image, [masks[0][:30]])])
    with pytest.raises(ValueError, match="photo 0: masks"):
        InMemorySource([(image, [masks[0].astype(np.uint8)])])


# ------------------------------------------------- the one image reader (ritm_lite/data/files.py)
def _cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999])
def test_bad_input_truncated_jpeg_is_an_error_in_training_benchmarks_and_the_widget(tmp_path, keep):
    """``cv2.imread`` returns a cut-off JPEG with the missing part grey; every reader must refuse it."""
    from ritm_lite.data.benchmarks import load_benchmark
    from ritm_lite.data.files import read_rgb
    from ritm_lite.widget.io import load_image

    root = write_folder(tmp_path / "set")
    victim = root / "img" / "toy cat00_000000000001.jpg"
    _cut(victim, keep)
    assert cv2.imread(str(victim)) is not None  # the trap: OpenCV's imread "loads" it
    for read in (read_rgb, load_image, lambda p: load_image(p.read_bytes())):
        with pytest.raises(ValueError, match="cannot decode .*truncated"):
            read(victim)
    dataset = FolderDataset(root, config=dataclasses.replace(SMALL, epoch_len=200), seed=0)
    with pytest.raises(ValueError, match="toy cat00_000000000001.jpg"):
        for i in range(200):
            dataset[i]
    (tmp_path / "grabcut" / "data_GT").mkdir(parents=True)
    (tmp_path / "grabcut" / "data_GT" / "a.jpg").write_bytes(victim.read_bytes())
    (tmp_path / "grabcut" / "boundary_GT").mkdir()
    cv2.imwrite(str(tmp_path / "grabcut" / "boundary_GT" / "a.bmp"), np.full((90, 120), 255, np.uint8))
    with pytest.raises(ValueError, match="a.jpg"):
        load_benchmark("GrabCut", tmp_path / "grabcut")[0]


def test_bad_input_truncated_mask_or_palette_png_is_an_error(tmp_path):
    from PIL import Image

    from ritm_lite.data.benchmarks import read_palette_png
    from ritm_lite.data.masks import read_mask

    mask = np.zeros((64, 64), np.uint8)
    mask[8:40, 8:50] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    _cut(tmp_path / "mask.png", 0.7)
    with pytest.raises(ValueError, match="mask.png"):
        read_mask(tmp_path / "mask.png")
    Image.fromarray(np.arange(64 * 64).reshape(64, 64).astype(np.uint8) % 7, mode="P").save(tmp_path / "voc.png")
    _cut(tmp_path / "voc.png", 0.6)
    with pytest.raises(ValueError, match="cannot decode .*voc.png"):
        read_palette_png(tmp_path / "voc.png")
    with pytest.raises(FileNotFoundError):
        read_mask(tmp_path / "missing.png")


def test_a_16_bit_png_is_scaled_by_its_stated_bit_depth_everywhere(tmp_path):
    """12-bit data in a 16-bit PNG with ``sBIT`` = 12: v * 255 / 4095 in training and in the widget."""
    from image_support import png_with_sbit

    from ritm_lite.data.files import read_rgb
    from ritm_lite.widget.io import load_image

    twelve = np.random.default_rng(0).integers(0, 4096, (30, 40, 3)).astype(np.uint16)
    path = tmp_path / "twelve.png"
    path.write_bytes(png_with_sbit(twelve, 12))
    expected = np.round(twelve * (255 / 4095)).astype(np.uint8)
    np.testing.assert_array_equal(read_rgb(path), expected)
    np.testing.assert_array_equal(load_image(path), expected)
    np.testing.assert_array_equal(load_image(path.read_bytes()), expected)
    grey = tmp_path / "grey.png"
    grey.write_bytes(png_with_sbit(twelve[:, :, 0], 12))
    np.testing.assert_array_equal(read_rgb(grey), np.repeat(expected[:, :, :1], 3, axis=2))


def test_bad_input_16_bit_file_that_does_not_state_its_depth_is_refused_everywhere(tmp_path):
    from image_support import png_with_sbit

    from ritm_lite.data.files import read_rgb
    from ritm_lite.widget.io import load_image

    twelve = np.random.default_rng(0).integers(0, 4096, (30, 40)).astype(np.uint16)
    for suffix in (".png", ".tif"):
        path = tmp_path / f"plain{suffix}"
        cv2.imwrite(str(path), twelve)
        for read in (read_rgb, load_image):
            with pytest.raises(ValueError, match=f"plain{suffix} is a 16-bit image that does not state its real bit depth"):
                read(path)
    lying = tmp_path / "lying.png"
    lying.write_bytes(png_with_sbit(twelve, 8))
    with pytest.raises(ValueError, match="states 8 significant bits .* values up to"):
        read_rgb(lying)
    cv2.imwrite(str(tmp_path / "float.tif"), twelve.astype(np.float32))
    with pytest.raises(ValueError, match="float.tif"):  # refused, whether at decoding or by depth
        read_rgb(tmp_path / "float.tif")


def test_the_reader_gives_opencvs_pixels_for_8_bit_files(tmp_path):
    """8-bit files read as ``cv2.imread(path, IMREAD_COLOR)`` read them (grey and RGBA included)."""
    from ritm_lite.data.files import read_rgb

    rng = np.random.default_rng(1)
    for name, image in [("photo.jpg", rng.integers(0, 256, (20, 30, 3))), ("grey.png", rng.integers(0, 256, (20, 30))),
                        ("rgba.png", rng.integers(0, 256, (20, 30, 4))), ("photo.bmp", rng.integers(0, 256, (20, 30, 3)))]:
        cv2.imwrite(str(tmp_path / name), image.astype(np.uint8))
        np.testing.assert_array_equal(read_rgb(tmp_path / name),
                                      cv2.cvtColor(cv2.imread(str(tmp_path / name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))


@pytest.mark.parametrize("source, error, message", [
    (b"", ValueError, "cannot decode the 0-byte image"),
    (b"not an image at all", ValueError, "cannot decode"),
    (None, TypeError, "path or encoded bytes"),
    (12, TypeError, "path or encoded bytes"),
    ("/no/such/photo.jpg", FileNotFoundError, "does not exist"),
])
def test_bad_input_image_reader(source, error, message):
    from ritm_lite.data.files import read_rgb

    with pytest.raises(error, match=message):
        read_rgb(source)


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`): training folders read masks by the benchmark readers'
# rule (:mod:`ritm_lite.data.masks`); an empty, misshapen or orphaned mask is an error naming its
# file.


def _folder(root: Path, masks: dict[str, np.ndarray], size=(40, 48)) -> Path:
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        image_id = name.split("_")[-1]
        image_path = root / "img" / f"{name}.png"
        cv2.imwrite(str(image_path), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "gt" / f"{name}.png"), mask)
        assert image_id
    return root


def _square(value: int, size=(40, 48)) -> np.ndarray:
    mask = np.zeros(size, np.uint8)
    mask[5:30, 8:40] = value
    return mask


def test_bad_input_training_folders_read_0_1_label_maps_as_objects(tmp_path):
    config = DatasetConfig(augmentation=None, min_object_area=1, epoch_len=-1)
    grey = FolderDataset(_folder(tmp_path / "grey", {"a_000000000001": _square(255)}), config=config, seed=0)
    labels = FolderDataset(_folder(tmp_path / "labels", {"a_000000000001": _square(1)}), config=config, seed=0)
    objects = labels.load(0).masks
    assert objects.sum() == 25 * 32
    np.testing.assert_array_equal(objects, grey.load(0).masks)


def test_bad_input_training_folders_refuse_empty_masks_when_made(tmp_path):
    data = _folder(tmp_path, {"a_000000000001": _square(255), "b_000000000002": _square(0)})
    with pytest.raises(ValueError, match=r"b_000000000002\.png.*no object pixel"):
        FolderDataset(data, config=DatasetConfig(augmentation=None), seed=0)


def test_bad_input_training_folders_refuse_a_mask_of_another_size(tmp_path):
    data = _folder(tmp_path, {"a_000000000001": _square(255)})
    cv2.imwrite(str(data / "gt" / "a_000000000001.png"), _square(255, size=(20, 48)))
    with pytest.raises(ValueError, match=r"a_000000000001\.png is 48x20 but its image"):
        FolderDataset(data, config=DatasetConfig(augmentation=None), seed=0)  # before any training


def test_bad_input_a_mask_without_an_image_is_an_error_not_skipped(tmp_path):
    data = _folder(tmp_path, {"a_000000000001": _square(255)})
    cv2.imwrite(str(data / "gt" / "lonely_000000000009.png"), _square(255))
    with pytest.raises(FileNotFoundError, match="lonely_000000000009.png"):
        FolderDataset(data, config=DatasetConfig(augmentation=None), seed=0)
    with pytest.raises(FileNotFoundError, match="lonely_000000000009.png"):
        load_benchmark("COCO_MVal", data)


# ------------------------------------------------------------------------------------------------
# Bad input (`python -m pytest -k bad_input`): DatasetConfig and InMemorySource refuse bad values by name.


@pytest.mark.parametrize("change, message", [
    ({"min_object_area": float("nan")}, "min_object_area must be an integer"),
    ({"min_object_area": -1}, "min_object_area must be an integer"),
    ({"max_augment_tries": 10**9}, "max_augment_tries must be an integer in [1, 10000]"),
    ({"max_augment_tries": 0}, "max_augment_tries must be an integer in [1, 10000]"),
])
def test_bad_input_dataset_config_values_are_refused_by_name(change, message):
    from ritm_lite.data.datasets import DatasetConfig

    with pytest.raises(ValueError, match=re.escape(message)):
        DatasetConfig(**change)


def test_bad_input_in_memory_source_refuses_no_photos_and_non_arrays():
    from ritm_lite.data.datasets import InMemorySource

    with pytest.raises(ValueError, match="at least one photo"):
        InMemorySource([])
    with pytest.raises(ValueError, match="NumPy arrays"):
        InMemorySource([([[0, 0, 0]], [])])

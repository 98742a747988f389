"""DUTS-TR as training data: its reader and holdout, mixing several sources, the training CLI's --data list."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ritm_lite import train
from ritm_lite.data.datasets import CocoLvisDataset, DatasetConfig, InMemorySource, MixedDataset
from ritm_lite.data.benchmarks import load_benchmark
from ritm_lite.data.duts import IMAGES_DIR, MASKS_DIR, duts_tr, duts_tr_split, is_duts_tr
from ritm_lite.training.config import get_preset

SMALL = DatasetConfig.train(crop_size=(48, 48), epoch_len=200)


def write_duts(root: Path, count: int = 12) -> Path:
    """A DUTS-TR-like folder: photos named like ImageNet's (``n<synset>_<k>``) whose trailing
    numbers repeat across synsets, each with a soft-edged 0-255 mask of its own size."""
    (root / IMAGES_DIR).mkdir(parents=True)
    (root / MASKS_DIR).mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        height, width = 60 + 4 * i, 80 - 2 * i
        image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        mask = np.zeros((height, width), np.uint8)
        mask[10:height - 10, 12:width - 12] = 255
        mask = cv2.GaussianBlur(mask, (5, 5), 0)  # anti-aliased edges, as DUTS-TR's
        stem = f"n0{i % 3}_{i // 3}"  # n00_0, n01_0, n02_0, n00_1, ...: "_0" in three photos
        cv2.imwrite(str(root / IMAGES_DIR / f"{stem}.jpg"), image)
        cv2.imwrite(str(root / MASKS_DIR / f"{stem}.png"), mask)
    return root


def test_every_mask_is_its_own_photo_even_where_names_look_like_coco_ids(tmp_path):
    root = write_duts(tmp_path / "DUTS-TR")
    names = sorted(p.stem for p in (root / MASKS_DIR).iterdir())
    dataset = duts_tr(root, names, SMALL, seed=0)
    assert dataset.num_images() == 12  # not grouped by the trailing number
    for index in range(dataset.num_images()):
        sample = dataset.load(index)  # a size mismatch would raise here
        assert sample.masks.shape == (*sample.image.shape[:2], 1)
        assert sample.masks.any()


def test_the_holdout_is_fixed_disjoint_and_left_out_of_training(tmp_path):
    root = write_duts(tmp_path / "DUTS-TR")
    train_names, holdout = duts_tr_split(root, holdout=4)
    assert len(holdout) == 4 and len(train_names) == 8
    assert not set(train_names) & set(holdout)
    assert duts_tr_split(root, holdout=4) == (train_names, holdout)  # the same every time
    assert duts_tr_split(root, holdout=4, seed=1)[1] != holdout
    benchmark = load_benchmark("DUTS-TR-holdout", root, holdout=4)
    assert benchmark.name == "DUTS-TR-holdout" and sorted(benchmark.names) == holdout
    sample = benchmark[0]
    assert set(np.unique(sample.gt_mask)) == {0, 1}


def test_bad_folders_and_holdouts_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="DUTS-TR-Image"):
        duts_tr_split(tmp_path)
    root = write_duts(tmp_path / "DUTS-TR", count=3)
    assert is_duts_tr(root) and not is_duts_tr(tmp_path)
    for holdout in (-1, 3, 10):
        with pytest.raises(ValueError, match="holdout"):
            duts_tr_split(root, holdout=holdout)


def boxes_source(count: int, value: int) -> InMemorySource:
    """``count`` photos of constant colour ``value`` with one square object each."""
    items = []
    for _ in range(count):
        image = np.full((64, 64, 3), value, np.uint8)
        mask = np.zeros((64, 64), bool)
        mask[16:48, 16:48] = True
        items.append((image, [mask]))
    return InMemorySource(items)


def test_mixed_dataset_draws_sources_in_proportion():
    first = CocoLvisDataset(boxes_source(2, 50), SMALL, seed=0)
    second = CocoLvisDataset(boxes_source(5, 200), SMALL, seed=0)
    mixed = MixedDataset([first, second], [3, 1], SMALL, seed=0)
    assert mixed.num_images() == 7
    rng = np.random.default_rng(0)
    picks = np.array([mixed.pick_image(rng) for _ in range(4000)])
    share_first = np.mean(picks < 2)
    assert abs(share_first - 0.75) < 0.03  # 3:1, although the first source has fewer photos
    assert set(picks[picks >= 2]) == {2, 3, 4, 5, 6}  # every photo of a source can be drawn
    assert mixed.load(1).image[0, 0, 0] == 50 and mixed.load(2).image[0, 0, 0] == 200
    with pytest.raises(IndexError):
        mixed.load(7)
    sample = mixed[0]
    assert sample["images"].shape == (3, 48, 48)
    # a weight of zero never draws its source
    only_second = MixedDataset([first, second], [0, 1], SMALL, seed=0)
    assert all(only_second.pick_image(rng) >= 2 for _ in range(200))


@pytest.mark.parametrize("weights", [[1], [1, -1], [0, 0], [1, float("nan")]])
def test_mixed_dataset_refuses_bad_weights(weights):
    sources = [CocoLvisDataset(boxes_source(1, 0), SMALL), CocoLvisDataset(boxes_source(1, 9), SMALL)]
    with pytest.raises(ValueError, match="weight"):
        MixedDataset(sources, weights, SMALL)


def test_build_datasets_refuses_a_folder_smaller_than_the_holdout_and_odd_weights(tmp_path):
    root = write_duts(tmp_path / "DUTS-TR", count=10)
    config = get_preset("efficientnet_lite0_cpu").replace(crop_size=(48, 48), epoch_len=16, val_epoch_len=8)
    with pytest.raises(ValueError, match="holdout must be in"):
        train.build_datasets(root, config)  # 10 photos cannot keep 500 aside
    with pytest.raises(ValueError, match="2 data folders"):
        train.build_datasets([root, root], config, weights=[1.0])


def test_build_datasets_on_a_full_size_holdout(tmp_path, monkeypatch):
    import ritm_lite.data.duts as duts

    monkeypatch.setattr(duts, "HOLDOUT_SIZE", 3)
    root = write_duts(tmp_path / "DUTS-TR", count=10)
    config = get_preset("efficientnet_lite0_cpu").replace(crop_size=(48, 48), epoch_len=16, val_epoch_len=8)
    train_set, val_set = train.build_datasets(root, config)
    assert train_set.num_images() == 7 and val_set.num_images() == 3
    mixed_train, mixed_val = train.build_datasets([root, root], config, weights=[3, 1])
    assert isinstance(mixed_train, MixedDataset) and mixed_train.num_images() == 14
    assert isinstance(mixed_val, MixedDataset) and mixed_val.num_images() == 6
    assert list(mixed_train.weights) == [0.75, 0.25]
    assert mixed_train[0]["images"].shape == (3, 48, 48)


def test_a_bad_training_folder_is_refused_when_the_dataset_is_made_naming_the_file(tmp_path):
    from ritm_lite.data.datasets import FolderDataset

    root = write_duts(tmp_path / "DUTS-TR", count=4)
    FolderDataset(root, images_dir=IMAGES_DIR, masks_dir=MASKS_DIR, image_id=str)  # a good folder
    # a mask of another size than its photo
    mask = cv2.imread(str(root / MASKS_DIR / "n01_0.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(root / MASKS_DIR / "n01_0.png"), mask[:, :-3])
    with pytest.raises(ValueError, match=r"n01_0\.png is .* but its image .*n01_0\.jpg"):
        FolderDataset(root, images_dir=IMAGES_DIR, masks_dir=MASKS_DIR, image_id=str)
    cv2.imwrite(str(root / MASKS_DIR / "n01_0.png"), mask)
    # an empty mask
    cv2.imwrite(str(root / MASKS_DIR / "n02_0.png"), np.zeros_like(mask))
    with pytest.raises(ValueError, match=r"n02_0\.png"):
        FolderDataset(root, images_dir=IMAGES_DIR, masks_dir=MASKS_DIR, image_id=str)
    cv2.imwrite(str(root / MASKS_DIR / "n02_0.png"), mask)
    # a photo that is not an image
    (root / IMAGES_DIR / "n00_1.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"cannot read image .*n00_1\.jpg"):
        FolderDataset(root, images_dir=IMAGES_DIR, masks_dir=MASKS_DIR, image_id=str)
    # a mask without its photo
    (root / IMAGES_DIR / "n00_1.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"n00_1\.png"):
        FolderDataset(root, images_dir=IMAGES_DIR, masks_dir=MASKS_DIR, image_id=str)


def test_a_photo_turned_by_its_exif_orientation_is_compared_as_shown(tmp_path):
    from PIL import Image

    from ritm_lite.data.datasets import FolderDataset

    (tmp_path / "img").mkdir()
    (tmp_path / "gt").mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 80 wide x 40 high, shown turned a quarter: 40 x 80
    Image.new("RGB", (80, 40), (200, 10, 10)).save(tmp_path / "img" / "phone.jpg", exif=exif)
    mask = np.zeros((80, 40), np.uint8)  # as shown: 80 high, 40 wide
    mask[20:60, 10:30] = 255
    cv2.imwrite(str(tmp_path / "gt" / "phone.png"), mask)
    dataset = FolderDataset(tmp_path, image_id=str)
    assert dataset.load(0).image.shape == (80, 40, 3)  # OpenCV applies the rotation too


def test_the_holdout_is_found_in_the_duts_tr_folder(tmp_path, monkeypatch, capsys):
    from ritm_lite.data import locate

    write_duts(tmp_path / "DUTS-TR", count=4)
    monkeypatch.setenv(locate.DATA_ENV, str(tmp_path))
    assert locate.benchmark_folder("DUTS-TR-holdout") == tmp_path / "DUTS-TR"
    assert "DUTS-TR-holdout, 4 photos, from" in capsys.readouterr().out


def test_holdout_folder_copies_holdout_photos_only_into_a_fine_tuning_folder(tmp_path):
    from ritm_lite.data.datasets import image_id_from_name
    from ritm_lite.data.duts import holdout_folder
    from ritm_lite.training.fine_tune import check_folder

    root = write_duts(tmp_path / "DUTS-TR")
    train_names, holdout = duts_tr_split(root, holdout=4)
    out = holdout_folder(root, tmp_path / "mine", count=3, holdout=4)
    stems = sorted(p.stem for p in (out / "gt").iterdir())
    assert stems == sorted(n.replace("_", "-") for n in holdout[:3])  # n00_0 -> n00-0: no COCO-style name
    assert not {s.replace("-", "_") for s in stems} & set(train_names)
    assert sorted(p.stem for p in (out / "img").iterdir()) == stems
    assert len(check_folder(out)) == 3  # the fine-tuning layout, every file readable
    assert len({image_id_from_name(s) for s in stems}) == 3  # each its own photo
    assert holdout_folder(root, out, count=3, holdout=4) == out  # again: the files are kept
    for count in (0, 5):
        with pytest.raises(ValueError, match="count must be in"):
            holdout_folder(root, tmp_path / "other", count=count, holdout=4)
    with pytest.raises(FileNotFoundError, match="is not DUTS-TR"):
        holdout_folder(tmp_path / "mine", tmp_path / "other", count=1, holdout=1)

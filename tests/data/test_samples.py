"""The committed samples under data/samples/ are exactly what the generator writes.

Regenerating must give the same JSON bytes and the same pixels (PNG is lossless; the
encoder's bytes may differ between OpenCV builds, the pixels may not), so the samples can
never drift from the code that documents them. The merge on them meets every case of its
rule, for any seed.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from ritm_lite.data.coco_lvis import MergedCocoLvis, merge_coco_lvis
from ritm_lite.data.samples import HEIGHT, WIDTH, SamplePaths, make_sample_data
from ritm_lite.utils import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "data" / "samples"


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_same_content(a: Path, b: Path) -> None:
    assert files_under(a) == files_under(b)
    for rel in files_under(a):
        if rel.endswith(".png"):
            pa = cv2.imread(str(a / rel), cv2.IMREAD_UNCHANGED)
            pb = cv2.imread(str(b / rel), cv2.IMREAD_UNCHANGED)
            assert pa is not None and pa.dtype == pb.dtype and np.array_equal(pa, pb), rel
        else:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_committed_samples_match_a_fresh_generation(tmp_path):
    assert COMMITTED.is_dir(), "data/samples is missing: python -m ritm_lite.data.samples"
    make_sample_data(tmp_path / "fresh", seed=0)
    assert_same_content(COMMITTED, tmp_path / "fresh")
    total = sum((COMMITTED / rel).stat().st_size for rel in files_under(COMMITTED))
    assert total < 100_000  # a few tens of KB


def test_seed_controls_the_pixels(tmp_path):
    a = make_sample_data(tmp_path / "a", seed=1)
    b = make_sample_data(tmp_path / "b", seed=1)
    assert_same_content(a.root, b.root)
    c = make_sample_data(tmp_path / "c", seed=2)
    name = "train2017/000000000001.png"
    assert not np.array_equal(cv2.imread(str(a.images_dir / name)),
                              cv2.imread(str(c.images_dir / name)))


def test_folder_layout_pairs_images_and_masks():
    paths = SamplePaths.under(COMMITTED)
    images = sorted((paths.folder_dir / "img").glob("*.png"))
    assert len(images) >= 8
    for image_path in images:
        assert re.fullmatch(r"[a-z]+\d\d_\d{12}", image_path.stem)
        gt = cv2.imread(str(paths.folder_dir / "gt" / image_path.name), cv2.IMREAD_UNCHANGED)
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        assert gt.shape == (HEIGHT, WIDTH) and image.shape == (HEIGHT, WIDTH, 3)
        assert set(np.unique(gt)) == {0, 255} and (gt > 0).sum() > 400
        # the object is painted in one flat colour: the mask selects exactly one colour
        assert len(np.unique(image[gt > 0].reshape(-1, 3), axis=0)) == 1


@pytest.mark.parametrize("seed", [0, 3])
def test_merge_on_samples_meets_every_case(tmp_path, seed):
    paths = SamplePaths.under(COMMITTED) if seed == 0 else make_sample_data(tmp_path / "s", seed)
    summary = merge_coco_lvis(paths.coco_json, paths.lvis_json, tmp_path / "merged",
                              images_dir=paths.images_dir, progress=False)
    assert summary["images"] == {"written": 4, "lvis": 4, "coco": 4, "matched": 3, "lvis_only": 1,
                                 "coco_only_skipped": 1, "coco_only_kept": 0, "without_objects": 0}
    assert summary["coco_masks"] == {"total": 7, "crowd_skipped": 1, "dropped_small": 1,
                                     "replaced_by_lvis": 2, "kept": 3, "in_skipped_images": 2}
    assert summary["lvis_masks"] == {"total": 8, "dropped_small": 1, "removed_duplicates": 1,
                                     "kept": 6}
    ds = MergedCocoLvis(tmp_path / "merged", "train")
    for i in range(len(ds)):
        image, masks = ds.load_image(i), ds.load_masks(i)
        assert image.shape == (HEIGHT, WIDTH, 3) and len(masks) == len(ds.object_areas(i))


@pytest.mark.parametrize("seed", [-1, "0", 1.5, None, True])
def test_bad_input_sample_seed_is_refused(tmp_path, seed):
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_sample_data(tmp_path / "out", seed=seed)
    assert not (tmp_path / "out").exists()


def test_bad_input_sample_paths_and_flags(tmp_path, capsys):
    from cli_support import run_main

    from ritm_lite.data.samples import main

    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        make_sample_data(tmp_path / "file")
    for flags, message in [(["--seed", "-3"], "--seed must be 0 or more"), (["--seed", "x"], "invalid int value"),
                           (["--out", str(tmp_path / "file")], "--out must be a folder")]:
        code, err = run_main(main, flags, capsys)
        assert code == 2 and message in err and "Traceback" not in err

"""The perceptual-hash check that no benchmark photo is among the training photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ritm_lite.data.overlap import dhash, find_overlaps, image_files, main


def photo(seed: int, height: int = 240, width: int = 320) -> np.ndarray:
    """A smooth random RGB 'photo' (blurred noise: structure at several scales, as photos have)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height // 8, width // 8, 3)).astype(np.float32)
    return (cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def write(path: Path, rgb: np.ndarray, quality: int = 95) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return path


def test_dhash_is_the_sign_of_horizontal_differences():
    ramp = np.tile(np.arange(0, 255, 15, dtype=np.uint8), (17, 1))  # grey rising to the right
    assert dhash(ramp, size=4).all()
    assert not dhash(ramp[:, ::-1].copy(), size=4).any()
    assert dhash(photo(0)).shape == (256,)
    with pytest.raises(ValueError, match="image"):
        dhash(np.zeros((0, 5, 3), np.uint8))


def test_a_resized_recompressed_or_mirrored_copy_is_found_and_other_photos_are_not(tmp_path):
    train = [write(tmp_path / "train" / f"{k}.jpg", photo(k)) for k in range(20)]
    copy = cv2.resize(photo(7), (200, 150), interpolation=cv2.INTER_AREA)
    test = [write(tmp_path / "test" / "copy.jpg", copy, quality=60),
            write(tmp_path / "test" / "mirror.jpg", photo(3)[:, ::-1]),
            write(tmp_path / "test" / "other.jpg", photo(99))]
    matches = find_overlaps(train, test, progress=False)
    found = {(m.test.name, m.train.name, m.mirrored) for m in matches}
    assert ("copy.jpg", "7.jpg", False) in found
    assert ("mirror.jpg", "3.jpg", True) in found
    assert not any(m.test.name == "other.jpg" for m in matches)
    assert all(m.distance <= 24 for m in matches)
    with pytest.raises(ValueError, match="max_distance"):
        find_overlaps(train, test, max_distance=200, progress=False)


def test_the_command_line_exit_status_says_whether_a_photo_overlaps(tmp_path, capsys):
    for k in range(5):
        write(tmp_path / "train" / f"{k}.jpg", photo(k))
    write(tmp_path / "GrabCut" / "data_GT" / "a.jpg", photo(50))
    (tmp_path / "GrabCut" / "boundary_GT").mkdir()
    cv2.imwrite(str(tmp_path / "GrabCut" / "boundary_GT" / "a.bmp"), np.zeros((8, 8), np.uint8))
    assert [p.name for p in image_files(tmp_path / "GrabCut")] == ["a.jpg"]  # its photos, not its masks
    assert main(["--train", str(tmp_path / "train"), "--against", str(tmp_path / "GrabCut"), "--no-progress"]) == 0
    assert "0 within 24 bits" in capsys.readouterr().out
    write(tmp_path / "GrabCut" / "data_GT" / "b.jpg", photo(2))
    assert main(["--train", str(tmp_path / "train"), "--against", str(tmp_path / "GrabCut"), "--no-progress"]) == 1
    assert "b.jpg" in capsys.readouterr().out
    assert main(["--train", str(tmp_path / "nowhere"), "--against", str(tmp_path / "GrabCut")]) == 2
    assert "not a folder" in capsys.readouterr().err

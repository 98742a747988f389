"""Official checkpoints by name: downloaded for real from a local HTTP server on 127.0.0.1.

The server serves the fixture's official-format HRNet-W18-small file under the registry's
file name; every failure mode ends in a clear error and leaves nothing in the cache that
looks complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys

import pytest
import torch
from tests.data.test_download import Server

import ritm_lite
from ritm_lite.clicks import Click, points_tensor
from ritm_lite.data.download import DownloadError
from ritm_lite.weights import registry
from ritm_lite.weights.registry import OFFICIAL_CHECKPOINTS, download, is_cached, verify

NAME = "coco_lvis_h18s_itermask"


@pytest.fixture
def official_bytes(reference_dir) -> bytes:
    return (reference_dir / "ritm_hrnet18s_official_format.pth").read_bytes()


@pytest.fixture
def mirrors(monkeypatch, official_bytes):
    """Two mirrors for the h18s entry: ``servers[0]`` first, ``servers[1]`` second."""
    servers = [Server(), Server()]
    for s in servers:
        s.files[f"{NAME}.pth"] = official_bytes
    spec = OFFICIAL_CHECKPOINTS[NAME]
    urls = tuple(f"{s.url}/{NAME}.pth" for s in servers)
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, NAME, dataclasses.replace(spec, urls=urls))
    yield servers
    for s in servers:
        s.close()


def leftovers(cache) -> list[str]:
    """Files in the cache that look like a complete checkpoint."""
    return sorted(p.name for p in cache.iterdir() if p.suffix == ".pth")


def test_registry_lists_the_five_checkpoints_with_the_fork_first():
    assert set(OFFICIAL_CHECKPOINTS) == {"coco_lvis_h18s_itermask", "coco_lvis_h18_itermask",
                                         "coco_lvis_h32_itermask", "coco_lvis_h18_baseline",
                                         "sbd_h18_itermask"}
    for spec in OFFICIAL_CHECKPOINTS.values():
        assert spec.urls[0] == f"{registry.FORK}/{spec.name}.pth"
    h18 = OFFICIAL_CHECKPOINTS["coco_lvis_h18_itermask"]
    assert h18.urls[1].startswith(registry.CUTIE) and h18.sha256.startswith("5f69cfce")
    assert [s.name for s in OFFICIAL_CHECKPOINTS.values() if s.sha256] == ["coco_lvis_h18_itermask"]


def test_download_caches_and_loads_the_same_model(mirrors, tmp_path, official_bytes, reference_dir):
    path = download(NAME, cache_dir=tmp_path, progress=False)
    assert path == tmp_path / f"{NAME}.pth" and path.read_bytes() == official_bytes
    assert leftovers(tmp_path) == [f"{NAME}.pth"] and len(list(tmp_path.iterdir())) == 1
    requests = len(mirrors[0].requests)
    assert download(NAME, cache_dir=tmp_path, progress=False) == path
    assert len(mirrors[0].requests) == requests and not mirrors[1].requests  # the cache answered
    assert is_cached(NAME, tmp_path)
    by_name, by_file = ritm_lite.load_checkpoint(str(path)), ritm_lite.load_checkpoint(
        reference_dir / "ritm_hrnet18s_official_format.pth")
    image = torch.rand(1, 4, 64, 96, generator=torch.Generator().manual_seed(0))
    points = points_tensor([[Click(30, 20, True)]])
    with torch.no_grad():
        assert torch.equal(by_name(image, points)["instances"], by_file(image, points)["instances"])


def test_load_checkpoint_takes_a_registry_name(mirrors, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "cache_dir", lambda: tmp_path)
    model = ritm_lite.load_checkpoint(NAME)
    assert model.config.backbone == "hrnet18s" and (tmp_path / f"{NAME}.pth").is_file()


def test_a_404_on_the_first_mirror_falls_to_the_next(mirrors, tmp_path, official_bytes):
    del mirrors[0].files[f"{NAME}.pth"]
    assert download(NAME, cache_dir=tmp_path, progress=False).read_bytes() == official_bytes
    assert mirrors[1].requests


def test_a_truncated_transfer_is_never_complete(mirrors, tmp_path):
    for s in mirrors:
        s.cut[f"{NAME}.pth"] = 1_000_000
    with pytest.raises(DownloadError, match="1.0 MiB instead of the expected 16.5 MiB; deleted") as err:
        download(NAME, cache_dir=tmp_path, progress=False)
    assert str(err.value).count("instead of the expected") == 2  # both mirrors tried
    assert leftovers(tmp_path) == [] and list(tmp_path.iterdir()) == []


def test_a_wrong_hash_is_refused_and_deleted(mirrors, tmp_path, monkeypatch, official_bytes):
    spec = OFFICIAL_CHECKPOINTS[NAME]
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, NAME, dataclasses.replace(spec, sha256="0" * 64))
    with pytest.raises(DownloadError, match="SHA-256 .* differs from the published 0000") as err:
        download(NAME, cache_dir=tmp_path, progress=False)
    assert str(err.value).count("differs") == 2  # both mirrors tried
    assert leftovers(tmp_path) == [] and list(tmp_path.iterdir()) == []
    right = hashlib.sha256(official_bytes).hexdigest()
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, NAME, dataclasses.replace(spec, sha256=right))
    assert download(NAME, cache_dir=tmp_path, progress=False).is_file()


def test_every_mirror_down_lists_each_url_and_why(mirrors, tmp_path, monkeypatch):
    dead = Server()
    dead_url = dead.url
    dead.close()
    spec = OFFICIAL_CHECKPOINTS[NAME]
    urls = (f"{dead_url}/{NAME}.pth", f"{mirrors[0].url}/missing.pth")
    monkeypatch.setitem(OFFICIAL_CHECKPOINTS, NAME, dataclasses.replace(spec, urls=urls))
    with pytest.raises(DownloadError) as err:
        download(NAME, cache_dir=tmp_path, progress=False)
    message = str(err.value)
    assert all(url in message for url in urls) and "404" in message and "refused" in message.lower()
    assert leftovers(tmp_path) == []


def test_a_damaged_or_foreign_file_fails_verification(tmp_path, official_bytes):
    spec = OFFICIAL_CHECKPOINTS[NAME]
    flipped = bytearray(official_bytes)
    flipped[len(flipped) // 2: len(flipped) // 2 + 64] = bytes(64)
    (tmp_path / "bitrot.pth").write_bytes(bytes(flipped))
    assert "CRC" in verify(tmp_path / "bitrot.pth", spec)
    (tmp_path / "page.pth").write_bytes(b"<html>" + bytes(len(official_bytes) - 6))
    assert "not a complete PyTorch checkpoint" in verify(tmp_path / "page.pth", spec)
    (tmp_path / "short.pth").write_bytes(official_bytes[:1000])
    assert "MiB instead of the expected 16.5" in verify(tmp_path / "short.pth", spec)


def test_a_damaged_cached_copy_is_fetched_again(mirrors, tmp_path, official_bytes):
    damaged = bytearray(official_bytes)
    damaged[len(damaged) // 2: len(damaged) // 2 + 64] = bytes(64)  # bit rot inside a member
    (tmp_path / f"{NAME}.pth").write_bytes(bytes(damaged))
    assert download(NAME, cache_dir=tmp_path, progress=False).read_bytes() == official_bytes
    assert mirrors[0].requests


def test_a_failed_redownload_keeps_the_cached_copy(mirrors, tmp_path, official_bytes):
    damaged = bytearray(official_bytes)
    damaged[len(damaged) // 2: len(damaged) // 2 + 64] = bytes(64)
    cached = tmp_path / f"{NAME}.pth"
    cached.write_bytes(bytes(damaged))
    for s in mirrors:
        s.files.clear()  # every mirror answers 404
    with pytest.raises(DownloadError, match=f"the cached copy .*{NAME}.pth .*CRC.* is kept as it was"):
        download(NAME, cache_dir=tmp_path, progress=False)
    assert cached.read_bytes() == bytes(damaged)  # nothing removed that could not be replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{NAME}.pth"]
    assert not is_cached(NAME, tmp_path)  # and still not taken for a good copy


def test_cli_lists_and_downloads(mirrors, tmp_path):
    run = [sys.executable, "-m", "ritm_lite.weights"]
    listing = subprocess.run(run + ["list", "--cache-dir", str(tmp_path)], capture_output=True, text=True)
    assert listing.returncode == 0 and all(name in listing.stdout for name in OFFICIAL_CHECKPOINTS)
    url = f"{mirrors[1].url}/{NAME}.pth"  # the subprocess sees the real registry: pass the URL
    fetched = subprocess.run(run + ["download", NAME, "--cache-dir", str(tmp_path), "--url", url],
                             capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / f"{NAME}.pth").is_file()
    failed = subprocess.run(run + ["download", NAME, "--cache-dir", str(tmp_path / "other"), "--url",
                                   f"{mirrors[1].url}/nothing.pth"], capture_output=True, text=True)
    assert failed.returncode == 1 and failed.stderr.startswith("error: could not download")
    assert "Traceback" not in failed.stderr


def test_select_model_prefers_the_cached_official_checkpoint(mirrors, tmp_path, monkeypatch):
    from ritm_lite.inference import unwrap
    from ritm_lite.weights import select_model

    monkeypatch.setattr(registry, "cache_dir", lambda: tmp_path)
    model, _, said = select_model("auto", download=False)  # not cached, no downloads: the course's
    assert unwrap(model)[0].config.backbone == "efficientnet_lite0"  # (wrapped in its stored settings)
    assert "would be fetched from" in said and NAME in said
    model, _, said = select_model("auto", download=True)  # downloads it
    assert model.config.backbone == "hrnet18s" and "official RITM checkpoint" in said
    model, _, said = select_model("auto", download=False)  # now from the cache
    assert model.config.backbone == "hrnet18s"
    model, _, said = select_model("hrnet18s_scratch")
    assert model.config.backbone == "hrnet18s" and "course's weights" in said


def test_select_model_falls_back_when_every_mirror_fails(mirrors, tmp_path, monkeypatch):
    from ritm_lite.inference import unwrap
    from ritm_lite.weights import select_model

    monkeypatch.setattr(registry, "cache_dir", lambda: tmp_path)
    for s in mirrors:
        s.files.clear()
    model, _, said = select_model("auto")
    assert unwrap(model)[0].config.backbone == "efficientnet_lite0" and "could not be downloaded" in said
    with pytest.raises(DownloadError):
        select_model(NAME)  # asked for by name: an error, not a silent substitute


def test_select_model_by_name_never_answers_another_model(tmp_path, monkeypatch):
    from ritm_lite.weights import select_model

    monkeypatch.setattr(registry, "cache_dir", lambda: tmp_path)
    name = "coco_lvis_h18_itermask"
    with pytest.raises(FileNotFoundError, match=f"{name}.* is not in the cache .*download=True"):
        select_model(name, download=False)  # not the course's model under the official name
    assert list(tmp_path.iterdir()) == []  # and nothing was fetched


def test_the_model_package_loads_files_and_points_names_to_the_registry(tmp_path, monkeypatch):
    from ritm_lite.model.checkpoint import load_checkpoint

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ritm_lite.load_checkpoint\(name\)"):
        load_checkpoint(NAME)  # ritm_lite.model never downloads: ritm_lite.load_checkpoint does

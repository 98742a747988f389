"""Download helpers, tested for real against a local HTTP server on 127.0.0.1.

Nothing can be downloaded from the internet here, so a small server in a thread serves zip
and tar files built by the tests, honours HTTP Range requests (for resuming), and can be
told to cut a response short (an interrupted download) or to answer 404.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from ritm_lite.data.download import (REGISTRY, Archive, ChecksumError, DatasetSource,
                                     DownloadError, download_file, extract, fetch, main)
from ritm_lite.utils import PROJECT_ROOT


class Server:
    """Serves ``files`` (name -> bytes); ``cut[name] = n`` sends only n bytes, then closes;
    ``stall[name] = s`` waits s seconds before answering (a server that hangs)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.stall: dict[str, float] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append((name, self.headers.get("Range")))
                if name in server.stall:
                    time.sleep(server.stall.pop(name))
                if name not in server.files:
                    self.send_error(404)
                    return
                data, start = server.files[name], 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if name in server.cut:
                    body = body[:server.cut.pop(name)]  # cut once, then behave
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_tar_gz(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


TOY = {"Toy/img/a.jpg": b"image-a" * 100, "Toy/gt/a.png": b"mask-a" * 100}


def toy_source(server: Server, filename: str, digest: str | None, urls=None) -> DatasetSource:
    return DatasetSource("toy", "a toy set", "http://example.invalid", "none",
                         (Archive(filename, urls or (f"{server.url}/{filename}",), "1 KB", digest,
                                  "Toy"),),
                         ("Toy/img/a.jpg", "Toy/gt/a.png"), "Toy/{img, gt}")


@pytest.mark.parametrize("filename, pack", [("toy.zip", make_zip), ("toy.tar.gz", make_tar_gz)])
def test_fetch_downloads_verifies_and_unpacks(server, tmp_path, filename, pack):
    data = pack(TOY)
    server.files[filename] = data
    fetch(toy_source(server, filename, md5(data)), tmp_path, progress=False)
    assert (tmp_path / "Toy/img/a.jpg").read_bytes() == TOY["Toy/img/a.jpg"]
    assert (tmp_path / "Toy/gt/a.png").read_bytes() == TOY["Toy/gt/a.png"]
    assert not (tmp_path / ".downloads" / filename).exists()  # archive removed after unpacking
    hidden = [p.name for p in tmp_path.rglob(".*") if p.name != ".downloads"]
    assert hidden == []  # no staging folder left behind
    server.requests.clear()
    fetch(toy_source(server, filename, md5(data)), tmp_path, progress=False)  # already there
    assert server.requests == []


def test_checksum_mismatch_deletes_the_file_and_unpacks_nothing(server, tmp_path):
    server.files["toy.zip"] = make_zip(TOY)
    with pytest.raises(ChecksumError, match="differs from the published"):
        fetch(toy_source(server, "toy.zip", "0" * 32), tmp_path, progress=False)
    downloads = tmp_path / ".downloads"
    assert list(downloads.iterdir()) == [] and not (tmp_path / "Toy").exists()
    fetch(toy_source(server, "toy.zip", "0" * 32), tmp_path, checksum=False, progress=False)
    assert (tmp_path / "Toy/img/a.jpg").exists()


def test_interrupted_download_of_a_resumable_file_keeps_a_part_file_and_resumes(server, tmp_path):
    """Only many-GB files (``Archive.resumable``, COCO's train2017.zip) take the resumable path."""
    assert [a.filename for s in REGISTRY.values() for a in s.archives if a.resumable] == ["train2017.zip"] * 1
    data = os.urandom(200_000)
    server.files["big.bin"] = data
    server.cut["big.bin"] = 70_000
    dest = tmp_path / "big.bin"
    with pytest.raises(DownloadError, match="closed after 70000 of 200000 bytes.*run again"):
        download_file([f"{server.url}/big.bin"], dest, md5(data), progress=False, resumable=True)
    assert not dest.exists() and (tmp_path / "big.bin.part").stat().st_size == 70_000
    download_file([f"{server.url}/big.bin"], dest, md5(data), progress=False, resumable=True)
    assert dest.read_bytes() == data and not (tmp_path / "big.bin.part").exists()
    assert server.requests[-1] == ("big.bin", "bytes=70000-")  # resumed, not restarted


def test_network_failure_and_mirror_fallback(server, tmp_path):
    data = b"payload" * 10
    server.files["f.bin"] = data
    closed = Server()
    dead_url = closed.url
    closed.close()  # nothing listens there any more: connection refused
    with pytest.raises(DownloadError, match="could not download f.bin") as err:
        download_file([f"{dead_url}/f.bin", f"{server.url}/missing.bin"], tmp_path / "f.bin",
                      progress=False, timeout=5)
    assert "404" in str(err.value) and dead_url in str(err.value)
    assert not (tmp_path / "f.bin").exists()
    download_file([f"{server.url}/missing.bin", f"{server.url}/f.bin"], tmp_path / "f.bin",
                  md5(data), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == data


def test_extract_refuses_entries_outside_the_target(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(make_zip({"../evil.txt": b"x"}))
    with pytest.raises(ValueError, match="outside the target"):
        extract(bad, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        extract(not_archive, tmp_path / "out")


def test_archives_with_or_without_a_top_folder_unpack_alike(tmp_path):
    for k, entries in enumerate(({"Toy/img/a.jpg": b"1", "Toy/gt/a.png": b"2"},
                                 {"img/a.jpg": b"1", "gt/a.png": b"2"})):
        archive = tmp_path / f"toy{k}.zip"
        archive.write_bytes(make_zip(entries))
        root = tmp_path / f"root{k}"
        extract(archive, root / "Toy")
        assert files(root) == ["Toy/gt/a.png", "Toy/img/a.jpg"]


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_layout_check_reports_a_surprising_archive(server, tmp_path):
    server.files["toy.zip"] = make_zip({"Other/file.txt": b"x"})
    with pytest.raises(RuntimeError, match="unpacked, but .* are missing"):
        fetch(toy_source(server, "toy.zip", None), tmp_path, progress=False)


def test_registry_is_complete():
    for name in ("coco2017", "lvis-v1", "grabcut", "berkeley", "davis", "sbd", "pascal-voc", "duts-tr"):
        assert name in REGISTRY
    for source in REGISTRY.values():
        assert source.archives and source.expected and source.layout and source.licence
        for archive in source.archives:
            assert archive.urls and all(u.startswith(("http://", "https://")) for u in archive.urls)
            assert all(u.endswith(archive.filename) for u in archive.urls)
            assert archive.md5 is None or (len(archive.md5) == 32 and int(archive.md5, 16) >= 0)
    assert REGISTRY["coco2017"].archives[2].md5 == "cced6f7f71b7629ddf16f17bbcfab6b2"
    duts = REGISTRY["duts-tr"]
    assert duts.archives[0].urls == ("http://saliencydetection.net/duts/download/DUTS-TR.zip",)
    assert duts.archives[0].md5 is None and duts.licence == "research use only (DUTS terms, saliencydetection.net)"
    assert duts.expected == ("DUTS-TR/DUTS-TR-Image", "DUTS-TR/DUTS-TR-Mask")
    with pytest.raises(KeyError, match="unknown dataset 'imagenet'"):
        fetch("imagenet", "unused")


def test_cli_with_a_local_mirror(server, tmp_path):
    """`python -m ritm_lite.data.download grabcut --mirror URL` end to end (no internet)."""
    server.files["GrabCut.zip"] = make_zip({"GrabCut/data_GT/x.jpg": b"j",
                                            "GrabCut/boundary_GT/x.bmp": b"b"})
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    cmd = [sys.executable, "-m", "ritm_lite.data.download", "grabcut", "--root", str(tmp_path),
           "--mirror", server.url]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "GrabCut/boundary_GT/x.bmp").read_bytes() == b"b"
    assert server.requests == [("GrabCut.zip", None)]  # the mirror answered first
    assert main(["--list"]) == 0
    with pytest.raises(SystemExit):
        main(["imagenet"])


def test_downloads_go_through_torch_hub(server, tmp_path, monkeypatch):
    import torch.hub

    calls = []
    real = torch.hub.download_url_to_file
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, dst, **kw: (calls.append(url), real(url, dst, **kw)))
    server.files["f.bin"] = b"payload"
    download_file([f"{server.url}/f.bin"], tmp_path / "f.bin", md5(b"payload"), progress=False)
    assert calls == [f"{server.url}/f.bin"] and (tmp_path / "f.bin").read_bytes() == b"payload"


def test_a_cut_off_archive_without_an_md5_is_caught_and_replaces_nothing(server, tmp_path):
    """torch.hub accepts a short transfer; reading the archive through catches it."""
    data = make_zip({"Toy/img/a.jpg": os.urandom(50_000), "Toy/gt/a.png": os.urandom(50_000)})
    server.files["toy.zip"] = data
    dest = tmp_path / ".downloads" / "toy.zip"
    dest.parent.mkdir()
    dest.write_bytes(b"an older, damaged copy")
    server.cut["toy.zip"] = len(data) // 2
    with pytest.raises(DownloadError, match="not a whole archive"):
        download_file([f"{server.url}/toy.zip"], dest, progress=False)
    assert dest.read_bytes() == b"an older, damaged copy"  # kept: nothing replaced it
    assert sorted(p.name for p in dest.parent.iterdir()) == ["toy.zip"]  # no partial file left
    download_file([f"{server.url}/toy.zip"], dest, progress=False)
    assert dest.read_bytes() == data


def test_a_failed_download_keeps_the_file_it_would_replace(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old copy")
    server.files["f.bin"] = b"new copy"
    with pytest.raises(ChecksumError, match="the download was deleted, .*f.bin is kept"):
        download_file([f"{server.url}/f.bin"], dest, md5(b"something else"), progress=False)
    with pytest.raises(DownloadError):
        download_file([f"{server.url}/missing.bin"], dest, md5(b"new copy"), progress=False)
    assert dest.read_bytes() == b"old copy" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_a_failed_unpack_keeps_the_unpacked_folder(server, tmp_path):
    good = make_zip(TOY)
    server.files["toy.zip"] = good
    fetch(toy_source(server, "toy.zip", None), tmp_path, progress=False)
    server.files["toy.zip"] = make_zip({"../evil.txt": b"x"})  # refused by extract
    with pytest.raises(ValueError, match="outside the target"):
        fetch(toy_source(server, "toy.zip", None), tmp_path, force=True, progress=False)
    assert (tmp_path / "Toy/img/a.jpg").read_bytes() == TOY["Toy/img/a.jpg"]
    server.files["toy.zip"] = make_zip({"Toy/img/a.jpg": b"new", "Toy/gt/a.png": b"new"})
    fetch(toy_source(server, "toy.zip", None), tmp_path, force=True, progress=False)
    assert (tmp_path / "Toy/img/a.jpg").read_bytes() == b"new"
    assert [p.name for p in (tmp_path / "Toy").iterdir() if p.name.startswith(".")] == []


def test_a_stalled_server_is_a_timeout_not_a_hang(server, tmp_path):
    server.files["slow.bin"] = b"late"
    server.stall["slow.bin"] = 5.0
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        download_file([f"{server.url}/slow.bin"], tmp_path / "slow.bin", progress=False, timeout=0.5)
    assert time.monotonic() - start < 4.0 and not (tmp_path / "slow.bin").exists()


def test_duts_tr_unpacks_into_its_layout_from_a_mirror(server, tmp_path):
    server.files["DUTS-TR.zip"] = make_zip({"DUTS-TR/DUTS-TR-Image/a.jpg": b"j", "DUTS-TR/DUTS-TR-Mask/a.png": b"m"})
    fetch("duts-tr", tmp_path, mirror=server.url, progress=False)
    assert files(tmp_path) == ["DUTS-TR/DUTS-TR-Image/a.jpg", "DUTS-TR/DUTS-TR-Mask/a.png"]


@pytest.mark.parametrize("urls, timeout, message", [
    ([], 60.0, "at least one http"),
    (["ftp://example.invalid/f.bin"], 60.0, "at least one http"),
    ([None], 60.0, "at least one http"),
    (["http://127.0.0.1:9/f.bin"], 0, "timeout must be a positive"),
    (["http://127.0.0.1:9/f.bin"], float("nan"), "timeout must be a positive"),
    (["http://127.0.0.1:9/f.bin"], float("inf"), "timeout must be a positive"),
    (["http://127.0.0.1:9/f.bin"], -1, "timeout must be a positive"),
    (["http://127.0.0.1:9/f.bin"], "60", "timeout must be a positive"),
])
def test_bad_input_download_arguments(tmp_path, urls, timeout, message):
    with pytest.raises(ValueError, match=message):
        download_file(urls, tmp_path / "f.bin", timeout=timeout, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, message", [
    (["imagenet"], "unknown dataset"),
    (["grabcut", "--mirror", "not-a-url"], "--mirror"),
    (["grabcut", "--mirror", ""], "--mirror"),
    (["grabcut", "--root", "FILE"], "--root"),
    (["grabcut", "--root", ""], "--root"),
    (["grabcut", "--bogus"], "unrecognized arguments"),
])
def test_bad_input_download_cli_flags(tmp_path, capsys, flags, message):
    (tmp_path / "a_file").write_text("x")
    flags = [str(tmp_path / "a_file") if f == "FILE" else f for f in flags]
    with pytest.raises(SystemExit) as exit_:
        main(flags)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err


def test_fetch_plan_names_sizes_sources_targets_and_a_resumable_part(tmp_path):
    from ritm_lite.data.download import fetch_plan

    plan = fetch_plan(["coco2017", "lvis-v1"], tmp_path, show=lambda p: p.relative_to(tmp_path).as_posix())
    assert ("coco2017: train2017.zip (18 GB) from http://images.cocodataset.org/zips/train2017.zip -> coco2017"
            in plan.splitlines())
    assert "lvis-v1: lvis_v1_train.json.zip (~350 MB) from https://dl.fbaipublicfiles.com/LVIS/" in plan
    assert "resumes" not in plan
    part = tmp_path / ".downloads" / "train2017.zip.part"
    part.parent.mkdir()
    part.write_bytes(b"\0" * (2**30 // 4))
    assert "train2017.zip (18 GB) from http://images.cocodataset.org/zips/train2017.zip -> coco2017, resumes after " \
           "0.25 GiB already downloaded" in fetch_plan(["coco2017"], tmp_path, show=lambda p: p.relative_to(tmp_path).as_posix())
    for path in REGISTRY["lvis-v1"].expected:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    assert fetch_plan(["lvis-v1"], tmp_path, show=str) == f"lvis-v1: already in {tmp_path}, nothing to download"
    with pytest.raises(KeyError, match="unknown dataset"):
        fetch_plan(["coco2014"], tmp_path)

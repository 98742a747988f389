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
import zipfile
from pathlib import Path

import pytest

from ritm_lite.data.download import (REGISTRY, Archive, ChecksumError, DatasetSource,
                                     DownloadError, download_file, extract, fetch, main)
from ritm_lite.utils import PROJECT_ROOT


class Server:
    """Serves ``files`` (name -> bytes); ``cut[name] = n`` sends only n bytes, then closes."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append((name, self.headers.get("Range")))
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


def test_interrupted_download_keeps_a_part_file_and_resumes(server, tmp_path):
    data = os.urandom(200_000)
    server.files["big.bin"] = data
    server.cut["big.bin"] = 70_000
    dest = tmp_path / "big.bin"
    with pytest.raises(DownloadError, match="closed after 70000 of 200000 bytes.*run again"):
        download_file([f"{server.url}/big.bin"], dest, md5(data), progress=False)
    assert not dest.exists() and (tmp_path / "big.bin.part").stat().st_size == 70_000
    download_file([f"{server.url}/big.bin"], dest, md5(data), progress=False)
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
    for name in ("coco2017", "lvis-v1", "grabcut", "berkeley", "davis", "sbd", "pascal-voc"):
        assert name in REGISTRY
    for source in REGISTRY.values():
        assert source.archives and source.expected and source.layout and source.licence
        for archive in source.archives:
            assert archive.urls and all(u.startswith(("http://", "https://")) for u in archive.urls)
            assert all(u.endswith(archive.filename) for u in archive.urls)
            assert archive.md5 is None or (len(archive.md5) == 32 and int(archive.md5, 16) >= 0)
    assert REGISTRY["coco2017"].archives[2].md5 == "cced6f7f71b7629ddf16f17bbcfab6b2"
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

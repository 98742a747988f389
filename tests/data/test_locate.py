"""Finding a benchmark: $RITM_DATA, then data/, then a download (from a server on 127.0.0.1)."""

from __future__ import annotations

import dataclasses

from pathlib import Path

import pytest

from ritm_lite.data import locate
from ritm_lite.data.benchmarks import BENCHMARKS
from ritm_lite.data.download import REGISTRY
from ritm_lite.utils import PROJECT_ROOT
from tests.data.test_download import Server, make_zip


def _grabcut(root, photos: int = 3):
    """A GrabCut-shaped folder under ``root`` with ``photos`` photos (contents are not read)."""
    for sub in ("data_GT", "boundary_GT"):
        (root / "GrabCut" / sub).mkdir(parents=True, exist_ok=True)
    for i in range(photos):
        (root / "GrabCut" / "data_GT" / f"p{i}.jpg").write_bytes(b"jpg")
        (root / "GrabCut" / "boundary_GT" / f"p{i}.bmp").write_bytes(b"bmp")
    (root / "GrabCut" / "data_GT" / "notes.txt").write_text("not a photo")
    return root / "GrabCut"


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty $RITM_DATA and an empty project data/ folder, both under tmp_path."""
    env, data = tmp_path / "env", tmp_path / "project" / "data"
    env.mkdir()
    monkeypatch.setenv(locate.DATA_ENV, str(env))
    monkeypatch.setattr(locate, "project_data_dir", lambda: data)
    return env, data


def test_every_benchmark_has_files_and_a_download():
    assert sorted(locate.BENCHMARK_FILES) == sorted(BENCHMARKS)
    for files in locate.BENCHMARK_FILES.values():
        assert files.download_name in REGISTRY


def test_found_in_ritm_data_first(places, capsys):
    env, data = places
    expected = _grabcut(env, photos=3)
    _grabcut(data, photos=5)
    assert locate.benchmark_folder("GrabCut") == expected
    # inside $RITM_DATA the folder is shown as $RITM_DATA/<name>: no machine path either
    assert capsys.readouterr().out.strip() == "GrabCut, 3 photos, from $RITM_DATA/GrabCut"


def test_found_in_the_project_data_folder(places, monkeypatch, capsys):
    _, data = places
    monkeypatch.delenv(locate.DATA_ENV)
    expected = _grabcut(data, photos=5)
    assert locate.benchmark_folder("GrabCut") == expected
    # inside the project's data/ the folder is shown relative to the project: no machine path
    assert capsys.readouterr().out.strip() == f"GrabCut, 5 photos, from {data.name}/GrabCut"


def test_an_empty_folder_is_not_the_benchmark(places, capsys):
    env, _ = places
    (env / "GrabCut" / "data_GT").mkdir(parents=True)
    assert locate.benchmark_folder("GrabCut") is None


def test_missing_says_in_one_sentence_what_it_would_download(places, capsys):
    env, data = places
    assert locate.benchmark_folder("GrabCut") is None
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and out.endswith(".")
    for part in ("not in $RITM_DATA or data;", "GrabCut.zip", "11 MB", REGISTRY["grabcut"].archives[0].urls[0]):
        assert part in out, part


def test_the_project_data_folder_is_the_clones():
    assert locate.project_data_dir() == PROJECT_ROOT / "data"


def test_unknown_benchmark_is_an_error():
    with pytest.raises(ValueError, match="unknown benchmark 'Grabcut'"):
        locate.benchmark_folder("Grabcut")


def _local_grabcut(monkeypatch, server: Server) -> None:
    """The registry's GrabCut entry, served by ``server`` (same file name and layout)."""
    real = REGISTRY["grabcut"]
    archive = dataclasses.replace(real.archives[0], urls=(f"{server.url}/GrabCut.zip",), md5=None)
    monkeypatch.setitem(REGISTRY, "grabcut", dataclasses.replace(real, archives=(archive,)))


def test_download_when_missing(places, monkeypatch, capsys):
    _, data = places
    server = Server()
    try:
        server.files["GrabCut.zip"] = make_zip({"GrabCut/data_GT/a.jpg": b"1", "GrabCut/data_GT/b.jpg": b"2",
                                                "GrabCut/boundary_GT/a.bmp": b"3", "GrabCut/boundary_GT/b.bmp": b"4"})
        _local_grabcut(monkeypatch, server)
        folder = locate.benchmark_folder("GrabCut", download=True, progress=False)
        assert folder == data / "GrabCut"
        assert capsys.readouterr().out.strip().endswith(f"GrabCut, 2 photos, from {data.name}/GrabCut")
        assert [name for name, _ in server.requests] == ["GrabCut.zip"]
        assert locate.benchmark_folder("GrabCut", download=True) == folder  # found, not fetched again
        assert len(server.requests) == 1
    finally:
        server.close()


def test_a_failed_download_says_why_and_falls_back(places, monkeypatch, capsys):
    server = Server()  # serves nothing: 404
    try:
        _local_grabcut(monkeypatch, server)
        assert locate.benchmark_folder("GrabCut", download=True, progress=False) is None
    finally:
        server.close()
    out = capsys.readouterr().out.strip()
    assert out.startswith("GrabCut could not be downloaded (") and "404" in out
    assert "python -m ritm_lite.data.download grabcut --root" in out


def test_reference_folder_only_where_named(tmp_path, monkeypatch):
    monkeypatch.delenv(locate.REFERENCE_ENV, raising=False)
    assert locate.reference_folder() is None
    monkeypatch.setenv(locate.REFERENCE_ENV, str(tmp_path / "absent"))
    assert locate.reference_folder() is None
    monkeypatch.setenv(locate.REFERENCE_ENV, str(tmp_path))
    assert locate.reference_folder() == tmp_path


def test_the_evaluation_cli_finds_its_data_the_same_way(places, capsys):
    from ritm_lite import evaluate

    env, _ = places
    with pytest.raises(SystemExit):
        evaluate.parse_args(["--peer", "opencv-grabcut", "--dataset", "GrabCut"])
    assert "--data-root is required (GrabCut was not found)" in capsys.readouterr().err
    expected = _grabcut(env)
    assert evaluate.parse_args(["--peer", "opencv-grabcut", "--dataset", "GrabCut"]).data_root == expected
    assert "GrabCut, 3 photos, from $RITM_DATA/GrabCut" in capsys.readouterr().out


def test_shown_path_is_relative_inside_the_project_only(places):
    _, data = places  # the project's data/ folder; the project is its parent
    assert locate.shown_path(data / "GrabCut") == f"{data.name}/GrabCut"
    assert locate.shown_path(data.parent / "runs" / "x.pth") == "runs/x.pth"
    assert locate.shown_path("data/GrabCut") == "data/GrabCut"  # relative: as given
    elsewhere = Path("/opt") / "GrabCut"
    assert locate.shown_path(elsewhere) == str(elsewhere)
    sibling = data.parent.parent / f"{data.parent.name}2" / "GrabCut"  # shares a prefix of letters only
    assert locate.shown_path(sibling) == str(sibling)
    env = places[0]
    assert locate.shown_path(env / "SBD" / "img") == "$RITM_DATA/SBD/img"
    assert locate.shown_path(env) == "$RITM_DATA"
    assert locate.shown_path(Path(f"{env}2") / "SBD") == f"{env}2/SBD"  # a prefix of letters only


def test_a_missing_benchmark_is_reported_with_paths_relative_to_the_project(places, capsys, monkeypatch):
    monkeypatch.delenv(locate.DATA_ENV, raising=False)
    assert locate.benchmark_folder("Berkeley") is None
    out = capsys.readouterr().out
    assert "tmp" not in out.lower() and "is not in data;" in out and "into data." in out  # no machine folder

"""Notebook 10's full branch (a GPU, no RITM_SMOKE), run without a GPU: its data cell downloads
the real COCO 2017 + LVIS v1 files into WORK and merges them (never the generated samples), a
rerun downloads and merges nothing twice, and its launch cell resumes a stopped run."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import ritm_lite.data.download
import ritm_lite.utils
from ritm_lite.utils import PROJECT_ROOT

jupytext = pytest.importorskip("jupytext")

NOTEBOOK = PROJECT_ROOT / "notebooks" / "10_full_gpu_training.py"


def _code_cells() -> list[str]:
    """The code cells after the Colab set-up cell (which does nothing off Colab)."""
    return [c.source for c in jupytext.read(NOTEBOOK).cells
            if c.cell_type == "code" and "colab" not in c.metadata.get("tags", [])]


def _cell(marker: str) -> str:
    """The one code cell containing ``marker``."""
    found = [source for source in _code_cells() if marker in source]
    assert len(found) == 1, f"{len(found)} code cells contain {marker!r}"
    return found[0]


@pytest.fixture
def full(tmp_path, monkeypatch):
    """The notebook's set-up and WORK cells run as on a one-GPU workstation whose project folder
    is ``tmp_path``; ``run`` and ``fetch`` record their calls instead of acting."""
    monkeypatch.delenv("RITM_SMOKE", raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "Pretend GPU")
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(total_memory=2**35))
    monkeypatch.setattr(ritm_lite.utils, "PROJECT_ROOT", tmp_path)
    fetched = []
    monkeypatch.setattr(ritm_lite.data.download, "fetch", lambda name, root, **kw: fetched.append((name, root)))
    namespace: dict = {}
    exec(compile(_cell("def run("), str(NOTEBOOK), "exec"), namespace)
    commands = []
    namespace["run"] = commands.append  # record, never launch
    exec(compile(_cell("WORK ="), str(NOTEBOOK), "exec"), namespace)
    return SimpleNamespace(namespace=namespace, commands=commands, fetched=fetched, root=tmp_path)


def _merge(root: Path, images: int) -> None:
    summary = root / "data" / "coco_lvis" / "train" / "summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps({"images": {"written": images}}))


def test_a_gpu_run_downloads_coco_and_lvis_into_work_and_merges_them(full, capsys):
    ns = full.namespace
    assert ns["FULL"] and ns["WORK"] == full.root and ns["DATA"] == full.root / "data"
    with pytest.raises(FileNotFoundError):  # the recorded merge wrote no summary.json
        exec(compile(_cell("fetch_plan("), str(NOTEBOOK), "exec"), ns)
    assert full.fetched == [("coco2017", full.root / "data"), ("lvis-v1", full.root / "data")]
    plan = capsys.readouterr().out
    assert "train2017.zip (18 GB) from http://images.cocodataset.org" in plan and "lvis_v1_train.json.zip" in plan
    (merge,) = full.commands
    assert merge[1:3] == ["-m", "ritm_lite.data.coco_lvis"]
    data = full.root / "data"
    assert merge[merge.index("--coco") + 1] == data / "coco2017" / "annotations" / "instances_train2017.json"
    assert merge[merge.index("--lvis") + 1] == data / "lvis" / "lvis_v1_train.json"
    assert not any("samples" in str(part) for part in merge)  # never the generated toy files


def test_a_rerun_merges_nothing_twice_and_the_plan_says_what_is_there(full, capsys):
    ns = full.namespace
    _merge(full.root, 99_000)
    for path in ("coco2017/annotations/instances_train2017.json", "lvis/lvis_v1_train.json", "lvis/lvis_v1_val.json"):
        (full.root / "data" / path).parent.mkdir(parents=True, exist_ok=True)
        (full.root / "data" / path).write_text("{}")
    for folder in ("coco2017/train2017", "coco2017/val2017"):
        (full.root / "data" / folder).mkdir(parents=True, exist_ok=True)
    exec(compile(_cell("fetch_plan("), str(NOTEBOOK), "exec"), ns)
    assert full.commands == []  # already merged
    out = capsys.readouterr().out
    assert "coco2017: already in" in out and "lvis-v1: already in" in out and "99000" in out


def test_a_stopped_run_is_resumed_from_work_without_the_imagenet_weights(full):
    ns = full.namespace
    _merge(full.root, 99_000)
    exec(compile(_cell("fetch_plan("), str(NOTEBOOK), "exec"), ns)
    from ritm_lite.training.budget import shortened
    from ritm_lite.training.config import get_preset

    ns.update(PRESET="hrnet18_cocolvis_itermask", SCHEDULE="short",
              config=shortened(get_preset("hrnet18_cocolvis_itermask"), 15))
    launch = _cell("config_to_args(")
    exec(compile(launch, str(NOTEBOOK), "exec"), ns)
    (first,) = full.commands
    assert "--imagenet-weights" in first and "--resume" not in first
    assert first[first.index("--out") + 1] == full.root / "runs" / "w18_short"
    assert first[first.index("--epochs") + 1] == "15" and "--max-steps" not in first
    last = full.root / "runs" / "w18_short" / "checkpoints" / "last.pth"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    exec(compile(launch, str(NOTEBOOK), "exec"), ns)
    second = full.commands[1]
    assert "--resume" in second and "--imagenet-weights" not in second  # train.py refuses both

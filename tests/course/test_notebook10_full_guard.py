"""Notebook 10 on a GPU machine without COCO+LVIS: it stops, it never trains on toy data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import ritm_lite.utils
from ritm_lite.utils import PROJECT_ROOT

jupytext = pytest.importorskip("jupytext")

NOTEBOOK = PROJECT_ROOT / "notebooks" / "10_full_gpu_training.py"


def _code_cells() -> list[str]:
    """The code cells after the Colab set-up cell (which does nothing off Colab)."""
    return [c.source for c in jupytext.read(NOTEBOOK).cells
            if c.cell_type == "code" and "colab" not in c.metadata.get("tags", [])]


def _pretend_one_gpu(monkeypatch) -> None:
    monkeypatch.delenv("RITM_SMOKE", raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "Pretend GPU")
    properties = SimpleNamespace(total_memory=2**35)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: properties)


def _run_until_the_data_cell(tmp_path, monkeypatch, capsys) -> tuple[dict, list]:
    monkeypatch.setattr(ritm_lite.utils, "PROJECT_ROOT", tmp_path)  # its data/ is ours
    setup, data_cell = _code_cells()[:2]
    namespace: dict = {}
    exec(compile(setup, str(NOTEBOOK), "exec"), namespace)
    commands = []
    namespace["run"] = commands.append  # record, never launch
    capsys.readouterr()
    exec(compile(data_cell, str(NOTEBOOK), "exec"), namespace)
    return namespace, commands


def test_without_the_data_a_gpu_run_stops_with_instructions(tmp_path, monkeypatch, capsys):
    _pretend_one_gpu(monkeypatch)
    with pytest.raises(RuntimeError, match="no COCO\\+LVIS data for the full run"):
        _run_until_the_data_cell(tmp_path, monkeypatch, capsys)
    out = capsys.readouterr().out
    assert "python -m ritm_lite.data.download coco2017 lvis-v1" in out
    assert "python -m ritm_lite.data.coco_lvis" in out and "RITM_SMOKE=1" in out


def test_a_merged_toy_set_does_not_count_as_the_data(tmp_path, monkeypatch, capsys):
    _pretend_one_gpu(monkeypatch)
    summary = tmp_path / "data" / "coco_lvis" / "train" / "summary.json"
    summary.parent.mkdir(parents=True)
    summary.write_text('{"images": {"written": 4}}')
    with pytest.raises(RuntimeError, match="no COCO\\+LVIS data"):
        _run_until_the_data_cell(tmp_path, monkeypatch, capsys)
    summary.write_text('{"images": {"written": 99000}}')  # a real merge, raw files deleted
    namespace, commands = _run_until_the_data_cell(tmp_path, monkeypatch, capsys)
    assert namespace["FULL"] and namespace["merged"] == tmp_path / "data" / "coco_lvis"
    assert commands == []  # already merged: nothing to run

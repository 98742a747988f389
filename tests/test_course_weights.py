"""The course's shipped weights: present, small, loadable, and their model card's numbers hold."""

from __future__ import annotations

import json
import re

import pytest
import torch

import ritm_lite
from ritm_lite.evaluate import main as evaluate_main
from ritm_lite.weights import COURSE_CHECKPOINT, GRABCUT_EVAL, MODEL_CARD, load_course_model


def test_shipped_checkpoint_is_float16_and_at_most_10_mb():
    assert COURSE_CHECKPOINT.is_file(), f"missing {COURSE_CHECKPOINT}"
    assert COURSE_CHECKPOINT.stat().st_size <= 10 * 2**20
    contents = torch.load(COURSE_CHECKPOINT, map_location="cpu", weights_only=True)
    floats = [v for v in contents["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert contents["config"]["backbone"] == "hrnet18s"


def test_load_course_model_gives_a_float32_w18s_in_eval_mode():
    model = load_course_model()
    assert isinstance(model, ritm_lite.RITMModel) and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == 4_220_047


def test_model_card_quotes_the_stored_evaluation():
    record = json.loads(GRABCUT_EVAL.read_text())
    card = MODEL_CARD.read_text()
    table = record["table"]
    for key in ("NoC@85", "NoC@90"):
        assert f"{table[key]:.2f}" in card, f"{key} {table[key]:.2f} not in the model card"
    assert re.search(r"python -m ritm_lite\.train ", card) and "python -m ritm_lite.evaluate" in card


def test_stored_grabcut_curves_are_reproduced(tmp_path, grabcut_dir):
    """Re-run the card's evaluation on the first GrabCut objects: same clicks, same IoUs."""
    stored = json.loads(GRABCUT_EVAL.read_text())
    out = tmp_path / "grabcut.json"
    evaluate_main(["--checkpoint", str(COURSE_CHECKPOINT), "--dataset", "GrabCut", "--data-root", str(grabcut_dir),
                   "--limit", "3", "--max-clicks", "5", "--device", "cpu", "--quiet", "--json", str(out)])
    fresh = json.loads(out.read_text())["objects"]
    assert [o["name"] for o in fresh] == [o["name"] for o in stored["objects"][:3]]
    for new, old in zip(fresh, stored["objects"]):
        n = len(new["ious"])
        assert new["ious"] == pytest.approx(old["ious"][:n], abs=2e-3), new["name"]
        assert new["clicks"] == old["clicks"][: len(new["clicks"])], new["name"]

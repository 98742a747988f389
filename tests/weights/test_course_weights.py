"""The course's shipped weights: present, small, loadable, and their model card's numbers hold."""

from __future__ import annotations

import json
import re

import pytest
import torch

import ritm_lite
from ritm_lite.evaluate import main as evaluate_main
from ritm_lite.weights import (
    COURSE_CHECKPOINT,
    COURSE_WEIGHTS,
    DEFAULT_COURSE_WEIGHTS,
    MODEL_CARD,
    grabcut_evaluation,
    load_course_model,
)
from ritm_lite.inference import InferenceSettings, read_settings, unwrap

# name -> (backbone, parameters, at most this many MiB on disk)
EXPECTED = {
    "efficientnet_lite0_course": ("efficientnet_lite0", 3_038_307, 16),
    "efficientnet_lite0_stage7": ("efficientnet_lite0", 3_038_307, 16),
    "hrnet18s_scratch": ("hrnet18s", 4_220_047, 10),
}


def test_the_default_is_the_pretrained_efficientnet():
    assert DEFAULT_COURSE_WEIGHTS == "efficientnet_lite0_course"
    assert COURSE_CHECKPOINT == COURSE_WEIGHTS["efficientnet_lite0_course"]
    assert unwrap(load_course_model())[0].config.backbone == "efficientnet_lite0"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_checkpoint_is_float16_and_small(name):
    path = COURSE_WEIGHTS[name]
    backbone, _, mib = EXPECTED[name]
    assert path.is_file(), f"missing {path}"
    assert path.stat().st_size <= mib * 2**20
    contents = torch.load(path, map_location="cpu", weights_only=True)
    floats = [v for v in contents["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert contents["config"]["backbone"] == backbone


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_course_model_gives_float32_in_eval_mode(name):
    model, _ = unwrap(load_course_model(name))
    assert isinstance(model, ritm_lite.RITMModel) and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == EXPECTED[name][1]


def test_unknown_course_weights_are_named():
    with pytest.raises(ValueError, match="hrnet18s_scratch"):
        load_course_model("hrnet18s")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_model_card_quotes_the_stored_evaluation(name):
    record = json.loads(grabcut_evaluation(name).read_text())
    card = MODEL_CARD.read_text()
    table = record["table"]
    for key in ("NoC@85", "NoC@90"):
        assert f"{table[key]:.2f}" in card, f"{name}: {key} {table[key]:.2f} not in the model card"
    assert re.search(r"python -m ritm_lite\.train ", card) and "python -m ritm_lite.evaluate" in card
    assert grabcut_evaluation(name).name in card


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stored_grabcut_curves_are_reproduced(name, tmp_path, grabcut_dir):
    """Re-run the card's evaluation on the first GrabCut objects: same clicks, same IoUs."""
    stored = json.loads(grabcut_evaluation(name).read_text())
    # the stored evaluation is of the settings the weights store (and nothing else)
    assert stored["zoom_in"] and stored["flip"] and stored.get("max_size") is None
    # older records name the settings as the flags they were ("multi_scale", "refine")
    settings = stored.get("inference") or {k: stored[k] for k in ("multi_scale", "refine") if stored.get(k)}
    assert settings == read_settings(COURSE_WEIGHTS[name]).to_meta()
    out = tmp_path / "grabcut.json"
    assert evaluate_main(["--checkpoint", str(COURSE_WEIGHTS[name]), "--dataset", "GrabCut", "--data-root",
                          str(grabcut_dir), "--limit", "3", "--max-clicks", "5", "--device", "cpu", "--quiet",
                          "--json", str(out)]) == 0
    fresh = json.loads(out.read_text())["objects"]
    assert [o["name"] for o in fresh] == [o["name"] for o in stored["objects"][:3]]
    for new, old in zip(fresh, stored["objects"]):
        n = len(new["ious"])
        assert new["ious"] == pytest.approx(old["ious"][:n], abs=2e-3), new["name"]
        assert new["clicks"] == old["clicks"][: len(new["clicks"])], new["name"]


def test_each_course_weights_file_carries_its_click_time_settings():
    """The default needs the paper's protocol alone (ZoomIn, flip: no setting in its file); the
    previous default's two scales and refinement pass travel in its file, and every way of
    loading it applies them."""
    assert read_settings(COURSE_CHECKPOINT) == InferenceSettings()
    assert read_settings(COURSE_WEIGHTS["hrnet18s_scratch"]) == InferenceSettings()
    stage7 = COURSE_WEIGHTS["efficientnet_lite0_stage7"]
    assert read_settings(stage7) == InferenceSettings(multi_scale=320, refine=1)
    for model in (load_course_model("efficientnet_lite0_stage7"), ritm_lite.load_checkpoint(stage7)):
        assert unwrap(model)[1] == InferenceSettings(multi_scale=320, refine=1)
    for model in (load_course_model(), ritm_lite.load_checkpoint(COURSE_CHECKPOINT)):
        assert unwrap(model)[1] == InferenceSettings()
    import ritm_lite.weights as weights

    assert not hasattr(weights, "COURSE_PREDICTOR_SETTINGS") and not hasattr(weights, "predictor_settings")

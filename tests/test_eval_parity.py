"""Parity with the original evaluation protocol, end to end (the core proof of this stage).

``ritm_eval_trajectory_reference.pt`` holds what the original RITM code did with the stored
HRNet-W18-small reference model (its ``cls_head.bias`` shifted so predictions are neither
empty nor full) on a synthetic image: the automatic clicker's clicks, the probability map
after every click, and the IoUs, for a predictor without ZoomIn and flip (``plain``) and with
both (``zoomin_flip``). Our clicker + Predictor + loop must follow the same trajectory: same
clicks, same IoUs, probability maps within 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ritm_lite import build_model
from ritm_lite.evaluation import evaluate_sample
from ritm_lite.inference import Predictor


@pytest.fixture(scope="module")
def reference(reference_dir):
    return torch.load(reference_dir / "ritm_eval_trajectory_reference.pt", weights_only=True)


@pytest.fixture(scope="module")
def model(reference, reference_dir):
    stored = torch.load(reference_dir / reference["model"], weights_only=True)["state_dict"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in stored.items()}
    state["feature_extractor.cls_head.bias"] = state["feature_extractor.cls_head.bias"] + reference["cls_head_bias_shift"]
    net = build_model("hrnet18s", init=False)
    net.load_state_dict(state)
    return net.eval()


SETTINGS = {
    "plain": dict(zoom_in=False, flip=False),
    "zoomin_flip": dict(zoom_in=True, flip=True, zoom_in_target_size=400),
}


@pytest.mark.slow
@pytest.mark.parametrize("record", sorted(SETTINGS))
def test_trajectory_matches_the_original(record, reference, model):
    expected = reference["records"][record]
    steps: list[tuple[list, np.ndarray]] = []
    result = evaluate_sample(
        reference["image"].numpy(),
        reference["gt_mask"].numpy(),
        Predictor(model, **SETTINGS[record]),
        target_iou=1.01,  # never stop early: follow all recorded clicks
        pred_thr=reference["pred_thr"],
        max_clicks=len(expected["steps"]),
        callback=lambda index, clicks, probs: steps.append((clicks, probs.copy())),
    )
    assert len(steps) == len(expected["steps"])
    for k, ((clicks, probs), step) in enumerate(zip(steps, expected["steps"])):
        ours = [(c.y, c.x, c.is_positive) for c in clicks]  # the fixture stores (row, col, positive)
        assert ours == [tuple(c) for c in step["clicks"]], f"click {k + 1} differs"
        np.testing.assert_allclose(probs, step["probs"].numpy(), atol=1e-4, rtol=0, err_msg=f"probs after click {k + 1}")
    np.testing.assert_allclose(result.ious, expected["ious"].numpy(), atol=1e-6, rtol=0)

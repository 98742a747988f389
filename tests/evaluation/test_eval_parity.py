"""Parity with the original evaluation protocol, end to end (the core proof of this stage).

``ritm_eval_trajectory_reference.pt`` holds what the original RITM code did with the stored
HRNet-W18-small reference model (its ``cls_head.bias`` shifted so predictions are neither
empty nor full) on a synthetic image: the automatic clicker's clicks, the probability map
after every click, and the IoUs, for a predictor without ZoomIn and flip (``plain``) and with
both (``zoomin_flip``).

Two checks per setting:

* **free run** — our clicker + Predictor + loop, left alone for 8 clicks, must choose the same
  clicks, reach the same IoUs and give every map within 1e-4. Each step feeds its
  probabilities back into the next, so float rounding compounds, and a convolution's rounding
  depends on the CPU kernels and on how many threads share its sums. The fixture was produced
  with AVX2 kernels and 2 threads; under exactly those (``reference_numerics``, see
  ``conftest.py``) our maps equal the original's (max difference 0.0). Under other kernels the
  ``plain`` record drifts: 2.8e-4 after 3 clicks on one AVX2 thread, and on AVX-512 with 2
  threads the drift reaches the 0.49 threshold and the 6th click moves. Pinning the ISA is not
  always enough: on one CI machine the AVX2 kernels gave 1.9e-4 after the 2nd click, because
  oneDNN also picks its blocking (and so the order of a sum) by the CPU's caches. A ``plain``
  run that misses the fixture therefore fails only where its first map equals the fixture's
  bit for bit; elsewhere it is skipped, with the measured difference. The ZoomIn + flip record stays within
  5e-5 everywhere and is always checked.
* **step by step** — every click is run from the original's previous prediction (given as
  ``mask_input``), so rounding cannot compound: on this machine's own kernels, whatever they
  are, every map must be within 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ritm_lite import build_model
from ritm_lite.evaluation import evaluate_sample
from ritm_lite.inference import Predictor, ZoomInConfig
from ritm_lite.inference.fast import optimize_for_inference


@pytest.fixture(scope="module")
def reference(reference_dir):
    return torch.load(reference_dir / "ritm_eval_trajectory_reference.pt", weights_only=True)


@pytest.fixture(scope="module")
def model(reference, reference_dir):
    stored = torch.load(reference_dir / reference["model"], weights_only=True)["state_dict"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in stored.items()}
    state["feature_extractor.cls_head.bias"] = (
        state["feature_extractor.cls_head.bias"] + reference["cls_head_bias_shift"]
    )
    net = build_model("hrnet18s", init=False)
    net.load_state_dict(state)
    return net.eval()


SETTINGS = {
    "plain": {"zoom_in": False, "flip": False},
    "zoomin_flip": {"zoom_in": ZoomInConfig(target_size=400), "flip": True},
}

# (record, network): the plain eager model, and the fast one (ritm_lite.inference.fast) in
# the paper's protocol. The fast model on the `plain` record is left out: there the reference
# weights are so sensitive to float32 rounding that any other convolution kernel (even the
# same model in channels_last) moves the maps by 1.2-1.6e-4, as far as the eager model itself
# is from the float64 result (tests/inference/test_fast_inference.py compares both with float64).
CASES = [("plain", "eager"), ("zoomin_flip", "eager"), ("zoomin_flip", "fast")]

# Records whose free run is ill-conditioned (the shifted reference model hovers near the
# threshold, so float32 rounding of other kernels compounds into other clicks): where the run
# misses the fixture and this CPU did not reproduce the fixture's first map exactly, skipped.
NEEDS_FIXTURE_KERNELS = {"plain"}


def _network(model, name):
    return optimize_for_inference(model) if name == "fast" else model


@pytest.mark.slow
@pytest.mark.reference_numerics
@pytest.mark.parametrize("record, network", CASES)
def test_free_run_follows_the_original_trajectory(record, network, reference, model, two_threads):
    expected = reference["records"][record]
    steps: list[tuple[list, np.ndarray]] = []
    result = evaluate_sample(
        reference["image"].numpy(),
        reference["gt_mask"].numpy(),
        Predictor(_network(model, network), **SETTINGS[record]),
        target_iou=1.01,  # never stop early: follow all recorded clicks
        pred_thr=reference["pred_thr"],
        max_clicks=len(expected["steps"]),
        callback=lambda index, clicks, probs: steps.append((clicks, probs.copy())),
    )
    assert len(steps) == len(expected["steps"])
    try:
        _assert_same_trajectory(steps, result.ious, expected)
    except AssertionError as error:
        first = float(np.abs(steps[0][1] - expected["steps"][0]["probs"].numpy()).max())
        if record not in NEEDS_FIXTURE_KERNELS or first == 0.0:
            raise
        pytest.skip(
            f"this CPU's kernels do not reproduce the fixture (first map off by {first:.2g}), and "
            f"the {record!r} free run compounded that ({str(error).strip().splitlines()[0]}); the "
            "step-by-step test and the ZoomIn + flip free run check parity here"
        )


def _assert_same_trajectory(steps: list[tuple[list, np.ndarray]], ious, expected) -> None:
    """Same clicks, every map within 1e-4 and the same IoUs as the fixture's record."""
    for k, ((clicks, probs), step) in enumerate(zip(steps, expected["steps"])):
        ours = [
            (c.y, c.x, c.is_positive) for c in clicks
        ]  # the fixture stores (row, col, positive)
        assert ours == [tuple(c) for c in step["clicks"]], f"click {k + 1} differs"
        np.testing.assert_allclose(
            probs, step["probs"].numpy(), atol=1e-4, rtol=0, err_msg=f"probs after click {k + 1}"
        )
    np.testing.assert_allclose(ious, expected["ious"].numpy(), atol=1e-4, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("record, network", CASES)
def test_every_step_matches_the_original_to_1e4(record, network, reference, model, one_thread):
    expected = reference["records"][record]["steps"]
    predictor = Predictor(_network(model, network), **SETTINGS[record])
    predictor.set_image(reference["image"].numpy())
    for k, step in enumerate(expected):
        coords = np.array([(col, row) for row, col, _ in step["clicks"]], dtype=np.float64)
        labels = np.array([int(positive) for _, _, positive in step["clicks"]])
        previous = expected[k - 1]["probs"].numpy() if k else None
        probs = predictor.predict(coords, labels, mask_input=previous)
        np.testing.assert_allclose(
            probs, step["probs"].numpy(), atol=1e-4, rtol=0, err_msg=f"click {k + 1}"
        )

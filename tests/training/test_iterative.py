"""Iterative training: the original's training click rule and the simulated interaction."""

import numpy as np
import pytest
import torch

from ritm_lite.clicks import Click, clicks_from_points, points_tensor
from ritm_lite.model import build_model
from ritm_lite.training.iterative import (add_training_clicks, click_candidates, simulate_interaction,
                                          training_next_click)


@pytest.fixture(scope="module")
def reference(reference_dir):
    return torch.load(reference_dir / "ritm_training_next_click_reference.pt", weights_only=True)


def test_sign_and_candidate_pixels_match_the_original(reference):
    for i in range(len(reference["gt"])):
        probs = reference["pred_probs"][i, 0].numpy()
        gt = reference["gt"][i, 0].numpy()
        is_positive, candidates = click_candidates(probs, gt, reference["pred_thresh"])
        assert is_positive == bool(reference["is_positive"][i])
        assert np.array_equal(candidates, reference["candidates"][i].numpy()), f"sample {i}"


def test_clicks_are_uniform_over_the_candidates(reference):
    probs, gt = reference["pred_probs"][0, 0].numpy(), reference["gt"][0, 0].numpy()
    candidates = reference["candidates"][0].numpy()
    rng = np.random.default_rng(0)
    hits = np.zeros_like(candidates, dtype=int)
    draws = 20 * int(candidates.sum())
    for _ in range(draws):
        click = training_next_click(probs, gt, index=1, rng=rng)
        hits[int(click.y), int(click.x)] += 1
    assert hits[~candidates].sum() == 0
    assert (hits[candidates] > 0).all()  # every candidate reachable
    expected = draws / candidates.sum()
    chi2 = (((hits[candidates] - expected) ** 2) / expected).sum()
    assert chi2 < candidates.sum() + 5 * np.sqrt(2 * candidates.sum())  # chi-square, ~5 sigma


def test_slot_rule_matches_the_original(reference):
    assert "N - k" in reference["slot_rule"] and "2N - k" in reference["slot_rule"]
    probs, gt = reference["pred_probs"], reference["gt"]
    points = points_tensor([[Click(0, 0, True, 0)]] * 6, num_points=4)
    out = add_training_clicks(points, probs, gt, step=2, rng=np.random.default_rng(0))
    for i in range(6):
        positive = bool(reference["is_positive"][i])
        row = (4 - 2) if positive else (8 - 2)
        r, c, index = out[i, row].tolist()
        assert index == 2 and reference["candidates"][i, int(r), int(c)]
        untouched = [k for k in range(8) if k != row]
        assert torch.equal(out[i, untouched], points[i, untouched])
    assert torch.equal(points[:, 0], points_tensor([[Click(0, 0, True, 0)]] * 6, num_points=4)[:, 0])


def test_a_perfect_prediction_gets_no_click():
    gt = np.zeros((20, 30), np.float32)
    gt[5:15, 5:20] = 1
    assert training_next_click(gt.copy(), gt, 1, np.random.default_rng(0)) is None


def test_ignore_pixels_count_as_background_like_the_original():
    gt = np.full((20, 30), -1.0, np.float32)
    probs = np.ones((20, 30), np.float32)
    is_positive, candidates = click_candidates(probs, gt)
    assert not is_positive and candidates.any()


def _eval_probs(model, images, prev_mask, points):
    """One eval-mode prediction, as a user of the trained network would get it."""
    with torch.no_grad():
        return torch.sigmoid(model(torch.cat([images, prev_mask], dim=1), points)["instances"])


def test_simulated_interaction_runs_in_eval_mode_adds_a_click_per_step_and_feeds_back_the_mask():
    torch.manual_seed(0)
    model = build_model("hrnet18s").train()
    images = torch.rand(2, 3, 48, 64)
    gt = torch.zeros(2, 1, 48, 64)
    gt[:, :, 10:40, 10:50] = 1
    points = points_tensor([[Click(30, 25, True, 0)]] * 2, num_points=4)
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    prev, new_points = simulate_interaction(model, images, gt, points, 2, np.random.default_rng(0))
    assert model.training
    # eval mode: BatchNorm used its running statistics and did not update them
    assert all(torch.equal(b, buffers[name]) for name, b in model.named_buffers())
    assert prev.shape == (2, 1, 48, 64) and 0 < float(prev.mean()) < 1

    # Replay by hand, in eval mode: step 1 predicts from the sampler's clicks and no mask...
    model.eval()
    zeros = torch.zeros_like(gt)
    first = _eval_probs(model, images, zeros, points)
    for sample in range(2):
        assert torch.equal(new_points[sample, [0, 1, 4, 5]], points[sample, [0, 1, 4, 5]])
        for step in (1, 2):  # ...and each step adds exactly one click: slot N - k or 2N - k
            rows = [r for r in (4 - step, 8 - step) if new_points[sample, r, 2] == step]
            assert len(rows) == 1, (sample, step)
            other = (4 - step) + (8 - step) - rows[0]  # the slot of the other sign stays empty
            assert torch.equal(new_points[sample, other], torch.full((3,), -1.0))
        is_positive, candidates = click_candidates(first[sample, 0].numpy(), gt[sample, 0].numpy())
        row = 3 if is_positive else 7  # the step-1 click follows the rule on step 1's prediction
        r, c, _ = new_points[sample, row].tolist()
        assert candidates[int(r), int(c)], sample

    # ...and the returned mask is step 2's prediction: the clicks before the last one, with
    # step 1's prediction fed back as the previous mask.
    before_last = new_points.clone()
    before_last[:, [2, 6]] = -1.0  # drop the step-2 clicks (those slots were empty)
    expected = _eval_probs(model, images, first, before_last)
    torch.testing.assert_close(prev, expected, atol=1e-6, rtol=0)
    unfed = _eval_probs(model, images, zeros, before_last)
    assert (unfed - expected).abs().max() > 1e-3  # the previous mask does change the output
    model.train()

    zero_prev, same = simulate_interaction(model, images, gt, points, 0, np.random.default_rng(0))
    assert torch.equal(zero_prev, torch.zeros(2, 1, 48, 64)) and torch.equal(same, points)

"""Losses: parity with the original RITM code, the detached normaliser, ignore pixels, bad input."""

from __future__ import annotations

import pytest
import torch

from ritm_lite.losses import (
    FocalLoss,
    NormalizedFocalLoss,
    SigmoidBinaryCrossEntropyLoss,
    SoftIoU,
    focal_loss,
    focal_normalizer,
    normalized_focal_loss,
    sigmoid_binary_cross_entropy,
    soft_iou_loss,
)

REFERENCE_NAMES = {
    "nfl_alpha0.5_gamma2": NormalizedFocalLoss(alpha=0.5, gamma=2),
    "focal_alpha0.5_gamma2": FocalLoss(alpha=0.5, gamma=2),
    "soft_iou": SoftIoU(),
    "bce": SigmoidBinaryCrossEntropyLoss(),
}


@pytest.fixture(scope="module")
def reference(reference_dir):
    return torch.load(reference_dir / "ritm_losses_reference.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(REFERENCE_NAMES))
def test_parity_with_original(reference, name):
    loss = REFERENCE_NAMES[name](reference["pred_logits"], reference["label"])
    expected = reference["losses"][name]
    assert loss.shape == (4,)
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=0)


def test_reference_has_ignored_pixels(reference):
    # The parity test above only proves ignore handling if the fixture has ignored pixels.
    assert (reference["label"] == reference["ignore_label"]).sum() == 4 * 5 * 5


def _random_batch(seed: int = 0, shape=(3, 1, 12, 16)):
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(shape, generator=gen)
    labels = (torch.rand(shape, generator=gen) > 0.6).float()
    labels[:, :, :3, :4] = -1.0
    return logits, labels


def _naive_focal_terms(logits, labels, alpha, gamma):
    """Focal terms written from the paper's formula, pixel by pixel in float64."""
    p = torch.sigmoid(logits.double())
    y = labels.double()
    valid = y != -1
    p_t = torch.where(y == 1, p, 1 - p)
    a_t = torch.where(y == 1, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha))
    return valid, a_t, p_t, (1 - p_t) ** gamma


def test_nfl_matches_paper_formula():
    logits, labels = _random_batch()
    valid, a_t, p_t, beta = _naive_focal_terms(logits, labels, 0.5, 2.0)
    losses = []
    for b in range(logits.shape[0]):
        v = valid[b]
        weight = beta[b][v] / beta[b][v].mean()  # (1 - p_t)^gamma / mean over P
        losses.append((-a_t[b][v] * weight * torch.log(p_t[b][v])).mean())
    expected = torch.stack(losses).float()
    torch.testing.assert_close(normalized_focal_loss(logits, labels), expected, rtol=1e-5, atol=1e-7)


def test_focal_and_bce_match_paper_formula():
    logits, labels = _random_batch(1)
    valid, a_t, p_t, beta = _naive_focal_terms(logits, labels, 0.25, 3.0)
    fl = torch.stack([(-a_t[b] * beta[b] * torch.log(p_t[b]))[valid[b]].mean() for b in range(3)])
    torch.testing.assert_close(focal_loss(logits, labels, alpha=0.25, gamma=3.0), fl.float(), rtol=1e-5, atol=1e-7)
    # BCE: ignored pixels are zeros in the numerator but count in the denominator.
    bce = torch.stack([(-torch.log(p_t[b]) * valid[b]).mean() for b in range(3)])
    torch.testing.assert_close(sigmoid_binary_cross_entropy(logits, labels), bce.float(), rtol=1e-5, atol=1e-7)


def test_soft_iou_analytic():
    # Saturated logits: p is exactly 0/1, so soft IoU is the hard IoU of 2 overlap / 4 union.
    labels = torch.tensor([[[[1.0, 1.0, 0.0, 0.0, -1.0]]]])
    logits = torch.tensor([[[[50.0, 50.0, 50.0, -50.0, 50.0]]]])
    # intersection 2, union = max(p, y) over valid = 1 + 1 + 1 + 0 = 3
    torch.testing.assert_close(soft_iou_loss(logits, labels), torch.tensor([1 - 2 / 3]))


def test_normaliser_value_and_detached():
    logits, labels = _random_batch(2)
    logits.requires_grad_(True)
    valid, _, _, beta = _naive_focal_terms(logits.detach(), labels, 0.5, 2.0)
    norm = focal_normalizer(logits, labels)
    assert norm.shape == (3, 1, 1, 1) and not norm.requires_grad
    expected = valid.sum(dim=(2, 3)) / (beta * valid).sum(dim=(2, 3))
    torch.testing.assert_close(norm.flatten(), expected.flatten().float(), rtol=1e-5, atol=0)


def test_nfl_gradient_treats_normaliser_as_constant():
    logits, labels = (t.double() for t in _random_batch(3))  # float64: compare gradients tightly
    alpha, gamma = 0.5, 2.0

    def hand_built(x, detach: bool):
        p = torch.sigmoid(x)
        valid = labels != -1
        p_t = torch.where(labels == 1, p, 1 - p)
        a_t = torch.where(labels == 1, alpha, 1 - alpha) * valid
        beta = (1 - p_t) ** gamma * valid
        mult = valid.sum(dim=(2, 3), keepdim=True) / beta.sum(dim=(2, 3), keepdim=True)
        if detach:
            mult = mult.detach()
        loss = -a_t * beta * mult * torch.log(p_t)
        return (loss.sum(dim=(1, 2, 3)) / valid.sum(dim=(1, 2, 3))).sum()

    x_lib = logits.clone().requires_grad_(True)
    normalized_focal_loss(x_lib, labels).sum().backward()
    x_detached = logits.clone().requires_grad_(True)
    hand_built(x_detached, detach=True).backward()
    x_attached = logits.clone().requires_grad_(True)
    hand_built(x_attached, detach=False).backward()

    torch.testing.assert_close(x_lib.grad, x_detached.grad, rtol=1e-7, atol=1e-12)
    # The check above could not tell the two apart if detaching did not matter here.
    assert (x_detached.grad - x_attached.grad).abs().max() > 1e-4


def test_focal_gradient_analytic():
    # d/dx of -a (1-p)^g log p for a positive pixel, x the logit, p = sigmoid(x):
    # a (1-p)^g [ g p log p - (1 - p) ]
    x = torch.tensor([[[[0.3, -1.2, 2.0]]]], dtype=torch.float64, requires_grad=True)
    y = torch.ones_like(x)
    alpha, gamma = 0.25, 2.0
    (focal_loss(x, y, alpha, gamma) * 3).sum().backward()  # undo the mean over 3 pixels
    p = torch.sigmoid(x.detach())
    expected = alpha * (1 - p) ** gamma * (gamma * p * torch.log(p) - (1 - p))
    torch.testing.assert_close(x.grad, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss_fn", [normalized_focal_loss, focal_loss, sigmoid_binary_cross_entropy, soft_iou_loss])
def test_ignored_pixels_get_no_gradient_and_do_not_matter(loss_fn):
    logits, labels = _random_batch(4)
    x = logits.clone().requires_grad_(True)
    loss = loss_fn(x, labels)
    loss.sum().backward()
    ignored = labels == -1
    assert torch.all(x.grad[ignored] == 0)
    assert torch.all(x.grad[~ignored].abs().sum() > 0)
    # Whatever the network predicts on ignored pixels, the loss is the same.
    changed = logits.clone()
    changed[ignored] = -changed[ignored] + 7.0
    torch.testing.assert_close(loss_fn(changed, labels), loss.detach())


def test_perfect_prediction_gives_near_zero_focal_losses():
    labels = torch.zeros(2, 1, 8, 8)
    labels[:, :, 2:6, 2:6] = 1
    logits = torch.where(labels > 0, 30.0, -30.0)
    assert normalized_focal_loss(logits, labels).abs().max() < 1e-6
    assert focal_loss(logits, labels).abs().max() < 1e-6
    assert soft_iou_loss(logits, labels).abs().max() < 1e-6


@pytest.mark.parametrize("loss_fn", [normalized_focal_loss, focal_loss, sigmoid_binary_cross_entropy, soft_iou_loss])
def test_bad_input(loss_fn):
    logits = torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match="same shape"):
        loss_fn(logits, torch.zeros(2, 1, 8, 9))
    with pytest.raises(ValueError, match="B, C, H, W"):
        loss_fn(torch.zeros(2, 8, 8), torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="float"):
        loss_fn(logits, torch.zeros(2, 1, 8, 8, dtype=torch.long))


def test_modules_are_stateless():
    logits, labels = _random_batch(5)
    loss = NormalizedFocalLoss()
    before = dict(loss.state_dict()), dict(vars(loss))
    first = loss(logits, labels)
    second = loss(logits, labels)
    assert torch.equal(first, second)
    assert dict(loss.state_dict()) == before[0] and vars(loss).keys() == before[1].keys()
    assert "alpha=0.5, gamma=2" in repr(loss)

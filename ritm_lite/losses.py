"""Losses: Normalized Focal Loss (the paper's training loss, Sec. 3.4), Focal Loss, BCE, soft IoU.

All four take the network's **logits** ``(B, C, H, W)`` (RITM uses ``C = 1``) and float
**labels** of the same shape: ``1`` object, ``0`` background, ``-1`` ignore. They return one
loss per sample, ``(B,)``; the trainer averages over the batch. The maths is the original
implementation's (``isegm/model/losses.py``), checked against its golden outputs
(``ritm_losses_reference.pt``, in the folder :func:`ritm_lite.data.locate.reference_folder` names).

Focal Loss (Lin et al. 2017) down-weights pixels that are already right. With
``p = sigmoid(logit)`` and, for every non-ignored pixel,

    p_t = 1 - |y - p|                 (probability given to the true class)
    a_t = alpha if y = 1 else 1 - alpha
    FL  = -a_t (1 - p_t)^gamma log(p_t)

RITM's **Normalized Focal Loss** (paper, eq. 2) rescales the focal weights of each image so
that they sum to the number of pixels, i.e. to what plain BCE would give::

    NFL = -a_t * (1 - p_t)^gamma / (1/|P| * sum_P (1 - p_t)^gamma) * log(p_t)

The normaliser ``sum(weights) / sum((1 - p_t)^gamma)`` is computed per image and per channel,
and it is *detached*: no gradient flows through it. As predictions improve, the focal weights
of FL shrink and so does its gradient ("gradient fade"); NFL keeps the total weight constant,
so the remaining hard pixels keep getting a full-size gradient (notebook 04).

Differences between the losses that the original code has and this module keeps:

* FL/NFL average over the *non-ignored* pixels (``sum / (count + eps)``); BCE averages over
  *all* pixels, ignored ones counting as zeros in the numerator.
* the log is taken of ``min(p_t + eps, 1)`` with ``eps = 1e-12`` (NFL) or ``1e-9`` (FL);
  the NFL normaliser uses ``sum(beta) + 1e-12``; soft IoU uses ``+ 1e-8``.
* the paper writes NFL with ``alpha`` folded away; the ITER-M configs train with
  ``alpha = 0.5, gamma = 2`` and BCE with weight 0.4 on the auxiliary head.

The original ``NormalizedFocalLossSigmoid`` also updates running statistics of the
normaliser inside ``forward``; here :func:`focal_normalizer` returns it instead, so a trainer
can log it without any module holding state.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_LABEL = -1.0
"""Label value of pixels that no loss looks at."""


def _check(logits: torch.Tensor, labels: torch.Tensor) -> None:
    if logits.dim() != 4:
        raise ValueError(f"logits must have shape (B, C, H, W), got {tuple(logits.shape)}")
    if labels.shape != logits.shape:
        raise ValueError(
            f"labels {tuple(labels.shape)} must have the same shape as logits {tuple(logits.shape)}"
        )
    if not labels.is_floating_point():
        raise ValueError(f"labels must be a float tensor (1 / 0 / -1), got {labels.dtype}")


def focal_terms(
    logits: torch.Tensor, labels: torch.Tensor, alpha: float, gamma: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``valid`` mask, ``alpha_t`` (zero on ignored pixels), ``p_t`` and ``(1 - p_t)^gamma``."""
    valid = labels != IGNORE_LABEL
    probs = torch.sigmoid(logits)  # p = sigmoid(logit)
    alpha_t = torch.where(labels > 0.5, alpha * valid, (1.0 - alpha) * valid)  # a_t = alpha if y = 1 else 1 - alpha
    p_t = torch.where(valid, 1.0 - torch.abs(labels - probs), torch.ones_like(probs))  # p_t = 1 - |y - p|
    return valid, alpha_t, p_t, (1.0 - p_t) ** gamma  # focal weight (1 - p_t)^gamma


def _mean_over_valid(loss: torch.Tensor, valid: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-sample ``sum(loss) / (number of non-ignored pixels + eps)``, shape ``(B,)``."""
    return loss.sum(dim=(1, 2, 3)) / (valid.sum(dim=(1, 2, 3)) + eps)


def focal_normalizer(
    logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0, eps: float = 1e-12
) -> torch.Tensor:
    """NFL's normaliser ``sum(valid) / (sum((1 - p_t)^gamma) + eps)`` per image and channel.

    Args:
        logits: ``(B, C, H, W)`` float logits.
        labels: ``(B, C, H, W)`` float, 1 object / 0 background / -1 ignore.
        gamma: focusing parameter.
        eps: added to the denominator (the original's 1e-12).

    Returns:
        ``(B, C, 1, 1)`` tensor, detached (no gradient flows through the normaliser). Its
        value grows as predictions improve; ``.flatten(1).mean(1)`` gives one number per
        sample for logging (the original's ``k``).
    """
    _check(logits, labels)
    with torch.no_grad():
        valid, _, _, beta = focal_terms(logits, labels, 0.5, gamma)
        return valid.sum(dim=(-2, -1), keepdim=True) / (beta.sum(dim=(-2, -1), keepdim=True) + eps)


def normalized_focal_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 0.5,
    gamma: float = 2.0,
    eps: float = 1e-12,
) -> torch.Tensor:
    """Normalized Focal Loss per sample, exactly as RITM trains with it.

    Args:
        logits: ``(B, C, H, W)`` float logits.
        labels: ``(B, C, H, W)`` float, 1 object / 0 background / -1 ignore.
        alpha: weight of object pixels (background gets ``1 - alpha``); training uses 0.5.
        gamma: focusing parameter; training uses 2.
        eps: the original's 1e-12, in the log clamp, the normaliser and the mean.

    Returns:
        ``(B,)`` losses: mean over each sample's non-ignored pixels.
    """
    _check(logits, labels)
    valid, alpha_t, p_t, beta = focal_terms(logits, labels, alpha, gamma)
    beta = beta * focal_normalizer(logits, labels, gamma, eps)  # (1 - p_t)^gamma * |P| / sum_P (1 - p_t)^gamma
    log_p_t = torch.log(torch.clamp(p_t + eps, max=1.0))  # log min(p_t + eps, 1)
    return _mean_over_valid(-alpha_t * beta * log_p_t * valid, valid, eps)  # NFL = -a_t * beta * log(p_t)


def focal_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 0.5,
    gamma: float = 2.0,
    eps: float = 1e-9,
) -> torch.Tensor:
    """Focal Loss per sample (the original's ``FocalLoss``; note its ``eps`` is 1e-9).

    Args and shapes as :func:`normalized_focal_loss`. Returns ``(B,)``: the mean of
    ``-a_t (1 - p_t)^gamma log(min(p_t + eps, 1))`` over each sample's non-ignored pixels.
    """
    _check(logits, labels)
    valid, alpha_t, p_t, beta = focal_terms(logits, labels, alpha, gamma)
    log_p_t = torch.log(torch.clamp(p_t + eps, max=1.0))
    return _mean_over_valid(-alpha_t * beta * log_p_t * valid, valid, eps)


def sigmoid_binary_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits per sample (RITM's auxiliary-head loss, weight 0.4).

    Computed stably as ``relu(x) - x * y + softplus(-|x|)``. Ignored pixels contribute 0, but
    the mean is over *all* ``C * H * W`` pixels, as in the original.

    Returns:
        ``(B,)`` losses.
    """
    _check(logits, labels)
    valid = labels != IGNORE_LABEL
    targets = torch.where(valid, labels, torch.zeros_like(labels))
    loss = F.relu(logits) - logits * targets + F.softplus(-torch.abs(logits))
    return (loss * valid).mean(dim=(1, 2, 3))


def soft_iou_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Soft IoU loss per sample: ``1 - sum(p * y) / (sum(max(p, y)) + eps)`` over non-ignored pixels.

    Returns:
        ``(B,)`` losses in ``[0, 1]``.
    """
    _check(logits, labels)
    valid = labels != IGNORE_LABEL
    probs = torch.sigmoid(logits)
    intersection = (probs * labels * valid).sum(dim=(1, 2, 3))
    union = (torch.maximum(probs, labels) * valid).sum(dim=(1, 2, 3))
    return 1.0 - intersection / (union + eps)


class NormalizedFocalLoss(nn.Module):
    """``loss(logits, labels) -> (B,)``: :func:`normalized_focal_loss` with fixed alpha, gamma."""

    def __init__(self, alpha: float = 0.5, gamma: float = 2.0, eps: float = 1e-12) -> None:
        super().__init__()
        self.alpha, self.gamma, self.eps = alpha, gamma, eps

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return normalized_focal_loss(logits, labels, self.alpha, self.gamma, self.eps)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}"


class FocalLoss(nn.Module):
    """``loss(logits, labels) -> (B,)``: :func:`focal_loss` with fixed alpha, gamma."""

    def __init__(self, alpha: float = 0.5, gamma: float = 2.0, eps: float = 1e-9) -> None:
        super().__init__()
        self.alpha, self.gamma, self.eps = alpha, gamma, eps

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, labels, self.alpha, self.gamma, self.eps)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}"


class SigmoidBinaryCrossEntropyLoss(nn.Module):
    """``loss(logits, labels) -> (B,)``: :func:`sigmoid_binary_cross_entropy`."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return sigmoid_binary_cross_entropy(logits, labels)


class SoftIoU(nn.Module):
    """``loss(logits, labels) -> (B,)``: :func:`soft_iou_loss`."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return soft_iou_loss(logits, labels)


def main_loss(name: str, alpha: float = 0.5, gamma: float = 2.0) -> nn.Module:
    """The main-output loss a training config names: ``"nfl"`` (RITM's), ``"focal"``,
    ``"bce"`` or ``"soft_iou"`` (the losses of the paper's loss ablation). ``alpha`` and
    ``gamma`` go to the two focal losses; ``ValueError`` for any other name."""
    if name == "nfl":
        return NormalizedFocalLoss(alpha, gamma)
    if name == "focal":
        return FocalLoss(alpha, gamma)
    if name == "bce":
        return SigmoidBinaryCrossEntropyLoss()
    if name == "soft_iou":
        return SoftIoU()
    raise ValueError(f"unknown loss {name!r}; choose from {MAIN_LOSSES}")


MAIN_LOSSES = ("nfl", "focal", "bce", "soft_iou")
"""The names :func:`main_loss` takes."""

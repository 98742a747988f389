"""Iterative training with mask guidance — the paper's core idea (Sec. 3.3).

Random click sampling alone teaches a network to segment from clicks that a user would never
place. RITM adds, for every batch, ``0..3`` *iterative* steps: the network (in eval mode,
without gradients) predicts, and one new click per sample is placed where that prediction is
wrong — as a user would correct it — with the prediction fed back as the previous mask. Then
one ordinary forward/backward pass is made with the final clicks and previous mask (zeros
when no step was drawn).

The training click rule (the original's ``get_next_points``; it differs from the evaluation
clicker of :mod:`ritm_lite.evaluation`):

* false negatives ``FN = object & (p < 0.49)``, false positives ``FP = background & (p > 0.49)``;
* distance transforms of both, with 1-pixel zero padding so the image border counts as
  boundary, using OpenCV's *approximate* ``DIST_L2`` with a 5x5 mask (the evaluation clicker
  uses the exact one);
* the click is positive if the FN maximum is larger (ties go to negative);
* it lands on a **uniformly random** pixel of the chosen error whose distance exceeds half of
  the larger maximum (the paper describes this as eroding the error region);
* click ``k`` (1-based step) is written to slot ``N - k`` (positive) or ``2N - k``
  (negative) of the points tensor, with click index ``k`` — overwriting the slot if the
  sampler had filled it.

The distance transform runs on the CPU because it is OpenCV's: the same function, mask
size and padding as the original, so the distances — and hence the candidate pixels — are
the original's exactly (a GPU distance transform would have to reproduce OpenCV's 5x5
approximation pixel for pixel to match). It takes about a millisecond per 320x480 mask on
one CPU core. Masks cross to the host once per batch and step, not once per sample.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from ..clicks import Click, set_click

TRAIN_PRED_THRESHOLD = 0.49


def click_candidates(probs: np.ndarray, gt: np.ndarray, threshold: float = TRAIN_PRED_THRESHOLD
                     ) -> tuple[bool, np.ndarray]:
    """Where the training rule may place the next click.

    Args:
        probs: ``(H, W)`` float predicted foreground probabilities.
        gt: ``(H, W)`` ground truth; pixels ``> 0.5`` are the object (ignore labels, -1, count
            as background, as in the original).
        threshold: prediction threshold (0.49).

    Returns:
        ``(is_positive, candidates)``: the sign of the click and a ``(H, W)`` bool mask of the
        pixels it may land on (empty when the prediction has no error at all).
    """
    if probs.shape != gt.shape or probs.ndim != 2:
        raise ValueError(f"probs and gt must be (H, W) of the same shape, got {probs.shape} and {gt.shape}")
    obj = gt > 0.5
    errors = []
    for region in (obj & (probs < threshold), ~obj & (probs > threshold)):
        padded = np.pad(region, 1).astype(np.uint8)
        errors.append(cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1])
    fn_dt, fp_dt = errors
    fn_max, fp_max = float(fn_dt.max()), float(fp_dt.max())
    is_positive = fn_max > fp_max
    chosen = fn_dt if is_positive else fp_dt
    return is_positive, chosen > max(fn_max, fp_max) / 2.0


def training_next_click(probs: np.ndarray, gt: np.ndarray, index: int, rng: np.random.Generator,
                        threshold: float = TRAIN_PRED_THRESHOLD) -> Click | None:
    """One click by the training rule, or ``None`` if the prediction is already perfect.

    Args:
        probs, gt, threshold: as in :func:`click_candidates`.
        index: the click index to store (the step number ``k``).
        rng: random generator for the uniform choice among candidates.
    """
    is_positive, candidates = click_candidates(probs, gt, threshold)
    rows, cols = np.nonzero(candidates)
    if len(rows) == 0:
        return None
    pick = rng.integers(len(rows))
    return Click(x=float(cols[pick]), y=float(rows[pick]), is_positive=bool(is_positive), index=index)


def add_training_clicks(points: torch.Tensor, probs: torch.Tensor, gt: torch.Tensor, step: int,
                        rng: np.random.Generator, threshold: float = TRAIN_PRED_THRESHOLD) -> torch.Tensor:
    """Add one corrective click per sample (a new tensor; ``points`` is not modified).

    Args:
        points: ``(B, 2N, 3)`` points tensor.
        probs: ``(B, 1, H, W)`` current predicted probabilities.
        gt: ``(B, 1, H, W)`` ground truth (1 object, 0 background, -1 ignore).
        step: ``k >= 1``, the iterative step; the click goes to slot ``N - k`` / ``2N - k``.
        rng: random generator.

    Returns:
        The updated points tensor, on ``points``' device.
    """
    num_points = points.shape[1] // 2
    if not 1 <= step <= num_points:
        raise ValueError(f"step must be in 1..{num_points}, got {step}")
    probs_np = probs[:, 0].detach().float().cpu().numpy()  # one host transfer per batch
    gt_np = gt[:, 0].detach().cpu().numpy()
    updated = points.detach().cpu().clone()
    for sample in range(len(probs_np)):
        click = training_next_click(probs_np[sample], gt_np[sample], step, rng, threshold)
        if click is not None:
            set_click(updated, sample, num_points - step, click)
    return updated.to(points.device)


@torch.no_grad()
def simulate_interaction(model: nn.Module, images: torch.Tensor, gt: torch.Tensor, points: torch.Tensor,
                         num_steps: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``num_steps`` iterative steps and return what the training forward pass gets.

    The model runs in eval mode (BatchNorm uses running statistics, dropout is off) and is put
    back in the mode it was in.

    Args:
        model: the network (``(B, 4, H, W), (B, 2N, 3) -> {"instances": logits}``).
        images: ``(B, 3, H, W)`` RGB in [0, 1].
        gt: ``(B, 1, H, W)`` ground truth.
        points: ``(B, 2N, 3)`` clicks from the sampler.
        num_steps: iterative steps (0..3 in RITM's training).
        rng: random generator for the click positions.

    Returns:
        ``(prev_mask (B, 1, H, W), points (B, 2N, 3))`` — the previous-mask channel is the
        prediction *before* the last click was added (zeros if ``num_steps == 0``).
    """
    prev_mask = torch.zeros_like(images[:, :1])
    if num_steps == 0:
        return prev_mask, points
    was_training = model.training
    model.eval()
    try:
        for step in range(1, num_steps + 1):
            logits = model(torch.cat([images, prev_mask], dim=1), points)["instances"]
            prev_mask = torch.sigmoid(logits.float())
            points = add_training_clicks(points, prev_mask, gt, step, rng)
    finally:
        model.train(was_training)
    return prev_mask, points

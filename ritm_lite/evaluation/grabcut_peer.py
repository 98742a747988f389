"""A classic peer: OpenCV's GrabCut (Rother, Kolmogorov, Blake 2004) driven by the same clicks.

GrabCut fits two colour GMMs (object, background) and cuts a graph between them. It has no
learned prior, so it shows what the network buys. To put it in the NoC protocol it is wrapped
as a predictor (``set_image`` / ``predict``) and each call builds GrabCut's label mask from
the clicks so far:

* every pixel starts as *probable* foreground if the previous result had it, else *probable*
  background (so each click refines the last segmentation, as RITM's mask channel does);
* while there is no previous object (the first click, or after GrabCut lost the object), a
  disk of ``prior_radius`` x the image's short side around each positive click is *probable*
  foreground: a click says "the object is around here", and GrabCut needs some object pixels
  beyond the click itself to fit a colour model (with only the click's small disk it keeps
  little more than that disk: on 9 GrabCut images, mIoU after one click rose from 0.01 to 0.62);
* a disk of ``click_radius`` pixels around each positive click is *definite* foreground, around
  each negative click *definite* background (later clicks overwrite earlier ones);
* ``cv2.grabCut(..., GC_INIT_WITH_MASK)`` runs ``iterations`` rounds from that mask, with
  OpenCV's random generator seeded for repeatable results.

The output is GrabCut's hard segmentation as a float32 0/1 "probability" map. When the
label mask has no foreground pixel (or no background pixel) GrabCut cannot fit one of its
colour models and the peer returns that label mask as it is (all background, or all object).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ritm_lite.clicks import Click, clicks_from_prompts


@dataclass
class GrabCutConfig:
    """Settings of the GrabCut peer."""

    click_radius: int = (
        5  # disk radius (px) of definite FG/BG around a click (RITM's click disks use 5 too)
    )
    prior_radius: float = (
        0.15  # without a previous object: probable-FG disk radius, fraction of the short side
    )
    iterations: int = 5  # grabCut EM rounds per click (OpenCV's own examples use 5)
    seed: int = (
        0  # cv2.setRNGSeed before each call: GMM initialisation is k-means++ with OpenCV's RNG
    )


def grabcut_labels(
    clicks: Sequence[Click], prev_mask: np.ndarray, config: GrabCutConfig
) -> np.ndarray:
    """GrabCut's initial ``(H, W)`` uint8 labels (``cv2.GC_*``) for the clicks so far.

    Args:
        clicks: all clicks so far, ``(x, y)`` pixels.
        prev_mask: ``(H, W)`` bool, the previous result (all ``False`` at the first click).
        config: click and prior radii.
    """
    labels = np.where(prev_mask, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if not prev_mask.any():
        radius = int(config.prior_radius * min(labels.shape))
        for click in clicks:
            if click.is_positive:
                centre = (round(click.x), round(click.y))
                cv2.circle(labels, centre, radius, int(cv2.GC_PR_FGD), thickness=-1)
    for click in clicks:
        value = cv2.GC_FGD if click.is_positive else cv2.GC_BGD
        centre = (round(click.x), round(click.y))
        cv2.circle(labels, centre, config.click_radius, int(value), thickness=-1)
    return labels


class GrabCutPeer:
    """OpenCV GrabCut with the predictor interface of :class:`ritm_lite.inference.Predictor`."""

    def __init__(self, config: GrabCutConfig | None = None):
        self.config = config or GrabCutConfig()
        self._image: np.ndarray | None = None  # (H, W, 3) uint8 BGR for OpenCV
        self._prev_mask: np.ndarray | None = None  # (H, W) bool previous result
        self.last_model_seconds = 0.0  # time spent in cv2.grabCut by the last predict()

    def set_image(self, image: np.ndarray) -> None:
        """``image``: ``(H, W, 3)`` uint8 RGB."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"image must be an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}"
            )
        self._image = np.ascontiguousarray(image[:, :, ::-1])
        self.reset()

    def reset(self) -> None:
        """Forget the clicks, keep the image."""
        if self._image is None:
            raise RuntimeError("no image set: call set_image(image) first")
        self._prev_mask = np.zeros(self._image.shape[:2], dtype=bool)

    def predict(
        self,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        mask_input: np.ndarray | None = None,
    ) -> np.ndarray:
        """Segment with all clicks so far; returns ``(H, W)`` float32 in ``{0, 1}``.

        ``mask_input`` (``(H, W)`` bool or probabilities), if given, replaces the previous result.
        """
        if self._image is None:
            raise RuntimeError("no image set: call set_image(image) first")
        if mask_input is not None:
            mask_input = np.asarray(mask_input)
            if mask_input.shape != self._prev_mask.shape:
                raise ValueError(
                    f"mask_input must have shape {self._prev_mask.shape}, got {mask_input.shape}"
                )
            self._prev_mask = mask_input > 0.5
        clicks = clicks_from_prompts(point_coords, point_labels, self._prev_mask.shape)
        labels = grabcut_labels(clicks, self._prev_mask, self.config)
        self.last_model_seconds = 0.0
        foreground = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        if foreground.all() or not foreground.any():
            result = foreground  # one of the two colour models would have no pixels to fit
        else:
            bgd_model = np.zeros((1, 65), np.float64)
            fgd_model = np.zeros((1, 65), np.float64)
            cv2.setRNGSeed(self.config.seed)
            start = time.perf_counter()
            cv2.grabCut(
                self._image,
                labels,
                None,
                bgd_model,
                fgd_model,
                self.config.iterations,
                cv2.GC_INIT_WITH_MASK,
            )
            self.last_model_seconds = time.perf_counter() - start
            result = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        self._prev_mask = result
        return result.astype(np.float32)

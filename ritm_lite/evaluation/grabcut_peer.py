"""A classic peer: OpenCV's GrabCut (Rother, Kolmogorov, Blake 2004) driven by the same clicks.

GrabCut fits two colour GMMs (object, background) and cuts a graph between them. It has no
learned prior, so it shows what the network buys. To put it in the NoC protocol it is wrapped
as a predictor (``set_image`` / ``predict``) and each call builds GrabCut's label mask from
the clicks so far:

* every pixel starts as *probable* foreground if the previous result had it, else *probable*
  background (so each click refines the last segmentation, as RITM's mask channel does);
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
from dataclasses import dataclass

import cv2
import numpy as np

from ritm_lite.clicks import clicks_from_prompts


@dataclass
class GrabCutConfig:
    """Settings of the GrabCut peer."""

    click_radius: int = 5  # disk radius (px) of definite FG/BG around a click (RITM's click disks use 5 too)
    iterations: int = 5  # grabCut EM rounds per click (OpenCV's own examples use 5)
    seed: int = 0  # cv2.setRNGSeed before each call: GMM initialisation is k-means++ with OpenCV's RNG


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
            raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}")
        self._image = np.ascontiguousarray(image[:, :, ::-1])
        self.reset()

    def reset(self) -> None:
        """Forget the clicks, keep the image."""
        if self._image is None:
            raise RuntimeError("no image set: call set_image(image) first")
        self._prev_mask = np.zeros(self._image.shape[:2], dtype=bool)

    def label_mask(self, point_coords: np.ndarray, point_labels: np.ndarray) -> np.ndarray:
        """GrabCut's ``(H, W)`` uint8 initial labels (``cv2.GC_*``) for these clicks."""
        if self._image is None:
            raise RuntimeError("no image set: call set_image(image) first")
        clicks = clicks_from_prompts(point_coords, point_labels, self._image.shape[:2])
        labels = np.where(self._prev_mask, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        for click in clicks:
            value = cv2.GC_FGD if click.is_positive else cv2.GC_BGD
            centre = (int(round(click.x)), int(round(click.y)))
            cv2.circle(labels, centre, self.config.click_radius, int(value), thickness=-1)
        return labels

    def predict(
        self, point_coords: np.ndarray, point_labels: np.ndarray, mask_input: np.ndarray | None = None
    ) -> np.ndarray:
        """Segment with all clicks so far; returns ``(H, W)`` float32 in ``{0, 1}``.

        ``mask_input`` (``(H, W)`` bool or probabilities), if given, replaces the previous result.
        """
        if self._image is None:
            raise RuntimeError("no image set: call set_image(image) first")
        if mask_input is not None:
            mask_input = np.asarray(mask_input)
            if mask_input.shape != self._prev_mask.shape:
                raise ValueError(f"mask_input must have shape {self._prev_mask.shape}, got {mask_input.shape}")
            self._prev_mask = mask_input > 0.5
        labels = self.label_mask(point_coords, point_labels)
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
                self._image, labels, None, bgd_model, fgd_model, self.config.iterations, cv2.GC_INIT_WITH_MASK
            )
            self.last_model_seconds = time.perf_counter() - start
            result = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        self._prev_mask = result
        return result.astype(np.float32)

"""Click simulation for training: RITM's ``MultiPointSampler``.

Before the iterative part of training adds clicks where the model errs, every sample starts
with *randomly* simulated clicks (paper, Sec. 3.3; the original ``isegm/data/points_sampler.py``):

1. **Object.** One instance is chosen uniformly among the sample's objects; with probability
   ``merge_objects_prob = 0.15`` instead 2..``max_num_merged_objects`` (= 2) distinct objects
   are chosen and the target is their union (teaching the model that one click set may cover
   several objects).
2. **Positive clicks** are drawn uniformly from each chosen object's mask, eroded (3x3 kernel,
   3 iterations) with probability 0.9 so they avoid the boundary (the erosion is undone if it
   leaves <= 10 pixels). Their number is ``1 + k`` with ``P(k) ~ 0.8^k``, ``k = 0..23``. With
   several objects, each object gets one click, and ``k ~ 0.8^k`` (``k = 0..24``) more are
   drawn from the objects' union, at most 24 in all.
3. **Negative clicks**: ``k ~ 0.8^k`` (``k = 0..24``, so possibly none); each one picks a
   region — *background* (anything outside the target, p = 0.1), *other objects* (pixels of
   the sample's other instances, p = 0.4) or the *border* ring (the target dilated by
   ``ceil(0.1 * sqrt(area))`` pixels, minus the target, p = 0.5) — and a uniform pixel in it.
   If the sample has no other eligible object, "other objects" falls back to background.
4. A sample with no eligible object (kept as a *background* sample) gets an empty target, no
   positive click and negative clicks anywhere in the background.

Clicks may repeat (sampling is with replacement), as in the original. Every sampled click has
``index = 100`` (:data:`SAMPLED_CLICK_INDEX`): the original reserves small indices for clicks
placed in a known order (the clicks of iterative training, and the first click below).

**First click in the centre** (``first_click_center``, the original's option of that name, off
in RITM's COCO+LVIS configs): each object's first positive click is drawn not from the whole
(eroded) mask but from its inner part, the pixels deeper than ``1 / sfc_inner_k`` of the
deepest one,

    ``inner = { p : d(p) > max_q d(q) / sfc_inner_k }``,  ``d`` = distance to the nearest
    pixel outside the mask (the image border counts as outside), ``sfc_inner_k = 1.7``,

and gets index 0. The evaluation's first click is the deepest pixel itself, so this trains the
situation a user's first click creates. Options the course does not use (object hierarchies,
soft targets) are not implemented.

Masks come as an ``(H, W, K)`` stack (one channel per instance), as the augmentation returns
them; clicks come back as :class:`ritm_lite.clicks.Click` in ``(x, y)`` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ritm_lite.clicks import Click

SAMPLED_CLICK_INDEX = 100
"""Click index the original gives every randomly sampled click."""

NEGATIVE_STRATEGIES = ("bg", "other", "border")
"""Regions negative clicks are drawn from, in the order of their probabilities."""


def click_count_probs(num: int, gamma: float) -> np.ndarray:
    """Truncated geometric distribution ``P(k) = gamma^k / sum_j gamma^j`` for ``k = 0..num-1``."""
    probs = gamma ** np.arange(num, dtype=np.float64)
    return probs / probs.sum()


@dataclass
class SampledObject:
    """The target chosen for one training sample and its simulated clicks.

    Attributes:
        gt_mask: ``(H, W)`` bool, the target (union of the chosen objects; empty for a
            background sample).
        clicks: positive clicks first, then negative ones, in sampling order.
        object_ids: channels of the mask stack merged into ``gt_mask`` (empty: background).
        positive_regions: per chosen object, the (possibly eroded) ``(H, W)`` bool region its
            positive clicks came from.
        negative_regions: ``{"bg", "other", "border"}`` -> ``(H, W)`` bool region.
    """

    gt_mask: np.ndarray
    clicks: list[Click]
    object_ids: tuple[int, ...]
    positive_regions: list[np.ndarray] = field(repr=False)
    negative_regions: dict[str, np.ndarray] = field(repr=False)

    @property
    def positive_clicks(self) -> list[Click]:
        return [c for c in self.clicks if c.is_positive]

    @property
    def negative_clicks(self) -> list[Click]:
        return [c for c in self.clicks if not c.is_positive]


MAX_NUM_POINTS = 512
"""Most click slots per sign a sampler (and a training config) may ask for; the original uses 24."""

MAX_ERODE_ITERS = 100
"""Most 3x3 erosions before positive clicks (the original: 3); more is slow and erodes any object away."""


@dataclass(frozen=True)
class MultiPointSampler:
    """RITM's click simulator; the defaults are those of the ITER-M training configs.

    Call :meth:`sample` with a sample's instance masks and a generator.
    """

    max_num_points: int = 24  # N: at most N positive and N negative clicks
    prob_gamma: float = 0.8  # click counts follow P(k) ~ prob_gamma^k (class default 0.7; configs 0.8)
    expand_ratio: float = 0.1  # border ring width = ceil(expand_ratio * sqrt(object area))
    positive_erode_prob: float = 0.9  # probability of eroding an object before positive clicks
    positive_erode_iters: int = 3  # 3x3 erosion iterations
    negative_bg_prob: float = 0.1  # negative click anywhere outside the target
    negative_other_prob: float = 0.4  # negative click on another object
    negative_border_prob: float = 0.5  # negative click in the ring around the target
    merge_objects_prob: float = 0.15  # probability of merging several objects into one target
    max_num_merged_objects: int = 2  # at most this many objects merged
    first_click_center: bool = False  # each object's first positive click in its inner part (index 0)
    sfc_inner_k: float = 1.7  # inner part: distance to the outside > max distance / sfc_inner_k

    def __post_init__(self) -> None:
        if not 1 <= self.max_num_points <= MAX_NUM_POINTS:
            raise ValueError(f"max_num_points must be in 1..{MAX_NUM_POINTS} (the original uses 24; the "
                             f"points tensor grows with it), got {self.max_num_points}")
        for name in ("positive_erode_prob", "negative_bg_prob", "negative_other_prob", "negative_border_prob",
                     "merge_objects_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # NaN fails the comparison too
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.positive_erode_iters <= MAX_ERODE_ITERS:
            raise ValueError(f"positive_erode_iters must be in 0..{MAX_ERODE_ITERS} (each is one 3x3 erosion of "
                             f"the whole mask), got {self.positive_erode_iters}")
        if not 0.0 <= self.expand_ratio <= 10.0:
            raise ValueError(f"expand_ratio must be in [0, 10] (ring width / sqrt(object area)), got {self.expand_ratio}")
        if not math.isclose(sum(self.negative_probs), 1.0):
            raise ValueError(f"negative strategy probabilities must sum to 1, got {self.negative_probs}")
        if self.max_num_merged_objects < 1:
            raise ValueError("max_num_merged_objects must be >= 1")
        if not 0 < self.prob_gamma <= 1:
            raise ValueError(f"prob_gamma must be in (0, 1], got {self.prob_gamma}")
        if not self.sfc_inner_k >= 1:
            raise ValueError(f"sfc_inner_k must be >= 1, got {self.sfc_inner_k}")

    @property
    def negative_probs(self) -> tuple[float, float, float]:
        return (self.negative_bg_prob, self.negative_other_prob, self.negative_border_prob)

    def sample(
        self,
        masks: np.ndarray,
        rng: np.random.Generator,
        candidates: Sequence[int] | None = None,
    ) -> SampledObject:
        """Choose a target among ``masks`` and simulate its clicks.

        Args:
            masks: ``(H, W, K)`` stack of instance masks (bool or 0/1), all of the sample's
                objects: those too small to be targets still count as "other objects".
            rng: source of all randomness.
            candidates: channels that may become the target (e.g. objects above
                ``min_object_area``); default every non-empty channel. Empty: a background
                sample.

        Returns:
            The :class:`SampledObject` (target mask, clicks, regions).
        """
        if masks.ndim != 3:
            raise ValueError(f"masks must be an (H, W, K) stack, got shape {masks.shape}")
        masks = masks.astype(bool, copy=False)
        if candidates is None:
            candidates = [int(i) for i in np.flatnonzero(masks.any(axis=(0, 1)))]
        candidates = list(candidates)
        if any(not 0 <= i < masks.shape[2] for i in candidates):
            raise ValueError(f"candidates {candidates} outside 0..{masks.shape[2] - 1}")
        background = ~masks.any(axis=2)

        if not candidates:
            gt_mask = np.zeros(masks.shape[:2], bool)
            object_ids: tuple[int, ...] = ()
            positive_regions: list[np.ndarray] = []
            negative_regions = {name: background for name in NEGATIVE_STRATEGIES}
        else:
            object_ids = self._choose_objects(candidates, rng)
            gt_mask = np.logical_or.reduce([masks[:, :, i] for i in object_ids])
            positive_regions = [self._positive_erode(masks[:, :, i], rng) for i in object_ids]
            outside = ~gt_mask
            if len(candidates) <= len(object_ids):
                other = outside
            else:
                other = ~background & outside
            negative_regions = {"bg": outside, "other": other, "border": self.border_mask(gt_mask)}

        positives, first = self._positive_points(positive_regions, rng)
        weighted = [(negative_regions[name], p) for name, p in zip(NEGATIVE_STRATEGIES, self.negative_probs)]
        negatives = self._draw_points(weighted, self._negative_count(rng), rng)
        clicks = [Click(x=float(c), y=float(r), is_positive=True, index=0 if i in first else SAMPLED_CLICK_INDEX)
                  for i, (r, c) in enumerate(positives)]
        clicks += [Click(x=float(c), y=float(r), is_positive=False, index=SAMPLED_CLICK_INDEX) for r, c in negatives]
        return SampledObject(gt_mask, clicks, object_ids, positive_regions, negative_regions)

    def border_mask(self, gt_mask: np.ndarray) -> np.ndarray:
        """The ring of width ``ceil(expand_ratio * sqrt(area))`` around ``gt_mask`` (3x3 dilations)."""
        radius = int(np.ceil(self.expand_ratio * np.sqrt(gt_mask.sum())))
        dilated = cv2.dilate(gt_mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=radius)
        return dilated.astype(bool) & ~gt_mask

    def _choose_objects(self, candidates: list[int], rng: np.random.Generator) -> tuple[int, ...]:
        if len(candidates) > 1 and rng.random() < self.merge_objects_prob:
            most = min(len(candidates), self.max_num_merged_objects)
            count = int(rng.integers(2, most + 1)) if most >= 2 else 1
            return tuple(int(i) for i in rng.choice(candidates, size=count, replace=False))
        return (int(candidates[rng.integers(len(candidates))]),)

    def _positive_erode(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() > self.positive_erode_prob:
            return mask
        kernel = np.ones((3, 3), np.uint8)
        eroded = cv2.erode(mask.astype(np.uint8), kernel, iterations=self.positive_erode_iters)
        return eroded.astype(bool) if eroded.sum() > 10 else mask

    def _positive_count(self, rng: np.random.Generator) -> int:
        return 1 + int(rng.choice(self.max_num_points, p=click_count_probs(self.max_num_points, self.prob_gamma)))

    def _negative_count(self, rng: np.random.Generator) -> int:
        n = self.max_num_points + 1
        return int(rng.choice(n, p=click_count_probs(n, self.prob_gamma)))

    def _positive_points(
        self, regions: list[np.ndarray], rng: np.random.Generator
    ) -> tuple[list[tuple[int, int]], set[int]]:
        """Positive ``(row, col)`` points, and the positions among them of centred first clicks."""
        regions = regions[: self.max_num_points]
        per_object = [self._object_points(r, rng) for r in regions]
        per_object = [points for points in per_object if points]
        centred = {0} if self.first_click_center else set()
        if len(per_object) <= 1:
            return (per_object[0], centred) if per_object else ([], set())
        points = [points[0] for points in per_object]  # one click on every merged object
        union = [(r, 1.0 / len(regions)) for r in regions]
        extra = self._draw_points(union, self._negative_count(rng), rng)
        room = self.max_num_points - len(points)
        if len(extra) > room:
            keep = rng.choice(len(extra), size=room, replace=False)
            extra = [extra[i] for i in keep]
        return points + extra, set(range(len(points))) if self.first_click_center else set()

    def _object_points(self, region: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int]]:
        """One object's positive points: uniform in ``region``, the first one in its inner part
        when ``first_click_center``."""
        count = self._positive_count(rng)
        if not self.first_click_center or not region.any():
            return self._draw_points([(region, 1.0)], count, rng)
        first = self._draw_points([(self.inner_region(region), 1.0)], 1, rng)
        return first + self._draw_points([(region, 1.0)], count - 1, rng)

    def inner_region(self, mask: np.ndarray) -> np.ndarray:
        """``d(p) > max d / sfc_inner_k``, ``d`` the exact L2 distance to the outside (the image
        border counts as outside)."""
        padded = np.pad(mask.astype(np.uint8), 1)
        depth = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        return depth > depth.max() / self.sfc_inner_k

    @staticmethod
    def _draw_points(
        regions: list[tuple[np.ndarray, float]], count: int, rng: np.random.Generator
    ) -> list[tuple[int, int]]:
        """``count`` draws: pick a region by weight, then a uniform pixel ``(row, col)`` in it.

        A draw that lands on an empty region yields no point (as in the original).
        """
        pixels = [np.flatnonzero(region) for region, _ in regions]
        weights = np.array([w for _, w in regions], dtype=np.float64)
        width = regions[0][0].shape[1] if regions else 1
        points = []
        for _ in range(count):
            which = int(rng.choice(len(regions), p=weights)) if len(regions) > 1 else 0
            if len(pixels[which]) == 0:
                continue
            flat = int(pixels[which][rng.integers(len(pixels[which]))])
            points.append(divmod(flat, width))
        return points

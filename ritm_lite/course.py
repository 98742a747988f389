"""Exercises that check themselves, one or two per notebook.

A notebook's exercise is a cell the student fills in (``answer = ...``) followed by a cell
that calls :func:`check`, which says **right**, or **not yet** with a hint. An unanswered
exercise (``answer = ...``, Python's ``Ellipsis``) says so and lets "Run All" go on. The
checks compare the answer with the library on inputs the student did not choose, so a
hard-coded answer does not pass. Solutions live outside the notebooks
(``notebooks/solutions/``); the test suite runs every notebook with them filled in and
checks that wrong answers are rejected.

>>> from ritm_lite import course
>>> course.check("08.noc", lambda ious, threshold, max_clicks: 20)   # doctest: +SKIP
not yet (08.noc): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

RIGHT = "right"
NOT_YET = "not yet"


@dataclass(frozen=True)
class Exercise:
    """One checked exercise.

    Attributes:
        key: ``"<notebook number>.<name>"``, e.g. ``"04.nfl"``.
        task: what the student is asked to write, in one or two sentences.
        judge: called with the answer; returns ``None`` when it is right, else a hint.
    """

    key: str
    task: str
    judge: Callable[[Any], str | None]


EXERCISES: dict[str, Exercise] = {}


def _exercise(key: str, task: str) -> Callable[[Callable[[Any], str | None]], Callable[[Any], str | None]]:
    def register(judge: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        EXERCISES[key] = Exercise(key, task, judge)
        return judge

    return register


def task(key: str) -> str:
    """The task of exercise ``key`` (to print above the cell to fill in)."""
    return _get(key).task


def _get(key: str) -> Exercise:
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; the exercises are {sorted(EXERCISES)}")
    return EXERCISES[key]


def judge(key: str, answer: Any) -> str | None:
    """``None`` if ``answer`` solves exercise ``key``, else the hint (an error counts as wrong)."""
    exercise = _get(key)
    if answer is Ellipsis:
        return "not answered yet: replace the ... in the cell above with your answer"
    try:
        return exercise.judge(answer)
    except Exception as err:  # the student's code raised: that is a wrong answer, with its error
        return f"your answer raised {type(err).__name__}: {err}"


def check(key: str, answer: Any) -> None:
    """Print whether ``answer`` solves exercise ``key`` ("right", or "not yet" and a hint).

    Returns nothing, so the notebook cell shows that one line and no bare ``True``/``False``
    (:func:`judge` gives the verdict as a value). A wrong answer never raises, so "Run All" goes on.
    """
    hint = judge(key, answer)
    print(f"{RIGHT} ({key})" if hint is None else f"{NOT_YET} ({key}): {hint}")


# --------------------------------------------------------------------------- helpers


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(abs(hash(key)) % 2**32)  # new inputs in every session


def _labels_and_prediction(key: str, size: int, ignored: float) -> tuple[np.ndarray, np.ndarray]:
    """A random ``(size, size)`` ground truth (1 / 0 / -1, ``ignored`` of it -1) and bool prediction."""
    rng = _rng(key)
    gt = rng.choice([-1, 0, 1], size=(size, size), p=[ignored, 0.5, 0.5 - ignored]).astype(np.int32)
    return gt, rng.random((size, size)) > 0.5


def _close(got: Any, expected: Any, what: str, atol: float = 1e-5) -> str | None:
    got_array = np.asarray(got.detach() if isinstance(got, torch.Tensor) else got, dtype=np.float64)
    expected_array = np.asarray(expected, dtype=np.float64)
    if got_array.shape != expected_array.shape:
        return f"{what} has shape {got_array.shape}, expected {expected_array.shape}"
    if not np.allclose(got_array, expected_array, atol=atol, rtol=1e-4):
        worst = float(np.abs(got_array - expected_array).max())
        return f"{what} differs from the library's by up to {worst:.3g}"
    return None


# --------------------------------------------------------------------------- the exercises


@_exercise(
    "00.row_col",
    "Write `answer(point_coords)`: SAM-style (N, 2) clicks (x, y) -> the (N, 2) integer array of "
    "(row, col) pairs that RITM's points tensor stores.",
)
def _row_col(answer: Callable) -> str | None:
    coords = _rng("00").integers(0, 500, (6, 2))
    got = np.asarray(answer(coords.copy()))
    if got.shape == coords.shape and np.array_equal(got, coords):
        return "that is (x, y) unchanged: the row is y, the column is x"
    return _close(got, coords[:, ::-1], "your (row, col) array")


@_exercise(
    "01.radius",
    "Change the click radius and look. Write `answer(before, after, height, width, radius)`: the "
    "share (0..1) of the pixels of the positive-click channel (`disk_maps(...)[0, 0]`) that change "
    "when the clicks go from `before` to `after` (lists of `Click`), for disks of radius `radius`. "
    "Then redraw the figure above with radius 15 and 2: how far from a click does a disk reach?",
)
def _radius(answer: Callable) -> str | None:
    from ritm_lite.clicks import Click, points_tensor
    from ritm_lite.model import disk_maps

    rng = _rng("01")
    height, width = 60, 90
    for radius in (2.0, 5.0, 12.0):
        x, y = (float(v) for v in rng.integers(10, 50, 2))
        before = [Click(x, y, True, 0), Click(80.0, 50.0, False, 1)]
        after = before + [Click(float(rng.integers(5, 85)), float(rng.integers(5, 55)), True, 2)]
        maps = [disk_maps(points_tensor([c]), height, width, radius=radius)[0, 0] for c in (before, after)]
        expected = float((maps[0] != maps[1]).float().mean())
        got = float(answer(list(before), list(after), height, width, radius))
        if np.isclose(got, expected * height * width):
            return "that is a count of pixels: divide by height x width for the share"
        if not np.isclose(got, expected, atol=1e-6):
            if radius != 5.0:
                return f"for radius {radius} the share is not {got:.4f}: pass `radius=radius` to disk_maps"
            return f"the share for radius {radius} is not {got:.4f}: compare channel 0 before and after"
    return None


@_exercise(
    "02.conv1e",
    "Conv1E gives the pretrained first convolution two more input channels. Write "
    "`answer(weight)`: an (O, 3, k, k) pretrained weight -> the (O, 5, k, k) weight of the "
    "extended convolution that, at the start of training, computes exactly the pretrained "
    "features whatever the click maps are.",
)
def _conv1e(answer: Callable) -> str | None:
    weight = torch.from_numpy(_rng("02").normal(size=(8, 3, 3, 3)).astype(np.float32))
    got = torch.as_tensor(answer(weight.clone()))
    if tuple(got.shape) != (8, 5, 3, 3):
        return f"the extended weight must be (O, 5, k, k) = (8, 5, 3, 3), got {tuple(got.shape)}"
    if not torch.allclose(got[:, :3], weight):
        return "the RGB part must keep the pretrained weights"
    if got[:, 3:].abs().max() > 0:
        return "with non-zero weights on the new channels the clicks change the pretrained features from the first step"
    return None


def hrnet_branch_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """``(h, w)`` of HRNet's four branches for an ``height`` x ``width`` input, measured on
    the library's HRNet-W18-small (random weights; only the shapes matter)."""
    from ritm_lite.model import build_model

    backbone = build_model("hrnet18s", init=False).feature_extractor.eval()
    with torch.no_grad():
        branches = backbone.branches(backbone.stem(torch.zeros(1, 3, height, width)))
    return [tuple(int(v) for v in b.shape[2:]) for b in branches]


@_exercise(
    "03.branches",
    "Write `answer(height, width)`: the list of (h, w) sizes of HRNet's four branches for an "
    "input of that size (strides 4, 8, 16, 32, each step a 3x3 convolution with stride 2, padding 1).",
)
def _branches(answer: Callable) -> str | None:
    for height, width in ((400, 400), (321, 479), (67, 45)):
        got = [tuple(int(v) for v in size) for size in answer(height, width)]
        expected = hrnet_branch_sizes(height, width)
        if got != expected:
            if got == [(height // s, width // s) for s in (4, 8, 16, 32)]:
                return f"for {height}x{width}: a stride-2 convolution with padding 1 rounds *up* odd sizes"
            return f"for {height}x{width} the branches are not {got}"
    return None


@_exercise(
    "04.nfl",
    "Write `answer(logits, labels, gamma)`: the Normalized Focal Loss per sample (alpha 0.5) for "
    "(B, 1, H, W) logits and 0/1 labels, following the formula of this notebook.",
)
def _nfl(answer: Callable) -> str | None:
    from ritm_lite.losses import focal_loss, normalized_focal_loss

    rng = _rng("04")
    logits = torch.from_numpy(rng.normal(0, 3, (2, 1, 12, 16)).astype(np.float32))
    labels = torch.from_numpy((rng.random((2, 1, 12, 16)) > 0.6).astype(np.float32))
    for gamma in (2.0, 1.0):
        got = answer(logits.clone(), labels.clone(), gamma)
        expected = normalized_focal_loss(logits, labels, alpha=0.5, gamma=gamma)
        if _close(got, expected, "NFL") is not None:
            if _close(got, focal_loss(logits, labels, alpha=0.5, gamma=gamma), "FL") is None:
                return "that is the focal loss: NFL divides its weights by their sum over the image (times the pixel count)"
            return _close(got, expected, f"your NFL (gamma {gamma})")
    return None


def _instance(mask: np.ndarray, kind: str, ann_id: int) -> Any:
    from pycocotools import mask as mask_utils

    from ritm_lite.data.merged_format import InstanceMask

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = tuple(float(v) for v in mask_utils.toBbox(rle))
    return InstanceMask(rle, int(mask_utils.area(rle)), bbox, kind, ann_id, 1)


@_exercise(
    "05.threshold",
    "Change the replacement threshold and look. Write `answer(coco_masks, lvis_masks, threshold)`: "
    "how many of one photo's COCO masks LVIS replaces when the box IoU *and* the mask IoU must both "
    "exceed `threshold` (`merge_image` with a `MergeConfig` whose other fields keep their "
    "defaults). Then run it on the sample photos above for 0.5, 0.7, 0.8 and 0.95: which pairs "
    "change side?",
)
def _threshold(answer: Callable) -> str | None:
    from ritm_lite.data.coco_lvis import MergeConfig, merge_image

    rng = _rng("05")
    rows, cols = np.mgrid[:80, :80]
    coco, lvis = [], []
    for k in range(6):  # pairs of the same object, each LVIS mask a little different
        cy, cx, r = rng.integers(15, 65), rng.integers(15, 65), rng.integers(6, 14)
        coco.append(_instance((rows - cy) ** 2 + (cols - cx) ** 2 <= r**2, "coco", k))
        grown = r + rng.uniform(0, 5)
        lvis.append(_instance((rows - cy) ** 2 + (cols - cx - rng.integers(0, 4)) ** 2 <= grown**2, "lvis", 100 + k))
    counts = set()
    for threshold in (0.3, 0.6, 0.75, 0.9):
        config = MergeConfig(replace_box_iou=threshold, replace_mask_iou=threshold)  # the rest as default
        expected = len(merge_image(coco, lvis, config).replaced)
        counts.add(expected)
        got = int(answer(list(coco), list(lvis), threshold))
        if got != expected:
            return (f"at threshold {threshold}, {expected} COCO masks are replaced, not {got}: set both "
                    "replace_box_iou and replace_mask_iou, and count merge_image(...).replaced")
    assert len(counts) > 1, "the check's masks must tell thresholds apart"
    return None


@_exercise(
    "06.click_count",
    "Change the sampler's gamma and look. A training sample gets 1 + k positive clicks, k drawn with "
    "P(k) = gamma^k / sum_j gamma^j for k = 0 .. max_num_points - 1 (`click_count_probs`). Write "
    "`answer(max_num_points, gamma)`: the expected number of positive clicks. Then plot P(k) for gamma "
    "0.5, 0.8 (the original's configs) and 0.95: how many samples teach the model with one click only?",
)
def _click_count(answer: Callable) -> str | None:
    from ritm_lite.data.points_sampler import click_count_probs

    for num, gamma in ((24, 0.8), (24, 0.5), (5, 0.95), (1, 0.7)):
        probs = click_count_probs(num, gamma)
        expected = 1.0 + float((np.arange(num) * probs).sum())
        got = float(answer(num, gamma))
        if np.isclose(got, expected - 1.0):
            return "that is the mean of k: the sampler always places the first click, so add 1"
        if not np.isclose(got, expected, rtol=1e-6):
            return f"for max_num_points {num}, gamma {gamma}: {got:.4f} is not the mean of 1 + k"
    return None


@_exercise(
    "07.sign",
    "Write `answer(probs, gt)`: the sign of the next *training* click (True positive, False "
    "negative) by the original's rule: compare the largest distance-transform value inside the "
    "false negatives with that inside the false positives (threshold 0.49).",
)
def _sign(answer: Callable) -> str | None:
    from ritm_lite.training.iterative import click_candidates

    def case(fn_box: tuple[slice, slice], fp_box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
        gt = np.zeros((60, 60), np.float32)
        gt[5:36, 5:36] = 1
        probs = gt.copy()
        probs[fn_box] = 0.0  # missed object pixels
        probs[fp_box] = 1.0  # leaked background pixels
        return probs, gt

    square_in, strip_in = (slice(15, 23), slice(15, 23)), (slice(10, 13), slice(6, 35))
    square_out, strip_out = (slice(40, 48), slice(40, 48)), (slice(45, 48), slice(2, 58))
    cases = [case(strip_in, square_out), case(square_in, strip_out)]  # area and depth disagree
    rng = _rng("07")
    for _ in range(6):
        top, left, size = *rng.integers(6, 25, 2), int(rng.integers(2, 10))
        out_top, out_left, out_size = *rng.integers(38, 50, 2), int(rng.integers(2, 10))
        cases.append(case((slice(top, top + size), slice(left, left + size)),
                          (slice(out_top, out_top + out_size), slice(out_left, out_left + out_size))))
    for probs, gt in cases:
        expected, _ = click_candidates(probs, gt)
        if bool(answer(probs.copy(), gt.copy())) != bool(expected):
            return "compare the *largest distance to the region's border*, not the regions' areas"
    return None


@_exercise(
    "08.noc",
    "Write `answer(ious, threshold, max_clicks)`: the number of clicks an object needed to reach "
    "`threshold`, given its IoU after each click (max_clicks when it never did).",
)
def _noc(answer: Callable) -> str | None:
    from ritm_lite.evaluation.metrics import clicks_to_reach

    rng = _rng("08")
    curves = [np.sort(rng.random(n)) for n in (1, 5, 20)] + [np.array([0.95]), np.array([0.2, 0.9, 0.5])]
    for ious in curves:
        for threshold in (0.85, 0.9):
            expected = clicks_to_reach(ious, threshold, 20)
            got = answer(ious.copy(), threshold, 20)
            if int(got) != expected:
                return f"for IoUs {np.round(ious, 2).tolist()} at {threshold}: {expected} clicks, not {got} (clicks count from 1)"
    return None


@_exercise(
    "08.zoom_box",
    "Turn ZoomIn off and look: the cell above scores the course model on a few GrabCut objects with and "
    "without it. Then write `answer(mask, expansion_ratio, min_crop_size)`: the box (top, bottom, left, "
    "right), in pixels, that ZoomIn crops around a predicted `(H, W)` bool mask: the mask's tightest box, "
    "grown by `expansion_ratio` about its centre with each side at least `min_crop_size` (bounds rounded "
    "with Python's round), then clipped to the image (rows 0..H-1, columns 0..W-1).",
)
def _zoom_box(answer: Callable) -> str | None:
    from ritm_lite.inference.zoom_in import bbox_from_mask, clamp_bbox, expand_bbox, object_roi

    rng = _rng("08.zoom_box")
    cases = [((120, 160), (2, 20, 3, 40), 1.4, 40),     # at the corner: the clip matters
             ((90, 200), (40, 48, 90, 101), 2.0, 60),   # small: the minimum side matters
             ((300, 300), tuple(int(v) for v in (*np.sort(rng.integers(50, 250, 2)), *np.sort(rng.integers(50, 250, 2)))),
              1.4, 20)]
    for (height, width), (top, bottom, left, right), ratio, min_size in cases:
        mask = np.zeros((height, width), bool)
        mask[top:bottom + 1, left:right + 1] = True
        expected = tuple(object_roi(mask, [], ratio, min_size))
        try:
            got = tuple(int(v) for v in answer(mask.copy(), ratio, min_size))
        except (TypeError, ValueError):
            return "return four whole numbers: (top, bottom, left, right)"
        if got == expected:
            continue
        if len(got) != 4:
            return f"return four numbers (top, bottom, left, right), got {len(got)}"
        tight = bbox_from_mask(mask)
        if got == tuple(expand_bbox(tight, ratio, min_size)):
            return "clip the grown box to the image: rows 0..H-1, columns 0..W-1"
        if got == tuple(clamp_bbox(expand_bbox(tight, ratio), height, width)):
            return "each side of the box must be at least min_crop_size pixels"
        if got == tuple(tight):
            return "that is the tight box: grow it by expansion_ratio about its centre"
        return f"for a {height}x{width} mask with ratio {ratio} and minimum {min_size} the box differs: got {got}"
    return None


@_exercise(
    "09.iou",
    "Write `answer(gt_mask, pred_mask)`: the IoU of a bool prediction with the object of a "
    "ground truth that is 1 object, 0 background, -1 ignored (ignored pixels count nowhere).",
)
def _iou(answer: Callable) -> str | None:
    from ritm_lite.evaluation.metrics import iou

    gt, pred = _labels_and_prediction("09", 30, ignored=0.2)
    hint = _close(float(answer(gt.copy(), pred.copy())), iou(gt, pred), "your IoU", atol=1e-6)
    return None if hint is None else hint + "; leave the -1 pixels out of both the intersection and the union"


@_exercise(
    "10.conv1s_scale",
    "Change Conv1S's starting scale and look. Write `answer(init_scale)`: a new Conv1S on the three "
    "click maps whose learnable output scale starts at `init_scale`. Then compare the features it adds "
    "to the stem at the original's 0.05 and at the course preset's 1.0 (the cell below does).",
)
def _conv1s_scale(answer: Callable) -> str | None:
    from ritm_lite.model import Conv1S

    maps = torch.from_numpy((_rng("10").random((2, 3, 32, 48)) > 0.9).astype(np.float32))
    outputs = {}
    for scale in (0.05, 1.0, 0.3):
        torch.manual_seed(0)
        branch = answer(scale)
        if not isinstance(branch, Conv1S):
            return f"answer({scale}) must return a Conv1S module, got {type(branch).__name__}"
        with torch.no_grad():
            outputs[scale] = branch.eval()(maps)
    torch.manual_seed(0)
    with torch.no_grad():
        reference = Conv1S().eval()(maps)  # the original's 0.05
    if tuple(outputs[1.0].shape) != tuple(reference.shape):
        return f"the branch gives {tuple(outputs[1.0].shape)}, expected {tuple(reference.shape)}: keep 3 input channels"
    for scale, out in outputs.items():
        hint = _close(out, reference * (scale / 0.05), f"the output at init_scale {scale}", atol=1e-6)
        if hint is not None:
            return hint + ": pass init_scale to Conv1S"
    return None


@_exercise(
    "11.se",
    "Write `answer(a, b)`: given two lists of per-seed scores (two or more each), the standard error "
    "of the difference of their means, sqrt(s_a^2 / n_a + s_b^2 / n_b), with s^2 the sample variance "
    "(divided by n - 1).",
)
def _se(answer: Callable) -> str | None:
    from ritm_lite.paper_claims import welch_interval

    rng = _rng("11")
    for n_a, n_b in ((2, 3), (4, 2), (5, 5)):
        a, b = rng.normal(0.8, 0.02, n_a).tolist(), rng.normal(0.7, 0.05, n_b).tolist()
        expected = welch_interval(a, b)["se"]  # the library's: sqrt(s_a^2 / n_a + s_b^2 / n_b)
        got = float(answer(list(a), list(b)))
        if np.isclose(got, float(np.sqrt(np.var(a) / n_a + np.var(b) / n_b)), rtol=1e-6) and not np.isclose(got, expected):
            return "that divides the variance by n: the sample variance divides by n - 1 (ddof=1)"
        if np.isclose(got, float(np.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1))), rtol=1e-6):
            return "that is the spread of single runs: divide each variance by its number of seeds first"
        hint = _close(got, expected, f"your SE for {n_a} and {n_b} seeds", atol=1e-9)
        if hint is not None:
            return hint
    return None


@_exercise(
    "12.photo_id",
    "Write `answer(name)`: the photo a mask belongs to, from its file stem. A COCO_MVal-style name "
    "`{category}{k}_{photo id}` (e.g. 'baseball bat01_000000203931': k = 01, photo 000000203931) gives its "
    "photo id; any other name is a photo of its own (its id is the whole name).",
)
def _photo_id(answer: Callable) -> str | None:
    from ritm_lite.data.datasets import image_id_from_name

    rng = _rng("12")
    names = [f"{c}{int(k):02d}_{int(i):012d}" for c, k, i in zip(("cat", "baseball bat", "dog_2x"),
                                                                  rng.integers(0, 20, 3), rng.integers(1, 10**6, 3))]
    names += ["my_photo", "IMG_1234", "holiday2019_0042", "beach"]
    for name in names:
        expected, got = image_id_from_name(name), answer(name)
        if got == expected:
            continue
        if got == name.split("_")[0]:
            return f"for {name!r} you return {got!r}: that is the category and object number; the photo id follows them"
        if "_" in name and got == name.rsplit("_", 1)[-1]:
            return (f"for {name!r} you return {got!r}, but that name is not {{category}}{{k}}_{{photo id}} (no digits "
                    "before the underscore): it is a photo of its own, and its id is the whole name")
        return f"for {name!r} you return {got!r}; the photo id differs (expected {expected!r})"
    return None

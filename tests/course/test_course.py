"""The course's exercises: every notebook has one, its solution passes, wrong answers do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ritm_lite import course
from ritm_lite.clicks import points_tensor
from ritm_lite.data.coco_lvis import MergeConfig, merge_image
from ritm_lite.data.points_sampler import click_count_probs
from ritm_lite.losses import focal_loss
from ritm_lite.model import Conv1S, disk_maps
from tests.course.test_notebooks import NOTEBOOKS, exercise_keys, jupytext, solutions


def _solution(key: str):
    script = next(p for p in NOTEBOOKS if p.name.startswith(key.split(".")[0] + "_"))
    namespace: dict = {}
    exec(compile(solutions(script)[key], f"solutions/{script.name}", "exec"), namespace)
    return namespace["answer"]


def _disk_change(before, after, height, width, radius):
    old, new = (disk_maps(points_tensor([c]), height, width, radius=radius)[0, 0] for c in (before, after))
    return float((old != new).float().mean())


def _replaced(coco, lvis, config):
    return len(merge_image(coco, lvis, config).replaced)


def _focal(logits, labels, gamma):
    return focal_loss(logits, labels, alpha=0.5, gamma=gamma)


from ritm_lite.inference.zoom_in import bbox_from_mask as _bbox, clamp_bbox as _clamp, expand_bbox as _expand  # noqa: E402

# Plausible mistakes, one or more per exercise, each with a word the hint must contain.
WRONG = {
    "00.row_col": [(lambda coords: coords, "row is y"), (lambda coords: coords[:, :1], "shape")],
    "01.radius": [(lambda before, after, h, w, r: _disk_change(before, after, h, w, 5.0), "radius=radius"),
                  (lambda before, after, h, w, r: _disk_change(before, after, h, w, r) * h * w, "count")],
    "02.conv1e": [
        (lambda w: torch.cat([w, w[:, :2]], 1), "non-zero"),
        (lambda w: w, "(8, 5, 3, 3)"),
        (lambda w: torch.cat([torch.zeros_like(w), torch.zeros_like(w[:, :2])], 1), "RGB part"),
    ],
    "03.branches": [(lambda h, w: [(h // s, w // s) for s in (4, 8, 16, 32)], "rounds"),
                    (lambda h, w: [(h // 4, w // 4)] * 4, "not")],
    "04.nfl": [(_focal, "focal loss"), (lambda logits, labels, gamma: torch.zeros(2), "differs")],
    "05.threshold": [(lambda coco, lvis, t: _replaced(coco, lvis, MergeConfig(replace_box_iou=t)), "both"),
                     (lambda coco, lvis, t: _replaced(coco, lvis, MergeConfig()), "replace_mask_iou")],
    "06.click_count": [(lambda n, g: float((np.arange(n) * click_count_probs(n, g)).sum()), "add 1"),
                       (lambda n, g: 1 + g / (1 - g), "mean of 1 + k")],
    "07.sign": [(lambda probs, gt: ((gt > 0.5) & (probs < 0.49)).sum() > ((gt <= 0.5) & (probs > 0.49)).sum(), "largest"),
                (lambda probs, gt: True, "largest")],
    "08.noc": [(lambda ious, thr, m: int(np.argmax(np.asarray(ious) >= thr)), "clicks count from 1"),
               (lambda ious, thr, m: len(ious), "clicks")],
    "08.zoom_box": [(lambda mask, ratio, size: tuple(_bbox(mask)), "grow"),
                    (lambda mask, ratio, size: tuple(_expand(_bbox(mask), ratio, size)), "clip"),
                    (lambda mask, ratio, size: tuple(_clamp(_expand(_bbox(mask), ratio), *mask.shape)), "min_crop_size"),
                    (lambda mask, ratio, size: (0, 0, 0), "four")],
    "09.iou": [(lambda gt, pred: np.count_nonzero(pred & (gt == 1)) / np.count_nonzero(pred | (gt == 1)), "-1"),
               (lambda gt, pred: 1.0, "differs")],
    "10.conv1s_scale": [(lambda s: Conv1S(), "init_scale"), (lambda s: Conv1S(in_channels=4, init_scale=s), "raised"),
                        (lambda s: torch.nn.Conv2d(3, 64, 3), "Conv1S module")],
    "11.se": [(lambda a, b: np.sqrt(np.var(a) / len(a) + np.var(b) / len(b)), "n - 1"),
              (lambda a, b: np.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)), "number of seeds"),
              (lambda a, b: abs(np.mean(a) - np.mean(b)), "differs")],
    "12.photo_id": [(lambda name: name.split("_")[0], "category"), (lambda name: name.rsplit("_", 1)[-1], "own")],
}


def test_every_notebook_has_a_checked_exercise_with_a_solution():
    keys = []
    for script in NOTEBOOKS:
        found = exercise_keys(jupytext.read(script))
        assert found, f"{script.name} has no exercise"
        assert set(found) <= set(solutions(script)), f"{script.name}: a solution is missing"
        text = script.read_text()
        for key in found:
            assert f'course.check("{key}", answer)' in text, f"{script.name} does not check {key}"
        keys += found
    assert sorted(keys) == sorted(course.EXERCISES) == sorted(WRONG)


@pytest.mark.parametrize("key", sorted(course.EXERCISES))
def test_the_solution_is_right(key, capsys):
    assert course.judge(key, _solution(key)) is None
    assert course.check(key, _solution(key)) is None  # a cell shows the line, not a bare value
    assert capsys.readouterr().out.strip() == f"right ({key})"


@pytest.mark.parametrize("key", sorted(course.EXERCISES))
def test_wrong_answers_are_rejected_with_a_hint(key, capsys):
    assert course.check(key, ...) is None
    assert "not answered yet" in capsys.readouterr().out
    for wrong, word in WRONG[key]:
        hint = course.judge(key, wrong)
        assert hint is not None, f"{key}: a wrong answer passed"
        assert word in hint, f"{key}: the hint {hint!r} does not mention {word!r}"


def test_an_answer_that_raises_is_wrong_not_a_crash(capsys):
    def broken(*args):
        raise RuntimeError("oops")

    assert course.check("08.noc", broken) is None
    assert "RuntimeError: oops" in capsys.readouterr().out

"""The course's exercises: every notebook has one, its solution passes, wrong answers do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ritm_lite import course
from ritm_lite.losses import focal_loss
from tests.test_notebooks import NOTEBOOKS, exercise_keys, jupytext, solutions


def _solution(key: str):
    script = next(p for p in NOTEBOOKS if p.name.startswith(key.split(".")[0] + "_"))
    namespace: dict = {}
    exec(compile(solutions(script)[key], f"solutions/{script.name}", "exec"), namespace)
    return namespace["answer"]


def _focal(logits, labels, gamma):
    return focal_loss(logits, labels, alpha=0.5, gamma=gamma)


# Plausible mistakes, one or more per exercise, each with a word the hint must contain.
WRONG = {
    "00.row_col": [(lambda coords: coords, "row is y"), (lambda coords: coords[:, :1], "shape")],
    "01.disk_change": [(160 * 240, "distance map"), (78, "5^2")],
    "02.conv1e": [
        (lambda w: torch.cat([w, w[:, :2]], 1), "non-zero"),
        (lambda w: w, "(8, 5, 3, 3)"),
        (lambda w: torch.cat([torch.zeros_like(w), torch.zeros_like(w[:, :2])], 1), "RGB part"),
    ],
    "03.branches": [(lambda h, w: [(h // s, w // s) for s in (4, 8, 16, 32)], "rounds"),
                    (lambda h, w: [(h // 4, w // 4)] * 4, "not")],
    "04.nfl": [(_focal, "focal loss"), (lambda logits, labels, gamma: torch.zeros(2), "differs")],
    "05.box_iou": [(lambda a, b: 0.5, "differs"),
                   (lambda a, b: (min(a[2], b[2]) * min(a[3], b[3])) / (a[2] * a[3]), "differs")],
    "06.errors": [(lambda gt, pred: (gt == 1) & ~pred, "differ"),
                  (lambda gt, pred: ((gt == 1) & ~pred, (gt != 1) & pred), "ignored")],
    "07.sign": [(lambda probs, gt: ((gt > 0.5) & (probs < 0.49)).sum() > ((gt <= 0.5) & (probs > 0.49)).sum(), "largest"),
                (lambda probs, gt: True, "largest")],
    "08.noc": [(lambda ious, thr, m: int(np.argmax(np.asarray(ious) >= thr)), "clicks count from 1"),
               (lambda ious, thr, m: len(ious), "clicks")],
    "09.iou": [(lambda gt, pred: np.count_nonzero(pred & (gt == 1)) / np.count_nonzero(pred | (gt == 1)), "-1"),
               (lambda gt, pred: 1.0, "differs")],
    "10.samples": [(55 * 30_000, "55 epochs"), (230, "epoch_len")],
    "11.se": [(lambda a, b: np.sqrt(np.var(a) / len(a) + np.var(b) / len(b)), "n - 1"),
              (lambda a, b: np.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)), "number of seeds"),
              (lambda a, b: abs(np.mean(a) - np.mean(b)), "differs")],
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

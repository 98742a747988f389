"""Training logs: CSV rows and TensorBoard events, and rewinding them for a resumed run."""

from __future__ import annotations

import pytest

from ritm_lite.training.logs import RunLog, read_log

event_file_loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")


def _events(out):
    """Every event of every TensorBoard file under ``out/tensorboard``, file by file, oldest first.

    A file is named ``events.out.tfevents.<seconds>.<host>.<pid>.<counter>``; files opened
    in the same second are ordered by the process's counter, compared as a number (a name
    sort puts writer 10 before writer 9).
    """
    def opened(path):
        parts = path.name.split(".")
        return int(parts[3]), int(parts[-1])

    files = sorted((out / "tensorboard").glob("events.out.tfevents.*"), key=opened)
    return [list(event_file_loader.EventFileLoader(str(f)).Load()) for f in files]


def test_rewind_drops_rows_after_the_checkpoint_and_purges_tensorboard(tmp_path):
    first = RunLog(tmp_path)
    for step in range(1, 6):
        first.log("train", step, loss=float(step))
    first.log("val", 3, iou=0.5)
    first.close()  # killed after step 5; the checkpoint was written at step 4

    resumed = RunLog(tmp_path)
    resumed.rewind(4, ["train", "val", "absent"])
    assert [r["step"] for r in read_log(tmp_path / "train.csv")] == [1, 2, 3, 4]
    assert read_log(tmp_path / "val.csv") == [{"step": 3.0, "iou": 0.5}]
    for step in (5, 6):
        resumed.log("train", step, loss=10.0 * step)
    resumed.close()
    rows = read_log(tmp_path / "train.csv")
    expected = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 50), (6, 60)]
    assert [(r["step"], r["loss"]) for r in rows] == expected

    old_file, new_file = _events(tmp_path)
    starts = [e.step for e in new_file if e.HasField("session_log")]
    assert starts == [5]  # TensorBoard drops the earlier run's events from step 5 on
    assert max(e.step for e in old_file) == 5


def test_rewind_also_trims_the_rows_kept_in_memory(tmp_path):
    log = RunLog(tmp_path, tensorboard=False)
    for step in range(1, 4):
        log.log("train", step, loss=1.0)
    log.rewind(1, ["train"])
    assert [r["step"] for r in log.rows["train"]] == [1]
    assert not (tmp_path / "tensorboard").exists()

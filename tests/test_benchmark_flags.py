"""Every benchmark script refuses a bad flag with a one-line usage error (exit 2), before any work.

Each case is a value a careless user types: zero, negative, huge, NaN, an unknown name, an
empty list, a device this machine does not have. ``main(argv)`` must stop in argparse, so the
tests run in a moment and nothing is measured.
"""

from __future__ import annotations

import importlib

import pytest
import torch
from cli_support import run_main

CASES = {
    "ablations": [(["--steps", "0"], "--steps"), (["--seeds", "-1"], "--seeds"),
                  (["--image-scale", "nan"], "--image-scale"), (["--crop-size", "8", "8"], "--crop-size"),
                  (["--batch-size", "0"], "--batch-size"), (["--steps", "3", "--epochs", "5"], "--epochs"),
                  (["--arms", "nonsense"], "--arms"), (["--duts-share", "-0.5"], "--duts-share"),
                  (["--duts-share", "1"], "duts_share must be in")],
    "click_effect": [(["missing.pth"], "no checkpoint file"), (["x.pth", "--samples", "0"], "--samples"),
                     (["x.pth", "--threads", "0"], "--threads"), (["x.pth", "--preset", "nope"], "--preset")],
    "click_latency": [(["--repeats", "0"], "--repeats"), (["--warmup", "-1"], "--warmup"),
                      (["--threads", "0"], "--threads"), (["--presets", "hrnet18s,nope"], "'nope'"),
                      (["--presets", ""], "--presets"), (["--devices", "tpu"], "'tpu'"),
                      (["--repeats", "1e9"], "not an integer")],
    "coco_lvis_merge": [(["--images", "0"], "--images"), (["--images", "10000000000"], "--images")],
    "complexity": [(["--size", "0", "400"], "--size"), (["--size", "100000", "400"], "--size"),
                   (["--presets", "resnet"], "'resnet'")],
    "conv1s_init_scale": [(["--scales", "nan"], "--scales"), (["--scales", "0"], "--scales"),
                          (["--steps", "0"], "--steps"), (["--block", "0"], "--block"),
                          (["--steps", "5", "--block", "10"], "--block"), (["--threads", "-2"], "--threads")],
    "data_loader": [(["--batch-size", "0"], "--batch-size"), (["--workers", "-1"], "--workers"),
                    (["--samples", "2", "--batch-size", "4"], "--batch-size"), (["--model", "nope"], "--model"),
                    (["--device", "tpu"], "--device")],
    "fast_inference": [(["--repeats", "0"], "--repeats"), (["--threads", "0,1"], "--threads"),
                       (["--threads", ""], "--threads"), (["--cpu-sizes", "0"], "--cpu-sizes"),
                       (["--cpu-sizes", "400xabc"], "--cpu-sizes"), (["--techniques", "magic"], "'magic'"),
                       (["--presets", "x"], "'x'")],
    "notebook_run_times": [(["--timeout", "0"], "--timeout"), (["99"], "no notebook numbered 99")],
    "precision": [(["--threads", "0"], "--threads"), (["--calibration-objects", "0"], "--calibration-objects"),
                  (["--backends", "eager,gpu"], "'gpu'")],
    "train_throughput": [(["--steps", "0"], "--steps"), (["--batch", "0"], "--batch"),
                         (["--crop", "1", "1"], "--crop"), (["--workers", "-1"], "--workers"),
                         (["--presets", "nope"], "--presets")],
    "widget_overhead": [(["--clicks", "0"], "--clicks"), (["--clicks", "nan"], "--clicks")],
}
if not torch.cuda.is_available():
    CASES["click_latency"].append((["--devices", "cuda"], "no CUDA device"))
    CASES["train_throughput"].append((["--device", "cuda"], "no CUDA device"))


@pytest.mark.parametrize("script, flags, message",
                         [(script, flags, message) for script, cases in CASES.items() for flags, message in cases])
def test_bad_input_benchmark_flags_are_usage_errors(script, flags, message, capsys, tmp_path, monkeypatch):
    if script == "widget_overhead":
        pytest.importorskip("ipycanvas")
    if script == "notebook_run_times":
        pytest.importorskip("nbclient")
    if script == "click_effect":
        (tmp_path / "x.pth").write_bytes(b"")
        monkeypatch.chdir(tmp_path)
    module = importlib.import_module(f"benchmarks.{script}")
    code, err = run_main(module.main, flags, capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err

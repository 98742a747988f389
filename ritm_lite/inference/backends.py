"""How the network runs: one factory from a loaded model and a backend name to the module the
:class:`~ritm_lite.inference.Predictor` is given.

* ``"eager"``: as trained;
* ``"fast"``: :func:`~ritm_lite.inference.fast.optimize_for_inference` (BN folded, channels_last,
  image features cached);
* ``"bf16"``: that under bf16 autocast (:class:`~ritm_lite.inference.fast.FastRITM`);
* ``"onnxruntime"``: exported to ONNX and run by ONNX Runtime (CPU);
* ``"int8"``: ONNX Runtime statically quantised to int8, calibrated on real network inputs
  (:mod:`ritm_lite.inference.precision`; CPU).

The settings a checkpoint stores (:mod:`ritm_lite.inference.settings`) wrap the *network*: the
backend replaces the network inside them, so every backend runs the checkpoint the same way.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ritm_lite.inference.settings import unwrap

BACKENDS = ("eager", "fast", "bf16", "onnxruntime", "int8")
"""The backends :func:`with_backend` knows (see the module docstring)."""

CPU_ONLY = ("onnxruntime", "int8")


def with_backend(
    model: nn.Module,
    backend: str,
    calibration_samples: Sequence | None = None,
    calibration_objects: int = 16,
    predictor_options: dict[str, Any] | None = None,
) -> nn.Module:
    """``model`` with its network run by ``backend``, in the same stored settings.

    Args:
        model: a loaded model (``ritm_lite.load_checkpoint``: possibly wrapped in its settings),
            in eval mode, on the device to run on (the CPU for :data:`CPU_ONLY` backends).
        backend: one of :data:`BACKENDS`.
        calibration_samples: ``"int8"`` only: objects with ``.image`` and ``.gt_mask`` (training
            photos, never the test set) whose network inputs set the activation ranges.
        calibration_objects: ``"int8"``: how many of them are clicked (4 automatic clicks each).
        predictor_options: ``"int8"``: the :class:`~ritm_lite.inference.Predictor` options the
            model will be run with (``zoom_in``, ``flip``, ``max_size``), so the recorded crops
            are the ones it will see.

    Raises:
        ValueError: an unknown backend, a CPU-only one for a model off the CPU, or ``"int8"``
            without calibration samples.
    """
    from ritm_lite.inference import precision
    from ritm_lite.inference.fast import FastRITM, optimize_for_inference
    from ritm_lite.inference.onnx_export import OnnxRuntimeModel, export_onnx

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
    network, settings = unwrap(model)
    if backend == "eager":
        return model
    param = next(network.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    if backend in CPU_ONLY and device.type != "cpu":
        raise ValueError(f"backend {backend!r} runs on the CPU; the model is on {device}")
    if backend == "int8" and not calibration_samples:
        raise ValueError("backend 'int8' needs calibration_samples (training photos) to set its activation ranges")
    if backend == "fast":
        return settings.wrap(optimize_for_inference(network))
    if backend == "bf16":
        if device.type == "cpu" and not precision.native_bf16():
            warnings.warn(f"{precision.isa_summary()}: bf16 is emulated here, so this measures its accuracy, "
                          "slowly, not its speed", RuntimeWarning, stacklevel=2)
        return settings.wrap(FastRITM(network, dtype=torch.bfloat16))
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="ritm_backend_") as folder:  # the session keeps the graph
        path = export_onnx(network, Path(folder) / "model.onnx")
        if backend == "int8":
            calibration = precision.calibration_inputs(
                model, calibration_samples, objects=calibration_objects, **(predictor_options or {})
            )
            path = precision.quantize_onnx(path, Path(folder) / "model.int8.onnx", calibration)
        return settings.wrap(OnnxRuntimeModel(path, threads=threads))

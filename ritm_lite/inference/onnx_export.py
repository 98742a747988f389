"""ONNX export of a RITM model, and ONNX Runtime as an inference backend for the predictor.

The exported graph is the whole network, click encoding included:

    inputs   image  (B, 4, H, W) float32   RGB in [0, 1] + previous mask
             points (B, 2N, 3) float32     RITM's points tensor, (row, col, index), -1 padded
    outputs  instances, instances_aux (B, 1, H, W) float32 logits

with ``B``, ``H``, ``W`` and ``N`` dynamic, so one file serves every ZoomIn crop and every
number of clicks. BatchNorm is folded into the convolutions before tracing
(:func:`ritm_lite.model.fuse.fold_batchnorm`); the click encoding is the model's own
(:class:`ritm_lite.model.click_encoding.ClickMaps`): while it is traced, its minimum over the
click slots is one reduction (a running loop in eager, the same maps bit for bit), so the
graph has no loop whose length would be frozen at export time.

:class:`OnnxRuntimeModel` wraps an ONNX Runtime session as a module with the model's call
signature, so the predictor takes it like any model (composition, no backend flag):

>>> export_onnx(model, "ritm.onnx")                                   # doctest: +SKIP
>>> predictor = Predictor(OnnxRuntimeModel("ritm.onnx", threads=2))  # doctest: +SKIP

``onnx``, ``onnxscript`` and ``onnxruntime`` come with the ``course`` extra; they are imported
only when used.
"""

from __future__ import annotations

import copy
import importlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.model.click_encoding import ClickMaps
from ritm_lite.model.fuse import fold_batchnorm

OUTPUTS = ("instances", "instances_aux")


def _require(module: str) -> Any:
    """Import an optional dependency, or explain how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{module} is needed for ONNX export / ONNX Runtime inference; install the course "
            f"extra (pip install 'ritm_lite[course]') or `pip install {module}`"
        ) from error


def exportable(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` ready for tracing, BatchNorm folded.

    The copy computes the same function as ``model`` (up to float rounding from the folding).
    """
    if not hasattr(model, "click_maps"):
        raise ValueError("expected a RITMModel (with a click_maps encoder)")
    encoding = model.click_maps
    if not isinstance(encoding, ClickMaps):
        raise ValueError(f"only the disk encoding (RITM's ClickMaps) is exportable, not {type(encoding).__name__}")
    return _DictToTuple(fold_batchnorm(model)).eval()


class _DictToTuple(nn.Module):
    """ONNX graphs return a tuple of outputs, not a dict."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(image, points)
        return tuple(out[name] for name in OUTPUTS)


def example_inputs(
    height: int = 400, width: int = 400, batch: int = 2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random ``(batch, 4, H, W)`` input and a 3-click points tensor, for tracing and checks.

    Two positive clicks (so ``N = 2``): the exporter treats a size of 1 as a constant.
    """
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 4, height, width, generator=generator)
    clicks = [
        Click(x=width / 2, y=height / 2, is_positive=True, index=0),
        Click(x=width / 5, y=height / 4, is_positive=False, index=1),
        Click(x=width / 3, y=height / 2, is_positive=True, index=2),
    ]
    return image, points_tensor([clicks] * batch)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    opset: int = 18,
    example_size: tuple[int, int] = (320, 480),
) -> Path:
    """Export ``model`` (a :class:`~ritm_lite.model.RITMModel`) to an ONNX file.

    Args:
        model: the model; not modified (a folded copy is traced, in eval mode, on the CPU).
        path: where to write the ``.onnx`` file (weights inside the file).
        opset: ONNX opset version.
        example_size: ``(H, W)`` of the example input used for tracing; any size works later.

    Returns:
        The path written. Inputs ``image`` ``(B, 4, H, W)`` and ``points`` ``(B, 2N, 3)``,
        outputs ``instances`` and ``instances_aux`` ``(B, 1, H, W)``, all float32, with ``B``,
        ``H``, ``W`` and ``N`` dynamic.
    """
    from ritm_lite.inference.settings import unwrap

    network, settings = unwrap(model)
    if settings.to_meta():
        raise ValueError(f"export_onnx exports the network, not the settings {settings.to_meta()} wrapped around it: "
                         "export unwrap(model)[0] and run settings.wrap(OnnxRuntimeModel(path)) "
                         "(ritm_lite.inference.unwrap)")
    _require("onnx")
    _require("onnxscript")
    path = Path(path)
    ready = exportable(copy.deepcopy(model).cpu().float())
    image, points = example_inputs(*example_size)
    batch, height, width = (
        torch.export.Dim(name, min=1 if name == "batch" else 32)
        for name in ("batch", "height", "width")
    )
    clicks = torch.export.Dim("clicks_per_sign", min=1)
    shapes = {"image": {0: batch, 2: height, 3: width}, "points": {0: batch, 1: 2 * clicks}}
    with warnings.catch_warnings():  # image and points share the batch axis: said once, harmless
        warnings.filterwarnings("ignore", message=".*axis name.*will not be used")
        program = torch.onnx.export(
            ready,
            (image, points),
            dynamo=True,
            dynamic_shapes=shapes,
            opset_version=opset,
            input_names=["image", "points"],
            output_names=list(OUTPUTS),
            verbose=False,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=False)
    return path


def ort_feed(image: torch.Tensor, points: torch.Tensor) -> dict[str, np.ndarray]:
    """The exported graph's inputs as ONNX Runtime takes them: ``{"image": (B, 4, H, W),
    "points": (B, 2N, 3)}``, float32, C-contiguous, on the host (they may share memory with
    the tensors)."""
    return {"image": image.detach().to("cpu", torch.float32).contiguous().numpy(),
            "points": points.detach().to("cpu", torch.float32).contiguous().numpy()}


class OnnxRuntimeModel(nn.Module):
    """An exported RITM model run by ONNX Runtime, callable like the PyTorch model (CPU).

    Args:
        path: an ``.onnx`` file written by :func:`export_onnx`.
        threads: ONNX Runtime intra-op threads (``None``: its default, all cores).
        split_batch: run each sample of a batch on its own thread, each with
            ``threads`` intra-op threads (for flip averaging on a 2-core CPU use
            ``threads=1, split_batch=True``: each core takes one of the two images).

    ``model(image (B, 4, H, W), points (B, 2N, 3))`` returns ``{"instances", "instances_aux"}``
    logits ``(B, 1, H, W)`` as float32 CPU tensors.
    """

    def __init__(
        self, path: str | os.PathLike, threads: int | None = None, split_batch: bool = False
    ) -> None:
        super().__init__()
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path = Path(path)
        self.split_batch = split_batch
        self._pool = ThreadPoolExecutor() if split_batch else None

    def _run(self, image: np.ndarray, points: np.ndarray) -> list[np.ndarray]:
        return self.session.run(list(OUTPUTS), {"image": image, "points": points})

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        feed = ort_feed(image, points)
        image_np, points_np = feed["image"], feed["points"]
        if self._pool is not None and image_np.shape[0] > 1:
            parts = list(
                self._pool.map(
                    self._run,
                    [image_np[i : i + 1] for i in range(len(image_np))],
                    [points_np[i : i + 1] for i in range(len(points_np))],
                )
            )
            outputs = [np.concatenate(arrays) for arrays in zip(*parts)]
        else:
            outputs = self._run(image_np, points_np)
        return {name: torch.from_numpy(out) for name, out in zip(OUTPUTS, outputs)}

    def extra_repr(self) -> str:
        return f"path={str(self.path)!r}, split_batch={self.split_batch}"

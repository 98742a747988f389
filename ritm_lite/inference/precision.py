"""Below float32 on the CPU: bf16 and int8 inference, and what this CPU can run natively.

Two lower-precision paths, each the same network given to the predictor like any model:

* **bf16**: ``optimize_for_inference(model, dtype=torch.bfloat16)``, the BN-folded,
  channels_last :class:`~ritm_lite.inference.fast.FastRITM` under ``torch.autocast``: oneDNN
  runs the convolutions in bfloat16 (8-bit mantissa) and accumulates in float32.
* **int8**: :func:`quantize_onnx` turns the exported ONNX file into a statically quantised one
  (ONNX Runtime, QDQ format: int8 weights per output channel, uint8 activations with ranges
  calibrated on real inputs), run by :class:`~ritm_lite.inference.onnx_export.OnnxRuntimeModel`.
  Only convolutions and matrix products are quantised; the click encoding (squared distances
  of up to ``H^2 + W^2``) stays float32, where 256 levels could not hold it.

Both pay off only where the CPU executes them natively: bf16 needs ``avx512_bf16`` or AMX
(oneDNN's own check, :func:`native_bf16`), int8 wants VNNI (``avx512_vnni``, ``avx_vnni`` or
AMX, :func:`native_int8`). Elsewhere bf16 is emulated (about 25x *slower* than float32 on an
AVX2 CPU, measured), so :func:`~ritm_lite.inference.fast.optimize_for_inference` says so and
runs float32 instead; int8 without VNNI runs on AVX2's 16-bit products, which can saturate
(ONNX Runtime's documentation), so :func:`quantize_onnx` then stores 7-bit weights
(``reduce_range``) and says so.

Calibration (:func:`calibration_inputs`) records the network's inputs while the automatic
clicker works through a few objects, so the activation ranges are those of real clicks,
ZoomIn crops and previous masks, not of random tensors.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ritm_lite.inference.onnx_export import ort_feed

VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
"""``/proc/cpuinfo`` flags of CPUs with int8 dot-product instructions."""

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""``/proc/cpuinfo`` flags of CPUs with bfloat16 arithmetic."""

QUANTIZED_OPS = ("Conv", "MatMul")
"""The ONNX operators :func:`quantize_onnx` quantises (everything else stays float32)."""


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16() -> bool:
    """Whether oneDNN runs bfloat16 convolutions natively on this CPU (its own check)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if check is not None:
        return bool(check())
    return any(flag in cpu_flags() for flag in BF16_FLAGS)


def native_int8() -> bool:
    """Whether this CPU has VNNI int8 dot products (``avx512_vnni``, ``avx_vnni`` or AMX)."""
    return any(flag in cpu_flags() for flag in VNNI_FLAGS)


def isa_summary() -> str:
    """One line for benchmark tables, e.g. ``"AVX2; bf16: emulated; int8: no VNNI"``."""
    capability = torch.backends.cpu.get_cpu_capability()
    bf16 = "native" if native_bf16() else "emulated"
    vnni = [flag for flag in VNNI_FLAGS if flag in cpu_flags()]
    return f"{capability}; bf16: {bf16}; int8: {'VNNI (' + ', '.join(vnni) + ')' if vnni else 'no VNNI'}"


def bf16_fallback_warning() -> str:
    return (
        "this CPU has no native bfloat16 (oneDNN reports none: no avx512_bf16 / AMX); bf16 would be "
        "emulated, many times slower than float32, so optimize_for_inference runs float32 instead "
        "(FastRITM(model, dtype=torch.bfloat16) forces bf16)"
    )


class RecordingModel(nn.Module):
    """Wraps a model and keeps a float32 NumPy copy of every ``(image, points)`` it is called with.

    ``inputs`` is a list of ``{"image": (B, 4, H, W), "points": (B, 2N, 3)}`` dicts, ONNX
    Runtime's feed format, so a recording is a calibration set for :func:`quantize_onnx`.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.inputs: list[dict[str, np.ndarray]] = []

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        self.inputs.append({name: array.copy() for name, array in ort_feed(image, points).items()})
        return self.model(image, points)


def calibration_inputs(
    model: nn.Module,
    samples: Sequence,
    objects: int = 16,
    max_clicks: int = 4,
    **predictor_kwargs,
) -> list[dict[str, np.ndarray]]:
    """The network inputs of ``max_clicks`` automatic clicks on each of the first ``objects``
    samples (objects with ``.image`` and ``.gt_mask``, e.g. a
    :class:`~ritm_lite.data.benchmarks.Benchmark` of *training* photos: calibrating on a test
    set would tune the quantisation to it).

    ``predictor_kwargs`` go to the :class:`~ritm_lite.inference.Predictor` (its defaults:
    ZoomIn and flip, as evaluated), so the recorded crops, clicks and previous masks are the
    ones the quantised network will see. A model wrapped in its checkpoint's settings
    (:mod:`ritm_lite.inference.settings`) is recorded inside them: the inputs are the network's.
    """
    from ritm_lite.evaluation.loop import evaluate_sample
    from ritm_lite.inference.predictor import Predictor
    from ritm_lite.inference.settings import unwrap

    if objects < 1 or max_clicks < 1:
        raise ValueError(f"need objects >= 1 and max_clicks >= 1, got {objects}, {max_clicks}")
    if len(samples) == 0:
        raise ValueError("no samples to calibrate on")
    network, settings = unwrap(model)
    recorder = RecordingModel(network)
    predictor = Predictor(settings.wrap(recorder), **predictor_kwargs)
    for index in range(min(objects, len(samples))):
        sample = samples[index]
        evaluate_sample(sample.image, sample.gt_mask, predictor, target_iou=1.01, max_clicks=max_clicks)
    return recorder.inputs


class _Reader:
    """ONNX Runtime's ``CalibrationDataReader`` protocol over a list of feeds."""

    def __init__(self, feeds: Iterable[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(list(feeds))

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_onnx(
    float_path: str | os.PathLike,
    int8_path: str | os.PathLike,
    calibration: Sequence[dict[str, np.ndarray]],
    reduce_range: bool | None = None,
) -> Path:
    """Statically quantise an exported RITM ONNX file (see the module docstring).

    Args:
        float_path: a file written by :func:`~ritm_lite.inference.onnx_export.export_onnx`.
        int8_path: where to write the quantised file.
        calibration: network inputs (``{"image", "points"}`` float32 arrays), e.g.
            :func:`calibration_inputs`; their activation ranges (min/max) set the scales.
        reduce_range: 7-bit weights, for CPUs without VNNI (whose AVX2 int8 products can
            saturate); default: exactly when :func:`native_int8` is false, with a warning.

    Returns:
        ``int8_path``. Weights int8 per output channel, activations uint8, QDQ format; only
        :data:`QUANTIZED_OPS` are quantised.
    """
    from ritm_lite.inference.onnx_export import _require

    _require("onnxruntime")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("calibration is empty: give at least one {'image', 'points'} input")
    for index, feed in enumerate(calibration):
        if not isinstance(feed, dict) or set(feed) != {"image", "points"}:
            got = sorted(feed) if isinstance(feed, dict) else type(feed).__name__
            raise ValueError(f"each calibration input needs exactly 'image' and 'points', got {got}")
        for name, array in feed.items():
            array = np.asarray(array)
            if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
                raise ValueError(f"calibration input {index}: {name!r} holds NaN, infinite or non-numeric values; "
                                 "its activation ranges would be meaningless")
    if reduce_range is None:
        reduce_range = not native_int8()
        if reduce_range:
            warnings.warn(
                "this CPU has no VNNI (avx512_vnni / avx_vnni / AMX): int8 runs on AVX2, whose 16-bit "
                "products can saturate, so the weights are quantised to 7 bits (reduce_range)",
                RuntimeWarning,
                stacklevel=2,
            )
    int8_path = Path(int8_path)
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    prepared = int8_path.with_name(int8_path.stem + ".prepared.onnx")
    try:
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(int8_path),
            _Reader(calibration),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=True,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    finally:
        prepared.unlink(missing_ok=True)
    return int8_path

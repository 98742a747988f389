"""Below float32: the capability checks, the bf16 fallback, and the int8 quantisation.

* The checks read the CPU (``/proc/cpuinfo``, oneDNN) and a bf16 request on a CPU without
  native bf16 says so and runs float32 (never silently many times slower).
* bf16 arithmetic (forced with ``FastRITM(dtype=torch.bfloat16)``, emulated where the CPU
  lacks it) stays close to float32 with the original's reference weights, and keeps the
  course weights' masks on a real photo.
* int8: only convolutions and matrix products are quantised (the click encoding stays
  float32), the file is smaller, and its masks agree with float32's on a real photo.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from model_support import load_reference_fixture

from ritm_lite.data.benchmarks import Sample, load_benchmark
from ritm_lite.data.datasets import split_by_image_id
from ritm_lite.inference import FastRITM, Predictor, ZoomInConfig, optimize_for_inference, precision
from ritm_lite.inference import unwrap
from ritm_lite.weights import load_course_model

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_capability_checks_read_this_cpu():
    flags = precision.cpu_flags()
    assert isinstance(flags, frozenset)
    assert precision.native_int8() == any(f in flags for f in precision.VNNI_FLAGS)
    assert precision.native_bf16() == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    summary = precision.isa_summary()
    assert summary.startswith(torch.backends.cpu.get_cpu_capability())
    assert ("bf16: native" in summary) == precision.native_bf16()
    assert ("no VNNI" in summary) == (not precision.native_int8())


def test_bf16_on_a_cpu_without_it_says_so_and_runs_float32(monkeypatch):
    model, _ = unwrap(load_course_model())  # the network: these tests measure its precision
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        fast = optimize_for_inference(model, dtype=torch.bfloat16)
    assert fast.autocast_dtype is None
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert optimize_for_inference(model, dtype=torch.bfloat16).autocast_dtype is torch.bfloat16
    assert FastRITM(model, dtype=torch.bfloat16).autocast_dtype is torch.bfloat16  # forced


def _interaction(height: int = 96, width: int = 128):
    rng = np.random.default_rng(0)
    image = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    image[24:72, 40:100] = (200, 60, 40)  # an object to click on
    coords = np.array([[70.0, 48.0], [10.0, 10.0], [45.0, 30.0]])
    labels = np.array([1, 0, 1])
    return image, coords, labels


@pytest.mark.slow
def test_bf16_stays_near_float32_with_the_reference_weights(reference_dir):
    """bf16 keeps 8 mantissa bits: probabilities move by a few 1e-2 at most. The fixture's own
    input (320x480, 24 + 24 clicks), W18-small reference weights, where the probabilities are
    not saturated (a saturated output would hide any difference). Seen with native bf16
    (AVX-512): max |dp| 0.141, mean 0.0033 (``benchmarks/precision.py``)."""
    model, record = load_reference_fixture(reference_dir, "hrnet18s")
    with torch.no_grad():
        p32 = torch.sigmoid(model(record["input"], record["points"])["instances"])
        p16 = torch.sigmoid(FastRITM(model, dtype=torch.bfloat16)(record["input"], record["points"])["instances"])
    assert ((p32 > 1e-4) & (p32 < 1 - 1e-4)).float().mean() > 0.5  # not saturated: room to differ
    assert (p16 - p32).abs().max() < 0.25
    assert (p16 - p32).abs().mean() < 0.01
    assert (p16 - p32).abs().max() > 0  # bf16 really ran


def _course_clicks(model, sample, settings, max_clicks: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The float32 automatic clicker's first ``max_clicks`` clicks on ``sample`` (x, y and labels)."""
    from ritm_lite.evaluation.loop import evaluate_sample

    clicks: list = []
    evaluate_sample(sample.image, sample.gt_mask, Predictor(model, **settings), target_iou=1.01,
                    max_clicks=max_clicks, callback=lambda k, so_far, probs: clicks.append(so_far))
    return np.array([(c.x, c.y) for c in clicks[-1]]), np.array([int(c.is_positive) for c in clicks[-1]])


def _mask_agreement(reference: Predictor, other: Predictor, image, coords, labels) -> list[float]:
    """IoU between the two predictors' masks after each click, the same clicks for both and no
    compounding (``other`` takes ``reference``'s state after every click)."""
    reference.set_image(image)
    other.set_image(image)
    agreement = []
    for k in range(1, len(coords) + 1):
        a = reference.predict(coords[:k], labels[:k]) > 0.49
        b = other.predict(coords[:k], labels[:k]) > 0.49
        other.set_state(reference.get_state())
        agreement.append((a & b).sum() / max((a | b).sum(), 1))
    return agreement


@pytest.mark.slow
def test_bf16_keeps_the_course_masks_on_a_real_photo(grabcut_dir):
    """The trained course weights on a GrabCut photo, ZoomIn 400 px + flip, the float32
    clicker's 4 clicks for both. Seen with native bf16 (AVX-512): mask IoU against float32 of
    0.988 / 0.997 / 0.998 / 0.997 after clicks 1-4."""
    model, _ = unwrap(load_course_model())  # the network: these tests measure its precision
    settings = {"zoom_in": ZoomInConfig(target_size=400), "flip": True}
    sample = load_benchmark("GrabCut", grabcut_dir)[0]
    coords, labels = _course_clicks(model, sample, settings)
    bf16 = Predictor(FastRITM(model, dtype=torch.bfloat16), **settings)
    agreement = _mask_agreement(Predictor(model, **settings), bf16, sample.image, coords, labels)
    assert min(agreement) > 0.9 and np.mean(agreement) > 0.95, agreement


def test_calibration_records_what_the_network_sees():
    model, _ = unwrap(load_course_model())  # the network: these tests measure its precision
    image, _, _ = _interaction()
    gt = np.zeros(image.shape[:2], np.int32)
    gt[24:72, 40:100] = 1
    inputs = precision.calibration_inputs(model, [Sample(image, gt, "a")], objects=3, max_clicks=2,
                                          zoom_in=ZoomInConfig(target_size=64), flip=True)
    assert len(inputs) == 2  # one object (fewer than asked), two clicks
    first, second = inputs
    assert first["image"].shape == (2, 4, 96, 128)  # flip pair, whole image at the first click
    assert second["image"].shape[0] == 2 and max(second["image"].shape[2:]) == 64  # the ZoomIn crop
    assert (first["points"][..., 0] >= 0).sum() == 2  # one click, in both flip images
    with pytest.raises(ValueError, match="no samples"):
        precision.calibration_inputs(model, [])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_calibration_input_is_refused_before_onnx_runtime(tmp_path, bad):
    """A NaN in a calibration input would reach ONNX Runtime's calibrator and make its ranges NaN."""
    image = np.random.default_rng(0).random((1, 4, 32, 32), dtype=np.float32)
    points = np.full((1, 2, 3), -1.0, dtype=np.float32)
    image[0, 1, 5, 5] = bad
    with pytest.raises(ValueError, match=r"calibration input 1: 'image' holds NaN"):
        precision.quantize_onnx(tmp_path / "never_read.onnx", tmp_path / "x.onnx",
                                [{"image": np.full_like(image, 0.5), "points": points}, {"image": image, "points": points}])
    assert not (tmp_path / "x.onnx").exists()


def _quantised_tensors(path) -> tuple[set[str], list[str]]:
    """(op types reading a dequantised tensor, quantised tensors that neither come from nor go
    into a quantised operator)."""
    import onnx

    graph = onnx.load(str(path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    readers = {node.op_type for node in graph.node
               if any(name in producer and producer[name].op_type == "DequantizeLinear" for name in node.input)}
    stray = []
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            tensor = node.input[0]  # tensor -> QuantizeLinear -> DequantizeLinear -> its readers
            ops = {reader.op_type for dq in consumers.get(node.output[0], [])
                   for reader in consumers.get(dq.output[0], [])}
            if tensor in producer:
                ops.add(producer[tensor].op_type)
            if not ops & set(precision.QUANTIZED_OPS) and tensor not in {i.name for i in graph.initializer}:
                stray.append(tensor)
    return readers, stray


@pytest.mark.slow
def test_int8_quantises_the_convolutions_only_and_keeps_the_masks(coco_mval_dir, grabcut_dir, course_onnx, tmp_path):
    """The course weights, calibrated on 8 COCO_MVal training objects, on a GrabCut photo with
    ZoomIn 400 px + flip, the same clicks for both (no compounding). Only tensors that enter or
    leave a convolution are quantised (the click encoding's distances stay float32). Mask IoU
    between int8 and float32 after clicks 1-4, stage 5's weights on an AVX2 CPU (7-bit weights,
    no VNNI): 0.77 / 0.96 / 0.98 / 0.98; with VNNI (8-bit weights, AVX-512): 0.82 / 0.97 / 0.98
    / 0.98; stage 6's weights with VNNI: 0.69 / 0.96 / 0.98 / 0.98. int8 moves the first click's
    mask (the whole photo) most, one reason it is not the default (benchmarks/README.md, "Lower
    precision"); a broken quantisation (a wrong scale or zero point) gives IoUs near 0."""
    from ritm_lite.inference.onnx_export import OnnxRuntimeModel

    model, _ = unwrap(load_course_model())  # the network: these tests measure its precision
    settings = {"zoom_in": ZoomInConfig(target_size=400), "flip": True}
    data = load_benchmark("COCO_MVal", coco_mval_dir)
    train, _ = split_by_image_id(data.names, 0.2, seed=0)
    calibration = precision.calibration_inputs(model, data.subset(train), objects=8, max_clicks=3, **settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        int8_path = precision.quantize_onnx(course_onnx, tmp_path / "model.int8.onnx", calibration)
    assert any("reduce_range" in str(w.message) for w in caught) == (not precision.native_int8())
    assert int8_path.stat().st_size < 0.5 * course_onnx.stat().st_size
    readers, stray = _quantised_tensors(int8_path)
    assert "Conv" in readers and not stray, stray
    assert not readers & {"ReduceMin", "Less", "LessOrEqual", "Sqrt", "Pow"}, readers  # the click encoding
    with pytest.raises(ValueError, match="calibration is empty"):
        precision.quantize_onnx(course_onnx, tmp_path / "x.onnx", [])

    sample = load_benchmark("GrabCut", grabcut_dir)[0]
    coords, labels = _course_clicks(model, sample, settings)
    float32 = Predictor(OnnxRuntimeModel(course_onnx, threads=1), **settings)
    int8 = Predictor(OnnxRuntimeModel(int8_path, threads=1), **settings)
    agreement = _mask_agreement(float32, int8, sample.image, coords, labels)
    assert agreement[0] > 0.6 and min(agreement[1:]) > 0.9 and np.mean(agreement) > 0.88, agreement

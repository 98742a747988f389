"""ONNX export and ONNX Runtime inference give the PyTorch model's predictions.

The exported graph has a dynamic image size and a dynamic number of clicks: one file is run
on two image sizes with different click counts and must match the eager model to 1e-4 in
probability; behind the Predictor (ZoomIn + flip) it must do the same click by click.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_support import calibrated_model

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.inference import Predictor, ZoomInConfig, onnx_export
from ritm_lite.inference.onnx_export import OnnxRuntimeModel, export_onnx, exportable
from ritm_lite.model.click_encoding import disk_maps


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _random_points(rng: np.random.Generator, batch: int, clicks: int, height: int, width: int):
    lists = []
    for _ in range(batch):
        lists.append(
            [
                Click(
                    x=float(rng.uniform(0, width - 1)),
                    y=float(rng.uniform(0, height - 1)),
                    is_positive=bool(rng.integers(2)),
                    index=i,
                )
                for i in range(clicks)
            ]
        )
    return points_tensor(lists)


@pytest.mark.parametrize("clicks", [1, 2, 7])
def test_disk_maps_equal_one_disk_per_click_bit_for_bit(clicks):
    """The one reduction over the slots equals OR-ing each click's own disk (same float ops)."""
    rng = np.random.default_rng(clicks)
    points = _random_points(rng, 3, clicks, 37, 53)  # -1 padded where one sign has fewer clicks
    expected = torch.zeros(3, 2, 37, 53)
    rows = torch.arange(37, dtype=torch.float32).view(-1, 1)
    cols = torch.arange(53, dtype=torch.float32).view(1, -1)
    half = points.shape[1] // 2
    for b in range(3):
        for slot in range(points.shape[1]):
            row, col = points[b, slot, 0], points[b, slot, 1]
            if max(row, col) < 0:
                continue
            d2 = (rows - row) * (rows - row) + (cols - col) * (cols - col)
            expected[b, slot // half] = torch.maximum(expected[b, slot // half], (d2 <= 25.0).float())
    got = disk_maps(points, 37, 53, radius=5.0)
    assert expected.sum() > 0
    assert torch.equal(got, expected)


def test_the_exported_copy_keeps_the_models_own_click_encoding():
    model = calibrated_model("hrnet18s")
    ready = exportable(model)
    assert type(ready.model.click_maps) is type(model.click_maps)
    assert ready.model.click_maps.radius == model.click_maps.radius


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch.set_num_threads(1)
    model = calibrated_model("hrnet18s")
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "hrnet18s.onnx")
    return model, path


@pytest.mark.slow
def test_exported_model_matches_eager_on_other_sizes_and_click_counts(exported):
    model, path = exported
    runtime = OnnxRuntimeModel(path, threads=1)
    names = [i.name for i in runtime.session.get_inputs()]
    assert names == ["image", "points"]
    rng = np.random.default_rng(0)
    for batch, height, width, clicks in [(1, 96, 136, 1), (2, 150, 104, 6)]:
        image = torch.rand(batch, 4, height, width, generator=torch.Generator().manual_seed(height))
        points = _random_points(rng, batch, clicks, height, width)
        with torch.no_grad():
            expected = model(image, points)
        got = runtime(image, points)
        for name in ("instances", "instances_aux"):
            assert got[name].shape == (batch, 1, height, width)
            difference = (torch.sigmoid(got[name]) - torch.sigmoid(expected[name])).abs().max()
            assert difference.item() <= 1e-4, (name, height, width, clicks)


@pytest.mark.slow
def test_onnxruntime_backend_in_the_predictor(exported):
    model, path = exported
    image = np.random.default_rng(1).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    coords = np.array([[100, 70], [30, 20], [150, 110]], dtype=np.float64)
    labels = np.array([1, 0, 1])
    settings = {"zoom_in": ZoomInConfig(target_size=160), "flip": True}
    eager = Predictor(model, **settings)
    runtime = Predictor(OnnxRuntimeModel(path, threads=1), **settings)
    split = Predictor(OnnxRuntimeModel(path, threads=1, split_batch=True), **settings)
    for predictor in (eager, runtime, split):
        predictor.set_image(image)
    for k in range(1, len(coords) + 1):
        expected = eager.predict(coords[:k], labels[:k])
        got = runtime.predict(coords[:k], labels[:k])
        assert np.abs(got - expected).max() <= 1e-4, f"click {k}"
        # one image per thread gives the batch's result
        assert np.abs(split.predict(coords[:k], labels[:k]) - got).max() <= 1e-6


def test_missing_onnxruntime_gives_a_clear_error(monkeypatch, tmp_path):
    def missing(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(onnx_export.importlib, "import_module", missing)
    with pytest.raises(ImportError, match="course extra"):
        OnnxRuntimeModel(tmp_path / "model.onnx")
    with pytest.raises(ImportError, match="onnx"):
        export_onnx(calibrated_model("hrnet18s"), tmp_path / "model.onnx")


def test_export_refuses_other_click_encodings():
    from ritm_lite.model import distance_maps

    class DistanceEncoding(torch.nn.Module):
        def forward(self, image, points):
            return distance_maps(points, *image.shape[-2:])

    model = calibrated_model("hrnet18s")
    model.click_maps = DistanceEncoding()
    with pytest.raises(ValueError, match="disk"):
        onnx_export.exportable(model)

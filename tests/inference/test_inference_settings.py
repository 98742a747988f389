"""Settings a checkpoint needs at click time travel in it (meta["inference"]) and are applied on loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ritm_lite
from ritm_lite import CheckpointError, build_model, save_checkpoint
from ritm_lite.evaluate import main as evaluate_main
from ritm_lite.inference import InferenceSettings, MaxSize, MultiScale, Predictor, Refine, export_onnx, read_settings, unwrap
from ritm_lite.inference.backends import with_backend
from tests.evaluation.test_evaluate_cli import make_grabcut_folder


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A small random model saved twice: with two-scale + refinement settings, and without."""
    torch.manual_seed(0)
    model = build_model("hrnet18s").eval()
    folder = tmp_path_factory.mktemp("settings")
    with_settings = save_checkpoint(model, folder / "with.pth", meta={"inference": {"multi_scale": 32, "refine": 1}})
    bare = save_checkpoint(model, folder / "bare.pth", meta={"name": "bare"})
    return model, with_settings, bare


def test_loading_applies_the_stored_settings(stored):
    model, with_settings, bare = stored
    loaded = ritm_lite.load_checkpoint(with_settings)
    assert isinstance(loaded, Refine) and isinstance(loaded.network, MultiScale) and loaded.network.size == 32
    network, settings = unwrap(loaded)
    assert settings == InferenceSettings(multi_scale=32, refine=1) == read_settings(with_settings)
    assert isinstance(network, ritm_lite.RITMModel)
    assert all(torch.equal(a, b) for a, b in zip(network.state_dict().values(), model.state_dict().values()))
    assert isinstance(ritm_lite.load_checkpoint(bare), ritm_lite.RITMModel)  # nothing stored: the bare network


def test_a_hand_built_predictor_gets_them_too(stored):
    _, with_settings, _ = stored
    image = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    by_hand = Predictor(Refine(MultiScale(unwrap(ritm_lite.load_checkpoint(with_settings))[0], 32), 1), zoom_in=False)
    loaded = Predictor(ritm_lite.load_checkpoint(with_settings), zoom_in=False)
    for predictor in (by_hand, loaded):
        predictor.set_image(image)
    np.testing.assert_array_equal(by_hand.predict(np.array([[10, 12]]), np.array([1])),
                                  loaded.predict(np.array([[10, 12]]), np.array([1])))


@pytest.mark.parametrize("entry, message", [
    ({"multi_scale": 32, "two_scales": True}, "two_scales"),
    ({"refine": 0}, "refine must"),
    ({"refine": 10**6}, "at most"),
    ({"max_size": 8}, "max_size must"),
    ("320", "str"),
])
def test_unknown_or_bad_stored_settings_are_refused_naming_them(stored, tmp_path, entry, message):
    model, _, _ = stored
    path = save_checkpoint(model, tmp_path / "odd.pth", meta={"inference": entry})
    with pytest.raises(CheckpointError, match=message):
        ritm_lite.load_checkpoint(path)


@pytest.mark.parametrize("settings", [InferenceSettings(multi_scale=320, refine=1), InferenceSettings(max_size=320),
                                      InferenceSettings(max_size=480, multi_scale=320, refine=2)])
def test_the_round_trip_through_meta(settings):
    assert InferenceSettings.from_meta({"inference": settings.to_meta()}) == settings
    assert InferenceSettings.from_meta({"name": "x"}) == InferenceSettings() and InferenceSettings().to_meta() == {}
    net = torch.nn.Identity()
    assert unwrap(settings.wrap(net)) == (net, settings)


def test_a_stored_max_size_is_the_innermost_wrapper(stored, tmp_path):
    """Every pass (both scales, each refinement) sees at most max_size pixels."""
    model, _, _ = stored
    path = save_checkpoint(model, tmp_path / "max.pth", meta={"inference": {"max_size": 24, "multi_scale": 16}})
    loaded = ritm_lite.load_checkpoint(path)
    assert isinstance(loaded, MultiScale) and isinstance(loaded.network, MaxSize) and loaded.network.max_size == 24
    assert unwrap(loaded)[1] == InferenceSettings(max_size=24, multi_scale=16) == read_settings(path)
    with pytest.raises(ValueError, match="another order"):
        unwrap(MaxSize(MultiScale(model, 16), 24))


def test_a_backend_replaces_the_network_inside_the_settings(stored):
    _, with_settings, _ = stored
    fast = with_backend(ritm_lite.load_checkpoint(with_settings), "fast")
    network, settings = unwrap(fast)
    assert settings == InferenceSettings(multi_scale=32, refine=1)
    assert type(network).__name__ == "FastRITM"
    with pytest.raises(ValueError, match="unknown backend"):
        with_backend(network, "tensorrt")
    with pytest.raises(ValueError, match="calibration_samples"):
        with_backend(network, "int8")


def test_onnx_export_refuses_to_drop_the_settings(stored, tmp_path):
    _, with_settings, _ = stored
    with pytest.raises(ValueError, match="not the settings"):
        export_onnx(ritm_lite.load_checkpoint(with_settings), tmp_path / "m.onnx")


def test_the_evaluation_cli_runs_and_records_the_stored_settings(stored, tmp_path):
    _, with_settings, _ = stored
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    out = tmp_path / "out.json"
    assert evaluate_main(["--checkpoint", str(with_settings), "--data-root", str(data), "--max-clicks", "1",
                          "--device", "cpu", "--quiet", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["inference"] == {"multi_scale": 32, "refine": 1} and record["method"].endswith("+ms32+refine1")


def test_the_evaluation_cli_names_a_stored_max_size(stored, tmp_path):
    model, _, _ = stored
    path = save_checkpoint(model, tmp_path / "max.pth", meta={"inference": {"max_size": 32}})
    data = make_grabcut_folder(tmp_path / "GrabCut", count=1)
    out = tmp_path / "out.json"
    assert evaluate_main(["--checkpoint", str(path), "--data-root", str(data), "--max-clicks", "1",
                          "--device", "cpu", "--quiet", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["inference"] == {"max_size": 32} and record["method"].endswith("+max32")

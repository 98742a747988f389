"""Checkpoints: official RITM files and ritm_lite's own, loaded safely and strictly."""

import os

import pytest
import torch

import ritm_lite
from ritm_lite import CheckpointError, build_model, load_checkpoint, save_checkpoint
from ritm_lite.clicks import Click, points_tensor


def test_official_format_loads_and_reproduces_the_reference_outputs(reference_dir):
    model = load_checkpoint(reference_dir / "ritm_hrnet18s_official_format.pth")
    assert model.config == ritm_lite.MODEL_PRESETS["hrnet18s"]
    assert not model.training
    ref = torch.load(reference_dir / "ritm_hrnet18s_reference.pt", weights_only=True)
    with torch.no_grad():
        out = model(ref["input"], ref["points"])
    assert torch.allclose(out["instances"], ref["instances"], rtol=0, atol=1e-4 * ref["instances"].abs().max())
    assert torch.allclose(out["instances_aux"], ref["instances_aux"], rtol=0, atol=1e-4 * ref["instances_aux"].abs().max())


@pytest.mark.parametrize("half", [False, True])
def test_round_trip(tmp_path, half):
    torch.manual_seed(0)
    model = build_model("hrnet18s").eval()
    path = save_checkpoint(model, tmp_path / "m.pth", half=half, meta={"note": "test"})
    loaded = load_checkpoint(path)
    image, points = torch.rand(1, 4, 48, 64), points_tensor([[Click(10, 10, True)]])
    with torch.no_grad():
        a, b = model(image, points)["instances"], loaded(image, points)["instances"]
    if half:
        assert torch.allclose(a, b, atol=5e-2 * a.abs().max())
        assert os.path.getsize(path) < 0.6 * os.path.getsize(save_checkpoint(model, tmp_path / "f.pth"))
    else:
        assert torch.equal(a, b)
    assert torch.load(path, weights_only=True)["meta"] == {"note": "test"}
    assert not list(tmp_path.glob(".*.tmp")), "atomic save left a temporary file"


def test_truncated_file(tmp_path):
    path = save_checkpoint(build_model("hrnet18s"), tmp_path / "m.pth")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("hello, I am a text file")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(path)


def test_a_bare_state_dict_is_recognised(tmp_path):
    path = tmp_path / "sd.pth"
    torch.save(build_model("hrnet18s").state_dict(), path)
    with pytest.raises(CheckpointError, match="bare state_dict"):
        load_checkpoint(path)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_code_is_never_executed(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "config": Payload()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(path)


def test_mismatched_state_dict_names_the_problem(tmp_path):
    state = build_model("hrnet18s").state_dict()
    state.pop("maps_transform.3.scale")
    state["feature_extractor.cls_head.weight"] = torch.zeros(2, 96, 1, 1)
    state["something.else"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save({"format": "ritm_lite", "format_version": 1,
                "config": {"backbone": "hrnet18s", "ocr_width": 48}, "state_dict": state}, path)
    with pytest.raises(CheckpointError, match=r"1 missing .*maps_transform.3.scale.*1 unexpected.*1 with wrong shapes"):
        load_checkpoint(path)


def test_official_checkpoint_of_another_architecture_is_refused(tmp_path, reference_dir):
    contents = torch.load(reference_dir / "ritm_hrnet18s_official_format.pth", weights_only=True)
    contents["config"]["params"]["use_rgb_conv"]["value"] = True
    path = tmp_path / "dmf.pth"
    torch.save(contents, path)
    with pytest.raises(CheckpointError, match="use_rgb_conv=True"):
        load_checkpoint(path)
    contents["config"]["class"] = "isegm.model.is_deeplab_model.DeeplabModel"
    torch.save(contents, path)
    with pytest.raises(CheckpointError, match="DeeplabModel"):
        load_checkpoint(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        load_checkpoint("/nonexistent/model.pth")

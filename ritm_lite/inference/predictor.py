"""The predictor: one RITM step per call, SAM-style.

Each call to :meth:`Predictor.predict` is one click of the interaction (Sec. 3 of the paper,
"Iterative training ... with mask guidance" at test time):

1. input = ``cat(image, previous prediction)``, a ``(1, 4, H, W)`` float tensor (RGB in
   ``[0, 1]``, then the previous probabilities);
2. the transforms, in order (:mod:`ritm_lite.inference.transforms`):
   :class:`~ritm_lite.inference.zoom_in.ZoomIn` crops it around the object (from the 2nd
   click on), :class:`~ritm_lite.inference.limit_longest_side.LimitLongestSide` shrinks what
   is still longer than ``max_size`` (when set), and
   :class:`~ritm_lite.inference.flip.HorizontalFlip` adds the mirror image;
3. the model turns it, with all clicks so far, into ``"instances"`` logits;
4. the inverse transforms in reverse order: flip averages the logits, the sigmoid makes
   probabilities, LimitLongestSide resizes them back, ZoomIn pastes the crop into a
   full-size zero map;
5. the result is the next call's previous prediction.

Anything beyond the paper is part of the *model* it is given (a checkpoint's stored settings
wrap it when it is loaded: :mod:`ritm_lite.inference.settings`), and asking a click again with
its own answer as the mask is a second ``predict`` call with the same clicks.

>>> predictor = Predictor(ritm_lite.load_checkpoint(path))   # doctest: +SKIP
>>> predictor.set_image(image)                          # (H, W, 3) uint8 RGB
>>> probs = predictor.predict(np.array([[120, 80]]), np.array([1]))   # (x, y), positive
>>> probs = predictor.predict(np.array([[120, 80], [40, 30]]), np.array([1, 0]))
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ritm_lite.clicks import Click, clicks_from_prompts, points_tensor
from ritm_lite.inference.flip import HorizontalFlip
from ritm_lite.inference.limit_longest_side import LimitLongestSide
from ritm_lite.inference.transforms import InferenceTransform, Sigmoid
from ritm_lite.inference.zoom_in import Box, ZoomIn, ZoomInConfig, ZoomView

MAX_NETWORK_PIXELS = 16_000_000
"""The most pixels the network may be shown at once (16 megapixels, e.g. 4000 x 4000): the course
model's activations take about 840 bytes per input pixel with flip averaging (measured on a
1000 x 1000 input), so 16 MP is about 13 GB. A larger image is refused by :meth:`Predictor.set_image`
unless ``max_size`` shrinks what the network sees."""


def _as_zoom_in(zoom_in: ZoomIn | ZoomInConfig | bool | None) -> ZoomIn | None:
    """A ``ZoomIn`` from ``True`` (the paper's: ``ZoomInConfig()``), a ``ZoomIn``, a
    ``ZoomInConfig``, or ``None``/``False`` (off)."""
    if zoom_in is True:
        zoom_in = ZoomInConfig()
    if isinstance(zoom_in, ZoomInConfig):
        return ZoomIn(zoom_in)
    if zoom_in is False or zoom_in is None:
        return None
    if not isinstance(zoom_in, ZoomIn):
        raise ValueError(f"zoom_in must be a bool, a ZoomInConfig or a ZoomIn, got {zoom_in!r}")
    return zoom_in


@dataclass
class PredictorState:
    """Everything :meth:`Predictor.set_state` needs to undo to an earlier click."""

    image_digest: str  # BLAKE2 digest of the image's pixels: a state only fits its own image
    prev_prediction: torch.Tensor  # (1, 1, H, W) probabilities
    zoom_roi: Box | None  # the ZoomIn box kept for the next click (None: none yet, or no ZoomIn)


class Predictor:
    """Click-by-click inference with an RITM model.

    Args:
        model: a module called as ``model(image, points)`` with ``image`` ``(B, 4, H, W)``
            and ``points`` ``(B, 2N, 3)``, returning a dict with ``"instances"`` logits
            ``(B, 1, h, w)`` (resized to the input size if smaller). It is put in eval mode
            and runs where its parameters are (the CPU when it has none). Load a checkpoint
            with ``ritm_lite.load_checkpoint`` to get the settings it stores; for speed pass
            :func:`~ritm_lite.inference.fast.optimize_for_inference` ``(model)`` or an
            :class:`~ritm_lite.inference.onnx_export.OnnxRuntimeModel` (CPU).
        zoom_in: ``True`` for the paper's ZoomIn (crops of 400 px), ``False`` for none, or a
            :class:`ZoomInConfig` / :class:`ZoomIn` of your own, e.g.
            ``ZoomInConfig(target_size=600)``, the paper's size on DAVIS.
        flip: average the logits of the image and of its mirror image (one batch of two).
        max_size: shrink what the network would see to this long side, in pixels, when it
            is longer (the original predictor's ``max_size``; its demo uses 800). ``None``:
            never (the paper's evaluation). It mostly acts on the first click, which sees
            the whole image; it is also the way to run images above :data:`MAX_NETWORK_PIXELS`.
    """

    def __init__(
        self,
        model: nn.Module,
        zoom_in: bool | ZoomIn | ZoomInConfig = True,
        flip: bool = True,
        max_size: int | None = None,
    ):
        if not isinstance(model, nn.Module) or not callable(model):
            raise TypeError(f"model must be a torch.nn.Module called as model(image, points), got {type(model).__name__}")
        param = next(iter(model.parameters()), None)
        self.device = param.device if param is not None else torch.device("cpu")
        self.model = model.eval()
        self.zoom_in: ZoomIn | None = _as_zoom_in(zoom_in)
        self.limit: LimitLongestSide | None = LimitLongestSide(max_size) if max_size is not None else None
        self.flip: HorizontalFlip | None = HorizontalFlip() if flip else None
        self._image: torch.Tensor | None = None  # (1, 3, H, W) float32 in [0, 1]
        self._prev_prediction: torch.Tensor | None = None  # (1, 1, H, W) probabilities
        self._zoom_view: ZoomView | None = None  # the last click's ZoomIn view (its box is kept)
        self._image_digest: str | None = None  # which image the state belongs to

    def with_zoom_in(self, zoom_in: bool | ZoomIn | ZoomInConfig | None) -> Predictor:
        """A new predictor with this one's model, flip and ``max_size`` and another ZoomIn
        (``True``: the paper's; a ``ZoomIn`` / ``ZoomInConfig``; ``None`` / ``False``: none).

        Like ``dataclasses.replace``: this predictor is left as it is, and the new one starts
        with no image and no clicks (the widget's ZoomIn toggle gives it the image and replays
        the object's clicks). The model is shared, not copied.
        """
        max_size = self.limit.max_size if self.limit is not None else None
        return Predictor(self.model, zoom_in=_as_zoom_in(zoom_in) or False, flip=self.flip is not None,
                         max_size=max_size)

    # ------------------------------------------------------------------ image and state

    def set_image(self, image: np.ndarray) -> None:
        """Set the image to segment and forget all clicks.

        Args:
            image: ``(H, W, 3)`` uint8 RGB array.
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be an (H, W, 3) RGB array, got shape {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"image must be uint8 (0..255), got {image.dtype}")
        if min(image.shape[:2]) < 1:
            raise ValueError(f"image has no pixels: shape {image.shape}")
        self._check_budget(*image.shape[:2])
        self._image_digest = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest()
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div(255)
        self._image = tensor.unsqueeze(0).to(self.device)
        self.reset()

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of the current image."""
        self._require_image()
        return tuple(self._image.shape[2:])

    @property
    def prev_prediction(self) -> np.ndarray:
        """The ``(H, W)`` float32 probabilities the next click will see as its mask channel."""
        self._require_image()
        return self._prev_prediction[0, 0].cpu().numpy().copy()  # a copy: changing it must not change the next click

    @property
    def zoom_view(self) -> ZoomView | None:
        """The last click's :class:`ZoomView` (its box, crop size, whether the box was new);
        ``None`` before the first click or without ZoomIn."""
        return self._zoom_view

    def reset(self) -> None:
        """Forget all clicks (previous prediction = zeros, no ZoomIn box), keep the image."""
        self._require_image()
        self._prev_prediction = torch.zeros_like(self._image[:, :1])
        self._zoom_view = None

    def get_state(self) -> PredictorState:
        """A snapshot to return to with :meth:`set_state` (undo)."""
        self._require_image()
        return PredictorState(
            image_digest=self._image_digest,
            prev_prediction=self._prev_prediction.clone(),
            zoom_roi=self._zoom_roi(),
        )

    def set_state(self, state: PredictorState) -> None:
        """Return to a snapshot taken by :meth:`get_state` on the same image."""
        self._require_image()
        if not isinstance(state, PredictorState):
            raise TypeError(f"set_state needs a PredictorState from get_state(), got {type(state).__name__}")
        if state.image_digest != self._image_digest:
            raise ValueError("this state belongs to another image (taken before set_image was given a new one)")
        if tuple(state.prev_prediction.shape) != tuple(self._prev_prediction.shape):
            raise ValueError("this state belongs to an image of another size")
        self._prev_prediction = state.prev_prediction.clone().to(self.device)
        roi = state.zoom_roi if self.zoom_in is not None else None
        self._zoom_view = ZoomView(roi=roi, input_size=self.image_size) if roi is not None else None

    # ------------------------------------------------------------------ prediction

    def predict(
        self,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        mask_input: np.ndarray | None = None,
    ) -> np.ndarray:
        """Predict for the clicks so far (one pass of the transforms and the model).

        Args:
            point_coords: ``(N, 2)`` ``(x, y)`` pixel coordinates of ALL clicks so far, in
                click order.
            point_labels: ``(N,)`` 1 for positive, 0 for negative clicks.
            mask_input: optional ``(H, W)`` float probabilities in ``[0, 1]`` or bool mask
                used as the previous prediction instead of the predictor's own (to correct
                an existing segmentation); ZoomIn places its box on it too.

        Returns:
            ``(H, W)`` float32 foreground probabilities (threshold 0.49 in the paper's
            protocol). Calling again with the same clicks asks the model again with this
            answer as the previous mask (refinement by hand).

        Raises:
            RuntimeError: no image set.
            ValueError: bad clicks, labels or ``mask_input``.
        """
        self._require_image()
        clicks = clicks_from_prompts(point_coords, point_labels, self.image_size)
        if mask_input is not None:
            self._prev_prediction = self._mask_tensor(mask_input)
        with torch.no_grad():
            probs, view = self._step(clicks, self._zoom_roi())
            if self.zoom_in is not None and self.zoom_in.needs_recompute(probs, view):
                probs, view = self._step(clicks, view.roi, zoom_guide=probs)  # zoomed around the first answer
        self._prev_prediction, self._zoom_view = probs, view
        return probs[0, 0].cpu().numpy().copy()  # the caller's own array, not a view of the state

    def _transforms(self, roi: Box | None, zoom_guide: torch.Tensor | None) -> list[InferenceTransform]:
        """This click's transforms, in the order they apply (see :mod:`ritm_lite.inference.transforms`)."""
        zoom = self.zoom_in.at(roi, zoom_guide) if self.zoom_in is not None else None
        return [t for t in (zoom, self.limit, Sigmoid(), self.flip) if t is not None]

    def _step(
        self, clicks: list[Click], roi: Box | None, zoom_guide: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ZoomView | None]:
        """One forward pass for ``clicks`` with the ZoomIn box ``roi`` kept from the click
        before: ``(1, 1, H, W)`` probabilities and the ZoomIn view used (``None`` without)."""
        net_input = torch.cat([self._image, self._prev_prediction], dim=1)
        clicks_lists = [clicks]
        transforms = self._transforms(roi, zoom_guide)
        views = []
        for transform in transforms:
            net_input, clicks_lists, view = transform.transform(net_input, clicks_lists)
            views.append(view)
        maps = self.model(net_input, points_tensor(clicks_lists, device=self.device))["instances"]
        if maps.shape[2:] != net_input.shape[2:]:
            maps = F.interpolate(maps, size=net_input.shape[2:], mode="bilinear", align_corners=True)
        for transform, view in zip(reversed(transforms), reversed(views)):
            maps = transform.inv_transform(maps, view)
        return maps, views[0] if self.zoom_in is not None else None

    # ------------------------------------------------------------------ helpers

    def _zoom_roi(self) -> Box | None:
        """The ZoomIn box the next click starts from (the predictor owns it, not ZoomIn)."""
        return self._zoom_view.roi if self._zoom_view is not None else None

    def _check_budget(self, height: int, width: int) -> None:
        """Refuse an image whose first click would show the network more than
        :data:`MAX_NETWORK_PIXELS` (the first click sees the whole image, after ``max_size``)."""
        seen = self.limit.output_size(height, width) if self.limit is not None else (height, width)
        if seen[0] * seen[1] > MAX_NETWORK_PIXELS:
            side = int((MAX_NETWORK_PIXELS * max(height, width) / min(height, width)) ** 0.5)
            raise ValueError(
                f"a {width} x {height} image: the network would see {seen[0] * seen[1] / 1e6:.0f} megapixels "
                f"at the first click, over the predictor's budget of {MAX_NETWORK_PIXELS / 1e6:.0f} MP "
                f"(about 840 bytes per pixel with flip: {seen[0] * seen[1] * 840 / 2**30:.0f} GiB); build the "
                f"Predictor with max_size (e.g. max_size=1024, at most {side}) to shrink what it sees")

    def _require_image(self) -> None:
        if self._image is None:
            raise RuntimeError("no image set: call set_image(image) before predicting")

    def _mask_tensor(self, mask: np.ndarray) -> torch.Tensor:
        mask = np.asarray(mask)
        if mask.shape != self.image_size:
            raise ValueError(
                f"mask_input must have the image's shape {self.image_size}, got {mask.shape}"
            )
        if mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
            raise ValueError(f"mask_input must be float probabilities or bool, got {mask.dtype}")
        mask = mask.astype(np.float32)
        if not np.all(np.isfinite(mask)) or mask.min(initial=0) < 0 or mask.max(initial=0) > 1:
            raise ValueError("mask_input must hold probabilities in [0, 1]")
        return torch.from_numpy(mask)[None, None].to(self.device)

"""The predictor: one RITM step per call, SAM-style.

Each call to :meth:`Predictor.predict` is one click of the interaction (Sec. 3 of the paper,
"Iterative training ... with mask guidance" at test time):

1. input = ``cat(image, previous prediction)``, a ``(1, 4, H, W)`` float tensor (RGB in
   ``[0, 1]``, then the previous probabilities);
2. :class:`~ritm_lite.inference.zoom_in.ZoomIn` crops it around the object (from the 2nd
   click on), :class:`~ritm_lite.inference.limit_longest_side.LimitLongestSide` shrinks
   what is still longer than ``max_size`` (when set), and
   :class:`~ritm_lite.inference.flip.HorizontalFlip` adds the mirror image;
3. the model turns it, with all clicks so far, into ``"instances"`` logits;
4. inverse transforms in reverse order: flip averages the logits, the sigmoid makes
   probabilities, LimitLongestSide resizes them back, ZoomIn pastes the crop into a
   full-size zero map;
5. the result is the next call's previous prediction.

>>> predictor = Predictor(model)                       # doctest: +SKIP
>>> predictor.set_image(image)                          # (H, W, 3) uint8 RGB
>>> probs = predictor.predict(np.array([[120, 80]]), np.array([1]))   # (x, y), positive
>>> probs = predictor.predict(np.array([[120, 80], [40, 30]]), np.array([1, 0]))
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ritm_lite.clicks import Click, clicks_from_prompts, points_tensor
from ritm_lite.inference.flip import HorizontalFlip
from ritm_lite.inference.limit_longest_side import LimitLongestSide
from ritm_lite.inference.multi_scale import MultiScale
from ritm_lite.inference.refinement import MaskRefinement
from ritm_lite.inference.zoom_in import Box, ZoomIn, ZoomInConfig, ZoomView


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
            ``(B, 1, h, w)`` (resized to the input size if smaller). It is put in eval mode.
            For speed pass :func:`~ritm_lite.inference.fast.optimize_for_inference` ``(model)``
            or an :class:`~ritm_lite.inference.onnx_export.OnnxRuntimeModel` (CPU).
        zoom_in: ``True`` for the paper's ZoomIn (crops of 400 px), ``False`` for none, or a
            :class:`ZoomInConfig` / :class:`ZoomIn` of your own, e.g.
            ``ZoomInConfig(target_size=600)``, the paper's size on DAVIS.
        flip: average the logits of the image and of its mirror image (one batch of two).
        max_size: shrink what the network would see to this long side, in pixels, when it
            is longer (the original predictor's ``max_size``; its demo uses 800). ``None``:
            never (the paper's evaluation). It mostly acts on the first click, which sees
            the whole image.
        multi_scale: also run the network on a copy shrunk to this long side whenever what
            it sees is longer, and average the two probability maps
            (:class:`~ritm_lite.inference.multi_scale.MultiScale`; not in the paper). ``None``:
            never (the paper's evaluation). Below ZoomIn's crop size it acts on every click.
        refine: ask each click this many more times, each pass seeing the last one's
            probabilities as its previous mask
            (:class:`~ritm_lite.inference.refinement.MaskRefinement`; not in the paper).
            ``None``: one pass per click (the paper's evaluation).
        refine_clicks: with ``refine``, refine the first this many clicks only; ``None``:
            every click.
        device: where to run; ``None`` keeps the model where it is, otherwise the model is
            moved there.
    """

    def __init__(
        self,
        model: nn.Module,
        zoom_in: bool | ZoomIn | ZoomInConfig = True,
        flip: bool = True,
        max_size: int | None = None,
        multi_scale: int | None = None,
        refine: int | None = None,
        refine_clicks: int | None = None,
        device: torch.device | str | None = None,
    ):
        if device is not None:
            model = model.to(device)
        else:
            param = next(iter(model.parameters()), None)
            device = param.device if param is not None else torch.device("cpu")
        self.model = model.eval()
        self.device = torch.device(device)
        self.zoom_in: ZoomIn | None = _as_zoom_in(zoom_in)
        self.limit: LimitLongestSide | None = LimitLongestSide(max_size) if max_size is not None else None
        self.flip: HorizontalFlip | None = HorizontalFlip() if flip else None
        self.multi_scale: MultiScale | None = MultiScale(multi_scale) if multi_scale is not None else None
        if refine is None and refine_clicks is not None:
            raise ValueError("refine_clicks says which clicks to refine: it needs refine (the extra passes)")
        self.refinement: MaskRefinement | None = MaskRefinement(refine, refine_clicks) if refine is not None else None
        self._image: torch.Tensor | None = None  # (1, 3, H, W) float32 in [0, 1]
        self._prev_prediction: torch.Tensor | None = None  # (1, 1, H, W) probabilities
        self._zoom_view: ZoomView | None = None  # the last click's ZoomIn view (its box is kept)
        self._image_digest: str | None = None  # which image the state belongs to
        self.last_model_seconds = 0.0  # time spent in the model by the last predict()

    def set_zoom_in(self, zoom_in: bool | ZoomIn | ZoomInConfig | None) -> None:
        """Switch ZoomIn on (``True``: the paper's; a ``ZoomIn`` / ``ZoomInConfig``) or off.

        The clicks so far were predicted under the old setting, so the interaction starts
        over on the same image (``reset``); the caller replays its clicks if it wants them
        (the widget does).
        """
        self.zoom_in = _as_zoom_in(zoom_in)
        if self._image is not None:
            self.reset()

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
        return self._prev_prediction[0, 0].cpu().numpy()

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
        """Predict for the clicks so far (one pass of the model; more with ``refine``).

        Args:
            point_coords: ``(N, 2)`` ``(x, y)`` pixel coordinates of ALL clicks so far, in
                click order.
            point_labels: ``(N,)`` 1 for positive, 0 for negative clicks.
            mask_input: optional ``(H, W)`` float probabilities in ``[0, 1]`` or bool mask
                used as the previous prediction instead of the predictor's own (to correct
                an existing segmentation); ZoomIn places its box on it too.

        Returns:
            ``(H, W)`` float32 foreground probabilities (threshold 0.49 in the paper's
            protocol).

        Raises:
            RuntimeError: no image set.
            ValueError: bad clicks, labels or ``mask_input``.
        """
        self._require_image()
        clicks = clicks_from_prompts(point_coords, point_labels, self.image_size)
        if mask_input is not None:
            self._prev_prediction = self._mask_tensor(mask_input)
        self.last_model_seconds = 0.0
        extra = self.refinement.extra_passes(len(clicks)) if self.refinement is not None else 0
        with torch.no_grad():
            for _ in range(1 + extra):  # p_k = f(I, clicks, p_(k-1)): each pass sees the last answer
                self._prev_prediction, self._zoom_view = self._pass(clicks)
        return self._prev_prediction[0, 0].cpu().numpy().copy()  # the caller's own array, not a view of the state

    def _pass(self, clicks: list[Click]) -> tuple[torch.Tensor, ZoomView | None]:
        """The model's answer to ``clicks`` given the current previous mask and ZoomIn box:
        ``(1, 1, H, W)`` probabilities and the ZoomIn view used."""
        probs, view = self._step(clicks, self._zoom_roi())
        if self.zoom_in is not None and self.zoom_in.needs_recompute(probs, view):
            probs, view = self._step(clicks, view.roi, zoom_guide=probs)  # zoomed around the first answer
        return probs, view

    def _step(
        self, clicks: list[Click], roi: Box | None, zoom_guide: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ZoomView | None]:
        """One forward pass for ``clicks`` with the ZoomIn box ``roi`` kept from the click
        before: ``(1, 1, H, W)`` probabilities and the ZoomIn view used (``None`` without)."""
        net_input = torch.cat([self._image, self._prev_prediction], dim=1)
        clicks_lists = [clicks]
        view = None
        if self.zoom_in is not None:
            net_input, clicks_lists, view = self.zoom_in.transform(net_input, clicks_lists, roi, guide=zoom_guide)
        zoomed_size = tuple(net_input.shape[2:])
        probs = self._probabilities(net_input, clicks_lists, self.limit)
        if self.multi_scale is not None:
            seen = self.limit.output_size(*zoomed_size) if self.limit is not None else zoomed_size
            if self.multi_scale.applies(*seen):  # p = (p(I) + p(shrink(I))) / 2
                probs = 0.5 * (probs + self._probabilities(net_input, clicks_lists, self.multi_scale.shrink))
        if self.zoom_in is not None:
            probs = self.zoom_in.inv_transform(probs, view)
        return probs, view

    def _probabilities(
        self, net_input: torch.Tensor, clicks_lists: list[list[Click]], limit: LimitLongestSide | None
    ) -> torch.Tensor:
        """``(1, 1, h, w)`` probabilities for the ``(1, 4, h, w)`` network input (after ZoomIn):
        ``limit`` shrinks it (if set), flip averages the logits, then the sigmoid, and the map
        goes back to ``(h, w)``."""
        size = tuple(net_input.shape[2:])
        if limit is not None:
            net_input, clicks_lists = limit.transform(net_input, clicks_lists)
        if self.flip is not None:
            net_input, clicks_lists = self.flip.transform(net_input, clicks_lists)
        points = points_tensor(clicks_lists, device=self.device)

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        logits = self.model(net_input, points)["instances"]
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.last_model_seconds += time.perf_counter() - start

        if logits.shape[2:] != net_input.shape[2:]:
            logits = F.interpolate(
                logits, size=net_input.shape[2:], mode="bilinear", align_corners=True
            )
        if self.flip is not None:
            logits = self.flip.inv_transform(logits)
        probs = torch.sigmoid(logits)
        if limit is not None:
            probs = limit.inv_transform(probs, size)
        return probs

    # ------------------------------------------------------------------ helpers

    def _zoom_roi(self) -> Box | None:
        """The ZoomIn box the next click starts from (the predictor owns it, not ZoomIn)."""
        return self._zoom_view.roi if self._zoom_view is not None else None

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

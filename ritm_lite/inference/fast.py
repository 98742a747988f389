"""Fast inference: the same RITM network, rearranged so that a click costs less.

:func:`optimize_for_inference` turns a trained :class:`~ritm_lite.model.RITMModel` into a
:class:`FastRITM`: a module with the same call, ``model(image, points) -> {"instances",
"instances_aux"}``, whose outputs equal the original's up to float32 rounding (probabilities
within 1e-4 in the tests; README "Fast inference" shows where float32 itself is coarser).
Give it to the predictor like any model:

>>> predictor = Predictor(optimize_for_inference(model))   # doctest: +SKIP

What it does (``benchmarks/fast_inference.py`` measures each step; README "Fast inference"):

1. **BatchNorm folding** (:func:`ritm_lite.model.fuse.fold_batchnorm`): every eval-mode
   ``conv -> BN`` pair becomes one convolution, and Conv1S's scale joins its convolution.
2. **channels_last** memory format: oneDNN runs the convolutions on NHWC tensors directly,
   without reordering every layer's input and output.
3. **Image features computed once.** Conv1S adds the clicks *after* the stem's first
   convolution, so ``relu(conv1(normalise(rgb)))`` depends on the image alone. Between clicks
   ZoomIn keeps its box, so the network sees the same RGB crop click after click: the module
   remembers the last RGB input and its features, and reuses them when the new RGB input is
   *equal* to it (a content comparison, so a new image or a moved ZoomIn box can never get
   stale features: the output stays a function of the inputs alone).
4. Optionally **autocast** (``dtype=torch.float16 / bfloat16``: GPUs, and bf16 on CPUs that
   run it natively, :mod:`ritm_lite.inference.precision`) and
   **torch.compile** of the click-dependent part (``compile_mode``, e.g. ``"default"`` or
   ``"reduce-overhead"`` for CUDA graphs). Compilation is per input shape: on a 2-core CPU it
   takes one to two minutes per ZoomIn crop size, so it is off by default.

What does *not* change between clicks, in RITM's forward pass::

    normalise(rgb) -> conv1 -> bn1 -> relu ------------------+ (image only: cached)
    [prev mask, disks(clicks)] -> Conv1S --------------------+-> conv2 -> ... -> OCR head
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext

import torch
from torch import nn

from ritm_lite.model.fuse import count_batchnorm, fold_batchnorm
from ritm_lite.model.ritm import RITMModel


class FastRITM(nn.Module):
    """A :class:`RITMModel` rearranged for inference (eval mode only).

    Args:
        model: the trained model; not modified (a folded copy is kept).
        channels_last: store weights and activations as NHWC.
        cache_image_features: reuse the stem's image-only features while the RGB input stays
            the same (see the module docstring).
        dtype: run under ``torch.autocast`` in this dtype (``torch.float16`` or
            ``torch.bfloat16``); ``None`` keeps float32. Outputs are float32 either way.
        compile_mode: if given, ``torch.compile`` the click-dependent part: ``"default"``
            with inductor and the weights frozen into the graph, any other value as
            ``torch.compile(mode=...)`` (``"reduce-overhead"``: CUDA graphs). One compilation
            per input shape (about a minute per ZoomIn crop size on a 2-core CPU).

    ``forward(image (B, 4, H, W), points (B, 2N, 3))`` returns ``{"instances",
    "instances_aux"}`` float32 logits ``(B, 1, H, W)``, like :meth:`RITMModel.forward`.
    """

    def __init__(
        self,
        model: RITMModel,
        channels_last: bool = True,
        cache_image_features: bool = True,
        dtype: torch.dtype | None = None,
        compile_mode: str | None = None,
    ):
        super().__init__()
        if not isinstance(model, RITMModel):
            raise TypeError(f"expected a RITMModel, got {type(model).__name__}")
        if dtype not in (None, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be None, torch.float16 or torch.bfloat16, got {dtype}")
        folded = fold_batchnorm(model)
        if count_batchnorm(folded):
            raise RuntimeError(f"{count_batchnorm(folded)} BatchNorm layers could not be folded")
        self.config = model.config
        self.model = folded  # the same RITMModel, BatchNorm folded: this module composes its parts
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.cache_image_features = cache_image_features
        self.autocast_dtype = dtype
        self.compile_mode = compile_mode
        if compile_mode is None:
            self._trunk = self.trunk
        elif compile_mode == "default":  # with the weights frozen into the graph (inference)
            self._trunk = torch.compile(self.trunk, dynamic=False, options={"freezing": True})
        else:
            self._trunk = torch.compile(self.trunk, mode=compile_mode, dynamic=False)
        self._cached_rgb: torch.Tensor | None = None
        self._cached_features: torch.Tensor | None = None
        self.cache_hits = 0  # how often the image features were reused ...
        self.cache_misses = 0  # ... and how often they were computed
        self.eval()

    def train(self, mode: bool = True) -> FastRITM:
        if mode:
            raise RuntimeError("FastRITM is for inference only: BatchNorm has been folded")
        return super().train(False)

    # ------------------------------------------------------------------ the two parts

    def image_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """:meth:`RITMModel.image_features` of the folded model, in this module's memory format."""
        return self.model.image_features(rgb.contiguous(memory_format=self.memory_format))

    def trunk(self, image_features: torch.Tensor, coord_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`RITMModel.trunk` of the folded model, in this module's memory format."""
        return self.model.trunk(image_features, coord_features.contiguous(memory_format=self.memory_format))

    # ------------------------------------------------------------------ forward

    def _image_features_cached(self, rgb: torch.Tensor) -> torch.Tensor:
        cached = self._cached_rgb
        if (
            cached is not None
            and cached.shape == rgb.shape
            and cached.device == rgb.device
            and cached.dtype == rgb.dtype
            and torch.equal(cached, rgb)
        ):
            self.cache_hits += 1
            return self._cached_features
        features = self.image_features(rgb)
        self._cached_rgb, self._cached_features = rgb.clone(), features
        self.cache_misses += 1
        return features

    def clear_cache(self) -> None:
        """Forget the remembered image features (frees their memory; never needed for correctness)."""
        self._cached_rgb = self._cached_features = None

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """Same contract as :meth:`ritm_lite.model.RITMModel.forward`."""
        autocast = (
            torch.autocast(image.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else nullcontext()
        )
        with torch.no_grad():
            coord = self.model.coord_features(image, points)  # checks the inputs, float32 maps
        with torch.no_grad(), autocast:
            rgb = image[:, :3]
            features = self._image_features_cached(rgb) if self.cache_image_features else self.image_features(rgb)
            logits, aux = self._trunk(features, coord)
        return self.model.upsample(logits, aux, image.shape[-2:])


def optimize_for_inference(
    model: nn.Module,
    channels_last: bool = True,
    cache_image_features: bool = True,
    dtype: torch.dtype | None = None,
    compile_mode: str | None = None,
) -> nn.Module:
    """A :class:`FastRITM` computing what ``model`` computes, faster (see the module docstring).

    The defaults are what measured fastest on a 2-core CPU (README, "Fast inference").
    The result lives on ``model``'s device; ``model`` itself is not modified.

    ``dtype=torch.bfloat16`` on a CPU without native bf16 (:func:`ritm_lite.inference.precision.
    native_bf16`) warns and runs float32: emulated bf16 is many times slower, never what a caller
    asking for speed wants (``FastRITM(model, dtype=torch.bfloat16)`` forces it).

    A model wrapped in its checkpoint's settings (``ritm_lite.load_checkpoint``'s
    :class:`~ritm_lite.inference.multi_scale.MultiScale` / :class:`~ritm_lite.inference.refinement.
    Refine`) comes back in the same settings around the :class:`FastRITM`.
    """
    from ritm_lite.inference.precision import bf16_fallback_warning, native_bf16
    from ritm_lite.inference.settings import unwrap

    model, settings = unwrap(model)
    if settings.to_meta():
        return settings.wrap(optimize_for_inference(model, channels_last, cache_image_features, dtype, compile_mode))

    on_cpu = next(model.parameters()).device.type == "cpu"
    if dtype == torch.bfloat16 and on_cpu and not native_bf16():
        warnings.warn(bf16_fallback_warning(), RuntimeWarning, stacklevel=2)
        dtype = None
    return FastRITM(
        model,
        channels_last=channels_last,
        cache_image_features=cache_image_features,
        dtype=dtype,
        compile_mode=compile_mode,
    )

"""The predictor the widget runs: the paper's inference on the fast backend.

A click in the widget is one :meth:`~ritm_lite.inference.Predictor.predict` call, and a person
waits for it. The network as trained (backend ``"eager"``) took 3-5 s per click with the course
weights' stored settings (every click also at 320 px, and once more with its own answer) on a
busy 2-core CPU, so the widget runs the **fast** backend by default
(:func:`~ritm_lite.inference.backends.with_backend` ``(model, "fast")``: BatchNorm folded into
the convolutions, channels_last, the image-only stem features reused while the RGB input stays
the same). It computes what the eager network computes, up to float32 rounding (probabilities
within 1e-4 in ``tests/inference/test_fast_inference.py``), about twice as fast on a CPU
(``benchmarks/README.md``). On a GPU it is the same float32 maths, so it stays the default
there too; ``"bf16"`` is faster still on recent GPUs and CPUs with native bf16, at a small cost
in accuracy (``benchmarks/README.md``, "bf16"), so it is a choice, not the default.

>>> predictor = live_predictor(ritm_lite.load_checkpoint(path))            # doctest: +SKIP
>>> predictor = live_predictor(model, backend="eager")   # the network as trained
"""

from __future__ import annotations

from torch import nn

from ritm_lite.inference.backends import BACKENDS, with_backend
from ritm_lite.inference.predictor import Predictor
from ritm_lite.inference.zoom_in import ZoomIn, ZoomInConfig

LIVE_BACKEND = "fast"
"""The backend the widget's predictor runs by default (see the module docstring)."""


def live_predictor(
    model: nn.Module,
    backend: str = LIVE_BACKEND,
    zoom_in: bool | ZoomIn | ZoomInConfig = True,
    flip: bool = True,
    max_size: int | None = None,
) -> Predictor:
    """A :class:`~ritm_lite.inference.Predictor` for ``model`` with its network run by ``backend``.

    Args:
        model: a loaded model (``ritm_lite.load_checkpoint``: wrapped in the settings its
            checkpoint stores, which stay around the new network), on the device to run on.
        backend: ``"fast"`` (default), ``"eager"`` (the network as trained), ``"bf16"`` or
            ``"onnxruntime"`` (CPU); one of :data:`~ritm_lite.inference.backends.BACKENDS`
            except ``"int8"``, which needs calibration photos (``with_backend``).
        zoom_in, flip, max_size: the predictor's options (the paper's ZoomIn and flip by default).

    Raises:
        ValueError: an unknown backend, or ``"int8"``.
    """
    if backend == "int8" or backend not in BACKENDS:
        choices = [name for name in BACKENDS if name != "int8"]
        raise ValueError(f"backend must be one of {choices}, got {backend!r} "
                         "(int8 needs calibration photos: Predictor(with_backend(model, 'int8', samples)))")
    return Predictor(with_backend(model.eval(), backend), zoom_in=zoom_in, flip=flip, max_size=max_size)

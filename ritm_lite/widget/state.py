"""The state of a click-segmentation session, kept apart from any widget.

RITM segments one object at a time from a sequence of clicks: each new click runs one
forward pass with *all* clicks so far and the previous prediction fed back as the extra
input channel (that is the "mask guidance" of the paper). An annotation session adds three
things around that loop, which live here as plain Python so they are tested without a
browser:

* an **undo stack**: before each click the predictor's state is snapshotted
  (``get_state()``: the previous mask and ZoomIn's kept box), so undo restores exactly the predictor
  that produced the previous mask;
* **several objects**: "finish object" writes the current mask into a label map
  (``0`` = background, ``k`` = object ``k``) and starts the next object from a fresh
  predictor state. **Overlaps**: a later object takes only the pixels that no finished object
  has (:data:`OVERLAP_RULE`); finished objects are never painted over, so none can vanish
  from the saved label map or the COCO export while still listed (the original RITM demo
  paints over them). An object that lies entirely on finished ones is refused;
* **bounded undo** (``undo.py``): the undo stack keeps at most ``undo_memory_mb`` of
  snapshots per object (512 MB by default: about five clicks on a 12-megapixel photo,
  hundreds on a small one); past it the oldest are dropped and :attr:`undo_dropped` counts
  the clicks that can no longer be undone;
* **correcting an existing mask**: a loaded mask is shown as the current object and is fed
  to the first click's prediction as ``mask_input``.

Coordinates are ``(x, y)`` pixels, ``x`` the column, as everywhere in ``ritm_lite``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ritm_lite.clicks import Click, clicks_from_prompts
from ritm_lite.widget.io import mask_foreground, to_rgb
from ritm_lite.widget.undo import UNDO_MEMORY_MB, UndoStack, UndoStep


@runtime_checkable
class PredictorLike(Protocol):
    """What the widget needs from a predictor (``ritm_lite.inference.Predictor`` fits).

    ``zoom_in`` and ``with_zoom_in(zoom_in)`` are optional: when the predictor has them
    (``ritm_lite.inference.Predictor`` does), the widget's ZoomIn toggle goes on with
    ``with_zoom_in(None)`` (off) or ``with_zoom_in(its ZoomIn object)`` (on): a *new*
    predictor, the same model with the other ZoomIn (:meth:`SegmentationState.replace_predictor`).
    """

    def set_image(self, image: np.ndarray) -> None:
        """Take an ``H x W x 3`` ``uint8`` RGB image; forget all clicks."""

    def predict(
        self,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        mask_input: np.ndarray | None = None,
    ) -> np.ndarray:
        """All clicks so far: ``(N, 2)`` ``(x, y)`` and ``(N,)`` 1/0 -> ``H x W`` float32."""

    def get_state(self) -> Any:
        """A snapshot to restore with :meth:`set_state` (undo)."""

    def set_state(self, state: Any) -> None:
        """Restore a snapshot taken by :meth:`get_state`."""

    def reset(self) -> None:
        """Forget clicks and the previous mask, keep the image."""


OVERLAP_RULE = "a later object only takes pixels no finished object has"
"""How finished objects share pixels (shown in the widget's help line)."""

_PREDICTOR_METHODS = ("set_image", "predict", "get_state", "set_state", "reset")


def _check_predictor(predictor: Any) -> None:
    """Raise ``TypeError`` unless ``predictor`` has the methods of :class:`PredictorLike`."""
    missing = [name for name in _PREDICTOR_METHODS if not callable(getattr(predictor, name, None))]
    if missing:
        raise TypeError(
            f"predictor must have {', '.join(_PREDICTOR_METHODS)} (a ritm_lite.inference.Predictor); "
            f"{type(predictor).__name__} has no {', '.join(missing)}"
        )


class BusyError(RuntimeError):
    """A prediction is still running; the request was ignored, nothing changed."""


@dataclass(frozen=True)
class FinishedObject:
    """One object written to the label map."""

    object_id: int  # its value in the label map (1, 2, ...)
    clicks: tuple[Click, ...]  # the clicks that made it
    area: int  # pixels it took (later objects never take them: OVERLAP_RULE)
    overlap: int = 0  # pixels of its mask that earlier objects already had (left to them)


@dataclass
class ClickTiming:
    """Latency of the last click, in seconds."""

    forward_s: float = 0.0  # inside predictor.predict (0: no click since the last undo)
    total_s: float = 0.0  # the whole click, as measured by whoever handled it (0: not yet known)
    extra: dict[str, float] = field(default_factory=dict)


class SegmentationState:
    """Clicks, objects, undo stack and label map of one image being segmented.

    Args:
        predictor: a :class:`PredictorLike`; this state owns it (do not share one
            predictor between two states: each restores its own snapshots).
        image: anything :func:`ritm_lite.widget.io.to_rgb` accepts (grayscale, RGBA,
            16-bit, ...); stored as ``H x W x 3`` ``uint8`` RGB.
        threshold: probability above which a pixel belongs to the object (paper: 0.5).
        undo_memory_mb: most memory (MiB) the current object's undo snapshots may hold; the
            oldest are dropped past it (the last click can always be undone).

    Only one operation runs at a time: a click, undo, reset or finish that arrives while a
    prediction is running (another thread, a re-entrant callback) raises
    :class:`BusyError` and changes nothing.
    """

    def __init__(
        self,
        predictor: PredictorLike,
        image: np.ndarray,
        threshold: float = 0.5,
        undo_memory_mb: float = UNDO_MEMORY_MB,
    ):
        _check_predictor(predictor)
        self._undo = UndoStack(undo_memory_mb)  # checks the budget
        self.undo_memory_mb = self._undo.budget_mb
        self.predictor = predictor
        self.threshold = threshold  # checked by the property
        self.timing = ClickTiming()
        self._lock = threading.Lock()
        self.set_image(image)

    @property
    def threshold(self) -> float:
        """Probability above which a pixel belongs to the object, in ``[0, 1]``."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 <= float(value) <= 1.0:
            # the comparison also refuses NaN
            raise ValueError(f"threshold must be a probability in [0, 1], got {value!r}")
        self._threshold = float(value)

    # ----------------------------------------------------------------- image and mask
    def set_image(self, image: np.ndarray) -> None:
        """Start over on a new image: no clicks, no objects, object id 1."""
        rgb = to_rgb(image)
        with self._exclusive():
            self.predictor.set_image(rgb)
            self.image = rgb
            self._fresh_state = self.predictor.get_state()
            self.label_map = np.zeros(rgb.shape[:2], dtype=np.int32)
            self.objects: list[FinishedObject] = []
            self.object_id = 1
            self._start_object(prior_mask=None)

    def load_mask(self, mask: np.ndarray) -> None:
        """Make ``mask`` (``H x W``) the current object, to be corrected.

        ``mask`` is read by :func:`ritm_lite.widget.io.mask_foreground` (bool or integer
        masks by the package's one mask rule, float masks as probabilities above 0.5). The
        current object's clicks are dropped; the next click passes the mask to the
        predictor as ``mask_input``.

        Raises:
            ValueError: the mask's shape is not the image's ``(H, W)``, or its values are
                not a mask (NaN, probabilities outside ``[0, 1]``, no object pixel).
        """
        array = np.asarray(mask)
        if array.shape != self.size:
            raise ValueError(
                f"the mask has shape {array.shape} but the image is {self.size} (height, width)"
            )
        foreground = mask_foreground(array, "the loaded mask")
        with self._exclusive():
            self.predictor.set_state(self._fresh_state)
            self._start_object(prior_mask=foreground.astype(np.float32))

    def _start_object(self, prior_mask: np.ndarray | None) -> None:
        self.clicks: list[Click] = []
        self.prior_mask = prior_mask
        self.probability = None if prior_mask is None else prior_mask.copy()
        self._undo.clear()

    # ----------------------------------------------------------------------- clicks
    def add_click(self, x: float, y: float, is_positive: bool = True) -> Click:
        """Add a click at pixel ``(x, y)`` and run one prediction with all clicks so far.

        Returns:
            The new :class:`~ritm_lite.clicks.Click`; :attr:`probability` holds the result.

        Raises:
            ValueError: the click lies outside the image, or ``is_positive`` is not a bool
                (nothing changes).
            BusyError: a prediction is already running (nothing changes).
        """
        if not isinstance(is_positive, (bool, np.bool_)) and is_positive not in (0, 1):
            raise ValueError(f"is_positive must be True/False (or 1/0), got {is_positive!r}")
        new = clicks_from_prompts([[x, y]], [int(bool(is_positive))], self.size)[0]
        with self._exclusive():
            return self._add(new.x, new.y, new.is_positive)

    def _add(self, x: float, y: float, is_positive: bool) -> Click:
        click = Click(x, y, is_positive, index=len(self.clicks))
        clicks = [*self.clicks, click]
        step = UndoStep(self.predictor.get_state(), self.probability)
        coords = np.array([[c.x, c.y] for c in clicks], dtype=np.float32)
        labels = np.array([int(c.is_positive) for c in clicks], dtype=np.int64)
        # The loaded mask guides the object's first prediction; after that the predictor
        # feeds its own previous prediction back.
        mask_input = self.prior_mask if len(clicks) == 1 else None
        start = time.perf_counter()
        try:
            probability = self.predictor.predict(coords, labels, mask_input=mask_input)
        except BaseException:
            self.predictor.set_state(step.predictor_state)
            raise
        forward_s = time.perf_counter() - start
        probability = np.asarray(probability, dtype=np.float32)
        if probability.shape != self.size:
            self.predictor.set_state(step.predictor_state)
            raise RuntimeError(
                f"the predictor returned shape {probability.shape}, expected {self.size}"
            )
        self._undo.push(step)  # drops the oldest steps past the memory budget
        self.clicks = clicks
        self.probability = probability
        # A new timing for this click: its total is unknown (0) until whoever handles the
        # click sets it, so no reader pairs this model time with the previous click's total.
        self.timing = ClickTiming(forward_s=forward_s)
        return click

    @property
    def undo_dropped(self) -> int:
        """The current object's first clicks that can no longer be undone (memory budget)."""
        return self._undo.dropped

    @property
    def undo_nbytes(self) -> int:
        """Bytes the current object's undo snapshots hold."""
        return self._undo.nbytes

    def replace_predictor(self, predictor: PredictorLike) -> None:
        """Go on with another predictor (e.g. the same model with another ZoomIn) and redo the
        current object's clicks with it.

        Undo snapshots taken by the old predictor would not fit the new one, so the new one
        is given the image (``set_image``) and the current object's clicks are replayed, one
        forward pass each; finished objects are kept. If the new predictor fails, the state
        keeps the old one and everything it had (the error is raised).

        Args:
            predictor: a :class:`PredictorLike`, e.g. ``state.predictor.with_zoom_in(None)``;
                this state owns it from now on.
        """
        _check_predictor(predictor)
        with self._exclusive():
            kept = (self.predictor, self._fresh_state, self._undo, self.clicks, self.probability, self.timing)
            clicks = self.clicks
            try:
                self.predictor = predictor
                predictor.set_image(self.image)
                self._fresh_state = predictor.get_state()
                self._undo = UndoStack(self.undo_memory_mb)
                self._start_object(self.prior_mask)
                for click in clicks:
                    self._add(click.x, click.y, click.is_positive)
                self.timing = ClickTiming()  # a replay is not a click: no click latency to show
            except BaseException:
                self.predictor, self._fresh_state, self._undo, self.clicks, self.probability, self.timing = kept
                raise

    def undo(self) -> bool:
        """Take back the last click: the predictor and the mask return to before it.

        Returns:
            ``False`` (and changes nothing) when the current object has no click to undo.
        """
        with self._exclusive():
            if not self._undo:
                return False
            step = self._undo.pop()
            self.predictor.set_state(step.predictor_state)
            self.probability = step.probability
            self.clicks = self.clicks[:-1]
            self.timing = ClickTiming()  # the undone click's latency no longer describes the mask
            return True

    def reset_clicks(self) -> None:
        """Drop the current object's clicks; a loaded mask (if any) comes back."""
        with self._exclusive():
            self.predictor.set_state(self._fresh_state)
            self._start_object(self.prior_mask)

    def finish_object(self) -> int:
        """Write the current object into the label map and start the next one.

        The object takes only the pixels no finished object has (:data:`OVERLAP_RULE`); its
        :class:`FinishedObject` records how many of its pixels it left to earlier objects.

        Returns:
            The finished object's id.

        Raises:
            ValueError: the current object is empty at the current threshold, or lies
                entirely on finished objects (nothing changes).
        """
        with self._exclusive():
            mask = self.current_mask()
            if not mask.any():
                raise ValueError(
                    f"object {self.object_id} is empty at threshold {self.threshold:.2f}: "
                    "click on it first"
                )
            free = mask & (self.label_map == 0)
            if not free.any():
                covered = sorted(int(k) for k in np.unique(self.label_map[mask]))
                raise ValueError(
                    f"object {self.object_id} lies entirely on finished object(s) {covered}: "
                    f"{OVERLAP_RULE}, so it would be empty; correct it or reset it"
                )
            finished = self.object_id
            self.label_map[free] = finished
            self.objects.append(
                FinishedObject(finished, tuple(self.clicks), int(free.sum()), int((mask & ~free).sum()))
            )
            self.object_id += 1
            self.predictor.set_state(self._fresh_state)
            self._start_object(prior_mask=None)
            return finished

    # ---------------------------------------------------------------------- results
    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the image."""
        return self.image.shape[0], self.image.shape[1]

    @property
    def busy(self) -> bool:
        """True while a prediction (or another state change) is running."""
        return self._lock.locked()

    def current_mask(self) -> np.ndarray:
        """``H x W`` bool mask of the current object (probability > threshold)."""
        if self.probability is None:
            return np.zeros(self.size, dtype=bool)
        return self.probability > self.threshold

    def result_label_map(self) -> np.ndarray:
        """``H x W`` ``int32`` label map: finished objects, and the current one on the pixels
        they leave free (:data:`OVERLAP_RULE`): exactly what finishing it would save."""
        labels = self.label_map.copy()
        labels[self.current_mask() & (labels == 0)] = self.object_id
        return labels

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (clicks, objects, pixel counts, timing)."""
        return {
            "image_size": list(self.size),
            "object_id": self.object_id,
            "clicks": [[c.x, c.y, bool(c.is_positive)] for c in self.clicks],
            "undo_depth": len(self._undo),
            "undo_dropped": self.undo_dropped,
            "undo_mb": round(self.undo_nbytes / 2**20, 2),
            "current_pixels": int(self.current_mask().sum()),
            "objects": [
                {"id": o.object_id, "clicks": len(o.clicks), "area": o.area, "overlap": o.overlap}
                for o in self.objects
            ],
            "label_ids": [int(k) for k in np.unique(self.result_label_map()) if k > 0],
            "threshold": self.threshold,
            "forward_ms": round(1000 * self.timing.forward_s, 2),
            "total_ms": round(1000 * self.timing.total_s, 2),
        }

    # ----------------------------------------------------------------------- locking
    def _exclusive(self) -> _Exclusive:
        return _Exclusive(self._lock)


class _Exclusive:
    """Non-blocking lock: a second caller gets :class:`BusyError` instead of waiting."""

    def __init__(self, lock: threading.Lock):
        self._lock = lock

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise BusyError("a prediction is still running: request ignored")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

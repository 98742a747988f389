"""How much time does the click widget add on top of the model's forward pass?

A stand-in predictor that costs nothing (it returns a precomputed probability map) drives a
real :class:`ritm_lite.widget.ClickSegmenter`; ``mouse_down`` messages are delivered
through the canvas widget's comm as the kernel does, so each measured click includes the
whole kernel-side path: click bookkeeping and undo snapshot, the label map, the palette-PNG
overlay, the click markers, the status line and ipycanvas' message serialisation. Sending
on the ZeroMQ socket happens on the kernel's I/O thread and is not in the number; decoding
and drawing happen in the browser.

Budget (issue 6): at most 30 ms per click for a 1-megapixel image.

    python benchmarks/widget_overhead.py            # 1 MP (1000 x 1000) and 1280 x 800
    python benchmarks/widget_overhead.py --clicks 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import flags  # noqa: E402
from ritm_lite.widget.canvas import ClickSegmenter


class FreePredictor:
    """Zero-cost predictor: a disk-shaped probability map, computed once per position set."""

    zoom_in = False

    def __init__(self, size: tuple[int, int]):
        rows, cols = np.mgrid[: size[0], : size[1]]
        centre = (size[0] / 2, size[1] / 2)
        radius = min(size) / 3
        self._maps = [
            (((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) <= (radius + d) ** 2).astype(
                np.float32
            )
            for d in (-40, 0, 40)
        ]
        self._calls = 0

    def set_image(self, image: np.ndarray) -> None:
        self._calls = 0

    def predict(self, point_coords, point_labels, mask_input=None) -> np.ndarray:
        self._calls += 1
        return self._maps[self._calls % len(self._maps)]  # the mask changes every click

    def get_state(self) -> int:
        return self._calls

    def set_state(self, state: int) -> None:
        self._calls = state

    def reset(self) -> None:
        self._calls = 0


def send_mouse_down(canvas, x: float, y: float) -> None:
    canvas.comm.handle_msg(
        {
            "header": {"msg_type": "comm_msg"},
            "content": {
                "comm_id": canvas.comm.comm_id,
                "data": {"method": "custom", "content": {"event": "mouse_down", "x": x, "y": y}},
            },
            "buffers": [],
        }
    )


def measure(height: int, width: int, clicks: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    seg = ClickSegmenter(FreePredictor((height, width)), image)
    overhead, render = [], []
    for i in range(clicks):
        if i and i % 10 == 0:
            seg.reset()  # keep the click list short, as in real use
        start = time.perf_counter()
        send_mouse_down(seg.canvas, rng.uniform(0, width), rng.uniform(0, height))
        total = time.perf_counter() - start
        assert seg.last_error is None, seg.status.value
        overhead.append(1000 * (total - seg.state.timing.forward_s))
        render.append(1000 * seg.state.timing.extra["render_s"])
    overhead.sort()
    return {
        "median_ms": statistics.median(overhead),
        "p90_ms": overhead[int(0.9 * (len(overhead) - 1))],
        "max_ms": overhead[-1],
        "render_median_ms": statistics.median(render),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=flags.count(1, 10_000), default=30)
    args = parser.parse_args(argv)
    print(
        f"widget overhead per click beyond predict(), {args.clicks} clicks (budget: 30 ms at 1 MP)"
    )
    print(
        f"{'image (H x W)':>16} | {'MP':>5} | {'median ms':>9} | {'p90 ms':>7} | {'max ms':>7} | {'of which render':>15}"
    )
    print("-" * 75)
    for height, width in [(480, 640), (1000, 1000), (800, 1280)]:
        r = measure(height, width, args.clicks)
        print(
            f"{f'{height} x {width}':>16} | {height * width / 1e6:5.2f} | {r['median_ms']:9.1f} | "
            f"{r['p90_ms']:7.1f} | {r['max_ms']:7.1f} | {r['render_median_ms']:15.1f}"
        )


if __name__ == "__main__":
    main()

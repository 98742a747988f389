"""Model time measured around the network call, outside the predictor (benchmarks only).

The predictor keeps no timers (nothing in its hot path waits for the GPU); a benchmark that
wants the network's share of a click wraps the network in :class:`TimedModel` and reads
``seconds`` after each ``predict``.
"""

from __future__ import annotations

import time

import torch
from torch import nn


class TimedModel(nn.Module):
    """``network`` whose calls add their wall time (CUDA synchronised) to ``seconds``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.seconds = 0.0

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.is_cuda:
            torch.cuda.synchronize(image.device)
        start = time.perf_counter()
        out = self.network(image, points)
        if image.is_cuda:
            torch.cuda.synchronize(image.device)
        self.seconds += time.perf_counter() - start
        return out

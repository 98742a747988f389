"""What a training schedule costs: GPU time and GPU memory, estimated before it runs.

No GPU is needed to plan a GPU run. Time comes from the FLOPs of one forward pass
(:func:`ritm_lite.model.flops.count_flops` at the training crop) and an *assumed* sustained
throughput; memory from the parameter count and the activations autograd keeps for one
training crop, measured on the CPU. Both are estimates, and say so where they are printed.

**Time.** Every training sample costs one forward and one backward pass (the backward about
twice the forward: 3 forward-equivalents), plus the iterative clicks of iterative training
(Sec. 3.3): ``0..max_num_next_clicks`` extra forward passes without gradients, drawn
uniformly, so ``max_num_next_clicks / 2`` on average. A validation sample costs the same
extra passes plus one forward::

    FLOPs  = train_samples x F x (3 + n/2) + val_samples x F x (1 + n/2)
    hours  = FLOPs / (assumed sustained TFLOP/s x 1e12) / 3600

with ``F`` the forward FLOPs of one crop and ``n = max_num_next_clicks``. The sustained rate
is a fraction of the card's published dense peak (:data:`GPU_PEAK_TFLOPS`), an assumption
the caller states; a data loader slower than the rate this needs (``samples_per_second``)
makes the real run slower still.

**Memory.** Adam in fp32 keeps four numbers per parameter (weight, gradient, two moments)::

    bytes = 16 x parameters + batch x activation bytes of one crop

with the activations measured in fp32 (:func:`activation_bytes`: every tensor autograd saves
for the backward pass, counted once); mixed precision stores most of them in 16 bits, so a
bf16 run needs less, by up to half of that term. The CUDA context and cuDNN workspaces (about
a GiB) come on top.

    >>> hours = training_hours(get_preset("hrnet18_cocolvis_itermask"), 29.2e9, 78.0)   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.training.config import TrainConfig

GPU_PEAK_TFLOPS: dict[str, float] = {
    "T4": 65.0,  # NVIDIA T4, fp16 tensor cores, dense (no bf16: the trainer uses fp16 there)
    "A100": 312.0,  # NVIDIA A100, bf16 tensor cores, dense
    "H100 SXM": 989.0,  # NVIDIA H100 SXM, bf16 tensor cores, dense
}
"""Published dense peak throughput of common training GPUs, TFLOP/s (the vendors' data sheets)."""

ADAM_BYTES_PER_PARAMETER = 16
"""fp32 weight + gradient + Adam's two moments: 4 x 4 bytes."""


def schedule_samples(config: TrainConfig) -> tuple[int, int]:
    """``(training samples, validation samples)`` that ``config``'s whole schedule draws:
    ``epochs x epoch_len`` and ``val_epoch_len`` for every validated epoch."""
    validated = config.epochs // config.val_interval if config.val_interval else 0
    return config.epochs * config.epoch_len, validated * config.val_epoch_len


def training_flops(config: TrainConfig, forward_flops: float) -> float:
    """FLOPs of ``config``'s whole schedule (module docstring):
    ``train x F x (3 + n/2) + val x F x (1 + n/2)``, ``F = forward_flops`` of one crop."""
    if not forward_flops > 0:
        raise ValueError(f"forward_flops must be positive, got {forward_flops}")
    train, val = schedule_samples(config)
    clicks = config.max_num_next_clicks / 2  # iterative forward passes per sample, on average
    return train * forward_flops * (3 + clicks) + val * forward_flops * (1 + clicks)


def training_hours(config: TrainConfig, forward_flops: float, sustained_tflops: float) -> float:
    """Hours of GPU compute for ``config``'s schedule at ``sustained_tflops`` (an assumption):
    ``training_flops / (sustained_tflops x 1e12) / 3600``."""
    if not sustained_tflops > 0:
        raise ValueError(f"sustained_tflops must be positive, got {sustained_tflops}")
    return training_flops(config, forward_flops) / (sustained_tflops * 1e12) / 3600


def samples_per_second(config: TrainConfig, hours: float) -> float:
    """Training samples per second the data loader must deliver to keep up with ``hours``."""
    return schedule_samples(config)[0] / (hours * 3600)


def activation_bytes(model: nn.Module, height: int, width: int) -> int:
    """Bytes autograd keeps for the backward pass of one ``(4, height, width)`` crop, fp32.

    The model runs one training-mode forward on a batch of two crops (BatchNorm in training
    mode needs more than one value per channel) with one click each, on its own device; every
    tensor saved for the backward pass is counted once (by its storage; the parameters
    themselves excluded), and the total is halved.
    The model is left in the mode it was in, its BatchNorm statistics restored.
    """
    if height < 8 or width < 8:
        raise ValueError(f"crop must be at least 8x8, got {height}x{width}")
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    device = next(model.parameters()).device
    image = torch.zeros(2, 4, height, width, device=device)
    points = points_tensor([[Click(x=width // 2, y=height // 2, is_positive=True)]] * 2, device=device)
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(image, points)
    finally:
        model.load_state_dict(buffers)  # the forward updated BatchNorm's running statistics
        model.train(was_training)
    return sum(saved.values()) // 2


def training_memory_bytes(parameters: int, activation_bytes_per_crop: int, batch_size: int) -> int:
    """``16 x parameters + batch_size x activation_bytes_per_crop`` (module docstring)."""
    if min(parameters, activation_bytes_per_crop) < 0 or batch_size < 1:
        raise ValueError("need parameters >= 0, activation bytes >= 0 and batch_size >= 1")
    return ADAM_BYTES_PER_PARAMETER * parameters + batch_size * activation_bytes_per_crop


@dataclass(frozen=True)
class CostRow:
    """One schedule on one (assumed) GPU."""

    schedule: str  # the schedule's name ("full", "short", ...)
    gpu: str  # a key of GPU_PEAK_TFLOPS (or the caller's name)
    samples: int  # training samples of the schedule
    sustained_tflops: float  # the assumed sustained throughput
    hours: float  # training_hours
    samples_per_second: float  # what the data loader must deliver
    memory_gib: float  # training_memory_bytes / 2**30 (one process holding the whole batch)


def cost_table(schedules: dict[str, TrainConfig], forward_flops: float, parameters: int,
               activation_bytes_per_crop: int, utilisation: float,
               gpus: dict[str, float] = GPU_PEAK_TFLOPS) -> list[CostRow]:
    """Time and memory of each schedule on each GPU, at ``utilisation`` x the GPU's peak.

    Args:
        schedules: ``{name: config}``, all with the crop that ``forward_flops`` and
            ``activation_bytes_per_crop`` were measured at.
        forward_flops: FLOPs of one forward pass on one training crop.
        parameters: the model's parameter count.
        activation_bytes_per_crop: :func:`activation_bytes` of one training crop.
        utilisation: the assumed fraction of the peak a training step sustains, in (0, 1].
        gpus: ``{name: peak TFLOP/s}``.
    """
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation is a fraction of the peak in (0, 1], got {utilisation}")
    rows = []
    for name, config in schedules.items():
        memory = training_memory_bytes(parameters, activation_bytes_per_crop, config.batch_size) / 2**30
        for gpu, peak in gpus.items():
            hours = training_hours(config, forward_flops, peak * utilisation)
            rows.append(CostRow(name, gpu, schedule_samples(config)[0], peak * utilisation, hours,
                                samples_per_second(config, hours), memory))
    return rows


def cost_markdown(rows: list[CostRow]) -> str:
    """``rows`` as a markdown table (every number an estimate)."""
    lines = ["| schedule | training samples | GPU | assumed TFLOP/s | hours (estimate) | samples/s needed "
             "| GPU memory, GiB (estimate, fp32 activations) |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r.schedule} | {r.samples:,} | {r.gpu} | {r.sustained_tflops:.0f} | {r.hours:.1f} "
                     f"| {r.samples_per_second:.0f} | {r.memory_gib:.1f} |")
    return "\n".join(lines)


def shortened(config: TrainConfig, epochs: int) -> TrainConfig:
    """``config`` with ``epochs`` epochs and its learning-rate milestones scaled to match
    (``round(m x epochs / config.epochs)``; a milestone that falls on or after the last epoch
    is dropped), so that the short run keeps the full run's shape."""
    if not 1 <= epochs:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    scaled = sorted({max(1, round(m * epochs / config.epochs)) for m in config.milestones})
    return config.replace(epochs=epochs, milestones=tuple(m for m in scaled if m < epochs))

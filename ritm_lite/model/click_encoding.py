"""Click encoding: turning clicks into image-sized maps the network can read.

RITM encodes every click as a **binary disk** of radius 5 pixels (paper, Sec. 3.1):

    disk_k(p) = 1  if ||p - c_k||_2 <= r   else 0,            r = 5

one map for all positive clicks and one for all negative clicks (the union of their disks).
Earlier work (and the paper's ablation) used **distance maps** instead,

    dist(p) = tanh( 2 * min_k ||p - c_k||_2 / R ),             R = 260 in the original code

which change *everywhere* when one click is added; a disk changes only near the new click.
Together with the previous mask (:class:`PreviousMask`) these maps form the 3 auxiliary input
channels ``[previous mask, positive map, negative map]`` that Conv1S consumes; the ablation
without it (:class:`NoPreviousMask`) passes the two maps alone.

Both encodings read RITM's points tensor ``(B, 2N, 3)`` of ``(row, col, click_index)``
(see :mod:`ritm_lite.clicks`); a slot is empty when ``max(row, col) < 0``. Distances are
computed in float32 with the same operation order as the original (squared row offset plus
squared column offset), so sub-pixel clicks from ZoomIn land on exactly the same pixels.
"""

from __future__ import annotations

import torch
from torch import nn

EMPTY_SLOT_DISTANCE2 = 1e6
"""Squared distance the original assigns to an empty slot (so it never wins the minimum)."""


def _min_squared_distance(points: torch.Tensor, height: int, width: int, scale: float) -> torch.Tensor:
    """Per sign, the squared distance from every pixel to the nearest click.

    Args:
        points: ``(B, 2N, 3)`` float tensor of ``(row, col, index)``, -1 padded.
        height, width: size of the maps.
        scale: distances are divided by this before squaring (1 for disks).

    Returns:
        ``(B, 2, H, W)`` float32: channel 0 for positive clicks, 1 for negative clicks.
    """
    if points.ndim != 3 or points.shape[-1] != 3 or points.shape[1] % 2:
        raise ValueError(f"points must have shape (B, 2N, 3), got {tuple(points.shape)}")
    batch, total, _ = points.shape
    coords = points[..., :2].to(torch.float32).view(batch, 2, total // 2, 2)
    empty = coords.amax(dim=-1) < 0  # (B, 2, N)

    rows = torch.arange(height, dtype=torch.float32, device=points.device)
    cols = torch.arange(width, dtype=torch.float32, device=points.device)
    d_row = rows.view(1, 1, 1, height, 1) - coords[..., 0, None, None]  # (B, 2, N, H, 1)
    d_col = cols.view(1, 1, 1, 1, width) - coords[..., 1, None, None]  # (B, 2, N, 1, W)
    if scale != 1.0:
        d_row = d_row / scale
        d_col = d_col / scale
    d_row2 = (d_row * d_row).masked_fill(empty[..., None, None], EMPTY_SLOT_DISTANCE2)
    d_col2 = (d_col * d_col).masked_fill(empty[..., None, None], 0.0)

    # min_k d_k(p)^2 over the N slots. A minimum is exact in any order, so both ways below give
    # the same maps bit for bit. Traced for export: one reduction over a (B, 2, N, H, W)
    # intermediate (as the original computes it), so the graph keeps N dynamic. Eager: a
    # running minimum, which keeps memory at (B, 2, H, W) and is several times faster at 20
    # clicks on a CPU.
    if _tracing():
        return (d_row2 + d_col2).amin(dim=2)
    nearest = torch.full((batch, 2, height, width), EMPTY_SLOT_DISTANCE2, device=points.device)
    for slot in range(coords.shape[2]):
        nearest = torch.minimum(nearest, d_row2[:, :, slot] + d_col2[:, :, slot])
    return nearest


def _tracing() -> bool:
    """Whether the encoding is being traced into a graph (ONNX export, torch.export / compile)."""
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling() or torch.jit.is_tracing()


def disk_maps(points: torch.Tensor, height: int, width: int, radius: float = 5.0) -> torch.Tensor:
    """Binary disk maps of the positive and the negative clicks.

    Args:
        points: ``(B, 2N, 3)`` points tensor of ``(row, col, index)``, -1 padded.
        height, width: output size in pixels.
        radius: disk radius in pixels (5 in RITM).

    Returns:
        ``(B, 2, H, W)`` float32 in {0, 1}: channel 0 = positive disks, 1 = negative disks.
    """
    dist2 = _min_squared_distance(points, height, width, scale=1.0)
    return (dist2 <= radius * radius).to(torch.float32)


def distance_maps(points: torch.Tensor, height: int, width: int, norm_radius: float = 260.0) -> torch.Tensor:
    """Distance-transform encoding (the paper's ablation; DistMaps with ``use_disks=False``).

    Args:
        points: ``(B, 2N, 3)`` points tensor of ``(row, col, index)``, -1 padded.
        height, width: output size in pixels.
        norm_radius: ``R`` in ``tanh(2 * d / R)`` (260 in the original code).

    Returns:
        ``(B, 2, H, W)`` float32 in [0, 1): 0 on a click, approaching 1 far away.
    """
    dist2 = _min_squared_distance(points, height, width, scale=norm_radius)
    return torch.tanh(2.0 * torch.sqrt(dist2))


class ClickMaps(nn.Module):
    """RITM's click encoding as a module: ``(image, points) -> (B, 2, H, W)`` disk maps of
    ``radius`` pixels at the image's size (:func:`disk_maps`).

    It has no parameters (so it adds nothing to the state dict, like the original's
    ``dist_maps``). Distance maps, the encoding RITM replaced, are :func:`distance_maps`, with
    their own ``norm_radius`` (260): there is no switch here that could feed one the other's
    radius.
    """

    def __init__(self, radius: float = 5.0) -> None:
        super().__init__()
        if not radius > 0:
            raise ValueError(f"the disk radius must be positive, got {radius}")
        self.radius = radius

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        return disk_maps(points, height, width, self.radius)

    def extra_repr(self) -> str:
        return f"radius={self.radius}"


class DistanceMaps(nn.Module):
    """The encoding RITM replaced, as a module: ``(image, points) -> (B, 2, H, W)``
    distance maps ``tanh(2 d / R)`` at the image's size (:func:`distance_maps`).

    ``norm_radius`` is ``R``, 260 in the original code (its ``DistMaps(norm_radius=...)``
    without ``use_disks``); it has nothing to do with the disks' radius of 5. No parameters.
    """

    def __init__(self, norm_radius: float = 260.0) -> None:
        super().__init__()
        if not norm_radius > 0:
            raise ValueError(f"the distance maps' norm_radius must be positive, got {norm_radius}")
        self.norm_radius = norm_radius

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        return distance_maps(points, height, width, self.norm_radius)

    def extra_repr(self) -> str:
        return f"norm_radius={self.norm_radius}"


class PreviousMask(nn.Module):
    """ITER-M's input to the click branch: the previous prediction, then the click maps.

    ``(image (B, 4, H, W), maps (B, 2, H, W)) -> (B, 3, H, W)`` ``[previous mask, positive,
    negative]``; channel 4 of ``image`` is the previous mask (zeros before the first click).
    """

    channels = 1  # what it adds to the two click maps

    def forward(self, image: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        return torch.cat([image[:, 3:], maps], dim=1)


class NoPreviousMask(nn.Module):
    """The ablation without mask guidance (the original's ``with_prev_mask=False``): the click
    maps alone, ``(image, maps (B, 2, H, W)) -> maps``; the previous mask in ``image`` is ignored."""

    channels = 0

    def forward(self, image: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        return maps

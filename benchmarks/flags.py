"""Argument types shared by the benchmark scripts: a bad flag is a one-line usage error.

``argparse`` turns an ``ArgumentTypeError`` raised by a ``type=`` function into
``error: argument --repeats: ...`` and exit status 2, so a zero, negative, huge, NaN or
unknown value stops the script before any work, naming the flag, instead of ending in a
traceback (``torch.set_num_threads(0)``), a division by zero (a median of no repeats) or a
run that never finishes. The limits are generous; each says why it exists.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable

import torch

MAX_THREADS = 256  # more CPU threads than any machine here has cores
MAX_REPEATS = 100_000  # timed repetitions: past this a table takes days
MAX_SIDE = 8192  # image or crop side in pixels: past this one input exceeds memory


def count(low: int = 1, high: int = MAX_REPEATS) -> Callable[[str], int]:
    """An integer in ``low..high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def number(low: float, high: float, *, include_low: bool = False) -> Callable[[str], float]:
    """A finite number in ``(low, high]`` (``[low, high]`` with ``include_low``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above = value >= low if include_low else value > low
        if not (math.isfinite(value) and above and value <= high):
            bracket = "[" if include_low else "("
            raise argparse.ArgumentTypeError(f"{text} is not a finite number in {bracket}{low}, {high}]")
        return value

    return parse


def names(choices: Iterable[str]) -> Callable[[str], list[str]]:
    """A comma list of names, each one of ``choices`` (at least one)."""
    known = list(choices)

    def parse(text: str) -> list[str]:
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in chosen if name not in known]
        if not chosen or unknown:
            raise argparse.ArgumentTypeError(
                f"{', '.join(map(repr, unknown)) or 'nothing'} given; choose from {', '.join(known)}")
        return chosen

    return parse


def counts(low: int = 1, high: int = MAX_REPEATS) -> Callable[[str], list[int]]:
    """A comma list of integers in ``low..high`` (at least one)."""
    one = count(low, high)

    def parse(text: str) -> list[int]:
        parts = [part for part in text.split(",") if part.strip()]
        if not parts:
            raise argparse.ArgumentTypeError("give at least one number")
        return [one(part) for part in parts]

    return parse


def devices(text: str) -> list[str]:
    """``auto`` (the CPU, and CUDA if present) or a comma list of ``cpu``/``cuda``; CUDA must exist."""
    if text == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    chosen = names(["cpu", "cuda"])(text)
    if "cuda" in chosen and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("cuda was asked for, but this machine has no CUDA device")
    return chosen


def device(text: str) -> str:
    """One device, ``cpu`` or ``cuda`` (present)."""
    chosen = devices(text)
    if text == "auto" or len(chosen) != 1:
        raise argparse.ArgumentTypeError(f"give one device, cpu or cuda, got {text!r}")
    return chosen[0]

"""Training datasets: from an image and its instance masks to one training sample.

Every dataset here yields the dict the trainer batches (the original ``ISDataset`` layout)::

    {"images":    (3, H, W) float32 RGB in [0, 1],
     "points":    (2N, 3) float32, RITM's points layout (ritm_lite.clicks.points_array),
     "instances": (1, H, W) float32: 1 object, 0 background, -1 ignore}

The recipe for one sample (the original's ``ISDataset.__getitem__``):

1. with a fixed ``epoch_len``, pick an image at random (otherwise item ``i`` is image ``i``);
   with ``copy_paste`` (not in RITM, off by default), paste one object of another random
   image onto it first, with that config's probability (:mod:`ritm_lite.data.copy_paste`);
2. augment image and all its instance masks together; if no object is visible in the crop,
   augment again, unless the crop is kept as a *background sample* (``keep_background_prob``);
3. objects smaller than ``min_object_area`` pixels (after augmentation) cannot be the target,
   but still count as "other objects" for negative clicks;
4. :class:`~ritm_lite.data.points_sampler.MultiPointSampler` picks the target and its clicks.

**Randomness.** Item ``i`` of epoch ``e`` draws everything from
``np.random.default_rng([seed, e, i])``. A sample therefore does not depend on which
DataLoader worker computes it or in what order: workers are deterministic and different, and
0 or 8 workers give the same batches. Call :meth:`InteractiveDataset.set_epoch` before each
epoch (the DataLoader re-creates its workers each epoch unless ``persistent_workers=True``;
with persistent workers, set the epoch from a ``worker_init_fn`` or accept repeated epochs).

Two datasets: :class:`FolderDataset` for ``img/`` + ``gt/`` folders such as COCO_MVal, and
:class:`CocoLvisDataset` over the merged COCO+LVIS set (any reader with the
:class:`InstanceSource` interface, e.g. ``ritm_lite.data.coco_lvis.MergedCocoLvis``);
:class:`MixedDataset` draws from several of them in set proportions (e.g. DUTS-TR and COCO_MVal).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import Dataset

from ritm_lite.clicks import points_array
from ritm_lite.data.augmentation import AugmentationConfig, augment
from ritm_lite.data.copy_paste import CopyPaste, paste_object
from ritm_lite.data.files import files_by_stem, image_size, read_rgb, require_images_for_masks
from ritm_lite.data.masks import IGNORE, read_mask
from ritm_lite.data.points_sampler import MultiPointSampler


@dataclass(frozen=True)
class DatasetConfig:
    """How samples are drawn; the defaults are the ITER-M COCO+LVIS training set's."""

    augmentation: AugmentationConfig | None = field(default_factory=AugmentationConfig.train)  # None: raw images
    points_sampler: MultiPointSampler = field(default_factory=MultiPointSampler)  # click simulation
    min_object_area: int = 1000  # smaller objects (in pixels, after augmentation) are never targets
    keep_background_prob: float = 0.05  # chance to keep a crop in which no object is visible
    epoch_len: int = 30000  # samples per epoch, images drawn at random; <= 0: each image once, in order
    max_augment_tries: int = 100  # give up re-augmenting and keep a background sample after this
    copy_paste: CopyPaste | None = None  # paste another image's object first (not in RITM); None: off

    @classmethod
    def train(cls, crop_size: tuple[int, int] = (320, 480), epoch_len: int = 30000) -> DatasetConfig:
        """The original training set: full augmentation chain, 5% background crops."""
        return cls(augmentation=AugmentationConfig.train(crop_size), epoch_len=epoch_len)

    @classmethod
    def val(cls, crop_size: tuple[int, int] = (320, 480), epoch_len: int = 2000) -> DatasetConfig:
        """The original validation set: pad + random crop, re-crop until an object is visible."""
        return cls(augmentation=AugmentationConfig.val(crop_size), keep_background_prob=0.0, epoch_len=epoch_len)

    def __post_init__(self) -> None:
        if not 0.0 <= self.keep_background_prob <= 1.0:
            raise ValueError(f"keep_background_prob must be in [0, 1], got {self.keep_background_prob}")
        if not (isinstance(self.min_object_area, (int, np.integer)) and self.min_object_area >= 0):
            raise ValueError(f"min_object_area must be an integer >= 0 (pixels), got {self.min_object_area!r}")
        if not (isinstance(self.max_augment_tries, (int, np.integer)) and 1 <= self.max_augment_tries <= 10_000):
            raise ValueError(f"max_augment_tries must be an integer in [1, 10000] (each try augments the "
                             f"whole photo), got {self.max_augment_tries!r}")


@dataclass
class InstanceSample:
    """One image with its instances, before augmentation.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        masks: ``(H, W, K)`` bool, one channel per object (``K`` may be 0).
        ignore: ``(H, W)`` bool region that no loss looks at, or ``None``.
    """

    image: np.ndarray
    masks: np.ndarray
    ignore: np.ndarray | None = None


class InteractiveDataset(Dataset):
    """Base class: subclasses say how many images there are and how to load one."""

    def __init__(self, config: DatasetConfig | None = None, seed: int | None = None) -> None:
        self.config = config if config is not None else DatasetConfig()
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
        self.epoch = 0

    def num_images(self) -> int:
        raise NotImplementedError

    def load(self, image_index: int) -> InstanceSample:
        raise NotImplementedError

    def pick_image(self, rng: np.random.Generator) -> int:
        """The image of a sample drawn at random (fixed ``epoch_len``): uniform over images."""
        return int(rng.integers(self.num_images()))

    def set_epoch(self, epoch: int) -> None:
        """Make the next epoch's samples differ from this one's (see the module docstring)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.config.epoch_len if self.config.epoch_len > 0 else self.num_images()

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} outside 0..{len(self) - 1}")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image_index = self.pick_image(rng) if self.config.epoch_len > 0 else index
        sample = self.load(image_index)
        if self.config.copy_paste is not None and rng.random() < self.config.copy_paste.prob:
            sample = self._paste(sample, image_index, rng)
        image, masks, ignore = self._augment(sample, rng)

        areas = masks.sum(axis=(0, 1))
        candidates = [i for i, area in enumerate(areas) if area >= max(1, self.config.min_object_area)]
        sampler = self.config.points_sampler
        target = sampler.sample(masks, rng, candidates)

        instances = target.gt_mask.astype(np.float32)
        if ignore is not None:
            instances[ignore] = -1.0
        return {
            # (3, H, W) float32 = uint8 / 255, as torchvision's ToTensor (in NumPy: no torch threads)
            "images": torch.from_numpy(np.divide(image.transpose(2, 0, 1), np.float32(255), dtype=np.float32)),
            "points": torch.from_numpy(points_array(target.clicks, sampler.max_num_points)),
            "instances": torch.from_numpy(instances)[None],
        }

    def _paste(self, sample: InstanceSample, image_index: int, rng: np.random.Generator) -> InstanceSample:
        """``sample`` with one object of another random image pasted onto it (if there is one)."""
        if self.num_images() < 2:
            return sample
        donor_index = int(rng.integers(self.num_images() - 1))
        donor_index += donor_index >= image_index  # any image but this one
        donor = self.load(donor_index)
        if donor.masks.shape[2] == 0:
            return sample
        mask = donor.masks[:, :, int(rng.integers(donor.masks.shape[2]))]
        if donor.ignore is not None:
            mask = mask & ~donor.ignore
        if not mask.any():
            return sample
        image, masks, ignore = paste_object(sample.image, sample.masks, sample.ignore, donor.image, mask,
                                            self.config.copy_paste, rng)
        return InstanceSample(image, masks, ignore)

    def _augment(
        self, sample: InstanceSample, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        num_objects = sample.masks.shape[2]
        stack = sample.masks
        if sample.ignore is not None:
            stack = np.concatenate([sample.masks, sample.ignore[:, :, None]], axis=2)
        if self.config.augmentation is None:
            image, out = sample.image, stack
        else:
            for _ in range(self.config.max_augment_tries):
                image, out = augment(sample.image, stack, self.config.augmentation, rng)
                if num_objects == 0 or out[:, :, :num_objects].any():
                    break
                if rng.random() < self.config.keep_background_prob:
                    break
        ignore = out[:, :, num_objects] if sample.ignore is not None else None
        return image, out[:, :, :num_objects], ignore


# ---------------------------------------------------------------------------------------
# img/ + gt/ folders (COCO_MVal and the like)

_COCO_MVAL_NAME = re.compile(r"^(?P<category>.*?)(?P<k>\d+)_(?P<image_id>\d+)$")


def image_id_from_name(name: str) -> str:
    """The COCO image id in a COCO_MVal name ``{category}{k}_{image_id}``; else the name itself.

    >>> image_id_from_name("baseball bat01_000000203931")
    '000000203931'
    """
    match = _COCO_MVAL_NAME.match(Path(name).stem)
    return match.group("image_id") if match else Path(name).stem


def split_by_image_id(
    names: Sequence[str], val_fraction: float, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split instance names into train and validation so that no photo is in both.

    Args:
        names: instance names (file stems or file names).
        val_fraction: share of *image ids* (not files) that go to validation, in [0, 1].
        seed: seed of the shuffle of image ids.

    Returns:
        ``(train_names, val_names)``, each sorted.
    """
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
    ids = sorted({image_id_from_name(n) for n in names})
    order = np.random.default_rng(seed).permutation(len(ids))
    val_ids = {ids[i] for i in order[: round(val_fraction * len(ids))]}
    train = sorted(n for n in names if image_id_from_name(n) not in val_ids)
    val = sorted(n for n in names if image_id_from_name(n) in val_ids)
    return train, val


class FolderDataset(InteractiveDataset):
    """Images in ``root/img`` and one mask per instance in ``root/gt`` with the same stem.

    Instances of the same photo (same :func:`image_id_from_name`) are grouped: one item is
    one photo with all its instance masks, so the other instances serve as "other objects"
    for negative clicks and can be merged. Mask files are read with
    :func:`ritm_lite.data.masks.read_mask`, the package's one value rule (0/1 label maps, or
    grey ``>= 128``; with ``ignore_band=True`` the grey value 128 is ignore, as in GrabCut).
    Every mask is checked when the dataset is made: one with no object pixel, a mask without an
    image, an image that cannot be opened or one of another size than its mask is an error
    naming the file.

    Args:
        root: folder holding ``images_dir`` and ``masks_dir``.
        names: instance stems to use (e.g. one side of :func:`split_by_image_id`); default all.
        config: sampling configuration.
        seed: base seed (see the module docstring); ``None`` draws one.
        image_id: the photo a mask stem belongs to (masks of one photo are grouped); COCO_MVal's
            naming by default, ``str`` where every mask is its own photo (DUTS-TR).
    """

    def __init__(
        self,
        root: str | Path,
        names: Sequence[str] | None = None,
        config: DatasetConfig | None = None,
        seed: int | None = None,
        images_dir: str = "img",
        masks_dir: str = "gt",
        ignore_band: bool = False,
        image_id: Callable[[str], str] = image_id_from_name,
    ) -> None:
        super().__init__(config, seed)
        self.root = Path(root)
        self.ignore_band = ignore_band
        images = files_by_stem(self.root / images_dir)
        masks = files_by_stem(self.root / masks_dir)
        if names is None:
            require_images_for_masks(images, masks, self.root / images_dir)
            stems = sorted(masks)
        else:
            stems = [Path(n).stem for n in names]
        missing = [s for s in stems if s not in images or s not in masks]
        if missing:
            raise FileNotFoundError(f"no image and mask pair for {missing[:5]} in {self.root}")
        if not stems:
            raise ValueError(f"no image/mask pairs found in {self.root}")
        for stem in stems:  # fails here, naming the file, rather than training on background
            height, width = read_mask(masks[stem], ignore_band=ignore_band).shape
            image_width, image_height = image_size(images[stem])
            if (image_width, image_height) != (width, height):  # before training, not hours into it
                raise ValueError(f"mask {masks[stem]} is {width}x{height} but its image {images[stem]} is "
                                 f"{image_width}x{image_height} (width x height, as the image is shown)")
        groups: dict[str, list[str]] = {}
        for stem in stems:
            groups.setdefault(image_id(stem), []).append(stem)
        self.image_ids = sorted(groups)
        self._image_paths = [images[groups[i][0]] for i in self.image_ids]
        self._mask_paths = [[masks[s] for s in groups[i]] for i in self.image_ids]

    def num_images(self) -> int:
        return len(self.image_ids)

    def load(self, image_index: int) -> InstanceSample:
        image = read_rgb(self._image_paths[image_index])
        layers = []
        for path in self._mask_paths[image_index]:
            layer = read_mask(path, ignore_band=self.ignore_band)
            if layer.shape != image.shape[:2]:
                raise ValueError(
                    f"mask {path} is {layer.shape[1]}x{layer.shape[0]} but its image "
                    f"{self._image_paths[image_index]} is {image.shape[1]}x{image.shape[0]}"
                )
            layers.append(layer)
        stack = np.stack(layers, axis=2)
        ignore = (stack == IGNORE).any(axis=2) if self.ignore_band else None
        return InstanceSample(image, stack == 1, ignore)


# ---------------------------------------------------------------------------------------
# COCO+LVIS


@runtime_checkable
class InstanceSource(Protocol):
    """What :class:`CocoLvisDataset` needs from a reader of the merged COCO+LVIS files."""

    def __len__(self) -> int: ...  # number of images

    def load_image(self, index: int) -> np.ndarray: ...  # (H, W, 3) uint8 RGB

    def load_masks(self, index: int) -> list[np.ndarray]: ...  # one (H, W) bool per kept object

    def object_areas(self, index: int) -> list[int]: ...  # pixel area of each object


class InMemorySource:
    """An :class:`InstanceSource` over photos held in memory: generated data, tests, a notebook.

    Args:
        items: one ``(image, masks)`` pair per photo: ``(H, W, 3)`` uint8 RGB and a list of
            ``(H, W)`` bool object masks (may be empty).
    """

    def __init__(self, items: Sequence[tuple[np.ndarray, Sequence[np.ndarray]]]) -> None:
        self.items = [(image, list(masks)) for image, masks in items]
        if not self.items:
            raise ValueError("an InMemorySource needs at least one photo")
        for index, (image, masks) in enumerate(self.items):
            if not isinstance(image, np.ndarray) or not all(isinstance(m, np.ndarray) for m in masks):
                raise ValueError(f"photo {index}: image and masks must be NumPy arrays")
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"photo {index}: image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
            for mask in masks:
                if mask.shape != image.shape[:2] or mask.dtype != np.bool_:
                    raise ValueError(f"photo {index}: masks must be (H, W) bool like its image "
                                     f"{image.shape[:2]}, got {mask.shape} {mask.dtype}")

    def __len__(self) -> int:
        return len(self.items)

    def load_image(self, index: int) -> np.ndarray:
        return self.items[index][0]

    def load_masks(self, index: int) -> list[np.ndarray]:
        return self.items[index][1]

    def object_areas(self, index: int) -> list[int]:
        return [int(mask.sum()) for mask in self.items[index][1]]


class CocoLvisDataset(InteractiveDataset):
    """The merged COCO+LVIS training set, read through any :class:`InstanceSource`.

    Differences from the original ``CocoLvisDataset``: the merged format keeps no object
    hierarchy (the original only ever targets top-level objects) and no "stuff" masks (the
    original adds them with ``stuff_prob = 0.3``); every kept object can be a target. Like the
    original, object areas are measured again after augmentation (``min_object_area`` applies
    to the crop), so the reader's ``object_areas`` is not needed for sampling.
    """

    def __init__(self, source: InstanceSource, config: DatasetConfig | None = None, seed: int | None = None) -> None:
        if not isinstance(source, InstanceSource):
            raise TypeError(f"{type(source).__name__} lacks the InstanceSource methods")
        super().__init__(config, seed)
        self.source = source

    @classmethod
    def from_disk(
        cls, root: str | Path, split: str, config: DatasetConfig | None = None, seed: int | None = None,
        images_dir: str | Path | None = None,
    ) -> CocoLvisDataset:
        """Open a merged set written by ``python -m ritm_lite.data.coco_lvis``.

        ``images_dir`` is the COCO image root when the merge recorded none (or another one);
        without any, a ``ValueError`` says how to give one, before any training starts.
        """
        from ritm_lite.data.coco_lvis import MergedCocoLvis

        source = MergedCocoLvis(root, split, images_dir=images_dir)
        try:
            source.require_images_dir()
        except RuntimeError as err:
            raise ValueError(f"{err} (the training CLI: --images COCO_ROOT)") from None
        return cls(source, config, seed)

    def num_images(self) -> int:
        return len(self.source)

    def load(self, image_index: int) -> InstanceSample:
        image = self.source.load_image(image_index)
        masks = self.source.load_masks(image_index)
        if not masks:
            return InstanceSample(image, np.zeros((*image.shape[:2], 0), bool))
        return InstanceSample(image, np.stack(masks, axis=2).astype(bool, copy=False))


# ---------------------------------------------------------------------------------------
# several sources in set proportions


class MixedDataset(InteractiveDataset):
    """Several datasets as one: a sample's source is drawn with probability ``weights[k]``,
    then its image uniformly within that source (not in RITM, which trains on one set).

    The sources' own ``config`` and ``seed`` are not used: augmentation, click sampling and
    randomness are this dataset's, so a mixed sample is made exactly as any other.

    Args:
        sources: the datasets (each an :class:`InteractiveDataset` with at least one image).
        weights: one non-negative weight per source, not all zero; normalised to sum to 1.
        config, seed: as for :class:`InteractiveDataset`.
    """

    def __init__(self, sources: Sequence[InteractiveDataset], weights: Sequence[float],
                 config: DatasetConfig | None = None, seed: int | None = None) -> None:
        super().__init__(config, seed)
        if len(sources) == 0 or len(sources) != len(weights):
            raise ValueError(f"need one weight per source, got {len(sources)} sources and {len(weights)} weights")
        w = np.asarray(weights, dtype=np.float64)
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not all 0, got {list(weights)}")
        for source in sources:
            if source.num_images() < 1:
                raise ValueError(f"{type(source).__name__} has no images")
        self.sources = list(sources)
        self.weights = w / w.sum()  # p_k = w_k / sum(w)
        self._offsets = np.cumsum([0] + [s.num_images() for s in self.sources])  # image i of source k: offset_k + i

    def num_images(self) -> int:
        return int(self._offsets[-1])

    def pick_image(self, rng: np.random.Generator) -> int:
        k = int(rng.choice(len(self.sources), p=self.weights))
        return int(self._offsets[k] + rng.integers(self.sources[k].num_images()))

    def load(self, image_index: int) -> InstanceSample:
        if not 0 <= image_index < self.num_images():
            raise IndexError(f"image {image_index} outside 0..{self.num_images() - 1}")
        k = int(np.searchsorted(self._offsets, image_index, side="right") - 1)
        return self.sources[k].load(image_index - int(self._offsets[k]))

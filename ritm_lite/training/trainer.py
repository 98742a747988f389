"""The trainer: iterative training with mask guidance, as the original trains ITER-M models.

Per batch: draw ``0..max_num_next_clicks`` iterative steps, simulate them without gradients
(:func:`~ritm_lite.training.iterative.simulate_interaction`), then one forward/backward pass
with the loss ``NFL(main) + 0.4 * BCE(aux)`` (the main loss is the config's ``loss``: NFL
unless an ablation names another). Adam with backbone lr x0.1, MultiStepLR over
fixed-length epochs.

Beyond the original: mixed precision on CUDA, channels_last (NHWC) on every device, DDP via torchrun, atomic
checkpoints holding everything needed to resume *exactly* (model, optimiser, scheduler,
scaler, RNG state, position in the epoch), and a guard that stops a diverging run — on every
process together: under DDP the processes agree on whether all losses are finite before any
of them starts the backward pass (whose gradient all-reduce would otherwise wait forever
for a process that stopped).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..losses import main_loss, sigmoid_binary_cross_entropy
from ..model import RITMModel, build_model
from ..model.checkpoint import read_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import DistEnv, SampleSchedule, all_reduce_mean
from .iterative import TRAIN_PRED_THRESHOLD, simulate_interaction
from .logs import RunLog
from .optim import make_optimizer, make_scheduler

# Fields a resumed run may change; any other difference means a different experiment.
RESUMABLE_CHANGES = {"epochs", "workers", "val_interval", "checkpoint_interval", "checkpoint_every_steps"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclasses.dataclass
class TrainState:
    """Where the run is: the next step to run is ``step`` of ``epoch``."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0


class Trainer:
    """Train a RITM model.

    Args:
        config: the run's :class:`~ritm_lite.training.config.TrainConfig`.
        train_set: dataset of ``{"images", "points", "instances"}`` samples whose item ``i``
            is deterministic given its epoch (``set_epoch``), e.g. ``ritm_lite.data.datasets``.
        out_dir: where checkpoints (``checkpoints/``) and logs go.
        val_set: optional validation dataset (same layout).
        env: this process's place in a distributed run (default: a single CPU/GPU process).
        model: a model to train (default: ``build_model(config.model_config())``, the preset
            with the run's Conv1S starting scale, seeded by ``config.seed``).
        max_steps: stop after this many global steps (checkpointing first) — for short runs.
        max_minutes: stop after the first step that ends this many minutes after :meth:`fit`
            began (checkpointing first) — a time budget, e.g. a few minutes of fine-tuning.
        progress: show tqdm progress bars (main process only).
    """

    def __init__(self, config: TrainConfig, train_set: Dataset, out_dir: str | Path,
                 val_set: Dataset | None = None, env: DistEnv | None = None,
                 model: RITMModel | None = None, max_steps: int | None = None,
                 max_minutes: float | None = None, progress: bool = True):
        self.config, self.train_set, self.val_set = config, train_set, val_set
        self.env = env or DistEnv(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
        self.out_dir = Path(out_dir)
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        if max_minutes is not None and not max_minutes > 0:  # also NaN
            raise ValueError(f"max_minutes must be positive, got {max_minutes}")
        self.max_steps, self.progress = max_steps, progress and self.env.is_main
        self.max_minutes, self._deadline = max_minutes, None
        if config.batch_size // self.env.world_size < 2:
            raise ValueError(
                f"each process needs a batch of at least 2 (got {config.batch_size} over {self.env.world_size}): "
                "the OCR head normalises its 1x1 object representation with BatchNorm"
            )
        torch.manual_seed(config.seed)
        if model is None:
            model = build_model(config.model_config())
        if config.aux_loss_weight > 0 and not model.has_aux_output:
            raise ValueError(f"{type(model).__name__} has no auxiliary head (its 'instances_aux' repeats "
                             "'instances'): train it with aux_loss_weight=0")
        self.model = model.to(self.env.device)
        cuda = self.env.device.type == "cuda"
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.amp_dtype = None
        if cuda and config.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.optimizer = make_optimizer(self.model, config)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.net = self.model
        if self.env.distributed:
            ids = [self.env.local_rank] if cuda else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.main_loss = main_loss(config.loss, config.nfl_alpha, config.nfl_gamma)
        self.state = TrainState()
        self.log = RunLog(self.out_dir) if self.env.is_main else None

    # ------------------------------------------------------------------ checkpoints
    @property
    def last_checkpoint(self) -> Path:
        return self.out_dir / "checkpoints" / "last.pth"

    def save(self, path: Path | None = None) -> Path | None:
        """Write a resumable checkpoint (main process only; others return ``None``)."""
        if not self.env.is_main:
            return None
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            raise TrainingDiverged("refusing to checkpoint non-finite weights")
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return save_checkpoint(
            self.model, path or self.last_checkpoint,
            train_config=dataclasses.asdict(self.config), trainer_state=dataclasses.asdict(self.state),
            optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
            scaler=self.scaler.state_dict(), rng=rng,
        )

    def resume(self, path: str | Path | None = None) -> TrainState:
        """Continue from a checkpoint written by :meth:`save` (default: ``checkpoints/last.pth``).

        Log rows of steps after the checkpoint's (written by a run killed after its last
        checkpoint, and about to be run again) are dropped: see :meth:`RunLog.rewind`.
        """
        _, state_dict, contents = read_checkpoint(path or self.last_checkpoint, map_location="cpu")
        if "trainer_state" not in contents:
            raise ValueError(f"{path or self.last_checkpoint} is a model checkpoint, not a training checkpoint")
        stored = contents["train_config"]
        current = dataclasses.asdict(self.config)
        defaults = dataclasses.asdict(TrainConfig())  # a field newer than the run: it ran with the default
        changed = {k for k in current if _plain(stored.get(k, defaults[k])) != _plain(current[k])} - RESUMABLE_CHANGES
        if changed:
            raise ValueError(f"cannot resume: the run's config differs in {sorted(changed)}")
        self.model.load_state_dict(state_dict)
        self.optimizer.load_state_dict(contents["optimizer"])
        self.scheduler.load_state_dict(contents["scheduler"])
        self.scaler.load_state_dict(contents["scaler"])
        torch.set_rng_state(contents["rng"]["torch"])
        if "cuda" in contents["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(contents["rng"]["cuda"])
        self.state = TrainState(**contents["trainer_state"])
        if self.log is not None:  # a killed run may have logged steps after this checkpoint
            self.log.rewind(self.state.global_step, ["train", "val"])
        return self.state

    # ------------------------------------------------------------------ training
    def fit(self) -> TrainState:
        """Train until ``config.epochs`` (or ``max_steps``, or ``max_minutes``); returns the final state."""
        if self.max_minutes is not None:
            self._deadline = time.monotonic() + 60.0 * self.max_minutes
        try:
            while self.state.epoch < self.config.epochs:
                epoch = self.state.epoch
                if not self._train_epoch(epoch):
                    return self.state  # stopped at max_steps (checkpoint written)
                self.scheduler.step()
                self.state = TrainState(epoch + 1, 0, self.state.global_step)
                if self.val_set is not None and self.config.val_interval and (epoch + 1) % self.config.val_interval == 0:
                    self.validate(epoch)
                self.save()
                if (epoch + 1) % self.config.checkpoint_interval == 0 or epoch + 1 == self.config.epochs:
                    self.save(self.out_dir / "checkpoints" / f"epoch_{epoch + 1:03d}.pth")
            return self.state
        finally:
            if self.log is not None:
                self.log.close()

    def _loader(self, dataset: Dataset, epoch_len: int, start_step: int, epoch: int) -> DataLoader:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        schedule = SampleSchedule(epoch_len, self.config.batch_size, self.env, start_step)
        # Its own generator: creating an iterator must not draw from torch's global RNG, which
        # also drives dropout — otherwise a resumed run would diverge from an uninterrupted one.
        generator = torch.Generator().manual_seed(self.config.seed)
        return DataLoader(dataset, batch_size=schedule.local_batch, sampler=schedule,
                          num_workers=self.config.workers, pin_memory=self.env.device.type == "cuda",
                          drop_last=True, generator=generator)

    def _train_epoch(self, epoch: int) -> bool:
        """Run the rest of ``epoch``; False if ``max_steps`` stopped the run."""
        loader = self._loader(self.train_set, self.config.epoch_len, self.state.step, epoch)
        self.net.train()
        bar = tqdm(loader, desc=f"epoch {epoch}", disable=not self.progress, leave=False)
        waited = time.perf_counter()
        for batch in bar:
            data_time = time.perf_counter() - waited
            parts = self.train_step(batch)
            self.state.step += 1
            self.state.global_step += 1
            if self.log is not None:
                lr = self.optimizer.param_groups[0]["lr"]
                self.log.log("train", self.state.global_step, epoch=epoch, lr=lr, data_time=data_time, **parts)
                bar.set_postfix(loss=f"{parts['loss']:.4f}")
            if self.state.global_step % self.config.checkpoint_every_steps == 0:
                self.save()
            if (self.max_steps is not None and self.state.global_step >= self.max_steps) or self._out_of_time():
                self.save()
                return False
            waited = time.perf_counter()
        return True

    def _out_of_time(self) -> bool:
        """Whether ``max_minutes`` have passed since :meth:`fit` began — the same answer on
        every process (any one out of time stops them all, as :meth:`_nonfinite_ranks`)."""
        if self._deadline is None:
            return False
        late = torch.tensor(float(time.monotonic() >= self._deadline), device=self.env.device)
        if self.env.distributed:
            dist.all_reduce(late, op=dist.ReduceOp.MAX)
        return bool(late.item())

    def _batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        device, fmt = self.env.device, self._memory_format()
        images = batch["images"].to(device, non_blocking=True).contiguous(memory_format=fmt)
        return images, batch["instances"].to(device, non_blocking=True), batch["points"].to(device)

    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.config.channels_last else torch.contiguous_format

    def _losses(self, images, gt, points, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        num_steps = int(rng.integers(0, self.config.max_num_next_clicks + 1))
        started = time.perf_counter()
        with torch.autocast(self.env.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            prev_mask, points = simulate_interaction(self.model, images, gt, points, num_steps, rng)
            click_time = time.perf_counter() - started
            out = self.net(torch.cat([images, prev_mask.to(images.dtype)], dim=1), points)
        c = self.config
        main = self.main_loss(out["instances"].float(), gt).mean()
        aux = sigmoid_binary_cross_entropy(out["instances_aux"].float(), gt).mean()
        iou = batch_iou(out["instances"].detach(), gt)
        return {"loss": main + c.aux_loss_weight * aux, "main": main, "aux_bce": aux, "iou": iou,
                "clicks_added": torch.tensor(float(num_steps)), "click_time": torch.tensor(click_time)}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step; returns the logged scalars."""
        started = time.perf_counter()
        rng = np.random.default_rng([self.config.seed, self.state.global_step, self.env.rank])
        losses = self._losses(*self._batch(batch), rng)
        loss = losses["loss"]
        diverged = self._nonfinite_ranks(loss)
        if diverged:
            where = self.last_checkpoint if self.last_checkpoint.exists() else "none written yet"
            value = loss.item() if self.env.rank in diverged else "non-finite"
            ranks = f" on rank {', '.join(map(str, diverged))}" if self.env.distributed else ""
            raise TrainingDiverged(
                f"loss became {value}{ranks} at epoch {self.state.epoch}, step {self.state.step} "
                f"(global step {self.state.global_step}); training stopped. Last good checkpoint: {where}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        scalars = {k: all_reduce_mean(v.detach().float(), self.env).item() for k, v in losses.items()}
        scalars["step_time"] = time.perf_counter() - started
        return scalars

    def _nonfinite_ranks(self, loss: torch.Tensor) -> list[int]:
        """Ranks whose loss is NaN or infinite — the same list on every process.

        One all-reduce of a ``(world_size,)`` flag vector (each process sets its own entry),
        so that all processes stop at the same step, before the backward pass.
        """
        flags = torch.zeros(self.env.world_size, device=loss.device)
        flags[self.env.rank] = (~torch.isfinite(loss.detach())).float()
        if self.env.distributed:
            dist.all_reduce(flags, op=dist.ReduceOp.SUM)
        return [rank for rank, flag in enumerate(flags.tolist()) if flag > 0]

    @torch.no_grad()
    def validate(self, epoch: int) -> dict[str, float]:
        """Loss and IoU on the validation set (deterministic clicks); logged under ``val``."""
        loader = self._loader(self.val_set, self.config.val_epoch_len, 0, 0)
        self.net.eval()
        totals: dict[str, float] = {}
        for i, batch in enumerate(tqdm(loader, desc="validation", disable=not self.progress, leave=False)):
            rng = np.random.default_rng([self.config.seed, 10**9 + i, self.env.rank])
            for key, value in self._losses(*self._batch(batch), rng).items():
                totals[key] = totals.get(key, 0.0) + all_reduce_mean(value.float(), self.env).item()
        self.net.train()
        result = {k: v / max(1, len(loader)) for k, v in totals.items() if "time" not in k}
        if self.log is not None:
            self.log.log("val", self.state.global_step, epoch=epoch, **result)
        return result


def batch_iou(logits: torch.Tensor, gt: torch.Tensor, threshold: float = TRAIN_PRED_THRESHOLD) -> torch.Tensor:
    """Mean IoU of ``sigmoid(logits) > threshold`` against ``gt == 1`` (ignoring ``gt == -1``)."""
    pred = torch.sigmoid(logits.float()) > threshold
    valid = gt != -1
    obj = gt == 1
    inter = (pred & obj & valid).sum(dim=(1, 2, 3)).float()
    union = ((pred | obj) & valid).sum(dim=(1, 2, 3)).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).mean()


def _plain(value: Any) -> Any:
    """Tuples and lists compare equal (JSON-like round trips turn one into the other)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if not (isinstance(value, float) and math.isnan(value)) else "nan"

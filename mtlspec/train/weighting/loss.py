"""Loss-based weightings: the weights come from the losses alone (no per-task gradients).

Each weight is what the method's objective puts on ∇L_t, so the update is the gradient of that
objective: GLS's geometric mean gives w_t = (Π L)^(1/T) / (T L_t), UW's 1/(2σ²) L + log σ gives
w_t = 1/(2σ_t²) and so on. Learnable parameters (σ of UW, s of IMTL-L, ξ of FAMO) have their own
Adam optimiser and are checkpointed with the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from mtlspec.errors import MtlspecError
from mtlspec.train.weighting.base import Learned, Weighting


class Uniform(Weighting):
    """Equal weighting (EW): every task weighted 1/T, the mean of the losses."""

    name = "uniform"
    paper = "equal weighting (the baseline of every MTL paper)"

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        return np.full(len(losses), 1.0 / len(losses))


class Fixed(Weighting):
    """User-given weights per task, used as given; unnamed tasks get 1."""

    name = "fixed"
    paper = "hand-set weights"
    option_help: ClassVar[dict[str, str]] = {"weights": "task=weight pairs, given with --weights"}

    def __init__(self, weights: Mapping[str, float]) -> None:
        super().__init__()
        self.given = dict(weights)
        for task, w in self.given.items():
            if not math.isfinite(w) or w < 0:
                raise MtlspecError(f"weight of task {task} must be finite and ≥ 0, got {w}")

    def bind(self, tasks: Sequence[str]) -> None:
        unknown = sorted(set(self.given) - set(tasks))
        if unknown:
            raise MtlspecError(f"--weights names unknown task(s) {', '.join(unknown)}; the "
                               f"model's tasks are {', '.join(tasks)}")
        super().bind(tasks)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        return np.array([self.given.get(t, 1.0) for t in self.tasks])


RLW_DISTRIBUTIONS = ("normalized", "uniform", "normal", "dirichlet", "bernoulli", "one-hot")


class RandomLoss(Weighting):
    """Random Loss Weighting (RLW): fresh random weights every step.

    Lin et al., "Reasonable Effectiveness of Random Weighting: A Litmus Test for Multi-Task
    Learning", TMLR 2022 (arXiv:2111.10603). `dist` picks the variant: normalized (default; draws
    uniform on [0, 1] divided by their sum, CoNAL's rule), uniform / normal / dirichlet (softmax
    of U(0,1), N(0,1) or Dir(1) draws, the paper's λ = softmax(λ̃)), bernoulli (each task 0 or 1,
    redrawn when all are 0) and one-hot (one task at random, the paper's constrained Bernoulli).
    Draws come from its own seeded generator, whose state is checkpointed.
    """

    name = "rlw"
    paper = "Lin et al., TMLR 2022 (RLW)"
    option_help: ClassVar[dict[str, str]] = {"dist": " | ".join(RLW_DISTRIBUTIONS),
                                             "seed": "the generator's seed (default: --seed)"}

    def __init__(self, dist: str = "normalized", seed: int = 0) -> None:
        super().__init__()
        if dist not in RLW_DISTRIBUTIONS:
            raise MtlspecError(f"rlw: unknown dist {dist!r}; use one of "
                               f"{', '.join(RLW_DISTRIBUTIONS)}")
        self.dist = dist
        self.rng = np.random.default_rng(seed)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        t = len(losses)
        if self.dist == "normalized":
            w = self.rng.uniform(0.0, 1.0, size=t)
            total = w.sum()
            return w / total if total > 0 else np.full(t, 1.0 / t)
        if self.dist == "bernoulli":
            while True:
                w = self.rng.integers(0, 2, size=t).astype(np.float64)
                if w.sum() > 0:
                    return w
        if self.dist == "one-hot":
            return np.eye(t)[self.rng.integers(0, t)]
        raw = {"uniform": lambda: self.rng.uniform(0.0, 1.0, size=t),
               "normal": lambda: self.rng.normal(0.0, 1.0, size=t),
               "dirichlet": lambda: self.rng.dirichlet(np.ones(t))}[self.dist]()
        e = np.exp(raw - raw.max())
        return e / e.sum()

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class _LearnedLoss(Learned, Weighting):
    """A loss weighting with T learnable numbers (one Adam step per training step)."""

    initial = 0.0

    def __init__(self, lr: float | None = None, weight_decay: float = 0.0) -> None:
        Weighting.__init__(self)
        Learned.__init__(self, self.initial, lr, weight_decay)

    def bind(self, tasks: Sequence[str]) -> None:
        super().bind(tasks)
        self.create(len(tasks))

    def default_lr(self, lr: float) -> None:
        self.set_default_lr(lr)

    def state_dict(self) -> dict[str, Any]:
        return self.learned_state()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.load_learned(state)


class Uncertainty(_LearnedLoss):
    """Uncertainty weighting (UW): Σ_t L_t / (2σ_t²) + log σ_t with learnt σ_t.

    Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
    Geometry and Semantics", CVPR 2018. s_t = log σ_t² starts at 0 (σ = 1); w_t = e^(−s_t)/2;
    ∂/∂s_t = (1 − L_t e^(−s_t))/2, so for a steady loss σ_t² → L_t and w_t → 1/(2 L_t) (the
    closed form). The regression form is used for every task, as LibMTL does. s is trained by
    Adam at the model's learning rate (the paper trains it jointly with the network).
    """

    name = "uw"
    paper = "Kendall et al., CVPR 2018 (uncertainty weighting)"
    option_help: ClassVar[dict[str, str]] = {"lr": "Adam rate of log σ² (default: the model's)"}

    def __init__(self, lr: float | None = None) -> None:
        super().__init__(lr)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        s = self.value()
        w = 0.5 * torch.exp(-s)
        self.descend(0.5 - w * losses.double().cpu())
        return w.numpy()


class IMTLLoss(_LearnedLoss):
    """IMTL-L: loss scaling e^(s_t) L_t − s_t with learnt s_t (the loss half of IMTL).

    Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021. w_t = e^(s_t);
    ∂/∂s_t = e^(s_t) L_t − 1, so for a steady loss the scaled loss e^(s_t) L_t → 1 (w_t → 1/L_t).
    s starts at 0 and is trained by Adam at the model's learning rate.
    """

    name = "imtl-l"
    paper = "Liu et al., ICLR 2021 (IMTL-L)"
    option_help: ClassVar[dict[str, str]] = {"lr": "Adam rate of s (default: the model's)"}

    def __init__(self, lr: float | None = None) -> None:
        super().__init__(lr)

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        w = torch.exp(self.value())
        self.descend(w * losses.double().cpu() - 1.0)
        return w.numpy()


class FAMO(_LearnedLoss):
    """FAMO: fast adaptive multitask optimisation, O(1) memory and one extra forward pass.

    Liu, Liu, Stone and Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023.
    z = softmax(ξ); the update is ∇ Σ_t z_t log(L_t − ℓ*_t) / c, c = Σ_t z_t / (L_t − ℓ*_t), so
    w_t = z_t / (c (L_t − ℓ*_t)) (ℓ* = 0 here; weights sum to 1). After the update the same
    batch's losses L' give δ_t = log L_t − log L'_t, and ξ takes an Adam step along
    (∂z/∂ξ)ᵀ δ (lr 0.025, weight decay 1e-3: the paper's defaults).
    """

    name = "famo"
    paper = "Liu et al., NeurIPS 2023 (FAMO)"
    observes = True
    option_help: ClassVar[dict[str, str]] = {"lr": "Adam rate of the logits ξ",
                                             "gamma": "Adam weight decay of ξ"}
    EPS = 1e-8

    def __init__(self, lr: float = 0.025, gamma: float = 1e-3) -> None:
        super().__init__(lr, gamma)
        self.previous: torch.Tensor | None = None

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        z = torch.softmax(self.value(), 0)
        d = losses.double().cpu() + self.EPS
        self.previous = d
        c = (z / d).sum()
        return (z / (c * d)).numpy()

    def observe(self, losses: torch.Tensor) -> None:
        if self.previous is None:
            return
        delta = self.previous.log() - (losses.detach().double().cpu() + self.EPS).log()
        z = torch.softmax(self.value(), 0)
        self.descend(z * (delta - (z * delta).sum()))  # (∂softmax/∂ξ)ᵀ δ
        self.previous = None


class DWA(Weighting):
    """Dynamic Weight Average: weights from how fast each task's epoch loss fell.

    Liu, Johns and Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019.
    w_t = T · softmax_t(r_t / temperature), r_t = L̄_t(e−1) / L̄_t(e−2) with L̄ the mean training
    loss of an epoch; weight 1 during the first two epochs. Temperature 2 (the paper's).
    """

    name = "dwa"
    paper = "Liu et al., CVPR 2019 (DWA)"
    option_help: ClassVar[dict[str, str]] = {"temperature": "softmax temperature"}

    def __init__(self, temperature: float = 2.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise MtlspecError(f"dwa: temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.sums = torch.zeros(0, dtype=torch.float64)
        self.count = 0
        self.epochs: list[torch.Tensor] = []  # mean losses of the last two epochs

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        loss = losses.double().cpu()
        self.sums = loss.clone() if self.count == 0 else self.sums + loss
        self.count += 1
        if len(self.epochs) < 2:
            return np.ones(len(losses))
        ratio = self.epochs[-1] / self.epochs[-2]
        return (len(losses) * torch.softmax(ratio / self.temperature, 0)).numpy()

    def end_epoch(self) -> None:
        if self.count:
            self.epochs = [*self.epochs, self.sums / self.count][-2:]
        self.sums, self.count = torch.zeros(0, dtype=torch.float64), 0

    def state_dict(self) -> dict[str, Any]:
        return {"sums": self.sums.clone(), "count": self.count,
                "epochs": [e.clone() for e in self.epochs]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sums, self.count = state["sums"].clone(), int(state["count"])
        self.epochs = [e.clone() for e in state["epochs"]]


class GLS(Weighting):
    """Geometric loss strategy: minimise the geometric mean (Π_t L_t)^(1/T).

    Chennupati et al., "MultiNet++: Multi-Stream Feature Aggregation and Geometric Loss Strategy
    for Multi-Task Learning", CVPR Workshops 2019. Its gradient weights each ∇L_t by
    w_t = (Π L)^(1/T) / (T L_t): tasks with small losses weigh more.
    """

    name = "gls"
    paper = "Chennupati et al., CVPR-W 2019 (GLS)"

    def compute(self, losses: torch.Tensor, gram: np.ndarray | None) -> np.ndarray:
        loss = np.maximum(losses.double().cpu().numpy(), 1e-12)
        geometric = math.exp(float(np.log(loss).mean()))
        return geometric / (len(loss) * loss)

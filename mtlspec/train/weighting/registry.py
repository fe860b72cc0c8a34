"""One registry of every weighting method, by name, and `make_weighting` to build one.

A method's options are its constructor's keyword arguments (defaults = the paper's values);
`make_weighting` takes them as Python values or as the strings of `--weighting-option k=v`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mtlspec.errors import MtlspecError
from mtlspec.train.weighting import gradient, loss, matrix, norm
from mtlspec.train.weighting.base import Weighting


@dataclass(frozen=True)
class Method:
    """A selectable method: its class and the options the name fixes (mgda-ub: rep_grad)."""

    name: str
    factory: type[Weighting]
    preset: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.factory.kind

    @property
    def paper(self) -> str:
        return self.factory.paper

    @property
    def extra(self) -> str | None:
        return getattr(self.factory, "extra", None)

    @property
    def needs(self) -> str:
        """What a step computes for it: losses, or per-task gradients."""
        if self.preset.get("rep_grad"):
            return "representation gradients"
        requires = self.factory.requires
        return "losses" if requires == "losses" else "gradients"

    def options(self) -> dict[str, inspect.Parameter]:
        """The user-settable options (constructor keywords, less the preset ones)."""
        params = inspect.signature(self.factory.__init__).parameters
        if self.name == "fixed":  # its one option, required, comes from --weights
            return {"weights": params["weights"]}
        internal = ("max_iter", "tol")  # MGDA's solver limits: not for the command line
        return {k: p for k, p in params.items()
                if k != "self" and k not in self.preset and k not in internal
                and p.default is not p.empty}


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("uniform", loss.Uniform),
    Method("fixed", loss.Fixed),
    Method("rlw", loss.RandomLoss),
    Method("uw", loss.Uncertainty),
    Method("dwa", loss.DWA),
    Method("gls", loss.GLS),
    Method("imtl-l", loss.IMTLLoss),
    Method("famo", loss.FAMO),
    Method("gradnorm", norm.GradNorm),
    Method("db-mtl", norm.DBMTL),
    Method("mgda", gradient.MGDA),
    Method("mgda-ub", gradient.MGDA, {"rep_grad": True}),
    Method("pcgrad", gradient.PCGrad),
    Method("graddrop", matrix.GradDrop),
    Method("gradvac", gradient.GradVac),
    Method("imtl-g", gradient.IMTLG),
    Method("imtl", gradient.IMTL),
    Method("cagrad", gradient.CAGrad),
    Method("nash-mtl", matrix.NashMTL),
    Method("aligned-mtl", gradient.AlignedMTL),
    Method("upgrad", gradient.UPGrad),
    Method("dualproj", gradient.DualProj),
    Method("config", matrix.ConFIG),
    Method("fairgrad", gradient.FairGrad),
]}
WEIGHTINGS = tuple(METHODS)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(method: str, key: str, param: inspect.Parameter, value: Any) -> Any:
    """An option value in the type of its default (strings from the command line)."""
    if not isinstance(value, str):
        return value
    default, text = param.default, value.strip()
    if isinstance(default, bool):
        if text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise MtlspecError(f"{method}: option {key} is true or false, got {value!r}")
    if isinstance(default, int) or (isinstance(default, float) or (
            default is None and "float" in str(param.annotation))):
        if default is None and text.lower() == "none":
            return None
        kind = int if isinstance(default, int) else float
        try:
            return kind(text)
        except ValueError:
            raise MtlspecError(f"{method}: option {key} is a number, got {value!r}") from None
    return text


def make_weighting(name: str, *, weights: Mapping[str, float] | None = None,
                   normalization: str | None = None, seed: int = 0,
                   **options: Any) -> Weighting:
    """A weighting by name (see `METHODS`, or `mtlspec weightings`).

    Args:
        name: a method name, e.g. uniform, rlw, uw, gradnorm, mgda, mgda-ub, pcgrad, upgrad.
        weights: per-task weights (fixed only).
        normalization: MGDA's gradient normalisation (none, l2, loss, loss+; default loss+:
            without it the min-norm point leans on the smallest gradient and the other tasks
            stall, left/right near 55-65% on MultiDigits).
        seed: the seed of RLW's own generator (unless given as an option).
        options: the method's options (`mtlspec weightings` lists them), as values or strings.

    Returns:
        The weighting (unbound: the loop binds it to the model's tasks); `settings` holds every
        option's value.

    Raises:
        MtlspecError: unknown name or option, a bad option value, weights given to a method
            other than fixed, fixed without weights, or an optional dependency missing.

    Example:
        >>> make_weighting("fixed", weights={"left": 2.0}).name
        'fixed'
        >>> make_weighting("gradnorm", alpha="0.5").settings["alpha"]
        0.5
    """
    method = METHODS.get(name)
    if method is None:
        raise MtlspecError(f"unknown weighting {name!r}; use one of {', '.join(METHODS)} "
                           "(mtlspec weightings lists them)")
    if weights is not None and name != "fixed":
        raise MtlspecError(f"per-task weights (--weights) need weighting 'fixed', not {name!r}")
    if name == "fixed":
        if weights is None:
            raise MtlspecError("weighting 'fixed' needs per-task weights, e.g. "
                               "--weights left=1,right=2")
        options = {"weights": dict(weights), **options}
    allowed = method.options()
    if normalization is not None and (normalization != "none" or "normalization" in allowed):
        options["normalization"] = normalization  # "none" means "no normalisation" anywhere
    for key in options:
        if key not in allowed:
            raise MtlspecError(_unknown_option(method, key))
    if "seed" in allowed and "seed" not in options:
        options["seed"] = seed
    values = {k: _convert(name, k, allowed[k], v) for k, v in options.items()}
    try:
        weighting = method.factory(**method.preset, **values)
    except ImportError as err:  # an optional dependency torchjd checks itself
        raise MtlspecError(f"weighting {name}: {err}") from None
    weighting.name = name
    weighting.settings = {**{k: p.default for k, p in allowed.items()}, **values}
    return weighting


def _unknown_option(method: Method, key: str) -> str:
    others = [m.name for m in METHODS.values() if key in m.options()]
    if others:
        return f"option {key!r} applies to {', '.join(others)}, not {method.name}"
    known = ", ".join(method.options()) or "none"
    return f"weighting {method.name} has no option {key!r}; its options: {known}"


def describe() -> list[dict[str, Any]]:
    """Every method: name, kind, what it needs, paper, options with defaults and meaning.

    Example:
        >>> [m["name"] for m in describe()][:3]
        ['uniform', 'fixed', 'rlw']
    """
    rows = []
    for m in METHODS.values():
        help_ = m.factory.option_help
        rows.append({
            "name": m.name, "kind": m.kind, "needs": m.needs, "paper": m.paper,
            "extra": m.extra,
            "options": {k: {"default": None if k == "weights" else p.default,
                            "help": help_.get(k, "")} for k, p in m.options().items()},
        })
    return rows

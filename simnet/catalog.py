"""``simnet list``: every registered channel source, codec, policy and experiment, one line each.

Like ``gymnasium``'s registry listing, drawn from the registries themselves, so a newly registered part shows up
without an edit here. For codecs the line also gives the size at the default 64 x 64 grid (8 x 8 array): the
parameter count, the MFLOPs of one report through ``analysis`` and ``synthesis``
(``simnet.experiments.complexity.count_flops``; ``-`` for a codebook, which has no torch graph) and the shipped
checkpoints built for it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("channels", "codecs", "policies", "experiments")

DEFAULT_GRID = {"num_bs_ant": 64, "num_subcarriers": 64}
DEFAULT_BS_ARRAY = (8, 8)  # the codebooks' array for 64 antennas


@dataclass(frozen=True)
class Entry:
    """One registered part as listed: its name, what it is and (codecs) its size and checkpoints.

    Attributes:
        name: the registry name (what a scenario's ``type:`` says).
        summary: the first line of its docstring.
        num_params: parameters at the default grid (codecs; None otherwise).
        mflops_per_report: MFLOPs of one report (codecs with a torch graph; None otherwise).
        checkpoints: file names of the shipped checkpoints of this codec.
    """

    name: str
    summary: str
    num_params: int | None = None
    mflops_per_report: float | None = None
    checkpoints: tuple[str, ...] = ()


def first_line(obj: Any) -> str:
    """The first line of ``obj``'s docstring ('' without one)."""
    lines = (obj.__doc__ or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def registry_of(kind: str) -> Any:
    """The registry behind ``simnet list KIND``."""
    from simnet.config import registries

    if kind == "experiments":
        from simnet.experiments import EXPERIMENTS

        return EXPERIMENTS
    channels, codecs, policies = registries()
    return {"channels": channels, "codecs": codecs, "policies": policies}[kind]


def entries(kind: str) -> list[Entry]:
    """Every part registered under ``kind`` (one of :data:`KINDS`), sorted by name."""
    registry = registry_of(kind)
    if kind != "codecs":
        return [Entry(name, first_line(registry.get(name))) for name in registry]
    shipped = shipped_by_codec()
    return [codec_entry(name, registry.get(name), shipped.get(name, ())) for name in registry]


def codec_entry(name: str, factory: Any, checkpoints: Sequence[str] = ()) -> Entry:
    """A codec's line: parameters and MFLOPs per report of a fresh instance at the default grid."""
    import torch

    from simnet.experiments.complexity import count_flops

    trainable = getattr(factory, "trainable", True)
    kwargs: dict[str, Any] = dict(DEFAULT_GRID) if trainable else {**DEFAULT_GRID, "bs_array": DEFAULT_BS_ARRAY}
    with torch.random.fork_rng(devices=[]):  # building a codec must not move the caller's torch seed
        codec = factory(**kwargs)
    num_params = sum(p.numel() for p in codec.parameters()) if isinstance(codec, torch.nn.Module) else 0
    has_graph = trainable and num_params > 0
    mflops = count_flops(codec.eval()) / 1e6 if has_graph else None
    return Entry(name, first_line(factory), num_params, mflops, tuple(checkpoints))


def shipped_by_codec() -> dict[str, tuple[str, ...]]:
    """Shipped checkpoint file names per codec type, as each checkpoint records it (verified before reading)."""
    import torch

    from simnet.codecs import shipped_checkpoints
    from simnet.codecs.checkpoint import verify_checkpoint

    found: dict[str, list[str]] = {}
    for path in shipped_checkpoints():
        data, _ = verify_checkpoint(path)
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        found.setdefault(str(blob.get("type")), []).append(path.name)
    return {name: tuple(files) for name, files in found.items()}


def format_entries(kind: str, items: Sequence[Entry]) -> list[str]:
    """The lines of one section: a heading, then one aligned line per part."""
    width = max((len(e.name) for e in items), default=0)
    lines = [f"{kind} ({len(items)}):"]
    for e in items:
        if kind != "codecs":
            lines.append(f"  {e.name:<{width}}  {e.summary}")
            continue
        mflops = "-" if e.mflops_per_report is None else f"{e.mflops_per_report:.3f}"
        ckpts = f"  [shipped: {', '.join(e.checkpoints)}]" if e.checkpoints else ""
        lines.append(f"  {e.name:<{width}}  {e.num_params or 0:>9,} params  {mflops:>7} MFLOPs/report  "
                     f"{e.summary}{ckpts}")
    return lines


def listing(kinds: Sequence[str] = KINDS) -> str:
    """The text ``simnet list`` prints: each requested section, a blank line between them."""
    return "\n\n".join("\n".join(format_entries(kind, entries(kind))) for kind in kinds) + "\n"

"""The fine-tuning policy interface and its registry.

A policy is a small stateful object owned by one UE. At every CSI report the UE engine hands it an
``Observation`` (only what the UE itself can see); the policy answers whether to start a fine-tune now.
When it does, the engine calls ``update`` with the UE's current codec and its window of recent CSI,
simulates the compute time, and then delivers the result as the policy's ``delivery`` says:

    "uplink"  the update payload travels as a packet on the shared uplink; the UE switches to the new
              codec only when the BS has applied the payload (encoder and decoder versions always agree)
    "free"    the payload is applied at the BS at once and costs no bits (genie lower bound)
    "local"   nothing is sent (encoder-only); the UE switches its encoder when the compute is done

Whatever the delivery, ``update`` may decline (``UpdateResult.declined``): after the compute time the UE
keeps its codec and version and nothing is sent.

Configuration: a registered policy class has a ``parse(kwargs)`` classmethod that validates its scenario
keywords into a frozen config (``build_config``, called once per variant by the scenario loader, which keeps
the result in ``PolicySpec.config``), and is built from that config: ``POLICIES.get(name)(config)``. It also
reports ``learning_interval_m()``, the distance between fine-tunes it aims at [m] (NaN where the channel
decides, inf for ``never``). The built-in policies are composed of parts (``composed.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from simnet.registry import Registry

Delivery = Literal["uplink", "free", "local"]


@dataclass(frozen=True)
class Observation:
    """What a UE knows at one of its CSI reports.

    Attributes:
        t_s: simulation time of the report [s].
        distance_m: distance the UE has travelled since the start [m].
        report_index: 0-based index of this report for this UE.
        nmse_db: NMSE of the UE's own reconstruction of this report (it holds the decoder too) [dB].
        latent_bits: bits of this report's latent bitstream.
        num_window: number of CSI samples currently in the UE's fine-tuning window.
        busy: True while a fine-tune of this UE is computing or its update is in flight.
    """

    t_s: float
    distance_m: float
    report_index: int
    nmse_db: float
    latent_bits: int
    num_window: int
    busy: bool


@dataclass
class UpdateResult:
    """What a fine-tune produced.

    Attributes:
        codec: the UE's new codec (a new object; the old one stays in use until delivery).
        payload: the update bitstream the BS needs (None when nothing must be sent).
        num_steps: optimisation steps taken (the engine turns them into simulated compute time).
        info: extra numbers for the tables (non-zero updates, training curve summary...).
        declined: the policy chose not to deliver this fine-tune (e.g. it does not pay for its bits): nothing
            is sent (``payload`` must be None), the UE keeps its codec, model version and fine-tuning window
            (the next ``update`` sees these samples again), and only the compute time of ``num_steps`` is
            spent. ``codec`` is then ignored.
    """

    codec: Any
    payload: bytes | None
    num_steps: int
    info: dict[str, float] = field(default_factory=dict)
    declined: bool = False

    def __post_init__(self) -> None:
        if self.declined and self.payload is not None:
            raise ValueError("a declined update sends nothing: its payload must be None")

    @property
    def update_bits(self) -> int:
        return 0 if self.payload is None else 8 * len(self.payload)


@runtime_checkable
class Policy(Protocol):
    """A fine-tuning policy. Implementations are registered with ``@register_policy(name)``."""

    name: ClassVar[str]
    delivery: ClassVar[Delivery]

    def reset(self, rng: np.random.Generator) -> None:
        """Start a new run: forget all state; take randomness only from ``rng``."""
        ...

    def should_update(self, obs: Observation) -> bool:
        """Decide, at one report, whether to start a fine-tune now.

        Called at every report, also while ``obs.busy``; the engine starts a fine-tune only when the
        answer is True and the UE is not busy (a True while busy is ignored, so a policy that wants
        the update later must say True again at a later report).
        """
        ...

    def update(self, codec: Any, h_window: np.ndarray, rng: np.random.Generator) -> UpdateResult:
        """Fine-tune a copy of ``codec`` on ``h_window`` ([N, num_bs_ant, num_subcarriers], complex64)."""
        ...

    def apply_update(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        """Return the BS's codec after receiving ``payload``.

        The result's decoder parameters must equal those of ``ue_codec`` bit for bit (the engine asserts
        it). ``ue_codec`` may only be read when ``delivery == "free"`` (genie: the BS is handed the model);
        for ``"uplink"`` the BS must rebuild the decoder from ``bs_codec`` and ``payload`` alone.
        """
        ...


POLICIES: Registry[type] = Registry("policy")
register_policy = POLICIES.register


def build_config(name: str, kwargs: Mapping[str, Any]) -> Any:
    """The validated config of policy ``name`` from its scenario keywords: the one place they are parsed.

    Every built-in policy has a ``parse`` classmethod returning its frozen config (build the policy with
    ``POLICIES.get(name)(config)``). A policy without one (a test double) is built once from the keywords
    instead, to check them, and has no config (None).

    Raises:
        ConfigError: an unknown keyword or a value out of range, naming the key.
    """
    cls = POLICIES.get(name)
    parse = getattr(cls, "parse", None)
    if parse is None:
        cls(**kwargs)
        return None
    return parse(kwargs)

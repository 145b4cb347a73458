"""What travels on the uplink: a packet (a CSI report or a model update) and a model update's BS-side half."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import simpy

from simnet.coding.crc import ReportCheck

NO_CHECK = ReportCheck(None)

PacketKind = Literal["csi", "update"]


@dataclass(frozen=True)
class ModelUpdate:
    """What the BS needs to install a UE's fine-tuned decoder, built by the UE from its policy.

    Attributes:
        version: the model version the update installs (the UE's current version + 1).
        apply: ``apply(bs_codec, payload) -> new_codec``: the BS's codec after the update, from the BS's newest
            codec and the payload as delivered (None for a genie update, whose step holds the UE's model): the
            UE's policy's ``apply_update``.
        fingerprint: :func:`simnet.codecs.fingerprint.decoder_fingerprint` of the UE's fine-tuned codec: the
            decoder the BS must reproduce bit for bit.
        installed: succeeded by the BS (value: ``version``) once it holds the new decoder; the UE waits on it
            and only then switches encoder and decoder together.
    """

    version: int
    apply: Callable[[Any, bytes | None], Any]
    fingerprint: bytes
    installed: simpy.Event


@dataclass
class Packet:
    """One uplink transmission.

    Attributes:
        ue: sender index.
        kind: ``"csi"`` (a report's latent bitstream) or ``"update"`` (a model-update bitstream).
        payload: the real bytes; ``bits = 8 * len(payload) + check.num_bits``. A genie update has none: it
            takes no airtime and is delivered at once.
        meta: sender's bookkeeping carried to the receiver (report index, model version of a report...).
        check: the CRC sent after the payload (``uplink.report_crc``; none by default).
        update: for ``kind == "update"``, the BS-side apply step and the event the UE waits on.
        t_enqueue_s, t_start_s, t_deliver_s: timeline [s] filled in by the uplink.
        seq: position in the uplink's airtime log (-1 for a packet that takes no airtime).
        num_attempts: transmissions so far (a lossy uplink may send a packet more than once).
        dropped: a lossy uplink gave the packet up: it never arrives (``t_deliver_s`` stays NaN).
    """

    ue: int
    kind: PacketKind
    payload: bytes
    meta: dict[str, Any] = field(default_factory=dict)
    check: ReportCheck = NO_CHECK
    update: ModelUpdate | None = None
    t_enqueue_s: float = float("nan")
    t_start_s: float = float("nan")
    t_deliver_s: float = float("nan")
    seq: int = -1
    num_attempts: int = 0
    dropped: bool = False

    @property
    def bits(self) -> int:
        return 8 * len(self.payload) + self.check.num_bits

    @property
    def version(self) -> int:
        """The model version a report was encoded with, or the version an update installs (-1 if none)."""
        if self.update is not None:
            return self.update.version
        return int(self.meta.get("version", -1))

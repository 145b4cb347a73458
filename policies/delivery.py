"""*Delivery*: how the BS gets a policy's update (coded on the uplink, handed over free, or nothing to send).

Each part names its ``kind`` (the ``Delivery`` the UE engine acts on) and rebuilds the BS's codec:

    apply(bs_codec, payload, ue_codec) -> the BS's new codec (decoder bit-equal to ``ue_codec``'s)
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from policies.base import Delivery
from simnet.coding import updates
from simnet.learning.translation_module import TranslatedCodec, wrap_translation


class DeliveryPart(Protocol):
    """How an update reaches the BS."""

    kind: ClassVar[Delivery]

    def apply(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any: ...


class CodedUplink:
    """The coded update travels on the shared uplink; the BS decodes it onto its own codec."""

    kind: ClassVar[Delivery] = "uplink"

    def __init__(self, policy: str) -> None:
        self.policy = policy

    def apply(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError(f"the {self.policy!r} policy needs the update payload")
        return updates.apply_update(bs_codec, payload)


class TranslationUplink(CodedUplink):
    """The coded retranslation update on the uplink; the BS wraps its backbone in translation modules first."""

    def __init__(self, policy: str, num_channels: int) -> None:
        super().__init__(policy)
        self.num_channels = num_channels

    def apply(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del ue_codec
        if payload is None:
            raise ValueError(f"the {self.policy!r} policy needs the update payload")
        if not isinstance(bs_codec, TranslatedCodec):
            bs_codec = wrap_translation(bs_codec, self.num_channels)
        return updates.apply_update(bs_codec, payload, names=bs_codec.retranslation_names())


class FreeHandover:
    """The new decoder is handed to the BS at once and costs no bits (the genie lower bound)."""

    kind: ClassVar[Delivery] = "free"

    def apply(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del payload
        return updates.copy_decoder(bs_codec, ue_codec)


class NothingToSend:
    """The decoder never changes (encoder-only): the BS keeps its codec."""

    kind: ClassVar[Delivery] = "local"

    def apply(self, bs_codec: Any, payload: bytes | None, ue_codec: Any) -> Any:
        del payload, ue_codec
        return bs_codec

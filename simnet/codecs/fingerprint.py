"""The exact bytes of a codec's decoder side (what the BS must hold), for bit-for-bit equality checks."""

from __future__ import annotations

from typing import Any


def decoder_fingerprint(codec: Any) -> bytes:
    """Concatenate name and raw bytes of every decoder-side tensor of ``codec``.

    Args:
        codec: any codec of :mod:`simnet.codecs` (``decoder_parameter_names`` and ``state_dict``).

    Returns:
        bytes that are equal for two codecs exactly when their decoder-side tensors (names, dtypes as stored,
        values) are equal bit for bit.
    """
    names = codec.decoder_parameter_names()
    state = codec.state_dict()
    return b"".join(name.encode() + state[name].detach().cpu().contiguous().numpy().tobytes() for name in names)

"""Model updates coded for real: the quantized decoder-side change as a range-coded, checked payload.

Core paper section III-B. The BS holds the decoder-side parameters ``theta`` (decoder and latent entropy
model, ``codec.decoder_parameter_names()``); after fine-tuning the UE holds ``theta'``. The update is

    delta = theta' - theta                          (float32, one tensor per parameter)
    q     = clip(round(delta / t), q_min, q_max)     (eq. 12-14, integers, num_bins bins)
    new   = theta + t * q                            (same float32 ops at UE and BS: bit-identical)

``q`` (:mod:`simnet.coding.update_prior`: the quantizer, the priors and the differentiable rate) is
entropy coded with constriction's range coder under the prior's pmf over the ``num_bins`` bins.

Payload layout (little endian)::

    magic b"SU" | version u8 | prior u8 | num_bins-1 u8 | t f32 | alpha f32 | sigma_slab f32
    | layout hash u32 (names, shapes) | base crc u32 (the float32 bytes of theta) | num_words u32
    | range-coded words (u32 each) | crc32 of everything before it u32

A payload built for another parameter layout or another base ``theta``, or one with a flipped bit,
raises ``DataError`` instead of silently corrupting the BS decoder.
"""

from __future__ import annotations

import copy
import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import constriction
import numpy as np
import torch

from simnet.coding.update_prior import (
    PRIORS,
    UpdateCoding,
    bin_mass,
    dequantize,
    pmf,
    quantize_indices,
    quantize_ste,
    rate_bits,
)
from simnet.errors import ConfigError, DataError

__all__ = [  # the quantizer and prior live in update_prior; fine-tuning reaches them through this module too
    "PRIORS", "EncodedUpdate", "UpdateCoding", "apply_update", "bin_mass", "code_deltas", "copy_decoder",
    "decode_update", "decoder_state", "dequantize", "encode_update", "pmf", "quantize_indices", "quantize_ste",
    "rate_bits", "read_header",
]

_MAGIC = b"SU"
_VERSION = 1
_HEADER = struct.Struct("<2sBBBfffIII")
_CRC = struct.Struct("<I")


# ---------------------------------------------------------------------------------------------- layout
def decoder_state(codec: Any, names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Detached float32 copies of the decoder-side tensors, in ``decoder_parameter_names()`` order.

    Args:
        codec: a codec.
        names: a subset to take instead of all of ``codec.decoder_parameter_names()``.
    """
    state = dict(codec.named_parameters())
    state.update(dict(codec.named_buffers()))
    out: dict[str, torch.Tensor] = {}
    for name in codec.decoder_parameter_names() if names is None else names:
        if name not in state:
            raise DataError(f"codec has no parameter {name!r} listed in decoder_parameter_names()")
        out[name] = state[name].detach().to(torch.float32).clone()
    return out


def _layout_hash(state: dict[str, torch.Tensor]) -> int:
    text = ";".join(f"{k}:{tuple(v.shape)}" for k, v in state.items()).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")


def _base_crc(state: dict[str, torch.Tensor]) -> int:
    crc = 0
    for v in state.values():
        crc = zlib.crc32(v.contiguous().numpy().tobytes(), crc)
    return crc


def _set_tensors(codec: Any, values: dict[str, torch.Tensor]) -> None:
    """Overwrite named parameters/buffers in place and let the codec rebuild derived tables."""
    tensors = dict(codec.named_parameters())
    tensors.update(dict(codec.named_buffers()))
    with torch.no_grad():
        for name, value in values.items():
            tensors[name].copy_(value.to(tensors[name].dtype))
    for hook_name in ("update_entropy_tables", "update"):
        hook = getattr(codec, hook_name, None)
        if callable(hook):
            hook()  # derived tables (e.g. latent CDFs) follow the new entropy-model parameters
            break

# ---------------------------------------------------------------------------------------------- coding
def _as_sent(coding: UpdateCoding) -> UpdateCoding:
    """The coding as the BS will read it from the float32 header (the pmf must match to the last bit)."""
    f32 = [float(np.float32(x)) for x in (coding.t, coding.alpha, coding.sigma_slab)]
    return UpdateCoding(coding.prior, coding.num_bins, *f32)


@dataclass(frozen=True)
class EncodedUpdate:
    """A coded model update.

    Attributes:
        payload: the bitstream (header + range-coded symbols + crc).
        num_nonzero: number of parameters with q != 0.
        num_params: number of decoder-side parameters covered.
        estimated_bits: -sum log2 pmf(q), the ideal code length of the symbols (logged beside ``bits``).
    """

    payload: bytes
    num_nonzero: int
    num_params: int
    estimated_bits: float

    @property
    def bits(self) -> int:
        return 8 * len(self.payload)


def code_deltas(deltas: dict[str, torch.Tensor], base_state: dict[str, torch.Tensor],
                coding: UpdateCoding) -> tuple[EncodedUpdate, dict[str, torch.Tensor]]:
    """Quantize and range-code a decoder-side change without touching any codec.

    Args:
        deltas: ``theta' - theta`` per tensor, float32, same names and shapes as ``base_state``.
        base_state: the tensors the BS holds (enter the payload's layout hash and base crc).
        coding: quantizer and prior (rounded to what the float32 header carries).

    Returns:
        (the coded update, the bin indices q per tensor, int64).
    """
    coding = _as_sent(coding)
    qs = {k: quantize_indices(deltas[k], coding) for k in base_state}
    flat = torch.cat([q.reshape(-1) for q in qs.values()]) if qs else torch.zeros(0, dtype=torch.int64)
    symbols = (flat - coding.q_min).numpy().astype(np.int32)
    probabilities = pmf(coding)
    encoder = constriction.stream.queue.RangeEncoder()
    if symbols.size:
        encoder.encode(symbols, constriction.stream.model.Categorical(probabilities, perfect=False))
    words = encoder.get_compressed().astype("<u4")
    header = _HEADER.pack(_MAGIC, _VERSION, PRIORS.index(coding.prior), coding.num_bins - 1, coding.t,
                          coding.alpha, coding.sigma_slab, _layout_hash(base_state), _base_crc(base_state),
                          words.size)
    body = header + words.tobytes()
    payload = body + _CRC.pack(zlib.crc32(body))
    estimated = float(-np.log2(probabilities[symbols]).sum()) if symbols.size else 0.0
    return EncodedUpdate(payload, int((flat != 0).sum()), int(flat.numel()), estimated), qs


def encode_update(ue_codec: Any, base: Any, coding: UpdateCoding, *, commit: bool = True,
                  names: list[str] | None = None) -> EncodedUpdate:
    """Quantize and code the UE's decoder-side change relative to what the BS holds.

    Args:
        ue_codec: the fine-tuned codec at the UE.
        base: the BS's codec, or its ``decoder_state`` dict (what the UE knows the BS holds).
        coding: quantizer and prior.
        commit: also overwrite ``ue_codec``'s decoder-side tensors with ``base + t * q`` so that UE and BS
            hold identical tensors (always wanted, except when only measuring).
        names: code only these decoder-side tensors (the others must not have changed), e.g. the
            retranslation module around a frozen backbone; the BS must pass the same names.

    Returns:
        The coded update.
    """
    base_state = base if isinstance(base, dict) else decoder_state(base, names)
    if names is not None:
        base_state = {k: base_state[k] for k in names}
    new_state = decoder_state(ue_codec, list(base_state))
    if _layout_hash(new_state) != _layout_hash(base_state):
        raise DataError("the UE codec and the BS codec have different decoder parameter layouts")
    enc, qs = code_deltas({k: new_state[k] - base_state[k] for k in new_state}, base_state, coding)
    if commit:
        t = _as_sent(coding).t
        _set_tensors(ue_codec, {k: dequantize(base_state[k], qs[k], t) for k in qs})
    return enc


def read_header(payload: bytes) -> tuple[UpdateCoding, int, int, np.ndarray]:
    """Check a payload's integrity and split it.

    Returns:
        (coding, layout hash, base crc, range-coded words [num_words] uint32).

    Raises:
        DataError: truncated, wrong magic/version, or crc mismatch.
    """
    if len(payload) < _HEADER.size + _CRC.size:
        raise DataError(f"model update payload is truncated ({len(payload)} bytes)")
    body, (crc,) = payload[:-_CRC.size], _CRC.unpack(payload[-_CRC.size:])
    if zlib.crc32(body) != crc:
        raise DataError("model update payload is corrupt (crc mismatch)")
    magic, version, prior, bins_m1, t, alpha, sigma, layout, base_crc, num_words = _HEADER.unpack(
        body[:_HEADER.size])
    if magic != _MAGIC or version != _VERSION or prior >= len(PRIORS):
        raise DataError("model update payload has an unknown format")
    if len(body) != _HEADER.size + 4 * num_words:
        raise DataError("model update payload length does not match its header")
    try:
        coding = UpdateCoding(PRIORS[prior], bins_m1 + 1, t, alpha, sigma)
    except ConfigError as err:
        raise DataError(f"model update payload has invalid coding parameters ({err})") from err
    words = np.frombuffer(body[_HEADER.size:], dtype="<u4").astype(np.uint32)
    return coding, layout, base_crc, words


def decode_update(payload: bytes, base_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Decode a payload against the decoder-side tensors it was made for.

    Args:
        payload: bytes from ``encode_update``.
        base_state: the tensors the BS holds (``decoder_state(bs_codec)``).

    Returns:
        The new tensors ``base + t * q`` (float32), same names and shapes.
    """
    coding, layout, base_crc, words = read_header(payload)
    if layout != _layout_hash(base_state):
        raise DataError("model update payload was made for another decoder parameter layout")
    if base_crc != _base_crc(base_state):
        raise DataError("model update payload was made for another decoder version than the one held")
    num = sum(v.numel() for v in base_state.values())
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        model = constriction.stream.model.Categorical(pmf(coding), perfect=False)
        symbols = decoder.decode(model, num) if num else np.zeros(0, dtype=np.int32)
    except Exception as err:  # constriction raises plain exceptions on malformed streams
        raise DataError(f"model update payload could not be decoded ({err})") from err
    flat = torch.from_numpy(np.asarray(symbols, dtype=np.int64)) + coding.q_min
    out: dict[str, torch.Tensor] = {}
    offset = 0
    for name, value in base_state.items():
        q = flat[offset:offset + value.numel()].reshape(value.shape)
        offset += value.numel()
        out[name] = dequantize(value, q, coding.t)
    return out


def apply_update(bs_codec: Any, payload: bytes, names: list[str] | None = None) -> Any:
    """Return a copy of ``bs_codec`` whose decoder-side tensors are replaced by the decoded update.

    Args:
        bs_codec: the codec the BS holds (not modified).
        payload: bytes from ``encode_update``.
        names: the subset of tensors the update covers (as given to ``encode_update``).

    Raises:
        DataError: the payload is corrupt or was made for another layout or decoder version.
    """
    new_values = decode_update(payload, decoder_state(bs_codec, names))
    new_codec = copy.deepcopy(bs_codec)
    _set_tensors(new_codec, new_values)
    return new_codec


def copy_decoder(bs_codec: Any, ue_codec: Any) -> Any:
    """Genie delivery: a copy of ``bs_codec`` with exactly ``ue_codec``'s decoder-side tensors (no bits)."""
    new_codec = copy.deepcopy(bs_codec)
    _set_tensors(new_codec, decoder_state(ue_codec))
    return new_codec

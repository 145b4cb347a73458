"""A UE's reports encoded ahead in batches (its channel track is known), decoded ahead in batches at the BS.

Every stream depends on its own report only (``compress(h)[i] == compress(h[i:i+1])[0]``, tested for every
codec), so coding a batch of reports in one call gives the bytes that one call per report gives, at a
fraction of the per-call cost. Nothing here changes what is sent, or what the BS knows when:

    UE:  report k -> EncodeAhead.report(codec, k) -> chunk of reports k..k+n-1 encoded in one call with this
         codec (cached until the codec object or any of its tensors changes: a model switch starts a new chunk)
    BS:  delivered report j of a chunk -> decode_report(decoder, payload, (chunk, j)): if the payload is the
         chunk's own stream j, the chunk's streams j.. are decoded in one call with this decoder (memoised);
         any other payload (damaged on the way, no chunk) is decoded alone, as before

The BS uses a decoded report only when its packet has been delivered; decoding the chunk's later streams
early is work done ahead, not knowledge: they are the same pure function of bytes the UE will send.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FIRST_CHUNK = 8
"""Reports in the first chunk after a model switch: a switch soon after wastes little."""

MAX_CHUNK = 128
"""Largest chunk [reports]: each chunk after the first doubles, up to this (the per-call cost is amortised
long before; measured for learned-transform at 64 x 64: ~50 ms per call, ~1-3 ms per report)."""


_SUBMODULES: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
"""Per codec, its submodules, listed once: walking ``named_modules`` on every report cost ~3 ms of a rd-crnet
report (profiled); the tensors are read from each submodule's own dicts on every call."""


def codec_state(codec: Any) -> Hashable:
    """A key that changes whenever ``codec`` is replaced or any of its tensors is changed in place.

    In-place updates (optimizer steps, ``copy_``, ``load_state_dict``) bump a tensor's version counter, and a
    replaced tensor has a new id; the key holds the codec's id, so the caller must keep the codec alive. The
    codec's submodules are listed once per codec (a codec's structure is fixed once it is built: a fine-tune or
    a translation wrapper makes a new codec); its tensors are read afresh on every call.
    """
    modules = _SUBMODULES.get(codec)
    if modules is None:
        modules = _SUBMODULES[codec] = list(codec.modules())
    return (id(codec), tuple((id(t), t._version) for m in modules
                             for d in (m._parameters, m._buffers) for t in d.values() if t is not None))


@dataclass
class EncodedChunk:
    """Reports ``first..first+len(streams)-1`` of one UE, encoded in one call by one codec state.

    Attributes:
        first: report index of the first stream.
        streams: the reports' streams (what ``codec.compress`` gives for each alone).
        h_ue: [n, num_bs_ant, num_subcarriers] complex64, the UE's own reconstructions (what the BS decodes).
        codec: the codec that encoded them (kept alive so that its state key stays unique).
        state: ``codec_state(codec)`` when they were encoded.
        decoded: per decoder state, (first chunk position decoded, h_hat [m, A, S] complex64 from there).
    """

    first: int
    streams: list[bytes]
    h_ue: np.ndarray
    codec: Any
    state: Hashable
    decoded: dict[Hashable, tuple[int, np.ndarray, Any]] = field(default_factory=dict)


class EncodeAhead:
    """The encode-ahead cache of one UE.

    Args:
        h: [num_samples, num_bs_ant, num_subcarriers] complex64, what the UE measures along its track.
        report_samples: sample index of each report (report k measures ``h[report_samples[k]]``).
        first_chunk, max_chunk: chunk sizes [reports] (see ``FIRST_CHUNK``, ``MAX_CHUNK``).
    """

    def __init__(self, h: np.ndarray, report_samples: Sequence[int], first_chunk: int = FIRST_CHUNK,
                 max_chunk: int = MAX_CHUNK) -> None:
        if not 1 <= first_chunk <= max_chunk:
            raise ValueError(f"chunk sizes must satisfy 1 <= first_chunk <= max_chunk, got {first_chunk}, {max_chunk}")
        self.h = h
        self.report_samples = np.asarray(report_samples, dtype=np.int64)
        self.first_chunk = first_chunk
        self.max_chunk = max_chunk
        self.chunk: EncodedChunk | None = None
        self.num_calls = 0
        self._next_size = first_chunk

    def report(self, codec: Any, k: int) -> tuple[bytes, np.ndarray, tuple[EncodedChunk, int]]:
        """Report ``k`` encoded with ``codec`` as it is now.

        Returns:
            (stream, h_ue [num_bs_ant, num_subcarriers] complex64, (chunk, position in chunk)): the stream and
            reconstruction equal ``codec.compress_with_reconstruction(h[report_samples[k]][None])``.
        """
        state = codec_state(codec)
        chunk = self.chunk
        if chunk is None or chunk.state != state:
            self._next_size = self.first_chunk
            chunk = None
        elif not chunk.first <= k < chunk.first + len(chunk.streams):
            chunk = None
        if chunk is None:
            chunk = self._encode(codec, state, k)
        j = k - chunk.first
        return chunk.streams[j], chunk.h_ue[j], (chunk, j)

    def _encode(self, codec: Any, state: Hashable, k: int) -> EncodedChunk:
        if not 0 <= k < len(self.report_samples):
            raise IndexError(f"report {k} is outside the track's {len(self.report_samples)} reports")
        stop = min(k + self._next_size, len(self.report_samples))
        self._next_size = min(2 * self._next_size, self.max_chunk)
        streams, h_ue = codec.compress_with_reconstruction(self.h[self.report_samples[k:stop]])
        self.num_calls += 1
        self.chunk = EncodedChunk(first=k, streams=list(streams), h_ue=np.asarray(h_ue), codec=codec, state=state)
        return self.chunk


def decode_report(decoder: Any, payload: bytes, ahead: tuple[EncodedChunk, int] | None) -> np.ndarray:
    """The BS's decode of one delivered report: [num_bs_ant, num_subcarriers] complex64.

    Equal to ``decoder.decompress([payload])[0]``; when ``payload`` is stream ``j`` of ``ahead``'s chunk, the
    chunk's streams from ``j`` on are decoded in one call by this decoder state and kept for the next ones.
    """
    if ahead is None:
        return decoder.decompress([payload])[0]
    chunk, j = ahead
    if chunk.streams[j] != payload:  # not the stream the UE encoded (damaged on the way): decode what came
        return decoder.decompress([payload])[0]
    state = codec_state(decoder)
    start, h_hat, _ = chunk.decoded.get(state, (len(chunk.streams), np.empty(0), None))
    if j < start:
        h_hat = decoder.decompress(chunk.streams[j:])
        start = j
        chunk.decoded[state] = (start, h_hat, decoder)  # the decoder kept alive: its state key stays unique
    return h_hat[j - start]

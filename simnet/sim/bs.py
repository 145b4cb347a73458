"""The BS: decodes each report with the decoder version it was encoded for, keeps the latest
reconstruction per UE, installs model updates, and beamforms at every downlink slot.

    uplink.delivered["csi"]    -> receive_reports: decode, score, keep the latest CSI per UE
    uplink.delivered["update"] -> receive_updates: packet.update.apply -> check fingerprint -> install
                                  -> succeed packet.update.installed (the UE switches)
    every slot_period_s        -> slots: beamform with the latest CSI to the UEs served (all with CSI, or at
                                  most max_served round-robin), score at the time of use

Scores are pure functions of channels the BS already holds, so they are computed in batches: a report's and a
slot's row is logged when it happens (report rows with NaN scores), and the scores are filled in, many reports
or slots per numpy call, once enough are pending and at :meth:`BaseStation.finish`. Every batched score equals
the score of one sample alone (tests/sim); nothing the BS decides depends on a score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from simnet.codecs.fingerprint import decoder_fingerprint
from simnet.coding.crc import passes
from simnet.sim.batching import decode_report
from simnet.sim.beamforming import cosine_similarity, mrt_se, nmse, sgcs, zf_se
from simnet.sim.immediate import succeed_at_once
from simnet.sim.mobility import TrackSamples
from simnet.sim.packets import Packet

PENDING_CHANNELS = 2048
"""Reports, or slot x served-UE pairs, held before they are scored (their channels are references, not copies)."""

CHUNK_CHANNELS = 64
"""Channels per numpy call when scoring: ~2 MiB at 64 x 64, so a chunk's intermediates stay in cache (a chunk of
2,048 ran 1.5x slower than one call per slot, memory-bound)."""


@dataclass
class Reconstruction:
    """The BS's latest view of one UE's channel."""

    h_hat: np.ndarray
    t_measure_s: float
    version: int


class BaseStation:
    """Receives uplink packets and serves the UEs at downlink slots.

    Decoder versions: a UE's model versions only grow, and on a lossless uplink its reports arrive in the order
    they were encoded (CSI reports are first-come first-served among themselves under every discipline), so
    once a report of version ``v`` has arrived the decoders below ``v`` are dropped. On a lossy uplink
    (:mod:`simnet.sim.lossy_uplink`) a retransmitted report can arrive after a later one: a report measured
    before the CSI the BS holds is scored but does not replace it, and one encoded for a decoder already
    dropped is not decoded; both rows have ``superseded`` True (the key only appears on such rows).

    Args:
        env: the SimPy environment.
        reports: the store delivered CSI-report packets arrive in (``uplink.delivered["csi"]``).
        updates: the store delivered model-update packets arrive in (``uplink.delivered["update"]``).
        bs_codecs: per UE, the BS's copy of the UE's initial codec (version 0).
        samples: per UE, its sampled track; h: per UE, its true channels (to score at time of use).
        snr_db: mean receive SNR per BS antenna of every UE [dB]: for the spectral efficiency each UE's
            channel is scaled by its track-average gain (large-scale power control), so ``snr_db`` is the
            SNR a UE sees on average from one antenna, and MRT with perfect CSI adds the array gain.
        slot_period_s: downlink slot period [s].
        max_served: at most this many UEs per slot, round-robin: the UEs queue in index order, a slot serves the
            first ``max_served`` of them that hold CSI and moves those to the back; None serves every UE with CSI
            in every slot.
        log: where the BS appends one dict per received report and per slot and UE. A report whose CRC
            (``uplink.report_crc``) fails is lost: the previous CSI stays, its row has ``crc_ok`` False and NaN
            errors; with a CRC the rows also carry ``crc_bits`` (L, counted in ``latent_bits``).
    """

    def __init__(
        self,
        env: simpy.Environment,
        reports: simpy.Store,
        updates: simpy.Store,
        bs_codecs: list[Any],
        samples: list[TrackSamples],
        h: list[np.ndarray],
        snr_db: float,
        slot_period_s: float,
        log: dict[str, list[dict[str, Any]]],
        max_served: int | None = None,
    ) -> None:
        self.env = env
        self.decoders: list[dict[int, Any]] = [{0: c} for c in bs_codecs]
        self.samples = samples
        self.h = h
        self.snr_db = snr_db
        self.slot_period_s = slot_period_s
        self.log = log
        self.latest: list[Reconstruction | None] = [None] * len(bs_codecs)
        self._scale = [1.0 / np.sqrt(max(float(np.mean(np.abs(hu) ** 2)), 1e-30)) for hu in h]
        self._pending_reports: list[tuple[dict[str, Any], int, int, int, np.ndarray]] = []
        self._pending_slots: dict[int, list[tuple[float, list[int], list[Reconstruction], list[int]]]] = \
            defaultdict(list)
        self._num_pending_slot_ues = 0
        self.max_served = max_served
        self._queue = list(range(len(bs_codecs)))  # round-robin order of the UEs, next to serve first
        env.process(self.slots(env))
        env.process(self.receive_reports(env, reports))
        env.process(self.receive_updates(env, updates))

    def receive_reports(self, env: simpy.Environment, reports: simpy.Store) -> Generator[simpy.Event, Any, None]:
        while True:
            packet = yield reports.get()
            self._on_report(packet)

    def receive_updates(self, env: simpy.Environment, updates: simpy.Store) -> Generator[simpy.Event, Any, None]:
        while True:
            packet = yield updates.get()
            self._on_update(packet)

    def _on_report(self, packet: Packet) -> None:
        ue, v = packet.ue, packet.meta["version"]
        retired = v not in self.decoders[ue] and v < max(self.decoders[ue])
        if v not in self.decoders[ue] and not retired:
            raise AssertionError(f"UE {ue} encoded with model version {v} that the BS does not hold")
        for old in [old for old in self.decoders[ue] if old < v]:
            del self.decoders[ue][old]
        crc_ok = passes(packet.payload, packet.check)
        decoder_ok = crc_ok and not retired
        h_hat = decode_report(self.decoders[ue][v], packet.payload, packet.meta.get("ahead")) if decoder_ok else None
        latest = self.latest[ue]
        superseded = retired or (latest is not None and packet.meta["t_measure_s"] < latest.t_measure_s)
        i = packet.meta["sample"]
        row: dict[str, Any] = {
            "ue": ue, "report": packet.meta["report"], "sample": i, "version": v,
            "distance_m": float(self.samples[ue].s_m[i]), "t_measure_s": packet.meta["t_measure_s"],
            "t_enqueue_s": packet.t_enqueue_s, "t_deliver_s": packet.t_deliver_s, "latent_bits": packet.bits,
            "nmse_report": float("nan"), "nmse_at_delivery": float("nan"), "cosine_sim": float("nan"),
            "sgcs_report": float("nan"),
        }
        if packet.check.name is not None:  # columns only with a CRC, so tables without one stay as they were
            row.update(crc_bits=packet.check.num_bits, crc_ok=crc_ok)
        if superseded:
            row["superseded"] = True
        if h_hat is not None:
            if not superseded:
                self.latest[ue] = Reconstruction(h_hat=h_hat, t_measure_s=packet.meta["t_measure_s"], version=v)
            self._pending_reports.append((row, ue, i, int(self.samples[ue].index_at(self.env.now)), h_hat))
            if len(self._pending_reports) >= PENDING_CHANNELS:
                self._score_reports()
        self.log["reports"].append(row)

    def _score_reports(self) -> None:
        """Fill in the pending report rows' scores (against the channel measured and the one at delivery)."""
        pending, self._pending_reports = self._pending_reports, []
        for a in range(0, len(pending), CHUNK_CHANNELS):
            chunk = pending[a:a + CHUNK_CHANNELS]
            h_meas = np.stack([self.h[ue][i] for _, ue, i, _, _ in chunk])
            h_use = np.stack([self.h[ue][j] for _, ue, _, j, _ in chunk])
            h_hat = np.stack([p[4] for p in chunk])
            err, err_use = nmse(h_meas, h_hat), nmse(h_use, h_hat)
            cos, score = cosine_similarity(h_meas, h_hat), sgcs(h_meas, h_hat)
            for k, (row, *_) in enumerate(chunk):
                row.update(nmse_report=float(err[k]), nmse_at_delivery=float(err_use[k]), cosine_sim=float(cos[k]),
                           sgcs_report=float(score[k]))

    def finish(self) -> None:
        """Score what is still pending: call once the run is over, before the log is read."""
        self._score_reports()
        self._score_slots()

    def _on_update(self, packet: Packet) -> None:
        update = packet.update
        if update is None:
            raise AssertionError(f"UE {packet.ue}: an update packet without its apply step")
        current = self.decoders[packet.ue][max(self.decoders[packet.ue])]
        new = update.apply(current, packet.payload if packet.payload else None)  # a genie update has no bytes
        if decoder_fingerprint(new) != update.fingerprint:
            raise AssertionError(
                f"UE {packet.ue}: the decoder rebuilt from update {update.version} differs from the UE's")
        self.decoders[packet.ue][update.version] = new
        succeed_at_once(update.installed, update.version)

    def slots(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        t_end = max(float(s.t_s[-1]) for s in self.samples)
        while True:
            yield env.timeout(self.slot_period_s)
            if env.now > t_end + 1e-12:
                return
            self._score_slot(env.now)

    def _score_slot(self, t: float) -> None:
        active = [u for u, r in enumerate(self.latest)
                  if r is not None and self.samples[u].t_s[0] <= t <= self.samples[u].t_s[-1] + 1e-12]
        if not active:
            return
        if self.max_served is not None:  # round-robin: the first UEs in the queue that hold CSI, then to its back
            holding = set(active)
            chosen = [u for u in self._queue if u in holding][:self.max_served]
            served = set(chosen)
            self._queue = [u for u in self._queue if u not in served] + chosen
            active = sorted(chosen)
        recs = [self.latest[u] for u in active]
        index = [int(self.samples[u].index_at(t)) for u in active]
        self._pending_slots[len(active)].append((t, active, recs, index))  # type: ignore[arg-type]
        self._num_pending_slot_ues += len(active)
        if self._num_pending_slot_ues >= PENDING_CHANNELS:
            self._score_slots()

    def _score_slots(self) -> None:
        """Score the pending slots, in time order, batched over the slots that serve the same number of UEs (ZF
        couples the UEs a slot serves, so each slot is its own problem)."""
        groups, self._pending_slots, self._num_pending_slot_ues = self._pending_slots, defaultdict(list), 0
        scores: dict[tuple[float, int], tuple[float, ...]] = {}
        for num_served, group in groups.items():
            step = max(1, CHUNK_CHANNELS // num_served)
            for a in range(0, len(group), step):
                slots = group[a:a + step]
                h_true = np.stack([np.stack([self.h[u][i] for u, i in zip(active, index, strict=True)])
                                   for _, active, _, index in slots])  # [T, U, A, S]
                h_hat = np.stack([np.stack([r.h_hat for r in recs]) for _, _, recs, _ in slots])
                err, cos, score = nmse(h_true, h_hat), cosine_similarity(h_true, h_hat), sgcs(h_true, h_hat)
                scale = np.array([[self._scale[u] for u in active] for _, active, _, _ in slots])[..., None, None]
                se_mrt = mrt_se(h_true * scale, h_hat * scale, self.snr_db)
                se_zf = zf_se(h_true * scale, h_hat * scale, self.snr_db) if num_served > 1 else se_mrt
                for k, (t, active, _, _) in enumerate(slots):
                    for j, u in enumerate(active):
                        scores[(t, u)] = (err[k, j], cos[k, j], se_mrt[k, j], se_zf[k, j], score[k, j])
        for t, active, recs, index in sorted((s for slots in groups.values() for s in slots), key=lambda s: s[0]):
            for j, u in enumerate(active):
                r = recs[j]
                err_u, cos_u, mrt_u, zf_u, sgcs_u = scores[(t, u)]
                self.log["slots"].append({
                    "t_s": t, "ue": u, "age_s": t - r.t_measure_s, "version": r.version,
                    "distance_m": float(self.samples[u].s_m[index[j]]),
                    "nmse": float(err_u), "cosine_sim": float(cos_u), "se_mrt_bps_hz": float(mrt_u),
                    "se_zf_bps_hz": float(zf_u), "num_served": len(active), "sgcs": float(sgcs_u),
                })

"""The BS: decodes each report with the decoder version it was encoded for, keeps the latest
reconstruction per UE, installs model updates, and beamforms at every downlink slot.

    uplink.delivered["csi"]    -> receive_reports: decode, score, keep the latest CSI per UE
    uplink.delivered["update"] -> receive_updates: packet.update.apply -> check fingerprint -> install
                                  -> succeed packet.update.installed (the UE switches)
    every slot_period_s        -> slots: beamform with the latest CSI, score at the time of use
"""

from __future__ import annotations

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
            h_meas = self.h[ue][i]
            h_use = self.h[ue][int(self.samples[ue].index_at(self.env.now))]
            row.update(nmse_report=float(nmse(h_meas, h_hat)), nmse_at_delivery=float(nmse(h_use, h_hat)),
                       cosine_sim=float(cosine_similarity(h_meas, h_hat)), sgcs_report=float(sgcs(h_meas, h_hat)))
        self.log["reports"].append(row)

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
        h_true = np.stack([self.h[u][int(self.samples[u].index_at(t))] for u in active])
        recs = [self.latest[u] for u in active]
        h_hat = np.stack([r.h_hat for r in recs if r is not None])
        err = nmse(h_true, h_hat)
        cos = cosine_similarity(h_true, h_hat)
        score = sgcs(h_true, h_hat)
        scale = np.array([self._scale[u] for u in active])[:, None, None]
        se_mrt = mrt_se(h_true * scale, h_hat * scale, self.snr_db)
        se_zf = zf_se(h_true * scale, h_hat * scale, self.snr_db) if len(active) > 1 else se_mrt
        for j, u in enumerate(active):
            r = recs[j]
            assert r is not None
            self.log["slots"].append({
                "t_s": t, "ue": u, "age_s": t - r.t_measure_s, "version": r.version,
                "distance_m": float(self.samples[u].s_m[int(self.samples[u].index_at(t))]),
                "nmse": float(err[j]), "cosine_sim": float(cos[j]), "se_mrt_bps_hz": float(se_mrt[j]),
                "se_zf_bps_hz": float(se_zf[j]), "num_served": len(active), "sgcs": float(score[j]),
            })

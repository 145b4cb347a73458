"""3GPP TR 38.901 large-scale parameter tables, path loss and LOS probability (UMa, UMi street canyon)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from simnet.errors import ConfigError

SPEED_OF_LIGHT_MPS = 299_792_458.0
TABLE_FILE = Path(__file__).with_name("presets") / "tr38901.yaml"


@dataclass(frozen=True)
class LspTable:
    """One 38.901 scenario/state column (e.g. ``uma_nlos``), evaluated at one carrier frequency.

    Spreads are medians and log-standard-deviations: ``lgds_mu`` in log10(s), ``lgasd_mu`` and
    ``lgzsd_sigma`` in log10(deg). Distances in metres, powers in dB.
    """

    name: str
    pathloss: str
    los_probability: str
    lgds_mu: float
    lgds_sigma: float
    lgasd_mu: float
    lgasd_sigma: float
    zsd_floor: float
    zsd_intercept: float
    zsd_slope_per_km: float
    zsd_height_coeff: float
    lgzsd_sigma: float
    sf_sigma_db: float
    k_mu_db: float | None
    k_sigma_db: float | None
    r_tau: float
    num_clusters: int
    c_asd_deg: float
    c_ds_s: float
    zeta_db: float
    xpr_db: float
    corr_ds_m: float
    corr_asd_m: float
    corr_k_m: float
    corr_zsd_m: float
    corr_sf_m: float
    corr_los_m: float
    cross_corr: tuple[tuple[float, ...], ...]

    @property
    def median_ds_s(self) -> float:
        """Median RMS delay spread the table claims [s]."""
        return float(10.0**self.lgds_mu)

    @property
    def median_asd_deg(self) -> float:
        """Median azimuth spread of departure the table claims [deg]."""
        return float(10.0**self.lgasd_mu)

    def lgzsd_mu(self, d2d_m: float, h_bs_m: float, h_ut_m: float) -> float:
        """Mean of log10(ZSD / 1 deg) at a 2-D distance [m]."""
        val = (
            self.zsd_intercept
            + self.zsd_slope_per_km * d2d_m / 1e3
            + self.zsd_height_coeff * abs(h_bs_m - h_ut_m)
        )
        return float(max(self.zsd_floor, val))


@cache
def _raw_tables() -> dict[str, dict]:
    with TABLE_FILE.open() as fh:
        return dict(yaml.safe_load(fh))


def lsp_table(name: str, carrier_hz: float) -> LspTable:
    """The 38.901 LSP column ``name`` (``uma_los``, ``uma_nlos``, ``umi_los``, ``umi_nlos``) at carrier_hz."""
    raw = _raw_tables()
    if name not in raw:
        raise ConfigError(f"unknown 38.901 table {name!r}; known: {', '.join(sorted(raw))}")
    t = dict(raw[name])
    fc_ghz = max(carrier_hz / 1e9, float(t.pop("fc_min_ghz")))
    x = np.log10(float(t.pop("freq_offset_ghz")) + fc_ghz)
    for key in ("lgds_mu", "lgds_sigma", "lgasd_mu", "lgasd_sigma"):
        a, b = t[key]
        t[key] = float(a + b * x)
    if t["c_ds_s"] is None:  # UMa intra-cluster delay spread, 38.901 Table 7.5-6 note
        t["c_ds_s"] = max(0.25, 6.5622 - 3.4084 * np.log10(fc_ghz)) * 1e-9
    t["cross_corr"] = tuple(tuple(float(v) for v in row) for row in t["cross_corr"])
    return LspTable(name=name, **t)


def los_probability(kind: str, d2d_m: np.ndarray, h_ut_m: float = 1.5) -> np.ndarray:
    """38.901 Table 7.4.2-1 LOS probability for ``kind`` in {"uma", "umi"}; d2d_m: [...] metres."""
    d = np.maximum(np.asarray(d2d_m, dtype=np.float64), 1e-3)
    if kind == "umi":
        p = 18.0 / d + np.exp(-d / 36.0) * (1.0 - 18.0 / d)
    elif kind == "uma":
        c_h = 0.0 if h_ut_m <= 13.0 else ((h_ut_m - 13.0) / 10.0) ** 1.5
        p = (18.0 / d + np.exp(-d / 63.0) * (1.0 - 18.0 / d)) * (
            1.0 + c_h * 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0)
        )
    else:
        raise ConfigError(f"unknown LOS probability model {kind!r}; known: uma, umi")
    return np.where(d <= 18.0, 1.0, np.clip(p, 0.0, 1.0))


def pathloss_db(
    kind: str, d3d_m: np.ndarray, d2d_m: np.ndarray, h_bs_m: float, h_ut_m: float, carrier_hz: float
) -> np.ndarray:
    """38.901 Table 7.4.1-1 path loss [dB] for ``kind`` in {uma_los, uma_nlos, umi_los, umi_nlos}.

    Args:
        d3d_m, d2d_m: [...] 3-D and ground distances BS-UE [m].
        h_bs_m, h_ut_m: antenna heights [m].
        carrier_hz: carrier frequency [Hz].
    """
    fc = carrier_hz / 1e9
    d3 = np.maximum(np.asarray(d3d_m, dtype=np.float64), 1.0)
    d2 = np.maximum(np.asarray(d2d_m, dtype=np.float64), 1.0)
    h_e = 1.0
    d_bp = 4.0 * (h_bs_m - h_e) * (h_ut_m - h_e) * carrier_hz / SPEED_OF_LIGHT_MPS
    dh2 = (h_bs_m - h_ut_m) ** 2
    if kind.startswith("uma"):
        pl1 = 28.0 + 22.0 * np.log10(d3) + 20.0 * np.log10(fc)
        pl2 = 28.0 + 40.0 * np.log10(d3) + 20.0 * np.log10(fc) - 9.0 * np.log10(d_bp**2 + dh2)
        los = np.where(d2 <= d_bp, pl1, pl2)
        if kind == "uma_los":
            return los
        nlos = 13.54 + 39.08 * np.log10(d3) + 20.0 * np.log10(fc) - 0.6 * (h_ut_m - 1.5)
        return np.maximum(los, nlos)
    if kind.startswith("umi"):
        pl1 = 32.4 + 21.0 * np.log10(d3) + 20.0 * np.log10(fc)
        pl2 = 32.4 + 40.0 * np.log10(d3) + 20.0 * np.log10(fc) - 9.5 * np.log10(d_bp**2 + dh2)
        los = np.where(d2 <= d_bp, pl1, pl2)
        if kind == "umi_los":
            return los
        nlos = 35.3 * np.log10(d3) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (h_ut_m - 1.5)
        return np.maximum(los, nlos)
    raise ConfigError(f"unknown path-loss model {kind!r}; known: uma_los, uma_nlos, umi_los, umi_nlos")

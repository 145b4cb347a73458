"""Scatterer sites of a geometric scene: 38.901 clusters placed in 3-D, with visibility regions and LOS state.

The ground is tiled into square *sites* (visibility regions). Each site owns one cluster set drawn from the
38.901 LSP table of its LOS state, placed as physical single-bounce scatterers around the BS and the site
centre. A UE sees the cluster sets of the sites around it, cross-faded over ``transition_m`` at site borders,
so clusters are born and die as it moves; scatterer geometry makes delays, angles and phases evolve
continuously inside a site (spatial consistency). Site LSPs, LOS state and shadow fading come from spatially
correlated Gaussian fields with the 38.901 decorrelation distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from simnet.channels.fields import GaussianField, field_rng
from simnet.channels.lsp import SPEED_OF_LIGHT_MPS, LspTable, los_probability, lsp_table
from simnet.channels.stats import azimuth_spread_deg, rms_delay_spread_s

MIN_BS_SCATTERER_DISTANCE_M = 15.0
NUM_CALIBRATION_STEPS = 6


@dataclass(frozen=True)
class Site:
    """One visibility region and its cluster set.

    Attributes:
        los: LOS state of the region.
        k_factor: Ricean K-factor (linear), 0 in NLOS.
        scat_m: [num_rays, 3], float64, single-bounce scatterer positions [m].
        power_frac: [num_rays], float64, share of the site's received power per ray (sums to 1 / (1 + K)).
        xpol: [8, num_rays], float64, polarisation transfer matrices (quadriga-lib interleaved layout).
        ds_s, asd_deg: the RMS delay spread [s] and azimuth spread of departure [deg] the cluster set was
            calibrated to at the site centre.
    """

    los: bool
    k_factor: float
    scat_m: np.ndarray
    power_frac: np.ndarray
    xpol: np.ndarray
    ds_s: float
    asd_deg: float


def smooth_step(u: np.ndarray) -> np.ndarray:
    """Raised-cosine ramp on [0, 1]: s(u) + s(1 - u) = 1."""
    return np.sin(0.5 * np.pi * np.clip(u, 0.0, 1.0)) ** 2


def random_xpol(rng: np.random.Generator, num: int, xpr_db: float) -> np.ndarray:
    """Random-phase polarisation transfer matrices with cross-polarisation ratio ``xpr_db``: [8, num]."""
    phases = rng.uniform(-np.pi, np.pi, (4, num))
    amp = np.array([1.0, 10 ** (-xpr_db / 20), 10 ** (-xpr_db / 20), 1.0])[:, None]
    m = amp * np.exp(1j * phases)
    out = np.empty((8, num))
    out[0::2], out[1::2] = m.real, m.imag
    return out


class SiteGrid:
    """Lazily built, deterministic grid of scatterer sites around one BS.

    Args:
        scenario: ``"uma"`` or ``"umi"`` (picks the 38.901 tables).
        carrier_hz: carrier [Hz].
        bs_pos_m: [3] BS position [m].
        ue_height_m: UE height used to place clusters [m].
        origin_m: [2] corner of site (0, 0) [m].
        site_spacing_m, transition_m: site size and cross-fade width [m].
        num_rays_per_cluster: scatterers per cluster.
        seed: scene seed.
    """

    def __init__(
        self,
        scenario: str,
        carrier_hz: float,
        bs_pos_m: np.ndarray,
        ue_height_m: float,
        origin_m: np.ndarray,
        site_spacing_m: float,
        transition_m: float,
        num_rays_per_cluster: int,
        seed: int,
    ) -> None:
        self.scenario = scenario
        self.carrier_hz = carrier_hz
        self.bs_pos_m = np.asarray(bs_pos_m, dtype=np.float64)
        self.ue_height_m = ue_height_m
        self.origin_m = np.asarray(origin_m, dtype=np.float64)
        self.spacing_m = site_spacing_m
        self.transition_m = min(transition_m, site_spacing_m)
        self.num_rays = num_rays_per_cluster
        self.seed = seed
        self.tables = {
            los: lsp_table(f"{scenario}_{'los' if los else 'nlos'}", carrier_hz) for los in (True, False)
        }
        self._fields: dict[str, GaussianField] = {}
        self._sites: dict[tuple[int, int], Site] = {}

    def field(self, name: str, corr_m: float) -> GaussianField:
        if name not in self._fields:
            self._fields[name] = GaussianField(corr_m, field_rng(self.seed, "field", name))
        return self._fields[name]

    def shadow_fading_db(self, los: bool, xy_m: np.ndarray) -> np.ndarray:
        """Spatially correlated shadow fading [dB] of the LOS or NLOS state at positions [..., 2]."""
        t = self.tables[los]
        return t.sf_sigma_db * self.field(f"{t.name}/sf", t.corr_sf_m)(xy_m)

    def site_weights(self, pos_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Visibility weights of the up to four sites around each position.

        Args:
            pos_m: [N, 3] or [N, 2] positions [m].

        Returns:
            idx: [N, 4, 2], int64, site grid indices (i, j).
            w: [N, 4], float64, power weights, summing to 1 per position.
        """
        idx_axes, w_axes = [], []
        for ax in (0, 1):
            x = (pos_m[:, ax] - self.origin_m[ax]) / self.spacing_m
            cell = np.floor(x)
            frac = x - cell
            nb = np.where(frac < 0.5, cell - 1, cell + 1)
            dist = np.minimum(frac, 1.0 - frac) * self.spacing_m  # to the nearer border [m]
            w_own = smooth_step(0.5 + dist / self.transition_m)
            idx_axes.append(np.stack([cell, nb], axis=1).astype(np.int64))
            w_axes.append(np.stack([w_own, 1.0 - w_own], axis=1))
        ii = np.repeat(idx_axes[0], 2, axis=1)
        jj = np.tile(idx_axes[1], (1, 2))
        w = np.repeat(w_axes[0], 2, axis=1) * np.tile(w_axes[1], (1, 2))
        return np.stack([ii, jj], axis=2), w

    def site_centre(self, i: int, j: int) -> np.ndarray:
        """Centre of site (i, j) at UE height: [3] [m]."""
        xy = self.site_centres_xy(np.array([i, j]))
        return np.array([xy[0], xy[1], self.ue_height_m])

    def site_centres_xy(self, idx: np.ndarray) -> np.ndarray:
        """Ground positions of site centres: idx [..., 2] int (i, j) -> [..., 2] float64 [m]."""
        return self.origin_m + (np.asarray(idx, dtype=np.float64) + 0.5) * self.spacing_m

    def site(self, i: int, j: int) -> Site:
        """The (cached) cluster set of site (i, j); depends only on the seed and (i, j)."""
        key = (int(i), int(j))
        if key not in self._sites:
            self._sites[key] = self._build_site(*key)
        return self._sites[key]

    def site_los(self, i: int, j: int) -> bool:
        return bool(self.sites_los(np.array([i, j])))

    def sites_los(self, idx: np.ndarray) -> np.ndarray:
        """LOS state of sites: idx [..., 2] int (i, j) -> [...] bool (correlated field vs 38.901 LOS probability)."""
        xy = self.site_centres_xy(idx)
        d2d = np.linalg.norm(xy - self.bs_pos_m[:2], axis=-1)
        p_los = los_probability(self.tables[True].los_probability, d2d, self.ue_height_m)
        return np.asarray(ndtr(self.field("los_state", self.tables[True].corr_los_m)(xy)) < p_los)

    def _lsps(self, t: LspTable, centre: np.ndarray, d2d: float) -> tuple[float, float, float, float]:
        """Spatially and cross-correlated (DS [s], ASD [deg], K [linear], ZSD [deg]) at a site centre."""
        g = np.array(
            [
                float(self.field(f"{t.name}/{name}", corr)(centre[:2]))
                for name, corr in (("ds", t.corr_ds_m), ("asd", t.corr_asd_m), ("k", t.corr_k_m))
            ]
        )
        g = np.linalg.cholesky(np.array(t.cross_corr)) @ g
        ds = 10 ** (t.lgds_mu + t.lgds_sigma * g[0])
        asd = min(10 ** (t.lgasd_mu + t.lgasd_sigma * g[1]), 104.0)
        k_db = (
            (t.k_mu_db + t.k_sigma_db * g[2]) if t.k_mu_db is not None and t.k_sigma_db is not None else None
        )
        g_zsd = float(self.field(f"{t.name}/zsd", t.corr_zsd_m)(centre[:2]))
        zsd = min(10 ** (t.lgzsd_mu(d2d, self.bs_pos_m[2], self.ue_height_m) + t.lgzsd_sigma * g_zsd), 52.0)
        return ds, asd, (10 ** (k_db / 10) if k_db is not None else 0.0), zsd

    def _build_site(self, i: int, j: int) -> Site:
        rng = field_rng(self.seed, "site", i, j)
        los = self.site_los(i, j)
        t = self.tables[los]
        centre = self.site_centre(i, j)
        d_vec = centre - self.bs_pos_m
        d3d = float(np.linalg.norm(d_vec))
        ds, asd, k_lin, zsd = self._lsps(t, centre, float(np.linalg.norm(d_vec[:2])))
        n_c, n_r = t.num_clusters, self.num_rays
        # 38.901 steps 5-7: cluster delays, powers, angles (relative to the LOS direction).
        tau = np.sort(-t.r_tau * ds * np.log(rng.uniform(1e-6, 1.0, n_c)))
        tau -= tau[0]
        p = np.exp(-tau * (t.r_tau - 1.0) / (t.r_tau * ds)) * 10 ** (-rng.normal(0.0, t.zeta_db, n_c) / 10)
        p /= p.sum()
        sign = rng.choice([-1.0, 1.0], (2, n_c))
        az_c = sign[0] * 2 * (asd / 1.4) * np.sqrt(-np.log(p / p.max())) / 1.2 + rng.normal(0, asd / 7, n_c)
        el_c = sign[1] * zsd * -np.log(p / p.max()) / 1.1 + rng.normal(0, zsd / 7, n_c)
        # Rays: Laplacian angular offsets with the intra-cluster spreads, small intra-cluster delay spread.
        az = np.deg2rad(np.repeat(az_c, n_r) + rng.laplace(0.0, t.c_asd_deg / np.sqrt(2), n_c * n_r))
        el = np.deg2rad(np.repeat(el_c, n_r) + rng.laplace(0.0, 3 / 8 * zsd / np.sqrt(2), n_c * n_r))
        tau_r = np.repeat(tau, n_r) + t.c_ds_s * rng.exponential(1.0, n_c * n_r)
        power = np.repeat(p, n_r) / n_r / (1.0 + k_lin)
        az_los = np.arctan2(d_vec[1], d_vec[0])
        el_los = np.arcsin(d_vec[2] / d3d)
        # Calibrate delay and angle scales so the realised spreads at the site centre match the drawn LSPs.
        scale_tau, scale_az = 1.0, 1.0
        all_p = np.concatenate([[k_lin / (1 + k_lin)], power]) if los else power
        for _ in range(NUM_CALIBRATION_STEPS):
            scat = self._place(centre, az_los + scale_az * az, el_los + el, scale_tau * tau_r)
            ex_tau = (
                np.linalg.norm(scat - self.bs_pos_m, axis=1) + np.linalg.norm(scat - centre, axis=1) - d3d
            )
            ex_tau /= SPEED_OF_LIGHT_MPS
            aod = np.arctan2(scat[:, 1] - self.bs_pos_m[1], scat[:, 0] - self.bs_pos_m[0])
            all_tau = np.concatenate([[0.0], ex_tau]) if los else ex_tau
            all_az = np.concatenate([[az_los], aod]) if los else aod
            ds_now = rms_delay_spread_s(all_p, all_tau)
            asd_now = azimuth_spread_deg(all_p, np.rad2deg(all_az))
            scale_tau *= ds / max(ds_now, 1e-12)
            scale_az *= float(np.clip(asd / max(asd_now, 1e-6), 0.5, 2.0))
        return Site(
            los=los,
            k_factor=k_lin,
            scat_m=scat,
            power_frac=power,
            xpol=random_xpol(rng, n_c * n_r, t.xpr_db),
            ds_s=ds,
            asd_deg=asd,
        )

    def _place(
        self, ue_m: np.ndarray, az: np.ndarray, el: np.ndarray, excess_tau_s: np.ndarray
    ) -> np.ndarray:
        """Single-bounce scatterers seen from the BS in directions (az, el) [rad] with given excess delays.

        The scatterer lies on the ellipsoid |S - BS| + |S - UE| = d + c * tau; it is kept at least
        ``MIN_BS_SCATTERER_DISTANCE_M`` from the BS and above ground (mirrored at z = 0).

        Returns:
            [num_rays, 3] scatterer positions [m].
        """
        u = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)
        d_vec = ue_m - self.bs_pos_m
        d = np.linalg.norm(d_vec)
        length = d + SPEED_OF_LIGHT_MPS * excess_tau_s
        s = (length**2 - d**2) / (2.0 * np.maximum(length - u @ d_vec, 1e-9))
        scat = self.bs_pos_m + np.maximum(s, MIN_BS_SCATTERER_DISTANCE_M)[:, None] * u
        scat[:, 2] = np.abs(scat[:, 2])
        return scat

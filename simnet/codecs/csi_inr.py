"""``csi-inr``: the CSI matrix as an implicit neural function with per-report modulations (paper 002)."""

from __future__ import annotations

import hashlib
import math
from typing import Any, ClassVar

import constriction
import numpy as np
import torch
from torch import nn

from simnet.codecs.angular_delay import default_bs_array
from simnet.codecs.base import register_codec
from simnet.codecs.common import SMALL_LR_FINETUNE, SMALL_LR_UPDATE_CODING, RDCodec
from simnet.codecs.normalization import NORM_CODE_BITS, denormalize, norm_code, normalize
from simnet.errors import ConfigError

MAX_BIT_DEPTH = 14
MIN_BIT_DEPTH = 3
TRAIN_CHUNK = 64
"""Reports whose inner loops run as one batch in training and in :meth:`CSIINR.fit_entropy_model` (bounds the
activations kept for the backward pass)."""
ENCODE_CHUNK = 8
"""Reports per inner-loop batch when encoding: measured on one thread (64 o1_like reports), chunks of 1-8
reports take ~95 ms per report and chunks of 64 ~200 ms (the [64, 4096, 64] activations leave the caches)."""


class ModulatedSiren(nn.Module):
    """The shared base network f_theta of paper 002 (Fig. 3) and its latent-to-modulation map (eq. 15).

    ::

        x [P, 3] (array row, array column, subcarrier; index / count) ─[cos 2piBx, sin 2piBx]─> E_0 [P, 2d]
        M [B, n] ─linear─> (gamma_i, eta_i) i = 1..L                        (FiLM, eq. 15; shift: gamma = 1)
        F_i = sin(omega0 * (gamma_i * (W_i F_{i-1} + b_i) + eta_i))        [B, P, d]   (eq. 13-14)
        H_out = W_out F_L + b_out                                           [B, P, 2]   (eq. 16)

    The first linear layer sees only the coordinates, so ``W_1 E_0 + b_1`` is computed once for the batch.
    Weights follow SIREN's initialisation (uniform in +-sqrt(6 / fan_in) / omega0), drawn from ``gen``.
    """

    fourier: torch.Tensor
    coords: torch.Tensor

    def __init__(self, num_latent: int, hidden: int, num_layers: int, omega0: float, fourier: torch.Tensor,
                 modulation: str, coords: torch.Tensor, gen: torch.Generator) -> None:
        super().__init__()
        d = hidden
        self.omega0 = float(omega0)
        self.num_layers = num_layers
        self.film = modulation == "film"
        self.register_buffer("fourier", fourier, persistent=False)
        self.register_buffer("coords", coords, persistent=False)
        bound = math.sqrt(6.0 / (2 * d)) / omega0
        self.weights = nn.ParameterList([nn.Parameter((torch.rand(d, 2 * d, generator=gen) * 2 - 1) * bound)])
        bound = math.sqrt(6.0 / d) / omega0
        for _ in range(num_layers - 1):
            self.weights.append(nn.Parameter((torch.rand(d, d, generator=gen) * 2 - 1) * bound))
        self.biases = nn.Parameter(torch.zeros(num_layers, d))
        self.out_weight = nn.Parameter((torch.rand(2, d, generator=gen) * 2 - 1) * math.sqrt(6.0 / d))
        self.out_bias = nn.Parameter(torch.zeros(2))
        per_layer = 2 * d if self.film else d
        self.mod_weight = nn.Parameter((torch.rand(num_layers * per_layer, num_latent, generator=gen) * 2 - 1)
                                       / math.sqrt(num_latent))
        mod_bias = torch.zeros(num_layers, per_layer)
        if self.film:
            mod_bias[:, :d] = 1.0  # gamma starts at 1, eta at 0: M = 0 is the unmodulated base network
        self.mod_bias = nn.Parameter(mod_bias.reshape(-1))

    def forward(self, m: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        """m [B, n] float32 -> H_out [B, P, 2] float32 (real, imaginary at every coordinate, or at the
        coordinates ``points`` [P'] int64 only)."""
        d = self.biases.shape[1]
        phi = (m @ self.mod_weight.T + self.mod_bias).reshape(len(m), self.num_layers, -1, d)
        gamma = phi[:, :, 0] if self.film else None
        eta = phi[:, :, -1]
        coords = self.coords if points is None else self.coords[points]
        angle = 2 * math.pi * coords @ self.fourier.T
        e0 = torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)  # [P, 2d]
        x = (e0 @ self.weights[0].T + self.biases[0]).unsqueeze(0)
        for i in range(self.num_layers):
            if i:
                x = x @ self.weights[i].T + self.biases[i]
            pre = x * gamma[:, i, None, :] + eta[:, i, None, :] if gamma is not None else x + eta[:, i, None, :]
            x = torch.sin(self.omega0 * pre)
        return x @ self.out_weight.T + self.out_bias  # type: ignore[no-any-return]


class _ModulationLayout:
    """Coding plan of one report's n modulation symbols: one shared categorical over the 2**b bins."""

    def __init__(self, model: Any, size: int, fingerprint: bytes) -> None:
        self.model = model
        self.size = size
        self.tables = self  # RDCodec's layout cache compares ``layout.tables.fingerprint``
        self.fingerprint = fingerprint

    def plan(self, q: np.ndarray) -> list[list[tuple[Any, ...]]]:
        symbols = np.ascontiguousarray(q, dtype=np.int32)
        return [[(row, self.model)] for row in symbols]

    def decode(self, decoder: Any) -> np.ndarray:
        return np.asarray(decoder.decode(self.model, self.size), dtype=np.int64)


@register_codec("csi-inr")
class CSIINR(RDCodec):
    """CSI-INR (paper 002): a meta-learned SIREN base network; each report is the modulation vector M that a few
    gradient steps from M = 0 fit to it, uniformly quantized and range coded::

        UE:  h ──norm code──> h_n ──K inner steps on M (from 0, Meta-SGD step sizes)──> M [n]
               ──standardise (per-element loc, scale)──> z ──b-bit uniform bins on [-R, R]──> q in [0, 2^b)
               ──range coder (one categorical: training-set bin frequencies)──> bytes
        BS:  bytes ──> q ──bin centre──> z_hat ──> M_hat ──modulated SIREN at every (row, column, subcarrier)──> h_hat

    Stream: the 16-bit norm code, then the n symbols (RDCodec's layout, with the canonical re-encoding check).
    Bins at depth b are unions of 2**(14-b) bins at depth 14, so one table of depth-14 frequencies (counted on
    the training set by :meth:`fit_entropy_model`, +1 each) gives the pmf of every depth: one model serves
    every bit depth (paper 002's claim of flexibility), and ``bit_depth`` / ``num_inner_steps`` can be changed
    on a trained codec (:meth:`with_settings`).

    BS side (``decoder_modules``, what a model update codes): the base network and the modulation map. UE side:
    the per-element inner step sizes (Meta-SGD, as functa; the BS never runs the inner loop). The entropy
    model (loc, scale, frequencies) is fitted once at pretraining and held as buffers by both ends.

    Training: in train mode ``forward`` runs the inner loop and returns the reconstruction from M_K without
    quantization (the paper trains without it), so an outer loss on ``h_hat`` is the meta loss: second-order
    MAML (the graph through the inner gradients, as the paper) unless ``second_order=False`` (first-order: the
    inner gradients are constants; the Meta-SGD step sizes still get their gradient). The rate term is the likelihood of
    the quantized symbols under the fixed table: reported, never differentiated.

    Args:
        num_bs_ant, num_subcarriers: A, S.
        num_latent: n, modulation (codeword) dimension.
        hidden: d, width of the SIREN layers.
        num_layers: L_t, modulated SIREN layers.
        omega0: SIREN frequency omega_0.
        fourier_scale: sigma_b of the Gaussian Fourier features, as a fraction of each axis's Nyquist frequency
            (coordinates are index / count along the array rows, the array columns and the subcarriers).
        modulation: ``film`` (scale and shift, paper 002) or ``shift`` (shift only, functa).
        num_inner_steps: K, inner gradient steps at the UE (also in training).
        inner_lr: initial Meta-SGD step size of every element.
        bit_depth: b in [3, 14], bits per modulation element before entropy coding.
        clip_sigmas: R, the quantizer covers loc +- R * scale per element.
        second_order: train with second-order MAML (default) instead of first-order.
        train_points: in train mode, inner and outer losses use this many coordinates drawn per step (the
            same for the batch; 0 or at least A * S: all). Encoding and decoding always use every coordinate.
        bs_array: (rows, cols) of the BS planar array; None: square if A is a square, else 1 x A. The
            coordinates follow the array (paper 002's Lemma 3.1 with a ULA: the phase is linear in each index).
        seed: seed of the explicit generator of the weights and Fourier features.
    """

    decoder_modules = ("base",)
    latent_loc: torch.Tensor
    latent_scale: torch.Tensor
    bin_counts: torch.Tensor
    load_options: ClassVar[tuple[str, ...]] = ("bit_depth", "num_inner_steps")
    """Options a ``codec:`` block may set beside a checkpoint: the loaded codec applies them with
    :meth:`with_settings` (same weights, no retraining)."""
    finetune_defaults: ClassVar[dict[str, float]] = SMALL_LR_FINETUNE
    """Fine-tuning = meta-learning continued on the window: the pretraining Adam rate, no shift augmentation
    (a coordinate network is not shift-equivariant, and the inner loop adapts per report anyway)."""
    update_coding_defaults: ClassVar[dict[str, float]] = SMALL_LR_UPDATE_CODING
    """The rd-crnet family's update step, by analogy (the same lr, so the same reach of a fine-tune). Measured
    (``benchmarks/results/update_step_bit_alloc_csi_inr.json``, quadriga_track, 30 steps on 80 samples): no
    step makes the shipped base network's update pay, because even the uncoded fine-tune gains 0.02 dB (never
    -0.04 dB, genie -0.06); t 0.001 codes 114 kbit for it, t 0.05 rounds it to 2 weights (584 bits)."""

    def __init__(
        self,
        num_bs_ant: int = 64,
        num_subcarriers: int = 64,
        num_latent: int = 64,
        hidden: int = 64,
        num_layers: int = 4,
        omega0: float = 5.0,
        fourier_scale: float = 0.5,
        modulation: str = "film",
        num_inner_steps: int = 3,
        inner_lr: float = 0.1,
        bit_depth: int = 8,
        clip_sigmas: float = 4.0,
        second_order: bool = True,
        train_points: int = 512,
        bs_array: tuple[int, int] | list[int] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(num_bs_ant, num_subcarriers)
        for key, value, lo, hi in (("num_latent", num_latent, 1, 4096), ("hidden", hidden, 1, 1024),
                                   ("num_layers", num_layers, 1, 32), ("num_inner_steps", num_inner_steps, 0, 100),
                                   ("bit_depth", bit_depth, MIN_BIT_DEPTH, MAX_BIT_DEPTH),
                                   ("train_points", train_points, 0, 1 << 24)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"csi-inr {key} = {value!r}: must be an integer in [{lo}, {hi}]")
        for key, fvalue in (("omega0", omega0), ("fourier_scale", fourier_scale), ("inner_lr", inner_lr),
                            ("clip_sigmas", clip_sigmas)):
            if isinstance(fvalue, bool) or not isinstance(fvalue, int | float) or not 0 < fvalue < 1e6:
                raise ConfigError(f"csi-inr {key} = {fvalue!r}: must be a number in (0, 1e6)")
        if modulation not in ("film", "shift"):
            raise ConfigError(f"csi-inr modulation = {modulation!r}: must be 'film' or 'shift'")
        if not isinstance(second_order, bool):
            raise ConfigError(f"csi-inr second_order = {second_order!r}: must be true or false")
        self.config = {
            "num_bs_ant": num_bs_ant, "num_subcarriers": num_subcarriers, "num_latent": num_latent,
            "hidden": hidden, "num_layers": num_layers, "omega0": float(omega0),
            "fourier_scale": float(fourier_scale), "modulation": modulation, "num_inner_steps": num_inner_steps,
            "inner_lr": float(inner_lr), "bit_depth": bit_depth, "clip_sigmas": float(clip_sigmas),
            "second_order": second_order, "train_points": train_points, "seed": seed,
        }  # fmt: skip
        self.num_inner_steps = num_inner_steps
        self.bit_depth = bit_depth
        self.clip_sigmas = float(clip_sigmas)
        self.second_order = second_order
        self.train_points = train_points
        gen = torch.Generator().manual_seed(int(seed))
        rows, cols = default_bs_array(num_bs_ant) if bs_array is None else (int(bs_array[0]), int(bs_array[1]))
        if rows * cols != num_bs_ant or rows < 1:
            raise ConfigError(f"csi-inr bs_array = {bs_array!r}: rows x cols must equal num_bs_ant = {num_bs_ant}")
        self.config["bs_array"] = [rows, cols]
        axes = (rows, cols, num_subcarriers)
        grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float32) / n for n in axes], indexing="ij")
        coords = torch.stack(grids, dim=-1).reshape(-1, 3)  # row-major: antenna (row, col), then subcarrier
        # per axis, frequencies in cycles per unit: fourier_scale x the axis's Nyquist frequency (count / 2)
        nyquist = torch.tensor([n / 2 for n in axes], dtype=torch.float32)
        fourier = torch.randn(hidden, 3, generator=gen) * float(fourier_scale) * nyquist
        self.base = ModulatedSiren(num_latent, hidden, num_layers, omega0, fourier, modulation, coords, gen)
        self.inner_lr = nn.Parameter(torch.full((num_latent,), float(inner_lr)))
        self.register_buffer("latent_loc", torch.zeros(num_latent))
        self.register_buffer("latent_scale", torch.ones(num_latent))
        self.register_buffer("bin_counts", torch.zeros(2**MAX_BIT_DEPTH, dtype=torch.float64))
        self.latent_shape = (num_latent, 1)
        self._channel_index = np.zeros(num_latent, dtype=np.int64)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_layout_cache", None)  # constriction models do not pickle; rebuilt on first use
        return state

    # ------------------------------------------------------------------------------------------ settings
    def with_settings(self, bit_depth: int | None = None, num_inner_steps: int | None = None) -> CSIINR:
        """A copy of this trained codec at another bit depth and/or number of UE inner steps (same weights)."""
        import copy

        config = dict(self.config)
        config.update({k: v for k, v in (("bit_depth", bit_depth), ("num_inner_steps", num_inner_steps))
                       if v is not None})
        other = CSIINR(**config)
        other.load_state_dict(copy.deepcopy(self.state_dict()))
        other.train(self.training)
        for key in ("checkpoint_meta", "checkpoint_sha256", "lmbda"):
            if hasattr(self, key):
                setattr(other, key, copy.deepcopy(getattr(self, key)))
        return other

    def decoder_parameter_names(self) -> list[str]:
        """The base network and modulation map (the BS's holdings; the inner step sizes stay at the UE)."""
        return [n for n, _ in self.named_parameters() if n.startswith("base.")]

    # ---------------------------------------------------------------------------------------- inner loop
    def render(self, m: torch.Tensor) -> torch.Tensor:
        """f_theta(x, M) at every coordinate: m [B, n] -> h_n_hat [B, A, S] complex64."""
        out = self.base(m)
        return torch.complex(out[..., 0], out[..., 1]).reshape(-1, self.num_bs_ant, self.num_subcarriers)

    def fit_modulations(self, h_n: torch.Tensor, num_steps: int | None = None,
                        points: torch.Tensor | None = None) -> torch.Tensor:
        """The UE's encoder: K gradient steps on M from 0 (paper 002, Alg. 2), batched over reports.

        Each report's inner loss is its own MSE per real dimension (its NMSE); the batch loss is their sum, so
        report i's step depends on report i only. In train mode the result keeps the graph the outer loss
        needs (first- or second-order); otherwise it is detached.

        Args:
            h_n: [B, A, S] complex64, normalised channels.
            num_steps: K (None: ``self.num_inner_steps``).
            points: [P'] int64, fit these coordinates only (row-major over (antenna, subcarrier)); None: all.

        Returns:
            m: [B, n] float32.
        """
        steps = self.num_inner_steps if num_steps is None else num_steps
        meta = self.training and torch.is_grad_enabled()
        second = meta and self.second_order
        target = torch.view_as_real(h_n).reshape(len(h_n), -1, 2).detach()
        if points is not None:
            target = target[:, points]
        lr = self.inner_lr if meta else self.inner_lr.detach()
        m = torch.zeros(len(h_n), lr.shape[0], dtype=torch.float32)
        with torch.enable_grad():
            for _ in range(steps):
                if not m.requires_grad:
                    m = m.requires_grad_(True)
                # .forward, not __call__: module hooks (torch's FLOP counter tracks modules with backward
                # hooks) do not support the autograd.grad below
                err = (self.base.forward(m, points) - target).square().flatten(1).mean(1).sum()
                (grad,) = torch.autograd.grad(err, m, create_graph=second)
                m = m - lr * (grad if second else grad.detach())
                if not meta:
                    m = m.detach()
        return m if meta else m.detach()

    def analysis(self, h_n: torch.Tensor, chunk: int = TRAIN_CHUNK) -> torch.Tensor:
        """h_n [B, A, S] complex64 -> M [B, n, 1] float32 (inner loops in chunks of ``chunk`` reports)."""
        parts = [self.fit_modulations(h_n[i:i + chunk]) for i in range(0, len(h_n), chunk)]
        m = torch.cat(parts) if parts else torch.zeros(0, self.inner_lr.shape[0])
        return m.unsqueeze(-1)

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        """M_hat [B, n, 1] (or [B, n]) -> h_n_hat [B, A, S] complex64."""
        return self.render(y_hat.reshape(len(y_hat), -1))

    # ----------------------------------------------------------------------------------------- quantizer
    def _bin_width(self) -> float:
        return 2.0 * self.clip_sigmas / 2**self.bit_depth

    def symbols_of(self, m: torch.Tensor) -> torch.Tensor:
        """Uniform b-bit quantizer: M [B, n] float32 -> q [B, n] int64 in [0, 2**b)."""
        z = (m.detach().reshape(len(m), -1) - self.latent_loc) / self.latent_scale
        q = torch.floor((z.to(torch.float64) + self.clip_sigmas) / self._bin_width())
        return q.clamp(0, 2**self.bit_depth - 1).to(torch.int64)

    def modulations_of(self, q: torch.Tensor) -> torch.Tensor:
        """Bin centres: q [B, n] int64 -> M_hat [B, n] float32."""
        z = (q.to(torch.float64) + 0.5) * self._bin_width() - self.clip_sigmas
        return (z.to(torch.float32) * self.latent_scale + self.latent_loc).to(torch.float32)

    def symbol_pmf(self, bit_depth: int | None = None) -> np.ndarray:
        """Probabilities of the 2**b bins (training-set frequencies + 1 at depth 14, merged): [2**b] float64."""
        b = self.bit_depth if bit_depth is None else bit_depth
        counts = self.bin_counts.detach().numpy().reshape(2**b, -1).sum(axis=1) + 2.0 ** (MAX_BIT_DEPTH - b)
        return np.asarray(counts / counts.sum(), dtype=np.float64)

    def _layout(self) -> Any:
        digest = hashlib.blake2b(self.bin_counts.detach().numpy().tobytes(), digest_size=16)
        digest.update(bytes([self.bit_depth]))
        fingerprint = digest.digest()
        cached = getattr(self, "_layout_cache", None)
        if cached is None or cached.fingerprint != fingerprint:
            model = constriction.stream.model.Categorical(self.symbol_pmf(), perfect=False)
            cached = _ModulationLayout(model, self.inner_lr.shape[0], fingerprint)
            self.__dict__["_layout_cache"] = cached
        return cached

    # ---------------------------------------------------------------------------------------- interface
    def forward(self, h: np.ndarray | torch.Tensor, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Inner loop, then reconstruction: from M_K in train mode (the meta loss), from the dequantized
        symbols in eval mode (what the BS decodes), except before :meth:`fit_entropy_model` has fitted the
        bins (pretraining validates the meta loss unquantized, as paper 002 trains).

        In train mode with ``train_points`` the inner loop and the reconstruction cover the coordinates
        ``out["points"]`` only (drawn from ``generator``), and ``h_n``/``h_n_hat``/``h_hat`` are [B, P'].

        Returns:
            {"h_hat", "h_n", "h_n_hat": [B, A, S] complex64, "likelihoods": {"y": [B, n] float32, the pmf of
            each quantized symbol (no gradient)}, "norm_code": [B] int64, "m": [B, n] float32, "points":
            [P'] int64 or None}.
        """
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        h_n = normalize(h_t, code)
        points = None
        num_points = self.num_bs_ant * self.num_subcarriers
        if self.training and 0 < self.train_points < num_points:
            points = torch.randperm(num_points, generator=generator)[:self.train_points]
        if points is None:
            m = self.analysis(h_n).squeeze(-1)
        else:
            m = torch.cat([self.fit_modulations(h_n[i:i + TRAIN_CHUNK], points=points)
                           for i in range(0, len(h_n), TRAIN_CHUNK)])
        q = self.symbols_of(m)
        fitted = bool(self.bin_counts.sum() > 0)  # before fit_entropy_model the bins are not the modulations'
        m_used = m if self.training or not fitted else self.modulations_of(q)
        likelihoods = torch.from_numpy(self.symbol_pmf()[q.numpy()]).to(torch.float32)
        if points is None:
            h_n_hat = self.synthesis(m_used)
            h_hat = denormalize(h_n_hat, code)
        else:
            out = self.base(m_used, points)
            h_n_hat = torch.complex(out[..., 0], out[..., 1])
            h_n = h_n.reshape(len(h_n), -1)[:, points]
            h_hat = denormalize(h_n_hat.unsqueeze(-1), code).squeeze(-1)
        return {"h_hat": h_hat, "h_n": h_n, "h_n_hat": h_n_hat, "likelihoods": {"y": likelihoods},
                "norm_code": code, "m": m, "points": points}

    def distortion(self, h: torch.Tensor, out: dict[str, Any]) -> torch.Tensor:
        """Mean per-report NMSE (linear) of ``out``: over every coordinate, or over ``out["points"]``."""
        err = (out["h_n_hat"] - out["h_n"]).abs().square().flatten(1).mean(1)
        return err.mean() / 2  # h_n has unit mean square per real dimension: 2 per complex entry

    def rd_loss(self, out: dict[str, Any], lmbda: float) -> dict[str, torch.Tensor]:
        """Pretraining loss: ``lambda * MSE`` (the meta loss; the rate is reported as ``bpd``, not trained)."""
        mse = self.distortion(out["h_n"], out)
        bpd = (-torch.log2(out["likelihoods"]["y"])).sum(1).mean() / self.num_real_dims
        return {"loss": lmbda * mse, "mse": mse, "bpd": bpd}

    @torch.no_grad()
    def quantize(self, h: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """UE side: h [B, A, S] -> (norm codes [B] int64, symbols q [B, n] int64)."""
        h_t = self._as_tensor(h)
        code = norm_code(h_t)
        was_training = self.training
        self.eval()
        try:
            m = self.analysis(normalize(h_t, code), ENCODE_CHUNK).squeeze(-1)
        finally:
            self.train(was_training)
        return code.numpy(), self.symbols_of(m).numpy()

    @torch.no_grad()
    def dequantize(self, codes: np.ndarray, q: np.ndarray) -> np.ndarray:
        """BS side: (codes [B], q [B, n]) -> h_hat [B, A, S] complex64."""
        q_t = torch.as_tensor(q, dtype=torch.int64).reshape(len(q), -1)
        h_n_hat = self.synthesis(self.modulations_of(q_t))
        return denormalize(h_n_hat, torch.as_tensor(codes, dtype=torch.int64)).numpy()

    @torch.no_grad()
    def estimate_bits(self, h: np.ndarray | torch.Tensor) -> np.ndarray:
        """Ideal code length of each report under the bin frequencies, plus the norm code: [B] float64."""
        _, q = self.quantize(h)
        return -np.log2(self.symbol_pmf()[q]).sum(axis=1) + NORM_CODE_BITS

    def update_entropy_tables(self) -> None:
        """Nothing derived from parameters: the bin frequencies are buffers fitted by :meth:`fit_entropy_model`."""
        self.__dict__.pop("_layout_cache", None)

    @torch.no_grad()
    def fit_entropy_model(self, h: np.ndarray) -> dict[str, float]:
        """Fit the per-element loc/scale and count the depth-14 bin frequencies on training channels.

        Args:
            h: [N, A, S] complex64 training channels.

        Returns:
            {"clipped_fraction": share of elements outside loc +- R scale}.
        """
        was_training = self.training
        self.eval()
        h_t = self._as_tensor(h)
        m = self.analysis(normalize(h_t, norm_code(h_t))).squeeze(-1).to(torch.float64)
        self.latent_loc.copy_(m.mean(0).to(torch.float32))
        self.latent_scale.copy_(m.std(0).clamp_min(1e-6).to(torch.float32))
        depth, self.bit_depth = self.bit_depth, MAX_BIT_DEPTH
        q = self.symbols_of(m.to(torch.float32))
        self.bit_depth = depth
        self.bin_counts.copy_(torch.bincount(q.flatten(), minlength=2**MAX_BIT_DEPTH).to(torch.float64))
        z = (m - self.latent_loc.to(torch.float64)) / self.latent_scale.to(torch.float64)
        self.train(was_training)
        self.__dict__.pop("_layout_cache", None)
        return {"clipped_fraction": float((z.abs() > self.clip_sigmas).to(torch.float64).mean())}

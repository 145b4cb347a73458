"""The fixed angular-delay transform of the codecs: 2-D DFT over the planar array, IDFT over the subcarriers."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from simnet.errors import ConfigError


def unitary_dft(n: int) -> np.ndarray:
    """[n, n] complex128: the unitary DFT matrix."""
    k = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(k, k) / n) / np.sqrt(n)


class ComplexLinear2D(nn.Module):
    """Fixed x -> L @ x @ R on complex [B, M, N] tensors, done as real matmuls (so FLOP counters see it)."""

    left_re: torch.Tensor
    left_im: torch.Tensor
    right_re: torch.Tensor
    right_im: torch.Tensor

    def __init__(self, left: np.ndarray, right: np.ndarray) -> None:
        super().__init__()
        for name, mat in (("left", left), ("right", right)):
            self.register_buffer(f"{name}_re", torch.tensor(mat.real, dtype=torch.float32), persistent=False)
            self.register_buffer(f"{name}_im", torch.tensor(mat.imag, dtype=torch.float32), persistent=False)

    def forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a_re = re @ self.right_re - im @ self.right_im
        a_im = re @ self.right_im + im @ self.right_re
        # left product as one 2-D matmul over the flattened batch (a broadcast bmm is ~10x slower on CPU)
        shape = a_re.shape
        a_re_t = a_re.transpose(1, 2).reshape(-1, shape[1])
        a_im_t = a_im.transpose(1, 2).reshape(-1, shape[1])
        out_re = a_re_t @ self.left_re.T - a_im_t @ self.left_im.T
        out_im = a_im_t @ self.left_re.T + a_re_t @ self.left_im.T
        back = (shape[0], shape[2], -1)
        return out_re.reshape(back).transpose(1, 2), out_im.reshape(back).transpose(1, 2)


def angular_delay_pair(
    num_bs_ant: int,
    num_subcarriers: int,
    num_delay_taps: int,
    num_precursor_taps: int,
    bs_array: tuple[int, int] | list[int],
    name: str,
) -> tuple[ComplexLinear2D, ComplexLinear2D]:
    """The forward and inverse truncated angular-delay transforms of a codec.

    Forward: h [B, A, S] -> g [B, A, T], the unitary 2-D DFT over the ``bs_array`` (rows, cols) and the
    unitary IDFT over the subcarriers, of which only T delay taps are kept (``num_precursor_taps`` of them
    wrapped-around negative delays, where the sinc leakage of the first path lands). Inverse: the adjoint
    (the dropped taps are zero).

    Raises:
        ConfigError: taps or array shape inconsistent with A and S (``name`` is the codec's, for the message).
    """
    if not 1 <= num_delay_taps <= num_subcarriers:
        raise ConfigError(f"{name} num_delay_taps = {num_delay_taps}: must be in [1, num_subcarriers]")
    if not 0 <= num_precursor_taps < num_delay_taps:
        raise ConfigError(f"{name} num_precursor_taps = {num_precursor_taps}: must be in [0, taps - 1]")
    if len(bs_array) != 2 or int(np.prod(bs_array)) != num_bs_ant:
        raise ConfigError(f"{name} bs_array = {bs_array}: rows * cols must be num_bs_ant ({num_bs_ant})")
    taps = (np.arange(num_delay_taps) - num_precursor_taps) % num_subcarriers
    delay = np.conj(unitary_dft(num_subcarriers))[:, taps]  # [S, T]: h(s) -> g(tau), tau = taps
    angle = np.kron(unitary_dft(int(bs_array[0])), unitary_dft(int(bs_array[1])))
    return ComplexLinear2D(angle, delay), ComplexLinear2D(np.conj(angle).T, np.conj(delay).T)


def default_bs_array(num_bs_ant: int) -> tuple[int, int]:
    """A square array if A is a perfect square, else a 1-D array of A elements."""
    side = int(round(np.sqrt(num_bs_ant)))
    return (side, side) if side * side == num_bs_ant else (1, num_bs_ant)

"""Channel sources behind one interface: trajectory samples in, H [N, num_bs_ant, num_subcarriers] out."""

from __future__ import annotations

from typing import Any

from simnet.channels import deepmimo as _deepmimo  # noqa: F401  (registers "deepmimo"; deepmimo imported lazily)
from simnet.channels import geometric as _geometric  # noqa: F401  (registers "geometric")
from simnet.channels import sionna_rt as _sionna_rt  # noqa: F401  (registers "sionna_rt"; sionna imported lazily)
from simnet.channels.base import CHANNEL_SOURCES, ChannelMeta, ChannelSource, register_source
from simnet.channels.cache import cached_channels, channel_cache_key
from simnet.channels.deepmimo import DeepMIMOSource
from simnet.channels.export import export_deepmimo, far_field_channels
from simnet.channels.geometric import GeometricSource
from simnet.channels.geometric_config import preset_names
from simnet.channels.stats import (
    azimuth_spread_deg,
    correlation,
    correlation_matrix_distance,
    k_factor_db,
    rms_delay_spread_from_h,
    rms_delay_spread_s,
    spatial_covariance,
)
from simnet.channels.transforms import from_angular_delay, to_angular_delay


def make_source(type: str, **kwargs: Any) -> ChannelSource:  # noqa: A002  (matches the YAML key)
    """Build a registered channel source from a scenario's ``channel:`` block (``type`` plus keyword args).

    Raises:
        ConfigError: unknown type (with a did-you-mean) or bad keyword arguments.
    """
    return CHANNEL_SOURCES.make(type, **kwargs)


__all__ = [
    "CHANNEL_SOURCES",
    "ChannelMeta",
    "ChannelSource",
    "DeepMIMOSource",
    "GeometricSource",
    "azimuth_spread_deg",
    "cached_channels",
    "channel_cache_key",
    "correlation",
    "correlation_matrix_distance",
    "export_deepmimo",
    "far_field_channels",
    "from_angular_delay",
    "k_factor_db",
    "make_source",
    "preset_names",
    "register_source",
    "rms_delay_spread_from_h",
    "rms_delay_spread_s",
    "spatial_covariance",
    "to_angular_delay",
]

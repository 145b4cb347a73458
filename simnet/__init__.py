"""simnet: a discrete-event simulator of neural CSI feedback in FDD massive MIMO."""

from __future__ import annotations

__version__ = "0.1.0"

from simnet.errors import SimnetError

__all__ = ["SimnetError", "__version__"]

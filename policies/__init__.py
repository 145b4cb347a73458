"""Fine-tuning policies, one small module each, registered by name."""

from __future__ import annotations

from policies import drift as _drift  # noqa: F401  (registers "drift")
from policies import encoder_only as _encoder_only  # noqa: F401  (registers "encoder-only")
from policies import genie as _genie  # noqa: F401  (registers "genie")
from policies import never as _never  # noqa: F401  (registers "never")
from policies import periodic as _periodic  # noqa: F401  (registers "periodic")
from policies import translation as _translation  # noqa: F401  (registers "translation")
from policies.base import POLICIES, Delivery, Observation, Policy, UpdateResult, register_policy

__all__ = ["POLICIES", "Delivery", "Observation", "Policy", "UpdateResult", "register_policy"]

"""Fine-tuning policies, composed of when / how / delivery parts, registered by name; named presets."""

from __future__ import annotations

from policies import drift as _drift  # noqa: F401  (registers "drift")
from policies import encoder_only as _encoder_only  # noqa: F401  (registers "encoder-only")
from policies import genie as _genie  # noqa: F401  (registers "genie")
from policies import never as _never  # noqa: F401  (registers "never")
from policies import periodic as _periodic  # noqa: F401  (registers "periodic")
from policies import translation as _translation  # noqa: F401  (registers "translation")
from policies.base import POLICIES, Delivery, Observation, Policy, UpdateResult, build_config, register_policy
from policies.presets import PRESETS, expand_preset

__all__ = ["POLICIES", "PRESETS", "Delivery", "Observation", "Policy", "UpdateResult", "build_config",
           "expand_preset", "register_policy"]

"""Fine-tuning policies, one small module each, registered by name."""

from __future__ import annotations

from policies import never as _never  # noqa: F401  (registers "never")
from policies.base import POLICIES, Delivery, Observation, Policy, UpdateResult, register_policy

__all__ = ["POLICIES", "Delivery", "Observation", "Policy", "UpdateResult", "register_policy"]

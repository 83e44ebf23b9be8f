"""Typed schemas for the Hydra config tree and the resolvers it uses."""

from deepguard.config.faces import FaceSettings
from deepguard.config.resolvers import register_resolvers
from deepguard.config.schema import TrainConfig, TrainerConfig, register_schemas

__all__ = ["FaceSettings", "TrainConfig", "TrainerConfig", "register_resolvers", "register_schemas"]

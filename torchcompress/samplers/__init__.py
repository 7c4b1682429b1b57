"""Samplers: ``DistributedSampler`` classes (they shard by rank), and coreset selection.

They take arrays (labels, scores, weights), never a model or a loader.
"""

from ._base import EpochSampler
from .bins import BinSampler
from .class_ratio import ClassRatioSampler
from .random_subset import RandomSubsetSampler
from .subset import SubsetSampler, coreset
from .weighted import WeightedSubsetSampler

__all__ = ["BinSampler", "ClassRatioSampler", "EpochSampler", "RandomSubsetSampler",
           "SubsetSampler", "WeightedSubsetSampler", "coreset"]

"""Training dynamics: a per-sample recorder and the scores computed from it."""

from .recorder import IndexedDataset, TrainingDynamics, with_indices
from .scores import aum_scores, el2n_scores, entropy_scores, eva_scores, forgetting_scores

__all__ = ["IndexedDataset", "TrainingDynamics", "aum_scores", "el2n_scores", "entropy_scores",
           "eva_scores", "forgetting_scores", "with_indices"]

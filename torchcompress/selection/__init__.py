"""Sample selection: DQ's GraphCut bins and expected-error-reduction active learning."""

from .active import LinearHead, expected_error_reduction
from .graphcut import graphcut_bins, graphcut_gain

__all__ = ["LinearHead", "expected_error_reduction", "graphcut_bins", "graphcut_gain"]

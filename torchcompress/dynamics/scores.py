"""Per-sample importance scores from a :class:`TrainingDynamics` recorder.

All return (N,) float64 numpy arrays, higher = more important unless noted;
NaN means "never observed where the score looks" (``coreset`` ranks NaN last).
Samples unseen in some epochs of a window are scored on the epochs where they
were seen (NaN entries are skipped, never treated as 0).
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence, Union

import numpy as np

from .._validation import check_choice, check_range
from .recorder import TrainingDynamics

Runs = Union[TrainingDynamics, Sequence[TrainingDynamics]]

__all__ = ["aum_scores", "el2n_scores", "entropy_scores", "eva_scores", "forgetting_scores"]


def _nanmean(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row mean over non-NaN entries, their count); the mean is 0 where the count is 0."""
    k = (~np.isnan(a)).sum(axis=1)
    return np.nansum(a, axis=1) / np.maximum(k, 1), k


def _nanvar(a: np.ndarray, ddof: int) -> np.ndarray:
    """Row variance over non-NaN entries; NaN where fewer than ``ddof + 1`` are present."""
    mean, k = _nanmean(a)
    ss = np.nansum((a - mean[:, None]) ** 2, axis=1)
    return np.where(k > ddof, ss / np.maximum(k - ddof, 1), np.nan)


def _warn_partial(dyn: TrainingDynamics, windows) -> None:
    """A warning for each window of ``windows`` (indices) that the recorder saw only part of:
    its score then rests on fewer epochs than the window names (training stopped early)."""
    done = set(dyn.epochs_recorded)
    for k in windows:
        a, b = dyn.windows[k]
        have = sum(e in done for e in range(a, b))
        if 0 < have < b - a:
            warnings.warn(f"window {dyn.windows[k]} was recorded in {have} of its {b - a} epochs "
                          f"(recorded: {dyn.describe_epochs()}); its scores rest on those alone",
                          UserWarning, stacklevel=6)  # the caller of eva_scores etc.


def _over_runs(fn: Callable[[TrainingDynamics], np.ndarray], runs: Runs, what: str) -> np.ndarray:
    """``fn`` of one recorder, or summed over independent runs as EVA's Algorithm 1 accumulates
    (NaN only where every run is NaN); all-NaN is a ValueError naming windows and epochs."""
    many = isinstance(runs, (list, tuple))
    recorders = list(runs) if many else [runs]
    if not recorders or not all(isinstance(d, TrainingDynamics) for d in recorders):
        raise TypeError(f"{what} takes a TrainingDynamics or a list of them (one per run), but got "
                        f"{type(runs).__name__}")
    if len({d.num_samples for d in recorders}) > 1:
        raise ValueError(f"the runs recorded different dataset sizes "
                         f"{[d.num_samples for d in recorders]}; merge runs over one dataset")
    per_run = np.stack(list(map(fn, recorders)))  # no frame of its own: warnings' stacklevel
    out = per_run[0] if not many else np.where(np.isnan(per_run).all(axis=0), np.nan,
                                               np.nansum(per_run, axis=0))
    if np.isnan(out).all():
        d = recorders[0]
        raise ValueError(f"every {what} is NaN: the recorder's windows are {d.windows}, but it "
                         f"recorded epochs {d.describe_epochs()}; record through the windows' "
                         "epochs, or pass windows= that lie inside your training (e.g. "
                         "[(1, 4), (7, 10)] for 10 epochs)")
    return out


def eva_scores(dyn: Runs, normalize: str | None = None, weight: float = 0.5) -> np.ndarray:
    """EVA: variance of each sample's error norm inside each window.

    Args:
        dyn: the recorder (its windows are EVA's early and late windows), or a
            list of recorders from independent runs, whose scores are summed
            (EVA's Algorithm 1).
        normalize: ``None`` is the paper (Eq. 4-6): the sum of the window
            variances, each the *population* variance (1/K). ``"l1"`` follows
            the description of the official code: each window's variances are
            divided by their L1 norm over the dataset, then combined as
            ``weight * early + (1 - weight) * late``; there the variances are
            *sample* variances (1/(K-1)), torch.var's default. (We could not
            check the official code offline; the ddof is our choice.)
        weight: the early window's share for ``"l1"``; needs exactly 2 windows.
    """
    check_choice("normalize", normalize, (None, "l1"))
    return _over_runs(lambda d: _eva_one(d, normalize, weight), dyn, "EVA score")


def _eva_one(dyn: TrainingDynamics, normalize, weight) -> np.ndarray:
    dyn.finalize()
    _warn_partial(dyn, range(len(dyn.windows)))
    if normalize is None:
        v = [_nanvar(dyn.window_norms(k).double().numpy(), 0) for k in range(len(dyn.windows))]
        return np.sum(v, axis=0)
    if len(dyn.windows) != 2:
        raise ValueError(f"normalize='l1' combines an early and a late window, but the recorder "
                         f"has {len(dyn.windows)} windows")
    w = check_range("weight", weight, 0.0, 1.0)
    v = [_nanvar(dyn.window_norms(k).double().numpy(), 1) for k in range(2)]
    v = [x / max(np.nansum(np.abs(x)), 1e-300) for x in v]
    return w * v[0] + (1 - w) * v[1]


def el2n_scores(dyn: Runs, window: int = 0) -> np.ndarray:
    """EL2N: mean error norm over the epochs of window ``window`` (default the early one);
    summed over runs for a list of recorders."""
    return _over_runs(lambda d: _el2n_one(d, window), dyn, "EL2N score")


def _el2n_one(dyn: TrainingDynamics, window: int) -> np.ndarray:
    dyn.finalize()
    if not 0 <= window < len(dyn.windows):
        raise ValueError(f"window should index one of the {len(dyn.windows)} windows, but got "
                         f"window={window}")
    _warn_partial(dyn, [window])
    mean, k = _nanmean(dyn.window_norms(window).double().numpy())
    return np.where(k > 0, mean, np.nan)


def forgetting_scores(dyn: Runs) -> np.ndarray:
    """Forgetting events (correct in one seen epoch, wrong in the next seen one).

    Samples never classified correctly count as forgotten infinitely often
    (``inf``), as in Toneva et al.; never-seen samples are NaN. Summed over
    runs for a list of recorders.
    """
    return _over_runs(_forgetting_one, dyn, "forgetting score")


def _forgetting_one(dyn: TrainingDynamics) -> np.ndarray:
    dyn.finalize()
    f = dyn.forgetting.double().numpy()
    never = ~dyn.learned.numpy()
    seen = dyn.margin_count.numpy() > 0
    return np.where(~seen, np.nan, np.where(never, np.inf, f))


def aum_scores(dyn: Runs) -> np.ndarray:
    """AUM: mean over seen epochs of ``logit[y] - max other logit``. LOW is hard/mislabelled:
    select with ``coreset(..., descending=False)``. Summed over runs for a list."""
    return _over_runs(_aum_one, dyn, "AUM score")


def _aum_one(dyn: TrainingDynamics) -> np.ndarray:
    dyn.finalize()
    c = dyn.margin_count.numpy()
    return np.where(c > 0, dyn.margin_sum.numpy() / np.maximum(c, 1), np.nan)


def entropy_scores(dyn: Runs) -> np.ndarray:
    """Predictive entropy (nats) at the last epoch each sample was seen; summed over runs."""
    return _over_runs(_entropy_one, dyn, "entropy score")


def _entropy_one(dyn: TrainingDynamics) -> np.ndarray:
    dyn.finalize()
    return dyn.last_entropy.double().numpy()

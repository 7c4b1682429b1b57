"""Coreset accuracy (EVA variants, EL2N, forgetting, CCS, random) and DQAS, one table per run.

    python benchmarks/bench_coreset.py --data ../shared/data/mnist_t10k.npz
    python benchmarks/bench_coreset.py --data ../shared/data/cifar10_sample.npz

1. Three surrogate small CNNs (seeds 100-102) train on the whole training
   split (80%) for ``--surrogate-epochs`` epochs while TrainingDynamics
   records the paper's windows (0, K) and (T-K, T) and, in a second recorder,
   windows that skip epoch 0: (1, 1+K) and (T-K, T). EVA, EL2N and forgetting
   come from the first run; "EVA merged over 3 runs" sums the three (EVA's
   Algorithm 1). CCS (``strategy="stratified"``) prunes the hardest 10% and
   takes an equal budget from 50 score strata.
2. For each fraction, each method's subset trains a fresh model for
   ``--epochs`` epochs (same steps for every method), 3 seeds, and is
   evaluated on the 2k test split: mean +- std of test accuracy.
   "random (fixed)" draws one subset per seed; "random (per epoch)" draws a
   new one every epoch (RandomSubsetSampler); "uniform per class" is a fixed
   class-balanced random subset.
3. DQAS: ClassRatioSampler starts a_c from a model trained on the uniform
   per-class subset (Algorithm 1 line 2), runs ``--dqas-iters`` rounds of
   (train on the current draw, per-class accuracy on the training set,
   update), then its final draw trains like the others. "with bins" draws
   each class's share from DQ's GraphCut bins over the surrogate's features.
   "DQAS + active learning" replaces the last 20% of that budget by
   expected-error-reduction picks (influence on a linear head over the
   surrogate's penultimate features).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from training import accuracy, features, load_split, train  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="mnist_t10k.npz (default: synthetic)")
    p.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.10])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--surrogate-epochs", type=int, default=10)
    p.add_argument("--window", type=int, default=3, help="K epochs per EVA window")
    p.add_argument("--dqas-iters", type=int, default=3)
    p.add_argument("--only", choices=["coreset", "dqas"], help="run one half (each about half the time)")
    args = p.parse_args()
    t_start = time.perf_counter()
    x, y, xt, yt, name = load_split(args.data)
    n, k_win, t_sur = len(x), args.window, args.surrogate_epochs
    windows = [(0, k_win), (t_sur - k_win, t_sur)]
    skip0 = [(1, 1 + k_win), (t_sur - k_win, t_sur)]
    runs, runs_skip = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the paper's windows start at epoch 0 on purpose
        for r in range(3):
            dyn = tc.dynamics.TrainingDynamics(n, 10, windows=windows)
            dyn_skip = tc.dynamics.TrainingDynamics(n, 10, windows=skip0)
            net = train(x, y, epochs=t_sur, seed=100 + r, dynamics=[dyn, dyn_skip])
            if r == 0:
                surrogate = net
            runs.append(dyn)
            runs_skip.append(dyn_skip)
    full_acc = accuracy(surrogate, xt, yt)
    dyn = runs[0]
    scores = {"EVA (paper windows)": tc.dynamics.eva_scores(dyn),
              "EVA, windows skip epoch 0": tc.dynamics.eva_scores(runs_skip[0]),
              "EVA merged over 3 runs": tc.dynamics.eva_scores(runs),
              "EL2N (early window)": tc.dynamics.el2n_scores(dyn),
              "forgetting": tc.dynamics.forgetting_scores(dyn)}
    feats = features(surrogate, x)
    labels = y.numpy()
    rows = []

    def run(label, frac, make):
        accs = []
        for seed in range(args.seeds):
            kind, value = make(seed)
            if kind == "indices":
                net = train(x, y, indices=value, epochs=args.epochs, seed=seed)
            else:
                net = train(x, y, sampler=value, epochs=args.epochs, seed=seed)
            accs.append(accuracy(net, xt, yt))
        rows.append((label, frac, float(np.mean(accs)), float(np.std(accs))))

    for frac in args.fractions:
        m = int(round(frac * n))
        if args.only != "dqas":
            _coreset_rows(run, frac, m, n, scores, labels)
        if args.only == "coreset":
            continue
        ratios_log = []
        dqas_sets, dqas_bins = {}, {}
        bins = tc.selection.graphcut_bins(feats, 10)
        loader = DataLoader(TensorDataset(x, y), batch_size=1000)
        short = max(5, args.epochs // 3)
        for seed in range(args.seeds):
            even = train(x, y, indices=_balanced(labels, m, seed), epochs=short, seed=seed)
            start = tc.evaluate.per_class_accuracy(even, loader, 10)  # Algorithm 1 line 2
            for key, kw in (("plain", {}), ("bins", {"bins": bins})):
                sampler = tc.samplers.ClassRatioSampler(labels, frac, lower_bound=0.5, seed=seed,
                                                        initial_accuracy=start, **kw)
                for it in range(args.dqas_iters):
                    sampler.set_epoch(it)
                    net = train(x, y, indices=np.array(list(sampler)), epochs=short, seed=seed)
                    sampler.update(tc.evaluate.per_class_accuracy(net, loader, 10))
                sampler.set_epoch(args.dqas_iters)
                (dqas_sets if key == "plain" else dqas_bins)[seed] = np.array(list(sampler))
                if key == "plain":
                    ratios_log.append(sampler.ratios)
        run("DQAS class ratios (balanced start)", frac, lambda seed: ("indices", dqas_sets[seed]))
        run("DQAS with DQ bins (balanced start)", frac, lambda seed: ("indices", dqas_bins[seed]))
        k_al = max(1, int(round(0.2 * m)))

        def with_al(seed):
            base = dqas_sets[seed][:m - k_al]
            added = tc.selection.expected_error_reduction(feats, labels, base, k_al, num_classes=10)
            return "indices", np.r_[base, added]
        run("DQAS + active learning (20%)", frac, with_al)
        r = np.mean(ratios_log, axis=0)
        print(f"fraction {frac:g}: DQAS final per-class ratios (mean over seeds) "
              + " ".join(f"{v:.3f}" for v in r))
    print(f"coreset benchmark: {name}, {n} train / {len(xt)} test, small CNN, surrogate "
          f"{t_sur} epochs (full-data test acc {full_acc:.4f}), EVA windows {windows} "
          f"(skipping epoch 0: {skip0}), "
          f"{args.epochs} epochs per subset, {args.seeds} seeds, {time.perf_counter() - t_start:.0f} s")
    print("| method | fraction | test acc mean | std |")
    print("|---|---|---|---|")
    for label, frac, mean, std in rows:
        print(f"| {label} | {frac:g} | {mean:.4f} | {std:.4f} |")


def _coreset_rows(run, frac, m, n, scores, labels) -> None:
    for method, s in scores.items():
        run(method, frac, lambda seed, s=s: ("indices", tc.samplers.coreset(s, frac)))
    eva, el2n = scores["EVA (paper windows)"], scores["EL2N (early window)"]
    run("EVA, class-balanced", frac, lambda seed: ("indices", tc.samplers.coreset(
        eva, frac, class_balanced=True, labels=labels)))
    for label, s in (("CCS on EVA", eva), ("CCS on EL2N", el2n)):
        run(label, frac, lambda seed, s=s: ("indices", tc.samplers.coreset(
            s, frac, strategy="stratified", prune_hardest=0.1, seed=seed)))
    run("random (fixed)", frac, lambda seed: ("indices", np.random.default_rng(seed).permutation(n)[:m]))
    run("random (per epoch)", frac,
        lambda seed: ("sampler", tc.samplers.RandomSubsetSampler(range(n), fraction=frac, seed=seed)))
    run("uniform per class", frac, lambda seed: ("indices", _balanced(labels, m, seed)))


def _balanced(labels: np.ndarray, m: int, seed: int) -> np.ndarray:
    """A fixed class-balanced random subset of ``m``: the samplers' own grouping and quotas."""
    from torchcompress.samplers._quota import apportion, group_members
    from torchcompress.samplers.random_subset import balanced_draw

    _, groups = group_members(labels)
    counts = apportion(np.array([len(g) for g in groups]), m)
    return balanced_draw(groups, counts, torch.Generator().manual_seed(seed)).numpy()


if __name__ == "__main__":
    main()

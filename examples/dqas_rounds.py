"""DQAS rounds as the paper drives them: retrain on D^i, evaluate per class, update the ratios.

    python examples/dqas_rounds.py --data ../shared/data/mnist_t10k.npz --fraction 0.05 --rounds 50

Splits the .npz 80/20 and compresses the training part losslessly. Round 0
trains on the evenly distributed (class-balanced) subset and its per-class
accuracies start a_c (DQAS Algorithm 1, line 2). Each later round draws D^i
from ``ClassRatioSampler`` (optionally inside DQ's GraphCut bins), trains a
fresh small CNN on it, measures per-class accuracy on the training split and
calls ``update``. Prints one line per round and the best round's test
accuracy against the balanced start.
"""

import argparse
import tempfile

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision.transforms import v2

import torchcompress as tc


def small_cnn(c, h, w, k):
    return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), k))


def train_on(ds, indices, shape, k, epochs, seed):
    torch.manual_seed(seed)
    net = small_cnn(*shape, k)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(Subset(ds, indices.tolist()), batch_size=64, shuffle=True, generator=g)
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    return net


def test_accuracy(net, x, y):
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help=".npz with uint8 x (N,H,W[,C]) and y")
    p.add_argument("--fraction", type=float, default=0.05)
    p.add_argument("--rounds", type=int, default=50, help="DQAS iterations after the start")
    p.add_argument("--epochs", type=int, default=5, help="epochs per round")
    p.add_argument("--bins", type=int, default=0, help="DQ GraphCut bins (0: none)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    with np.load(a.data) as z:
        x, y = z["x"], z["y"].astype(np.int64)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    n = int(0.8 * len(x))
    k = int(y.max()) + 1
    scale = v2.ToDtype(torch.float32, scale=True)
    xt, yt = scale(torch.from_numpy(x[n:])), torch.from_numpy(y[n:])
    with tempfile.TemporaryDirectory() as tmp:
        tc.compress((x[:n], y[:n]), f"{tmp}/train.tcz", progress=False)
        ds = tc.open(f"{tmp}/train.tcz", transform=scale)
        labels = ds.targets.numpy()
        evaluate = DataLoader(ds, batch_size=1000)
        shape = x.shape[1:]
        bins = None
        if a.bins:
            flat = np.stack([ds[i][0].reshape(-1).numpy() for i in range(len(ds))])
            bins = tc.selection.graphcut_bins(flat, a.bins)
        even = tc.samplers.RandomSubsetSampler(ds, fraction=a.fraction, class_balanced=True,
                                               seed=a.seed)
        start = np.array(list(even))
        net = train_on(ds, start, shape, k, a.epochs, a.seed)
        a_c = tc.evaluate.per_class_accuracy(net, evaluate, k)
        base = test_accuracy(net, xt, yt)
        print(f"round 0 (balanced start, {len(start)} samples): test acc {base:.4f}, "
              f"per-class train acc {np.round(a_c, 3).tolist()}")
        sampler = tc.samplers.ClassRatioSampler(labels, a.fraction, seed=a.seed,
                                                initial_accuracy=a_c, bins=bins)
        best = (base, 0)
        for r in range(1, a.rounds + 1):
            sampler.set_epoch(r)
            draw = np.array(list(sampler))
            net = train_on(ds, draw, shape, k, a.epochs, a.seed + r)
            acc = test_accuracy(net, xt, yt)
            best = max(best, (acc, r))
            ratios = sampler.update(tc.evaluate.per_class_accuracy(net, evaluate, k))
            print(f"round {r}: test acc {acc:.4f}, next ratios {np.round(ratios, 3).tolist()}")
    print(f"best round {best[1]}: test acc {best[0]:.4f} (balanced start {base:.4f})")


if __name__ == "__main__":
    main()

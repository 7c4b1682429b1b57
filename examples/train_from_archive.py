"""Train a small CNN from an ADQ archive and compare with the raw data.

    python examples/train_from_archive.py --data ../shared/data/mnist_t10k.npz --bits 2

Splits the .npz 80/20, compresses the training part, trains the same model for a
few epochs on raw and on decoded data, and prints test accuracy for both.
"""

import argparse
import tempfile

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchcompress as tc


def model(c, h, w, k):
    return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), k))


def train_eval(train_loader, xt, yt, shape, k, epochs, seed=0):
    torch.manual_seed(seed)
    net = model(*shape, k)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        for x, y in train_loader:
            opt.zero_grad()
            nn.functional.cross_entropy(net(x / 255.0), y).backward()
            opt.step()
    with torch.no_grad():
        return (net(xt / 255.0).argmax(1) == yt).float().mean().item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help=".npz with uint8 x (N,H,W[,C]) and y")
    p.add_argument("--bits", type=float, default=2.0)
    p.add_argument("--epochs", type=int, default=3)
    a = p.parse_args()
    with np.load(a.data) as z:
        x, y = z["x"], z["y"].astype(np.int64)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    n = int(0.8 * len(x))
    xt, yt = torch.from_numpy(x[n:]).float(), torch.from_numpy(y[n:])
    k = int(y.max()) + 1
    raw = DataLoader(TensorDataset(torch.from_numpy(x[:n]).float(), torch.from_numpy(y[:n])),
                     batch_size=128, shuffle=True)
    acc_raw = train_eval(raw, xt, yt, x.shape[1:], k, a.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        info = tc.compress((x[:n], y[:n]), f"{tmp}/train.tcz", codec="adq", bits=a.bits)
        ds = tc.open(f"{tmp}/train.tcz")  # uint8 CHW, rounded from ADQ's values, like the raw data
        acc_adq = train_eval(DataLoader(ds, batch_size=128, shuffle=True), xt, yt, x.shape[1:], k, a.epochs)
    print(f"raw: test acc {acc_raw:.4f}")
    print(f"ADQ {a.bits:g}-bit ({info['pct_of_uint8']:.1f}% of uint8, PSNR {info['mean_psnr_db']:.1f} dB): "
          f"test acc {acc_adq:.4f}")


if __name__ == "__main__":
    main()

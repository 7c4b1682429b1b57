"""A small CNN, a train loop and an evaluation, shared by the sampler/dynamics benchmarks."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def load_split(data: str | None, train: int | None = None, seed: int = 0):
    """(x_train, y_train, x_test, y_test) float tensors in [0, 1], (N, C, H, W); 80/20 by
    default (8k/2k for MNIST); (N, H, W, 3) arrays such as the CIFAR sample become CHW."""
    if data:
        with np.load(data, allow_pickle=False) as z:
            x, y = z["x"], z["y"]
        name = os.path.basename(data)
    else:  # 10 synthetic classes: a class-specific stroke pattern plus noise
        rng = np.random.default_rng(seed)
        y = np.arange(10000) % 10
        proto = rng.uniform(0, 1, (10, 28, 28)) > 0.8
        x = (proto[y] * rng.uniform(100, 255, (10000, 1, 1)) + rng.normal(0, 60, (10000, 28, 28)))
        x = np.clip(x, 0, 255).astype(np.uint8)
        name = "synthetic 10k x 28x28"
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    train = int(0.8 * len(x)) if train is None else train
    perm = np.random.default_rng(seed).permutation(len(x))
    x = torch.from_numpy(x[perm].astype(np.float32) / 255.0)
    y = torch.from_numpy(y[perm].astype(np.int64))
    return x[:train], y[:train], x[train:], y[train:], name


def small_cnn(num_classes: int = 10, in_ch: int = 1, size: tuple = (28, 28)) -> nn.Module:
    h, w = size
    return nn.Sequential(nn.Conv2d(in_ch, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), 64), nn.ReLU(),
                         nn.Linear(64, num_classes))


def features(net: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Penultimate-layer features (N, 64) of ``small_cnn``."""
    with torch.no_grad():
        return torch.cat([net[:-1](x[i:i + 1000]) for i in range(0, len(x), 1000)]).numpy()


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    net.train()
    return float((pred == y).float().mean())


def train(x, y, *, sampler=None, indices=None, epochs: int, seed: int, batch_size: int = 64,
          lr: float = 0.05, dynamics=None, on_epoch=None) -> nn.Module:
    """SGD (momentum 0.9, cosine LR) on ``x[indices]`` or through ``sampler``; same steps per epoch."""
    torch.manual_seed(seed)
    net = small_cnn(int(y.max()) + 1, x.shape[1], tuple(x.shape[2:]))
    recorders = [] if dynamics is None else (dynamics if isinstance(dynamics, list) else [dynamics])
    ds = TensorDataset(x, y, torch.arange(len(x)))
    if sampler is None:
        sub = torch.as_tensor(np.arange(len(x)) if indices is None else indices)
        g = torch.Generator().manual_seed(seed)
        loader = lambda: DataLoader(torch.utils.data.Subset(ds, sub.tolist()), batch_size=batch_size,  # noqa: E731
                                    shuffle=True, generator=g)
    else:
        loader = lambda: DataLoader(ds, batch_size=batch_size, sampler=sampler)  # noqa: E731
    steps = epochs * len(loader())
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    for epoch in range(epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        for d in recorders:
            d.set_epoch(epoch)
        for xb, yb, ib in loader():
            out = net(xb)
            loss = nn.functional.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            for d in recorders:
                d.record(ib, out, yb)
        if on_epoch is not None:
            on_epoch(epoch, net)
    return net

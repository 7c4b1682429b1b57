"""Linear regression on condensed, weighted samples (dreaMLearning on California Housing).

    python examples/weighted_regression.py --data ../shared/data/california_housing.csv

Without ``--data`` it uses scikit-learn's ``fetch_california_housing`` (needs
the internet once). The 8 scikit-learn features are derived from the raw CSV
(see ../shared/data/README.md); the 207 rows without ``total_bedrooms`` get the
median AveBedrms. 80/20 split with a fixed seed.

The training part is condensed with ``tc.condense`` (fixed point per column,
``--beta`` cluster bits), then the same linear model is fit by full-batch
gradient descent with ``tc.weighted_loss`` on the condensed samples, and with a
plain mean on the full training set. It prints the condensed count, the test
MSE of both, and the storage.
"""

import argparse
import csv
import os
import tempfile

import numpy as np
import torch

import torchcompress as tc

# decimal digits kept per feature, chosen so every column fits 16 bits:
# MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude
PRECISION = [3, 0, 2, 3, 0, 2, 2, 2]


def load_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))

    def col(k):
        return np.array([float(r[k]) if r[k] else np.nan for r in rows])

    hh = col("households")
    x = np.stack([col("median_income"), col("housing_median_age"), col("total_rooms") / hh,
                  col("total_bedrooms") / hh, col("population"), col("population") / hh,
                  col("latitude"), col("longitude")], axis=1)
    missing = np.isnan(x[:, 3])
    x[missing, 3] = np.nanmedian(x[:, 3])
    return x, col("median_house_value") / 1e5


def load_sklearn():
    from sklearn.datasets import fetch_california_housing

    d = fetch_california_housing()
    return d.data, d.target


def fit(x, y, w, mu, sd, steps, lr):
    """Full-batch gradient descent on the weighted squared error (normalize='sum')."""
    a = torch.from_numpy((x - mu) / sd).float()
    t = torch.from_numpy(y).float()
    w = torch.as_tensor(w).float()
    theta = torch.zeros(a.shape[1], requires_grad=True)
    bias = torch.zeros((), requires_grad=True)
    opt = torch.optim.SGD([theta, bias], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = tc.weighted_loss((a @ theta + bias - t) ** 2, w, normalize="sum")
        loss.backward()
        opt.step()
    return theta.detach(), bias.detach()


def test_mse(params, x, y, mu, sd):
    theta, bias = params
    pred = torch.from_numpy((x - mu) / sd).float() @ theta + bias
    return float(((pred - torch.from_numpy(y).float()) ** 2).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="california_housing.csv (default: scikit-learn's fetcher)")
    p.add_argument("--beta", type=int, nargs="+", default=[8, 10, 11, 12, 14])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    x, y = load_csv(args.data) if args.data else load_sklearn()
    perm = np.random.default_rng(args.seed).permutation(len(x))
    cut = int(0.8 * len(x))
    tr, te = perm[:cut], perm[cut:]
    xtr, ytr = x[tr].astype(np.float32), y[tr].astype(np.float32)
    mu, sd = xtr.mean(0), xtr.std(0)
    full = test_mse(fit(xtr, ytr, np.ones(len(tr)), mu, sd, args.steps, args.lr), x[te], y[te], mu, sd)
    raw = xtr.nbytes + ytr.nbytes  # float32 table, features and target
    print(f"California Housing: {len(tr)} train / {len(te)} test rows, 8 features, "
          f"{args.steps} full-batch GD steps (lr {args.lr})")
    print(f"full training set: test MSE {full:.4f}, raw float32 table {raw:,} bytes")
    print("| beta | condensed | % of train | test MSE | vs full | archive bytes | % of raw f32 |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for beta in args.beta:
            path = os.path.join(tmp, f"beta{beta}")
            info = tc.condense((xtr, ytr), path, beta=beta, precision=PRECISION, progress=False)
            ds = tc.open(path)
            assert int(ds.weights.sum()) == len(tr)
            xc = torch.stack([ds[i][0] for i in range(len(ds))]).numpy().astype(np.float64)
            yc = np.array([float(ds[i][1]) for i in range(len(ds))])
            mse = test_mse(fit(xc, yc, ds.weights, mu, sd, args.steps, args.lr), x[te], y[te], mu, sd)
            print(f"| {beta} | {len(ds)} | {100 * len(ds) / len(tr):.2f} | {mse:.4f} | "
                  f"{100 * (mse / full - 1):+.1f}% | {info['bytes']:,} | {100 * info['bytes'] / raw:.1f} |")


if __name__ == "__main__":
    main()

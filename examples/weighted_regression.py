"""Linear regression on condensed, weighted samples (dreaMLearning on California Housing).

    python examples/weighted_regression.py --data ../shared/data/california_housing.csv

Without ``--data`` it uses scikit-learn's ``fetch_california_housing`` (needs
the internet once). The 8 scikit-learn features are derived from the raw CSV
(see ../shared/data/README.md); the 207 rows without ``total_bedrooms`` get the
median AveBedrms. One 80/20 split per seed (``--seeds``, default 1..10 as the
paper's 10 runs); the table gives mean +- std over the splits.

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

# decimal digits kept per feature (columns over 16 bits, e.g. Population, are stored split):
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


def one_split(x, y, seed, args, tmp):
    """(full-data test MSE, {beta: (condensed rows, test MSE, archive bytes)}, rows, raw bytes)."""
    perm = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    tr, te = perm[:cut], perm[cut:]
    xtr, ytr = x[tr].astype(np.float32), y[tr].astype(np.float32)
    mu, sd = xtr.mean(0), xtr.std(0)
    full = test_mse(fit(xtr, ytr, np.ones(len(tr)), mu, sd, args.steps, args.lr), x[te], y[te], mu, sd)
    out = {}
    for beta in args.beta:
        path = os.path.join(tmp, f"s{seed}b{beta}")
        info = tc.condense((xtr, ytr), path, beta=beta, precision=PRECISION, progress=False)
        ds = tc.open(path)
        if int(ds.weights.sum()) != len(tr):
            raise RuntimeError("the condensed weights do not sum to the training rows")
        xc = torch.stack([ds[i][0] for i in range(len(ds))]).numpy().astype(np.float64)
        yc = np.array([float(ds[i][1]) for i in range(len(ds))])
        mse = test_mse(fit(xc, yc, ds.weights, mu, sd, args.steps, args.lr), x[te], y[te], mu, sd)
        out[beta] = (len(ds), mse, info["bytes"])
    return full, out, len(tr), xtr.nbytes + ytr.nbytes


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="california_housing.csv (default: scikit-learn's fetcher)")
    p.add_argument("--beta", type=int, nargs="+", default=[8, 10, 11, 12, 14])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)),
                   help="one 80/20 split per seed (default 1..10, as the paper's 10 runs)")
    args = p.parse_args()
    x, y = load_csv(args.data) if args.data else load_sklearn()
    fulls, res = [], {b: [] for b in args.beta}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            full, out, n_train, raw = one_split(x, y, seed, args, tmp)
            fulls.append(full)
            for b, r in out.items():
                res[b].append(r)
    fulls = np.array(fulls)
    print(f"California Housing: {n_train} train / {len(x) - n_train} test rows, 8 features, "
          f"{args.steps} full-batch GD steps (lr {args.lr}), {len(args.seeds)} splits "
          f"(seeds {args.seeds[0]}..{args.seeds[-1]}), mean +- std over splits")
    print(f"full training set: test MSE {fulls.mean():.4f} +- {fulls.std():.4f}, raw float32 "
          f"table {raw:,} bytes")
    print("| beta | condensed | % of train | test MSE | vs full | archive bytes | % of raw f32 |")
    print("|---|---|---|---|---|---|---|")
    for b in args.beta:
        rows, mse, size = (np.array(v, dtype=np.float64) for v in zip(*res[b]))
        rel = 100 * (mse / fulls - 1)
        print(f"| {b} | {rows.mean():.0f} | {100 * rows.mean() / n_train:.2f} | "
              f"{mse.mean():.4f} +- {mse.std():.4f} | {rel.mean():+.1f}% +- {rel.std():.1f} | "
              f"{size.mean():,.0f} | {100 * size.mean() / raw:.1f} |")


if __name__ == "__main__":
    main()

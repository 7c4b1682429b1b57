"""Data-parallel training from an archive: torchrun, a fresh random subset per epoch, ds.loader.

    torchrun --nproc_per_node=2 examples/ddp_train.py --archive train.tcz --epochs 2
    torchrun --nproc_per_node=2 examples/ddp_train.py --data ../shared/data/mnist_t10k.npz

With ``--data`` every rank first calls ``tc.compress`` on the .npz (lossless):
each encodes its own shards and rank 0 writes the manifest. Every rank opens the archive, draws its shard of a fresh random
subset each epoch (``RandomSubsetSampler``, DDP-aware) and reads it through
``ds.loader`` (whole-batch decode, exact resume). The model is a small CNN in
``DistributedDataParallel``: gloo on CPU, nccl when every rank has a GPU.
Rank 0 prints the mean loss of each epoch over all ranks and writes the
checkpoint ``--checkpoint``.safetensors (model and optimizer tensors) and
``.json`` (optimizer groups, loader state; no pickle) after every epoch;
``--resume`` continues from it.
"""

import argparse
import json
import os

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch import nn
from torchvision.transforms import v2

import torchcompress as tc


def small_cnn(c, h, w, k):
    return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), k))


def save_checkpoint(path, model, opt, loader):
    """Tensors to ``path.safetensors``, the rest to ``path.json``: nothing is pickled. The JSON
    is written last, atomically, so it only ever names a complete tensor file."""
    o = opt.state_dict()
    tensors = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    for i, st in o["state"].items():
        tensors.update({f"opt.{i}.{k}": v.contiguous() for k, v in st.items()})
    save_file({k: v.cpu() for k, v in tensors.items()}, path + ".safetensors")
    meta = {"param_groups": o["param_groups"], "loader": loader.state_dict()}
    with open(path + ".json.tmp", "w") as f:
        json.dump(meta, f)
    os.replace(path + ".json.tmp", path + ".json")


def load_checkpoint(path, model, opt, loader, device):
    tensors = load_file(path + ".safetensors", device=str(device))
    with open(path + ".json") as f:
        meta = json.load(f)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, i, name = k.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    loader.load_state_dict(meta["loader"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archive", default="ddp_train.tcz", help="the archive to train from")
    p.add_argument("--data", help=".npz to compress into --archive first (rank 0)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--fraction", type=float, default=0.5, help="random subset per epoch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many (0: all)")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args()
    if "RANK" not in os.environ:
        p.error("run it under torchrun, which starts the ranks and sets RANK, e.g. "
                "torchrun --nproc_per_node=2 examples/ddp_train.py --data DATA.npz")
    cuda = torch.cuda.is_available() and torch.cuda.device_count() >= int(os.environ.get("WORLD_SIZE", 1))
    dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu")
    torch.set_num_threads(1)
    # no rank can see the archive before all of them call compress (it commits collectively)
    if a.data and not os.path.exists(a.archive):
        with np.load(a.data) as z:
            x, y = z["x"], z["y"]
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        tc.compress((x, y), a.archive, progress=False, shard_size=max(1, len(x) // 4))
    ds = tc.open(a.archive, transform=v2.ToDtype(torch.float32, scale=True))
    shape, k = ds[0][0].shape, int(ds.targets.max()) + 1
    sampler = tc.samplers.RandomSubsetSampler(ds, fraction=a.fraction, seed=0)
    loader = ds.loader(a.batch_size, sampler=sampler, num_workers=a.workers)
    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(small_cnn(*shape, k).to(device))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start = 0
    if a.resume and a.checkpoint and os.path.exists(a.checkpoint + ".json"):
        load_checkpoint(a.checkpoint, model.module, opt, loader, device)
        start = loader.epoch
    for epoch in range(start, a.epochs):
        loader.set_epoch(epoch)
        total = torch.zeros(2, device=device)
        for step, (x, y) in enumerate(loader):
            loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += torch.stack([loss.detach() * len(y), torch.tensor(len(y), device=device)])
            if a.max_steps and step + 1 >= a.max_steps:
                break
        dist.all_reduce(total)
        if rank == 0:
            print(f"epoch {epoch}: mean loss {float(total[0] / total[1]):.4f} over "
                  f"{int(total[1])} samples on {dist.get_world_size()} ranks", flush=True)
            if a.checkpoint:
                save_checkpoint(a.checkpoint, model.module, opt, loader)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Resume through torchdata's StatefulDataLoader, with and without worker processes."""

import pytest
import torch
from torch.utils.data import TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

import torchcompress as tc

DS = TensorDataset(torch.arange(200), torch.arange(200) % 4)


def _loader(sampler, workers):
    return StatefulDataLoader(DS, batch_size=4, sampler=sampler, num_workers=workers)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("workers", [0, 2], ids=["main-process", "2-workers"])
@pytest.mark.parametrize("make", [
    lambda: tc.samplers.RandomSubsetSampler(DS, fraction=0.5, seed=0),
    lambda: tc.samplers.ClassRatioSampler(DS.tensors[1], 0.4, seed=0),
], ids=["random-subset", "class-ratio"])
def test_resume_mid_epoch(make, workers):
    s = make()
    s.set_epoch(3)
    full = [b[0].tolist() for b in _loader(s, workers)]
    dl = _loader(s, workers)
    it = iter(dl)
    head = [next(it)[0].tolist() for _ in range(5)]
    state = dl.state_dict()
    fresh = make()
    dl2 = _loader(fresh, workers)
    dl2.load_state_dict(state)
    rest = [b[0].tolist() for b in dl2]
    assert head + rest == full

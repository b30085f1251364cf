"A torchvision MNIST pipeline feeds microtorch directly; runs only where torchvision is installed."
import numpy as np
import pytest
import microtorch as mt
from microtorch.train import mlp

torchvision = pytest.importorskip("torchvision")
torch = pytest.importorskip("torch")

@pytest.fixture(scope="module")
def root():
    "Make the MNIST files available (cached by microtorch) in the folder torchvision reads."
    mt.MNIST(mt.DEFAULT_ROOT, train=False)
    mt.MNIST(mt.DEFAULT_ROOT, train=True)
    return mt.DEFAULT_ROOT

def test_torch_loader_feeds_microtorch(root):
    from torchvision import datasets, transforms
    ds = datasets.MNIST(str(root), train=False, download=False, transform=transforms.ToTensor())
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=32)))
    x, y = mt.tensor(xb), mt.tensor(yb)
    assert x.shape == (32, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    ours = mt.MNIST(root, train=False)
    np.testing.assert_allclose(x.data, ours.data[:32], atol=1e-7)
    assert (y.data == ours.targets[:32]).all()
    model = mlp()
    assert mt.nn.functional.cross_entropy(model(x), y).shape == ()

def test_our_loader_reads_a_torchvision_dataset(root):
    from torchvision import datasets, transforms
    ds = datasets.MNIST(str(root), train=False, download=False, transform=transforms.ToTensor())
    xb, yb = next(iter(mt.utils.data.DataLoader(ds, batch_size=16)))
    ours = mt.MNIST(root, train=False)
    np.testing.assert_allclose(xb.data, ours.data[:16], atol=1e-7)
    assert yb.dtype == np.int64 and (yb.data == ours.targets[:16]).all()

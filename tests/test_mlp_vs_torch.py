"A small MLP (Linear, ReLU, Linear, cross-entropy): loss and every parameter gradient match PyTorch's."
import numpy as np
import pytest
import microtorch as mt

torch = pytest.importorskip("torch")

def make_models(n_in=20, hidden=16, n_out=5, seed=0):
    "The same MLP in torch and microtorch, with torch's random weights loaded into ours."
    torch.manual_seed(seed)
    tmodel = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_out))
    model = mt.nn.Sequential(mt.nn.Linear(n_in, hidden), mt.nn.ReLU(), mt.nn.Linear(hidden, n_out))
    model.load_state_dict({k: mt.tensor(v.numpy()) for k, v in tmodel.state_dict().items()})
    return model, tmodel

def batch(n=32, n_in=20, n_out=5, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)).astype(np.float32), rng.integers(0, n_out, n)

@pytest.mark.parametrize("loss_name", ["module", "functional", "composed"])
def test_mlp_loss_and_grads_match_torch(loss_name):
    model, tmodel = make_models()
    x, y = batch()
    logits = model(mt.tensor(x))
    if loss_name == "module": loss = mt.nn.CrossEntropyLoss()(logits, mt.tensor(y))
    elif loss_name == "functional": loss = mt.nn.functional.cross_entropy(logits, mt.tensor(y))
    else: loss = mt.nn.NLLLoss()(mt.nn.LogSoftmax(dim=1)(logits), mt.tensor(y))
    loss.backward()
    tloss = torch.nn.CrossEntropyLoss()(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    assert loss.shape == () and loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5, atol=1e-6)
    ours, theirs = dict(model.named_parameters()), dict(tmodel.named_parameters())
    assert sorted(ours) == sorted(theirs)
    for name, p in ours.items():
        assert isinstance(p.grad, mt.Tensor) and p.grad.dtype == np.float32 and p.grad.shape == p.shape, name
        np.testing.assert_allclose(p.grad.data, theirs[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)

def test_mlp_grads_accumulate_like_torch():
    "Two backward calls without zero_grad give twice the gradient, in both frameworks."
    model, tmodel = make_models(seed=3)
    x, y = batch(seed=4)
    for _ in range(2):
        mt.nn.functional.cross_entropy(model(mt.tensor(x)), mt.tensor(y)).backward()
        torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    theirs = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)

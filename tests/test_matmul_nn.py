"Property tests: transpose and matmul agree with torch on random shapes; nn state dicts survive a file round trip."
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
import microtorch as mt

torch = pytest.importorskip("torch")
fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@st.composite
def matmul_pair(draw):
    "Shapes `a @ b` accepts: vectors or (batched) matrices whose batch dims broadcast."
    m, n, p = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(st.lists(st.integers(1, 3), max_size=3))
    def batch_variant():
        lead = draw(st.integers(0, len(batch)))
        return tuple(1 if draw(st.booleans()) else k for k in batch[lead:])
    a = (n,) if draw(st.booleans()) else batch_variant() + (m, n)
    b = (n,) if draw(st.booleans()) else batch_variant() + (n, p)
    return a, b

def run_both(fn, torch_fn, arrays, rng):
    "Values and gradients of `fn` (ours, float64) and `torch_fn` for the same inputs and seed gradient."
    xs = [mt.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn(*xs), torch_fn(*txs)
    g = rng.standard_normal(tout.shape)
    out.backward(g); tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for x, tx in zip(xs, txs): np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)

@fast
@given(matmul_pair(), st.integers(0, 2**16))
def test_matmul_matches_torch(shapes, seed):
    rng = np.random.default_rng(seed)
    run_both(lambda a, b: a @ b, torch.matmul, [rng.standard_normal(s) for s in shapes], rng)

@fast
@given(matmul_pair())
def test_matmul_float32_stays_float32(shapes):
    a, b = (mt.Tensor(np.ones(s), requires_grad=True) for s in shapes)
    out = a @ b
    out.backward(np.ones(out.shape))
    assert out.dtype == a.grad.dtype == b.grad.dtype == np.float32
    assert a.grad.shape == a.shape and b.grad.shape == b.shape

@fast
@given(st.lists(st.integers(1, 3), min_size=1, max_size=5), st.randoms(use_true_random=False), st.integers(0, 2**16))
def test_permute_matches_torch(shape, random, seed):
    perm = list(range(len(shape))); random.shuffle(perm)
    rng = np.random.default_rng(seed)
    run_both(lambda t: t.permute(*perm), lambda t: t.permute(*perm), [rng.standard_normal(shape)], rng)

@fast
@given(st.lists(st.integers(1, 3), min_size=1, max_size=5), st.data())
def test_two_int_transpose_is_torch_swap(shape, data):
    d0, d1 = (data.draw(st.integers(-len(shape), len(shape) - 1)) for _ in range(2))
    rng = np.random.default_rng(0)
    run_both(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), [rng.standard_normal(shape)], rng)

def test_linear_matches_torch_on_sequences():
    mt.manual_seed(0)
    ours = mt.Linear(6, 4)
    theirs = torch.nn.Linear(6, 4).double()
    theirs.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 5, 6)).astype(np.float32)
    y = ours(mt.Tensor(x))
    ty = theirs(torch.tensor(x, dtype=torch.float64))
    y.backward(np.ones(y.shape)); ty.backward(torch.ones_like(ty))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs.get_parameter(name).grad.numpy(), rtol=1e-4, atol=1e-4)

def test_state_dict_file_round_trip(tmp_path):
    mt.manual_seed(0)
    model = mt.Sequential(mt.Linear(5, 4), mt.Linear(4, 2, bias=False))
    np.savez(tmp_path/"model.npz", **model.state_dict())
    mt.manual_seed(1)
    fresh = mt.Sequential(mt.Linear(5, 4), mt.Linear(4, 2, bias=False))
    with np.load(tmp_path/"model.npz") as f: fresh.load_state_dict(dict(f))
    for (n, p), (m, q) in zip(model.named_parameters(), fresh.named_parameters()):
        assert n == m and q.dtype == np.float32 and (p.data == q.data).all()

def test_manual_seed_reproduces_init_and_ignores_np_random_seed():
    mt.manual_seed(42); a = mt.Linear(3, 2).weight.data
    np.random.seed(0)
    mt.manual_seed(42); b = mt.Linear(3, 2).weight.data
    assert (a == b).all()

def test_bad_state_dict_errors_are_value_and_runtime_errors():
    layer = mt.Linear(3, 2)
    for bad in [{"weight": np.zeros((2, 3))}, {**layer.state_dict(), "bias": np.zeros(3)}]:
        with pytest.raises(ValueError): layer.load_state_dict(bad)
        with pytest.raises(RuntimeError): layer.load_state_dict(bad)

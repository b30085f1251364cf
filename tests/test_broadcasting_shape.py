"Property tests: broadcasting arithmetic and shape ops agree with torch on random shapes."
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
import microtorch as mt

torch = pytest.importorskip("torch")

@st.composite
def broadcast_pair(draw):
    "Two shapes that broadcast: start from one shape, then drop leading dims and set some sizes to 1."
    full = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    def variant():
        lead = draw(st.integers(0, len(full)))
        return tuple(1 if draw(st.booleans()) else n for n in full[lead:])
    return variant(), variant()

OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
fast = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@fast
@given(broadcast_pair(), st.sampled_from(sorted(OPS)), st.integers(0, 2**16))
def test_binary_ops_match_torch(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.uniform(0.5, 2, s) * rng.choice([-1, 1], s) for s in shapes)
    x, y = mt.Tensor(a, dtype=np.float64, requires_grad=True), mt.Tensor(b, dtype=np.float64, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, tout = OPS[op](x, y), OPS[op](tx, ty)
    g = rng.standard_normal(tout.shape)
    out.backward(g); tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad, ty.grad.numpy(), rtol=1e-10, atol=1e-12)

@fast
@given(broadcast_pair(), st.sampled_from(sorted(OPS)))
def test_float32_stays_float32(shapes, op):
    x, y = (mt.Tensor(np.ones(s), requires_grad=True) for s in shapes)
    out = OPS[op](x, y)
    out.backward(np.ones(out.shape))
    assert out.dtype == x.grad.dtype == y.grad.dtype == np.float32
    assert x.grad.shape == x.shape and y.grad.shape == y.shape

@fast
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.data())
def test_index_with_repeats_matches_torch(shape, data):
    "An integer index along the first axis (repeats allowed) gives torch's values and gradient."
    idx = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=0, max_size=6))
    a = np.random.default_rng(len(idx)).standard_normal(shape)
    x, tx = mt.Tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, tout = x[idx], tx[torch.tensor(idx, dtype=torch.long)]
    out.backward(np.ones(out.shape)); tout.backward(torch.ones(tout.shape, dtype=torch.float64))
    np.testing.assert_allclose(out.data, tout.detach().numpy())
    np.testing.assert_allclose(x.grad, tx.grad.numpy())

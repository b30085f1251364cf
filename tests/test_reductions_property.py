"Property tests: sum/mean/max/min/logsumexp over random shapes, axes and keepdims agree with torch."
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import microtorch as mt

torch = pytest.importorskip("torch")

@st.composite
def reduction_case(draw, ties=False):
    "A float64 array (small integers when `ties`, so equal values are common), an axis spec and keepdims."
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    data = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.uniform(-3, 3, shape)
    ndim = len(shape)
    if ndim == 0: axis = None
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        signed = tuple(a - ndim if draw(st.booleans()) else a for a in axes)   # mix negative axes in
        axis = draw(st.sampled_from([None, signed[0], signed]))
    return data, axis, draw(st.booleans()), rng.standard_normal(1)[0]

def compare(data, axis, keepdims, ours, theirs, scale):
    "Forward and gradient of our reduction vs torch's, with the same seed gradient."
    x = mt.Tensor(data, dtype=np.float64, requires_grad=True)
    out = ours(x, axis, keepdims)
    dims = tuple(range(data.ndim)) if axis is None else axis
    tx = torch.tensor(data, requires_grad=True)
    tout = theirs(tx, dims, keepdims)
    seed = np.full(out.shape, scale) + np.arange(out.size).reshape(out.shape)
    out.backward(seed)
    tout.backward(torch.tensor(seed).reshape(tout.shape))
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)

CASES = {
    'sum': (lambda x, a, k: x.sum(axis=a, keepdims=k), lambda t, d, k: t.sum(dim=d, keepdim=k)),
    'mean': (lambda x, a, k: x.mean(dim=a, keepdim=k), lambda t, d, k: t.mean(dim=d, keepdim=k)),
    'logsumexp': (lambda x, a, k: x.logsumexp(a, k), lambda t, d, k: torch.logsumexp(t, dim=d, keepdim=k)),
    'max': (lambda x, a, k: x.max(a, k), lambda t, d, k: torch.amax(t, dim=d, keepdim=k)),
    'min': (lambda x, a, k: x.min(dim=a, keepdim=k), lambda t, d, k: torch.amin(t, dim=d, keepdim=k)),
}

@pytest.mark.parametrize("name", ['sum', 'mean', 'logsumexp'])
@settings(max_examples=30, deadline=None)
@given(case=reduction_case())
def test_smooth_reductions_match_torch(name, case):
    compare(*case[:3], *CASES[name], case[3])

@pytest.mark.parametrize("name", ['max', 'min'])
@settings(max_examples=30, deadline=None)
@given(case=reduction_case(ties=True))
def test_max_min_split_ties_like_amax(name, case):
    compare(*case[:3], *CASES[name], case[3])

@settings(max_examples=30, deadline=None)
@given(case=reduction_case())
def test_float32_stays_float32(case):
    data, axis, keepdims, _ = case
    x = mt.Tensor(data, requires_grad=True)
    for op in (x.sum, x.mean, x.max, x.min, x.logsumexp):
        out = op(axis, keepdims)
        out.backward(np.ones(out.shape, np.float32))
        assert out.dtype == np.float32 and x.grad.dtype == np.float32 and x.grad.shape == x.shape

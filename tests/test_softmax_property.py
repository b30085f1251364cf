"Property tests: softmax, log_softmax and cross_entropy agree with PyTorch on random shapes, axes and values."
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import hypothesis.extra.numpy as hnp
import microtorch as mt

torch = pytest.importorskip("torch")

values = st.floats(-30, 30, allow_nan=False)
fast = settings(max_examples=30, deadline=None)

@st.composite
def array_and_axis(draw):
    "A float64 array of 1 to 4 dims, one of its axes, and a seed gradient of its shape."
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    x = draw(hnp.arrays(np.float64, shape, elements=values))
    scale = draw(st.sampled_from([1.0, 100.0]))            # 100x reaches logits in the thousands
    g = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1, 1)))
    return x * scale, axis, g

@fast
@given(array_and_axis(), st.sampled_from(["softmax", "log_softmax"]))
def test_softmax_ops_vs_torch(case, op):
    x, axis, g = case
    ours = mt.Tensor(x, dtype=np.float64, requires_grad=True)
    out = getattr(ours, op)(axis=axis)
    out.backward(g)
    theirs = torch.tensor(x, requires_grad=True)
    tout = getattr(theirs, op)(dim=axis)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-7, atol=1e-9)

@st.composite
def logits_and_targets(draw):
    n, c = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    x = draw(hnp.arrays(np.float64, (n, c), elements=values)) * draw(st.sampled_from([1.0, 100.0]))
    t = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return x, t

@fast
@given(logits_and_targets(), st.booleans())
def test_cross_entropy_vs_torch(case, as_float32):
    x, t = case
    dtype, tol = (np.float32, 1e-5) if as_float32 else (np.float64, 1e-9)
    ours = mt.Tensor(x, dtype=dtype, requires_grad=True)
    loss = mt.cross_entropy(ours, t)
    loss.backward()
    theirs = torch.tensor(x.astype(dtype), requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(theirs, torch.tensor(t))
    tloss.backward()
    assert loss.shape == () and loss.dtype == dtype and ours.grad.dtype == dtype
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=tol, atol=tol * 100)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=tol, atol=tol)

"""The public API contract (/work/shared/api.md), statement by statement, as an independent verifier sees it.

Only `import microtorch as mt` is used. Values and gradients are compared with PyTorch wherever it has
the same op; those tests skip (never fail) when torch is not installed.
"""
import re

import numpy as np
import pytest

import microtorch as mt

try:  # for hypothesis-based tests only; every test that needs torch calls pytest.importorskip itself
    from hypothesis import HealthCheck, given, settings, strategies as st
    from hypothesis.extra import numpy as hnp
    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover
    HAVE_HYPOTHESIS = False

T = mt.Tensor
ERRORS = (ValueError, RuntimeError)


# ----------------------------------------------------------------------------------------------------------------
# helpers

def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def torch_check(fn, torch_fn, *arrays, atol=1e-6, rtol=1e-5, check_grad=True, float32=True, seed=0):
    """Compare `fn` (microtorch) with `torch_fn` on float64 copies of `arrays`: values, gradients for a random
    seed gradient, output and gradient dtypes/shapes; then check that float32 inputs give float32 out/grads."""
    torch = pytest.importorskip("torch")
    arrays = [np.asarray(a, np.float64) for a in arrays]
    xs = [mt.Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, tout = fn(*xs), torch_fn(*txs)
    assert isinstance(out, mt.Tensor)
    assert out.shape == tuple(tout.shape), f"shape {out.shape} vs torch {tuple(tout.shape)}"
    assert out.dtype == np.float64, f"float64 in gave {out.dtype} out"
    np.testing.assert_allclose(out.data, tout.detach().numpy(), atol=atol, rtol=rtol, err_msg="value vs torch")
    if check_grad:
        g = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(g)
        tout.backward(torch.tensor(g))
        for i, (x, tx) in enumerate(zip(xs, txs)):
            tg = np.zeros(x.shape) if tx.grad is None else tx.grad.numpy()
            assert x.grad is not None, f"input {i} got no gradient"
            assert x.grad.shape == x.shape and x.grad.dtype == np.float64
            np.testing.assert_allclose(x.grad, tg, atol=atol, rtol=rtol, err_msg=f"grad of input {i} vs torch")
    if float32:
        xs32 = [mt.Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
        out32 = fn(*xs32)
        assert out32.dtype == np.float32, f"float32 in gave {out32.dtype} out"
        if check_grad:
            out32.backward(np.ones(out32.shape, np.float32))
            for x in xs32:
                assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.shape == x.shape
    return out


def squash(msg: str) -> str:
    return re.sub(r"\s+", "", msg)


def assert_clear_error(excinfo, *fragments):
    """The message is ours (not numpy's) and mentions each fragment (spaces ignored)."""
    msg = str(excinfo.value)
    assert "operands could not be broadcast" not in msg and "gufunc" not in msg, f"bare numpy message: {msg}"
    for f in fragments:
        assert squash(str(f)) in squash(msg), f"{f!r} not in error message {msg!r}"


# ----------------------------------------------------------------------------------------------------------------
# construction and dtypes

def test_import_exposes_public_names():
    for name in ["Tensor", "tensor", "Leaf", "no_grad", "Parameter", "Module", "Sequential", "Linear", "ReLU",
                 "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GELU", "Flatten", "Dropout",
                 "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "cross_entropy", "SGD", "Adam", "MNIST",
                 "DataLoader", "gradcheck"]:
        assert hasattr(mt, name), f"mt.{name} missing"


@pytest.mark.parametrize("data", [3, 2.5, [1, 2, 3], [[1.0, 2.0]], np.arange(3.0), np.ones((2, 2), np.float64),
                                  np.float64(1.5), np.ones(2, np.float32)])
def test_floating_and_python_inputs_become_float32(data):
    t = mt.Tensor(data)
    assert isinstance(t.data, np.ndarray) and t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.asarray(data, np.float32))


def test_tensor_function_same_as_class():
    t = mt.tensor([1, 2], requires_grad=True)
    assert isinstance(t, mt.Tensor) and t.dtype == np.float32 and t.requires_grad
    assert mt.tensor(np.arange(3)).dtype == np.arange(3).dtype
    assert mt.tensor([1.0], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("data", [1.5, [1, 2], np.ones(3), np.ones(3, np.float32)])
def test_dtype_float64_is_kept(data):
    t = mt.Tensor(data, dtype=np.float64)
    assert t.dtype == np.float64
    t = mt.Tensor(data, dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64


def test_explicit_float32_dtype():
    assert mt.Tensor(np.arange(3), dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("data", [True, [True, False], np.array([True, False])])
def test_bool_stays_bool(data):
    assert mt.Tensor(data).dtype == np.bool_


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_ndarray_kept_and_float32_when_requires_grad(dtype):
    a = np.arange(4, dtype=dtype)
    assert mt.Tensor(a).dtype == dtype
    g = mt.Tensor(a, requires_grad=True)
    assert g.dtype == np.float32 and g.requires_grad
    np.testing.assert_array_equal(g.data, [0, 1, 2, 3])


def test_from_another_tensor():
    a = mt.Tensor([1.0, 2.0])
    b = mt.Tensor(a)
    assert isinstance(b, mt.Tensor) and b.dtype == np.float32
    np.testing.assert_array_equal(b.data, a.data)
    assert mt.Tensor(mt.Tensor(np.arange(3))).dtype.kind == "i"


def test_from_object_with_array_interface():
    class Arr:
        def __array__(self, dtype=None, copy=None):
            return np.array([1.0, 2.0, 3.0], dtype=dtype or np.float64)
    t = mt.Tensor(Arr())
    assert t.dtype == np.float32 and t.shape == (3,)
    np.testing.assert_array_equal(t.data, [1, 2, 3])


def test_from_torch_tensor():
    torch = pytest.importorskip("torch")
    t = mt.Tensor(torch.arange(6, dtype=torch.float64).reshape(2, 3))
    assert t.dtype == np.float32 and t.shape == (2, 3) and isinstance(t.data, np.ndarray)
    np.testing.assert_array_equal(t.data, np.arange(6).reshape(2, 3))
    t = mt.Tensor(torch.ones(2, dtype=torch.float32), requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad
    assert mt.Tensor(torch.ones(2), dtype=np.float64).dtype == np.float64


# ----------------------------------------------------------------------------------------------------------------
# attributes

def test_attributes():
    t = mt.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert isinstance(t.data, np.ndarray)
    assert t.grad is None
    assert t.requires_grad is True
    assert t.shape == (2, 3) and isinstance(t.shape, tuple)
    assert t.ndim == 2 and isinstance(t.ndim, int)
    assert t.size == 6 and isinstance(t.size, int)
    assert t.dtype == np.float32
    assert t.is_leaf
    assert t.dependencies == [] or list(t.dependencies) == []
    assert mt.Tensor(3.0).shape == () and mt.Tensor(3.0).size == 1 and mt.Tensor(3.0).ndim == 0
    assert mt.Tensor([1.0]).requires_grad is False


def test_data_is_settable():
    t = mt.Tensor([1.0, 2.0], requires_grad=True)
    t.data = np.array([5.0, 6.0, 7.0], np.float32)
    assert t.shape == (3,) and t.size == 3
    np.testing.assert_array_equal(t.data, [5, 6, 7])
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad, [2, 2, 2])


def test_T_property():
    a = rand(2, 3)
    t = mt.Tensor(a)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.data, a.T.astype(np.float32))
    b = rand(2, 3, 4)
    np.testing.assert_array_equal(mt.Tensor(b).T.data, b.T.astype(np.float32))
    torch_check(lambda x: x.T, lambda x: x.permute(1, 0), a)


def test_dependencies_are_leaves():
    a = mt.Tensor([1.0, 2.0], requires_grad=True)
    b = mt.Tensor([3.0, 4.0], requires_grad=True)
    c = a * b
    assert isinstance(c.dependencies, list) and len(c.dependencies) == 2
    assert not c.is_leaf and a.is_leaf
    for dep, inp in zip(c.dependencies, (a, b)):
        assert isinstance(dep, mt.Leaf)
        value, grad_fn = dep
        assert value is inp and dep.value is inp and callable(dep.grad_fn)
    g = c.dependencies[0].grad_fn(np.ones(2, np.float32))
    np.testing.assert_array_equal(g, [3, 4])
    leaf = mt.Leaf(value=a, grad_fn=lambda g: g)
    assert leaf.value is a


def test_item_numpy_detach_len_repr():
    t = mt.Tensor([[1.5, 2.0], [3.0, 4.0]], requires_grad=True)
    assert len(t) == 2
    v = mt.Tensor([2.5]).item()
    assert v == 2.5 and isinstance(v, float)
    assert mt.Tensor(7.0).item() == 7.0
    n = t.numpy()
    assert isinstance(n, np.ndarray)
    np.testing.assert_array_equal(n, t.data)
    d = t.detach()
    assert isinstance(d, mt.Tensor) and not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.data, t.data)
    r = repr(t)
    assert isinstance(r, str) and "1.5" in r and "4" in r
    assert "requires_grad=True" in r


def test_detach_cuts_the_graph():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x.detach()).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [1, 2])


# ----------------------------------------------------------------------------------------------------------------
# backward

def test_backward_scalar_default_seed_and_0d_loss():
    x = mt.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (x * x).sum()
    assert loss.shape == () and loss.ndim == 0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2, 4, 6])


def test_backward_one_element_nonzero_dim_without_seed():
    x = mt.Tensor([[2.0]], requires_grad=True)
    (x * 3).backward()
    np.testing.assert_array_equal(x.grad, [[3]])


@pytest.mark.parametrize("seed", [2.0, np.array(2.0), mt.Tensor(2.0), np.float32(2.0)])
def test_backward_scalar_seeds(seed):
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward(seed)
    np.testing.assert_array_equal(x.grad, [4, 8])


@pytest.mark.parametrize("kind", ["ndarray", "Tensor", "float64"])
def test_backward_nonscalar_seed(kind):
    x = mt.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    seed = np.array([[1.0, 0.0], [0.5, 2.0]])
    y.backward({"ndarray": seed.astype(np.float32), "Tensor": mt.Tensor(seed), "float64": seed}[kind])
    np.testing.assert_array_equal(x.grad, 2 * seed)
    assert x.grad.dtype == np.float32


def test_backward_nonscalar_without_seed_raises():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ERRORS) as e:
        (x * 2).backward()
    assert_clear_error(e, "(2,)")


def test_backward_seed_wrong_shape_raises():
    x = mt.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ERRORS) as e:
        (x * 2).backward(np.ones((3, 2)))
    assert_clear_error(e, "(3, 2)", "(2, 3)")


def test_backward_without_grad_raises():
    x = mt.Tensor([1.0, 2.0])
    with pytest.raises(ERRORS) as e:
        (x * 2).sum().backward()
    assert re.search(r"requires?[_ ]grad", str(e.value)), str(e.value)


def test_gradients_accumulate_across_backward_calls():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [6, 6])


def test_intermediate_tensors_get_grad():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = (y * y).sum()
    z.backward()
    assert y.requires_grad
    np.testing.assert_allclose(y.grad, 2 * y.data)
    np.testing.assert_allclose(x.grad, 18 * x.data)
    assert z.grad is not None and float(np.asarray(z.grad)) == 1.0


def test_grad_accumulates_over_multiple_paths():
    x = mt.Tensor([1.0, -2.0], requires_grad=True)
    y = x * x + x * 2 + x  # x used in several places
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)


def test_grad_shape_and_dtype_with_broadcasting():
    a = mt.Tensor(np.ones((3, 1)), requires_grad=True)
    b = mt.Tensor(np.ones(4), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    assert a.grad.dtype == b.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 4))
    np.testing.assert_array_equal(b.grad, np.full(4, 3))
    c = mt.Tensor(np.ones((3, 1)), dtype=np.float64, requires_grad=True)
    (c * 2.0).sum().backward()
    assert c.grad.dtype == np.float64


def test_grad_fn_runs_once_per_node():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    calls = []
    (value, fn), = y.dependencies
    y.dependencies[0] = mt.Leaf(value, lambda g: calls.append(1) or fn(g))
    z = y * y + y * 3 + y
    z.sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad, (2 * np.exp([1.0, 2.0]) + 4) * np.exp([1.0, 2.0]), rtol=1e-5)


def test_deep_graph_no_recursion_limit():
    x = mt.Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1])


def test_tensor_zero_grad():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    x.zero_grad()
    assert x.grad is None or not np.any(x.grad)
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [5, 5])


# ----------------------------------------------------------------------------------------------------------------
# arithmetic

BINARY = {
    "add": (lambda a, b: a + b), "sub": (lambda a, b: a - b), "mul": (lambda a, b: a * b),
    "div": (lambda a, b: a / b),
}


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1, 3), (2, 1)), ((), (2, 2)), ((1,), (3, 1))])
def test_binary_tensor_tensor_vs_torch(op, shapes):
    a, b = rand(*shapes[0], seed=1), rand(*shapes[1], seed=2, low=0.5, high=2.0)
    torch_check(BINARY[op], BINARY[op], a, b)


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("other", [2.5, 3, np.array([0.5, 2.0, -1.5]), np.array([1.0, 2.0, 4.0], np.float64)])
def test_binary_with_scalar_or_array_on_both_sides(op, other):
    torch = pytest.importorskip("torch")
    a = rand(2, 3, low=0.5, high=2.0)
    fn = BINARY[op]
    for left in (True, False):
        x = mt.Tensor(a.astype(np.float32), requires_grad=True)
        tx = torch.tensor(a.astype(np.float32), requires_grad=True)
        to = torch.tensor(other, dtype=torch.float32) if isinstance(other, np.ndarray) else other
        out = fn(x, other) if left else fn(other, x)
        tout = fn(tx, to) if left else fn(to, tx)
        assert isinstance(out, mt.Tensor), f"{type(out)} for {'tensor op other' if left else 'other op tensor'}"
        assert out.dtype == np.float32, f"float32 tensor with {type(other).__name__} gave {out.dtype}"
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-6)
        out.sum().backward()
        tout.sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_unary_neg_vs_torch():
    torch_check(lambda a: -a, lambda a: -a, rand(2, 3))


@pytest.mark.parametrize("p", [2, 3, 0.5, -1.0, 0, 1])
def test_pow_scalar_exponent_vs_torch(p):
    torch_check(lambda a: a ** p, lambda a: a ** p, rand(2, 3, low=0.5, high=2.0))


def test_pow_float32_exponent_stays_float32():
    x = mt.Tensor([1.0, 4.0], requires_grad=True)
    y = x ** 0.5
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_pow_tensor_exponent_bonus_vs_torch():
    torch_check(lambda a, b: a ** b, lambda a, b: a ** b, rand(2, 3, low=0.5, high=2.0), rand(2, 3, seed=3))


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
@pytest.mark.parametrize("other", [2.0, np.array([1.0, 2.0, 4.0]), "tensor"])
def test_inplace_ops_change_data_without_tracking(op, other):
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    t = mt.Tensor(a.copy(), requires_grad=True)
    o = mt.Tensor([1.0, 2.0, 4.0]) if isinstance(other, str) else other
    raw = np.asarray(o.data if isinstance(o, mt.Tensor) else o)
    expected = {"+=": a + raw, "-=": a - raw, "*=": a * raw, "/=": a / raw}[op]
    before = t
    if op == "+=": t += o
    elif op == "-=": t -= o
    elif op == "*=": t *= o
    else: t /= o
    assert t is before, "in-place op must return the same tensor"
    np.testing.assert_allclose(t.data, expected, rtol=1e-6)
    assert t.dtype == np.float32 and t.shape == (2, 3)
    assert t.is_leaf and t.requires_grad
    (t * 1).sum().backward()
    np.testing.assert_array_equal(t.grad, np.ones((2, 3)))


def test_inplace_update_of_parameter_like_tensor():
    w = mt.Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w -= 0.1 * w.grad
    np.testing.assert_allclose(w.data, [0.8, 1.6], rtol=1e-6)
    assert w.is_leaf and w.requires_grad


# ----------------------------------------------------------------------------------------------------------------
# matmul

MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((2, 1, 3, 4), (5, 4, 2)), ((3,), (2, 3, 4)), ((2, 4, 3), (3,)),
                 ((2, 3, 4), (2, 4, 5))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
@pytest.mark.parametrize("style", ["@", "Tensor.matmul", "dot"])
def test_matmul_vs_torch(shapes, style):
    fn = {"@": lambda a, b: a @ b, "Tensor.matmul": lambda a, b: mt.Tensor.matmul(a, b),
          "dot": lambda a, b: a.dot(b)}[style]
    torch = pytest.importorskip("torch")
    torch_check(fn, torch.matmul, rand(*shapes[0], seed=1), rand(*shapes[1], seed=2))


def test_matmul_vector_vector_is_0d():
    out = mt.Tensor([1.0, 2.0]) @ mt.Tensor([3.0, 4.0])
    assert out.shape == () and out.item() == 11.0


def test_matmul_with_ndarray_either_side():
    a, b = rand(2, 3), rand(3, 4, seed=1)
    x = mt.Tensor(a, requires_grad=True)
    out = x @ b
    assert isinstance(out, mt.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-5)
    y = mt.Tensor(b, requires_grad=True)
    out2 = a @ y
    assert isinstance(out2, mt.Tensor) and out2.dtype == np.float32
    np.testing.assert_allclose(out2.data, a @ b, rtol=1e-5)
    out2.sum().backward()
    np.testing.assert_allclose(y.grad, a.T @ np.ones((2, 4)), rtol=1e-5)
    out3 = mt.Tensor.matmul(a, y)
    np.testing.assert_allclose(out3.data, a @ b, rtol=1e-5)


@pytest.mark.parametrize("shapes", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3, 4), (5, 4, 2)), ((2, 3), (2,))])
def test_matmul_shape_mismatch_error(shapes):
    a, b = mt.Tensor(np.ones(shapes[0])), mt.Tensor(np.ones(shapes[1]))
    with pytest.raises(ERRORS) as e:
        a @ b
    assert_clear_error(e, str(shapes[0]), str(shapes[1]))


# ----------------------------------------------------------------------------------------------------------------
# elementwise

UNARY = ["log", "exp", "tanh", "sigmoid", "relu", "abs", "sqrt", "sign"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_vs_torch(name):
    torch = pytest.importorskip("torch")
    low = 0.1 if name in ("log", "sqrt") else -3.0
    a = rand(3, 4, low=low, high=3.0)
    torch_check(lambda x: getattr(x, name)(), getattr(torch, name), a)


@pytest.mark.parametrize("name", ["relu", "abs", "sign"])
def test_unary_at_zero_matches_torch(name):
    torch = pytest.importorskip("torch")
    torch_check(lambda x: getattr(x, name)(), getattr(torch, name), np.array([-1.0, 0.0, 0.0, 2.0]))


def test_sigmoid_stable_for_large_inputs():
    x = mt.Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    y = x.sigmoid()
    np.testing.assert_allclose(y.data, [0, 0.5, 1])
    y.sum().backward()
    assert np.all(np.isfinite(x.grad))


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.5), (-0.5, None), (0.0, 1.0)])
def test_clip_vs_torch_including_bounds(lo, hi):
    torch = pytest.importorskip("torch")
    a = np.array([-1.0, -0.5, -0.2, 0.0, 0.3, 0.5, 1.0, 2.0])
    torch_check(lambda x: x.clip(lo, hi), lambda x: torch.clamp(x, lo, hi), a)
    torch_check(lambda x: x.clip(min_value=lo, max_value=hi), lambda x: torch.clamp(x, min=lo, max=hi), a)


# ----------------------------------------------------------------------------------------------------------------
# where / maximum / minimum / threshold / masked_fill

@pytest.mark.parametrize("cond_kind", ["Tensor", "ndarray", "list"])
def test_where_condition_kinds_and_broadcast_vs_torch(cond_kind):
    torch = pytest.importorskip("torch")
    cond = np.array([[True], [False], [True]])  # (3, 1)
    c = {"Tensor": mt.Tensor(cond), "ndarray": cond, "list": cond.tolist()}[cond_kind]
    torch_check(lambda a, b: mt.Tensor.where(c, a, b), lambda a, b: torch.where(torch.tensor(cond), a, b),
                rand(1, 4), rand(4, seed=1))


def test_where_condition_from_comparison_and_scalar_branch():
    torch = pytest.importorskip("torch")
    a = rand(2, 3)
    torch_check(lambda x: mt.Tensor.where(x > 0, x, 0.0), lambda x: torch.where(x > 0, x, torch.zeros((), dtype=x.dtype)), a)
    torch_check(lambda x: mt.Tensor.where(x > 0, 1.5, x), lambda x: torch.where(x > 0, torch.tensor(1.5, dtype=x.dtype), x), a)


def test_where_broadcasts_condition_larger_than_values():
    torch = pytest.importorskip("torch")
    cond = rand(2, 3, 4) > 0
    torch_check(lambda a, b: mt.Tensor.where(cond, a, b), lambda a, b: torch.where(torch.tensor(cond), a, b),
                rand(4), rand(3, 1, seed=1))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_gradient_vs_torch(name):
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    b = np.array([1.0, 1.0, 3.0])  # ties at (0,0), (0,2)
    torch_check(lambda x, y: getattr(mt.Tensor, name)(x, y), getattr(torch, name), a, b)
    # tie halves explicitly
    x, y = mt.Tensor([2.0], requires_grad=True), mt.Tensor([2.0], requires_grad=True)
    getattr(mt.Tensor, name)(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.5])
    np.testing.assert_array_equal(y.grad, [0.5])


def test_maximum_with_scalar_and_method_call():
    x = mt.Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    y = mt.Tensor.maximum(x, 0.0)
    np.testing.assert_array_equal(y.data, [0, 0, 2])
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 1])
    z = x.minimum(1.0)
    np.testing.assert_array_equal(z.data, [-1, 0, 1])


def test_threshold_vs_torch():
    torch = pytest.importorskip("torch")
    a = np.array([-1.0, 0.0, 0.1, 0.5, 1.0, 2.0])
    torch_check(lambda x: x.threshold(0.5, -3.0), lambda x: torch.nn.functional.threshold(x, 0.5, -3.0), a)
    torch_check(lambda x: x.threshold(0.0, 0.0), lambda x: torch.nn.functional.threshold(x, 0.0, 0.0), a)


@pytest.mark.parametrize("mask_kind", ["Tensor", "ndarray", "list"])
def test_masked_fill_mask_kinds_vs_torch(mask_kind):
    torch = pytest.importorskip("torch")
    mask = np.array([True, False, True])  # broadcasts over rows
    m = {"Tensor": mt.Tensor(mask), "ndarray": mask, "list": mask.tolist()}[mask_kind]
    torch_check(lambda x: x.masked_fill(m, -7.0), lambda x: x.masked_fill(torch.tensor(mask), -7.0), rand(2, 3))
    full = rand(2, 3) > 0
    torch_check(lambda x: x.masked_fill(full, 0.0), lambda x: x.masked_fill(torch.tensor(full), 0.0), rand(2, 3))


def test_masked_fill_keeps_dtype():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    assert x.masked_fill(x > 1, 0.0).dtype == np.float32
    assert x.masked_fill([True, False], 5).dtype == np.float32


# ----------------------------------------------------------------------------------------------------------------
# comparisons and hashing

@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_return_bool_tensor(op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    x = mt.Tensor(a, requires_grad=True)
    fn = {"<": lambda p, q: p < q, "<=": lambda p, q: p <= q, ">": lambda p, q: p > q,
          ">=": lambda p, q: p >= q, "==": lambda p, q: p == q, "!=": lambda p, q: p != q}[op]
    for other in (mt.Tensor(b, requires_grad=True), b, 2.0, 2):
        r = fn(x, other)
        assert isinstance(r, mt.Tensor), f"{op} with {type(other).__name__} gave {type(r)}"
        assert r.dtype == np.bool_ and r.requires_grad is False
        np.testing.assert_array_equal(r.data, fn(a, b))
    r = fn(2.0, x)  # reflected
    assert isinstance(r, mt.Tensor) and r.dtype == np.bool_
    np.testing.assert_array_equal(r.data, fn(2.0, a))


def test_tensors_are_hashable_by_identity():
    a, b = mt.Tensor([1.0]), mt.Tensor([1.0])
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    s = {a, b, a}
    assert len(s) == 2 and a in s
    assert hash(a) == hash(a)


# ----------------------------------------------------------------------------------------------------------------
# shape ops

def test_transpose_blog_style_vs_torch():
    a = rand(2, 3, 4)
    torch_check(lambda x: x.transpose(), lambda x: x.permute(2, 1, 0), a)
    torch_check(lambda x: x.transpose((1, 0, 2)), lambda x: x.permute(1, 0, 2), a)
    torch_check(lambda x: x.transpose(axes=(2, 0, 1)), lambda x: x.permute(2, 0, 1), a)
    torch_check(lambda x: x.transpose(None), lambda x: x.permute(2, 1, 0), a)


def test_transpose_torch_style_vs_torch():
    a = rand(2, 3, 4)
    torch_check(lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), a)
    torch_check(lambda x: x.transpose(-1, 1), lambda x: x.transpose(-1, 1), a)
    torch_check(lambda x: x.transpose(1, 0), lambda x: x.transpose(1, 0), rand(2, 3))


def test_permute_and_swapaxes_vs_torch():
    a = rand(2, 3, 4)
    torch_check(lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), a)
    torch_check(lambda x: x.permute(-1, 0, 1), lambda x: x.permute(-1, 0, 1), a)
    torch_check(lambda x: x.swapaxes(0, 2), lambda x: x.swapaxes(0, 2), a)
    torch_check(lambda x: x.swapaxes(-1, -2), lambda x: x.swapaxes(-1, -2), a)


def test_view_and_reshape_vs_torch():
    a = rand(2, 3, 4)
    torch_check(lambda x: x.view((6, 4)), lambda x: x.view(6, 4), a)
    torch_check(lambda x: x.view((-1,)), lambda x: x.view(-1), a)
    torch_check(lambda x: x.view(-1), lambda x: x.view(-1), a)
    torch_check(lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), a)
    torch_check(lambda x: x.reshape(24), lambda x: x.reshape(24), a)
    torch_check(lambda x: x.reshape((3, 8)), lambda x: x.reshape(3, 8), a)


def test_squeeze_unsqueeze_flatten_vs_torch():
    a = rand(2, 1, 3, 1)
    torch_check(lambda x: x.squeeze(), lambda x: x.squeeze(), a)
    torch_check(lambda x: x.squeeze(1), lambda x: x.squeeze(1), a)
    torch_check(lambda x: x.squeeze(axis=-1), lambda x: x.squeeze(-1), a)
    torch_check(lambda x: x.squeeze(0), lambda x: x.squeeze(0), a)  # size 2: unchanged, like torch
    torch_check(lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), a)
    torch_check(lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), a)
    torch_check(lambda x: x.unsqueeze(2), lambda x: x.unsqueeze(2), a)
    b = rand(2, 3, 4, 5)
    torch_check(lambda x: x.flatten(), lambda x: x.flatten(), b)
    torch_check(lambda x: x.flatten(1), lambda x: x.flatten(1), b)
    torch_check(lambda x: x.flatten(start_dim=2), lambda x: x.flatten(start_dim=2), b)


# ----------------------------------------------------------------------------------------------------------------
# indexing

INDEXES = {
    "int": (1, 1), "neg int": (-1, -1), "slice": (slice(1, 3), slice(1, 3)),
    "step slice": (slice(None, None, 2), slice(None, None, 2)),
    "tuple": ((1, slice(0, 2)), (1, slice(0, 2))), "tuple ints": ((0, 2), (0, 2)),
    "list": ([0, 2, 3], [0, 2, 3]), "list repeats": ([0, 0, 2, 0], [0, 0, 2, 0]),
    "int ndarray repeats": (np.array([3, 1, 3, 3]), [3, 1, 3, 3]),
    "2-D int ndarray": (np.array([[0, 1], [1, 1]]), [[0, 1], [1, 1]]),
    "fancy pair": ((np.array([0, 0, 1]), np.array([2, 2, 0])), ([0, 0, 1], [2, 2, 0])),
    "slice+list": ((slice(None), [1, 1, 0]), (slice(None), [1, 1, 0])),
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_indexing_vs_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = INDEXES[name]

    def to_torch(i):
        if isinstance(i, tuple): return tuple(to_torch(j) for j in i)
        if isinstance(i, list): return torch.tensor(i)
        return i
    torch_check(lambda x: x[ours], lambda x: x[to_torch(theirs)], rand(4, 3))


def test_indexing_with_int_tensor_repeats_accumulate():
    x = mt.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = mt.Tensor(np.array([0, 2, 0, 0]))
    y = x[idx]
    np.testing.assert_array_equal(y.data, [1, 3, 1, 1])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 1])


@pytest.mark.parametrize("kind", ["ndarray", "Tensor", "comparison", "list"])
def test_indexing_bool_mask_vs_torch(kind):
    torch = pytest.importorskip("torch")
    a = rand(3, 4)
    mask = a > 0
    if kind == "comparison":
        torch_check(lambda x: x[x > 0], lambda x: x[x > 0], a)
        return
    m = {"ndarray": mask, "Tensor": mt.Tensor(mask), "list": mask.tolist()}[kind]
    torch_check(lambda x: x[m], lambda x: x[torch.tensor(mask)], a)


def test_indexing_row_mask_vs_torch():
    torch = pytest.importorskip("torch")
    rows = np.array([True, False, True])
    torch_check(lambda x: x[rows], lambda x: x[torch.tensor(rows)], rand(3, 4))


# ----------------------------------------------------------------------------------------------------------------
# reductions

REDUCE_AXES = [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2)]


def _torch_reduce(name, axis, keep):
    torch = pytest.importorskip("torch")
    dim = tuple(range(3)) if axis is None else axis
    fn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}[name]
    return lambda x: fn(x, dim=dim, keepdim=keep)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", REDUCE_AXES)
@pytest.mark.parametrize("keep", [False, True])
def test_reductions_axis_keepdims_vs_torch(name, axis, keep):
    a = rand(2, 3, 4)
    torch_check(lambda x: getattr(x, name)(axis=axis, keepdims=keep), _torch_reduce(name, axis, keep), a)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions_torch_aliases_and_positional(name):
    a = rand(2, 3, 4)
    torch_check(lambda x: getattr(x, name)(dim=1, keepdim=True), _torch_reduce(name, 1, True), a)
    torch_check(lambda x: getattr(x, name)(dim=(0, 2)), _torch_reduce(name, (0, 2), False), a)
    torch_check(lambda x: getattr(x, name)(1, True), _torch_reduce(name, 1, True), a)
    torch_check(lambda x: getattr(x, name)(1), _torch_reduce(name, 1, False), a)
    torch_check(lambda x: getattr(x, name)(axis=1, keepdim=True), _torch_reduce(name, 1, True), a)
    torch_check(lambda x: getattr(x, name)(dim=1, keepdims=True), _torch_reduce(name, 1, True), a)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
def test_full_reduction_is_0d(name):
    x = mt.Tensor(rand(2, 3), requires_grad=True)
    out = getattr(x, name)()
    assert out.shape == () and out.ndim == 0 and out.dtype == np.float32
    assert isinstance(out.item(), float)
    out.backward()
    assert x.grad.shape == (2, 3) and x.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_split_evenly_like_amax(name):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    if name == "min": a = -a
    torch = pytest.importorskip("torch")
    fn = torch.amax if name == "max" else torch.amin
    torch_check(lambda x: getattr(x, name)(axis=1), lambda x: fn(x, dim=1), a)
    torch_check(lambda x: getattr(x, name)(), lambda x: fn(x), a)
    x = mt.Tensor(a, requires_grad=True)
    getattr(x, name)().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [0, 0, 0]])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_vs_torch(name):
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 5.0, 5.0, 0.0], [7.0, 2.0, 7.0, -1.0], [0.0, 0.0, 0.0, 0.0]])
    ta = torch.tensor(a)
    x = mt.Tensor(a, requires_grad=True)
    for kwargs, tkw in [({}, {}), ({"axis": 1}, {"dim": 1}), ({"dim": 0}, {"dim": 0}), ({"axis": -1}, {"dim": -1}),
                        ({"axis": 1, "keepdims": True}, {"dim": 1, "keepdim": True}),
                        ({"dim": 0, "keepdim": True}, {"dim": 0, "keepdim": True})]:
        r = getattr(x, name)(**kwargs)
        expected = getattr(torch, name)(ta, **tkw).numpy()
        assert isinstance(r, mt.Tensor) and r.dtype.kind in "iu" and not r.requires_grad, kwargs
        assert r.shape == expected.shape, (kwargs, r.shape, expected.shape)
        np.testing.assert_array_equal(r.data, expected)


@pytest.mark.parametrize("axis,keep", [(None, False), (0, False), (1, True), (-1, False), ((0, 1), False), ((0, 1), True)])
def test_logsumexp_vs_torch(axis, keep):
    torch = pytest.importorskip("torch")
    a = rand(3, 4)
    dim = (0, 1) if axis is None else axis
    torch_check(lambda x: x.logsumexp(axis, keep), lambda x: torch.logsumexp(x, dim=dim, keepdim=keep), a)
    torch_check(lambda x: x.logsumexp(axis=axis, keepdims=keep), lambda x: torch.logsumexp(x, dim=dim, keepdim=keep), a)
    torch_check(lambda x: x.logsumexp(dim=axis, keepdim=keep), lambda x: torch.logsumexp(x, dim=dim, keepdim=keep), a)


def test_logsumexp_stable():
    torch = pytest.importorskip("torch")
    a = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -999.0, -1001.0]])
    torch_check(lambda x: x.logsumexp(axis=1), lambda x: torch.logsumexp(x, dim=1), a)
    out = mt.Tensor(a).logsumexp(axis=1)
    assert np.all(np.isfinite(out.data))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, 2])
def test_softmax_vs_torch(name, axis):
    torch = pytest.importorskip("torch")
    a = rand(2, 3, 4)
    dim = -1 if axis is None else axis
    tfn = lambda x: getattr(torch, name)(x, dim=dim)
    if axis is None:
        torch_check(lambda x: getattr(x, name)(), tfn, a)
    else:
        torch_check(lambda x: getattr(x, name)(axis), tfn, a)
        torch_check(lambda x: getattr(x, name)(axis=axis), tfn, a)
        torch_check(lambda x: getattr(x, name)(dim=axis), tfn, a)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_numerically_stable(name):
    torch = pytest.importorskip("torch")
    a = np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 1e4]])
    out = torch_check(lambda x: getattr(x, name)(), lambda x: getattr(torch, name)(x, dim=-1), a)
    assert np.all(np.isfinite(out.data))
    y = getattr(mt.Tensor(a.astype(np.float32), requires_grad=True), name)()
    assert np.all(np.isfinite(y.data)) and y.dtype == np.float32


# ----------------------------------------------------------------------------------------------------------------
# no_grad

def test_no_grad_builds_no_graph():
    x = mt.Tensor([1.0, 2.0], requires_grad=True)
    with mt.no_grad():
        y = (x * 2 + 1).exp().sum()
        z = x @ x
        w = x[0]
    for t in (y, z, w):
        assert not t.requires_grad and t.dependencies == [] and t.is_leaf
    with pytest.raises(ERRORS):
        y.backward()
    y2 = (x * 2).sum()
    assert y2.requires_grad
    y2.backward()
    np.testing.assert_array_equal(x.grad, [2, 2])


def test_no_grad_nested_and_restored_after_exception():
    x = mt.Tensor([1.0], requires_grad=True)
    with mt.no_grad():
        with mt.no_grad():
            pass
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with pytest.raises(KeyError):
        with mt.no_grad():
            raise KeyError("boom")
    assert (x * 2).requires_grad


# ----------------------------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_broadcast_mismatch_error(op):
    a, b = mt.Tensor(np.ones((2, 3))), mt.Tensor(np.ones(4))
    with pytest.raises(ERRORS) as e:
        BINARY[{"+": "add", "-": "sub", "*": "mul", "/": "div"}[op]](a, b)
    assert_clear_error(e, "(2, 3)", "(4,)")


def test_other_shape_mismatch_errors():
    x = mt.Tensor(np.ones((2, 3)))
    with pytest.raises(ERRORS) as e:
        x.reshape(4, 2)
    assert_clear_error(e, "(2, 3)")
    with pytest.raises(ERRORS) as e:
        x.view((5,))
    assert_clear_error(e, "(2, 3)")
    with pytest.raises(ERRORS) as e:
        mt.Tensor.maximum(x, mt.Tensor(np.ones(4)))
    assert_clear_error(e, "(2, 3)", "(4,)")
    with pytest.raises(ERRORS) as e:
        mt.Tensor.where(np.ones((2, 3), bool), x, mt.Tensor(np.ones((5,))))
    assert_clear_error(e, "(5,)")
    with pytest.raises(ERRORS) as e:
        x.masked_fill(np.ones(4, bool), 0.0)
    assert_clear_error(e, "(4,)")


BAD_AXES = {  # id: (call on a (2, 3) tensor, the bad value the message must quote)
    "sum": (lambda x: x.sum(axis=2), "2"), "sum-tuple": (lambda x: x.sum(axis=(0, 5)), "5"),
    "mean": (lambda x: x.mean(axis=-3), "-3"), "max": (lambda x: x.max(axis=2), "2"),
    "min-dim": (lambda x: x.min(dim=7), "7"), "logsumexp": (lambda x: x.logsumexp(axis=2), "2"),
    "argmax": (lambda x: x.argmax(axis=2), "2"), "argmin": (lambda x: x.argmin(dim=-3), "-3"),
    "softmax": (lambda x: x.softmax(axis=2), "2"), "log_softmax": (lambda x: x.log_softmax(axis=-3), "-3"),
    "transpose-short": (lambda x: x.transpose((0,)), "(0,)"),
    "transpose-repeat": (lambda x: x.transpose((0, 0)), "(0, 0)"),
    "transpose-torch": (lambda x: x.transpose(0, 2), "2"), "permute-short": (lambda x: x.permute(0), "0"),
    "permute-bad": (lambda x: x.permute(1, 2), "2"), "swapaxes": (lambda x: x.swapaxes(0, 2), "2"),
    "unsqueeze": (lambda x: x.unsqueeze(3), "3"), "squeeze": (lambda x: x.squeeze(2), "2"),
    "flatten": (lambda x: x.flatten(2), "2"),
}


@pytest.mark.parametrize("name", list(BAD_AXES))
def test_bad_axis_errors(name):
    call, given_value = BAD_AXES[name]
    x = mt.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ERRORS) as e:
        call(x)
    msg = str(e.value)
    assert len(msg) > 30 and given_value in msg, msg            # says what was given ...
    assert re.search(r"valid|expect|range|dims|dimensions", msg), msg  # ... and what was expected


def test_linear_input_feature_mismatch_error():
    lin = mt.Linear(3, 2)
    with pytest.raises(ERRORS) as e:
        lin(mt.Tensor(np.ones((4, 5))))
    assert "5" in str(e.value) and "3" in str(e.value)


def test_loss_shape_errors():
    with pytest.raises(ERRORS) as e:
        mt.MSELoss()(mt.Tensor(np.ones((2, 3))), mt.Tensor(np.ones((3, 2))))
    assert_clear_error(e, "(2, 3)", "(3, 2)")
    with pytest.raises(ERRORS):
        mt.cross_entropy(mt.Tensor(np.ones((4, 3))), np.array([0, 1, 2]))


# ----------------------------------------------------------------------------------------------------------------
# nn: Parameter

def test_parameter_basics():
    p = mt.Parameter(3, 4)
    assert isinstance(p, mt.Tensor) and p.shape == (3, 4) and p.requires_grad and p.dtype == np.float32
    assert p.is_leaf and p.grad is None
    q = mt.Parameter(data=np.arange(6.0).reshape(2, 3))
    assert q.shape == (2, 3) and q.requires_grad and q.dtype == np.float32
    np.testing.assert_array_equal(q.data, np.arange(6).reshape(2, 3))
    assert mt.Parameter(5).shape == (5,)


@pytest.mark.parametrize("method", ["xavier", "he", "he_leaky", "normal", "uniform"])
def test_parameter_init_methods(method):
    p = mt.Parameter(200, 300, init_method=method)
    assert p.shape == (200, 300) and p.dtype == np.float32 and np.all(np.isfinite(p.data))
    assert p.data.std() > 0 and abs(p.data.mean()) < 0.05 * max(p.data.std(), 1e-3) + 0.01
    p2 = mt.Parameter(200, 300, init_method=method, gain=2.0)
    np.testing.assert_allclose(p2.data.std() / p.data.std(), 2.0, rtol=0.05)


def test_parameter_init_scales():
    fan_in, fan_out = 400, 100
    x = mt.Parameter(fan_out, fan_in, init_method="xavier").data
    bound = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(x).max() <= bound + 1e-6 and np.abs(x).max() > 0.9 * bound
    he = mt.Linear(fan_in, fan_out, init_method="he").weight.data
    np.testing.assert_allclose(he.std(), np.sqrt(2 / fan_in), rtol=0.05)   # kaiming fan_in, as torch
    leaky1 = mt.Parameter(fan_out, fan_in, init_method="he_leaky", alpha=1.0).data
    np.testing.assert_allclose(leaky1.std(), np.sqrt(1 / fan_in), rtol=0.05)
    leaky0 = mt.Parameter(fan_out, fan_in, init_method="he_leaky", alpha=0.0).data
    np.testing.assert_allclose(leaky0.std(), np.sqrt(2 / fan_in), rtol=0.05)


def test_parameter_unknown_init_method():
    with pytest.raises((ValueError, KeyError)) as e:
        mt.Parameter(2, 2, init_method="bogus")
    assert "bogus" in str(e.value)


# ----------------------------------------------------------------------------------------------------------------
# nn: Module

class Block(mt.Module):
    def __init__(self):
        self.fc1 = mt.Linear(4, 3)
        self.act = mt.ReLU()
        self.fc2 = mt.Linear(3, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Containers(mt.Module):
    def __init__(self):
        self.layers = [mt.Linear(2, 2), mt.Linear(2, 2)]
        self.pair = (mt.Linear(2, 1, bias=False),)
        self.heads = {"a": mt.Linear(1, 1)}
        self.scale = mt.Parameter(data=np.ones(1))
        self.shared = self.layers[0]  # duplicate reference
        self.not_a_param = mt.Tensor([1.0, 2.0])

    def forward(self, x):
        return x


def test_module_call_is_forward():
    m = Block()
    x = mt.Tensor(rand(5, 4))
    np.testing.assert_array_equal(m(x).data, m.forward(x).data)
    assert m(x).shape == (5, 2)


def test_named_parameters_custom_module():
    names = [n for n, _ in Block().named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


def test_named_parameters_sequential():
    m = mt.Sequential(mt.Linear(4, 3), mt.ReLU(), mt.Linear(3, 2))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    nested = mt.Sequential(mt.Sequential(mt.Linear(2, 2)), mt.Linear(2, 1))
    assert [n for n, _ in nested.named_parameters()] == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]


def test_parameters_recursive_containers_no_duplicates():
    m = Containers()
    params = m.parameters()
    assert len(params) == len({id(p) for p in params}) == 8  # 2+2 (list) + 1 (tuple) + 2 (dict) + scale
    assert all(isinstance(p, mt.Parameter) for p in params)
    names = dict(m.named_parameters())
    assert len(names) == 8
    assert "layers.0.weight" in names and "heads.a.bias" in names and "scale" in names and "pair.0.weight" in names
    assert m.params_count() == (4 + 2) * 2 + 2 + (1 + 1) + 1


def test_params_count():
    assert mt.Linear(3, 4).params_count() == 16
    assert mt.Linear(3, 4, bias=False).params_count() == 12
    assert mt.Sequential(mt.Linear(4, 3), mt.ReLU(), mt.Linear(3, 2)).params_count() == 15 + 8
    assert isinstance(mt.Linear(3, 4).params_count(), int)


def test_module_zero_grad():
    m = Block()
    m(mt.Tensor(rand(5, 4))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None or not np.any(p.grad) for p in m.parameters())


def test_train_eval_recurse():
    inner = mt.Sequential(mt.Linear(2, 2), mt.Dropout(0.5))
    m = mt.Sequential(inner, mt.ReLU())
    assert m.training and inner.training and inner[1].training
    m.eval()
    assert not m.training and not inner.training and not inner[1].training and not inner[0].training
    m.train()
    assert m.training and inner[1].training
    b = Block()
    b.eval()
    assert not b.fc1.training and not b.act.training
    c = Containers()
    c.eval()
    assert not c.layers[1].training and not c.heads["a"].training


def test_state_dict_roundtrip():
    a, b = Block(), Block()
    sd = a.state_dict()
    assert list(sd) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert sd["fc1.weight"].shape == (3, 4)
    b.load_state_dict(sd)
    x = mt.Tensor(rand(5, 4))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_errors():
    m = Block()
    sd = m.state_dict()
    bad = dict(sd)
    del bad["fc2.bias"]
    with pytest.raises((KeyError, ValueError, RuntimeError)):
        m.load_state_dict(bad)
    bad = dict(sd)
    bad["fc1.weight"] = np.ones((4, 3), np.float32)
    with pytest.raises(ERRORS) as e:
        m.load_state_dict(bad)
    assert "fc1.weight" in str(e.value)


def test_load_torch_state_dict_into_sequential():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    m = mt.Sequential(mt.Linear(4, 3), mt.ReLU(), mt.Linear(3, 2))
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rand(5, 4).astype(np.float32)
    np.testing.assert_allclose(m(mt.Tensor(x)).data, tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_module_repr_readable():
    r = repr(mt.Sequential(mt.Linear(2, 3), mt.ReLU(), mt.Dropout(0.25)))
    assert "Sequential" in r and "Linear" in r and "ReLU" in r and "Dropout" in r
    assert "in_features=2" in r and "out_features=3" in r and "0.25" in r
    assert "\n" in r
    rb = repr(Block())
    assert "Block" in rb and "fc1" in rb and "Linear" in rb
    assert "object at 0x" not in rb and "object at 0x" not in r


def test_sequential_forward_and_indexing():
    l1, l2 = mt.Linear(4, 3), mt.Linear(3, 2)
    s = mt.Sequential(l1, mt.Tanh(), l2)
    x = mt.Tensor(rand(5, 4))
    np.testing.assert_allclose(s(x).data, l2(l1(x).tanh()).data, rtol=1e-6)
    assert [id(p) for p in s.parameters()] == [id(p) for p in (l1.weight, l1.bias, l2.weight, l2.bias)]


# ----------------------------------------------------------------------------------------------------------------
# nn: Linear

def test_linear_shapes():
    lin = mt.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    assert isinstance(lin.weight, mt.Parameter) and isinstance(lin.bias, mt.Parameter)
    out = lin(mt.Tensor(np.ones((5, 4))))
    assert out.shape == (5, 3) and out.dtype == np.float32
    assert lin(mt.Tensor(np.ones((2, 5, 4)))).shape == (2, 5, 3)
    nb = mt.Linear(4, 3, bias=False)
    assert len(nb.parameters()) == 1 and nb(mt.Tensor(np.ones((5, 4)))).shape == (5, 3)


@pytest.mark.parametrize("shape", [(5, 4), (2, 5, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_vs_torch(shape, bias):
    torch = pytest.importorskip("torch")
    lin = mt.Linear(4, 3, bias=bias)
    w = lin.weight.data.astype(np.float64)
    b = lin.bias.data.astype(np.float64) if bias else None

    # Compare the module itself against torch's F.linear with the module's own weights.
    x = rand(*shape, seed=4).astype(np.float32)
    tw = torch.tensor(w.astype(np.float32), requires_grad=True)
    tb = torch.tensor(b.astype(np.float32), requires_grad=True) if bias else None
    tx = torch.tensor(x, requires_grad=True)
    xm = mt.Tensor(x, requires_grad=True)
    out = lin(xm)
    tout = torch.nn.functional.linear(tx, tw, tb)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(xm.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lin.weight.grad, tw.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert lin.weight.grad.dtype == np.float32 and lin.weight.grad.shape == (3, 4)
    if bias:
        np.testing.assert_allclose(lin.bias.grad, tb.grad.numpy(), rtol=1e-4, atol=1e-5)
        assert lin.bias.grad.shape == (3,)


# ----------------------------------------------------------------------------------------------------------------
# activation modules

def test_activation_modules_vs_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    a = rand(3, 4, 2)
    cases = [
        (mt.ReLU(), F.relu), (mt.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
        (mt.LeakyReLU(alpha=0.05), lambda x: F.leaky_relu(x, 0.05)), (mt.LeakyReLU(), lambda x: F.leaky_relu(x, 0.01)),
        (mt.Sigmoid(), torch.sigmoid), (mt.Tanh(), torch.tanh), (mt.Softmax(dim=1), lambda x: F.softmax(x, dim=1)),
        (mt.Softmax(0), lambda x: F.softmax(x, dim=0)), (mt.LogSoftmax(dim=-1), lambda x: F.log_softmax(x, dim=-1)),
        (mt.LogSoftmax(1), lambda x: F.log_softmax(x, dim=1)), (mt.GELU(), F.gelu),
        (mt.Flatten(), lambda x: torch.flatten(x, 1)), (mt.Flatten(start_dim=0), lambda x: torch.flatten(x, 0)),
    ]
    for module, tfn in cases:
        assert isinstance(module, mt.Module)
        torch_check(module, tfn, a)
        assert isinstance(repr(module), str)


def test_leaky_relu_at_zero_vs_torch():
    torch = pytest.importorskip("torch")
    torch_check(mt.LeakyReLU(0.1), lambda x: torch.nn.functional.leaky_relu(x, 0.1), np.array([-1.0, 0.0, 1.0]))


def test_activation_modules_have_no_parameters_and_train_eval():
    for m in (mt.ReLU(), mt.LeakyReLU(0.1), mt.Sigmoid(), mt.Tanh(), mt.Softmax(1), mt.LogSoftmax(1), mt.GELU(),
              mt.Flatten(), mt.Dropout(0.3)):
        assert m.parameters() == [] and m.params_count() == 0
        m.eval()
        assert m.training is False
        m.train()
        assert m.training is True


def test_dropout_train_mode():
    d = mt.Dropout(0.25)
    assert d.training
    x = mt.Tensor(np.full((200, 100), 2.0), requires_grad=True)
    y = d(x)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 2.0 / 0.75, rtol=1e-6)
    frac = (y.data == 0).mean()
    assert 0.22 < frac < 0.28
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.where(y.data == 0, 0, 1 / 0.75), rtol=1e-6)


def test_dropout_eval_identity_and_defaults():
    d = mt.Dropout(0.5)
    d.eval()
    x = mt.Tensor(rand(10, 10), requires_grad=True)
    y = d(x)
    np.testing.assert_array_equal(y.data, x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((10, 10)))
    d0 = mt.Dropout(0.0)
    np.testing.assert_array_equal(d0(x).data, x.data)
    y = mt.Dropout()(mt.Tensor(np.ones((100, 100))))
    assert 0.45 < (y.data == 0).mean() < 0.55 and set(np.unique(y.data)) <= {0.0, 2.0}


def test_dropout_in_sequential_respects_eval():
    m = mt.Sequential(mt.Linear(5, 5), mt.Dropout(0.9))
    m.eval()
    x = mt.Tensor(rand(4, 5))
    np.testing.assert_allclose(m(x).data, m[0](x).data)


# ----------------------------------------------------------------------------------------------------------------
# losses

@pytest.mark.parametrize("targets_kind", ["ndarray", "Tensor", "int32"])
def test_cross_entropy_vs_torch(targets_kind):
    torch = pytest.importorskip("torch")
    y = np.array([0, 2, 1, 2, 4])
    t = {"ndarray": y, "Tensor": mt.Tensor(y), "int32": y.astype(np.int32)}[targets_kind]
    ty = torch.tensor(y)
    a = rand(5, 5) * 3
    out = torch_check(lambda x: mt.cross_entropy(x, t), lambda x: torch.nn.functional.cross_entropy(x, ty), a)
    assert out.shape == ()
    torch_check(lambda x: mt.CrossEntropyLoss()(x, t), lambda x: torch.nn.CrossEntropyLoss()(x, ty), a)


def test_cross_entropy_large_logits_stable():
    torch = pytest.importorskip("torch")
    y = np.array([0, 1])
    a = np.array([[1000.0, -1000.0, 0.0], [500.0, 400.0, -300.0]])
    out = torch_check(lambda x: mt.cross_entropy(x, y), lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(y)), a)
    assert np.isfinite(out.item())


def test_nll_mse_bce_vs_torch():
    torch = pytest.importorskip("torch")
    y = np.array([1, 0, 3])
    a = rand(3, 4)
    torch_check(lambda x: mt.NLLLoss()(x.log_softmax(axis=1), y),
                lambda x: torch.nn.NLLLoss()(torch.log_softmax(x, 1), torch.tensor(y)), a)
    torch_check(lambda x: mt.NLLLoss()(x, mt.Tensor(y)), lambda x: torch.nn.NLLLoss()(x, torch.tensor(y)), a)
    target = rand(3, 4, seed=7)
    out = torch_check(lambda x: mt.MSELoss()(x, target), lambda x: torch.nn.MSELoss()(x, torch.tensor(target)), a)
    assert out.shape == ()
    torch_check(lambda x, t: mt.MSELoss()(x, t), lambda x, t: torch.nn.MSELoss()(x, t), a, target)
    p_target = (rand(3, 4, seed=8) > 0).astype(np.float64)
    torch_check(lambda x: mt.BCELoss()(x.sigmoid(), p_target),
                lambda x: torch.nn.BCELoss()(torch.sigmoid(x), torch.tensor(p_target)), a)
    torch_check(lambda x: mt.BCELoss()(x.sigmoid(), mt.Tensor(p_target)),
                lambda x: torch.nn.BCELoss()(torch.sigmoid(x), torch.tensor(p_target)), a)


def test_losses_are_0d_float32():
    x = mt.Tensor(rand(4, 3), requires_grad=True)
    y = np.array([0, 1, 2, 1])
    for loss in (mt.CrossEntropyLoss()(x, y), mt.cross_entropy(x, y), mt.NLLLoss()(x.log_softmax(), y),
                 mt.MSELoss()(x, np.zeros((4, 3))), mt.BCELoss()(x.sigmoid(), np.ones((4, 3)))):
        assert loss.shape == () and loss.dtype == np.float32 and loss.requires_grad


# ----------------------------------------------------------------------------------------------------------------
# optim

def _optim_run(make_ours, make_torch, steps=5):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0, b0 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    W, B = mt.Tensor(w0.copy(), requires_grad=True), mt.Parameter(data=b0.copy())
    tW, tB = torch.tensor(w0.copy(), requires_grad=True), torch.tensor(b0.copy(), requires_grad=True)
    opt, topt = make_ours([W, B]), make_torch([tW, tB])
    for step in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        loss = ((mt.Tensor(x) @ W + B).tanh() ** 2).mean() + (W * 0.3).sum()
        tloss = ((torch.tensor(x) @ tW + tB).tanh() ** 2).mean() + (tW * 0.3).sum()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        assert W.dtype == np.float32 and B.dtype == np.float32
        np.testing.assert_allclose(W.data, tW.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg=f"W after step {step + 1}")
        np.testing.assert_allclose(B.data, tB.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg=f"b after step {step + 1}")
    # zero_grad clears the gradients
    opt.zero_grad()
    assert all(p.grad is None or not np.any(p.grad) for p in (W, B))


SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.1, weight_decay=0.01),
               dict(lr=0.05, momentum=0.8, weight_decay=0.1), dict(lr=0.05, momentum=0.9, nesterov=True),
               dict(lr=0.05, momentum=0.7, weight_decay=0.05, nesterov=True)]


@pytest.mark.parametrize("cfg", SGD_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_sgd_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    _optim_run(lambda ps: mt.SGD(ps, **cfg), lambda ps: torch.optim.SGD(ps, **cfg))


def test_sgd_positional_lr():
    torch = pytest.importorskip("torch")
    _optim_run(lambda ps: mt.SGD(ps, 0.1, 0.9), lambda ps: torch.optim.SGD(ps, 0.1, 0.9))


ADAM_CONFIGS = [dict(), dict(lr=0.01), dict(lr=0.05, betas=(0.8, 0.9)), dict(lr=0.01, eps=1e-3),
                dict(lr=0.01, weight_decay=0.1), dict(lr=0.02, betas=(0.5, 0.99), eps=1e-6, weight_decay=0.01)]


@pytest.mark.parametrize("cfg", ADAM_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_adam_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    _optim_run(lambda ps: mt.Adam(ps, **cfg), lambda ps: torch.optim.Adam(ps, **cfg))


def test_optimizer_with_module_parameters():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm = torch.nn.Linear(3, 2)
    m = mt.Linear(3, 2)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    opt, topt = mt.Adam(m.parameters(), lr=0.1), torch.optim.Adam(tm.parameters(), lr=0.1)
    x = rand(8, 3).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    for _ in range(5):
        opt.zero_grad(); topt.zero_grad()
        mt.cross_entropy(m(mt.Tensor(x)), y).backward()
        torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step(); topt.step()
    np.testing.assert_allclose(m.weight.data, tm.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.bias.data, tm.bias.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_optimizer_step_builds_no_graph_and_skips_params_without_grad():
    w = mt.Tensor([1.0, 2.0], requires_grad=True)
    v = mt.Tensor([5.0], requires_grad=True)
    opt = mt.SGD([w, v], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [0.0, 0.0])
    np.testing.assert_array_equal(v.data, [5.0])
    assert w.is_leaf and w.requires_grad


# ----------------------------------------------------------------------------------------------------------------
# data

def _arrays(n=10):
    return np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n, dtype=np.int64)


def test_dataloader_arrays_tuple_in_order():
    x, y = _arrays()
    dl = mt.DataLoader((x, y), batch_size=4)
    assert len(dl) == 3
    batches = list(dl)
    assert len(batches) == 3
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    for xb, yb in batches:
        assert isinstance(xb, mt.Tensor) and isinstance(yb, mt.Tensor)
        assert xb.dtype == np.float32 and yb.dtype.kind in "iu"
        np.testing.assert_array_equal(xb.data[:, 0] / 3, yb.data)
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), y)
    assert len(list(dl)) == 3  # can iterate again


def test_dataloader_drop_last():
    x, y = _arrays()
    dl = mt.DataLoader((x, y), batch_size=4, drop_last=True)
    assert len(dl) == 2
    assert [b[0].shape[0] for b in dl] == [4, 4]
    assert len(mt.DataLoader((x, y), batch_size=5, drop_last=True)) == 2
    assert len(mt.DataLoader((x, y), batch_size=5)) == 2
    assert len(mt.DataLoader((x, y), batch_size=3)) == 4


def test_dataloader_shuffle_and_seed_determinism():
    x, y = _arrays(50)
    order = lambda dl: np.concatenate([yb.data for _, yb in dl])
    a = order(mt.DataLoader((x, y), batch_size=8, shuffle=True, seed=123))
    b = order(mt.DataLoader((x, y), batch_size=8, shuffle=True, seed=123))
    c = order(mt.DataLoader((x, y), batch_size=8, shuffle=True, seed=321))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, y)
    np.testing.assert_array_equal(np.sort(a), y)  # each example once
    dl = mt.DataLoader((x, y), batch_size=8, shuffle=True, seed=5)
    for xb, yb in dl:  # pairs stay aligned
        np.testing.assert_array_equal(xb.data[:, 0] / 3, yb.data)


def test_dataloader_shuffle_drop_last():
    x, y = _arrays(10)
    dl = mt.DataLoader((x, y), batch_size=4, shuffle=True, drop_last=True, seed=0)
    sizes = [xb.shape[0] for xb, _ in dl]
    assert sizes == [4, 4]


class ToyDataset:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 2), float(i), np.float32), i


def test_dataloader_dataset():
    dl = mt.DataLoader(ToyDataset(7), batch_size=3)
    assert len(dl) == 3
    batches = list(dl)
    assert [xb.shape for xb, _ in batches] == [(3, 2, 2), (3, 2, 2), (1, 2, 2)]
    for xb, yb in batches:
        assert isinstance(xb, mt.Tensor) and isinstance(yb, mt.Tensor)
        np.testing.assert_array_equal(xb.data[:, 0, 0], yb.data)
    np.testing.assert_array_equal(np.concatenate([yb.data for _, yb in batches]), np.arange(7))
    s1 = [yb.data.tolist() for _, yb in mt.DataLoader(ToyDataset(9), batch_size=2, shuffle=True, seed=4)]
    s2 = [yb.data.tolist() for _, yb in mt.DataLoader(ToyDataset(9), batch_size=2, shuffle=True, seed=4)]
    assert s1 == s2 and sorted(sum(s1, [])) == list(range(9))
    assert len(mt.DataLoader(ToyDataset(7), batch_size=3, drop_last=True)) == 2


# ----------------------------------------------------------------------------------------------------------------
# gradcheck

def test_gradcheck_true_on_success():
    a = mt.Tensor(rand(3, 4), requires_grad=True)
    b = mt.Tensor(rand(4, 2, seed=1), requires_grad=True)
    assert mt.gradcheck(lambda x, y: (x @ y).tanh(), a, b) is True
    assert mt.gradcheck(lambda x: x.softmax(axis=1), a) is True
    assert mt.gradcheck(lambda x: x.logsumexp(axis=0), a) is True
    assert mt.gradcheck(lambda x, y: x * y, a, mt.Tensor(rand(4, seed=2), requires_grad=True)) is True
    assert mt.gradcheck(lambda x, y: x * y, a, mt.Tensor(rand(4, seed=2), requires_grad=True), eps=1e-4) is True


def test_gradcheck_runs_in_float64():
    seen = []

    def fn(x):
        seen.append(x.dtype)
        return x * x
    mt.gradcheck(fn, mt.Tensor([1.0, 2.0], requires_grad=True))
    assert seen and all(d == np.float64 for d in seen), seen


def test_gradcheck_failure_names_input_and_element():
    a = mt.Tensor([0.5, 1.0, -0.2], requires_grad=True)
    b = mt.Tensor([0.1, -3.0, 0.5], requires_grad=True)
    with pytest.raises(AssertionError) as e:
        mt.gradcheck(lambda x, y: x + y * y.detach(), a, b)  # wrong gradient for y only
    msg = str(e.value)
    assert re.search(r"input\D{0,3}1\b|inputs\[1\]|argument 1", msg), msg
    assert re.search(r"\(1,\)|\[1\]", msg), msg  # worst element is index 1 (largest |y|)


# ----------------------------------------------------------------------------------------------------------------
# float64 end to end and float32 preservation

def test_float64_in_float64_out():
    x = mt.Tensor(rand(3, 4), dtype=np.float64, requires_grad=True)
    w = mt.Tensor(rand(4, 2), dtype=np.float64, requires_grad=True)
    out = ((x @ w).tanh().sigmoid() * 2.0 - 1.0) ** 2
    out = out.softmax().log_softmax(axis=0).logsumexp(axis=1).mean()
    assert out.dtype == np.float64
    out.backward()
    assert x.grad.dtype == np.float64 and w.grad.dtype == np.float64


def test_float32_constants_do_not_upcast():
    x = mt.Tensor(rand(3, 4), requires_grad=True)
    chain = [x + np.float64(1.5), x * np.ones(4), x - 1e-3, x / np.float64(3), x ** 2.0, 1.0 - x, np.ones((3, 4)) * x,
             x.clip(-0.5, 0.5), x.threshold(0.1, 0.0), x.masked_fill(x > 0, 1.5), mt.Tensor.where(x > 0, x, 0.25),
             x.mean(), x.sum(axis=0), x.max(), x.logsumexp(), x.softmax(), x.log_softmax(), x.abs().sqrt()]
    for i, t in enumerate(chain):
        assert t.dtype == np.float32, f"result {i} is {t.dtype}"
    total = sum(t.sum() for t in chain)
    total.backward()
    assert x.grad.dtype == np.float32


# ----------------------------------------------------------------------------------------------------------------
# a few randomized checks (hypothesis, small budgets)

if HAVE_HYPOTHESIS:
    _few = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

    @_few
    @given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
           st.sampled_from(list(BINARY)), st.integers(0, 1000))
    def test_property_broadcast_binary_vs_torch(shapes, op, seed):
        a = rand(*shapes.input_shapes[0], seed=seed)
        b = rand(*shapes.input_shapes[1], seed=seed + 1, low=0.5, high=2.0)
        torch_check(BINARY[op], BINARY[op], a, b, float32=False)

    @_few
    @given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), st.data())
    def test_property_reductions_vs_torch(shape, data):
        torch = pytest.importorskip("torch")
        axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda a: a % len(shape),
                                  min_size=1, max_size=len(shape)))
        keep = data.draw(st.booleans())
        name = data.draw(st.sampled_from(["sum", "mean", "max", "min", "logsumexp"]))
        a = np.round(rand(*shape, seed=len(axes)), 1)  # rounding creates ties for max/min
        tfn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin,
               "logsumexp": torch.logsumexp}[name]
        torch_check(lambda x: getattr(x, name)(axis=tuple(axes), keepdims=keep),
                    lambda x: tfn(x, dim=tuple(axes), keepdim=keep), a, float32=False)


# ----------------------------------------------------------------------------------------------------------------
# extra edge cases of the contract

def test_float32_tensor_with_integer_tensor_stays_float32():
    """api.md: results of ops on float32 tensors stay float32 (torch: float32 op int64 -> float32)."""
    x = mt.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    labels = mt.Tensor(np.array([0, 1, 2]))
    for out in (x + labels, x - labels, x * labels, x / (labels + 1), labels * x, labels - x):
        assert out.dtype == np.float32, f"float32 tensor with an int64 tensor gave {out.dtype}"
    (x * labels).sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_with_python_float_like_torch():
    """torch: int64 tensor * 2.5 -> float32 (the default float dtype), never float64."""
    torch = pytest.importorskip("torch")
    labels = mt.Tensor(np.array([0, 1, 2]))
    expected = (torch.tensor([0, 1, 2]) * 2.5).numpy()
    out = labels * 2.5
    assert out.dtype == expected.dtype, f"{out.dtype} vs torch {expected.dtype}"
    np.testing.assert_array_equal(out.data, expected)


def test_from_torch_tensor_that_requires_grad():
    """api.md: data may be anything with __array__, e.g. a torch tensor (torch.tensor(t) accepts this too)."""
    torch = pytest.importorskip("torch")
    src = torch.ones(2, 3, requires_grad=True)
    t = mt.Tensor(src)
    assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad


def test_load_state_dict_accepts_torch_tensors_and_mt_tensors():
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    tm = torch.nn.Linear(3, 2)
    m = mt.Linear(3, 2)
    m.load_state_dict(tm.state_dict())
    np.testing.assert_allclose(m.weight.data, tm.weight.detach().numpy())
    np.testing.assert_allclose(m.bias.data, tm.bias.detach().numpy())
    m2 = mt.Linear(3, 2)
    m2.load_state_dict({k: mt.Tensor(v) for k, v in m.state_dict().items()})
    np.testing.assert_array_equal(m2.weight.data, m.weight.data)
    assert m2.weight.dtype == np.float32 and m2.weight.requires_grad


def test_bce_loss_at_saturated_probabilities_vs_torch():
    torch = pytest.importorskip("torch")
    p = np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.9]])
    y = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    torch_check(lambda x: mt.BCELoss()(x, y), lambda x: torch.nn.BCELoss()(x, torch.tensor(y)), p, float32=False)


def test_parameters_are_hashable():
    p = mt.Parameter(2, 2)
    q = mt.Parameter(2, 2)
    d = {p: 1, q: 2}
    assert d[p] == 1 and d[q] == 2 and len({p, q, p}) == 2


def test_gradcheck_accepts_arrays_constants_and_tolerances():
    idx = np.array([0, 2, 2])
    a = rand(3, 2)
    assert mt.gradcheck(lambda x, i: x[i], mt.Tensor(a, requires_grad=True), idx) is True
    assert mt.gradcheck(lambda x: x.exp(), a) is True
    assert mt.gradcheck(lambda x: x.tanh(), mt.Tensor(a, requires_grad=True), eps=1e-4, atol=1e-4, rtol=1e-2) is True
    with pytest.raises(AssertionError) as e:
        mt.gradcheck(lambda x: x * x.detach(), mt.Tensor(a, requires_grad=True))
    assert re.search(r"input\D{0,3}0\b|inputs\[0\]|argument 0", str(e.value)), str(e.value)


def test_sum_of_tensors_with_builtin_sum_and_radd():
    xs = [mt.Tensor([1.0, 2.0], requires_grad=True) for _ in range(3)]
    total = sum(x * (i + 1) for i, x in enumerate(xs))
    total.sum().backward()
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(x.grad, [i + 1, i + 1])


def test_ndarray_on_the_left_of_comparisons_gives_tensor():
    x = mt.Tensor([1.0, 3.0])
    r = np.array([2.0, 2.0]) < x
    assert isinstance(r, mt.Tensor) and r.dtype == np.bool_
    np.testing.assert_array_equal(r.data, [False, True])


def test_permute_tuple_form_and_keyword_unsqueeze_squeeze():
    torch = pytest.importorskip("torch")
    a = rand(2, 1, 3)
    torch_check(lambda x: x.permute((2, 0, 1)), lambda x: x.permute(2, 0, 1), a)
    torch_check(lambda x: x.unsqueeze(dim=1), lambda x: x.unsqueeze(dim=1), a)
    torch_check(lambda x: x.squeeze(dim=1), lambda x: x.squeeze(dim=1), a)
    torch_check(lambda x: x.flatten(start_dim=0), lambda x: torch.flatten(x, start_dim=0), rand(4))


def test_int_tensor_requires_grad_gets_float32_grad():
    t = mt.Tensor(np.array([1, 2, 3]), requires_grad=True)
    (t * t).sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad, [2, 4, 6])


class TransformedDataset:
    """A dataset with `.data`/`.targets` arrays whose `__getitem__` transforms them (like a torchvision dataset
    with a transform): a DataLoader over a dataset must yield what `__getitem__` returns, as torch's does."""
    def __init__(self):
        self.data = np.arange(12, dtype=np.float32).reshape(6, 2)
        self.targets = np.arange(6, dtype=np.int64)

    def __len__(self):
        return 4  # only the first four examples are part of this dataset

    def __getitem__(self, i):
        if not 0 <= i < len(self): raise IndexError(i)
        return self.data[i] * 10, self.targets[i] + 100


def test_dataloader_dataset_uses_getitem_and_len():
    assert len(mt.DataLoader(TransformedDataset(), batch_size=4)) == 1
    batches = list(mt.DataLoader(TransformedDataset(), batch_size=3))
    assert [xb.shape[0] for xb, _ in batches] == [3, 1]
    ys = np.concatenate([yb.data for _, yb in batches])
    np.testing.assert_array_equal(ys, [100, 101, 102, 103])
    np.testing.assert_array_equal(batches[0][0].data, np.arange(6).reshape(3, 2) * 10)


def test_dataloader_dataset_items_may_be_tensors():
    class TensorItems(ToyDataset):
        def __getitem__(self, i):
            return mt.Tensor(np.full(3, float(i))), i
    xb, yb = next(iter(mt.DataLoader(TensorItems(5), batch_size=5)))
    assert xb.shape == (5, 3) and xb.dtype == np.float32
    np.testing.assert_array_equal(yb.data, np.arange(5))


def test_import_needs_numpy_only():
    import subprocess
    import sys
    code = ("import sys, microtorch as mt; heavy = [m for m in ('torch', 'fastcore', 'nbdev', 'matplotlib', 'tqdm') "
            "if m in sys.modules]; assert not heavy, heavy; mt.Tensor([1.0]).sum()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr

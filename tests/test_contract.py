"""The public API contract beyond single ops: dtypes, autograd semantics, grad modes, numpy interop,
namespaces, persistence, modules and error types. Where PyTorch has the same behaviour, the test runs it
too and compares (those halves skip when torch is not installed; the microtorch half always runs)."""
import pickle
import threading
import warnings

import numpy as np
import pytest

import microtorch as mt

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="compares with torch")


def as_numpy_dtype(torch_dtype) -> np.dtype:
    return torch.empty(0, dtype=torch_dtype).numpy().dtype


# ---------------------------------------------------------------------------------------------------------------
# dtypes

PYTHON_DATA = [3, 2.5, True, [1, 2, 3], [[1., 2.]], [1, 2.5], [True, False], [[1, 2], [3, 4]], []]
EXPECTED_DTYPES = [np.int64, np.float32, np.bool_, np.int64, np.float32, np.float32, np.bool_, np.int64, np.float32]


@pytest.mark.parametrize("data,expected", list(zip(PYTHON_DATA, EXPECTED_DTYPES)), ids=repr)
@pytest.mark.parametrize("make", ["Tensor", "tensor"])
def test_python_data_dtypes(data, expected, make):
    t = getattr(mt, make)(data)
    assert t.dtype == expected and isinstance(t.dtype, np.dtype)
    np.testing.assert_array_equal(t.data, np.asarray(data, expected))
    if torch is not None:
        assert as_numpy_dtype(torch.tensor(data).dtype) == expected


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.float32])
def test_numpy_arrays_keep_their_dtype(dtype):
    a = np.arange(4).astype(dtype)
    assert mt.tensor(a).dtype == dtype and mt.Tensor(a).dtype == dtype
    if torch is not None:
        assert as_numpy_dtype(torch.tensor(a).dtype) == dtype


def test_float64_arrays_become_float32_unless_asked():
    "The documented deviation: a float64 array gives float32, unless dtype=float64; from_numpy keeps float64."
    a = np.linspace(0, 1, 5)
    assert mt.tensor(a).dtype == np.float32 and mt.Tensor(a).dtype == np.float32
    assert mt.tensor(a, dtype=mt.float64).dtype == np.float64
    assert mt.Tensor(a, dtype=np.float64, requires_grad=True).dtype == np.float64
    assert mt.from_numpy(a).dtype == np.float64
    assert mt.tensor(np.float64(1.5)).dtype == np.float32


def test_dtype_names_are_numpy_dtypes():
    assert (mt.float32, mt.float64, mt.int64, mt.int32, mt.uint8, mt.bool) == tuple(
        map(np.dtype, ["float32", "float64", "int64", "int32", "uint8", "bool"]))
    assert (mt.float, mt.double, mt.long, mt.int) == (mt.float32, mt.float64, mt.int64, mt.int32)


def test_from_numpy_shares_memory_both_ways():
    a = np.zeros(3)
    t = mt.from_numpy(a)
    a[0] = 5.0
    assert t[0].item() == 5.0
    t.data[1] = 7.0
    assert a[1] == 7.0
    t.add_(1.0)
    np.testing.assert_array_equal(a, [6., 8., 1.])


def test_as_tensor_shares_and_numpy_shares():
    a = np.ones(3, np.float32)
    t = mt.as_tensor(a)
    a[0] = 3.0
    assert t[0].item() == 3.0
    n = t.numpy()
    t.add_(1.0)
    np.testing.assert_array_equal(n, [4., 2., 2.])


@pytest.mark.parametrize("make", ["Tensor", "tensor"])
def test_construction_copies_the_callers_array(make):
    a = np.ones(3, np.float32)
    t = getattr(mt, make)(a)
    a[0] = 9.0
    t.data[1] = 5.0
    np.testing.assert_array_equal(t.data, [1., 5., 1.])
    np.testing.assert_array_equal(a, [9., 1., 1.])


def test_training_never_writes_into_the_callers_array():
    w0 = np.ones((3, 2), np.float32)
    b0 = np.zeros(2, np.float32)
    w, b = mt.Tensor(w0, requires_grad=True), mt.nn.Parameter(mt.tensor(b0))
    opt = mt.optim.SGD([w, b], lr=0.1, momentum=0.9)
    x = mt.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    for _ in range(3):
        opt.zero_grad()
        ((x @ w + b) ** 2).mean().backward()
        opt.step()
    with mt.no_grad():
        w -= 0.1 * w.grad
        w.data += 1.0
    assert not np.array_equal(w.data, w0)
    np.testing.assert_array_equal(w0, np.ones((3, 2)))
    np.testing.assert_array_equal(b0, np.zeros(2))


@pytest.mark.parametrize("make", [lambda: mt.tensor([1, 2, 3], requires_grad=True),
                                  lambda: mt.Tensor(np.arange(3), requires_grad=True),
                                  lambda: mt.tensor([True], requires_grad=True),
                                  lambda: mt.arange(3).requires_grad_(),
                                  lambda: mt.zeros(2, dtype=mt.int64, requires_grad=True)],
                         ids=["tensor-ints", "Tensor-int-array", "bool", "requires_grad_", "zeros-int64"])
def test_requires_grad_on_integer_raises_runtime_error(make):
    with pytest.raises(RuntimeError, match="floating point"):
        make()
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.tensor([1, 2, 3], requires_grad=True)


def test_tensor_attributes_and_conversions():
    t = mt.tensor([[1.5, 2.0], [3.0, 4.0]], requires_grad=True)
    assert t.shape == (2, 2) and t.size() == (2, 2) and t.size(1) == 2 and t.size(-1) == 2
    assert t.numel() == 4 and t.dim() == 2 and t.ndim == 2 and len(t) == 2
    assert str(t.device) == "cpu" and mt.cuda.is_available() is False
    assert t.is_leaf and t.grad_fn is None and t.grad is None
    y = t * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert isinstance(mt.tensor([2.5]).item(), float) and isinstance(mt.tensor(3).item(), int)
    for conv, dtype in [("float", np.float32), ("double", np.float64), ("long", np.int64), ("int", np.int32), ("bool", np.bool_)]:
        assert getattr(t, conv)().dtype == dtype, conv
    assert t.to(mt.float64).dtype == np.float64 and t.to("cpu").dtype == np.float32 and t.type(mt.int64).dtype == np.int64
    assert t.cpu().shape == (2, 2) and t.contiguous().shape == (2, 2)
    c = t.clone()
    assert c.requires_grad and not c.is_leaf
    d = t.detach()
    assert not d.requires_grad and d.is_leaf
    d.data[0, 0] = 10.0                                     # detach shares the data
    assert t.data[0, 0] == 10.0
    assert mt.tensor([1.]).requires_grad_().requires_grad
    assert mt.is_tensor(t) and not mt.is_tensor(t.data)
    assert mt.allclose(t, t.detach() + 1e-9) and mt.equal(t, t.clone()) and not mt.equal(t, t * 2)


def test_data_is_the_array_and_settable():
    t = mt.tensor([1., 2.], requires_grad=True)
    assert isinstance(t.data, np.ndarray)
    t.data = np.array([5., 6., 7.], np.float32)
    assert t.shape == (3,) and t.numel() == 3 and t.is_leaf and t.requires_grad
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [2., 2., 2.])


def test_repr_and_hash():
    t = mt.tensor([1.5, 4.], requires_grad=True)
    r = repr(t)
    assert r.startswith("tensor(") and "1.5" in r and "requires_grad=True" in r
    assert "grad_fn=" in repr(t * 2)
    a, b = mt.tensor([1.]), mt.tensor([1.])
    assert len({a, b, a}) == 2 and {a: 1, b: 2}[b] == 2


@needs_torch
def test_tensor_from_a_torch_tensor():
    t = mt.tensor(torch.arange(6, dtype=torch.float32).reshape(2, 3))
    assert t.shape == (2, 3) and t.dtype == np.float32 and isinstance(t.data, np.ndarray)
    assert mt.tensor(torch.tensor([1, 2])).dtype == np.int64


INTEROP_DATA = [1.5, [[1., 2.], [3., 4.]], 7, [[1, 2, 3]], True, [True, False]]


@needs_torch
@pytest.mark.parametrize("data", INTEROP_DATA, ids=repr)
@pytest.mark.parametrize("to_torch", [torch.tensor, torch.as_tensor, lambda t: torch.from_numpy(t.numpy())] if torch else [],
                         ids=["tensor", "as_tensor", "from_numpy"])
def test_torch_reads_tensors_as_it_reads_arrays(data, to_torch):
    t = mt.tensor(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours, theirs = to_torch(t), torch.tensor(t.numpy())
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert torch.equal(ours, theirs)


@needs_torch
def test_torch_refuses_a_tensor_that_requires_grad_as_it_refuses_its_own():
    for lib in (mt, torch):
        with pytest.raises(BufferError, match="require gradient"):
            torch.from_dlpack(lib.tensor([1., 2.], requires_grad=True))


@needs_torch
@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bool] if torch else [], ids=str)
def test_tensor_from_a_torch_tensor_without_warnings(dtype, requires_grad):
    source = torch.arange(6).reshape(2, 3).to(dtype).requires_grad_(requires_grad and dtype.is_floating_point)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for make in (mt.tensor, mt.as_tensor):
            t = make(source)
            np.testing.assert_array_equal(t.data, source.detach().numpy())
            assert not t.requires_grad


def test_item_and_numpy_errors_like_torch():
    with pytest.raises(RuntimeError):
        mt.tensor([1., 2.]).item()
    with pytest.raises(RuntimeError):
        mt.tensor([1., 2.], requires_grad=True).numpy()
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.tensor([1., 2.]).item()
        with pytest.raises(RuntimeError):
            torch.tensor([1., 2.], requires_grad=True).numpy()


def test_constructors_dtype_requires_grad_generator():
    assert mt.zeros(2, 3).dtype == np.float32 and mt.ones((2, 3)).shape == (2, 3)
    assert mt.full((2,), 7).dtype == np.int64 and mt.full((2,), 7.).dtype == np.float32     # as torch.full
    assert mt.arange(5).dtype == np.int64 and mt.arange(0., 1., 0.25).dtype == np.float32
    assert mt.linspace(0, 1, 5).shape == (5,) and mt.eye(3).dtype == np.float32
    assert mt.randint(0, 10, (3, 4)).dtype == np.int64 and mt.randperm(5).dtype == np.int64
    assert sorted(mt.randperm(6).tolist()) == list(range(6))
    r = mt.randn(3, 4, requires_grad=True)
    assert r.requires_grad and r.is_leaf and r.dtype == np.float32
    assert mt.zeros_like(r).shape == (3, 4) and not mt.zeros_like(r).requires_grad
    assert mt.ones(2, dtype=mt.float64).dtype == np.float64
    g1, g2 = mt.Generator().manual_seed(3), mt.Generator().manual_seed(3)
    np.testing.assert_array_equal(mt.randn(4, generator=g1).data, mt.randn(4, generator=g2).data)
    mt.manual_seed(11); a, la = mt.rand(5), mt.nn.Linear(3, 2).weight.data.copy()
    np.random.seed(0)
    mt.manual_seed(11); b, lb = mt.rand(5), mt.nn.Linear(3, 2).weight.data.copy()
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(la, lb)
    probs = mt.tensor([[0., 1., 0.], [0.5, 0., 0.5]])
    s = mt.multinomial(probs, num_samples=1, generator=mt.Generator().manual_seed(0))
    assert s.shape == (2, 1) and s.dtype == np.int64 and s[0, 0].item() == 1 and s[1, 0].item() in (0, 2)


# ---------------------------------------------------------------------------------------------------------------
# autograd

def test_grad_is_a_tensor_of_the_leafs_shape_and_dtype():
    for dtype in (mt.float32, mt.float64):
        a = mt.ones((3, 1), dtype=dtype, requires_grad=True)
        b = mt.ones(4, dtype=dtype, requires_grad=True)
        (a * b).sum().backward()
        for t in (a, b):
            assert isinstance(t.grad, mt.Tensor) and t.grad.shape == t.shape and t.grad.dtype == dtype
            assert not t.grad.requires_grad and t.grad.grad_fn is None
        np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 4))
        np.testing.assert_array_equal(b.grad.data, np.full(4, 3))


def test_gradients_accumulate_on_leaves_only():
    x = mt.tensor([1., 2.], requires_grad=True)
    y = x * 3
    z = (y * y).sum()
    z.backward()
    assert y.grad is None and z.grad is None
    np.testing.assert_allclose(x.grad.data, [18., 36.])
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [21., 39.])
    c = mt.tensor([1., 1.])                                    # a constant gets nothing
    (x * c).sum().backward()
    assert c.grad is None


@needs_torch
def test_retain_grad_matches_torch():
    values = {}
    for L in (mt, torch):
        x = L.tensor([1., -2., 3.], requires_grad=True)
        h = (x * 2).tanh()
        h.retain_grad()
        y = (h * h * x).sum()
        y.retain_grad()
        y.backward()
        values[L.__name__] = [np.asarray(t.grad.detach() if L is torch else t.grad.data) for t in (x, h, y)]
    for ours, theirs in zip(values["microtorch"], values["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_second_backward_through_freed_graph_raises():
    x = mt.tensor([1., 2.], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        y.backward()
    if torch is not None:
        tx = torch.tensor([1., 2.], requires_grad=True)
        ty = (tx.exp() * tx).sum()
        ty.backward()
        with pytest.raises(RuntimeError, match=r"retain_graph=True"):
            ty.backward()


def test_retain_graph_allows_a_second_backward():
    x = mt.tensor([1., 2.], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first, rtol=1e-6)
    np.testing.assert_allclose(first, np.exp([1., 2.]) * (1 + np.array([1., 2.])), rtol=1e-6)


def test_backward_seed_rules_like_torch():
    x = mt.tensor([1., 2.], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(mt.ones(3))
    with pytest.raises(RuntimeError):
        mt.tensor([1., 2.]).sum().backward()
    (x * 2).backward(gradient=mt.tensor([1., 0.5]))
    np.testing.assert_array_equal(x.grad.data, [2., 1.])


def test_autograd_grad_leaves_dot_grad_alone():
    x = mt.tensor([1., 2., 3.], requires_grad=True)
    w = mt.tensor([0.5, -1., 2.], requires_grad=True)
    y = (x * x * w).sum()
    gx, gw = mt.autograd.grad(y, (x, w))
    assert x.grad is None and w.grad is None
    assert isinstance(gx, mt.Tensor) and gx.shape == x.shape
    np.testing.assert_allclose(gx.data, 2 * x.data * w.data)
    np.testing.assert_allclose(gw.data, x.data ** 2)
    if torch is not None:
        tx, tw = torch.tensor([1., 2., 3.], requires_grad=True), torch.tensor([0.5, -1., 2.], requires_grad=True)
        tgx, _ = torch.autograd.grad((tx * tx * tw).sum(), (tx, tw))
        np.testing.assert_allclose(gx.data, tgx.numpy())


def test_autograd_grad_allow_unused():
    x, unused = mt.tensor([1., 2.], requires_grad=True), mt.tensor([3.], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        mt.autograd.grad((x * x).sum(), (x, unused))
    gx, gu = mt.autograd.grad((x * x).sum(), (x, unused), allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.data, [2., 4.])


def test_autograd_grad_create_graph_gives_second_derivatives():
    x = mt.tensor([0.5, -1., 2.], requires_grad=True)
    (g,) = mt.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (h,) = mt.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data, rtol=1e-6)


def test_each_grad_fn_runs_once_and_deep_graphs_work():
    calls = []

    def double(t):
        "An op of our own through the engine's `from_op`, counting how often its gradient function runs."
        return mt.Tensor.from_op(t.data * 2, (t, lambda g: calls.append(1) or g * 2), saved=())
    x = mt.tensor([1., 2.], requires_grad=True)
    y = double(x)
    (y * y + y * 3 + y).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad.data, 2 * (2 * y.data + 4))
    x = mt.tensor([1.], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.])
    z = x.exp()
    w = z * z + z * 3 + z        # z used three times
    w.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1. + (2 * np.e + 4) * np.e], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# grad modes

def test_no_grad_context_and_decorators():
    x = mt.tensor([1., 2.], requires_grad=True)
    with mt.no_grad():
        y = x * 2
        assert not mt.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and mt.is_grad_enabled()

    @mt.no_grad()
    def called(t): return t * 2

    @mt.no_grad
    def bare(t): return t * 2
    assert not called(x).requires_grad and not bare(x).requires_grad
    assert (x * 2).requires_grad
    with pytest.raises(KeyError):
        with mt.no_grad():
            raise KeyError("restored after an exception")
    assert mt.is_grad_enabled()


def test_enable_grad_and_set_grad_enabled():
    x = mt.tensor([1.], requires_grad=True)
    with mt.no_grad():
        with mt.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with mt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    mt.set_grad_enabled(False)
    try:
        assert not mt.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        mt.set_grad_enabled(True)
    assert mt.is_grad_enabled()

    @mt.enable_grad()
    def inside(t): return t * 2
    with mt.no_grad():
        assert inside(x).requires_grad
    assert mt.autograd.no_grad is mt.no_grad and mt.autograd.enable_grad is mt.enable_grad


def test_grad_mode_is_per_thread_with_overlapping_no_grad():
    "Thread A enters no_grad, B enters, A leaves, B leaves: both end with grad mode on, and graphs work."
    steps = [threading.Event() for _ in range(4)]
    result, errors = {}, []

    def worker(name, enter_after, signal_entered, exit_after, signal_exited):
        try:
            x = mt.tensor([1.], requires_grad=True)
            if enter_after is not None: steps[enter_after].wait(5)
            with mt.no_grad():
                steps[signal_entered].set()
                steps[exit_after].wait(5)
                inside = (x * 2).requires_grad
            steps[signal_exited].set()
            result[name] = (inside, mt.is_grad_enabled(), (x * 2).requires_grad)
        except Exception as e:  # pragma: no cover
            errors.append(e)
    a = threading.Thread(target=worker, args=("A", None, 0, 1, 2))   # enters first, leaves when B is inside
    b = threading.Thread(target=worker, args=("B", 0, 1, 2, 3))      # enters after A, leaves after A left
    a.start(); b.start(); a.join(10); b.join(10)
    assert not errors and result == {"A": (False, True, True), "B": (False, True, True)}, (result, errors)
    assert mt.is_grad_enabled()


def test_one_threads_no_grad_does_not_disable_anothers_graph():
    inside, done, seen = threading.Event(), threading.Event(), {}

    def quiet():
        with mt.no_grad():
            inside.set()
            done.wait(5)

    t = threading.Thread(target=quiet)
    t.start()
    inside.wait(5)
    x = mt.tensor([1., 2.], requires_grad=True)
    y = (x * x).sum()
    seen["enabled"], seen["requires_grad"] = mt.is_grad_enabled(), y.requires_grad
    done.set(); t.join(10)
    assert seen == {"enabled": True, "requires_grad": True}
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2., 4.])


# ---------------------------------------------------------------------------------------------------------------
# numpy interop

@pytest.mark.parametrize("ufunc", [np.exp, np.tanh, np.negative, np.sqrt])
def test_numpy_ufunc_on_grad_tensor_is_differentiated_or_refused(ufunc):
    x = mt.tensor([0.5, 1., 2.], requires_grad=True)
    try:
        y = ufunc(x)
    except (TypeError, RuntimeError):
        return                                                   # refused: allowed
    assert isinstance(y, mt.Tensor) and y.requires_grad, f"{ufunc.__name__} silently detached: {type(y).__name__}"
    y.sum().backward()
    expected = {"exp": np.exp(x.data), "tanh": 1 - np.tanh(x.data) ** 2, "negative": -np.ones(3),
                "sqrt": 0.5 / np.sqrt(x.data)}[ufunc.__name__]
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-6)


def test_numpy_functions_on_tensors():
    x = mt.tensor([[1., 2.], [3., 4.]])
    s = np.sum(x)
    assert float(s) == 10.0
    np.testing.assert_allclose(np.exp(x), np.exp(x.data))
    np.testing.assert_array_equal(np.asarray(x), x.data)
    assert np.mean(x) == 2.5 and np.array(x).dtype == np.float32
    w = mt.tensor([1., 2.], requires_grad=True)
    total = np.sum(w)
    if isinstance(total, mt.Tensor) and total.requires_grad:   # differentiated ...
        total.backward()
        np.testing.assert_array_equal(w.grad.data, [1., 1.])
    else:                                                        # ... or a plain number, never a detached tensor
        assert not isinstance(total, mt.Tensor) and float(total) == 3.0


def test_array_on_the_left_gives_a_tensor():
    x = mt.tensor([1., 3.], requires_grad=True)
    for r in (np.array([2., 2.]) + x, np.array([2., 2.]) * x, np.array([2., 2.]) < x):
        assert isinstance(r, mt.Tensor)
    (np.array([2., 5.]) * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2., 5.])


# ---------------------------------------------------------------------------------------------------------------
# namespaces

def test_namespaces_like_torch():
    import microtorch.nn.functional as F
    import microtorch.optim.lr_scheduler as lr_scheduler
    from microtorch.utils.data import DataLoader, Dataset, TensorDataset, Subset, random_split
    from microtorch.testing import gradcheck, check_op
    import microtorch.nn.init as init
    import microtorch.nn.utils as nn_utils
    assert mt.nn.functional is F and callable(F.cross_entropy) and callable(F.softmax)
    assert callable(lr_scheduler.StepLR) and callable(DataLoader) and callable(gradcheck) and callable(check_op)
    assert callable(init.kaiming_uniform_) and callable(nn_utils.clip_grad_norm_)
    for name in ["where", "matmul", "softmax", "cat", "stack", "exp", "tanh", "sum", "max", "log_softmax"]:
        f = getattr(mt, name)
        assert callable(f) and not isinstance(f, type(mt)), f"mt.{name} is {f!r}"
    assert isinstance(mt.__doc__, str) and len(mt.__doc__) > 20
    for name in ["Module", "Parameter", "Linear", "Embedding", "LayerNorm", "Sequential", "ModuleList", "ModuleDict",
                 "CrossEntropyLoss", "Flatten", "Unflatten", "Identity"]:
        assert hasattr(mt.nn, name), f"mt.nn.{name} missing"
    for name in ["SGD", "Adam", "AdamW", "Optimizer"]:
        assert hasattr(mt.optim, name), f"mt.optim.{name} missing"
    assert all(callable(c) for c in (Dataset, TensorDataset, Subset, random_split))


def test_where_matmul_softmax_functions_work():
    a = mt.tensor([[1., -2.], [3., 4.]])
    np.testing.assert_array_equal(mt.where(a > 0, a, 0.).data, [[1., 0.], [3., 4.]])
    np.testing.assert_array_equal(mt.matmul(a, a).data, a.data @ a.data)
    np.testing.assert_allclose(mt.softmax(a, dim=1).data.sum(1), [1., 1.], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# in-place on leaves

def test_inplace_on_a_leaf_that_requires_grad_raises_unless_no_grad():
    w = mt.tensor([1., 2.], requires_grad=True)
    for update in (lambda: w.add_(1.), lambda: w.mul_(2.), lambda: w.zero_(), lambda: w.fill_(1.)):
        with pytest.raises(RuntimeError, match="leaf"):
            update()
    with pytest.raises(RuntimeError):
        w -= 1.0
    if torch is not None:
        tw = torch.tensor([1., 2.], requires_grad=True)
        with pytest.raises(RuntimeError):
            tw -= 1.0
    (w * w).sum().backward()
    with mt.no_grad():
        w -= 0.1 * w.grad
        w.clamp_(0.85, 1.5)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_allclose(w.data, [0.85, 1.5], rtol=1e-6)
    w.data += 1.0                                                 # .data is the array: no check, no graph
    np.testing.assert_allclose(w.data, [1.85, 2.5], rtol=1e-6)


def test_inplace_methods_on_plain_tensors():
    t = mt.tensor([1., 2., 3.])
    assert t.add_(1.) is t and t.sub_(0.5) is t and t.mul_(2.) is t and t.div_(4.) is t
    np.testing.assert_allclose(t.data, [0.75, 1.25, 1.75])
    t.copy_(mt.tensor([5., 6., 7.])); np.testing.assert_array_equal(t.data, [5., 6., 7.])
    t.clamp_(5.5, 6.5); np.testing.assert_array_equal(t.data, [5.5, 6., 6.5])
    t.fill_(2.); np.testing.assert_array_equal(t.data, [2., 2., 2.])
    t.zero_(); np.testing.assert_array_equal(t.data, [0., 0., 0.])
    assert t.dtype == np.float32


# ---------------------------------------------------------------------------------------------------------------
# modules

def net_class(lib):
    "The same small network with containers and a buffer, written against `lib` (microtorch or torch)."
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lib.nn.Linear(4, 3)
            self.act = lib.nn.ReLU()
            self.blocks = lib.nn.ModuleList([lib.nn.Linear(3, 3), lib.nn.Linear(3, 3)])
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(3, 2)})
            self.register_buffer("scale", lib.ones(2))

        def forward(self, x):
            h = self.act(self.fc1(x))
            for b in self.blocks: h = b(h)
            return self.heads["a"](h) * self.scale
    return Net


Net = net_class(mt)


@needs_torch
def test_module_names_and_state_dict_keys_like_torch():
    ours, theirs = Net(), net_class(torch)()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    ours.load_state_dict({k: mt.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(mt.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_module_train_eval_zero_grad_apply_repr():
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert net.blocks[1].training
    net(mt.ones(2, 4)).sum().backward()
    assert all(isinstance(p.grad, mt.Tensor) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen.count("Linear") == 4 and seen[-1] == "Net"
    r = repr(net)
    assert "Net(" in r and "(fc1): Linear(in_features=4, out_features=3, bias=True)" in r and "object at 0x" not in r
    assert net.double() is net and net.fc1.weight.dtype == np.float64
    assert net.float().fc1.weight.dtype == np.float32
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


@needs_torch
def test_load_state_dict_errors_like_torch():
    for L in (mt, torch):
        lin = L.nn.Linear(3, 2)
        full = lin.state_dict()
        missing = {"weight": full["weight"]}
        wrong_shape = {"weight": L.ones(3, 3), "bias": full["bias"]}
        unexpected = {**full, "extra": L.ones(1)}
        for bad in (missing, wrong_shape, unexpected):
            with pytest.raises(RuntimeError):
                lin.load_state_dict(bad)
        result = lin.load_state_dict(unexpected, strict=False)
        assert list(result.unexpected_keys) == ["extra"] and list(result.missing_keys) == []


# ---------------------------------------------------------------------------------------------------------------
# save / load

def test_save_load_round_trip(tmp_path):
    mt.manual_seed(0)
    model = mt.nn.Sequential(mt.nn.Linear(3, 4), mt.nn.ReLU(), mt.nn.Linear(4, 2))
    opt = mt.optim.Adam(model.parameters(), lr=0.01)
    model(mt.ones(2, 3)).sum().backward()
    opt.step()
    obj = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "lr": 0.5, "note": "hi",
           "flags": [True, 2, (1, 2)], "array": np.arange(4, dtype=np.int32), "t64": mt.ones(2, dtype=mt.float64),
           "labels": mt.tensor([1, 2, 3])}
    path = tmp_path / "checkpoint.pt"
    mt.save(obj, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]         # nothing left behind
    back = mt.load(path, weights_only=True)
    assert back["epoch"] == 3 and back["lr"] == 0.5 and back["note"] == "hi"
    assert back["flags"][0] is True and back["flags"][1] == 2 and tuple(back["flags"][2]) == (1, 2)
    assert back["labels"].dtype == np.int64 and back["t64"].dtype == np.float64
    np.testing.assert_array_equal(np.asarray(back["array"]), np.arange(4))
    assert np.asarray(back["array"]).dtype == np.int32
    fresh = mt.nn.Sequential(mt.nn.Linear(3, 4), mt.nn.ReLU(), mt.nn.Linear(4, 2))
    fresh.load_state_dict(back["model"])
    for (n, p), (m, q) in zip(model.named_parameters(), fresh.named_parameters()):
        assert n == m and q.dtype == np.float32
        np.testing.assert_array_equal(p.data, q.data)
    opt2 = mt.optim.Adam(fresh.parameters(), lr=0.01)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.state_dict()["param_groups"][0]["lr"] == 0.01
    mt.save(model.state_dict(), str(tmp_path / "as-str.pt"))                          # str paths too
    assert set(mt.load(str(tmp_path / "as-str.pt"))) == set(model.state_dict())


class Boom:
    "A pickle payload that would create a file if it were ever unpickled."
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (open, (self.path, "w"))


@pytest.mark.parametrize("kind", ["truncated", "garbage", "pickle", "empty"])
def test_load_refuses_corrupt_and_foreign_files(tmp_path, kind):
    good = tmp_path / "good.pt"
    mt.save({"w": mt.ones(3)}, good)
    bad = tmp_path / "bad.pt"
    marker = tmp_path / "pwned"
    if kind == "truncated": bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    elif kind == "garbage": bad.write_bytes(bytes(range(256)) * 4)
    elif kind == "pickle": bad.write_bytes(pickle.dumps({"w": Boom(marker)}))
    else: bad.write_bytes(b"")
    with pytest.raises((ValueError, RuntimeError)) as e:
        mt.load(bad, weights_only=True)
    assert len(str(e.value)) > 10
    assert not marker.exists(), "loading executed code from the file"


# ---------------------------------------------------------------------------------------------------------------
# error types: the same code must raise the exception type torch raises

ERROR_CASES = {
    "sum-bad-dim": lambda L, a: a.sum(dim=2),
    "mean-bad-dim": lambda L, a: a.mean(-3),
    "max-bad-dim": lambda L, a: a.max(2),
    "argmax-bad-dim": lambda L, a: a.argmax(dim=2),
    "softmax-bad-dim": lambda L, a: a.softmax(2),
    "log_softmax-bad-dim": lambda L, a: L.log_softmax(a, dim=-3),
    "logsumexp-bad-dim": lambda L, a: a.logsumexp(5),
    "std-bad-dim": lambda L, a: a.std(2),
    "norm-bad-dim": lambda L, a: a.norm(dim=2),
    "transpose-bad-dim": lambda L, a: a.transpose(0, 2),
    "squeeze-bad-dim": lambda L, a: a.squeeze(3),
    "unsqueeze-bad-dim": lambda L, a: a.unsqueeze(4),
    "flatten-bad-dim": lambda L, a: a.flatten(3),
    "split-bad-dim": lambda L, a: a.split(2, dim=3),
    "cat-bad-dim": lambda L, a: L.cat([a, a], dim=2),
    "permute-wrong-length": lambda L, a: a.permute(0),
    "index-out-of-range": lambda L, a: a[5],
    "index-tensor-out-of-range": lambda L, a: a[L.tensor([0, 5])],
    "index-float-tensor": lambda L, a: a[L.tensor([0.])],
    "matmul-mismatch": lambda L, a: a @ L.ones(4, 5),
    "mm-vector": lambda L, a: L.mm(L.ones(3), L.ones(3)),
    "bmm-2d": lambda L, a: L.bmm(a, a),
    "broadcast-mismatch": lambda L, a: a + L.ones(4),
    "mul-mismatch": lambda L, a: a * L.ones(2, 2),
    "where-mismatch": lambda L, a: L.where(a > 0, a, L.ones(4)),
    "maximum-mismatch": lambda L, a: L.maximum(a, L.ones(4)),
    "masked_fill-mismatch": lambda L, a: a.masked_fill(L.ones(4) > 0, 0.),
    "view-invalid": lambda L, a: a.view(5),
    "reshape-invalid": lambda L, a: a.reshape(4, -1),
    "expand-invalid": lambda L, a: a.expand(3, 4),
    "cat-mismatch": lambda L, a: L.cat([a, L.ones(2, 4)]),
    "stack-mismatch": lambda L, a: L.stack([a, L.ones(2, 4)]),
    "chunk-zero": lambda L, a: a.chunk(0),
    "tril-1d": lambda L, a: L.tril(L.ones(3)),
    "item-multi": lambda L, a: a.item(),
    "requires-grad-int": lambda L, a: L.tensor([1, 2], requires_grad=True),
    "ragged-list": lambda L, a: L.tensor([[1, 2], [3]]),
    "backward-non-scalar": lambda L, a: (a.requires_grad_() * 2).backward(),
    "backward-no-grad": lambda L, a: a.sum().backward(),
    "backward-seed-shape": lambda L, a: (a.requires_grad_() * 2).backward(L.ones(3)),
    "numpy-requires-grad": lambda L, a: a.requires_grad_().numpy(),
    "leaf-inplace": lambda L, a: a.requires_grad_().add_(1.),
    "linear-mismatch": lambda L, a: L.nn.Linear(4, 2)(a),
    "embedding-out-of-range": lambda L, a: L.nn.Embedding(3, 2)(L.tensor([3])),
    "embedding-float-index": lambda L, a: L.nn.Embedding(3, 2)(L.tensor([1.])),
    "cross_entropy-batch-mismatch": lambda L, a: L.nn.functional.cross_entropy(L.ones(4, 3), L.tensor([0, 1, 2])),
    "cross_entropy-target-range": lambda L, a: L.nn.functional.cross_entropy(a, L.tensor([0, 5])),
    "nll_loss-batch-mismatch": lambda L, a: L.nn.functional.nll_loss(a, L.tensor([0, 1, 1])),
    "mse_loss-mismatch": lambda L, a: L.nn.functional.mse_loss(a, L.ones(3, 2)),
    "bce-out-of-range": lambda L, a: L.nn.functional.binary_cross_entropy(L.full((2,), 2.), L.ones(2)),
    "multinomial-1-row-too-many": lambda L, a: L.multinomial(L.tensor([0.5, 0.5]), 3),
}


@needs_torch
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_error_type_like_torch(name):
    call = ERROR_CASES[name]
    with pytest.raises(Exception) as theirs:
        call(torch, torch.ones(2, 3))
    expected = type(theirs.value)
    assert expected in (RuntimeError, IndexError, ValueError, TypeError), expected
    with pytest.raises(Exception) as ours:
        call(mt, mt.ones(2, 3))
    assert isinstance(ours.value, expected), f"torch raises {expected.__name__}, microtorch {type(ours.value).__name__}: {ours.value}"
    assert len(str(ours.value)) > 15, f"message too short to help: {ours.value!r}"


def test_bad_dim_message_says_expected_range_and_given():
    with pytest.raises(IndexError) as e:
        mt.ones(2, 3).sum(dim=2)
    assert "[-2, 1]" in str(e.value) and "2" in str(e.value)


def test_saved_files_are_ordinary_files(tmp_path):
    "mt.save writes through a private temporary file, but the result has the permissions any new file gets (umask)."
    import os, stat
    mask = os.umask(0o022)
    try:
        mt.save({"w": mt.ones(2)}, tmp_path / "model.pt")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / "model.pt").st_mode) == 0o644

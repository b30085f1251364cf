"Property tests of the convolution chapter's exported ops (`microtorch.nn.functional`): random shapes and settings agree with torch."
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
import microtorch as mt
import microtorch.nn.functional as MF
from microtorch._ops.conv import _pair
from microtorch.testing import check_op
from microtorch.train import lenet

torch = pytest.importorskip("torch")
F = torch.nn.functional
fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
pairs = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))

def against_torch(fn, torch_fn, arrays, seed):
    "`check_op` without the numerical check: float64 values, gradients and Hessian-vector products vs torch, float32 in gives float32 out."
    check_op(fn, arrays=arrays, torch_fn=torch_fn, numeric=False, seed=seed, rtol=1e-7, atol=1e-10, hvp=True)

def size_after(n, k, s, p, d): return (n + 2 * p - d * (k - 1) - 1) // s + 1

@fast
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)),
       pairs, st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))), pairs,
       st.tuples(st.integers(5, 12), st.integers(5, 12)), st.booleans(), st.integers(0, 2**16))
def test_conv2d_matches_torch(n, cin, cout, kernel, stride, padding, dilation, hw, bias, seed):
    k, s, p, d = (_pair(v, "v") for v in (kernel, stride, padding, dilation))
    if min(size_after(h, *a) for h, *a in zip(hw, k, s, p, d)) < 1: return
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, cin, *hw)), rng.standard_normal((cout, cin, *kernel))] + ([rng.standard_normal(cout)] if bias else [])
    against_torch(lambda x, w, *b: MF.conv2d(x, w, *b or [None], stride, padding, dilation),
                  lambda x, w, *b: F.conv2d(x, w, *b or [None], stride, padding, dilation), arrays, seed)

@fast
@given(pairs, st.one_of(st.none(), pairs), st.integers(0, 1), st.integers(1, 2), st.booleans(), st.integers(0, 2**16))
def test_max_pool_matches_torch_with_ties(kernel, stride, padding, dilation, ties, seed):
    k = _pair(kernel, "k")
    if padding > min((dilation * (kk - 1) + 1) // 2 for kk in k): return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (2, 2, 8, 9)).astype(float) if ties else rng.standard_normal((2, 2, 8, 9))
    against_torch(lambda x: MF.max_pool2d(x, kernel, stride, padding, dilation),
                  lambda x: F.max_pool2d(x, kernel, stride, padding, dilation), [x], seed)

@fast
@given(pairs, st.one_of(st.none(), pairs), st.integers(0, 1), st.integers(0, 2**16))
def test_max_pool_sends_a_nan_windows_gradient_where_torch_does(kernel, stride, padding, seed):
    "A window holding NaN has the maximum NaN, and torch gives its gradient to the window's last NaN (ties elsewhere: the first)."
    if padding > min(_pair(kernel, "k")) // 2: return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (2, 2, 6, 7)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    results = []
    for pool, make in ((MF.max_pool2d, mt.tensor), (F.max_pool2d, torch.tensor)):
        t = make(x, requires_grad=True)
        y = pool(t, kernel, stride, padding)
        (y * make(np.arange(y.numel(), dtype=np.float32).reshape(tuple(y.shape)))).sum().backward()
        results.append((np.asarray(y.detach()), np.asarray(t.grad)))
    (ours, our_grad), (theirs, their_grad) = results
    np.testing.assert_array_equal(ours, theirs)          # NaN where torch has NaN
    np.testing.assert_array_equal(our_grad, their_grad)

@fast
@given(pairs, st.one_of(st.none(), pairs), st.integers(0, 1), st.booleans(), st.integers(0, 2**16))
def test_avg_pool_matches_torch(kernel, stride, padding, include, seed):
    if padding > min(k // 2 for k in _pair(kernel, "k")): return
    rng = np.random.default_rng(seed)
    against_torch(lambda x: MF.avg_pool2d(x, kernel, stride, padding, include),
                  lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=include), [rng.standard_normal((2, 2, 7, 8))], seed)

@fast
@given(st.tuples(st.integers(1, 9), st.integers(1, 9)), st.tuples(st.integers(1, 9), st.integers(1, 9)), st.integers(0, 2**16))
def test_adaptive_avg_pool_matches_torch(size, out, seed):
    rng = np.random.default_rng(seed)
    against_torch(lambda x: MF.adaptive_avg_pool2d(x, out), lambda x: F.adaptive_avg_pool2d(x, out), [rng.standard_normal((2, 3, *size))], seed)

@fast
@given(st.lists(st.integers(-1, 3), min_size=2, max_size=6).filter(lambda p: len(p) % 2 == 0),
       st.sampled_from(["constant", "reflect", "replicate", "circular"]), st.integers(0, 2**16))
def test_pad_matches_torch(pad, mode, seed):
    if mode != "constant" and (min(pad) < 0 or len(pad) != 4): return   # torch pads 2 dims of a 4D input in these modes
    rng = np.random.default_rng(seed)
    against_torch(lambda x: MF.pad(x, pad, mode), lambda x: F.pad(x, pad, mode=mode), [rng.standard_normal((2, 3, 4, 5))], seed)

@fast
@given(st.sampled_from([(4, 3), (4, 3, 5), (3, 2, 4, 3)]), st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_batch_norm_matches_torch(shape, training, affine, seed):
    rng = np.random.default_rng(seed)
    C = shape[1]
    stats = rng.standard_normal(C), rng.random(C) + 0.5
    arrays = [rng.standard_normal(shape) * 2 + 1] + ([rng.standard_normal(C), rng.standard_normal(C)] if affine else [])
    def ours(x, *wb):
        return MF.batch_norm(x, *(mt.tensor(a, dtype=x.dtype) for a in stats), *(wb or [None, None]), training, 0.3, 1e-5)
    def theirs(x, *wb):
        return F.batch_norm(x, *(torch.tensor(a, dtype=x.dtype) for a in stats), *(wb or [None, None]), training, 0.3, 1e-5)
    check_op(ours, arrays=arrays, torch_fn=theirs, numeric=False, seed=seed, rtol=1e-7, atol=1e-10, hvp=True)

@fast
@given(st.sampled_from(["max", "avg", "adaptive", "pad"]), pairs, st.integers(0, 1), st.booleans(), st.integers(0, 2**16))
def test_second_derivatives_behind_a_convolution(kind, kernel, padding, flag, seed):
    "Pooling and padding are linear (zero Hessian); behind a convolution their gradient ops carry the Hessian's cross terms."
    k = _pair(kernel, "k")
    if kind in ("max", "avg") and padding > min(kk // 2 for kk in k): return
    ours, theirs = {"max": (lambda h: MF.max_pool2d(h, kernel, 1, padding), lambda h: F.max_pool2d(h, kernel, 1, padding)),
                    "avg": (lambda h: MF.avg_pool2d(h, kernel, None, padding, flag), lambda h: F.avg_pool2d(h, kernel, None, padding, count_include_pad=flag)),
                    "adaptive": (lambda h: MF.adaptive_avg_pool2d(h, k), lambda h: F.adaptive_avg_pool2d(h, k)),
                    "pad": (lambda h: MF.pad(h, (padding, 1, 1, padding), "reflect" if flag else "constant"),
                            lambda h: F.pad(h, (padding, 1, 1, padding), mode="reflect" if flag else "constant"))}[kind]
    rng = np.random.default_rng(seed)
    against_torch(lambda x, w: ours(MF.conv2d(x, w, padding=1)), lambda x, w: theirs(F.conv2d(x, w, padding=1)),
                  [rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((3, 2, 3, 3))], seed)

def test_lenet_matches_torch_after_training_steps():
    "Same weights, three SGD steps on the same batches (with batch norm): same losses, then the same state dicts (buffers too)."
    mt.manual_seed(0)
    ours = lenet(bn=True)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.BatchNorm2d(16), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.BatchNorm1d(120), torch.nn.ReLU(), torch.nn.Linear(120, 84),
        torch.nn.BatchNorm1d(84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
    assert list(ours.state_dict()) == list(theirs.state_dict())                  # running statistics are buffers in both
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    opt, topt = mt.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.random((16, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 16)
        loss = MF.cross_entropy(ours(mt.tensor(x)), mt.tensor(y))
        tloss = F.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
        opt.zero_grad(); loss.backward(); opt.step()
        topt.zero_grad(); tloss.backward(); topt.step()
    state = theirs.state_dict()
    for name, t in ours.state_dict().items():
        assert t.dtype == state[name].numpy().dtype, name
        np.testing.assert_allclose(t.numpy(), state[name].numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    x = rng.random((4, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(ours.eval()(mt.tensor(x)).data, theirs.eval()(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)

def test_lenet_hessian_vector_product_matches_torch():
    "Second derivatives through the whole of `lenet(bn=True)` (batch norm in training mode): the HVP of its loss, float64."
    def loss_hvp(lib, model, x, y, vs):
        params = list(model.parameters())
        grads = lib.autograd.grad(lib.nn.functional.cross_entropy(model(x), y), params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vs))
        return [np.asarray(h.detach()) for h in lib.autograd.grad(dot, params)]
    mt.manual_seed(1)
    ours = lenet(bn=True).double()
    nn = torch.nn
    theirs = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(), nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),
                           nn.Linear(84, 10)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(1)
    x, y = rng.random((6, 1, 28, 28)), rng.integers(0, 10, 6)
    vs = [rng.standard_normal(p.shape) for p in ours.parameters()]
    a = loss_hvp(mt, ours, mt.tensor(x, dtype=mt.float64), mt.tensor(y), [mt.tensor(v, dtype=mt.float64) for v in vs])
    b = loss_hvp(torch, theirs, torch.tensor(x), torch.tensor(y), [torch.tensor(v) for v in vs])
    for name, h, th in zip([n for n, _ in ours.named_parameters()], a, b):
        np.testing.assert_allclose(h, th, rtol=1e-7, atol=1e-9, err_msg=name)

def test_modules_are_in_nn_and_functional():
    "The layers are in `mt.nn`, the functions in `F`, and a torch LeNet's state dict loads into `lenet(bn=True)`."
    for name in ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d"): assert hasattr(mt.nn, name)
    for name in ("conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm", "pad"): assert callable(getattr(MF, name))
    bn = mt.nn.BatchNorm2d(4)
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    bn(mt.randn(3, 4, 2, 2))
    assert int(bn.state_dict()["num_batches_tracked"].item()) == 1

@pytest.mark.parametrize("env, tuned", [({}, True), ({"MICROTORCH_KEEP_FREED_MB": ""}, True), ({"MICROTORCH_KEEP_FREED_MB": "0"}, False),
                                        ({"MALLOC_TOP_PAD_": str(1 << 20)}, False)])
def test_import_tunes_malloc_unless_told_not_to(env, tuned):
    "On glibc importing microtorch makes malloc keep freed memory, unless MICROTORCH_KEEP_FREED_MB=0 or glibc's own MALLOC_ variables are set."
    import ctypes, os, subprocess, sys
    try: ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError): pytest.skip("not glibc: tuning malloc is a no-op")
    code = "import microtorch; from microtorch._ops import conv; print(conv._tune_malloc())"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MICROTORCH_KEEP"))}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tuned)

def test_a_malformed_keep_freed_setting_is_named_at_import():
    "MICROTORCH_KEEP_FREED_MB that is not a whole number stops the import with a message naming it."
    import os, subprocess, sys
    run = subprocess.run([sys.executable, "-c", "import microtorch"], env={**os.environ, "MICROTORCH_KEEP_FREED_MB": "lots"},
                         capture_output=True, text=True)
    assert run.returncode != 0 and "MICROTORCH_KEEP_FREED_MB must be a whole number" in run.stderr

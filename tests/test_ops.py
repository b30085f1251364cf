"""Every op of the public API against PyTorch, through the one oracle: `microtorch.testing.check_op`.

Each row of the tables writes an op ONCE, as a function of a namespace `L` and the inputs: the row runs as
`fn(microtorch, ...)` and as `fn(torch, ...)`, so both libraries execute the very same code. `check_op`
compares values and gradients with torch in float64 (and with central differences unless `numeric=False`,
which rows at kinks and ties use: there torch alone is the oracle). Integer and bool arrays are constants
on both sides. The test body adds what `check_op` does not look at: the result's type, shape and dtype
for float32 inputs must be torch's.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import microtorch as mt
from microtorch.testing import check_op

torch = pytest.importorskip("torch")


def F(L):
    "`torch.nn.functional` or `microtorch.nn.functional`."
    return L.nn.functional


def op(name, fn, shapes=None, arrays=None, **kw):
    "A row: `fn(L, *inputs)`, its inputs (random `shapes` or explicit `arrays`) and check_op options."
    return pytest.param(fn, shapes, arrays, kw, id=name)


def torch_dtype_as_numpy(dtype) -> np.dtype:
    return torch.empty(0, dtype=dtype).numpy().dtype


def float32_inputs(shapes, arrays, low, high):
    "The row's inputs as float32 (integer and bool arrays unchanged)."
    if shapes is not None:
        rng = np.random.default_rng(1)
        return [rng.uniform(low, high, s).astype(np.float32) for s in shapes]
    arrays = [np.asarray(a) for a in arrays]
    return [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]


def run_row(fn, shapes, arrays, kw):
    check_op(lambda *xs: fn(mt, *xs), shapes=shapes, arrays=arrays, torch_fn=lambda *xs: fn(torch, *xs), **kw)
    # check_op compares values only: the kind, shape and dtype of the result must be torch's too
    inputs = float32_inputs(shapes, arrays, kw.get("low", -2.0), kw.get("high", 2.0))
    ours = fn(mt, *[mt.tensor(a) for a in inputs])
    theirs = fn(torch, *[torch.tensor(a) for a in inputs])
    assert isinstance(ours, mt.Tensor), f"result is a {type(ours).__name__}, not a Tensor"
    assert ours.shape == tuple(theirs.shape), f"shape {ours.shape} vs torch {tuple(theirs.shape)}"
    assert ours.dtype == torch_dtype_as_numpy(theirs.dtype), f"dtype {ours.dtype} vs torch {theirs.dtype}"


# ---------------------------------------------------------------------------------------------------------------
# inputs with ties, zeros and bounds

TIES = np.array([[1., 3., 3., 0.], [2., 2., 2., 2.], [-1., 5., 0., 5.]])
KINKS = np.array([[-1., 0., 0., 2.], [0.5, -0.5, 0., -2.]])
BOUNDS = np.array([-1., -0.5, -0.2, 0., 0.3, 0.5, 1., 2.])
LEFT = np.array([[1., 2., 3.], [0.5, -1., 2.]])
RIGHT = np.array([1., 1., 3.])              # ties with LEFT at (0, 0) and (0, 2)
LOGITS = np.array([[0.5, -1., 2., 0., 1.], [1., 1., 1., 1., 1.], [-2., 0.3, 0.1, 3., -1.], [0., 2., -0.5, 0.5, 1.5]])
TARGETS = np.array([1, 0, 4, 1])
BIG = np.array([[1000., 0., -1000.], [1e4, 1e4, 1e4], [-1e4, 50., 49.]])
ROWS = np.array([[3., 4., 0.], [0., 0., 0.], [1., -2., 2.]])   # a zero row: norm's kink

# ---------------------------------------------------------------------------------------------------------------
# arithmetic

ARITHMETIC = [
    op("add", lambda L, a, b: a + b, shapes=[(2, 3), (3,)]),
    op("add-broadcast-both", lambda L, a, b: a + b, shapes=[(4, 1, 3), (2, 1)]),
    op("add-0d", lambda L, a, b: a + b, shapes=[(), (2, 2)]),
    op("add-fn", lambda L, a, b: L.add(a, b), shapes=[(2, 3), (2, 3)]),
    op("add-method-alpha", lambda L, a, b: a.add(b, alpha=2.5), shapes=[(2, 3), (3,)]),
    op("add-scalar-right", lambda L, a: a + 2.5, shapes=[(2, 3)]),
    op("add-int-left", lambda L, a: 3 + a, shapes=[(2, 3)]),
    op("sub", lambda L, a, b: a - b, shapes=[(2, 3), (2, 1)]),
    op("sub-fn", lambda L, a, b: L.sub(a, b), shapes=[(3,), (2, 3)]),
    op("sub-method", lambda L, a, b: a.sub(b), shapes=[(2, 3), (3,)]),
    op("rsub-scalar", lambda L, a: 2.5 - a, shapes=[(2, 3)]),
    op("mul", lambda L, a, b: a * b, shapes=[(2, 3), (3,)]),
    op("mul-fn", lambda L, a, b: L.mul(a, b), shapes=[(2, 1, 3), (4, 1)]),
    op("mul-method", lambda L, a, b: a.mul(b), shapes=[(2, 3), (2, 3)]),
    op("mul-self", lambda L, a: a * a, shapes=[(2, 3)]),
    op("mul-int-scalar", lambda L, a: a * 2, shapes=[(2, 3)]),
    op("div", lambda L, a, b: a / b, shapes=[(2, 3), (3,)], low=0.5),
    op("div-fn", lambda L, a, b: L.div(a, b), shapes=[(2, 3), (2, 1)], low=0.5),
    op("div-method", lambda L, a, b: a.div(b), shapes=[(3,), (2, 3)], low=0.5),
    op("rdiv-scalar", lambda L, a: 3 / a, shapes=[(2, 3)], low=0.5),
    op("div-by-int", lambda L, a: a / 4, shapes=[(2, 3)]),
    op("neg", lambda L, a: -a, shapes=[(2, 3)]),
    op("neg-fn", lambda L, a: L.neg(a), shapes=[(2, 3)]),
    op("neg-method", lambda L, a: a.neg(), shapes=[()]),
    op("pow-2", lambda L, a: a ** 2, shapes=[(2, 3)]),
    op("pow-3-negative-base", lambda L, a: a ** 3, shapes=[(2, 3)]),
    op("pow-half", lambda L, a: a ** 0.5, shapes=[(2, 3)], low=0.5),
    op("pow-negative", lambda L, a: a ** -1.5, shapes=[(2, 3)], low=0.5),
    op("pow-tensor-exponent", lambda L, a, b: a ** b, shapes=[(2, 3), (3,)], low=0.5),
    op("rpow", lambda L, a: 2 ** a, shapes=[(2, 3)]),
    op("pow-fn", lambda L, a: L.pow(a, 3), shapes=[(2, 3)]),
    op("pow-method-tensor", lambda L, a, b: a.pow(b), shapes=[(2, 3), (2, 3)], low=0.5),
    op("pow-0-at-0", lambda L, a: a ** 0, arrays=[[0., 1., -2.]], numeric=False),
    op("pow-base-0", lambda L, a, b: a ** b, arrays=[[0., 0., 0., 2.], [2., 1.5, 0., 0.5]], numeric=False),
    op("int-tensor-times-float", lambda L, i, a: i * a, arrays=[np.array([0, 1, 2]), np.array([0.5, 1., 2.])]),
    op("int-tensor-times-float-scalar", lambda L, i: i * 2.5, arrays=[np.array([0, 1, 2])]),
    op("int-tensor-true-division", lambda L, i: i / 2, arrays=[np.array([[0, 1, 2]])]),
    op("int-tensor-plus-int", lambda L, i: (i + 3) * 2 - i, arrays=[np.array([0, 1, 2])]),
    op("float-plus-int-tensor", lambda L, a, i: a + i, arrays=[np.array([[0.5, 1., 2.]]), np.array([[1], [2]])]),
]

MATMUL = [
    op(f"matmul-{sa}-{sb}", lambda L, a, b: a @ b, shapes=[sa, sb])
    for sa, sb in [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                   ((2, 3), (5, 3, 4)), ((2, 1, 3, 4), (5, 4, 2)), ((3,), (2, 3, 4)), ((2, 4, 3), (3,)),
                   ((2, 3, 4), (2, 4, 5))]
] + [
    op("matmul-fn", lambda L, a, b: L.matmul(a, b), shapes=[(2, 3), (3, 4)]),
    op("matmul-method", lambda L, a, b: a.matmul(b), shapes=[(2, 2, 3), (3, 4)]),
    op("mm", lambda L, a, b: L.mm(a, b), shapes=[(2, 3), (3, 4)]),
    op("mm-method", lambda L, a, b: a.mm(b), shapes=[(2, 3), (3, 4)]),
    op("bmm", lambda L, a, b: L.bmm(a, b), shapes=[(2, 2, 3), (2, 3, 4)]),
    op("bmm-method", lambda L, a, b: a.bmm(b), shapes=[(3, 1, 2), (3, 2, 2)]),
    op("dot", lambda L, a, b: L.dot(a, b), shapes=[(5,), (5,)]),
    op("matmul-same-tensor", lambda L, a: a @ a.T, shapes=[(3, 2)]),
]

# ---------------------------------------------------------------------------------------------------------------
# elementwise

UNARY = ["exp", "tanh", "sigmoid", "relu", "abs", "sign", "sin", "cos"]
ELEMENTWISE = [
    op(f"{name}-method", lambda L, a, name=name: getattr(a, name)(), shapes=[(3, 4)]) for name in UNARY
] + [
    op(f"{name}-fn", lambda L, a, name=name: getattr(L, name)(a), shapes=[(2, 3)]) for name in UNARY
] + [
    op(f"{name}-at-kinks", lambda L, a, name=name: getattr(L, name)(a), arrays=[KINKS], numeric=False)
    for name in ["relu", "abs", "sign"]
] + [
    op("log", lambda L, a: a.log(), shapes=[(3, 4)], low=0.1),
    op("log-fn", lambda L, a: L.log(a), shapes=[(3,)], low=0.1),
    op("sqrt", lambda L, a: a.sqrt(), shapes=[(3, 4)], low=0.1),
    op("sqrt-fn", lambda L, a: L.sqrt(a), shapes=[()], low=0.1),
    op("exp-0d", lambda L, a: a.exp(), shapes=[()]),
    op("sigmoid-saturated", lambda L, a: a.sigmoid(), arrays=[[-1000., -30., 0., 30., 1000.]], numeric=False),
    op("tanh-saturated", lambda L, a: L.tanh(a), arrays=[[-1000., -20., 0., 20., 1000.]], numeric=False),
    op("clamp", lambda L, a: a.clamp(-0.5, 0.5), shapes=[(3, 4)]),
    op("clamp-fn-kw", lambda L, a: L.clamp(a, min=-0.5, max=0.5), shapes=[(3, 4)]),
    op("clamp-min-only", lambda L, a: a.clamp(min=0.1), shapes=[(3, 4)]),
    op("clamp-max-only", lambda L, a: L.clamp(a, max=0.1), shapes=[(3, 4)]),
    op("clamp-at-bounds", lambda L, a: a.clamp(-0.5, 0.5), arrays=[BOUNDS], numeric=False),
    op("clamp-min-at-bound", lambda L, a: a.clamp(min=0.), arrays=[BOUNDS], numeric=False),
    op("clip", lambda L, a: a.clip(-0.5, 0.5), arrays=[BOUNDS], numeric=False),
    op("clip-fn", lambda L, a: L.clip(a, 0., 1.), arrays=[BOUNDS], numeric=False),
    op("composed", lambda L, a, b: (a * b).log() + (a - b).exp(), shapes=[(3, 4), (4,)], low=0.1),
]

# ---------------------------------------------------------------------------------------------------------------
# comparisons (bool results, no gradient)

COMPARE_A = np.array([[1., 2., 3.], [3., 2., 1.]])
COMPARE_B = np.array([2., 2., 2.])
COMPARISONS = [
    op(f"{name}-{kind}", fn, arrays=[COMPARE_A, COMPARE_B], numeric=False)
    for name, base in [("lt", lambda a, b: a < b), ("le", lambda a, b: a <= b), ("gt", lambda a, b: a > b),
                       ("ge", lambda a, b: a >= b), ("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b)]
    for kind, fn in [("tensor", lambda L, a, b, base=base: base(a, b)),
                     ("scalar", lambda L, a, b, base=base: base(a, 2.0)),
                     ("int", lambda L, a, b, base=base: base(a, 2)),
                     ("reflected", lambda L, a, b, base=base: base(2.0, a))]
] + [
    op("comparison-mask-times-tensor", lambda L, a: (a > 0) * a, shapes=[(3, 4)]),
    op("comparison-float", lambda L, a: (a > 0).float() * a, shapes=[(3, 4)]),
]

# ---------------------------------------------------------------------------------------------------------------
# where, maximum, minimum, masked_fill

WHERE_COND = np.array([[True], [False], [True]])
WHERE = [
    op("where", lambda L, a, b: L.where(a > 0, a, b), shapes=[(2, 3), (3,)]),
    op("where-bool-constant", lambda L, c, a, b: L.where(c, a, b), arrays=[WHERE_COND, np.ones((1, 4)) * 0.3, [1., 2., 3., 4.]]),
    op("where-cond-broadcasts", lambda L, c, a, b: L.where(c, a, b),
       arrays=[np.random.default_rng(0).uniform(-1, 1, (2, 3, 4)) > 0, [1., 2., 3., 4.], [[0.5], [1.5], [2.5]]]),
    op("where-scalar-other", lambda L, a: L.where(a > 0, a, 0.), shapes=[(2, 3)]),
    op("where-scalar-input", lambda L, a: L.where(a > 0, 1.5, a), shapes=[(2, 3)]),
    op("where-same-tensor", lambda L, a: L.where(a > 0, a * 2, a * a), shapes=[(3, 4)]),
    op("maximum-ties", lambda L, a, b: L.maximum(a, b), arrays=[LEFT, RIGHT], numeric=False),
    op("minimum-ties", lambda L, a, b: L.minimum(a, b), arrays=[LEFT, RIGHT], numeric=False),
    op("maximum-method", lambda L, a, b: a.maximum(b), shapes=[(2, 1, 3), (4, 1)]),
    op("minimum-method", lambda L, a, b: a.minimum(b), shapes=[(3,), (2, 3)]),
    op("maximum-with-itself", lambda L, a: L.maximum(a, a), shapes=[(2, 3)], numeric=False),
    op("masked_fill-comparison", lambda L, a: a.masked_fill(a > 0, -1.), shapes=[(3, 4)]),
    op("masked_fill-bool-constant", lambda L, a, m: a.masked_fill(m, 0.5), arrays=[np.ones((2, 3)) * 0.7, [True, False, True]]),
    op("masked_fill-fn", lambda L, a, m: L.masked_fill(a, m, -7.), arrays=[[[1., 2., 3.], [4., 5., 6.]], [[True], [False]]]),
    op("masked_fill-causal", lambda L, a: a.masked_fill(L.tril(L.ones(3, 3)) == 0, float("-inf")).softmax(-1), shapes=[(2, 3, 3)]),
]

# ---------------------------------------------------------------------------------------------------------------
# shape ops

SHAPE = [
    op("view", lambda L, a: a.view(6, 4), shapes=[(2, 3, 4)]),
    op("view-minus-one", lambda L, a: a.view(-1), shapes=[(2, 3, 4)]),
    op("view-tuple", lambda L, a: a.view((4, -1)), shapes=[(2, 3, 4)]),
    op("view-fn", lambda L, a: L.reshape(a, (3, 8)), shapes=[(2, 3, 4)]),
    op("reshape", lambda L, a: a.reshape(4, -1), shapes=[(2, 3, 4)]),
    op("reshape-0d", lambda L, a: a.reshape(1, 1), shapes=[()]),
    op("flatten", lambda L, a: a.flatten(), shapes=[(2, 3, 4)]),
    op("flatten-start", lambda L, a: a.flatten(1), shapes=[(2, 3, 4, 5)]),
    op("flatten-start-end", lambda L, a: L.flatten(a, 0, 1), shapes=[(2, 3, 4)]),
    op("flatten-kw", lambda L, a: a.flatten(start_dim=1, end_dim=-2), shapes=[(2, 3, 4, 2)]),
    op("squeeze", lambda L, a: a.squeeze(), shapes=[(2, 1, 3, 1)]),
    op("squeeze-dim", lambda L, a: a.squeeze(1), shapes=[(2, 1, 3, 1)]),
    op("squeeze-dim-kept", lambda L, a: a.squeeze(0), shapes=[(2, 1, 3)]),
    op("squeeze-negative", lambda L, a: L.squeeze(a, -1), shapes=[(2, 3, 1)]),
    op("squeeze-kw", lambda L, a: a.squeeze(dim=1), shapes=[(2, 1, 3)]),
    op("unsqueeze", lambda L, a: a.unsqueeze(0), shapes=[(2, 3)]),
    op("unsqueeze-negative", lambda L, a: L.unsqueeze(a, -1), shapes=[(2, 3)]),
    op("unsqueeze-outer", lambda L, a: a.unsqueeze(1) * a.unsqueeze(0), shapes=[(3,)]),
    op("transpose", lambda L, a: a.transpose(0, 2), shapes=[(2, 3, 4)]),
    op("transpose-negative", lambda L, a: L.transpose(a, -1, 1), shapes=[(2, 3, 4)]),
    op("transpose-2d", lambda L, a: a.transpose(1, 0), shapes=[(2, 3)]),
    op("T", lambda L, a: a.T, shapes=[(2, 3)]),
    op("t", lambda L, a: a.t(), shapes=[(2, 3)]),
    op("t-fn", lambda L, a: L.t(a), shapes=[(2, 3)]),
    op("permute", lambda L, a: a.permute(2, 0, 1), shapes=[(2, 3, 4)]),
    op("permute-tuple", lambda L, a: a.permute((1, 2, 0)), shapes=[(2, 3, 4)]),
    op("permute-negative", lambda L, a: L.permute(a, (-1, 0, 1)), shapes=[(2, 3, 4)]),
    op("expand", lambda L, a: a.expand(2, 3, 4), shapes=[(3, 1)]),
    op("expand-minus-one", lambda L, a: a.expand(4, -1), shapes=[(1, 3)]),
    op("expand-tuple", lambda L, a: a.expand((2, 2, 3)), shapes=[(3,)]),
    op("split-int", lambda L, a: a.split(2, dim=1)[1], shapes=[(3, 5)]),
    op("split-int-last-short", lambda L, a: a.split(2, dim=1)[2], shapes=[(3, 5)]),
    op("split-sizes", lambda L, a: L.split(a, [1, 3], dim=-1)[1], shapes=[(2, 4)]),
    op("split-all-parts", lambda L, a: sum(p.sum() * (i + 1) for i, p in enumerate(a.split(1))), shapes=[(3, 2)]),
    op("split-count", lambda L, a: L.tensor(float(len(a.split(2, dim=0)))), shapes=[(5, 2)], numeric=False),
    op("chunk", lambda L, a: a.chunk(3, dim=0)[2], shapes=[(6, 2)]),
    op("chunk-uneven", lambda L, a: L.chunk(a, 2, 1)[1], shapes=[(2, 5)]),
    op("chunk-all-parts", lambda L, a: sum(p.sum() * (i + 1) for i, p in enumerate(a.chunk(3, dim=-1))), shapes=[(2, 7)]),
    op("cat", lambda L, a, b: L.cat([a, b], dim=1), shapes=[(2, 3), (2, 2)]),
    op("cat-default-dim", lambda L, a, b: L.cat((a, b)), shapes=[(2, 3), (1, 3)]),
    op("cat-repeated-input", lambda L, a, b: L.cat([a, b, a], dim=-1) * 2, shapes=[(2, 3), (2, 1)]),
    op("cat-1d", lambda L, a, b: L.cat([a, b]), shapes=[(3,), (2,)]),
    op("stack", lambda L, a, b: L.stack([a, b]), shapes=[(2, 3), (2, 3)]),
    op("stack-last", lambda L, a, b: L.stack((a, b, a), dim=-1), shapes=[(2, 3), (2, 3)]),
    op("stack-dim1", lambda L, a, b: L.stack([a, b], dim=1), shapes=[(3,), (3,)]),
    op("tril", lambda L, a: L.tril(a), shapes=[(3, 4)]),
    op("tril-method-diagonal", lambda L, a: a.tril(-1), shapes=[(4, 3)]),
    op("tril-batched", lambda L, a: L.tril(a, diagonal=1), shapes=[(2, 3, 3)]),
    op("triu", lambda L, a: L.triu(a), shapes=[(3, 4)]),
    op("triu-method-diagonal", lambda L, a: a.triu(1), shapes=[(3, 3)]),
    op("triu-negative", lambda L, a: L.triu(a, -1), shapes=[(2, 4, 3)]),
    op("clone", lambda L, a: L.clone(a) * 2, shapes=[(2, 3)]),
    op("contiguous", lambda L, a: a.T.contiguous().view(-1), shapes=[(2, 3)]),
]

# ---------------------------------------------------------------------------------------------------------------
# indexing

MASK = np.random.default_rng(3).uniform(-1, 1, (3, 4)) > 0
INDEXING = [
    op("int", lambda L, a: a[1], shapes=[(3, 4)]),
    op("negative-int", lambda L, a: a[-1], shapes=[(3, 4)]),
    op("int-int", lambda L, a: a[1, 2], shapes=[(3, 4)]),
    op("slice", lambda L, a: a[1:3], shapes=[(4, 3)]),
    op("step-slice", lambda L, a: a[::2, 1:], shapes=[(4, 3)]),
    op("int-and-slice", lambda L, a: a[0, 1:3], shapes=[(3, 4)]),
    op("ellipsis", lambda L, a: a[..., -2], shapes=[(2, 3, 4)]),
    op("none", lambda L, a: a[None, :, 1], shapes=[(3, 4)]),
    op("none-middle", lambda L, a: a[:, None], shapes=[(3, 4)]),
    op("list", lambda L, a: a[[0, 2, 3]], shapes=[(4, 3)]),
    op("list-repeats", lambda L, a: a[[0, 0, 2, 0]], shapes=[(4, 3)]),
    op("list-negative", lambda L, a: a[[-1, 0, -1]], shapes=[(3, 4)]),
    op("slice-and-list", lambda L, a: a[:, [2, 0, 2]], shapes=[(3, 4)]),
    op("two-lists", lambda L, a: a[[0, 2, 0], [1, 1, 1]], shapes=[(3, 4)]),
    op("int-tensor", lambda L, a, i: a[i], arrays=[np.arange(12.).reshape(4, 3) / 7, np.array([3, 1, 3, 3])]),
    op("int-tensor-2d", lambda L, a, i: a[i], arrays=[np.arange(12.).reshape(4, 3) / 7, np.array([[0, 1], [1, 1], [3, 0]])]),
    op("int-tensor-negative", lambda L, a, i: a[i], arrays=[np.arange(12.).reshape(4, 3) / 7, np.array([-1, 0, -1])]),
    op("int-tensor-pair", lambda L, a, i, j: a[i, j],
       arrays=[np.arange(12.).reshape(3, 4) / 7, np.array([0, 0, 1, 2]), np.array([2, 2, 0, 3])]),
    op("int-tensor-second-dim", lambda L, a, i: a[:, i], arrays=[np.arange(12.).reshape(3, 4) / 7, np.array([1, 1, 3])]),
    op("int-tensor-int32", lambda L, a, i: a[i], arrays=[np.arange(6.).reshape(3, 2) / 5, np.array([2, 2, 0], np.int32)]),
    op("embedding-style", lambda L, c, x: c[x].view(-1, 6), arrays=[np.arange(10.).reshape(5, 2) / 3,
                                                                 np.array([[0, 0, 1], [4, 1, 1], [0, 0, 0]])]),
    op("arange-pick", lambda L, a, t: a[L.arange(4), t], arrays=[LOGITS, TARGETS]),
    op("ndarray-index", lambda L, a: a[np.array([2, 0, 2])], shapes=[(3, 4)]),
    op("bool-tensor", lambda L, a, m: a[m], arrays=[np.arange(12.).reshape(3, 4) / 5, MASK]),
    op("bool-tensor-rows", lambda L, a, m: a[m], arrays=[np.arange(12.).reshape(3, 4) / 5, [True, False, True]]),
    op("bool-comparison", lambda L, a: a[a > 0], shapes=[(3, 4)]),
    op("bool-second-dim", lambda L, a, m: a[:, m] * 2, arrays=[np.arange(12.).reshape(3, 4) / 5, MASK[0]]),
    op("bool-list", lambda L, a: a[[True, False, True]], shapes=[(3, 4)]),
    op("several-uses", lambda L, a: a[0] + a[[0, 0]].reshape(-1)[:4], shapes=[(2, 4)]),
]

# ---------------------------------------------------------------------------------------------------------------
# reductions

REDUCE_DIMS = [None, 0, 1, -1, (0, 2), (2, 0)]


def reduce_row(name, dim, keepdim):
    if dim is None:
        return op(f"{name}-all", lambda L, a: getattr(a, name)(), shapes=[(2, 3, 4)])
    return op(f"{name}-dim{dim}-keep{keepdim}", lambda L, a: getattr(a, name)(dim=dim, keepdim=keepdim), shapes=[(2, 3, 4)])


REDUCTIONS = [
    reduce_row(name, dim, keepdim) for name in ["sum", "mean", "amax", "amin"] for dim in REDUCE_DIMS
    for keepdim in ([False] if dim is None else [False, True])
] + [
    op("sum-fn", lambda L, a: L.sum(a, 1), shapes=[(2, 3)]),
    op("sum-positional-keepdim", lambda L, a: a.sum(1, True), shapes=[(2, 3)]),
    op("sum-0d", lambda L, a: a.sum(), shapes=[()]),
    op("mean-fn", lambda L, a: L.mean(a, dim=(0, 1)), shapes=[(2, 3)]),
    op("mean-positional", lambda L, a: a.mean(-1, True), shapes=[(2, 3)]),
    op("max-all-ties", lambda L, a: a.max(), arrays=[TIES], numeric=False),
    op("min-all-ties", lambda L, a: L.min(a), arrays=[-TIES], numeric=False),
    op("amax-ties", lambda L, a: L.amax(a, dim=1), arrays=[TIES], numeric=False),
    op("amin-ties", lambda L, a: a.amin(0), arrays=[TIES], numeric=False),
    op("amax-tuple-ties", lambda L, a: a.amax(dim=(0, 1), keepdim=True), arrays=[TIES], numeric=False),
    op("max-dim-values", lambda L, a: a.max(1)[0], shapes=[(3, 4)]),
    op("max-dim-values-ties", lambda L, a: a.max(dim=1).values, arrays=[TIES], numeric=False),
    op("max-dim-indices-ties", lambda L, a: a.max(dim=1).indices, arrays=[TIES], numeric=False),
    op("max-dim-keepdim", lambda L, a: a.max(0, keepdim=True)[0], arrays=[TIES], numeric=False),
    op("max-dim-fn", lambda L, a: L.max(a, -1)[1], arrays=[TIES], numeric=False),
    op("max-dim-unpack", lambda L, a: (lambda v, i: v * 2 + i)(*a.max(1)), arrays=[TIES], numeric=False),
    op("min-dim-values-ties", lambda L, a: a.min(dim=0).values, arrays=[TIES], numeric=False),
    op("min-dim-indices", lambda L, a: L.min(a, 1).indices, arrays=[TIES], numeric=False),
    op("min-dim-unpack", lambda L, a: (lambda v, i: v - i)(*a.min(-1, keepdim=True)), arrays=[-TIES], numeric=False),
    op("max-binary", lambda L, a, b: L.max(a, b), arrays=[LEFT, RIGHT], numeric=False),
    op("argmax-all", lambda L, a: a.argmax(), arrays=[TIES], numeric=False),
    op("argmax-dim-ties", lambda L, a: a.argmax(1), arrays=[TIES], numeric=False),
    op("argmax-dim-keepdim", lambda L, a: L.argmax(a, dim=0, keepdim=True), arrays=[TIES], numeric=False),
    op("argmin-all", lambda L, a: L.argmin(a), arrays=[TIES], numeric=False),
    op("argmin-dim-ties", lambda L, a: a.argmin(dim=-1), arrays=[TIES], numeric=False),
    op("std", lambda L, a: a.std(), shapes=[(3, 4)]),
    op("std-dim", lambda L, a: a.std(dim=1), shapes=[(3, 4)]),
    op("std-dim-keepdim", lambda L, a: L.std(a, 0, keepdim=True), shapes=[(3, 4)]),
    op("std-unbiased-false", lambda L, a: a.std(1, unbiased=False), shapes=[(3, 4)]),
    op("std-correction-0", lambda L, a: a.std(dim=(0, 1), correction=0), shapes=[(3, 4)]),
    op("var", lambda L, a: a.var(), shapes=[(3, 4)]),
    op("var-dim", lambda L, a: L.var(a, dim=-1), shapes=[(3, 4)]),
    op("var-keepdim", lambda L, a: a.var(1, keepdim=True), shapes=[(3, 4)]),
    op("var-unbiased-false", lambda L, a: a.var(dim=1, keepdim=True, unbiased=False), shapes=[(2, 3, 4)]),
    op("var-correction-0", lambda L, a: L.var(a, 0, correction=0), shapes=[(3, 4)]),
    op("norm", lambda L, a: a.norm(), shapes=[(3, 4)]),
    op("norm-fn", lambda L, a: L.norm(a), shapes=[(3, 4)]),
    op("norm-dim", lambda L, a: a.norm(dim=1), shapes=[(3, 4)]),
    op("norm-p2-keepdim", lambda L, a: a.norm(2, dim=-1, keepdim=True), shapes=[(3, 4)]),
    op("norm-p1", lambda L, a: a.norm(p=1, dim=0), shapes=[(3, 4)], low=0.1),
    op("norm-zero-row", lambda L, a: a.norm(dim=1), arrays=[ROWS], numeric=False),
    op("logsumexp-dim", lambda L, a: a.logsumexp(1), shapes=[(3, 4)]),
    op("logsumexp-fn", lambda L, a: L.logsumexp(a, dim=(0, 1)), shapes=[(3, 4)]),
    op("logsumexp-keepdim", lambda L, a: a.logsumexp(dim=-1, keepdim=True), shapes=[(2, 3, 4)]),
    op("logsumexp-large", lambda L, a: a.logsumexp(1), arrays=[BIG], numeric=False),
]

# ---------------------------------------------------------------------------------------------------------------
# softmax

SOFTMAX = [
    op(f"{name}-{style}-dim{dim}", fn, shapes=[(2, 3, 4)])
    for name in ["softmax", "log_softmax"] for dim in [0, 1, -1]
    for style, fn in [("method", lambda L, a, name=name, dim=dim: getattr(a, name)(dim)),
                      ("fn", lambda L, a, name=name, dim=dim: getattr(L, name)(a, dim=dim)),
                      ("F", lambda L, a, name=name, dim=dim: getattr(F(L), name)(a, dim=dim))]
] + [
    op(f"{name}-large", lambda L, a, name=name: getattr(a, name)(dim=-1), arrays=[BIG], numeric=False)
    for name in ["softmax", "log_softmax"]
]

# ---------------------------------------------------------------------------------------------------------------
# losses

N_D_LOGITS = np.random.default_rng(5).uniform(-2, 2, (2, 3, 4))
N_D_TARGETS = np.array([[0, 2, 1, 1], [2, 2, 0, 1]])
IMG_LOGITS = np.random.default_rng(6).uniform(-2, 2, (2, 3, 2, 2))
IMG_TARGETS = np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])
WEIGHTS = [0.5, 2., 1., 0.25, 3.]
PROBS_TARGET = np.array([[0, 1, 1], [1, 0, 1]])


def weight(L, like, values=WEIGHTS):
    "Class weights as a constant of `like`'s dtype."
    return L.tensor(values, dtype=like.dtype)


LOSSES = [
    op("cross_entropy", lambda L, x, t: F(L).cross_entropy(x, t), arrays=[LOGITS, TARGETS]),
    op("cross_entropy-sum", lambda L, x, t: F(L).cross_entropy(x, t, reduction="sum"), arrays=[LOGITS, TARGETS]),
    op("cross_entropy-none", lambda L, x, t: F(L).cross_entropy(x, t, reduction="none"), arrays=[LOGITS, TARGETS]),
    op("cross_entropy-int32-targets", lambda L, x, t: F(L).cross_entropy(x, t.long()), arrays=[LOGITS, TARGETS.astype(np.int32)]),
    op("cross_entropy-large", lambda L, x, t: F(L).cross_entropy(x, t), arrays=[BIG, [0, 1, 2]], numeric=False),
    op("cross_entropy-ignore_index", lambda L, x, t: F(L).cross_entropy(x, t, ignore_index=1), arrays=[LOGITS, TARGETS]),
    op("cross_entropy-ignore-default", lambda L, x, t: F(L).cross_entropy(x, t), arrays=[LOGITS, [1, -100, 4, -100]]),
    op("cross_entropy-ignore-none", lambda L, x, t: F(L).cross_entropy(x, t, ignore_index=4, reduction="none"),
       arrays=[LOGITS, TARGETS]),
    op("cross_entropy-label_smoothing", lambda L, x, t: F(L).cross_entropy(x, t, label_smoothing=0.1), arrays=[LOGITS, TARGETS]),
    op("cross_entropy-smoothing-sum", lambda L, x, t: F(L).cross_entropy(x, t, label_smoothing=0.3, reduction="sum"),
       arrays=[LOGITS, TARGETS]),
    op("cross_entropy-weight", lambda L, x, t: F(L).cross_entropy(x, t, weight=weight(L, x)), arrays=[LOGITS, TARGETS]),
    op("cross_entropy-weight-none", lambda L, x, t: F(L).cross_entropy(x, t, weight=weight(L, x), reduction="none"),
       arrays=[LOGITS, TARGETS]),
    op("cross_entropy-weight-ignore", lambda L, x, t: F(L).cross_entropy(x, t, weight=weight(L, x), ignore_index=0),
       arrays=[LOGITS, TARGETS]),
    op("cross_entropy-weight-smoothing", lambda L, x, t: F(L).cross_entropy(x, t, weight=weight(L, x), label_smoothing=0.2),
       arrays=[LOGITS, TARGETS]),
    op("cross_entropy-all-options", lambda L, x, t: F(L).cross_entropy(
        x, t, weight=weight(L, x), ignore_index=4, label_smoothing=0.15, reduction="sum"), arrays=[LOGITS, TARGETS]),
    op("cross_entropy-Nd", lambda L, x, t: F(L).cross_entropy(x, t), arrays=[N_D_LOGITS, N_D_TARGETS]),
    op("cross_entropy-Nd-none", lambda L, x, t: F(L).cross_entropy(x, t, reduction="none"), arrays=[N_D_LOGITS, N_D_TARGETS]),
    op("cross_entropy-2d-images", lambda L, x, t: F(L).cross_entropy(x, t, weight=weight(L, x, [1., 2., 0.5]), ignore_index=1),
       arrays=[IMG_LOGITS, IMG_TARGETS]),
    op("cross_entropy-Nd-smoothing", lambda L, x, t: F(L).cross_entropy(x, t, label_smoothing=0.1), arrays=[IMG_LOGITS, IMG_TARGETS]),
    op("cross_entropy-unbatched", lambda L, x, t: F(L).cross_entropy(x, t), arrays=[LOGITS[0], np.array(2)]),
    op("CrossEntropyLoss", lambda L, x, t: L.nn.CrossEntropyLoss()(x, t), arrays=[LOGITS, TARGETS]),
    op("CrossEntropyLoss-options", lambda L, x, t: L.nn.CrossEntropyLoss(
        weight=weight(L, x), ignore_index=0, label_smoothing=0.1, reduction="sum")(x, t), arrays=[LOGITS, TARGETS]),
    op("nll_loss", lambda L, x, t: F(L).nll_loss(F(L).log_softmax(x, dim=1), t), arrays=[LOGITS, TARGETS]),
    op("nll_loss-raw", lambda L, x, t: F(L).nll_loss(x, t), arrays=[LOGITS, TARGETS]),
    op("nll_loss-sum", lambda L, x, t: F(L).nll_loss(x, t, reduction="sum"), arrays=[LOGITS, TARGETS]),
    op("nll_loss-none-weight", lambda L, x, t: F(L).nll_loss(x, t, weight=weight(L, x), reduction="none"), arrays=[LOGITS, TARGETS]),
    op("nll_loss-weight-ignore", lambda L, x, t: F(L).nll_loss(x, t, weight=weight(L, x), ignore_index=1), arrays=[LOGITS, TARGETS]),
    op("nll_loss-Nd", lambda L, x, t: F(L).nll_loss(x, t), arrays=[N_D_LOGITS, N_D_TARGETS]),
    op("NLLLoss", lambda L, x, t: L.nn.NLLLoss(reduction="sum")(L.nn.LogSoftmax(dim=1)(x), t), arrays=[LOGITS, TARGETS]),
    op("mse_loss", lambda L, x, y: F(L).mse_loss(x, y), shapes=[(3, 4), (3, 4)]),
    op("mse_loss-sum", lambda L, x, y: F(L).mse_loss(x, y, reduction="sum"), shapes=[(3, 4), (3, 4)]),
    op("mse_loss-none", lambda L, x, y: F(L).mse_loss(x, y, reduction="none"), shapes=[(3, 4), (3, 4)]),
    op("MSELoss", lambda L, x, y: L.nn.MSELoss()(x, y), shapes=[(5,), (5,)]),
    op("l1_loss", lambda L, x, y: F(L).l1_loss(x, y), shapes=[(3, 4), (3, 4)]),
    op("l1_loss-ties", lambda L, x, y: F(L).l1_loss(x, y, reduction="sum"), arrays=[LEFT, LEFT * 0 + RIGHT], numeric=False),
    op("L1Loss-none", lambda L, x, y: L.nn.L1Loss(reduction="none")(x, y), shapes=[(2, 3), (2, 3)]),
    op("binary_cross_entropy", lambda L, x, t: F(L).binary_cross_entropy(x.sigmoid(), t.to(x.dtype)),
       arrays=[[[0.5, -1., 2.], [0., 1., -3.]], PROBS_TARGET]),
    op("binary_cross_entropy-sum", lambda L, x, t: F(L).binary_cross_entropy(x.sigmoid(), t.to(x.dtype), reduction="sum"),
       arrays=[[[0.5, -1., 2.], [0., 1., -3.]], PROBS_TARGET]),
    op("binary_cross_entropy-saturated", lambda L, p, t: F(L).binary_cross_entropy(p, t.to(p.dtype)),
       arrays=[[[0., 1., 0.3], [1., 0., 0.9]], [[0, 1, 1], [0, 1, 0]]], numeric=False),
    op("BCELoss-none", lambda L, x, t: L.nn.BCELoss(reduction="none")(x.sigmoid(), t.to(x.dtype)),
       arrays=[[[0.5, -1., 2.], [0., 1., -3.]], PROBS_TARGET]),
    op("binary_cross_entropy_with_logits", lambda L, x, t: F(L).binary_cross_entropy_with_logits(x, t.to(x.dtype)),
       arrays=[[[0.5, -1., 2.], [0., 1., -3.]], PROBS_TARGET]),
    op("binary_cross_entropy_with_logits-large", lambda L, x, t: F(L).binary_cross_entropy_with_logits(x, t.to(x.dtype)),
       arrays=[[[100., -100., 40.], [-40., 0., 1000.]], PROBS_TARGET], numeric=False),
    op("BCEWithLogitsLoss-sum", lambda L, x, t: L.nn.BCEWithLogitsLoss(reduction="sum")(x, t.to(x.dtype)),
       arrays=[[[0.5, -1., 2.], [0., 1., -3.]], PROBS_TARGET]),
]

# ---------------------------------------------------------------------------------------------------------------
# layers in functional form (their weights are inputs, so weight gradients are checked too)

LAYERS = [
    op("linear", lambda L, x, w, b: F(L).linear(x, w, b), shapes=[(5, 4), (3, 4), (3,)]),
    op("linear-no-bias", lambda L, x, w: F(L).linear(x, w), shapes=[(2, 5, 4), (3, 4)]),
    op("linear-single-sample", lambda L, x, w, b: F(L).linear(x, w, b), shapes=[(4,), (3, 4), (3,)]),
    op("embedding", lambda L, i, w: F(L).embedding(i, w), arrays=[np.array([[0, 2, 2], [4, 0, 2]]), np.arange(10.).reshape(5, 2) / 3]),
    op("embedding-repeats-1d", lambda L, i, w: F(L).embedding(i, w), arrays=[np.array([1, 1, 1, 0]), np.arange(6.).reshape(3, 2) / 4]),
    op("layer_norm", lambda L, x, w, b: F(L).layer_norm(x, (4,), w, b), shapes=[(3, 4), (4,), (4,)]),
    op("layer_norm-2d-shape", lambda L, x, w, b: F(L).layer_norm(x, (3, 4), w, b, eps=1e-3), shapes=[(2, 3, 4), (3, 4), (3, 4)]),
    op("layer_norm-no-affine", lambda L, x: F(L).layer_norm(x, [4]), shapes=[(2, 3, 4)]),
    op("relu", lambda L, x: F(L).relu(x), arrays=[KINKS], numeric=False),
    op("leaky_relu", lambda L, x: F(L).leaky_relu(x, 0.2), shapes=[(3, 4)]),
    op("leaky_relu-default-at-0", lambda L, x: F(L).leaky_relu(x), arrays=[KINKS], numeric=False),
    op("gelu", lambda L, x: F(L).gelu(x), shapes=[(3, 4)], low=-4, high=4),
    op("gelu-tanh", lambda L, x: F(L).gelu(x, approximate="tanh"), shapes=[(3, 4)], low=-4, high=4),
    op("sigmoid", lambda L, x: F(L).sigmoid(x), shapes=[(3, 4)]),
    op("tanh", lambda L, x: F(L).tanh(x), shapes=[(3, 4)]),
    op("dropout-eval", lambda L, x: F(L).dropout(x, p=0.5, training=False), shapes=[(3, 4)]),
    op("dropout-p0", lambda L, x: F(L).dropout(x, p=0.0), shapes=[(3, 4)]),
    op("one_hot", lambda L, t: F(L).one_hot(t, num_classes=5), arrays=[TARGETS]),
    op("one_hot-inferred", lambda L, t: F(L).one_hot(t), arrays=[N_D_TARGETS]),
    op("one_hot-times-logits", lambda L, x, t: (F(L).one_hot(t, 5) * x).sum(1), arrays=[LOGITS, TARGETS]),
    op("pad", lambda L, x: F(L).pad(x, (1, 2)), shapes=[(2, 3)]),
    op("pad-two-dims-value", lambda L, x: F(L).pad(x, (1, 0, 0, 2), value=0.5), shapes=[(2, 2, 3)]),
]

ALL_ROWS = ARITHMETIC + MATMUL + ELEMENTWISE + COMPARISONS + WHERE + SHAPE + INDEXING + REDUCTIONS + SOFTMAX + LOSSES + LAYERS


@pytest.mark.parametrize("fn,shapes,arrays,kw", ALL_ROWS)
def test_op_matches_torch(fn, shapes, arrays, kw):
    run_row(fn, shapes, arrays, kw)


def test_table_ids_are_unique():
    ids = [p.id for p in ALL_ROWS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


# ---------------------------------------------------------------------------------------------------------------
# layers as modules: torch's initial weights copied in; outputs, input and parameter gradients compared

def copy_weights(ours, theirs):
    "Load torch's state dict into our module, as tensors (the way torch code would)."
    ours.load_state_dict({k: mt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


X_INT = np.array([[0, 3, 3], [9, 0, 3]])
MODULES = [
    ("Linear", lambda L: L.nn.Linear(4, 3), (2, 5, 4)),
    ("Linear-no-bias", lambda L: L.nn.Linear(4, 3, bias=False), (5, 4)),
    ("Embedding", lambda L: L.nn.Embedding(10, 3), X_INT),
    ("LayerNorm", lambda L: L.nn.LayerNorm(4), (2, 3, 4)),
    ("LayerNorm-shape", lambda L: L.nn.LayerNorm((3, 4), eps=1e-3), (2, 3, 4)),
    ("LayerNorm-no-affine", lambda L: L.nn.LayerNorm(4, elementwise_affine=False), (3, 4)),
    ("Dropout-eval", lambda L: L.nn.Dropout(0.5).eval(), (3, 4)),
    ("Flatten", lambda L: L.nn.Flatten(), (2, 3, 4)),
    ("Flatten-dims", lambda L: L.nn.Flatten(0, 1), (2, 3, 4)),
    ("Unflatten", lambda L: L.nn.Unflatten(1, (2, 3)), (4, 6)),
    ("ReLU", lambda L: L.nn.ReLU(), (3, 4)),
    ("LeakyReLU", lambda L: L.nn.LeakyReLU(0.1), (3, 4)),
    ("GELU", lambda L: L.nn.GELU(), (3, 4)),
    ("Tanh", lambda L: L.nn.Tanh(), (3, 4)),
    ("Sigmoid", lambda L: L.nn.Sigmoid(), (3, 4)),
    ("Softmax", lambda L: L.nn.Softmax(dim=1), (3, 4)),
    ("LogSoftmax", lambda L: L.nn.LogSoftmax(dim=-1), (3, 4)),
    ("Identity", lambda L: L.nn.Identity(), (3, 4)),
    ("Sequential", lambda L: L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 3), L.nn.LogSoftmax(dim=1)), (5, 4)),
    ("Sequential-embedding-mlp", lambda L: L.nn.Sequential(L.nn.Embedding(10, 2), L.nn.Flatten(), L.nn.Linear(6, 4),
                                                           L.nn.LayerNorm(4), L.nn.Tanh(), L.nn.Linear(4, 10)), X_INT),
]


@pytest.mark.parametrize("make,x", [pytest.param(m, x, id=n) for n, m, x in MODULES])
def test_module_matches_torch(make, x):
    torch.manual_seed(0)
    theirs, ours = make(torch), make(mt)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    copy_weights(ours, theirs)
    if isinstance(x, tuple): x = np.random.default_rng(2).uniform(-2, 2, x).astype(np.float32)
    floating = x.dtype.kind == "f"
    xm, xt = mt.tensor(x, requires_grad=floating), torch.tensor(x, requires_grad=floating)
    out, tout = ours(xm), theirs(xt)
    assert isinstance(out, mt.Tensor) and out.shape == tuple(tout.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(3).standard_normal(out.shape).astype(np.float32)
    out.backward(mt.tensor(g))
    tout.backward(torch.tensor(g))
    if floating:
        np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg="input grad")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert isinstance(p.grad, mt.Tensor) and p.grad.shape == p.shape and p.grad.dtype == np.float32, name
        np.testing.assert_allclose(p.grad.data, theirs_params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_dropout_train_mode_scales_kept_units_like_torch():
    "Random masks differ between libraries; what must agree: zeros, the 1/(1-p) scale, the gradient through kept units."
    d = mt.nn.Dropout(0.25)
    assert d.training
    x = mt.full((200, 100), 2.0, requires_grad=True)
    y = d(x)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 2.0 / 0.75, rtol=1e-6)
    assert 0.22 < 1 - kept.mean() < 0.28 and y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.where(kept, 1 / 0.75, 0), rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# random programs (hypothesis), all through check_op

few = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BINARY = {"+": lambda L, a, b: a + b, "-": lambda L, a, b: a - b, "*": lambda L, a, b: a * b,
          "/": lambda L, a, b: a / b, "maximum": lambda L, a, b: L.maximum(a, b),
          "where": lambda L, a, b: L.where(a > b, a * b, b - a), "pow": lambda L, a, b: a ** b}


@few
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       st.sampled_from(sorted(BINARY)), st.integers(0, 2**16))
def test_property_broadcast_binary(shapes, name, seed):
    fn = BINARY[name]
    check_op(lambda a, b: fn(mt, a, b), shapes=list(shapes.input_shapes), torch_fn=lambda a, b: fn(torch, a, b),
             seed=seed, low=0.5, high=2.0)


REDUCERS = {"sum": lambda a, d, k: a.sum(dim=d, keepdim=k), "mean": lambda a, d, k: a.mean(dim=d, keepdim=k),
            "amax": lambda a, d, k: a.amax(dim=d, keepdim=k), "amin": lambda a, d, k: a.amin(dim=d, keepdim=k),
            "logsumexp": lambda a, d, k: a.logsumexp(dim=d, keepdim=k), "var": lambda a, d, k: a.var(dim=d, keepdim=k),
            "norm": lambda a, d, k: a.norm(dim=d, keepdim=k) if isinstance(a, mt.Tensor) else torch.linalg.vector_norm(a, 2, d, k)}
# torch's Tensor.norm (deprecated) sends its default 'fro' over more than two dims to matrix_norm, which raises;
# vector_norm is the same 2-norm for any dims, and what microtorch's norm computes


@few
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), st.data())
def test_property_reductions_with_ties(shape, data):
    "Values rounded to integers in [-2, 2] make ties common: amax/amin must split the gradient like torch."
    dims = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda d: d % len(shape),
                              min_size=1, max_size=len(shape)))
    keepdim = data.draw(st.booleans())
    name = data.draw(st.sampled_from(sorted(REDUCERS)))
    if name == "var" and np.prod([shape[d] for d in dims]) < 2: name = "sum"   # var of one element is nan in torch
    seed = data.draw(st.integers(0, 2**16))
    a = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)
    if name == "norm": a += 0.5                      # no all-zero slices: norm's kink has no unique gradient
    fn = REDUCERS[name]
    check_op(lambda x: fn(x, tuple(dims), keepdim), arrays=[a], numeric=name not in ("amax", "amin"), seed=seed)


@st.composite
def matmul_shapes(draw):
    "Shapes `a @ b` accepts: vectors or (batched) matrices whose batch dims broadcast."
    m, n, p = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))

    def batch_variant():
        lead = draw(st.integers(0, len(batch)))
        return tuple(1 if draw(st.booleans()) else k for k in batch[lead:])
    a = (n,) if draw(st.booleans()) else batch_variant() + (m, n)
    b = (n,) if draw(st.booleans()) else batch_variant() + (n, p)
    return [a, b]


@few
@given(matmul_shapes(), st.integers(0, 2**16))
def test_property_matmul(shapes, seed):
    check_op(lambda a, b: a @ b, shapes=shapes, torch_fn=torch.matmul, seed=seed)


@few
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.randoms(use_true_random=False), st.data())
def test_property_permute_transpose(shape, random, data):
    perm = list(range(len(shape)))
    random.shuffle(perm)
    d0, d1 = (data.draw(st.integers(-len(shape), len(shape) - 1)) for _ in range(2))
    check_op(lambda a: a.permute(*perm).transpose(d0, d1) * 2, shapes=[tuple(shape)])


@few
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_property_integer_index_with_repeats(shape, data):
    "An integer tensor along a random dim (repeats and negative positions allowed) scatters its gradient back."
    dim = data.draw(st.integers(0, len(shape) - 1))
    idx = np.array(data.draw(st.lists(st.integers(-shape[dim], shape[dim] - 1), min_size=0, max_size=6)), np.int64)
    a = np.random.default_rng(len(idx)).uniform(-2, 2, shape)
    check_op(lambda x, i: x[(slice(None),) * dim + (i,)], arrays=[a, idx])


@few
@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), st.data())
def test_property_softmax(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    scale = data.draw(st.sampled_from([1.0, 100.0]))              # 100x reaches logits in the hundreds
    name = data.draw(st.sampled_from(["softmax", "log_softmax"]))
    a = np.random.default_rng(data.draw(st.integers(0, 2**16))).uniform(-3, 3, shape) * scale
    check_op(lambda x: getattr(x, name)(dim=dim), arrays=[a], numeric=scale == 1.0)


@few
@given(st.integers(1, 6), st.integers(1, 5), st.data())
def test_property_cross_entropy(n, c, data):
    logits = np.random.default_rng(data.draw(st.integers(0, 2**16))).uniform(-3, 3, (n, c)) * data.draw(st.sampled_from([1., 50.]))
    targets = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), np.int64)
    smoothing = data.draw(st.sampled_from([0.0, 0.1]))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    check_op(lambda x, t: F(mt).cross_entropy(x, t, label_smoothing=smoothing, reduction=reduction), arrays=[logits, targets],
             torch_fn=lambda x, t: F(torch).cross_entropy(x, t, label_smoothing=smoothing, reduction=reduction), numeric=False)

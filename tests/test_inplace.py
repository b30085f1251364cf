"""In-place ops inside graphs: random small programs run in microtorch and in PyTorch.

The same program (a list of steps) is interpreted once with each library.
- torch computes: microtorch must compute the same values and leaf gradients (raising is a failure).
- torch raises while running the program (an in-place op on a leaf that requires grad): microtorch must
  raise a RuntimeError too.
- torch raises in backward (a value that backward needs was changed in place): microtorch may raise a
  RuntimeError; if it computes instead, its results must be the right ones, those of the same program
  with the in-place ops written out of place, run by torch. Only ops on unshared tensors are rewritten:
  a tensor sharing storage with another (`detach`, views) and updates under `no_grad` stay in place,
  since their out-of-place version would mean something else; if that reference program raises too,
  microtorch must raise.
- Programs with views (`view`, `[:]`) may also meet microtorch's one deliberate refusal: an in-place op inside a
  graph on a view, or on a tensor with a live view, raises a RuntimeError asking for `.clone()`
  (PyTorch rewrites the other graph instead). Only that error, with that message, is accepted where torch computes.
Never a silently wrong gradient.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import microtorch as mt

torch = pytest.importorskip("torch")

N_LEAVES = 2
OUT_OF_PLACE = ["add", "sub", "mul", "scale", "tanh", "sigmoid", "exp-tanh", "clone", "detach", "view", "slice"]
IN_PLACE = ["+=", "-=", "*=", "/=c", "+=c", "*=c", "add_", "sub_", "mul_", "div_c", "copy_", "zero_", "fill_", "clamp_",
            "no_grad+=c"]
ON_LEAF = ["leaf+=c", "leaf-no_grad*=c", "leaf-add_"]


@st.composite
def programs(draw, kinds_in_place=tuple(IN_PLACE), views=False):
    "Steps `(kind, target, other, constant)`; in-place steps target computed tensors (leaves have their own kinds)."
    steps, n = [], N_LEAVES
    out_of_place = [k for k in OUT_OF_PLACE if views or k not in ("view", "slice", "detach")]
    for _ in range(draw(st.integers(1, 8))):
        family = draw(st.sampled_from(["new", "new", "in-place", "in-place", "leaf"] if n > N_LEAVES else ["new", "leaf"]))
        if family == "leaf" and draw(st.integers(0, 3)) > 0: family = "new"          # leaf steps: rare
        kind = draw(st.sampled_from({"new": out_of_place, "in-place": list(kinds_in_place), "leaf": ON_LEAF}[family]))
        target = (draw(st.integers(0, N_LEAVES - 1)) if family == "leaf" else
                  draw(st.integers(N_LEAVES, n - 1)) if family == "in-place" else draw(st.integers(0, n - 1)))
        other = draw(st.integers(0, n - 1))
        steps.append((kind, target, other, draw(st.sampled_from([0.5, 2.0, -1.5]))))
        if family == "new": n += 1
    used = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4, unique=True))
    return steps, used


REWRITE = {"+=": lambda x, y, c: x + y, "-=": lambda x, y, c: x - y, "*=": lambda x, y, c: x * y,
           "/=c": lambda x, y, c: x / c, "+=c": lambda x, y, c: x + c, "*=c": lambda x, y, c: x * c,
           "add_": lambda x, y, c: x + y, "sub_": lambda x, y, c: x - y, "mul_": lambda x, y, c: x * y,
           "div_c": lambda x, y, c: x / c, "copy_": lambda x, y, c: y * c + 0 * x, "zero_": lambda x, y, c: x * 0,
           "fill_": lambda x, y, c: x * 0 + c, "clamp_": lambda x, y, c: x.clamp(-0.5, 0.8)}
SHARING = ("detach", "view", "slice")


def run(L, steps, used, start, stage, functional=False):
    """Interpret a program with library `L`; return the loss, every tensor's value, whether in-place ops kept
    identity, and leaf grads. `stage[0]` tells how far it got; `functional` writes in-place steps out of place."""
    stage[0] = "forward"
    leaves = [L.tensor(a, dtype=L.float64, requires_grad=True) for a in start]
    vs, same = list(leaves), []
    storage = list(range(N_LEAVES))          # which tensors share memory: detach and views share their source's
    for kind, i, j, c in steps:
        x, y = vs[i], vs[j]
        if kind in SHARING or kind in OUT_OF_PLACE: storage.append(storage[i] if kind in SHARING else len(storage))
        if kind == "add": vs.append(x + y)
        elif kind == "sub": vs.append(x - y)
        elif kind == "mul": vs.append(x * y)
        elif kind == "scale": vs.append(x * c)
        elif kind == "tanh": vs.append(x.tanh())
        elif kind == "sigmoid": vs.append(L.sigmoid(x))
        elif kind == "exp-tanh": vs.append(x.tanh().exp())
        elif kind == "clone": vs.append(x.clone())
        elif kind == "detach": vs.append(x.detach())
        elif kind == "view": vs.append(x.view(3))
        elif kind == "slice": vs.append(x[:])
        elif functional and kind in REWRITE and storage.count(storage[i]) == 1:
            vs[i] = REWRITE[kind](x, y, c)
            same.append(True)
        else:
            before = x
            if kind == "+=": x += y
            elif kind == "-=": x -= y
            elif kind == "*=": x *= y
            elif kind == "/=c": x /= c
            elif kind == "+=c": x += c
            elif kind == "*=c": x *= c
            elif kind == "add_": x = x.add_(y)
            elif kind == "sub_": x = x.sub_(y)
            elif kind == "mul_": x = x.mul_(y)
            elif kind == "div_c": x = x.div_(c)
            elif kind == "copy_": x = x.copy_(y * c)
            elif kind == "zero_": x = x.zero_()
            elif kind == "fill_": x = x.fill_(c)
            elif kind == "clamp_": x = x.clamp_(-0.5, 0.8)
            elif kind == "no_grad+=c":
                with L.no_grad(): x += c
            elif kind == "leaf+=c": x += c
            elif kind == "leaf-no_grad*=c":
                with L.no_grad(): x *= c
            elif kind == "leaf-add_": x = x.add_(y)
            else: raise AssertionError(kind)
            same.append(x is before)
            vs[i] = x
    loss = sum((vs[k] * (k + 1)).sum() for k in used)
    values = [np.array(v.detach().numpy() if L is torch else v.data, dtype=np.float64) for v in vs]
    if not loss.requires_grad: return loss.item(), values, same, [None] * N_LEAVES
    stage[0] = "backward"
    loss.backward()
    grads = [None if t.grad is None else np.array(t.grad.numpy() if L is torch else t.grad.data) for t in leaves]
    return loss.item(), values, same, grads


def outcome(L, program, start, functional=False):
    "(result, error, stage reached)"
    stage = [None]
    try:
        return run(L, *program, start, stage, functional), None, stage[0]
    except Exception as e:
        return None, e, stage[0]


VIEW_REFUSAL = "shares its memory with a view"


def compare(program, seed, views_may_refuse=False):
    start = [np.random.default_rng(seed + k).uniform(-1.5, 1.5, 3) for k in range(N_LEAVES)]
    theirs, torch_error, torch_stage = outcome(torch, program, start)
    ours, our_error, _ = outcome(mt, program, start)
    if views_may_refuse and isinstance(our_error, RuntimeError) and VIEW_REFUSAL in str(our_error): return
    if torch_error is not None:
        if isinstance(our_error, RuntimeError): return
        assert torch_stage == "backward" and our_error is None, \
            f"torch raises {type(torch_error).__name__} in {torch_stage}: {torch_error}\nmicrotorch: {our_error!r} (result {ours})"
        theirs, reference_error, _ = outcome(torch, program, start, functional=True)
        assert reference_error is None, f"microtorch computes where torch and the out-of-place program raise: {reference_error}"
        assert_same(ours, theirs, "microtorch computes where torch refuses; the out-of-place program (torch) disagrees: ")
        return
    assert our_error is None, f"microtorch raises where torch computes: {our_error!r}"
    assert_same(ours, theirs, "")


def assert_same(ours, theirs, why):
    loss, values, same, grads = ours
    tloss, tvalues, tsame, tgrads = theirs
    assert same == tsame, f"{why}in-place ops return the same tensor: {same} vs torch {tsame}"
    np.testing.assert_allclose(loss, tloss, rtol=1e-10, atol=1e-12, err_msg=why + "loss")
    for k, (v, tv) in enumerate(zip(values, tvalues)):
        np.testing.assert_allclose(v, tv, rtol=1e-10, atol=1e-12, err_msg=f"{why}value of tensor {k}")
    for k, (g, tg) in enumerate(zip(grads, tgrads)):
        assert (g is None) == (tg is None), f"{why}leaf {k}: grad {g} vs torch {tg}"
        if g is not None: np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-12, err_msg=f"{why}grad of leaf {k}")


fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@fuzz
@given(programs(), st.integers(0, 2**16))
@example(([("add", 0, 0, 0.5), ("scale", 2, 0, 0.5), ("+=", 2, 0, 0.5)], [3]), 0)          # x * c does not need x
@example(([("add", 0, 0, 0.5), ("tanh", 2, 0, 0.5), ("+=", 2, 0, 0.5)], [3]), 0)           # tanh needs its output, not x
@example(([("add", 0, 0, 0.5), ("tanh", 2, 0, 0.5), ("*=", 3, 3, 0.5)], [3]), 0)           # torch raises: raise, or compute the out-of-place result
@example(([("tanh", 0, 0, 0.5), ("leaf-no_grad*=c", 0, 0, 0.5)], [2]), 0)
@example(([("add", 0, 0, 0.5), ("copy_", 2, 2, 0.5)], [2]), 0)
@example(([("add", 0, 1, 0.5), ("mul", 2, 2, 0.5), ("leaf+=c", 1, 0, 0.5)], [3]), 0)       # in-place on a leaf: both raise
def test_random_inplace_programs_match_torch(program, seed):
    compare(program, seed)


@fuzz
@given(programs(views=True), st.integers(0, 2**16))
@example(([("detach", 0, 0, 0.5), ("add", 0, 0, 0.5), ("+=", 2, 0, 0.5)], [0]), 0)           # writes through a detached alias
@example(([("add", 0, 0, 0.5), ("view", 2, 0, 0.5), ("+=", 2, 0, 0.5)], [3]), 0)           # the view sees the update
@example(([("add", 0, 0, 0.5), ("view", 2, 0, 0.5), ("+=", 3, 0, 0.5)], [2]), 0)           # the base sees the view's update
@example(([("add", 0, 1, 0.5), ("slice", 2, 0, 0.5), ("mul_", 3, 1, 0.5)], [2, 3]), 0)
@example(([("detach", 0, 0, 0.5), ("view", 2, 0, 0.5), ("+=", 2, 0, 0.5)], [3]), 0)           # a view made outside any graph
@example(([("detach", 0, 0, 0.5), ("view", 2, 0, 0.5), ("+=", 2, 0, 0.5), ("+=", 3, 3, 0.5)], [0]), 0)
def test_random_inplace_programs_on_views_match_torch(program, seed):
    "Views (`view`, `[:]`) share data and version with their base: in-place ops through either agree with torch or refuse."
    compare(program, seed, views_may_refuse=True)


def test_view_refusals_are_the_only_deviation():
    "The refusal is narrow: a detached alias, a view read as `other`, and a dead view all compute torch's answer."
    for program in [([("detach", 0, 0, 0.5), ("add", 0, 0, 0.5), ("+=", 2, 0, 0.5)], [0]),
                    ([("add", 0, 0, 0.5), ("detach", 2, 0, 0.5), ("+=", 2, 1, 0.5)], [2, 3]),
                    ([("add", 0, 1, 0.5), ("view", 2, 0, 0.5), ("+=", 2, 3, 0.5)], [2])]:
        compare(program, 0)
    x = mt.tensor([1., 2., 3.], requires_grad=True)
    h = x * 2
    v = h.view(3)
    with pytest.raises(RuntimeError, match=VIEW_REFUSAL):
        h += 1
    del v
    h += 1
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2., 2., 2.])


# ---------------------------------------------------------------------------------------------------------------
# the specific reproductions

def test_total_plus_equals_accumulates_like_torch():
    rng = np.random.default_rng(0)
    w0, xs0 = rng.standard_normal((3, 4)), [rng.standard_normal(4) for _ in range(5)]
    grads = {}
    for L in (mt, torch):
        w = L.tensor(w0, dtype=L.float64, requires_grad=True)
        xs = [L.tensor(x, dtype=L.float64) for x in xs0]
        total = 0
        for x in xs:
            total += (w @ x).sum()
        total.backward()
        grads[L.__name__] = (total.item(), np.array(w.grad.numpy() if L is torch else w.grad.data))
    assert grads["microtorch"][0] == pytest.approx(grads["torch"][0], rel=1e-12)
    np.testing.assert_allclose(grads["microtorch"][1], grads["torch"][1], rtol=1e-12)
    np.testing.assert_allclose(grads["torch"][1], np.tile(np.sum(xs0, axis=0), (3, 1)), rtol=1e-12)


def test_changing_a_saved_tensor_raises_at_backward_like_torch():
    for L in (torch, mt):
        x = L.tensor([1., 2., 3.], requires_grad=True)
        h = x * 2
        y = (h * h).sum()
        h += 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_inplace_that_backward_does_not_need_is_fine():
    "Add does not read its inputs in backward: changing them afterwards leaves the gradient right (torch agrees)."
    results = []
    for L in (torch, mt):
        x = L.tensor([1., 2., 3.], requires_grad=True)
        h = x * 2
        y = (h + 1).sum()
        h *= 3
        y.backward()
        results.append(np.array(x.grad.numpy() if L is torch else x.grad.data))
    np.testing.assert_array_equal(results[1], results[0])
    np.testing.assert_array_equal(results[0], [2., 2., 2.])


def test_inplace_result_gets_the_gradient_of_the_new_value():
    for L in (torch, mt):
        x = L.tensor([0.5, -1., 2.], requires_grad=True)
        h = x + 1
        h.mul_(x)                        # h = (x + 1) * x: the gradient needs h's old value, which torch keeps
        h.sum().backward()
        g = x.grad.numpy() if L is torch else x.grad.data
        np.testing.assert_allclose(g, 2 * np.array([0.5, -1., 2.]) + 1, rtol=1e-6, err_msg=L.__name__)

"""Code written for PyTorch runs unchanged on microtorch (issue #12).

Each script below is one source string written for `torch`, following the workflows of PyTorch's
"Learn the basics" tutorials (tensors, datasets and loaders, building a model, autograd, the optimization
loop, saving and loading) and a lecture-style character-level MLP. A test runs the script with real torch
(when it is installed) and with microtorch; the only difference between the two runs is the import
lines, where `torch` becomes `microtorch` (see `for_microtorch`). The runs must agree in kind: what the
scripts print (shapes, dtypes, counts) is equal, losses go down, accuracy passes a threshold. Where a
computation is deterministic given the weights, the test copies torch's weights into microtorch through
the state dict and asks for the same numbers.
"""
import contextlib
import io
import re

import numpy as np
import pytest

import microtorch as mt

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="the torch half of the comparison")


def for_microtorch(source: str) -> str:
    "The script with its import lines pointing at microtorch; every other line stays as it is."
    def rewrite(line):
        if re.match(r"\s*import torch\s*$", line): return line.replace("import torch", "import microtorch as torch")
        if re.match(r"\s*(import|from) torch[ .]", line): return re.sub(r"\btorch\b", "microtorch", line, count=1)
        return line
    out = [rewrite(line) for line in source.splitlines()]
    changed = [(a, b) for a, b in zip(source.splitlines(), out) if a != b]
    assert all(re.match(r"\s*(import|from) ", a) for a, _ in changed)
    return "\n".join(out)


def run_script(source, library, tmp_path, monkeypatch):
    "Execute the script for `library` ('torch' or 'microtorch') in a fresh namespace; return it and what it printed."
    monkeypatch.chdir(tmp_path)
    code = source if library == "torch" else for_microtorch(source)
    namespace, printed = {"__name__": f"script_{library}"}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"<{library} script>", "exec"), namespace)
    return namespace, printed.getvalue()


def normalized(printed: str) -> str:
    "microtorch's dtypes are numpy dtypes (the documented deviation): `torch.float32` prints as `float32`."
    return printed.replace("torch.", "")


def both(source, tmp_path, monkeypatch):
    "Run with microtorch, and with torch when installed; the printed lines must be equal."
    ours, ours_printed = run_script(source, "microtorch", tmp_path / "microtorch", monkeypatch)
    if torch is None: return ours, None
    theirs, theirs_printed = run_script(source, "torch", tmp_path / "torch", monkeypatch)
    assert normalized(ours_printed) == normalized(theirs_printed)
    return ours, theirs


@pytest.fixture(autouse=True)
def folders(tmp_path):
    (tmp_path / "microtorch").mkdir()
    (tmp_path / "torch").mkdir()


def arrays_of(value):
    "A (torch or microtorch) tensor as a numpy array."
    return value.detach().numpy() if torch is not None and isinstance(value, torch.Tensor) else np.asarray(value.data)


# ---------------------------------------------------------------------------------------------------------------
# tensors

TENSORS = '''
import torch
import numpy as np

# from data, from numpy, from another tensor
data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
x_np = torch.from_numpy(np.array(data))
x_ones = torch.ones_like(x_data)
x_rand = torch.rand_like(x_data, dtype=torch.float)
print("from data:", tuple(x_data.shape), x_data.dtype, x_np.dtype, x_ones.tolist(), x_rand.dtype)

shape = (2, 3,)
for made in (torch.rand(shape), torch.ones(shape), torch.zeros(shape)):
    print("made:", tuple(made.shape), made.dtype)

# attributes
tensor = torch.rand(3, 4)
print(f"Shape of tensor: {tuple(tensor.shape)}")
print(f"Datatype of tensor: {tensor.dtype}")
print(f"Device tensor is stored on: {tensor.device}")

# indexing and slicing
tensor = torch.ones(4, 4)
print(f"First row: {tensor[0].tolist()}")
print(f"First column: {tensor[:, 0].tolist()}")
print(f"Last column: {tensor[..., -1].tolist()}")
tensor[:, 1] = 0
print(tensor.tolist())

# joining
t1 = torch.cat([tensor, tensor, tensor], dim=1)
print("cat:", tuple(t1.shape), "stack:", tuple(torch.stack([tensor, tensor]).shape))

# arithmetic
y1 = tensor @ tensor.T
y2 = tensor.matmul(tensor.T)
z1 = tensor * tensor
z2 = tensor.mul(tensor)
print("matmul:", y1.tolist(), torch.equal(y1, y2))
print("elementwise:", z1.tolist(), torch.equal(z1, z2))

# single-element tensors
agg = tensor.sum()
agg_item = agg.item()
print("sum:", agg_item, type(agg_item).__name__)

# in place
tensor.add_(5)
print("in place:", tensor.tolist())

# bridge with numpy: shared memory both ways
t = torch.ones(5)
n = t.numpy()
t.add_(1)
print("tensor to numpy:", t.tolist(), n.tolist())
n = np.ones(5)
t = torch.from_numpy(n)
np.add(n, 1, out=n)
print("numpy to tensor:", t.tolist(), n.tolist(), t.dtype)
'''


def test_tensors_script(tmp_path, monkeypatch):
    ours, theirs = both(TENSORS, tmp_path, monkeypatch)
    assert ours["agg_item"] == 12.0
    assert ours["tensor"].tolist() == [[6.0, 5.0, 6.0, 6.0]] * 4


# ---------------------------------------------------------------------------------------------------------------
# datasets and data loaders

DATA = '''
import torch
from torch.utils.data import Dataset, DataLoader, TensorDataset

class RingsDataset(Dataset):
    "Points on two noisy rings; the label says which ring."
    def __init__(self, n, generator):
        self.labels = torch.randint(0, 2, (n,), generator=generator)
        angles = torch.rand(n, generator=generator) * 6.283
        radius = 1.0 + self.labels.float() + 0.1 * torch.randn(n, generator=generator)
        self.points = torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return self.points[idx], self.labels[idx]

g = torch.Generator().manual_seed(0)
rings = RingsDataset(50, g)
point, label = rings[3]
print("one item:", tuple(point.shape), point.dtype, tuple(label.shape), label.dtype, len(rings))

loader = DataLoader(rings, batch_size=16, shuffle=True)
features, labels = next(iter(loader))
print("batch:", tuple(features.shape), features.dtype, tuple(labels.shape), labels.dtype, len(loader))

seen = []
sizes = []
for xb, yb in loader:
    sizes.append(len(xb))
    seen.extend(yb.tolist())
print("epoch:", sizes, sorted(seen) == sorted(rings.labels.tolist()))

pairs = TensorDataset(torch.arange(10.).view(10, 1), torch.arange(10))
ordered = [yb.tolist() for _, yb in DataLoader(pairs, batch_size=4)]
print("in order:", ordered)
epochs = [[yb.tolist() for _, yb in DataLoader(pairs, batch_size=4, shuffle=True)] for _ in range(3)]
shuffled = sum(e != ordered for e in epochs) >= 2
print("shuffled:", shuffled, all(sorted(sum(e, [])) == list(range(10)) for e in epochs))
aligned = all((xb.view(-1) == yb.float()).all().item() for xb, yb in DataLoader(pairs, batch_size=3, shuffle=True))
print("pairs stay aligned:", aligned)
print("dataset attribute:", len(DataLoader(pairs, batch_size=4).dataset))
'''


def test_datasets_script(tmp_path, monkeypatch):
    ours, _ = both(DATA, tmp_path, monkeypatch)
    assert ours["sizes"] == [16, 16, 16, 2] and ours["shuffled"] and ours["aligned"]


# ---------------------------------------------------------------------------------------------------------------
# building a model

MODEL = '''
import torch
from torch import nn

class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 32),
            nn.ReLU(),
            nn.Linear(32, 32),
            nn.ReLU(),
            nn.Linear(32, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits

torch.manual_seed(0)
model = NeuralNetwork()
X = torch.rand(3, 8, 8)
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print("logits:", tuple(logits.shape), logits.dtype, "prediction:", tuple(y_pred.shape), y_pred.dtype)
print("probabilities sum to one:", torch.allclose(pred_probab.sum(1), torch.ones(3)))

# the layers one by one
input_image = torch.rand(3, 8, 8)
flat_image = nn.Flatten()(input_image)
layer1 = nn.Linear(in_features=8 * 8, out_features=20)
hidden1 = layer1(flat_image)
hidden1 = nn.ReLU()(hidden1)
print("layers:", tuple(flat_image.shape), tuple(hidden1.shape), (hidden1 >= 0).all().item())
seq_modules = nn.Sequential(nn.Flatten(), layer1, nn.ReLU(), nn.Linear(20, 10))
print("sequential:", tuple(seq_modules(input_image).shape))

for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {tuple(param.size())} | requires_grad: {param.requires_grad}")
print("parameter count:", sum(p.numel() for p in model.parameters()))
print("children:", [type(m).__name__ for m in model.children()])
'''


def test_model_script(tmp_path, monkeypatch):
    ours, theirs = both(MODEL, tmp_path, monkeypatch)
    if theirs is None: return
    # the same weights give the same logits
    ours["model"].load_state_dict({k: mt.tensor(v.numpy()) for k, v in theirs["model"].state_dict().items()})
    x = theirs["X"].numpy()
    np.testing.assert_allclose(arrays_of(ours["model"](mt.tensor(x))), arrays_of(theirs["model"](torch.tensor(x))),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# autograd

AUTOGRAD = '''
import torch

def forward(x, y, w, b):
    z = torch.matmul(x, w) + b
    return z, torch.nn.functional.binary_cross_entropy_with_logits(z, y)

x = torch.ones(5)
y = torch.zeros(3)
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z, loss = forward(x, y, w, b)
print("graph:", z.grad_fn is not None, loss.grad_fn is not None, w.grad_fn is None, w.is_leaf, z.is_leaf)
loss.backward()
print("grads:", tuple(w.grad.shape), w.grad.dtype, tuple(b.grad.shape), w.grad.requires_grad)

z = torch.matmul(x, w) + b
print("tracking:", z.requires_grad)
with torch.no_grad():
    z = torch.matmul(x, w) + b
print("no_grad:", z.requires_grad)
z = torch.matmul(x, w) + b
z_det = z.detach()
print("detach:", z_det.requires_grad, z.requires_grad)

inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
first = inp.grad.clone()
out.backward(torch.ones_like(out), retain_graph=True)
second = inp.grad.clone()
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
third = inp.grad.clone()
print("first call:", first.tolist())
print("accumulated:", torch.equal(second, 2 * first), "after zero_:", torch.equal(third, first))
'''


def test_autograd_script(tmp_path, monkeypatch):
    ours, theirs = both(AUTOGRAD, tmp_path, monkeypatch)
    assert ours["first"].tolist() == [[4., 2., 2., 2., 2.], [2., 4., 2., 2., 2.], [2., 2., 4., 2., 2.], [2., 2., 2., 4., 2.]]
    if theirs is None: return
    # the same weights give the same loss and gradients
    w0, b0 = theirs["w"].detach().numpy(), theirs["b"].detach().numpy()
    results = []
    for L, ns in ((mt, ours), (torch, theirs)):
        w, b = L.tensor(w0, requires_grad=True), L.tensor(b0, requires_grad=True)
        _, loss = ns["forward"](L.ones(5), L.zeros(3), w, b)
        loss.backward()
        results.append([loss.item(), arrays_of(w.grad), arrays_of(b.grad)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# the optimization loop

TRAINING = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
centers = torch.tensor([[2., 0., 0., 1.], [-2., 1., 0., 0.], [0., -2., 1., 0.]])
labels = torch.randint(0, 3, (600,))
features = centers[labels] + 0.8 * torch.randn(600, 4)
training_data = TensorDataset(features[:500], labels[:500])
test_data = TensorDataset(features[500:], labels[500:])

learning_rate = 0.1
batch_size = 32
epochs = 5
train_dataloader = DataLoader(training_data, batch_size=batch_size, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=batch_size)

class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.stack = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.stack(x)

def train_loop(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    total = 0.0
    for batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += loss.item() * len(X)
    return total / size

def test_loop(dataloader, model, loss_fn):
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    return test_loss / num_batches, correct / size

model = NeuralNetwork()
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
history = []
for t in range(epochs):
    train_loss = train_loop(train_dataloader, model, loss_fn, optimizer)
    history.append((train_loss,) + test_loop(test_dataloader, model, loss_fn))
print("batches:", len(train_dataloader), len(test_dataloader), "epochs:", len(history))
print("Done!")
'''


def test_training_script(tmp_path, monkeypatch):
    ours, theirs = both(TRAINING, tmp_path, monkeypatch)
    for ns in (ours, theirs) if theirs is not None else (ours,):
        history = ns["history"]
        assert history[-1][0] < 0.7 * history[0][0], history      # training loss goes down
        assert history[-1][2] > 0.85, history                      # test accuracy
    if theirs is None: return
    # deterministic given the weights and the order: copy torch's initial weights, train without shuffling
    losses = []
    torch.manual_seed(1)
    start = theirs["NeuralNetwork"]().state_dict()
    features, labels = theirs["features"].numpy(), theirs["labels"].numpy()
    for L, ns in ((mt, ours), (torch, theirs)):
        model = ns["NeuralNetwork"]()
        model.load_state_dict({k: L.tensor(v.numpy()) for k, v in start.items()})
        data = L.utils.data.TensorDataset(L.tensor(features), L.tensor(labels))
        loader = L.utils.data.DataLoader(data, batch_size=64)
        optimizer = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = L.nn.CrossEntropyLoss()
        losses.append([ns["train_loop"](loader, model, loss_fn, optimizer) for _ in range(3)]
                      + list(ns["test_loop"](loader, model, loss_fn)))
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# saving and loading

SAVING = '''
import torch
from torch import nn

def make_model():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

model = make_model()
torch.save(model.state_dict(), "model_weights.pth")

restored = make_model()
restored.load_state_dict(torch.load("model_weights.pth", weights_only=True))
restored.eval()
x = torch.rand(5, 4)
same_weights = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), restored.state_dict().values()))
same_outputs = torch.equal(model(x), restored(x))
print("restored:", same_weights, same_outputs, list(restored.state_dict()))

checkpoint = {"epoch": 3, "model": model.state_dict(), "optimizer": torch.optim.SGD(model.parameters(), lr=0.1).state_dict()}
torch.save(checkpoint, "checkpoint.pth")
back = torch.load("checkpoint.pth", weights_only=True)
print("checkpoint:", back["epoch"], sorted(back["model"]), back["optimizer"]["param_groups"][0]["lr"])
'''


def test_saving_script(tmp_path, monkeypatch):
    ours, _ = both(SAVING, tmp_path, monkeypatch)
    assert ours["same_weights"] and ours["same_outputs"]
    assert (tmp_path / "microtorch" / "model_weights.pth").exists()


# ---------------------------------------------------------------------------------------------------------------
# a character-level MLP in the style of a lecture (makemore)

MAKEMORE = '''
import torch
import torch.nn.functional as F

syllables = ["ka", "mi", "lo", "ra", "na", "te", "su", "vi", "bo", "el"]
words = [a + b for a in syllables for b in syllables] + [a + b + c for a in syllables[:4] for b in syllables[3:7] for c in syllables[6:]]
chars = sorted(list(set("".join(words))))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi["."] = 0
itos = {i: s for s, i in stoi.items()}
block_size = 3

def build_dataset(words):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)

X, Y = build_dataset(words)
print("dataset:", tuple(X.shape), X.dtype, tuple(Y.shape), Y.dtype, len(stoi))

g = torch.Generator().manual_seed(2147483647)
C = torch.randn((27, 10), generator=g)
W1 = torch.randn((30, 64), generator=g) * 0.2
b1 = torch.randn(64, generator=g) * 0.01
W2 = torch.randn((64, 27), generator=g) * 0.1
b2 = torch.randn(27, generator=g) * 0
parameters = [C, W1, b1, W2, b2]
print("parameters:", sum(p.nelement() for p in parameters))

def loss_of(parameters, Xb, Yb):
    C, W1, b1, W2, b2 = parameters
    emb = C[Xb]
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
    logits = h @ W2 + b2
    return F.cross_entropy(logits, Yb)

def train(parameters, steps, lr, batch_size=None, generator=None):
    for p in parameters:
        p.requires_grad = True
    lossi = []
    for i in range(steps):
        if batch_size is None:
            Xb, Yb = X, Y
        else:
            ix = torch.randint(0, X.shape[0], (batch_size,), generator=generator)
            Xb, Yb = X[ix], Y[ix]
        loss = loss_of(parameters, Xb, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.item())
    return lossi

initial_loss = loss_of(parameters, X, Y).item()
lossi = train(parameters, 300, 0.3, batch_size=32, generator=g)
with torch.no_grad():
    final_loss = loss_of(parameters, X, Y).item()
print("grads are tensors:", all(p.grad is not None and tuple(p.grad.shape) == tuple(p.shape) for p in parameters))

g = torch.Generator().manual_seed(2147483647 + 10)
samples = []
for _ in range(5):
    out = []
    context = [0] * block_size
    while len(out) < 20:
        emb = C[torch.tensor([context])]
        h = torch.tanh(emb.view(1, -1) @ W1 + b1)
        logits = h @ W2 + b2
        probs = F.softmax(logits, dim=1)
        ix = torch.multinomial(probs, num_samples=1, generator=g).item()
        context = context[1:] + [ix]
        out.append(ix)
        if ix == 0:
            break
    samples.append("".join(itos[i] for i in out))
print("samples:", len(samples), all(isinstance(s, str) and len(s) > 0 for s in samples))
'''


def test_makemore_script(tmp_path, monkeypatch):
    ours, theirs = both(MAKEMORE, tmp_path, monkeypatch)
    for ns in (ours, theirs) if theirs is not None else (ours,):
        assert ns["final_loss"] < ns["initial_loss"] - 0.8, (ns["initial_loss"], ns["final_loss"])
        assert np.mean(ns["lossi"][-20:]) < np.mean(ns["lossi"][:20])
        assert all(set(s) <= set(ns["stoi"]) for s in ns["samples"])
    if theirs is None: return
    assert ours["X"].tolist() == theirs["X"].tolist() and ours["Y"].tolist() == theirs["Y"].tolist()
    # full-batch training is deterministic given the initial weights: start both from torch's
    g = torch.Generator().manual_seed(7)
    start = [torch.randn(shape, generator=g) * s for shape, s in [((27, 10), 1.), ((30, 64), .2), ((64,), .01), ((64, 27), .1), ((27,), .0)]]
    ours_lossi = ours["train"]([mt.tensor(p.numpy()) for p in start], 25, 0.3)
    theirs_lossi = theirs["train"]([p.clone() for p in start], 25, 0.3)
    np.testing.assert_allclose(ours_lossi, theirs_lossi, rtol=2e-4, atol=1e-5)
    assert theirs_lossi[-1] < theirs_lossi[0]


def test_only_import_lines_differ():
    for source in (TENSORS, DATA, MODEL, AUTOGRAD, TRAINING, SAVING, MAKEMORE):
        ours = for_microtorch(source)
        assert "microtorch" not in source and "import microtorch as torch" in ours
        differing = [a for a, b in zip(source.splitlines(), ours.splitlines()) if a != b]
        assert differing and all(line.lstrip().startswith(("import ", "from ")) for line in differing)

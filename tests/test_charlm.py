"The chapter-21 GPT against PyTorch (same code through `on_engine`), and the `microtorch-charlm` command."
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import microtorch as mt
from microtorch import charlm
from microtorch.charlm import Config, on_engine

root = Path(__file__).resolve().parent.parent
exe = Path(sys.executable).parent / "microtorch-charlm"
SMALL = Config(block_size=8, n_layer=2, n_head=2, n_embd=16, batch_size=4, iters=6, warmup_iters=2, lr=3e-3, min_lr=1e-4)
VOCAB = 13


def twins(config=SMALL, seed=0):
    "The same GPT on microtorch and on PyTorch, in float64, with PyTorch's initial weights copied into microtorch's."
    torch = pytest.importorskip("torch")
    reference = on_engine(torch)
    torch.manual_seed(seed)
    theirs = reference.GPT(config, VOCAB).double()
    ours = charlm.GPT(config, VOCAB).double()
    ours.load_state_dict({k: mt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs, reference, torch


def batches(n, config=SMALL, seed=1):
    "`n` batches of token ids (x, y), each (batch_size, block_size)."
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, VOCAB, (config.batch_size, config.block_size)),
             rng.integers(0, VOCAB, (config.batch_size, config.block_size))) for _ in range(n)]


def test_same_loss_and_gradient_of_every_parameter_as_torch():
    ours, theirs, _, torch = twins()
    (x, y), = batches(1)
    _, loss = ours(mt.tensor(x), mt.tensor(y))
    _, tloss = theirs(torch.tensor(x), torch.tensor(y))
    loss.backward(); tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-7)
    tgrads = dict(theirs.named_parameters())
    names = [name for name, _ in ours.named_parameters()]
    assert names == list(tgrads) and len(names) > 10
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


def test_adamw_cosine_and_clipping_steps_match_torch():
    "Several steps of the chapter's train_step (AdamW, warmup + cosine, clip_grad_norm_): the same losses and weights."
    ours, theirs, reference, torch = twins()
    opt, schedule = charlm.configure_optimizer(ours, SMALL)
    topt, tschedule = reference.configure_optimizer(theirs, SMALL)
    for x, y in batches(SMALL.iters):
        loss = charlm.train_step(ours, opt, schedule, mt.tensor(x), mt.tensor(y), grad_clip=0.05)   # small: clipping bites
        tloss = reference.train_step(theirs, topt, tschedule, torch.tensor(x), torch.tensor(y), grad_clip=0.05)
        np.testing.assert_allclose(loss, tloss, rtol=1e-7)
    assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


def run(*args, timeout=600):
    "Run the console script (or `python -m microtorch.charlm` when the script is not installed)."
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "microtorch.charlm"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=root, env=env)


@pytest.mark.parametrize("args, message", [
    (["--iters", "0"], "iters must be > 0, got 0"),
    (["--n-head", "5"], "n_embd (128) must be a multiple of n_head (5)"),
    (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["--lr", "inf"], "argument --lr: must be a finite number, got inf"),
    (["--batch-size", "2.5"], "argument --batch-size: expected an integer, got '2.5'"),
    (["--dropout", "1.5"], "dropout must be < 1, got 1.5"),
    (["--seed", "-3"], "seed must be >= 0, got -3"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments(tmp_path, args, message):
    "One line on stderr, exit status 1, nothing created."
    r = run(*args, "--out", tmp_path / "out")
    assert r.returncode == 1 and r.stderr == f"microtorch-charlm: error: {message}\n", r.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "file"; blocker.write_text("a file, not a folder")
    r = run("--out", blocker / "out")
    assert r.returncode == 1 and r.stderr.startswith("microtorch-charlm: --out") and "cannot write there" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_short_run_writes_the_four_files(tmp_path):
    "A small model for 100 steps learns (val loss well below its start) and writes the four files as a set."
    out = tmp_path / "out"
    r = run("--out", out, "--iters", 100, "--n-layer", 1, "--n-embd", 32, "--n-head", 2, "--block-size", 16,
            "--batch-size", 16, "--lr", 3e-3, "--warmup-iters", 10, "--eval-interval", 50, "--eval-iters", 4)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "metrics.json", "model.pt", "samples.txt"]
    assert not list(tmp_path.glob(".*staging*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["iter"] for e in metrics["evals"]] == [0, 50, 100]
    assert metrics["files"] == ["loss.png", "model.pt", "samples.txt", "metrics.json"]
    assert metrics["evals"][-1]["val_loss"] < 3.5 < metrics["evals"][0]["val_loss"], metrics["evals"]
    state = mt.load(out / "model.pt")
    assert state["tok_emb.weight"].shape[1] == 32

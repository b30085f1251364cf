"The `microtorch-mnist` command, run for real: training on the full MNIST data, and its errors."
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

root = Path(__file__).resolve().parent.parent
exe = Path(sys.executable).parent / "microtorch-mnist"

def run(*args, timeout=300):
    "Run the console script (or `python -m microtorch.train` when the script is not installed)."
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "microtorch.train"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}  # see 11_mnist: speed
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=root, env=env)

def test_trains_on_full_mnist(tmp_path):
    "Two epochs on all 60,000 images reach at least 96% on the 10,000 test images and write the three files."
    out = tmp_path / "out"
    r = run("--epochs", 2, "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout.splitlines()[-1]
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "metrics.json", "model.npz"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert set(metrics["epochs"][0]) == {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds"}
    assert metrics["epochs"][-1]["test_accuracy"] >= 0.96, metrics
    assert metrics["files"] == ["loss.png", "model.npz", "metrics.json"]   # the completion record lists its set
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".staging")]   # no staging folder left
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out / "model.npz", allow_pickle=False) as z:
        assert z["1.weight"].shape == (128, 784) and z["1.weight"].dtype == np.float32

def test_python_dash_m(tmp_path):
    "`python -m microtorch.train` is the same program."
    r = subprocess.run([sys.executable, "-m", "microtorch.train", "--help"], capture_output=True, text=True, cwd=root)
    assert r.returncode == 0 and "--batch-size" in r.stdout, r.stderr

@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "argument --epochs: must be > 0, got 0"),
    (["--epochs", "-1"], "argument --epochs: must be > 0, got -1"),
    (["--batch-size", "0"], "argument --batch-size: must be > 0, got 0"),
    (["--lr", "-0.1"], "argument --lr: must be > 0, got -0.1"),
    (["--epochs", "many"], "argument --epochs: expected an integer, got 'many'"),
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["--lr", "inf"], "argument --lr: must be a finite number, got inf"),
    (["--lr", "nan"], "argument --lr: must be a finite number, got nan"),
    (["--lr=-inf"], "argument --lr: must be a finite number, got -inf"),
])
def test_bad_arguments(tmp_path, args, message):
    r = run(*args, "--out", tmp_path / "out")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()

def test_unwritable_out(tmp_path):
    blocker = tmp_path / "file"; blocker.write_text("a file, not a folder")
    r = run("--out", blocker / "out")
    assert r.returncode == 2 and "--out" in r.stderr and "cannot write there" in r.stderr, r.stderr

@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_out(tmp_path):
    ro = tmp_path / "ro"; ro.mkdir(); ro.chmod(0o555)
    r = run("--out", ro)
    assert r.returncode == 2 and "cannot write there" in r.stderr, r.stderr

def test_nan_loss_stops_and_writes_nothing(tmp_path):
    "A learning rate of 1e6 diverges: the run stops at once, naming the step and the rate, and writes no files."
    out = tmp_path / "out"
    r = run("--epochs", 1, "--lr", "1e6", "--out", out, "--no-progress", timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "training stopped: the loss became" in r.stderr and "at step" in r.stderr and "with learning rate" in r.stderr, r.stderr
    assert "(e.g. 100000). Nothing was written." in r.stderr, r.stderr          # a valid --lr to try next
    assert list(out.iterdir()) == []

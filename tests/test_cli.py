"The console commands, run for real: `microtorch-mnist` trains on the full MNIST data, `microtorch-charlm` a small GPT; their errors."
import configparser, gzip, json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest

root = Path(__file__).resolve().parent.parent
env = {**os.environ, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}  # see 17_mnist: speed
MODULES = {"microtorch-mnist": "microtorch.train", "microtorch-charlm": "microtorch.charlm"}

def command(prog="microtorch-mnist"):
    "The console script, or `python -m` its module when the script is not installed."
    exe = Path(sys.executable).parent / prog
    return [str(exe)] if exe.exists() else [sys.executable, "-m", MODULES[prog]]

def run(*args, prog="microtorch-mnist", timeout=600):
    return subprocess.run(command(prog) + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=root, env=env)

def one_line_failure(r, *needles, prog="microtorch-mnist"):
    "The run failed with exit status 1 and ONE line on stderr holding every needle, no traceback."
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: "), r.stderr
    for needle in needles: assert needle in lines[0], (needle, lines[0])
    return lines[0]

def no_staging(folder: Path):
    assert not [p for p in folder.rglob("*") if p.name.endswith(".staging") or p.name.startswith(".staging.")]

@pytest.fixture(scope="module")
def cache_raw():
    "The MNIST files of the default cache (fetched by the first full run), or a skip: these tests need no network."
    from microtorch.datasets import DEFAULT_ROOT, MNIST_FILES, find_mnist_file
    raw = DEFAULT_ROOT / "MNIST" / "raw"
    paths = {name: find_mnist_file(raw, name) for name in MNIST_FILES}
    if None in paths.values(): pytest.skip(f"no MNIST cache in {raw} (run `make mnist` once)")
    return paths

def linked_root(folder: Path, cache_raw: dict) -> Path:
    "A data root whose MNIST/raw holds links to the cached files."
    raw = folder / "MNIST" / "raw"; raw.mkdir(parents=True)
    for path in cache_raw.values(): (raw / path.name).symlink_to(path)
    return raw

@pytest.fixture(scope="module")
def mirror(tmp_path_factory, cache_raw):
    "A local folder of NAME.gz files, as on an MNIST mirror, made from the cache."
    folder = tmp_path_factory.mktemp("mirror")
    for name, path in cache_raw.items():
        data = path.read_bytes()
        (folder / f"{name}.gz").write_bytes(data if path.suffix == ".gz" else gzip.compress(data, compresslevel=1))
    return folder

def test_trains_on_full_mnist(tmp_path):
    "Two epochs on all 60,000 images reach at least 96% on the 10,000 test images and write the three files."
    out = tmp_path / "out"
    r = run("--epochs", 2, "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("microtorch-mnist: training mlp (109,386 parameters) on 60,000 images for 2 epochs"), lines[0]
    assert "test accuracy" in lines[-1] and " after 2 epochs, " in lines[-1], lines[-1]
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "metrics.json", "model.npz"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert set(metrics["epochs"][0]) == {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds"}
    assert metrics["epochs"][-1]["test_accuracy"] >= 0.96, metrics
    assert metrics["files"] == ["loss.png", "model.npz", "metrics.json"]   # the completion record lists its set
    assert metrics["model"]["name"] == "mlp" and metrics["model"]["parameters"] == 109386
    assert metrics["model"]["repr"].startswith("Sequential(") and "Linear(in_features=784, out_features=128" in metrics["model"]["repr"]
    summary = metrics["summary"]
    assert summary["epochs"] == 2 and summary["test_accuracy"] == metrics["epochs"][-1]["test_accuracy"], summary
    assert summary["test_loss"] == metrics["epochs"][-1]["test_loss"]
    assert summary["seconds"] >= sum(e["seconds"] for e in metrics["epochs"]) * 0.99, summary
    assert metrics["config"]["lr"] == 0.1 and metrics["config"]["batch_size"] == 128 and metrics["config"]["model"] == "mlp"
    no_staging(tmp_path)
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out / "model.npz", allow_pickle=False) as z:
        assert z["1.weight"].shape == (128, 784) and z["1.weight"].dtype == np.float32

def test_one_epoch_is_singular(tmp_path, cache_raw):
    r = run("--epochs", 1, "--train-limit", 500, "--out", tmp_path / "out", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert " on 500 images for 1 epoch: " in r.stdout.splitlines()[0] and " after 1 epoch, " in r.stdout.splitlines()[-1], r.stdout
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["config"]["train_limit"] == 500

def test_help_names_the_program():
    "`python -m microtorch.train --help` is the same program, under its own name."
    r = subprocess.run([sys.executable, "-m", "microtorch.train", "--help"], capture_output=True, text=True, cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: microtorch-mnist "), r.stdout
    assert "__main__" not in r.stdout and "train.py" not in r.stdout
    for option in ("--model {mlp,lenet}", "--redownload", "--mirror URL", "--train-limit N", "--batch-size", "--data DIR"):
        assert option in r.stdout, option
    assert "1 epochs" not in r.stdout

def test_python_dash_m_microtorch_lists_the_commands():
    "`python -m microtorch` lists the console scripts declared in settings.ini, and runs one when named."
    settings = configparser.ConfigParser(); settings.read(root / "settings.ini")
    declared = [line.split("=")[0] for line in settings["DEFAULT"]["console_scripts"].split()]
    assert "microtorch-mnist" in declared
    r = subprocess.run([sys.executable, "-m", "microtorch"], capture_output=True, text=True, cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    for name in declared: assert f"  {name} " in r.stdout, (name, r.stdout)
    r = subprocess.run([sys.executable, "-m", "microtorch", "microtorch-mnist", "--help"], capture_output=True, text=True, cwd=root, env=env)
    assert r.returncode == 0 and r.stdout.startswith("usage: microtorch-mnist "), r.stderr
    r = subprocess.run([sys.executable, "-m", "microtorch", "train-everything"], capture_output=True, text=True, cwd=root, env=env)
    assert r.returncode == 2 and r.stderr.startswith("python -m microtorch: unknown command 'train-everything'"), r.stderr
    assert "Traceback" not in r.stderr

# Each line: a command with a bad argument | how its last line of output begins (after argparse's usage)
BAD_ARGUMENTS = """\
microtorch-mnist --epochs 0        | argument --epochs: must be > 0, got 0
microtorch-mnist --epochs -1       | argument --epochs: must be > 0, got -1
microtorch-mnist --batch-size 0    | argument --batch-size: must be > 0, got 0
microtorch-mnist --lr -0.1         | argument --lr: must be > 0, got -0.1
microtorch-mnist --epochs many     | argument --epochs: expected an integer, got 'many'
microtorch-mnist --seed -1         | argument --seed: must be >= 0, got -1
microtorch-mnist --lr inf          | argument --lr: must be a finite number, got inf
microtorch-mnist --lr nan          | argument --lr: must be a finite number, got nan
microtorch-mnist --lr=-inf         | argument --lr: must be a finite number, got -inf
microtorch-mnist --train-limit 0   | argument --train-limit: must be > 0, got 0
microtorch-mnist --model resnet    | argument --model: invalid choice: 'resnet'
microtorch-charlm --iters 0        | argument --iters: must be > 0, got 0
microtorch-charlm --n-head 5       | n_embd (128) must be a multiple of n_head (5)
microtorch-charlm --lr fast        | argument --lr: expected a number, got 'fast'
microtorch-charlm --lr inf         | argument --lr: must be a finite number, got inf
microtorch-charlm --batch-size 2.5 | argument --batch-size: expected an integer, got '2.5'
microtorch-charlm --dropout 1.5    | dropout must be < 1, got 1.5
microtorch-charlm --min-lr 0.5     | min_lr (0.5) must not exceed lr (0.001)
microtorch-charlm --seed -3        | argument --seed: must be >= 0, got -3
microtorch-charlm --bogus          | unrecognized arguments: --bogus
"""

@pytest.mark.parametrize("case", BAD_ARGUMENTS.splitlines())
def test_bad_arguments(tmp_path, case):
    "argparse's way: the usage, then one line naming the problem, exit status 2; nothing created."
    command, message = (part.strip() for part in case.split("|"))
    prog, *args = command.split()
    r = run(*args, "--out", tmp_path / "out", prog=prog)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and lines[0].startswith(f"usage: {prog} ") and lines[-1].startswith(f"{prog}: error: {message}"), r.stderr
    assert not (tmp_path / "out").exists()

@pytest.mark.parametrize("prog", list(MODULES))
def test_unwritable_out(tmp_path, prog):
    blocker = tmp_path / "file"; blocker.write_text("a file, not a folder")
    one_line_failure(run("--out", blocker / "out", prog=prog), "--out", "cannot write there", "pass --out DIR", prog=prog)

@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_out(tmp_path):
    ro = tmp_path / "ro"; ro.mkdir(); ro.chmod(0o555)
    one_line_failure(run("--out", ro), "cannot write there", "pass --out DIR")

def test_nan_loss_stops_and_writes_nothing(tmp_path, cache_raw):
    "A learning rate of 1e6 diverges: the run stops at once, naming the step, the rate and a --lr to try, and writes nothing."
    out = tmp_path / "out"
    r = run("--epochs", 1, "--lr", "1e6", "--out", out, "--no-progress", timeout=120)
    line = one_line_failure(r, "training stopped: the loss became", "at step", "with learning rate")
    assert line.endswith("run again with a lower --lr (e.g. --lr 100000). Nothing was written."), line
    assert not out.exists()                                  # not even the folder it had created

@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_cache_names_redownload(tmp_path, cache_raw, damage):
    "A damaged cached file: one line naming the file and --redownload; the new --out folder is removed again."
    raw = linked_root(tmp_path / "data", cache_raw)
    victim = raw / cache_raw["t10k-labels-idx1-ubyte"].name
    good = victim.read_bytes(); victim.unlink()
    victim.write_bytes({"truncated": good[:len(good) // 2], "garbage": b"not MNIST at all" * 100, "empty": b""}[damage])
    r = run("--data", tmp_path / "data", "--out", tmp_path / "new" / "out", "--no-progress")
    one_line_failure(r, str(victim), "run again with --redownload")
    assert "MNIST(root" not in r.stderr and "download=True" not in r.stderr   # CLI advice, not the Python API's
    assert not (tmp_path / "new").exists()

def test_redownload_fetches_fresh_copies_with_progress(tmp_path, cache_raw, mirror):
    "--redownload deletes the cached files and downloads them again (from a local --mirror here), reporting progress."
    raw = linked_root(tmp_path / "data", cache_raw)
    victim = raw / cache_raw["train-labels-idx1-ubyte"].name
    victim.unlink(); victim.write_bytes(b"\0\0\x08\x01" + b"\0" * 10)
    r = run("--data", tmp_path / "data", "--redownload", "--mirror", mirror, "--epochs", 1, "--train-limit", 1000,
            "--out", tmp_path / "out", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "microtorch-mnist: --redownload: deleted 4 cached MNIST files in" in r.stderr, r.stderr
    assert "microtorch-mnist: downloading 4 MNIST files into" in r.stderr, r.stderr
    progress = [l for l in r.stderr.splitlines() if l.startswith("MNIST: ") and "% of " in l]
    assert any("train-images-idx3-ubyte.gz: 100% of" in l for l in progress), r.stderr
    for path in cache_raw.values(): assert path.is_file()                # the links went, not the cache they pointed to
    for name in cache_raw: assert (raw / name).is_file() and not (raw / name).is_symlink()
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["summary"]["epochs"] == 1

def test_failed_download(tmp_path):
    "Every source fails (a --mirror folder without the files): one final line naming the fixes, nothing left in --out."
    empty = tmp_path / "empty_mirror"; empty.mkdir()
    r = run("--data", tmp_path / "data", "--mirror", empty, "--out", tmp_path / "new" / "out", timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("microtorch-mnist: could not download MNIST file(s) "), r.stderr
    for fix in ("Check the network", "pass --mirror URL", str(tmp_path / "data" / "MNIST" / "raw")): assert fix in last, last
    assert "npm=False" not in r.stderr
    assert not (tmp_path / "new").exists()

def test_unwritable_cache(tmp_path):
    "An MNIST folder that cannot be created: one line naming --data (after the line saying what it was about to do)."
    blocker = tmp_path / "file"; blocker.write_text("a file, not a folder")
    r = run("--data", blocker / "data", "--out", tmp_path / "out")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("microtorch-mnist: downloading 4 MNIST files into"), r.stderr
    assert "cannot write the MNIST files" in lines[1] and "pass --data DIR" in lines[1], r.stderr
    assert not (tmp_path / "out").exists()

def test_ctrl_c(tmp_path, cache_raw):
    "SIGINT during training: `interrupted`, exit status 130, no traceback, no --out folder, no staging folder."
    out = tmp_path / "new" / "out"
    p = subprocess.Popen(command() + ["--epochs", "50", "--out", str(out), "--no-progress"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=root, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if our parent ignores SIGINT
    try:
        first = p.stdout.readline()
        assert first.startswith("microtorch-mnist: training mlp"), first
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None: p.kill()
    assert p.returncode == 130, (p.returncode, stderr)
    assert stderr.strip().splitlines() == ["microtorch-mnist: interrupted"], stderr
    assert not (tmp_path / "new").exists()
    no_staging(tmp_path)

def test_lenet(tmp_path, cache_raw):
    "`--model lenet`: LeNet-5 on whole 1x28x28 images, Adam with one cycle; the same three outputs."
    import microtorch.train
    if not callable(getattr(microtorch.train, "lenet", None)): pytest.skip("microtorch.train has no lenet() yet (chapter 20)")
    out = tmp_path / "out"
    r = run("--model", "lenet", "--epochs", 2, "--train-limit", 640, "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("microtorch-mnist: training lenet ("), r.stdout
    assert "on 640 images for 2 epochs: batches of 64, Adam with a one-cycle schedule, peak learning rate 0.003" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "metrics.json", "model.npz"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["name"] == "lenet" and "Conv2d(1, 6" in metrics["model"]["repr"], metrics["model"]
    assert metrics["model"]["parameters"] == microtorch.train.lenet().params_count()
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert all(0.1 < e["test_accuracy"] <= 1 for e in metrics["epochs"]), metrics["epochs"]
    assert metrics["summary"]["test_accuracy"] == metrics["epochs"][-1]["test_accuracy"]
    assert (metrics["config"]["lr"], metrics["config"]["batch_size"]) == (0.003, 64)
    with np.load(out / "model.npz", allow_pickle=False) as z: assert z["0.weight"].shape == (6, 1, 5, 5)
    microtorch.train.load_model(out / "model.npz", microtorch.train.lenet())     # loads into a fresh LeNet

def test_missing_lenet(tmp_path):
    "Where microtorch.train has no `lenet` (before chapter 20): one line naming --model mlp, and no work done."
    code = "import microtorch.train as t; t.__dict__.pop('lenet', None); t.main()"
    r = subprocess.run([sys.executable, "-c", code, "--model", "lenet", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, cwd=root, env=env)
    one_line_failure(r, "--model lenet", "use --model mlp")
    assert not (tmp_path / "out").exists()

def test_charlm_short_run_writes_the_four_files(tmp_path):
    "microtorch-charlm: a small model for 100 steps learns (val loss well below its start) and writes the four files as a set."
    out = tmp_path / "out"
    r = run("--out", out, "--iters", 100, "--n-layer", 1, "--n-embd", 32, "--n-head", 2, "--block-size", 16,
            "--batch-size", 16, "--lr", 3e-3, "--warmup-iters", 10, "--eval-interval", 50, "--eval-iters", 4, prog="microtorch-charlm")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "metrics.json", "model.pt", "samples.txt"]
    assert not list(tmp_path.glob(".*staging*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["iter"] for e in metrics["evals"]] == [0, 50, 100]
    assert metrics["files"] == ["loss.png", "model.pt", "samples.txt", "metrics.json"]
    assert metrics["evals"][-1]["val_loss"] < 3.5 < metrics["evals"][0]["val_loss"], metrics["evals"]
    from microtorch import load
    state = load(out / "model.pt")
    assert state["tok_emb.weight"].shape[1] == 32

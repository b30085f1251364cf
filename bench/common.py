"What every contender shares: the job's constants, the setup file, batching, timing and the task runner."
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path
import numpy as np

THREADS = 2
THREAD_ENV = {v: str(THREADS) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
SIZES = (784, 128, 64, 10)      # the MLP: 784-128-64-10, ReLU between layers
BATCH, LR = 128, 0.1
OP_SHAPE = (8, 8)               # "tiny" tensors of the per-op overhead test
GRAPH_SIZES = (1_000, 10_000, 100_000)

def run_worker(cmd: list, env: dict) -> dict:
    "Run a worker (`cmd` prints its result as JSON) in a fresh process with `env` added; its result, or the error's last line."
    proc = subprocess.run(cmd, cwd=Path(__file__).resolve().parent.parent, env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode: return {"error": (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]}
    return json.loads(proc.stdout)

def load_setup(path) -> dict:
    "The arrays every contender starts from: data, initial weights, one batch order per epoch."
    with np.load(path) as f: return {k: f[k] for k in f.files}

def batches(x, y, perm, bs=BATCH):
    "Minibatches of `(x, y)` in the order `perm` (the last one may be short, like drop_last=False)."
    for i in range(0, len(perm), bs):
        idx = perm[i:i + bs]
        yield x[idx], y[idx]

def timeit(fn, number: int, repeat: int = 5) -> float:
    "Median over `repeat` rounds of the seconds per call of `fn`, each round `number` calls."
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number): fn()
        rounds.append((time.perf_counter() - t0) / number)
    return float(np.median(rounds))

def training_step(model, opt, cross_entropy, tensor):
    "One step as users write it, in either framework: the batch's loss, `zero_grad`, `backward`, `step`; returns the loss tensor."
    def step(x, y):
        loss = cross_entropy(model(tensor(x)), tensor(y))
        opt.zero_grad(); loss.backward(); opt.step()
        return loss
    return step

def epoch_trainer(step):
    "`train_epoch(x, y, perm)` for `mlp_job`: `step` over the batches in the order `perm`; the last loss as a float."
    def train_epoch(x_all, y_all, perm):
        for x, y in batches(x_all, y_all, perm): loss = step(x, y)
        return loss.item()
    return train_epoch

def mlp_job(setup: dict, train_epoch, accuracy) -> dict:
    "Epoch 1 warms up, epoch 2 is timed (same batch orders for all contenders); then test accuracy."
    times = []
    for perm in setup["perms"]:
        t0 = time.perf_counter()
        loss = train_epoch(setup["x_train"], setup["y_train"], perm)
        times.append(time.perf_counter() - t0)
    return {"epoch_s": times[1], "warmup_s": times[0], "last_loss": float(loss),
            "test_acc": float(accuracy(setup["x_test"], setup["y_test"]))}

def user_loop_job(setup: dict, step, epochs: int = 3) -> dict:
    """A loop as users write it: each epoch gathers a fresh shuffled copy of the data (`X[perm]`), and
    `loss` outlives the loop. If a framework kept the last step's graph, the previous epoch's copy would
    stay alive through it: peak memory grows and the next epoch pays for fresh pages. Every epoch timed."""
    times, x_all, y_all = [], setup["x_train"], setup["y_train"]
    for e in range(epochs):
        t0 = time.perf_counter()
        perm = setup["perms"][e % len(setup["perms"])]
        X, Y = x_all[perm], y_all[perm]
        for i in range(0, len(X), BATCH): loss = step(X[i:i + BATCH], Y[i:i + BATCH])
        times.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"epoch_s": times, "peak_rss_mb": peak_mb, "last_loss": float(loss.item())}

def ops_job(tiny, seed, no_grad) -> dict:
    "Microseconds per op on `OP_SHAPE` tensors: forward alone (no graph) and forward + backward."
    a, b = tiny(), tiny()
    cases = {"a + b": lambda: a + b, "a @ b": lambda: a @ b, "relu": lambda: a.relu(), "sum": lambda: a.sum()}
    out = {}
    for name, fn in cases.items():
        grad = None if name == "sum" else seed
        def forward():
            with no_grad(): fn()
        out[name] = {"forward_us": 1e6 * timeit(forward, 2000), "fwd_bwd_us": 1e6 * timeit(lambda: fn().backward(grad), 2000)}
    return {"ops": out}

def chain(x, n: int):
    "A chain of `n` ops: y <- y * 1.0001."
    for _ in range(n): x = x * 1.0001
    return x

def diamond(x, n: int):
    "A diamond ladder of `n` levels: each level uses the previous one twice, y <- y * 0.5 + y * 0.5."
    for _ in range(n): x = x * 0.5 + x * 0.5
    return x

def scaling_job(leaf, repeat: int = 3) -> dict:
    "Seconds of `backward` (median of `repeat`, graph built outside the timer) for chains and diamond ladders."
    out = {}
    for build in (chain, diamond):
        out[build.__name__] = {}
        for n in GRAPH_SIZES:
            times = []
            for _ in range(repeat):
                y = build(leaf(), n)
                t0 = time.perf_counter(); y.backward(); times.append(time.perf_counter() - t0)
            out[build.__name__][str(n)] = float(np.median(times))
    return {"scaling": out}

def run_task(name: str, tasks: dict):
    "Command line of a contender: `python -m bench.contenders.NAME TASK [--setup FILE]`, JSON on stdout."
    p = argparse.ArgumentParser(description=f"the {name} contender")
    p.add_argument("task", choices=sorted(tasks))
    p.add_argument("--setup", help="setup .npz written by bench/run.py (the mlp task)")
    args = p.parse_args()
    result = tasks[args.task](args)
    json.dump({"contender": name, "task": args.task, **result}, sys.stdout)

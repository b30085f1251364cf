"""LeNet-5 training steps: microtorch vs PyTorch vs a hand-written numpy floor. `python -m bench.conv --help`.

The job, identical for every contender: LeNet-5 (conv 1->6 5x5 pad 2, ReLU, maxpool 2, conv 6->16 5x5, ReLU,
maxpool 2, Linear 400-120-84-10 with ReLU), cross-entropy, SGD lr 0.05, batches of 64 MNIST images in
[0, 1], float32. The driver draws the initial weights (torch's default init) and the batch order once and
saves them with MNIST to bench/results/conv_setup.npz; each contender then runs in a fresh process with the
same thread limits: `--warmup` untimed steps, `--batches` timed steps (wall clock and CPU time), then test
accuracy. Runs are interleaved (microtorch, torch, numpy, microtorch, ...) and we report medians and ratios.
`--batches 938` is one epoch. Results go to bench/results/conv_latest.json (not committed).

The numpy contenders allocate ~20 MB of temporaries per step, and with glibc's default settings fault them back
in page by page every step (see the "memory allocator" section of nbs/20_conv.ipynb). microtorch sets
glibc's malloc itself when imported (arrays up to 32 MB from the heap, 64 MB of freed memory kept); the hand-written
floor runs as written, with the defaults. `--top-pad MB` gives every contender that setting through the environment
(MALLOC_MMAP_THRESHOLD_ = 32 MB, MALLOC_TOP_PAD_ = MB): the comparison of computations alone.
"""
import argparse, json, os, sys, time
from pathlib import Path
import numpy as np
from bench.common import run_worker

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/"bench"/"results"
CONTENDERS = ("microtorch", "torch", "numpy")
BATCH, LR = 64, 0.05
# (name in LeNet's Sequential, weight shape): the two convolutions and three Linear layers
LAYERS = (("0", (6, 1, 5, 5)), ("3", (16, 6, 5, 5)), ("7", (120, 400)), ("9", (84, 120)), ("11", (10, 84)))

# ---------------------------------------------------------------- the driver

def write_setup(path: Path, batches: int, seed=0) -> Path:
    "MNIST as NCHW float32, torch's default init drawn with numpy (U(+-1/sqrt(fan_in))), one batch order."
    from bench.run import load_mnist
    x_train, y_train, x_test, y_test = load_mnist(os.environ.get("MNIST_ROOT"))
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in LAYERS:
        bound = 1 / np.sqrt(np.prod(shape[1:]))
        weights[f"{name}.weight"] = rng.uniform(-bound, bound, shape).astype(np.float32)
        weights[f"{name}.bias"] = rng.uniform(-bound, bound, shape[0]).astype(np.float32)
    perm = np.concatenate([rng.permutation(len(x_train)) for _ in range(-(-batches * BATCH // len(x_train)))])
    np.savez(path, x_train=x_train.reshape(-1, 1, 28, 28), y_train=y_train, x_test=x_test.reshape(-1, 1, 28, 28),
             y_test=y_test, perm=perm, **weights)
    return path

def run(contender: str, setup: Path, args) -> dict:
    "One contender in a fresh process with the thread limits; its JSON result (or the error)."
    env = {v: str(args.threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    if args.top_pad: env.update(MALLOC_MMAP_THRESHOLD_=str(32 << 20), MALLOC_TOP_PAD_=str(args.top_pad << 20))
    return run_worker([sys.executable, "-m", "bench.conv", "--worker", contender, "--setup", str(setup), "--threads", str(args.threads),
                       "--batches", str(args.batches), "--warmup", str(args.warmup)], env)

def summary(results: dict) -> dict:
    "Median and best ms per step (wall and CPU), accuracy, and the microtorch ratios."
    s = {}
    for name, runs in results.items():
        ok = [r for r in runs if "error" not in r]
        if not ok: s[name] = {"error": runs[0]["error"]}; continue
        s[name] = {"step_ms": float(np.median([r["step_ms"] for r in ok])), "best_ms": min(r["step_ms"] for r in ok),
                   "cpu_ms": float(np.median([r["cpu_ms"] for r in ok])), "test_acc": ok[0]["test_acc"],
                   "last_loss": ok[0]["last_loss"], "dtypes": ok[0]["dtypes"]}
    mt = s.get("microtorch", {})
    for other in ("torch", "numpy"):
        if "step_ms" in mt and "step_ms" in s.get(other, {}):
            s[f"microtorch/{other}"] = {k: mt[k] / s[other][k] for k in ("step_ms", "best_ms", "cpu_ms")}
    return s

def table(s: dict) -> str:
    lines = [f"{'contender':<12}{'median ms/step':>16}{'best':>9}{'CPU ms/step':>13}{'test acc':>10}{'last loss':>11}"]
    for name in CONTENDERS:
        r = s.get(name)
        if r is None: continue
        if "error" in r: lines.append(f"{name:<12} failed: {r['error']}"); continue
        lines.append(f"{name:<12}{r['step_ms']:>16.2f}{r['best_ms']:>9.2f}{r['cpu_ms']:>13.2f}{r['test_acc']:>10.4f}{r['last_loss']:>11.4f}")
    for other in ("torch", "numpy"):
        if f"microtorch/{other}" in s:
            r = s[f"microtorch/{other}"]
            lines.append(f"microtorch / {other}: {r['step_ms']:.2f}x (median), {r['best_ms']:.2f}x (best), {r['cpu_ms']:.2f}x (CPU time)")
    return "\n".join(lines)

def measure(args=None, runs: int = 3) -> dict:
    "Time every contender `args.runs` times, interleaved: {task, unit, config, contenders: {name: [ms per step per run]}, runs, summary}."
    from bench.run import wait_for_quiet
    args = args or argparse.Namespace(runs=runs, batches=300, warmup=20, threads=2, top_pad=0, only=CONTENDERS)
    OUT.mkdir(parents=True, exist_ok=True)
    print("conv setup: MNIST, initial weights, batch order ...", flush=True)
    setup = write_setup(OUT/"conv_setup.npz", args.warmup + args.batches)
    results = {c: [] for c in args.only}
    try:
        for i in range(args.runs):
            for c in args.only:
                busy = wait_for_quiet()
                print(f"conv run {i + 1}/{args.runs}: {c} (others used {100 * busy:.0f}% CPU) ...", flush=True)
                results[c].append({**run(c, setup, args), "others_busy": busy})
    finally: setup.unlink()
    return {"task": "conv", "unit": "ms per step", "config": {"batch": BATCH, "lr": LR, "timed_steps": args.batches, "threads": args.threads},
            "contenders": {c: [r["step_ms"] for r in rs if "step_ms" in r] for c, rs in results.items()},
            "runs": results, "summary": summary(results)}

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="fresh processes per contender (default 3)")
    p.add_argument("--batches", type=int, default=300, help="timed steps of 64 images (938 = one epoch; default 300)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads and torch.set_num_threads (default 1)")
    p.add_argument("--top-pad", type=int, default=0, help="give every contender microtorch's malloc setting, keeping MB of freed memory (default 0: as each runs by itself)")
    p.add_argument("--only", nargs="+", choices=CONTENDERS, default=CONTENDERS)
    p.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker: return json.dump(WORKERS[args.worker](args), sys.stdout)
    results = measure(args)["runs"]
    s = summary(results)
    malloc = (f"every contender with microtorch's malloc setting (MALLOC_MMAP_THRESHOLD_ 32 MB, MALLOC_TOP_PAD_ {args.top_pad} MB)" if args.top_pad
              else "malloc as each contender sets it (microtorch tunes glibc, the others use its defaults)")
    print(f"\nLeNet-5, batch {BATCH}, {args.batches} timed steps, {args.threads} thread(s), {malloc}, median of {args.runs} runs\n" + table(s))
    (OUT/"conv_latest.json").write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k not in ("worker", "setup")},
                                                    "runs": results, "summary": s}, indent=1))

# ---------------------------------------------------------------- the contenders, each in its own process

def job(args, step, predict) -> dict:
    "`--warmup` steps, then `--batches` timed ones on the shared batch order; then test accuracy."
    with np.load(args.setup) as f: d = {k: f[k] for k in f.files}
    x, y, perm = d["x_train"], d["y_train"], d["perm"]
    def steps(lo, hi):
        for i in range(lo, hi):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            loss = step(x[idx], y[idx])
        return loss
    steps(0, args.warmup)
    t0, c0 = time.perf_counter(), time.process_time()
    loss = steps(args.warmup, args.warmup + args.batches)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    preds = np.concatenate([predict(d["x_test"][i:i + 1000]) for i in range(0, len(d["x_test"]), 1000)])
    return {"step_ms": 1e3 * wall / args.batches, "cpu_ms": 1e3 * cpu / args.batches, "last_loss": float(loss),
            "test_acc": float((preds == d["y_test"]).mean())}

def weights(args) -> dict:
    with np.load(args.setup) as f: return {k: f[k] for k in f.files if k.endswith(("weight", "bias"))}

def microtorch_worker(args) -> dict:
    "The public API as a user writes it: `lenet()`, `cross_entropy`, `SGD`."
    import microtorch as mt
    import microtorch.nn.functional as F
    from microtorch.train import lenet
    model = lenet()
    model.load_state_dict({k: mt.from_numpy(v) for k, v in weights(args).items()})
    opt = mt.optim.SGD(model.parameters(), lr=LR)
    def step(x, y):
        loss = F.cross_entropy(model(mt.from_numpy(x)), mt.from_numpy(y))
        opt.zero_grad(); loss.backward(); opt.step()
        return loss.item()
    def predict(x):
        with mt.no_grad(): return model.eval()(mt.from_numpy(x)).numpy().argmax(1)
    out = job(args, step, predict)
    return {**out, "dtypes": sorted({str(p.dtype) for p in model.parameters()} | {str(p.grad.dtype) for p in model.parameters()})}

def torch_worker(args) -> dict:
    "PyTorch CPU, written the usual way."
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights(args).items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    def step(x, y):
        loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad(); loss.backward(); opt.step()
        return loss.item()
    def predict(x):
        with torch.no_grad(): return model.eval()(torch.from_numpy(x)).argmax(1).numpy()
    return {**job(args, step, predict), "dtypes": sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()})}

# the numpy floor: forward and backward by hand, batch-last im2col and col2im, no graph

def _windows(a, k, s):
    "Windows (C, k, k, Ho, Wo, N) of a (C, H, W, N) array, stride `s`."
    C, H, W, N = a.shape
    c, h, w, n = a.strides
    return np.lib.stride_tricks.as_strided(a, (C, k, k, (H - k) // s + 1, (W - k) // s + 1, N), (c, h, w, h * s, w * s, n))

def _col2im(gcols, shape, s):
    out = np.zeros(shape, gcols.dtype)
    view = _windows(out, gcols.shape[1], s)
    for i in range(gcols.shape[1]):
        for j in range(gcols.shape[2]): view[:, i, j] += gcols[:, i, j]
    return out

def _conv(a, w, b, pad):
    "a: (C, H, W, N) contiguous; returns (O, Ho, Wo, N) and the im2col matrix."
    if pad: a = np.pad(a, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    win = _windows(a, w.shape[2], 1)
    cols = win.reshape(-1, np.prod(win.shape[3:]))
    out = w.reshape(len(w), -1) @ cols
    out += b[:, None]
    return out.reshape(len(w), *win.shape[3:]), cols, a.shape

def _pool(a):
    "2x2 max pool of (C, H, W, N): values and the first-max tap of each window."
    cols = _windows(a, 2, 2).reshape(a.shape[0], 4, a.shape[1] // 2, a.shape[2] // 2, a.shape[3])
    out = cols.max(1)
    arg = np.zeros(out.shape, np.intp)
    for t in range(3, -1, -1): arg = np.where(cols[:, t] == out, t, arg)
    return out, arg

def _unpool(g, arg, shape):
    hit = np.arange(4)[:, None, None, None] == arg[:, None]
    return _col2im((hit * g[:, None]).reshape(shape[0], 2, 2, *g.shape[1:]), shape, 2)

def numpy_worker(args) -> dict:
    "The floor: the same network and update written by hand in numpy."
    P = weights(args)
    (w1, b1), (w2, b2), (w3, b3), (w4, b4), (w5, b5) = [(P[f"{n}.weight"], P[f"{n}.bias"]) for n, _ in LAYERS]
    def forward(x):
        a = np.ascontiguousarray(x.transpose(1, 2, 3, 0))                 # (1, 28, 28, N)
        h1, cols1, shape1 = _conv(a, w1, b1, 2); r1 = np.maximum(h1, 0); p1, arg1 = _pool(r1)
        h2, cols2, shape2 = _conv(p1, w2, b2, 0); r2 = np.maximum(h2, 0); p2, arg2 = _pool(r2)
        f = p2.transpose(3, 0, 1, 2).reshape(len(x), -1)                  # (N, 400) in torch's flatten order
        z3 = np.maximum(f @ w3.T + b3, 0); z4 = np.maximum(z3 @ w4.T + b4, 0)
        return z4 @ w5.T + b5, (h1, cols1, arg1, r1.shape, h2, cols2, shape2, arg2, r2.shape, p2.shape, f, z3, z4)
    def step(x, y):
        logits, (h1, cols1, arg1, s1, h2, cols2, shape2, arg2, s2, sp2, f, z3, z4) = forward(x)
        n = len(y)
        shifted = logits - logits.max(1, keepdims=True)
        e = np.exp(shifted); total = e.sum(1, keepdims=True)
        loss = np.log(total[:, 0]).mean() - shifted[np.arange(n), y].mean()
        g = e / total; g[np.arange(n), y] -= 1; g /= n
        grads = [g.T @ z4, g.sum(0)]; g = (g @ w5) * (z4 > 0)
        grads = [g.T @ z3, g.sum(0)] + grads; g = (g @ w4) * (z3 > 0)
        grads = [g.T @ f, g.sum(0)] + grads; g = g @ w3
        g = np.ascontiguousarray(g.reshape(sp2[3], *sp2[:3]).transpose(1, 2, 3, 0))
        g = (_unpool(g, arg2, s2) * (h2 > 0)).reshape(len(w2), -1)
        grads = [(g @ cols2.T).reshape(w2.shape), g.sum(1)] + grads
        g = _col2im((w2.reshape(len(w2), -1).T @ g).reshape(w2.shape[1], 5, 5, *s2[1:]), shape2, 1)
        g = (_unpool(g, arg1, s1) * (h1 > 0)).reshape(len(w1), -1)
        grads = [(g @ cols1.T).reshape(w1.shape), g.sum(1)] + grads
        for p, gp in zip((w1, b1, w2, b2, w3, b3, w4, b4, w5, b5), grads): p -= LR * gp
        return loss
    out = job(args, step, lambda x: forward(x)[0].argmax(1))
    return {**out, "dtypes": sorted({str(p.dtype) for p in P.values()})}

WORKERS = {"microtorch": microtorch_worker, "torch": torch_worker, "numpy": numpy_worker}

if __name__ == "__main__": main()

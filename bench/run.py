"""Run the benchmark: `python -m bench.run` (what `make bench` calls; `--help` for options).

Every contender runs in its own process, with the same threads, data, initial weights and batch order.
Prints the tables, writes bench/results/latest.json and latest.png, and with --publish also
nbs/benchmarks.json (committed) and re-executes the docs page (nbs/*_benchmarks.ipynb) that shows it.
"""
import argparse, datetime, importlib.util, json, os, platform, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np
from bench.common import SIZES, THREAD_ENV, THREADS, BATCH, LR
from bench.report import format_table, plot, summarize

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS = ("microtorch", "torch", "numpy")
TASKS = ("mlp", "userloop", "ops", "scaling", "conv", "charlm")

def load_mnist(root):
    "MNIST through microtorch's own loader (downloads and verifies the IDX files once): flat float32 x, int64 y."
    import microtorch as mt
    def arrays(train):
        ds = mt.MNIST(root, train=train, download=True)
        x, y = next(iter(mt.DataLoader(ds, batch_size=len(ds))))
        return x.numpy().reshape(len(ds), -1).astype(np.float32), y.numpy().astype(np.int64)
    return arrays(True) + arrays(False)

def init_weights(rng) -> dict:
    "PyTorch's default Linear init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn once with numpy: float32, (out, in)."
    weights = {}
    for i, (fan_in, fan_out) in enumerate(zip(SIZES, SIZES[1:]), 1):
        bound = 1 / np.sqrt(fan_in)
        weights[f"w{i}"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        weights[f"b{i}"] = rng.uniform(-bound, bound, fan_out).astype(np.float32)
    return weights

def write_setup(path: Path, data_root, seed=0) -> Path:
    "The one setup file all contenders read: MNIST arrays, initial weights, two epochs' batch order."
    x_train, y_train, x_test, y_test = load_mnist(data_root)
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(len(x_train)) for _ in range(2)])
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, perms=perms, **init_weights(rng))
    return path

def others_busy(interval=0.5) -> float:
    "Fraction of the machine's CPU time used (by other processes: we are idle) over `interval` s."
    stat = Path("/proc/stat")
    if not stat.exists(): return 0.0
    def sample():
        fields = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]          # total, idle + iowait
    (t0, i0), _ = sample(), time.sleep(interval)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(t1 - t0, 1)

def wait_for_quiet(limit=0.2, patience=20) -> float:
    "Wait (up to `patience` s) until other processes use less than `limit` of the CPUs; the last load seen."
    deadline = time.monotonic() + patience
    while (busy := others_busy()) > limit and time.monotonic() < deadline: time.sleep(2)
    return busy

def run(contender: str, task: str, setup: Path = None) -> dict:
    "One contender's task in a fresh process with the thread limits; its JSON result (or the error)."
    cmd = [sys.executable, "-m", f"bench.contenders.{contender}_bench", task] + (["--setup", str(setup)] if setup else [])
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **THREAD_ENV}, capture_output=True, text=True)
    if proc.returncode:
        print(f"  {contender} {task} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout)

def meta(runs: int) -> dict:
    "Where and how the numbers were measured."
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    versions = {}
    for name in ("microtorch", "numpy", "torch"):
        if importlib.util.find_spec(name):
            versions[name] = subprocess.run([sys.executable, "-c", f"import {name}; print({name}.__version__)"],
                                            capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "versions": versions, "commit": commit, "threads": THREADS,
            "runs": runs, "load_before": os.getloadavg(), "job": {"sizes": list(SIZES), "batch": BATCH, "lr": LR, "dtype": "float32"}}

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="measured runs per contender (each a fresh process: warm-up epoch + timed epoch)")
    p.add_argument("--data", default=os.environ.get("MNIST_ROOT"), help="MNIST root (IDX files under MNIST/raw); default: microtorch's cache")
    p.add_argument("--out", default=ROOT/"bench"/"results", type=Path, help="where latest.json and latest.png go")
    p.add_argument("--only", nargs="+", choices=CONTENDERS, default=CONTENDERS, help="contenders to run")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=TASKS, help="what to measure (default all): the MNIST MLP epoch, "
                   "the user-style loop, per-op overhead, graph scaling, a LeNet-5 step (bench/conv.py), a GPT step (bench/charlm.py)")
    p.add_argument("--skip-micro", action="store_true", help="skip the per-op and graph-scaling measurements (same as leaving out ops and scaling)")
    p.add_argument("--patience", type=float, default=20, help="seconds to wait for other processes to calm down before each run")
    p.add_argument("--publish", action="store_true", help="also write nbs/benchmarks.json and re-execute the benchmarks page nbs/*_benchmarks.ipynb")
    args = p.parse_args()
    contenders = [c for c in args.only if c != "torch" or importlib.util.find_spec("torch")]
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print(f"setup: MNIST from {args.data or 'the default cache'}, initial weights, batch orders ...", flush=True)
    setup = write_setup(args.out/"setup.npz", args.data)
    tasks = [t for t in args.tasks if not (args.skip_micro and t in ("ops", "scaling"))]
    results = {"meta": meta(args.runs), "mlp": {c: [] for c in contenders if "mlp" in tasks}, "userloop": {}, "ops": {}, "scaling": {}}
    try:
        for i in range(args.runs if "mlp" in tasks else 0):      # interleaved, so a busy moment of the machine hits every contender alike
            for c in contenders:
                busy = wait_for_quiet(patience=args.patience)
                print(f"mlp run {i + 1}/{args.runs}: {c} (others used {100 * busy:.0f}% CPU) ...", flush=True)
                results["mlp"][c].append({**run(c, "mlp", setup), "others_busy": busy})
        looping = [c for c in contenders if c != "numpy" and "userloop" in tasks]
        for i in range(args.runs if looping else 0):             # interleaved too
            for c in looping:
                wait_for_quiet(patience=args.patience)
                print(f"user-style loop run {i + 1}/{args.runs}: {c} ...", flush=True)
                results["userloop"].setdefault(c, []).append(run(c, "userloop", setup))
    finally: setup.unlink()
    for c in [c for c in contenders if c != "numpy"]:
        for task in [t for t in ("ops", "scaling") if t in tasks]:
            wait_for_quiet(patience=args.patience)
            print(f"{task}: {c} ...", flush=True)
            results[task][c] = run(c, task).get(task, {})
    if "conv" in tasks: results["conv"] = importlib.import_module("bench.conv").measure(runs=3)
    if "charlm" in tasks and importlib.util.find_spec("bench.charlm"):       # bench/charlm.py: the chapter-21 GPT
        results["charlm"] = importlib.import_module("bench.charlm").measure(runs=3, patience=args.patience)
    results["meta"]["load_after"] = os.getloadavg()
    summarize(results)
    print("\n" + format_table(results))
    (args.out/"latest.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out/"latest.png")
    print(f"\nwrote {args.out/'latest.json'} and {args.out/'latest.png'} in {time.perf_counter() - t0:.0f} s")
    if args.publish: publish(args.out/"latest.json")

def publish(latest: Path):
    "Copy the results next to the docs page and re-execute it, so the page shows this run."
    shutil.copy(latest, ROOT/"nbs"/"benchmarks.json")
    page = next((ROOT/"nbs").glob("*_benchmarks.ipynb"))
    bin_ = Path(sys.executable).parent
    subprocess.run([bin_/"jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace", page.name],
                   cwd=ROOT/"nbs", check=True, capture_output=True)
    subprocess.run([bin_/"nbdev_clean", "--fname", str(page)], cwd=ROOT, check=True)
    print(f"published nbs/benchmarks.json and re-executed {page.relative_to(ROOT)}")

if __name__ == "__main__": main()

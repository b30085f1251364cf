"""Milliseconds per training step of the chapter-21 GPT, PyTorch vs microtorch: `python -m bench.charlm` (`--help`).

Both run the same code, `microtorch.charlm` (through `on_engine` for PyTorch), from the same initial weights on the
same batches, each engine in its own process with the benchmark's thread limits, runs interleaved, each after
waiting (up to --patience s) for the machine to be quiet: other processes make the timings meaningless. One step is
`charlm.train_step`: forward, backward, gradient clipping, AdamW, learning-rate schedule. An engine that cannot run
(PyTorch not installed) is reported as failed, with the reason. `measure()` is what `bench.run` publishes.
"""
import argparse, json, sys, time
from dataclasses import asdict
from pathlib import Path
import numpy as np
from bench.common import THREAD_ENV, THREADS, run_worker
from bench.run import wait_for_quiet

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("torch", "microtorch")

def write_setup(path: Path, args) -> Path:
    "The file both engines read: the config, initial weights (PyTorch's init, else microtorch's) and the batches."
    from microtorch.charlm import Config, on_engine, shakespeare
    config = Config(batch_size=args.batch_size, seed=args.seed)
    text = shakespeare()
    vocab = {c: i for i, c in enumerate(sorted(set(text)))}
    tokens = np.array([vocab[c] for c in text[:200_000]], dtype=np.int64)          # enough text for the batches
    starts = np.random.default_rng(args.seed).integers(0, len(tokens) - config.block_size - 1, (args.warmup + args.steps, config.batch_size))
    blocks = np.stack([np.stack([tokens[s:s + config.block_size + 1] for s in row]) for row in starts])
    weights = _initial_weights(on_engine, config, len(vocab))
    np.savez(path, x=blocks[..., :-1], y=blocks[..., 1:], config=json.dumps(asdict(config)), vocab_size=len(vocab), **weights)
    return path

def _initial_weights(on_engine, config, vocab_size) -> dict:
    "The GPT's initial state dict as numpy arrays, from the first engine that can build the model."
    for name in ENGINES:
        try:
            engine = __import__(name)
            engine.manual_seed(config.seed)
            module = on_engine(engine)
            return {f"w:{k}": np.asarray(v) for k, v in module.GPT(config, vocab_size).state_dict().items()}
        except Exception as e: print(f"  {name} cannot build the initial weights ({type(e).__name__}: {e})", file=sys.stderr)
    raise SystemExit("bench.charlm: no engine can build the model")

def time_engine(name: str, setup: Path, warmup: int) -> dict:
    "In this process: build the model on engine `name`, load the setup's weights, time the steps."
    engine = __import__(name)
    if name == "torch": engine.set_num_threads(THREADS)
    from microtorch.charlm import Config, on_engine
    module = on_engine(engine)
    with np.load(setup) as f: s = {k: f[k] for k in f.files}
    config = Config(**json.loads(str(s["config"])))
    model = module.GPT(config, int(s["vocab_size"]))
    model.load_state_dict({k[2:]: engine.tensor(v) for k, v in s.items() if k.startswith("w:")})
    opt, scheduler = module.configure_optimizer(model, config)
    batches = [(engine.tensor(x), engine.tensor(y)) for x, y in zip(s["x"], s["y"])]
    times, losses = [], []
    for x, y in batches:
        t0 = time.perf_counter()
        losses.append(module.train_step(model, opt, scheduler, x, y, config.grad_clip))
        times.append(time.perf_counter() - t0)
    return {"ms_per_step": 1000 * float(np.median(times[warmup:])), "first_loss": losses[0], "last_loss": losses[-1]}

def run(name: str, setup: Path, warmup: int) -> dict:
    "One engine's timing in a fresh process with the thread limits; its result, or why it failed."
    return run_worker([sys.executable, "-m", "bench.charlm", "--engine", name, "--setup", str(setup), "--warmup", str(warmup)], THREAD_ENV)

def report(results: dict) -> dict:
    "Median over runs per engine, and the microtorch / PyTorch ratio when both ran."
    summary = {}
    for name, runs in results.items():
        done = [r for r in runs if "error" not in r]
        summary[name] = ({"ms_per_step": float(np.median([r["ms_per_step"] for r in done])), "last_loss": done[-1]["last_loss"]}
                         if done else {"error": runs[0]["error"]})
    if all("ms_per_step" in summary.get(n, {}) for n in ENGINES):
        summary["ratio_microtorch_to_torch"] = summary["microtorch"]["ms_per_step"] / summary["torch"]["ms_per_step"]
    return summary

def measure(runs: int = 3, steps: int = 30, warmup: int = 5, batch_size: int = 12, seed: int = 0, patience: float = 60) -> dict:
    "Time both engines `runs` times, interleaved: {task, unit, config, contenders: {engine: [ms per step, one per run]}, runs}."
    out = ROOT / "bench" / "results"; out.mkdir(parents=True, exist_ok=True)
    setup = write_setup(out / "charlm_setup.npz", argparse.Namespace(steps=steps, warmup=warmup, batch_size=batch_size, seed=seed))
    results = {name: [] for name in ENGINES}
    for _ in range(runs):
        for name in ENGINES:
            busy = wait_for_quiet(patience=patience)
            results[name].append({**run(name, setup, warmup), "others_busy": busy})
    from microtorch.charlm import Config
    return {"task": "charlm", "unit": "ms per iteration", "config": {**asdict(Config(batch_size=batch_size, seed=seed)), "timed_steps": steps},
            "contenders": {name: [r["ms_per_step"] for r in runs if "ms_per_step" in r] for name, runs in results.items()},
            "runs": results}

def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.charlm", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=30, help="timed steps per run (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before them (default 5)")
    p.add_argument("--runs", type=int, default=3, help="runs per engine, interleaved; the median is reported (default 3)")
    p.add_argument("--batch-size", type=int, default=12, help="blocks per step (default 12, the chapter's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--patience", type=float, default=60, help="seconds to wait for a quiet machine before each run (default 60)")
    p.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)     # internal: time one engine
    p.add_argument("--setup", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.engine:
        json.dump(time_engine(args.engine, Path(args.setup), args.warmup), sys.stdout); return
    if min(args.steps, args.runs, args.batch_size) < 1 or args.warmup < 0 or args.seed < 0:
        p.error("--steps, --runs and --batch-size must be >= 1, --warmup and --seed >= 0")
    measured = measure(args.runs, args.steps, args.warmup, args.batch_size, args.seed, args.patience)
    results = measured["runs"]
    summary = report(results)
    for name in ENGINES:
        r = summary[name]
        print(f"{name:>10}: " + (f"{r['ms_per_step']:7.1f} ms/step (loss after the timed steps {r['last_loss']:.4f})"
                                 if "ms_per_step" in r else f"failed ({r['error']})"))
    if "ratio_microtorch_to_torch" in summary: print(f"microtorch / PyTorch: {summary['ratio_microtorch_to_torch']:.2f}x")
    busiest = max(r["others_busy"] for runs in results.values() for r in runs)
    if busiest > 0.2: print(f"warning: other processes used up to {busiest:.0%} of the CPUs during the runs; the timings are unreliable")
    (ROOT / "bench" / "results" / "charlm.json").write_text(json.dumps({"args": vars(args), "summary": summary, "runs": results}, indent=2))

if __name__ == "__main__": main()

"Summaries, tables and the plot of a benchmark result (used by `bench/run.py` and the docs page)."
import numpy as np

TARGETS = {"vs_torch": 1.1, "vs_numpy": 1.35, "chain_1e5_s": 2.0, "linear_growth": 20.0, "acc_spread": 0.005,
           "conv_vs_torch": 2.0, "conv_vs_numpy": 1.0, "charlm_vs_torch": 2.0}
STEP_TASKS = {"conv": "LeNet-5 on MNIST, one training step (batch 64)", "charlm": "GPT of chapter 21, one training iteration"}

def _ok(runs): return [r for r in runs if "error" not in r]

def _user_loop(res: dict) -> dict:
    "Per contender of the user-style loop: the median over runs of each epoch's seconds and of the peak RSS."
    return {c: {"epoch_s": [float(t) for t in np.median([r["epoch_s"] for r in _ok(runs)], axis=0)],
                "peak_rss_mb": float(np.median([r["peak_rss_mb"] for r in _ok(runs)])), "runs": len(_ok(runs))}
            for c, runs in res.get("userloop", {}).items() if _ok(runs)}

def summarize(res: dict) -> dict:
    "Add `res['summary']`: median epoch times, accuracies, ratios and which targets are met."
    s = {"epoch_median_s": {}, "test_acc": {}, "dtypes": {}}
    for name, runs in res["mlp"].items():
        if not _ok(runs): continue
        s["epoch_median_s"][name] = float(np.median([r["epoch_s"] for r in _ok(runs)]))
        s["test_acc"][name] = float(np.median([r["test_acc"] for r in _ok(runs)]))
        s["dtypes"][name] = sorted({d for r in _ok(runs) for d in r["dtypes"]})
    med = s["epoch_median_s"]
    best = {n: min(r["epoch_s"] for r in _ok(runs)) for n, runs in res["mlp"].items() if _ok(runs)}
    s["epoch_best_s"] = best
    s["ratios"] = {f"microtorch/{o}": med["microtorch"] / med[o] for o in ("torch", "numpy") if "microtorch" in med and o in med}
    s["ratios_best"] = {k: best["microtorch"] / best[k.split("/")[1]] for k in s["ratios"]}
    checks = {}
    if "microtorch/torch" in s["ratios"]:
        checks["epoch <= 1.1x torch"] = s["ratios"]["microtorch/torch"] <= TARGETS["vs_torch"]
        checks["stretch: faster than torch"] = s["ratios"]["microtorch/torch"] < 1
    if "microtorch/numpy" in s["ratios"]:
        checks["epoch <= 1.35x numpy floor"] = s["ratios"]["microtorch/numpy"] <= TARGETS["vs_numpy"]
    if len(s["test_acc"]) > 1:
        accs = s["test_acc"].values()
        checks["accuracies agree within 0.5%"] = max(accs) - min(accs) <= TARGETS["acc_spread"]
    if "microtorch" in s["dtypes"]: checks["float32 end to end"] = s["dtypes"]["microtorch"] == ["float32"]
    loop = s["user_loop"] = _user_loop(res)
    if {"microtorch", "torch"} <= loop.keys():
        ours, theirs = loop["microtorch"], loop["torch"]
        checks["user loop: every epoch <= 1.1x torch"] = all(a <= 1.1 * b for a, b in zip(ours["epoch_s"], theirs["epoch_s"]))
        checks["user loop: peak RSS <= torch + 10%"] = ours["peak_rss_mb"] <= 1.1 * theirs["peak_rss_mb"]
    mts = res["scaling"].get("microtorch", {})
    if mts:
        checks["chain of 1e5 ops: backward < 2 s"] = mts["chain"]["100000"] < TARGETS["chain_1e5_s"]
        checks["diamond ladder linear (1e4 -> 1e5 levels: < 20x time)"] = (
            mts["diamond"]["100000"] / mts["diamond"]["10000"] < TARGETS["linear_growth"])
    for task in STEP_TASKS:
        if task in res: s[task] = _step_summary(res[task])
    ratio = lambda task, other: s.get(task, {}).get("ratios", {}).get(f"microtorch/{other}")
    if ratio("conv", "torch") is not None: checks["LeNet step <= 2.0x torch"] = ratio("conv", "torch") <= TARGETS["conv_vs_torch"]
    if ratio("conv", "numpy") is not None: checks["LeNet step <= the numpy im2col floor"] = ratio("conv", "numpy") <= TARGETS["conv_vs_numpy"]
    if ratio("charlm", "torch") is not None: checks["GPT iteration <= 2.0x torch"] = ratio("charlm", "torch") <= TARGETS["charlm_vs_torch"]
    s["targets"] = checks
    res["summary"] = s
    return s

def _step_summary(task: dict) -> dict:
    "Median per contender of a step benchmark (`bench/conv.py`, `bench/charlm.py`) and microtorch's ratios to the others."
    med = {c: float(np.median(v)) for c, v in task["contenders"].items() if v}
    ratios = {f"microtorch/{c}": med["microtorch"] / m for c, m in med.items() if c != "microtorch" and "microtorch" in med}
    return {"median": med, "ratios": ratios}

def _md(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])

def format_table(res: dict) -> str:
    "Markdown tables: the MLP epoch, the targets, per-op overhead and graph scaling."
    s = res["summary"]
    base = s["epoch_median_s"].get("microtorch")
    rows = []
    for name, runs in res["mlp"].items():
        if name not in s["epoch_median_s"]:
            rows.append((name, "failed: " + runs[0].get("error", "?"), "", "", "", "", "")); continue
        med = s["epoch_median_s"][name]
        times = [r["epoch_s"] for r in _ok(runs)]
        rows.append((name, f"{med:.3f}", f"{min(times):.3f}", " ".join(f"{t:.3f}" for t in times),
                     f"{base / med:.2f}" if base else "", f"{100 * s['test_acc'][name]:.2f}%", ", ".join(s["dtypes"][name])))
    busy_runs = sum(r.get("others_busy", 0) > 0.2 for runs in res["mlp"].values() for r in runs)
    busy = (f"\n\n**The machine was busy**: {busy_runs} runs started while other processes used over 20% of "
            "the CPUs; their times are slower and noisier than on a quiet machine.\n") if busy_runs else "\n"
    out = ["MNIST MLP 784-128-64-10, batch 128, SGD lr 0.1, float32, "
           f"{res['meta']['threads']} threads; epoch 2 of each run (median of {res['meta']['runs']})" + busy,
           _md(("contender", "epoch s (median)", "best", "runs", "microtorch / this", "test acc", "dtypes"), rows)
           if rows else "not measured in this run."]
    if s["ratios"]:
        out.append("\nmicrotorch / other, epoch medians: " + ", ".join(f"**{k} = {v:.2f}**" for k, v in s["ratios"].items())
                   + "; best runs: " + ", ".join(f"{k} = {v:.2f}" for k, v in s["ratios_best"].items()))
    out.append("\n" + _md(("target (on the medians)", "met"), [(k, "yes" if v else "**no**") for k, v in s["targets"].items()]))
    loop = s["user_loop"]
    if loop:
        out.append("\nA user-style loop (keeps `loss`, gathers `X[perm]` every epoch): seconds per epoch and peak memory, "
                   f"medians of {max(r['runs'] for r in loop.values())} interleaved runs\n")
        out.append(_md(("contender", "epochs s", "peak RSS MB"),
                       [(c, " ".join(f"{t:.3f}" for t in r["epoch_s"]), f"{r['peak_rss_mb']:.0f}") for c, r in loop.items()]))
    ops = res["ops"]
    if ops.get("microtorch") or ops.get("torch"):
        names = list((ops.get("microtorch") or ops["torch"]).keys())
        def us(c, n, k): return f"{ops[c][n][k]:.1f}" if n in ops.get(c, {}) else "-"
        out.append("\nPer-op overhead on 8x8 float32 tensors, microseconds per op\n")
        out.append(_md(("op", "microtorch fwd", "torch fwd", "microtorch fwd+bwd", "torch fwd+bwd"),
                       [(n, us("microtorch", n, "forward_us"), us("torch", n, "forward_us"),
                         us("microtorch", n, "fwd_bwd_us"), us("torch", n, "fwd_bwd_us")) for n in names]))
    for task, title in STEP_TASKS.items():
        if task not in res:
            out.append(f"\n{title}: not measured in this run."); continue
        med, unit = s[task]["median"], res[task]["unit"]
        out.append(f"\n{title}: {unit}, every run and the median\n")
        out.append(_md(("contender", f"{unit} (median)", "runs", "microtorch / this"),
                       [(c, f"{m:.1f}", " ".join(f"{v:.1f}" for v in res[task]["contenders"][c]), f"{med['microtorch'] / m:.2f}" if "microtorch" in med else "")
                        for c, m in med.items()]))
    sc = res["scaling"]
    if sc:
        rows = [(f"{kind} {int(n):,}", *(f"{sc[c][kind][n]:.4f}" if c in sc and sc[c] else "-" for c in ("microtorch", "torch")))
                for kind in ("chain", "diamond") for n in next(iter(sc.values()))[kind]]
        out.append("\nBackward time in seconds of a chain of N ops and a diamond ladder of N levels (3 ops each)\n")
        out.append(_md(("graph", "microtorch s", "torch s"), rows))
    return "\n".join(out)

def plot(res: dict, path=None):
    "Epoch times and per-op overhead side by side, graph scaling (log-log) below. Saves to `path` if given."
    import matplotlib
    if path is not None: matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(9, 7.5))   # narrow enough to stay legible in a docs column
    grid = fig.add_gridspec(2, 2)
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])]
    colors = {"microtorch": "tab:orange", "torch": "tab:blue", "numpy": "tab:gray"}
    s, ax = res["summary"], axes[0]
    names = list(s["epoch_median_s"])
    ax.bar(names, [s["epoch_median_s"][n] for n in names], color=[colors[n] for n in names], alpha=0.8)
    for i, n in enumerate(names):
        ax.plot([i] * len(_ok(res["mlp"][n])), [r["epoch_s"] for r in _ok(res["mlp"][n])], "k.", ms=5)
    ax.set(title="MNIST MLP: one epoch (s)", ylabel="seconds")
    ax = axes[1]
    ops = {c: v for c, v in res["ops"].items() if v}
    if ops:
        opnames = list(next(iter(ops.values())))
        width = 0.8 / len(ops)
        for j, (c, v) in enumerate(ops.items()):
            ax.bar(np.arange(len(opnames)) + j * width, [v[n]["fwd_bwd_us"] for n in opnames], width, label=c, color=colors[c])
        ax.set_xticks(np.arange(len(opnames)) + width * (len(ops) - 1) / 2, opnames)
        ax.set(title="per-op forward+backward (µs, 8x8)", ylabel="µs"); ax.legend()
    ax = axes[2]
    for c, v in res["scaling"].items():
        for kind, style in (("chain", "-o"), ("diamond", "--s")):
            if kind in v:
                ns = [int(n) for n in v[kind]]
                ax.loglog(ns, list(v[kind].values()), style, color=colors[c], label=f"{c} {kind}")
    if res["scaling"]:
        ax.loglog([1e3, 1e5], [1e-3, 1e-1], ":", color="k", lw=1, label="linear (slope 1)")
        ax.set(title="backward time vs graph size", xlabel="N (ops or levels)", ylabel="seconds"); ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None: fig.savefig(path, dpi=100); plt.close(fig)
    return fig

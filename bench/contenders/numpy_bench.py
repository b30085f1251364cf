"The floor: the same MLP with its forward and backward written by hand in numpy (no graph at all)."
import numpy as np
from bench.common import LR, batches, load_setup, mlp_job, run_task

def mlp(args) -> dict:
    setup = load_setup(args.setup)
    params = [setup[k].copy() for k in ("w1", "b1", "w2", "b2", "w3", "b3")]

    def forward(x):
        w1, b1, w2, b2, w3, b3 = params
        h1 = np.maximum(x @ w1.T + b1, 0)
        h2 = np.maximum(h1 @ w2.T + b2, 0)
        return h1, h2, h2 @ w3.T + b3

    def train_epoch(x_all, y_all, perm):
        w1, b1, w2, b2, w3, b3 = params
        for x, y in batches(x_all, y_all, perm):
            h1, h2, logits = forward(x)
            n = len(y)
            shifted = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(shifted)
            total = p.sum(axis=1, keepdims=True)
            loss = np.log(total[:, 0]).mean() - shifted[np.arange(n), y].mean()
            p /= total                                   # softmax; d loss/d logits = (p - onehot) / n
            p[np.arange(n), y] -= 1
            p /= n
            d2 = p @ w3; d2 *= h2 > 0
            d1 = d2 @ w2; d1 *= h1 > 0
            grads = (d1.T @ x, d1.sum(0), d2.T @ h1, d2.sum(0), p.T @ h2, p.sum(0))
            for w, g in zip(params, grads):
                g *= LR; w -= g
        return loss

    def accuracy(x, y): return (forward(x)[2].argmax(1) == y).mean()

    result = mlp_job(setup, train_epoch, accuracy)
    result["dtypes"] = sorted({str(w.dtype) for w in params})
    return result

if __name__ == "__main__": run_task("numpy", {"mlp": mlp})

"microtorch: the same MLP written with the public API, as a user would."
import numpy as np
import microtorch as mt
from bench.common import LR, OP_SHAPE, SIZES, batches, load_setup, mlp_job, ops_job, run_task, scaling_job

def mlp(args) -> dict:
    setup = load_setup(args.setup)
    model = mt.Sequential(mt.Linear(SIZES[0], SIZES[1]), mt.ReLU(), mt.Linear(SIZES[1], SIZES[2]), mt.ReLU(),
                          mt.Linear(SIZES[2], SIZES[3]))
    model.load_state_dict({f"{layer}.{kind}": setup[f"{kind[0]}{i + 1}"]
                           for i, layer in enumerate((0, 2, 4)) for kind in ("weight", "bias")})
    opt = mt.SGD(model.parameters(), lr=LR)
    last = {}

    def train_epoch(x_all, y_all, perm):
        for x, y in batches(x_all, y_all, perm):
            loss = mt.cross_entropy(model(mt.Tensor(x)), mt.Tensor(y))
            opt.zero_grad(); loss.backward(); opt.step()
        last["loss"] = loss
        return loss.item()

    def accuracy(x, y):
        with mt.no_grad(): return (model(mt.Tensor(x)).argmax(axis=1).numpy() == y).mean()

    result = mlp_job(setup, train_epoch, accuracy)
    graph = mt.topological_order(last["loss"])     # every tensor of the last step: activations and their grads
    arrays = [t.data for t in graph] + [t.grad for t in graph if t.grad is not None]
    arrays += [p.data for p in model.parameters()] + [p.grad for p in model.parameters()]
    result["dtypes"] = sorted({str(a.dtype) for a in arrays if a.dtype.kind == "f"})
    return result

def tiny(): return mt.Tensor(np.random.default_rng(0).standard_normal(OP_SHAPE, np.float32), requires_grad=True)

if __name__ == "__main__":
    run_task("microtorch", {"mlp": mlp,
                            "ops": lambda args: ops_job(tiny, np.ones(OP_SHAPE, np.float32), mt.no_grad),
                            "scaling": lambda args: scaling_job(lambda: mt.Tensor(1.0, requires_grad=True))})

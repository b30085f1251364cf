"microtorch: the same MLP written with the public API, as a user would."
import numpy as np
import microtorch as mt
from bench.common import (BATCH, LR, OP_SHAPE, SIZES, epoch_trainer, load_setup, mlp_job, ops_job, run_task, scaling_job,
                          training_step, user_loop_job)

def model_and_opt(setup):
    "The MLP with the shared initial weights, and its SGD."
    model = mt.nn.Sequential(mt.nn.Linear(SIZES[0], SIZES[1]), mt.nn.ReLU(), mt.nn.Linear(SIZES[1], SIZES[2]), mt.nn.ReLU(),
                             mt.nn.Linear(SIZES[2], SIZES[3]))
    model.load_state_dict({f"{layer}.{kind}": mt.from_numpy(setup[f"{kind[0]}{i + 1}"])
                           for i, layer in enumerate((0, 2, 4)) for kind in ("weight", "bias")})
    return model, mt.optim.SGD(model.parameters(), lr=LR)

def float_dtypes(model, x, y) -> list:
    "Dtypes of every floating array of one training step: activations, their gradients, parameters and theirs."
    loss = mt.nn.functional.cross_entropy(model(mt.from_numpy(x)), mt.from_numpy(y))
    graph = mt.topological_order(loss)
    for t in graph: t.retain_grad()
    loss.backward()
    arrays = [t.data for t in graph] + [t.grad.data for t in graph if t.grad is not None]
    return sorted({str(a.dtype) for a in arrays if a.dtype.kind == "f"})

def mlp(args) -> dict:
    setup = load_setup(args.setup)
    model, opt = model_and_opt(setup)

    def accuracy(x, y):
        with mt.no_grad(): return (model(mt.from_numpy(x)).argmax(dim=1).numpy() == y).mean()

    result = mlp_job(setup, epoch_trainer(training_step(model, opt, mt.nn.functional.cross_entropy, mt.from_numpy)), accuracy)
    result["dtypes"] = float_dtypes(model, setup["x_train"][:BATCH], setup["y_train"][:BATCH])
    return result

def user_loop(args) -> dict:
    setup = load_setup(args.setup)
    return user_loop_job(setup, training_step(*model_and_opt(setup), mt.nn.functional.cross_entropy, mt.from_numpy))

def tiny(): return mt.Tensor(np.random.default_rng(0).standard_normal(OP_SHAPE, np.float32), requires_grad=True)

if __name__ == "__main__":
    run_task("microtorch", {"mlp": mlp, "userloop": user_loop,
                            "ops": lambda args: ops_job(tiny, np.ones(OP_SHAPE, np.float32), mt.no_grad),
                            "scaling": lambda args: scaling_job(lambda: mt.Tensor(1.0, requires_grad=True))})

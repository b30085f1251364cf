"PyTorch CPU: the same MLP written the usual way (nn.Sequential, F.cross_entropy, optim.SGD)."
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
from bench.common import (LR, OP_SHAPE, SIZES, THREADS, epoch_trainer, load_setup, mlp_job, ops_job, run_task, scaling_job,
                          training_step, user_loop_job)

torch.set_num_threads(THREADS)

def model_and_opt(setup):
    "The MLP with the shared initial weights, and its SGD."
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                          nn.Linear(SIZES[2], SIZES[3]))
    model.load_state_dict({f"{layer}.{kind}": torch.from_numpy(setup[f"{kind[0]}{i + 1}"])
                           for i, layer in enumerate((0, 2, 4)) for kind in ("weight", "bias")})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    return model, opt

def mlp(args) -> dict:
    setup = load_setup(args.setup)
    model, opt = model_and_opt(setup)

    def accuracy(x, y):
        with torch.no_grad(): return (model(torch.from_numpy(x)).argmax(1).numpy() == y).mean()

    result = mlp_job(setup, epoch_trainer(training_step(model, opt, F.cross_entropy, torch.from_numpy)), accuracy)
    result["dtypes"] = sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()})
    return result

def user_loop(args) -> dict:
    setup = load_setup(args.setup)
    return user_loop_job(setup, training_step(*model_and_opt(setup), F.cross_entropy, torch.from_numpy))

def tiny(): return torch.tensor(np.random.default_rng(0).standard_normal(OP_SHAPE, np.float32), requires_grad=True)

if __name__ == "__main__":
    run_task("torch", {"mlp": mlp, "userloop": user_loop,
                       "ops": lambda args: ops_job(tiny, torch.ones(OP_SHAPE), torch.no_grad),
                       "scaling": lambda args: scaling_job(lambda: torch.tensor(1.0, requires_grad=True))})

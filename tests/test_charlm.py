"The chapter-21 GPT against PyTorch: the same code through `on_engine`, the same numbers."
import numpy as np
import pytest
import microtorch as mt
from microtorch import charlm
from microtorch.charlm import Config, on_engine

SMALL = Config(block_size=8, n_layer=2, n_head=2, n_embd=16, batch_size=4, iters=6, warmup_iters=2, lr=3e-3, min_lr=1e-4)
VOCAB = 13


def twins(config=SMALL, seed=0):
    "The same GPT on microtorch and on PyTorch, in float64, with PyTorch's initial weights copied into microtorch's."
    torch = pytest.importorskip("torch")
    reference = on_engine(torch)
    torch.manual_seed(seed)
    theirs = reference.GPT(config, VOCAB).double()
    ours = charlm.GPT(config, VOCAB).double()
    ours.load_state_dict({k: mt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs, reference, torch


def batches(n, config=SMALL, seed=1):
    "`n` batches of token ids (x, y), each (batch_size, block_size)."
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, VOCAB, (config.batch_size, config.block_size)),
             rng.integers(0, VOCAB, (config.batch_size, config.block_size))) for _ in range(n)]


def test_same_loss_and_gradient_of_every_parameter_as_torch():
    ours, theirs, _, torch = twins()
    (x, y), = batches(1)
    _, loss = ours(mt.tensor(x), mt.tensor(y))
    _, tloss = theirs(torch.tensor(x), torch.tensor(y))
    loss.backward(); tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-7)
    tgrads = dict(theirs.named_parameters())
    names = [name for name, _ in ours.named_parameters()]
    assert names == list(tgrads) and len(names) > 10
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


def test_adamw_cosine_and_clipping_steps_match_torch():
    "Several steps of the chapter's train_step (AdamW, warmup + cosine, clip_grad_norm_): the same losses and weights."
    ours, theirs, reference, torch = twins()
    opt, schedule = charlm.configure_optimizer(ours, SMALL)
    topt, tschedule = reference.configure_optimizer(theirs, SMALL)
    for x, y in batches(SMALL.iters):
        loss = charlm.train_step(ours, opt, schedule, mt.tensor(x), mt.tensor(y), grad_clip=0.05)   # small: clipping bites
        tloss = reference.train_step(theirs, topt, tschedule, torch.tensor(x), torch.tensor(y), grad_clip=0.05)
        np.testing.assert_allclose(loss, tloss, rtol=1e-7)
    assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


def test_training_that_diverges_stops_naming_the_learning_rate():
    "A NaN loss stops `train` with the MNIST chapter's TrainingDiverged, suggesting a tenth of the learning rate."
    data = charlm.CharDataset("To be, or not to be, that is the question. " * 40, 8)
    config = Config(block_size=8, n_layer=1, n_head=2, n_embd=16, batch_size=4, iters=50, warmup_iters=1, lr=1e12,
                    eval_interval=50, eval_iters=1)
    mt.manual_seed(0)
    with np.errstate(all="ignore"), pytest.raises(charlm.TrainingDiverged, match=r"the loss became nan at step \d+ with "
                                                  r"learning rate 1e\+12; lower the learning rate \(e\.g\. 1e\+11\)"):
        charlm.train(charlm.GPT(config, data.vocab_size), data, config, log=lambda line: None)

"Benchmarks: microtorch vs PyTorch vs a hand-written numpy floor on the MNIST MLP (`make bench`)."

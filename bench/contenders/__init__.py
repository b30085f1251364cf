"One module per contender; each runs in its own process (see `bench/run.py`)."

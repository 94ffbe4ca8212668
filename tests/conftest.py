import zlib

import numpy as np
import pytest


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's id: reproducible, and different for every test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def pytest_addoption(parser: pytest.Parser) -> None:
    # tests/test_random_graphs.py: a longer or different random-graph run without editing code
    parser.addoption("--random-graphs", type=int, default=None, metavar="N",
                     help="number of random graphs to check (also AG_RANDOM_GRAPHS=N)")
    parser.addoption("--random-graphs-seed", type=int, default=None, metavar="SEED",
                     help="seed of the random graphs (also AG_RANDOM_GRAPHS_SEED=SEED)")

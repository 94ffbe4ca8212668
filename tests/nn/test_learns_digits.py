"""End to end: a small MLP learns scikit-learn's 8×8 digits with plain minibatch SGD (seeded,
``nn.optim.SGD`` without momentum: p ← p − lr·∇p)."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_core as ag
import nn

datasets = pytest.importorskip("sklearn.datasets")


def test_mlp_learns_digits():
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixels 0..16 → [0, 1]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, test = order[:1400], order[1400:]

    model = nn.MLP([64, 64, 10], activation="relu", rng=rng)
    batch, epochs = 32, 12
    opt = nn.optim.SGD(model.parameters(), lr=0.1)

    def full_loss() -> float:
        with ag.no_grad():
            return float(nn.cross_entropy(model(X[train]), y[train]).data)

    before = full_loss()
    for _ in range(epochs):
        shuffled = rng.permutation(train)
        for start in range(0, len(train), batch):
            idx = shuffled[start : start + batch]
            loss = nn.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    after = full_loss()

    with ag.no_grad():
        predicted = np.argmax(model(X[test]).data, axis=1)
    accuracy = np.mean(predicted == y[test])
    assert after < 0.25 * before, (before, after)
    assert accuracy > 0.9, accuracy  # chance is 0.1

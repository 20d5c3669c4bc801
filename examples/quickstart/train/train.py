"""A small convolutional network on scikit-learn's bundled 8x8 digits, in numpy.

conv 3x3 (16 filters) + ReLU + 2x2 max-pool + dense softmax, trained with
minibatch SGD.  No download: load_digits() ships with scikit-learn.  Reports
metrics through trainform's protocol (JSON lines appended to
$TRAINFORM_METRICS_FILE) and writes the model to ./outputs/model.npz.
"""

import argparse
import json
import os
import time

import numpy as np


def log_metric(name, value, step=None):
    path = os.environ.get("TRAINFORM_METRICS_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"name": name, "value": value, "step": step}) + "\n")


def load_data(seed):
    try:
        from sklearn.datasets import load_digits

        d = load_digits()
        X, y, source = d.images.astype(np.float32) / 16.0, d.target, "scikit-learn digits"
    except ImportError:  # process mode on a host without scikit-learn
        X, y = synthetic_digits(1800, seed)
        source = "synthetic 8x8 digits (scikit-learn is not installed)"
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    split = int(len(X) * 0.8)
    return X[idx[:split]], y[idx[:split]], X[idx[split:]], y[idx[split:]], source


def synthetic_digits(n, seed):
    """Seven-segment-like 8x8 glyphs with noise and shifts: a stand-in data set."""
    segs = {0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc", 5: "afgcd", 6: "afgedc", 7: "abc", 8: "abcdefg", 9: "abcdfg"}
    masks = {"a": (slice(1, 2), slice(2, 6)), "b": (slice(1, 4), slice(5, 6)), "c": (slice(4, 7), slice(5, 6)),
             "d": (slice(6, 7), slice(2, 6)), "e": (slice(4, 7), slice(2, 3)), "f": (slice(1, 4), slice(2, 3)), "g": (slice(3, 5), slice(2, 6))}
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    X = np.zeros((n, 8, 8), np.float32)
    for i, label in enumerate(y):
        img = np.zeros((8, 8), np.float32)
        for s in segs[label]:
            img[masks[s]] = 1.0
        img = np.roll(img, (rng.integers(-1, 2), rng.integers(-1, 2)), axis=(0, 1))
        X[i] = np.clip(img * rng.uniform(0.6, 1.0) + rng.normal(0, 0.15, (8, 8)), 0, 1)
    return X, y


class CNN:
    def __init__(self, filters=16, classes=10, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, np.sqrt(2 / 9), (filters, 9)).astype(np.float32)
        self.b1 = np.zeros(filters, np.float32)
        self.W2 = rng.normal(0, np.sqrt(2 / (9 * filters)), (9 * filters, classes)).astype(np.float32)
        self.b2 = np.zeros(classes, np.float32)

    def forward(self, X):
        n = len(X)
        cols = np.lib.stride_tricks.sliding_window_view(X, (3, 3), axis=(1, 2)).reshape(n, 36, 9)  # 6x6 patches
        z = cols @ self.W1.T + self.b1  # (n, 36, F)
        a = np.maximum(z, 0).reshape(n, 6, 6, -1)
        blocks = a.reshape(n, 3, 2, 3, 2, -1)
        pooled = blocks.max(axis=(2, 4))  # (n, 3, 3, F)
        flat = pooled.reshape(n, -1)
        logits = flat @ self.W2 + self.b2
        return logits, (cols, z, blocks, pooled, flat)

    def predict(self, X):
        return self.forward(X)[0].argmax(1)

    def step(self, X, y, lr):
        n = len(X)
        logits, (cols, z, blocks, pooled, flat) = self.forward(X)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        loss = -np.log(p[np.arange(n), y] + 1e-9).mean()
        d = p
        d[np.arange(n), y] -= 1
        d /= n
        dW2, db2 = flat.T @ d, d.sum(0)
        dpooled = (d @ self.W2.T).reshape(pooled.shape)
        mask = blocks == pooled[:, :, None, :, None, :]
        da = (mask * dpooled[:, :, None, :, None, :]).reshape(n, 36, -1)
        dz = da * (z > 0)
        dW1 = np.einsum("npk,npf->fk", cols, dz)
        db1 = dz.sum((0, 1))
        for param, grad in ((self.W1, dW1), (self.b1, db1), (self.W2, dW2), (self.b2, db2)):
            param -= lr * grad
        return loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    Xtr, ytr, Xte, yte, source = load_data(args.seed)
    print(f"data: {source}: {len(Xtr)} train / {len(Xte)} test images")
    model = CNN(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    acc = 0.0
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(Xtr))
        losses = [model.step(Xtr[b], ytr[b], args.lr) for b in np.array_split(order, max(1, len(order) // args.batch_size))]
        loss = float(np.mean(losses))
        acc = float((model.predict(Xte) == yte).mean())
        print(f"epoch {epoch}/{args.epochs}: loss {loss:.4f}  test accuracy {acc:.4f}")
        log_metric("loss", round(loss, 6), epoch)
        log_metric("accuracy", round(acc, 6), epoch)
    os.makedirs("outputs", exist_ok=True)
    np.savez("outputs/model.npz", W1=model.W1, b1=model.b1, W2=model.W2, b2=model.b2)
    print(f"saved outputs/model.npz; final test accuracy {acc:.4f} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()

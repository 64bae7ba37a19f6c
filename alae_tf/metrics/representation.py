"""Representation quality: k-nearest-neighbour accuracy on E(x)."""

import numpy as np
import tensorflow as tf

from alae_tf.metrics.registry import register


def knn_predict(train_codes, train_labels, test_codes, k, chunk=512):
    """Labels of `test_codes` by majority vote of the `k` nearest (Euclidean) train codes.

    Ties go to the label whose members are nearer (each vote carries a tiny
    rank bonus), so k=1 is plain nearest-neighbour.

    Shapes: `[N, d]`, `[N]`, `[M, d]` -> `[M]` int64.
    """
    train = tf.constant(train_codes, tf.float32)
    train_sq = tf.reduce_sum(tf.square(train), axis=1)
    labels = tf.constant(train_labels, tf.int64)
    num_classes = int(np.max(train_labels)) + 1
    weights = 1.0 + 1e-3 * tf.range(k, 0, -1, dtype=tf.float32)
    out = []
    for start in range(0, len(test_codes), chunk):
        test = tf.constant(test_codes[start:start + chunk], tf.float32)
        # ||a-b||^2 = |a|^2 - 2ab + |b|^2; |a|^2 is constant per row and dropped.
        dist = train_sq[tf.newaxis, :] - 2.0 * tf.matmul(test, train, transpose_b=True)
        _, idx = tf.math.top_k(-dist, k=k)
        votes = tf.one_hot(tf.gather(labels, idx), num_classes) * weights[tf.newaxis, :, tf.newaxis]
        out.append(tf.argmax(tf.reduce_sum(votes, axis=1), axis=1).numpy())
    return np.concatenate(out)


def knn_accuracy(ctx, k):
    if ctx.train_labels is None or ctx.test_labels is None:
        raise ValueError("k-NN accuracy needs labels; this dataset has none")
    predicted = knn_predict(ctx.train_codes, ctx.train_labels, ctx.test_codes, k)
    return float(np.mean(predicted == ctx.test_labels))


@register("knn5")
def knn5(ctx):
    """5-NN accuracy of E(test) against E(train) (EMA nets)."""
    return {"knn5_accuracy": knn_accuracy(ctx, 5)}


@register("knn1")
def knn1(ctx):
    """1-NN accuracy, the paper's MNIST protocol."""
    return {"knn1_accuracy": knn_accuracy(ctx, 1)}

"""Representation quality: k-nearest-neighbour and linear SVM accuracy on E(x)."""

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


@register("knn5", needs=("labels",))
def knn5(ctx):
    """5-NN accuracy of E(test) against E(train) (EMA nets)."""
    return {"knn5_accuracy": knn_accuracy(ctx, 5)}


@register("knn1", needs=("labels",))
def knn1(ctx):
    """1-NN accuracy, the paper's MNIST protocol."""
    return {"knn1_accuracy": knn_accuracy(ctx, 1)}


def linear_svm_predict(train_codes, train_labels, test_codes, steps=1000, l2=1e-4, learning_rate=0.01):
    """Labels of `test_codes` by one-vs-rest linear SVMs fitted on `train_codes`.

    Features are standardized with the train codes' mean and std (so the fit does not depend
    on the scale of w). Each class gets a score `x @ W[:, c] + b[c]`, fitted to +1 for its
    members and -1 for the rest with the squared hinge loss (as LinearSVC's default) plus
    `l2 * |W|^2`, by `steps` full-batch Adam steps from zero: the problem is convex, so the
    bounded number of steps and the zero start make it deterministic and fast. The
    predicted label is the highest score.

    Shapes: `[N, d]`, `[N]`, `[M, d]` -> `[M]` int64.
    """
    train = np.asarray(train_codes, np.float64)
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)  # a constant feature carries nothing; leave it at zero
    x = tf.constant((train - mean) / std, tf.float32)
    x_test = tf.constant((np.asarray(test_codes, np.float64) - mean) / std, tf.float32)
    num_classes = int(np.max(train_labels)) + 1
    targets = 2.0 * tf.one_hot(tf.constant(train_labels, tf.int64), num_classes) - 1.0  # +1 member, -1 rest
    weights = tf.Variable(tf.zeros([x.shape[1], num_classes]))
    bias = tf.Variable(tf.zeros([num_classes]))
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function
    def fit():
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                margins = targets * (tf.matmul(x, weights) + bias)
                loss = (tf.reduce_mean(tf.reduce_sum(tf.square(tf.nn.relu(1.0 - margins)), axis=1))
                        + l2 * tf.reduce_sum(tf.square(weights)))
            optimizer.apply_gradients(zip(tape.gradient(loss, [weights, bias]), [weights, bias]))

    fit()
    return tf.argmax(tf.matmul(x_test, weights) + bias, axis=1).numpy()


@register("svm", needs=("labels",))
def svm(ctx):
    """Linear SVM accuracy: fitted on E(train), scored on E(test)."""
    if ctx.train_labels is None or ctx.test_labels is None:
        raise ValueError("SVM accuracy needs labels; this dataset has none")
    predicted = linear_svm_predict(ctx.train_codes, ctx.train_labels, ctx.test_codes, steps=ctx.svm_steps,
                                   l2=ctx.svm_l2)
    return {"svm_accuracy": float(np.mean(predicted == ctx.test_labels)), "svm_steps": ctx.svm_steps}

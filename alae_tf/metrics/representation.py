"""Representation quality: k-nearest-neighbour and linear SVM accuracy on E(x).

The classifiers themselves (`knn_vote`, `linear_svm_predict`) are `alae_tf.probes`; here
they are fitted on E(train) and scored on E(test).
"""

import numpy as np

from alae_tf.metrics.registry import register
from alae_tf.probes import knn_vote, linear_svm_predict


def knn_accuracy(ctx, k):
    """Accuracy of a `k`-neighbour vote: E(test) against E(train) (neighbours shared by the k-NN metrics)."""
    if ctx.train_labels is None or ctx.test_labels is None:
        raise ValueError("k-NN accuracy needs labels; this dataset has none")
    predicted = knn_vote(ctx.train_labels, ctx.test_neighbours(k))
    return float(np.mean(predicted == ctx.test_labels))


@register("knn5", needs=("labels",))
def knn5(ctx):
    """5-NN accuracy of E(test) against E(train) (EMA nets)."""
    return {"knn5_accuracy": knn_accuracy(ctx, 5)}


@register("knn1", needs=("labels",))
def knn1(ctx):
    """1-NN accuracy, the paper's MNIST protocol."""
    return {"knn1_accuracy": knn_accuracy(ctx, 1)}


@register("svm", needs=("labels",))
def svm(ctx):
    """Linear SVM accuracy: fitted on E(train), scored on E(test)."""
    if ctx.train_labels is None or ctx.test_labels is None:
        raise ValueError("SVM accuracy needs labels; this dataset has none")
    predicted = linear_svm_predict(
        ctx.train_codes, ctx.train_labels, ctx.test_codes, steps=ctx.svm_steps, l2=ctx.svm_l2
    )
    return {"svm_accuracy": float(np.mean(predicted == ctx.test_labels)), "svm_steps": ctx.svm_steps}

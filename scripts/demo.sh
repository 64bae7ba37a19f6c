#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then the main job on the embedded default: trains the MLP
# ALAE on Fashion-MNIST for 300k images (about 6-8 minutes on 2 CPU cores), writes
# sample and reconstruction grids, evaluates (5-NN accuracy, reconstruction MSE) and
# exports (SavedModels for TF Serving, a quantized TFLite encoder). Rerunning resumes;
# WORKDIR (default runs/mnist_mlp) can be given as $1, the length as TRAIN_IMAGES.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
WORKDIR=${1:-runs/mnist_mlp}
TRAIN_IMAGES=${TRAIN_IMAGES:-300000}
.venv/bin/python -m alae_tf.train --flagfile=flags/mnist_mlp.cfg --workdir="$WORKDIR" --train_images="$TRAIN_IMAGES"
.venv/bin/python -m alae_tf.evaluate --workdir="$WORKDIR"
.venv/bin/python export/saved_model.py --workdir="$WORKDIR" --output_dir="$WORKDIR/export" --version=1 --overwrite
.venv/bin/python export/tflite.py --saved_model="$WORKDIR/export/encoder/1" --quantize=int16x8 \
  --output="$WORKDIR/export/encoder_int16x8.tflite" --overwrite
echo "demo: grids in $WORKDIR/samples.png and $WORKDIR/reconstructions.png, metrics in $WORKDIR/metrics.json,"
echo "      SavedModels in $WORKDIR/export (models.config for TF Serving), TFLite encoder (int8 weights, int16 activations) and its report beside them"

#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then the main job on the embedded default: trains the MLP
# ALAE on Fashion-MNIST for 300k images (about 6-8 minutes on 2 CPU cores), writes
# sample and reconstruction grids, evaluates (k-NN, SVM, reconstruction MSE/PSNR/SSIM,
# FD/KID in the features of a Fashion-MNIST classifier it trains once; report.md with
# figures) and exports (SavedModels for TF Serving, an int8 TFLite encoder). Rerunning resumes;
# WORKDIR (default runs/mnist_mlp) can be given as $1, the length as TRAIN_IMAGES.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
WORKDIR=${1:-runs/mnist_mlp}
TRAIN_IMAGES=${TRAIN_IMAGES:-300000}
.venv/bin/python -m alae_tf.train --flagfile=flags/mnist_mlp.cfg --workdir="$WORKDIR" --train_images="$TRAIN_IMAGES"
# The feature network FD/KID use (Inception weights cannot be downloaded here): trained once.
FEATURES=runs/fmnist_classifier.keras
[ -f "$FEATURES" ] || .venv/bin/python -m alae_tf.features --output="$FEATURES" --verbose=0
.venv/bin/python -m alae_tf.evaluate --workdir="$WORKDIR" --metrics=knn1,knn5,svm,recon,fd,kid \
  --feature_net="$FEATURES"
.venv/bin/python export/saved_model.py --workdir="$WORKDIR" --output_dir="$WORKDIR/export" --version=1 --overwrite
.venv/bin/python export/tflite.py --saved_model="$WORKDIR/export/encoder/1" --quantize=int8 \
  --output="$WORKDIR/export/encoder_int8.tflite" --overwrite
echo "demo: grids in $WORKDIR/samples.png and $WORKDIR/reconstructions.png; metrics in $WORKDIR/metrics.json and"
echo "      $WORKDIR/report/report.md (figures beside it); SavedModels in $WORKDIR/export (models.config for"
echo "      TF Serving), an int8 TFLite encoder and its report (5-NN through it vs the SavedModel) beside them"

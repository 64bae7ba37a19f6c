#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then the main job on the embedded default: trains the MLP
# ALAE on Fashion-MNIST with the demo's recipe (flags/mnist_mlp_demo.cfg: the paper's losses
# on half-width nets, then a refinement phase; benchmarks/quality.md says what each change did), in
# the machine's fastest precision; evaluates it (k-NN, SVM, reconstruction, FD/KID, the
# judge's class checks and the samples' high-frequency energy, all in report.md with
# figures, judged by a Fashion-MNIST classifier it trains once), builds class directions and
# a class transport for editing and exports (SavedModels for TF Serving with an editor, an int8 TFLite
# encoder). Rerunning resumes; WORKDIR (default
# runs/mnist_mlp_demo) can be given as $1, the length as TRAIN_IMAGES (images) or
# TRAIN_MINUTES (minutes of training on this machine: alae-train --train_minutes), the
# precision as PRECISION (default auto). RECIPE=fast trains flags/mnist_mlp_fast.cfg instead
# (0.69 of the demo's training arithmetic, 6 of the bar's 7 lines), RECIPE=wide the
# previous demo, flags/mnist_mlp_wide.cfg (4 times the arithmetic; docs/demo.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
RECIPE=${RECIPE:-demo}
case "$RECIPE" in
  demo | fast | wide) ;;
  *) echo "demo.sh: RECIPE must be demo, fast or wide, got '$RECIPE'" >&2; exit 2 ;;
esac
WORKDIR=${1:-runs/mnist_mlp_$RECIPE}
start=$(date +%s)
train_length=()
[ -n "${TRAIN_IMAGES:-}" ] && train_length=(--train_images="$TRAIN_IMAGES")
[ -n "${TRAIN_MINUTES:-}" ] && train_length+=(--train_minutes="$TRAIN_MINUTES")
.venv/bin/alae-train --flagfile="flags/mnist_mlp_$RECIPE.cfg" --workdir="$WORKDIR" \
  --precision="${PRECISION:-auto}" "${train_length[@]}"
# The judge of FD/KID and the class checks (Inception weights cannot be downloaded here): trained once.
FEATURES=runs/fmnist_classifier.keras
[ -f "$FEATURES" ] || .venv/bin/alae-train-judge --output="$FEATURES" --verbose=0
.venv/bin/alae-evaluate --workdir="$WORKDIR" \
  --metrics=knn1,knn5,svm,recon,recon_class,fd,kid,class_coverage,hf_ratio,class_mean_edit --feature_net="$FEATURES"
# Class directions for editing (WORKDIR/directions/, one class-mean direction per class), baked into the editor export.
.venv/bin/alae-edit --mode=directions --workdir="$WORKDIR" --method=class_mean --max_images=20000
# Class transport (WORKDIR/class_transport.npz, the editor's `transport` signature): 8 test images to ankle boots.
.venv/bin/alae-edit --mode=transport --workdir="$WORKDIR" --to_class=9 --split=test --count=8 --strengths=0,0.5,1 \
  --max_images=20000 --output_dir="$WORKDIR/edits/transport_to_9" --overwrite
.venv/bin/alae-export-saved-model --workdir="$WORKDIR" --output_dir="$WORKDIR/export" --version=1 --overwrite
.venv/bin/alae-export-tflite --saved_model="$WORKDIR/export/encoder/1" --quantize=int8 \
  --output="$WORKDIR/export/encoder_int8.tflite" --overwrite
echo "demo: done in $(( $(date +%s) - start )) s after setup"
echo "demo: grids in $WORKDIR/samples.png and $WORKDIR/reconstructions.png; metrics in $WORKDIR/metrics.json and"
echo "      $WORKDIR/report/report.md (figures and the quality bar beside it); SavedModels in $WORKDIR/export"
echo "      (models.config for TF Serving), an int8 TFLite encoder and its report (5-NN through it vs the"
echo "      SavedModel) beside them"

#!/usr/bin/env bash
# Retrain everything from ../shared/data (or $TUMORBOARD_DATA), export to models/, evaluate on test,
# write the fixtures and the model cards. 2 CPU threads; fixed seeds. Logs: training/out/logs/.
# Every schedule is a fixed number of epochs (no wall-clock budget), so the same command retrains the same
# models (bitwise on the same kind of CPU); a busier machine only takes longer. Wall times: models/README.md.
# Keep the machine otherwise idle: torch's OpenMP threads spin while waiting, so a second torch process on 2 cores
# slowed detector epochs from 13 s to 470 s. OMP_WAIT_POLICY=PASSIVE degrades gracefully under load but costs about
# 30 % when idle (81-87 vs 122-124 images/s, identical losses, two runs each of OMP_WAIT_POLICY=ACTIVE|PASSIVE
# train_detector.py --epochs 1 --max-iters 60 --neg-frac 0.5 --amp --val-every 0 --bench).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}   # with training/requirements.txt installed
DET_EPOCHS=${DET_EPOCHS:-200}; LES_EPOCHS=${LES_EPOCHS:-200}; PATH_EPOCHS=${PATH_EPOCHS:-40}
mkdir -p training/out/logs
t0=$(date +%s)
RUNLOG=training/out/logs/run_all.log   # stage start times; models/README.md quotes it
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$RUNLOG"; }
: > "$RUNLOG"; log "start $(date -u +%F), $(nproc) CPUs, torch $($PY -c 'import torch; print(torch.__version__)'), $(uname -m)"
[ -f models/text/all-MiniLM-L6-v2/model.safetensors ] || scripts/fetch-text-encoder
log "cohort manifest"; $PY training/cohort.py > training/out/logs/cohort.log 2>&1 || log "cohort.py failed (see log); using the committed manifest"
log "detector";  $PY training/train_detector.py --epochs "$DET_EPOCHS" --neg-frac 0.5 --amp --tag detector > training/out/logs/detector.log 2>&1
$PY training/export.py detector && $PY training/det_threshold.py
log "lesion encoder";  $PY training/train_encoder.py --kind lesion --epochs "$LES_EPOCHS" --val-every 5 --amp > training/out/logs/lesion.log 2>&1
log "pathology encoder"; $PY training/train_encoder.py --kind pathology --epochs "$PATH_EPOCHS" --amp > training/out/logs/pathology.log 2>&1
$PY training/export.py lesion && $PY training/export.py pathology
log "features"; $PY training/features.py > training/out/logs/features.log 2>&1
log "fusion";   $PY training/train_fusion.py > training/out/logs/fusion.log 2>&1
$PY training/export.py fusion
$PY training/calibrate.py
log "evaluate"; $PY training/evaluate.py > training/out/logs/evaluate.log 2>&1
log "fixtures"; $PY training/make_pipeline_fixtures.py && $PY training/make_gradcam_fixture.py && $PY training/make_detector_side_fixture.py
$PY training/make_cards.py
log "done in $(( $(date +%s) - t0 )) s"

#!/usr/bin/env bash
# Retrain everything from ../shared/data (or $TUMORBOARD_DATA), export to models/, evaluate on test,
# write the fixtures and the model cards. 2 CPU threads; fixed seeds. Logs: training/out/logs/.
# The detector and encoders have wall-clock budgets (the schedule ends at whichever of epochs or budget
# comes first): on a machine as fast as the one that trained the committed weights, budgets bind as
# recorded in models/README.md; give larger budgets (env) for a longer schedule.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}   # with training/requirements.txt installed
DET_MIN=${DET_MIN:-45}; DET2_MIN=${DET2_MIN:-20}; LES_MIN=${LES_MIN:-10}; PATH_MIN=${PATH_MIN:-9}
mkdir -p training/out/logs
t0=$(date +%s)
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
[ -f models/text/all-MiniLM-L6-v2/model.safetensors ] || scripts/fetch-text-encoder
log "cohort manifest"; $PY training/cohort.py > training/out/logs/cohort.log 2>&1 || log "cohort.py failed (see log); using the committed manifest"
log "detector";  $PY training/train_detector.py --epochs 80 --time-budget "$DET_MIN" --amp --tag detector > training/out/logs/detector.log 2>&1
$PY training/export.py detector && $PY training/det_threshold.py
log "detector, second schedule from the first's best EMA weights (adopted only if val mAP improves)"
$PY training/train_detector.py --init training/out/detector/best.pt --epochs 80 --time-budget "$DET2_MIN" --lr 0.001 --warmup-epochs 1 --amp --tag detector2 > training/out/logs/detector2.log 2>&1
if $PY -c "import json,sys; a=json.load(open('training/out/detector/train.json'))['best_val_map50']; b=json.load(open('training/out/detector2/train.json'))['best_val_map50']; sys.exit(0 if b > a else 1)"; then
  $PY -c "import sys; sys.path.insert(0,'training'); import export, common; export.export('detector', ckpt=common.OUT/'detector2'/'best.pt')"
  $PY training/det_threshold.py
fi
log "lesion encoder";  $PY training/train_encoder.py --kind lesion --epochs 200 --time-budget "$LES_MIN" --val-every 5 --amp > training/out/logs/lesion.log 2>&1
log "pathology encoder"; $PY training/train_encoder.py --kind pathology --epochs 40 --time-budget "$PATH_MIN" --amp > training/out/logs/pathology.log 2>&1
$PY training/export.py lesion && $PY training/export.py pathology
log "features"; $PY training/features.py > training/out/logs/features.log 2>&1
log "fusion";   $PY training/train_fusion.py > training/out/logs/fusion.log 2>&1
$PY training/export.py fusion
$PY training/calibrate.py
log "evaluate"; $PY training/evaluate.py > training/out/logs/evaluate.log 2>&1
log "fixtures"; $PY training/make_pipeline_fixtures.py
$PY training/make_cards.py
log "done in $(( $(date +%s) - t0 )) s"

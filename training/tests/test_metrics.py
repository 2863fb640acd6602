"""Metric code against scikit-learn and hand-computed detection cases (and pycocotools when installed)."""
import sys
from pathlib import Path
import numpy as np
import pytest
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import metrics


def test_classification_matches_sklearn():
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score, confusion_matrix, accuracy_score
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 3, 200); logits = rng.normal(size=(200, 3)) + np.eye(3)[y] * rng.uniform(0, 2)
        p = metrics.softmax(logits); r = metrics.classification_report(y, p)
        P, R, F, _ = precision_recall_fscore_support(y, p.argmax(1), labels=[0, 1, 2], zero_division=0)
        np.testing.assert_allclose(r["precision"], P); np.testing.assert_allclose(r["recall"], R); np.testing.assert_allclose(r["f1"], F)
        assert abs(r["macro_f1"] - F.mean()) < 1e-12
        assert abs(r["macro_auc"] - roc_auc_score(y, p, multi_class="ovr", average="macro")) < 1e-12
        assert r["confusion"] == confusion_matrix(y, p.argmax(1), labels=[0, 1, 2]).tolist()
        assert abs(r["accuracy"] - accuracy_score(y, p.argmax(1))) < 1e-12


def test_auc_ties():
    from sklearn.metrics import roc_auc_score
    y = np.array([0, 1, 1, 0, 1, 0, 0]); s = np.array([0.1, 0.4, 0.4, 0.4, 0.9, 0.2, 0.9])
    assert abs(metrics.binary_auc(y, s) - roc_auc_score(y, s)) < 1e-12


def test_ece_hand():
    y = np.array([0, 0, 1, 1]); p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    # bin (0.8667,0.9333]: conf .9 x2, acc 1 -> .1*.5 ; bin (0.5333,0.6]: conf .6 acc 0 -> .6*.25 ; bin (.6667,.7333]: .7 acc 1 -> .3*.25
    assert abs(metrics.ece(y, p, 15) - (0.05 + 0.15 + 0.075)) < 1e-12


def test_temperature_recovers_scale():
    rng = np.random.default_rng(1); z = rng.normal(size=(5000, 3)) * 2
    y = np.array([rng.choice(3, p=pp) for pp in metrics.softmax(z)])
    assert abs(metrics.fit_temperature(z * 3, y) - 3) < 0.3


def test_ap_hand_computed():
    gts = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]])]
    dets = [np.array([[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.8], [20, 20, 30, 31, 0.7]])]
    # rc = [.5,.5,1], precision envelope [1, 2/3, 2/3]: 51 recall points at 1, 50 at 2/3
    assert abs(metrics.detection_map50(dets, gts) - (51 + 50 * 2 / 3) / 101) < 1e-12
    # a duplicate of a matched box is a false positive; a detection on an image with no boxes too
    dets2 = [np.array([[0, 0, 10, 10, 0.9], [0, 0, 10, 10, 0.85]]), np.array([[0, 0, 5, 5, 0.95]])]
    gts2 = [np.array([[0, 0, 10, 10]]), np.zeros((0, 4))]
    # order: .95 FP, .9 TP, .85 FP -> rc [0,1,1], pr [0,.5,.333] -> env [.5,.5,.333]; all 101 points at .5
    assert abs(metrics.detection_map50(dets2, gts2) - 0.5) < 1e-12
    assert metrics.pr_at_threshold(dets2, gts2, 0.88) == dict(recall=1.0, precision=0.5, tp=1, fp=1, n_gt=1)


def test_ap_against_pycocotools():
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(3); gts, dets = [], []
    for i in range(30):
        g = []
        for _ in range(rng.integers(0, 3)):
            x, y = rng.uniform(0, 200, 2); w, h = rng.uniform(10, 50, 2); g.append([x, y, x + w, y + h])
        g = np.array(g).reshape(-1, 4); gts.append(g)
        dd = [list(b + rng.normal(0, 4, 4)) + [rng.uniform()] for b in g if rng.random() < 0.8]
        dd += [[*(lambda x, y: (x, y, x + 30, y + 30))(*rng.uniform(0, 200, 2)), rng.uniform(0, 0.7)] for _ in range(rng.integers(0, 3))]
        dets.append(np.array(dd).reshape(-1, 5))
    from make_evaluation_fixtures import coco_ap50
    ref = coco_ap50(dets, gts)
    assert abs(metrics.detection_map50(dets, gts) - ref) < 1e-9

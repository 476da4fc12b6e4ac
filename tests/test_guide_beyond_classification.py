"""The beyond-classification guide's code runs as written, in order
(docs/guides/beyond-classification.md), on its own tiny models and data."""

import pathlib
import re
import textwrap

import numpy as np
import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs/guides/beyond-classification.md"


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```", GUIDE.read_text(), re.M | re.S)
    namespace = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("guide"))
        for _, code in blocks:
            exec(compile(textwrap.dedent(code), GUIDE.name, "exec"), namespace)
    return namespace


def test_the_segmentation_steps_run_and_report_per_pixel(guide):
    assert sorted(guide["history"].history) == ["accuracy", "kd_loss", "loss", "task_loss"]
    report = guide["report"]
    assert report.micro_error is None
    assert 0 <= report.litert_mean_iou <= 1 and 0 <= report.micro_mean_iou <= 1


def test_the_sequence_steps_run_and_measure_bits_per_character(guide):
    from keras_kd.evaluation import bits_per_character

    bpc = bits_per_character(guide["logits"], guide["y_seq"], mask=guide["y_seq"] != 0)
    assert 0 < bpc < 2 * np.log2(guide["VOCAB"])
    assert guide["gkd"].beta == 1.0


def test_the_detector_steps_train_both_heads_and_export_them(guide):
    logged = set(guide["det_history"].history)
    assert logged == {"boxes_mae", "classes_accuracy", "kd_loss", "loss", "task_loss"}
    report = guide["det_report"]
    assert set(report.output_max_abs_diff) == {"classes", "boxes"}
    assert report.micro_error is None and report.litert_agreement > 0.9

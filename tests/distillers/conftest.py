"""Model pairs with logits per position, built once per test module."""

import keras
import pytest

from tests.helpers import segmenter, tagger


@pytest.fixture(scope="module")
def seg_pair():
    """A segmentation student and teacher: (8, 8, 3) images -> per-pixel logits."""
    keras.utils.set_random_seed(0)
    return segmenter("seg_student", 4), segmenter("seg_teacher", 8)


@pytest.fixture(scope="module")
def seq_pair():
    """A masked token student and a confident teacher: per-token logits."""
    keras.utils.set_random_seed(1)
    student, teacher = tagger("seq_student", 6), tagger("seq_teacher", 12)
    kernel = teacher.get_layer("logits").kernel
    kernel.assign(kernel * 20.0)  # terms far from float32 rounding
    return student, teacher

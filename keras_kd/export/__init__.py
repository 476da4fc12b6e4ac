"""Export a student to TFLite and check it in LiteRT and TFLite-Micro."""

import numpy as np

from keras_kd import labels
from keras_kd._checks import one_of
from keras_kd._io import atomic_path
from keras_kd.export.convert import QUANTIZATIONS, convert, deployable_model, float32_model
from keras_kd.export.inputs import (
    check_path,
    check_samples_count,
    input_shape,
    labelled,
    representative_images,
)
from keras_kd.export.litert import op_names, quantize_input, run_litert
from keras_kd.export.micro import KNOWN_UNSUPPORTED_OPS, MicroError, run_micro
from keras_kd.export.report import ExportReport

CHECK_SAMPLES = 1000


def _agreement(outputs, expected):
    """Fraction of samples whose predicted class (binary: logit > 0) is ``expected``."""
    return float(np.mean(labels.predicted_indices(outputs) == expected))


def to_tflite(
    model,
    path,
    *,
    quantization=None,
    representative_data=None,
    check_data=None,
    check_samples=CHECK_SAMPLES,
):
    """Converts a Keras model (or a distiller's student) to a checked ``.tflite`` file.

    Built-in TFLite ops only, batch size 1. The file is written atomically.
    With ``check_data`` the file runs in the LiteRT interpreter and, for
    ``"int8"``, in the TFLite-Micro interpreter (in a subprocess), and the
    report compares both with the Keras model. A model that computes in
    float16 (``mixed_float16`` policy) is converted through a float32 copy.
    Arguments are checked before anything is converted, and nothing is
    written when they are refused.

    Args:
        model: a plain Keras model or a keras_kd distiller (its deployable
            student is exported; never the teacher or adapters).
        path: output ``.tflite`` path.
        quantization: None (float32), ``"float16"``, ``"dynamic"`` or ``"int8"``.
        representative_data: calibration images (array, (x, y) pair or dataset),
            required for ``"int8"``.
        check_data: labelled data (``(x, y)`` or a dataset of pairs) to
            measure accuracies on.
        check_samples: how many samples of ``check_data`` to use (the first
            ones; default 1,000; None for all). Keras, LiteRT and TFLite-Micro
            accuracies are all measured on the same samples.

    Returns:
        An `ExportReport`.

    Raises:
        ValueError: bad arguments (among them a folder as ``path``, images of
            another shape than the model's input, check images and labels of
            different lengths, ``check_samples`` < 1), ops without TFLite
            built-in kernels, or a converted file that gives non-finite outputs.

    Example:
        >>> report = to_tflite(distiller, "student.tflite", quantization="int8",
        ...                    representative_data=train_images, check_data=(x, y))
        >>> print(report.as_table())
    """
    model = deployable_model(model)
    one_of("quantization", quantization, QUANTIZATIONS)
    check_path(path)
    shape = input_shape(model)
    calibration = None
    if representative_data is not None:
        calibration = representative_images(representative_data, shape)
    if check_data is None:
        smoke = calibration[:1] if calibration is not None else None
        if smoke is None:
            smoke = np.random.default_rng(0).uniform(0, 255, (1, *shape))
        x, y = smoke.astype(np.float32), None
    else:
        x, y = labelled(check_data, shape, check_samples_count(check_samples))
    model_bytes = convert(float32_model(model), quantization, calibration)
    ops = op_names(model_bytes)
    report = ExportReport(
        path=str(path),
        quantization=quantization or "float32",
        size_bytes=len(model_bytes),
        ops=[op for op in ops if op != "DELEGATE"],
        micro_unsupported_ops=sorted(set(ops) & KNOWN_UNSUPPORTED_OPS),
    )
    keras_out = np.asarray(model.predict(x, batch_size=256, verbose=0), np.float32)
    litert_out, input_detail, _ = run_litert(model_bytes, x)
    if not np.all(np.isfinite(litert_out)):
        raise ValueError(
            f"The converted model gives non-finite outputs in LiteRT; the file was not "
            f"written. Received: model={model.name!r}, quantization={quantization!r}"
        )
    report.samples = len(x)
    report.max_abs_diff = float(np.max(np.abs(litert_out - keras_out)))
    keras_classes = labels.predicted_indices(keras_out)
    report.litert_agreement = _agreement(litert_out, keras_classes)
    if y is not None:
        y = labels.label_indices(y, keras_out.shape[-1])
        report.keras_accuracy = _agreement(keras_out, y)
        report.litert_accuracy = _agreement(litert_out, y)
    if quantization == "int8":
        try:
            raw, report.arena_bytes = run_micro(model_bytes, quantize_input(x, input_detail))
            micro_out = raw.reshape(litert_out.shape)
            report.micro_agreement = _agreement(micro_out, keras_classes)
            if y is not None:
                report.micro_accuracy = _agreement(micro_out, y)
        except MicroError as err:
            report.micro_error = str(err)
    with atomic_path(path, suffix=".tflite") as tmp:
        with open(tmp, "wb") as f:
            f.write(model_bytes)
    return report


__all__ = ["QUANTIZATIONS", "ExportReport", "to_tflite"]

"""Export a student to TFLite and check it in LiteRT and TFLite-Micro."""

import numpy as np
import tensorflow as tf

from keras_kd._io import atomic_path
from keras_kd.export.convert import QUANTIZATIONS, convert, deployable_model, representative_images
from keras_kd.export.litert import op_names, quantize_input, run_litert
from keras_kd.export.micro import KNOWN_UNSUPPORTED_OPS, MicroError, run_micro
from keras_kd.export.report import ExportReport

CHECK_SAMPLES = 1000


def _labelled(check_data, limit=CHECK_SAMPLES):
    """``(images, labels)`` arrays from (x, y) arrays or a dataset of pairs."""
    if isinstance(check_data, tf.data.Dataset):
        xs, ys = [], []
        for x, y in check_data:
            x, y = np.asarray(x, np.float32), np.asarray(y)
            xs.append(x if x.ndim == 4 else x[None])
            ys.append(y.reshape(len(xs[-1]), -1) if y.ndim > 1 or x.ndim == 4 else y.reshape(1, -1))
        if not xs:
            raise ValueError("`check_data` must not be empty. Received: an empty dataset")
        x, y = np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]  # limit None: all
    else:
        if not isinstance(check_data, tuple | list) or len(check_data) != 2:
            raise ValueError(
                "`check_data` must be an (images, labels) pair or a dataset of pairs. "
                f"Received: check_data of type {type(check_data).__name__}"
            )
        x, y = np.asarray(check_data[0], np.float32)[:limit], np.asarray(check_data[1])[:limit]
    y = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(-1)
    return x, y.astype(np.int64)


def _accuracy(outputs, labels):
    return float(np.mean(outputs.argmax(-1) == labels))


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
    report compares both with the Keras model.

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
        ValueError: bad arguments, ops without TFLite built-in kernels, or a
            converted file that gives non-finite outputs.

    Example:
        >>> report = to_tflite(distiller, "student.tflite", quantization="int8",
        ...                    representative_data=train_images, check_data=(x, y))
        >>> print(report.as_table())
    """
    model = deployable_model(model)
    model_bytes = convert(model, quantization, representative_data)
    ops = op_names(model_bytes)
    report = ExportReport(
        path=str(path),
        quantization=quantization or "float32",
        size_bytes=len(model_bytes),
        ops=[op for op in ops if op != "DELEGATE"],
        micro_unsupported_ops=sorted(set(ops) & KNOWN_UNSUPPORTED_OPS),
    )
    if check_data is None:
        smoke = (
            representative_images(representative_data)[:1]
            if representative_data is not None
            else None
        )
        if smoke is None:
            smoke = np.random.default_rng(0).uniform(0, 255, (1, *model.inputs[0].shape[1:]))
        x, y = smoke.astype(np.float32), None
    else:
        x, y = _labelled(check_data, check_samples)
    keras_out = np.asarray(model.predict(x, batch_size=256, verbose=0), np.float32)
    litert_out, input_detail, _ = run_litert(model_bytes, x)
    if not np.all(np.isfinite(litert_out)):
        raise ValueError(
            f"The converted model gives non-finite outputs in LiteRT; the file was not "
            f"written. Received: model={model.name!r}, quantization={quantization!r}"
        )
    report.samples = len(x)
    report.max_abs_diff = float(np.max(np.abs(litert_out - keras_out)))
    report.litert_agreement = float(np.mean(litert_out.argmax(-1) == keras_out.argmax(-1)))
    if y is not None:
        report.keras_accuracy = _accuracy(keras_out, y)
        report.litert_accuracy = _accuracy(litert_out, y)
    if quantization == "int8":
        try:
            raw, report.arena_bytes = run_micro(model_bytes, quantize_input(x, input_detail))
            micro_out = raw.reshape(litert_out.shape)
            report.micro_agreement = float(np.mean(micro_out.argmax(-1) == keras_out.argmax(-1)))
            if y is not None:
                report.micro_accuracy = _accuracy(micro_out, y)
        except MicroError as err:
            report.micro_error = str(err)
    with atomic_path(path, suffix=".tflite") as tmp:
        with open(tmp, "wb") as f:
            f.write(model_bytes)
    return report


__all__ = ["QUANTIZATIONS", "ExportReport", "to_tflite"]

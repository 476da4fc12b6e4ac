"""Export a student to TFLite and check it in LiteRT and TFLite-Micro.

`to_tflite` converts and checks one file and returns an `ExportReport`;
`write_firmware_files` turns a ``.tflite`` file into the C array and op
resolver a TFLite-Micro firmware compiles in. The ``keras-kd export`` command
runs both (the second with ``--target mcu``).
"""

import numbers

import numpy as np

from keras_kd import labels
from keras_kd._checks import one_of
from keras_kd._io import atomic_path
from keras_kd._progress import resolve_verbose, say
from keras_kd.evaluation import mean_iou
from keras_kd.export.convert import (
    QUANTIZATIONS,
    check_int8_supported,
    convert,
    deployable_model,
    float32_model,
)
from keras_kd.export.firmware import FirmwareFiles, write_firmware_files
from keras_kd.export.inputs import (
    check_path,
    check_samples_count,
    input_specs,
    labelled_inputs,
    model_inputs,
    representative_inputs,
)
from keras_kd.export.litert import (
    dequantize_output,
    file_positions,
    litert_ends_the_process,
    op_names,
    output_position,
    quantization_parameters,
    quantize_input,
    run_litert,
)
from keras_kd.export.micro import KNOWN_UNSUPPORTED_OPS, MicroError, run_micro
from keras_kd.export.report import ExportAgreementError, ExportReport
from keras_kd.features import logits_tensor, named_outputs, output_structure

CHECK_SAMPLES = 1000
# The least top-1 agreement with Keras a file may have on the check samples.
# Well above what a broken conversion gives (int8 token ids quantized as
# floats: 58-77%), well below what sound ones do (float32: 100%; int8 CIFAR
# students: ~99%; tiny int8 test models: >= 94%).
MIN_AGREEMENT = 0.9


def _check_min_agreement(min_agreement):
    if min_agreement is None:
        return None
    if (
        isinstance(min_agreement, bool)
        or not isinstance(min_agreement, numbers.Real)
        or not 0 <= min_agreement <= 1
    ):
        raise ValueError(
            "`min_agreement` must be a number between 0 and 1 (the least fraction of check "
            "samples on which the file must predict the Keras model's class), or None to "
            f"write the file whatever it agrees on. Received: min_agreement={min_agreement!r}"
        )
    return float(min_agreement)


# A float file's logits differ from Keras's by rounding: float16 weights by about
# 1e-3 of the logits' size. A sample whose top two Keras logits are closer than
# that (or than one int8 output step) has no class a file could be expected to keep.
FLOAT_RESOLUTION = 1e-3


def _decisive(keras_out, output_quantization):
    """Which samples have a clear Keras class: the top logit leads the next (a single
    logit: zero) by more than one step of the file's output (int8: its scale; float:
    `FLOAT_RESOLUTION` of the largest logit)."""
    if output_quantization is not None:
        resolution = output_quantization[0]
    else:
        resolution = FLOAT_RESOLUTION * float(np.max(np.abs(keras_out), initial=0.0))
    if keras_out.shape[-1] == 1:
        margin = np.abs(keras_out[..., 0])
    else:
        top = np.sort(keras_out, axis=-1)
        margin = top[..., -1] - top[..., -2]
    return margin > resolution


CONFIDENCE_Z = 1.96  # a two-sided 95% interval


def _upper_bound(agreement, count):
    """The upper end of the Wilson score interval of an agreement on ``count`` samples.

    One flipped sample of 8 is 87.5% agreement; a file is refused only when
    its agreement is below ``min_agreement`` beyond sampling noise (7 of 8:
    at most 98%, kept; 0 of 8: at most 32%, refused; 77% of 200: at most 82%).
    """
    z2 = CONFIDENCE_Z**2
    centre = agreement + z2 / (2 * count)
    spread = CONFIDENCE_Z * np.sqrt(agreement * (1 - agreement) / count + z2 / (4 * count**2))
    return float((centre + spread) / (1 + z2 / count))


def _counted(weights, shape):
    """The samples or positions of nonzero weight, as a mask of ``shape`` (None: all)."""
    if weights is None:
        return None
    return np.broadcast_to(
        weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim)) > 0, shape
    )


def _refuse_disagreement(report, where, file_out, keras_classes, decisive, min_agreement, model):
    """Raises `ExportAgreementError` when the file keeps the Keras class on fewer
    than ``min_agreement`` of the ``decisive`` samples (none decisive: no verdict)."""
    if min_agreement is None or not np.any(decisive):
        return
    kept = labels.predicted_indices(file_out) == keras_classes
    count = int(np.sum(decisive))
    agreement = float(np.mean(kept[decisive]))
    upper = _upper_bound(agreement, count)
    if upper >= min_agreement:
        return
    if report.quantization == "int8":
        advice = (
            "Calibrate on representative_data drawn from the training data (about 200 "
            "samples, preprocessed as the model's inputs), or export with "
            "quantization='float16' or 'dynamic', which keep float activations"
        )
    else:
        advice = (
            "A float conversion should agree on (nearly) every sample: check that check_data "
            "is preprocessed as the model's inputs; if it is, report the model as a bug"
        )
    raise ExportAgreementError(
        f"The converted model agrees with the Keras model on {agreement:.1%} of the "
        f"{count} check samples (of {report.samples}) with a clear Keras class, in {where} "
        f"(top-1 class; at most {upper:.1%} at 95% confidence), under "
        f"min_agreement={min_agreement:g}; the file was not written. "
        f"{advice}. To write it anyway, pass min_agreement=None (the error's `report` holds "
        f"what was measured). Received: model={model.name!r}, "
        f"quantization={report.quantization!r}, min_agreement={min_agreement!r}",
        report,
    )


def _agreement(outputs, expected, counted=None):
    """Fraction of samples (positions) whose predicted class (binary: logit > 0) is
    ``expected``, over the ``counted`` ones (all when None)."""
    kept = labels.predicted_indices(outputs) == expected
    return float(np.mean(kept if counted is None else kept[counted]))


def _mean_iou(outputs, expected, counted=None):
    """Mean IoU of the per-position predicted classes against ``expected``."""
    predicted = labels.predicted_indices(outputs)
    if counted is not None:
        predicted, expected = predicted[counted], expected[counted]
    return mean_iou(expected, predicted, outputs.shape[-1])


def _largest_moving_variance(model):
    values = [
        float(np.max(v.numpy()))
        for v in model.weights
        if v.path.endswith("moving_variance") and v.numpy().size
    ]
    return max(values, default=0.0)


def _file_output_names(model):
    """``{output name: the file's signature name}`` for a model with several
    outputs (a dict output keeps its keys, a list's are ``output_0``, ...)."""
    names = list(named_outputs(model))
    if isinstance(output_structure(model), dict):
        return {name: name for name in names}
    return {name: f"output_{i}" for i, name in enumerate(names)}


def _logits_output(model, logits_output):
    """The name of the output holding the logits (None for one output), checked."""
    several = isinstance(output_structure(model), dict) or len(model.outputs) > 1
    if logits_output is None and not several:
        return None
    logits_tensor(model, logits_output, "model")  # raises, naming the outputs
    return logits_output


def _in_order(outputs, names):
    """A model's outputs (a dict, or a list in output order) in the order of ``names``."""
    if isinstance(outputs, dict):
        return [outputs[name] for name in names]
    return list(outputs)


def to_tflite(
    model,
    path,
    *,
    quantization=None,
    representative_data=None,
    check_data=None,
    check_samples=CHECK_SAMPLES,
    min_agreement=MIN_AGREEMENT,
    logits_output=None,
    verbose="auto",
):
    """Converts a Keras model (or a distiller's student) to a checked ``.tflite`` file.

    Built-in TFLite ops only, batch size 1. The file is written atomically.
    With ``check_data`` the file runs in the LiteRT interpreter and, for
    ``"int8"``, in the TFLite-Micro interpreter (in a subprocess), and the
    report compares both with the Keras model. A model that computes in
    float16 (``mixed_float16`` policy) is converted through a float32 copy.
    Arguments are checked before anything is converted, and nothing is
    written when they are refused, nor when the file predicts other classes
    than the Keras model on more check samples than ``min_agreement`` allows.

    A model whose logits have positions, ``(n, H, W, C)`` (segmentation) or
    ``(n, T, C)``, is checked per position: ``check_data`` labels are one
    class per position (`keras_kd.labels`), accuracies and agreements are
    fractions of positions (pixels), ``min_agreement`` applies to positions,
    and the report adds the mean IoU (`keras_kd.evaluation.mean_iou`) of
    Keras, LiteRT and TFLite-Micro against the labels.

    Integer inputs (token ids into an ``Embedding``) stay integer in every
    mode: the file's input is int32 (or int64) as the model's, fed the ids
    as they are, and with ``"int8"`` only float inputs are quantized.
    Recurrent layers (LSTM, GRU, SimpleRNN, nested or wrapped) that are not
    unrolled are refused for ``"int8"`` before anything runs: TensorFlow's
    int8 calibrator crashes the process on them; float16 and dynamic range
    convert them, and so does int8 with ``unroll=True``.

    A model with several outputs (a detector's class and box heads) is
    exported whole; ``logits_output`` names the one whose classes are
    checked (a distiller's own is taken by default), ``check_data`` labels
    are that output's, and the report adds every output's largest LiteRT
    difference from Keras (``output_max_abs_diff``).

    A model with several inputs takes x as a dict of arrays keyed by input
    name (a dict-input model's keys, else the inputs' names) or, when built
    on a list of inputs, as a list or tuple of arrays matched by position.
    The file's inputs keep those names and are fed by name (the converter
    orders them as it likes); with ``"int8"`` each input has its own scale
    and zero point, and TFLite-Micro is fed every input.

    Args:
        model: a plain Keras model or a keras_kd distiller (its deployable
            student is exported; never the teacher or adapters).
        path: output ``.tflite`` path.
        quantization: None (float32), ``"float16"``, ``"dynamic"`` or ``"int8"``.
        representative_data: calibration images (array, (x, y) pair or dataset),
            required for ``"int8"``; for several inputs, x (a list/tuple or
            dict of arrays), an (x, y) pair, or a dataset of either. The
            first 200 samples calibrate the activation ranges.
        check_data: labelled data (``(x, y)`` or a dataset of pairs) to
            measure accuracies on; for several inputs, x is a list/tuple or a
            dict of arrays. For one input, ``(x, y, sample_weight)`` (or a
            dataset of triples) leaves the samples or positions of weight 0
            out of every accuracy, agreement and mean IoU (a sequence's padding).
        check_samples: how many samples of ``check_data`` to use (the first
            ones; default 1,000; None for all). Keras, LiteRT and TFLite-Micro
            accuracies are all measured on the same samples.
        min_agreement: the least fraction (0 to 1; default 0.9) of the
            ``check_data`` samples on which LiteRT, and for ``"int8"``
            TFLite-Micro, must give the Keras model's top-1 class; under it
            `ExportAgreementError` is raised and nothing is written. The
            agreement must be below it beyond sampling noise (the upper end
            of its 95% Wilson interval: 7 of 8 samples passes 0.9, 0 of 8
            and 154 of 200 do not). Only samples with a clear Keras class
            count: its top two logits (a
            single logit: the logit and 0) differ by more than one step of
            the file's output (the int8 output scale; for a float output,
            1e-3 of the largest logit), as no file can be held to a tie (an
            untrained MobileNetV2's logits are all about 1e-9). None writes
            the file whatever it agrees on. Without ``check_data`` one
            sample is run (to see that the file runs), and no agreement is
            required of it.
        logits_output: for a model with several outputs, the name of the one
            holding the logits (a dict output's key, or the output layer's
            name); a distiller's ``logits_output`` by default.
        verbose: progress of the conversion, the ``int8 calibration`` and the
            ``LiteRT check`` and ``TFLite-Micro check`` stages: 0 (silent), 1
            (a progress bar per stage), 2 (one line per stage, e.g.
            ``LiteRT check 1000/1000 - 4s - 4ms/image``) or ``"auto"``: 1 on
            a terminal, else (a log, or ``CI`` set) 2.

    Returns:
        An `ExportReport`.

    Raises:
        ValueError: bad arguments (among them a folder as ``path``, images of
            another shape than the model's input, an input of another shape
            than the model's or a missing one (the input is named), check
            images and labels of different lengths, ``check_samples`` < 1),
            a model whose inputs are nested deeper than a list or a dict, ops
            without TFLite built-in kernels, non-integer values for an integer
            input, ``"int8"`` for a model with recurrent layers that are not
            unrolled, a ``min_agreement`` outside [0, 1], a converted
            file that gives non-finite outputs, or an int8 file on which
            LiteRT aborts (checked in a child process first, so that the
            abort does not end the caller's process).
        ExportAgreementError: the file agrees with the Keras model on fewer
            than ``min_agreement`` of the check samples (a `ValueError`).

    Example:
        ```python
        report = to_tflite(distiller, "student.tflite", quantization="int8",
                           representative_data=train.take(2), check_data=(x_val, y_val))
        print(report.as_table())
        write_firmware_files("student.tflite")  # student.cc, .h, _op_resolver.h
        to_tflite(image_and_metadata_model, "two_inputs.tflite",
                  check_data=({"image": images, "meta": metadata}, y))
        ```
    """
    if logits_output is None:
        logits_output = getattr(model, "logits_output", None)
    model = deployable_model(model)
    logits_output = _logits_output(model, logits_output)
    one_of("quantization", quantization, QUANTIZATIONS)
    min_agreement = _check_min_agreement(min_agreement)
    if quantization == "int8":
        check_int8_supported(model)
    verbose = resolve_verbose(verbose)
    check_path(path)
    specs = input_specs(model)
    single = len(specs) == 1
    calibration = None
    if representative_data is not None:
        calibration = representative_inputs(representative_data, specs)
    if check_data is None:
        if calibration is not None:
            x = [array[:1] for array in calibration]
        else:  # a random image; token id 0 (valid for any vocabulary) for an integer input
            rng = np.random.default_rng(0)
            shapes = [(1, *spec.shape) for spec in specs]
            x = [
                np.zeros(shape) if spec.integer else rng.uniform(0, 255, shape)
                for spec, shape in zip(specs, shapes, strict=True)
            ]
        x = [array.astype(spec.dtype) for array, spec in zip(x, specs, strict=True)]
        y = weights = None
    else:
        x, y, weights = labelled_inputs(check_data, specs, check_samples_count(check_samples))
        logits_shape = tuple(logits_tensor(model, logits_output, "model").shape)
        labels.check_label_array(
            y, logits_shape[-1], argument="check_data", positions=logits_shape[1:-1]
        )
    if calibration is not None:
        calibration = model_inputs(specs, calibration)  # as the model takes it
    say(f"TFLite conversion of {model.name!r} ({quantization or 'float32'})", verbose)
    model_bytes = convert(float32_model(model), quantization, calibration, verbose)
    ops = op_names(model_bytes)
    report = ExportReport(
        path=str(path),
        quantization=quantization or "float32",
        size_bytes=len(model_bytes),
        ops=[op for op in ops if op != "DELEGATE"],
        micro_unsupported_ops=sorted(set(ops) & KNOWN_UNSUPPORTED_OPS),
    )
    if quantization == "int8":
        ended = litert_ends_the_process(model_bytes)
        if ended is not None:
            raise ValueError(
                "LiteRT could not run the converted int8 file: loading it ended a child "
                f"process with {ended}, so the check was not run here and the file was not "
                "written. LiteRT aborts so on int8 files whose scales it cannot represent, "
                "e.g. a model whose training diverged (BatchNorm moving variances of "
                f"{_largest_moving_variance(model):.3g} at most here); float16 and dynamic "
                f"range may still convert it. Received: model={model.name!r}, quantization='int8'"
            )
    keras_x = model_inputs(specs, x)
    keras_out = model.predict(keras_x, batch_size=256, verbose=0)
    file_names = None if logits_output is None else _file_output_names(model)
    litert_out, input_details, output_detail = run_litert(
        model_bytes,
        x[0] if single else x,
        None if single else [spec.name for spec in specs],
        verbose,
        None if file_names is None else list(file_names.values()),
    )
    if single:
        input_details = [input_details]
    if file_names is not None:  # several outputs: the logits are checked, all are compared
        keras_out = dict(zip(file_names, _in_order(keras_out, file_names), strict=True))
        report.output_max_abs_diff = {
            name: float(np.max(np.abs(litert_out[key] - keras_out[name])))
            for name, key in file_names.items()
        }
        key = file_names[logits_output]
        report.logits_output = logits_output
        keras_out, litert_out, output_detail = (
            keras_out[logits_output],
            litert_out[key],
            output_detail[key],
        )
    keras_out = np.asarray(keras_out, np.float32)
    report.input_quantization = [quantization_parameters(detail) for detail in input_details]
    report.output_quantization = quantization_parameters(output_detail)
    if not np.all(np.isfinite(litert_out)):
        raise ValueError(
            f"The converted model gives non-finite outputs in LiteRT; the file was not "
            f"written. Received: model={model.name!r}, quantization={quantization!r}"
        )
    report.samples = len(x[0])
    report.max_abs_diff = float(np.max(np.abs(litert_out - keras_out)))
    keras_classes = labels.predicted_indices(keras_out)
    counted = _counted(weights, keras_classes.shape)
    report.litert_agreement = _agreement(litert_out, keras_classes, counted)
    per_position = keras_out.ndim > 2 and keras_out.shape[-1] > 1
    if y is not None:
        y = labels.label_indices(y, keras_out.shape[-1], keras_out.ndim)
        report.keras_accuracy = _agreement(keras_out, y, counted)
        report.litert_accuracy = _agreement(litert_out, y, counted)
        if per_position:
            report.keras_mean_iou = _mean_iou(keras_out, y, counted)
            report.litert_mean_iou = _mean_iou(litert_out, y, counted)
    if check_data is None:
        min_agreement = None  # one sample, to see that the file runs
    decisive = _decisive(keras_out, report.output_quantization)
    if counted is not None:
        decisive = decisive & counted
    _refuse_disagreement(
        report, "LiteRT", litert_out, keras_classes, decisive, min_agreement, model
    )
    if quantization == "int8":
        quantized = [
            quantize_input(array, detail) for array, detail in zip(x, input_details, strict=True)
        ]
        if single:
            micro_inputs = quantized[0]
        else:  # TFLite-Micro takes inputs by position in the file
            micro_inputs = [None] * len(quantized)
            for position, array in zip(
                file_positions(model_bytes, input_details), quantized, strict=True
            ):
                micro_inputs[position] = array
        micro_out = None
        try:
            position = output_position(model_bytes, output_detail)
            raw, report.arena_bytes = run_micro(model_bytes, micro_inputs, verbose, position)
            # dequantized: a single logit's sign is not the raw int8's (zero point)
            micro_out = dequantize_output(raw, output_detail).reshape(litert_out.shape)
            report.micro_agreement = _agreement(micro_out, keras_classes, counted)
            if y is not None:
                report.micro_accuracy = _agreement(micro_out, y, counted)
                if per_position:
                    report.micro_mean_iou = _mean_iou(micro_out, y, counted)
        except MicroError as err:
            report.micro_error = str(err)
        if micro_out is not None:
            _refuse_disagreement(
                report, "TFLite-Micro", micro_out, keras_classes, decisive, min_agreement, model
            )
    with atomic_path(path, suffix=".tflite") as tmp:
        with open(tmp, "wb") as f:
            f.write(model_bytes)
    return report


__all__ = [
    "MIN_AGREEMENT",
    "ExportAgreementError",
    "QUANTIZATIONS",
    "ExportReport",
    "FirmwareFiles",
    "to_tflite",
    "write_firmware_files",
]

"""Running a .tflite model in the LiteRT interpreter (ai_edge_litert)."""

import os
import subprocess
import sys
import tempfile

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from keras_kd._progress import Progress


def quantize_input(x, detail):
    """Inputs in the model's input type: float32 as is, int8 with its scale and
    zero point, and an unquantized integer input (token ids) as integers."""
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zero_point = detail["quantization"]
    if scale == 0:  # an integer input the converter left unquantized
        return np.asarray(x).astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def dequantize_output(y, detail):
    """Model outputs back to float32 (int8 outputs use their scale/zero point)."""
    if detail["dtype"] == np.float32:
        return y.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return (y.astype(np.float32) - zero_point) * scale


def op_names(model_bytes):
    """The builtin op names of the model, in execution order."""
    interpreter = Interpreter(model_content=model_bytes)
    return [op["op_name"] for op in interpreter._get_ops_details()]


def _details(interpreter, names, kind="input"):
    """The file's input (or output) details for ``names``, in that order, found by
    signature name.

    The converter may order a model's inputs and outputs otherwise than the
    model does (in an order of its own, neither the model's nor by name), so
    they are matched by the names the file's signature gives them, never by
    position. ``names=None`` takes the file's in order.
    """
    details = getattr(interpreter, f"get_{kind}_details")()
    if names is None:
        return details
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise ValueError(
            f"The converted model must have one signature to match its {kind}s by name. "
            f"Received: a model with signatures {sorted(signatures)}"
        )
    runner = interpreter.get_signature_runner(next(iter(signatures)))
    by_name = getattr(runner, f"get_{kind}_details")()
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ValueError(
            f"The converted model has no {kind} named {missing}; its {kind}s are "
            f"{sorted(by_name)}. Received: names={list(names)}"
        )
    by_index = {detail["index"]: detail for detail in details}
    return [by_index[by_name[name]["index"]] for name in names]


def output_position(model_bytes, detail):
    """The position of the output ``detail`` among the file's outputs (the index
    TFLite-Micro reads it by)."""
    interpreter = Interpreter(model_content=model_bytes)
    return [d["index"] for d in interpreter.get_output_details()].index(detail["index"])


def file_positions(model_bytes, details):
    """The position of each of ``details`` among the file's inputs (TFLite-Micro
    addresses inputs by position)."""
    indices = [
        detail["index"] for detail in Interpreter(model_content=model_bytes).get_input_details()
    ]
    return [indices.index(detail["index"]) for detail in details]


# Loads a .tflite file and allocates its tensors (where LiteRT aborts).
_PROBE = """
import sys
from ai_edge_litert.interpreter import Interpreter
Interpreter(model_path=sys.argv[1]).allocate_tensors()
"""
PROBE_TIMEOUT_SECONDS = 600


def probe_command(path):
    """The child process `litert_ends_the_process` runs on the file at ``path``."""
    return [sys.executable, "-c", _PROBE, path]


def litert_ends_the_process(model_bytes):
    """Loads the file and allocates its tensors in a child process.

    LiteRT's kernels abort the whole process (SIGABRT, no Python exception)
    while preparing some int8 files, e.g. that of a student whose training
    diverged (BatchNorm variances near 1e9): run in this process, the check
    would take the caller's process (a benchmark, a notebook) down with it.

    Args:
        model_bytes: the ``.tflite`` bytes.

    Returns:
        None when the child ran the file, else a sentence saying how it ended
        (its exit status or signal, and the last line it printed).
    """
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.tflite")
        with open(path, "wb") as f:
            f.write(model_bytes)
        try:
            done = subprocess.run(
                probe_command(path), capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            return f"it did not finish in {PROBE_TIMEOUT_SECONDS} s"
    if done.returncode == 0:
        return None
    how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return how + (f" ({lines[-1].strip()})" if lines else "")


def run_litert(model_bytes, images, names=None, verbose=0, output_names=None):
    """Runs each sample (batch 1) through LiteRT; returns float32 outputs (N, ...).

    Args:
        model_bytes: the ``.tflite`` bytes.
        images: an array of samples for a one-input model, or a list of arrays,
            one per model input.
        names: with a list, the signature name of each input, to match the
            arrays to the file's inputs; None takes the file's inputs in order.
        verbose: progress of the ``LiteRT check`` stage: ``"auto"``, 0, 1 or 2.
        output_names: the signature names of the outputs to return, for a
            file with several; None returns the file's first output.

    Returns:
        ``(outputs, input_detail, output_detail)``; with a list of arrays,
        ``input_detail`` is the list of the matched inputs' details, in order;
        with ``output_names``, ``outputs`` and ``output_detail`` are dicts
        keyed by those names.
    """
    interpreter = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=False)
    interpreter.allocate_tensors()
    several = isinstance(images, list | tuple)
    arrays = list(images) if several else [images]
    input_details = _details(interpreter, names)
    if not several:
        input_details = input_details[:1]
    elif len(input_details) != len(arrays):
        raise ValueError(
            f"`images` must give one array per model input ({len(input_details)}). "
            f"Received: images with {len(arrays)} arrays"
        )
    keys = output_names or [None]
    output_details = _details(interpreter, output_names, "output")[: len(keys)]
    outputs = {key: [] for key in keys}
    progress = Progress("LiteRT check", len(arrays[0]), verbose, "image")
    for i in range(len(arrays[0])):
        for array, detail in zip(arrays, input_details, strict=True):
            interpreter.set_tensor(detail["index"], quantize_input(array[i : i + 1], detail))
        interpreter.invoke()
        for key, detail in zip(keys, output_details, strict=True):
            outputs[key].append(dequantize_output(interpreter.get_tensor(detail["index"]), detail))
        progress.update(i + 1)
    progress.close()
    outputs = {key: np.concatenate(parts) for key, parts in outputs.items()}
    inputs = input_details if several else input_details[0]
    if output_names is None:
        return outputs[None], inputs, output_details[0]
    return outputs, inputs, dict(zip(keys, output_details, strict=True))


def quantization_parameters(detail):
    """``(scale, zero_point)`` of a quantized (int8) tensor's details; None for a
    float32 tensor or an unquantized integer one (token ids, fed as they are)."""
    if detail["dtype"] == np.float32:
        return None
    scale, zero_point = detail["quantization"]
    if scale == 0:
        return None
    return float(scale), int(zero_point)


def file_inputs(model_bytes):
    """``(name, detail)`` of each input of the file, in the file's order.

    TFLite-Micro addresses inputs by this position. The name is the input's
    signature name (the model's input name) when the file has one signature,
    else the tensor's name.
    """
    interpreter = Interpreter(model_content=model_bytes)
    details = interpreter.get_input_details()
    names = {detail["index"]: detail["name"] for detail in details}
    signatures = interpreter.get_signature_list()
    if len(signatures) == 1:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        names.update({d["index"]: name for name, d in runner.get_input_details().items()})
    return [(names[detail["index"]], detail) for detail in details]


def io_quantization(model_bytes):
    """The quantization of the file's inputs and of its first output.

    Returns:
        ``(inputs, output)``: ``inputs`` lists ``(name, (scale, zero_point))``
        for each input in the file's order, ``output`` is ``(scale,
        zero_point)``; a float32 tensor has None instead of the pair.
    """
    interpreter = Interpreter(model_content=model_bytes)
    inputs = [(name, quantization_parameters(d)) for name, d in file_inputs(model_bytes)]
    return inputs, quantization_parameters(interpreter.get_output_details()[0])

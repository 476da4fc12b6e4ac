"""Files a TFLite-Micro firmware compiles in: the model as a C array and its op resolver.

A microcontroller has no file system: the ``.tflite`` bytes are compiled into
the firmware as a constant array, and the interpreter's
``tflite::MicroMutableOpResolver<N>`` must register every builtin op the model
uses (and the template argument ``N`` must be at least their count). From one
``.tflite`` file, `write_firmware_files` writes

- ``NAME.cc``: ``alignas(16) const unsigned char g_model[] = {...};`` and
  ``const int g_model_len = N;`` (the layout of ``xxd -i``, aligned to the 16
  bytes TFLite-Micro reads the flatbuffer with);
- ``NAME.h``: their declarations and, for an int8 model, the input and output
  scale and zero point;
- ``NAME_op_resolver.h``: the op count and a function that registers each op
  (``resolver.AddConv2D()``, ...).
"""

import dataclasses
import os
import re

import numpy as np

from keras_kd._io import atomic_path
from keras_kd.export.litert import io_quantization, op_names

BYTES_PER_LINE = 12  # as `xxd -i`
ARRAY_ALIGNMENT = 16  # TFLite-Micro expects the flatbuffer on a 16-byte boundary
DEFAULT_ARRAY_NAME = "g_model"
# Builtin op names whose `MicroMutableOpResolver` method is not the op name in
# CamelCase (CONV_2D -> AddConv2D, MAX_POOL_2D -> AddMaxPool2D, ...).
_IRREGULAR_METHODS = {
    "BATCH_MATMUL": "AddBatchMatMul",
    "CUMSUM": "AddCumSum",
    "PADV2": "AddPadV2",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
}
# Ops that the LiteRT interpreter lists but that are not model operators.
_NOT_OPERATORS = frozenset({"DELEGATE"})
_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclasses.dataclass
class FirmwareFiles:
    """What `write_firmware_files` wrote and what the firmware needs to know.

    Attributes:
        source: path of the ``.cc`` file with the model's bytes.
        header: path of the ``.h`` file declaring the array, its length and
            the int8 quantization parameters.
        op_resolver: path of the ``_op_resolver.h`` file.
        array_name: the C name of the array (its length is ``{array_name}_len``).
        size_bytes: the array's length, the ``.tflite`` file's size.
        ops: the builtin op names the model uses, sorted, each once.
        resolver_methods: the ``MicroMutableOpResolver`` method registering
            each of ``ops``, in the same order (``None`` for an op that
            TFLite-Micro has no method for; the op resolver file then stops
            the firmware's compilation with ``#error``).
        input_names: the name of each model input, in the file's order (the
            position ``interpreter.input(i)`` takes in TFLite-Micro).
        input_quantization: for each input in the same order, ``(scale,
            zero_point)`` of an int8 input (``q = round(x / scale) +
            zero_point``), or None for a float input or an integer (token id)
            input, which is fed as it is.
        output_quantization: ``(scale, zero_point)`` of an int8 output
            (``x = (q - zero_point) * scale``); None for a float output.

    Example:
        ```python
        files = write_firmware_files("student.tflite")
        scale, zero_point = files.input_quantization[0]
        print(files.op_count, files.resolver_methods)  # 6 ['AddAdd', 'AddConv2D', ...]
        ```
    """

    source: str
    header: str
    op_resolver: str
    array_name: str
    size_bytes: int
    ops: list
    resolver_methods: list
    input_names: list
    input_quantization: list
    output_quantization: tuple | None

    @property
    def op_count(self):
        """The template argument ``N`` of ``tflite::MicroMutableOpResolver<N>``.

        Returns:
            The number of distinct builtin ops, an int.
        """
        return len(self.ops)

    def summary(self):
        """Lines for a person: the quantization parameters and the files written.

        Returns:
            A list of strings: the input and the output (int8 scale and zero
            point, or float32), the C array files and the op resolver file
            with its ops.
        """
        lines = []
        single = len(self.input_names) == 1
        tensors = [
            ("input" if single else f"input {i} {name!r}", q, "q = round(x / scale) + zero_point")
            for i, (name, q) in enumerate(
                zip(self.input_names, self.input_quantization, strict=True)
            )
        ]
        tensors.append(("output", self.output_quantization, "x = (q - zero_point) * scale"))
        width = max(6, *(len(label) for label, _, _ in tensors))
        for label, quantization, formula in tensors:
            if quantization is None:
                lines.append(
                    f"{label:<{width}}  not quantized (float32, or integer ids fed as they are)"
                )
            else:
                scale, zero_point = quantization
                lines.append(
                    f"{label:<{width}}  int8 scale {scale!r}, zero point {zero_point} ({formula})"
                )
        lines.append(
            f"C array  {self.source} and {self.header} ({self.array_name}, "
            f"{self.size_bytes:,} bytes)"
        )
        lines.append(
            f"ops      {self.op_resolver} (MicroMutableOpResolver<{self.op_count}>: "
            f"{', '.join(self.ops)})"
        )
        return lines


def firmware_paths(tflite_path):
    """The ``(source, header, op_resolver)`` paths written next to ``tflite_path``.

    Args:
        tflite_path: the ``.tflite`` file's path, e.g. ``"out/student.tflite"``.

    Returns:
        A tuple of three paths, e.g. ``("out/student.cc", "out/student.h",
        "out/student_op_resolver.h")``.

    Example:
        ```python
        firmware_paths("out/student.tflite")
        # ('out/student.cc', 'out/student.h', 'out/student_op_resolver.h')
        ```
    """
    stem = os.path.splitext(str(tflite_path))[0]
    return f"{stem}.cc", f"{stem}.h", f"{stem}_op_resolver.h"


def resolver_method(op_name):
    """The ``MicroMutableOpResolver`` method that registers a builtin op.

    Args:
        op_name: a TFLite builtin op name, e.g. ``"DEPTHWISE_CONV_2D"``.

    Returns:
        The method's name, e.g. ``"AddDepthwiseConv2D"``, or None for an op
        that TFLite-Micro has no kernel for (`KNOWN_UNSUPPORTED_OPS`).

    Example:
        ```python
        resolver_method("FULLY_CONNECTED")  # "AddFullyConnected"
        resolver_method("GELU")  # None
        ```
    """
    from keras_kd.export.micro import KNOWN_UNSUPPORTED_OPS

    if op_name in KNOWN_UNSUPPORTED_OPS:
        return None
    if op_name in _IRREGULAR_METHODS:
        return _IRREGULAR_METHODS[op_name]
    # CONV_2D -> Conv2D, BATCH_TO_SPACE_ND -> BatchToSpaceNd, RELU6 -> Relu6.
    words = op_name.split("_")
    return "Add" + "".join(w if w[:1].isdigit() else w.capitalize() for w in words)


def c_array_source(model_bytes, array_name=DEFAULT_ARRAY_NAME, header_name=None):
    """The ``.cc`` text defining the model as an aligned C array.

    Args:
        model_bytes: the ``.tflite`` flatbuffer.
        array_name: the array's C name; its length is ``{array_name}_len``.
        header_name: the header the file includes (its ``extern``
            declarations give the constants external linkage in C++), or None.

    Returns:
        The source text: ``alignas(16) const unsigned char g_model[] = {...};``
        with 12 bytes per line as ``xxd -i`` writes them, and
        ``const int g_model_len = N;``.

    Example:
        ```python
        print(c_array_source(b"TFL3", "g_model"))
        # alignas(16) const unsigned char g_model[] = {
        #   0x54, 0x46, 0x4c, 0x33
        # };
        # const int g_model_len = 4;
        ```
    """
    data = np.frombuffer(bytes(model_bytes), np.uint8)
    rows = [
        "  " + ", ".join(f"0x{byte:02x}" for byte in data[i : i + BYTES_PER_LINE])
        for i in range(0, len(data), BYTES_PER_LINE)
    ]
    include = [f'#include "{header_name}"', ""] if header_name else []
    return "\n".join(
        [
            *include,
            f"alignas({ARRAY_ALIGNMENT}) const unsigned char {array_name}[] = {{",
            ",\n".join(rows),
            "};",
            f"const int {array_name}_len = {len(data)};",
            "",
        ]
    )


def _float_literal(value):
    """A C float literal that parses back to the float32 ``value`` (``1.0f``, ``0.0039...f``)."""
    return f"{float(np.float32(value))!r}f"


def _guard(filename):
    return re.sub(r"[^A-Za-z0-9]", "_", os.path.basename(filename)).upper() + "_"


def _camel(array_name):
    words = [w for w in array_name.removeprefix("g_").split("_") if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Model"


def _quantization_lines(prefix, quantization, formula, comment=""):
    if quantization is None:
        return []
    scale, zero_point = quantization
    return [
        "",
        f"// int8 {comment}{formula}",
        f"constexpr float {prefix}_scale = {_float_literal(scale)};",
        f"constexpr int {prefix}_zero_point = {int(zero_point)};",
    ]


def _header(filename, array_name, size, inputs, output_q):
    """``inputs``: ``(name, quantization)`` of each input, in the file's order."""
    lines = [
        f"// The model as a C array ({size:,} bytes), from keras-kd export.",
        f"#ifndef {_guard(filename)}",
        f"#define {_guard(filename)}",
        "",
        f"extern const unsigned char {array_name}[];",
        f"extern const int {array_name}_len;",
    ]
    to_int8 = "q = round(x / scale) + zero_point"
    if len(inputs) == 1:
        lines += _quantization_lines(f"{array_name}_input", inputs[0][1], to_int8, "input: ")
    else:  # TFLite-Micro's interpreter.input(i) is the file's i-th input
        for i, (name, quantization) in enumerate(inputs):
            comment = f"input {i} ({name!r}, interpreter.input({i})): "
            lines += _quantization_lines(f"{array_name}_input{i}", quantization, to_int8, comment)
    lines += _quantization_lines(
        f"{array_name}_output", output_q, "x = (q - zero_point) * scale", "output: "
    )
    return "\n".join([*lines, "", f"#endif  // {_guard(filename)}", ""])


def op_resolver_header(ops, array_name=DEFAULT_ARRAY_NAME, filename="model_op_resolver.h"):
    """The ``_op_resolver.h`` text registering ``ops`` with a ``MicroMutableOpResolver``.

    Args:
        ops: builtin op names, e.g. ``["CONV_2D", "FULLY_CONNECTED"]``.
        array_name: the model array's C name; ``g_model`` gives the names
            ``kModelOpCount``, ``ModelOpResolver`` and ``RegisterModelOps``.
        filename: the header's file name (for its include guard).

    Returns:
        The header text: the op count (the resolver's template argument), a
        resolver type and an inline function that calls ``resolver.AddX()``
        for each op and returns ``kTfLiteOk`` or the first error. An op that
        TFLite-Micro has no kernel for becomes an ``#error`` line.

    Example:
        ```python
        print(op_resolver_header(["CONV_2D", "MEAN"]))
        # ... constexpr int kModelOpCount = 2; ...
        #   if (resolver.AddConv2D() != kTfLiteOk) return kTfLiteError;  // CONV_2D
        #   if (resolver.AddMean() != kTfLiteOk) return kTfLiteError;  // MEAN
        ```
    """
    ops = sorted(set(ops) - _NOT_OPERATORS)
    prefix = _camel(array_name)
    lines = [
        "// The builtin ops the model uses, from keras-kd export. In the firmware:",
        f"//   {prefix}OpResolver resolver;",
        f"//   if (Register{prefix}Ops(resolver) != kTfLiteOk) {{ /* handle the error */ }}",
        f"//   tflite::MicroInterpreter interpreter(tflite::GetModel({array_name}), resolver,",
        "//                                        arena, arena_size);",
        f"#ifndef {_guard(filename)}",
        f"#define {_guard(filename)}",
        "",
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        "",
    ]
    missing = [op for op in ops if resolver_method(op) is None]
    lines += [
        f'#error "TFLite-Micro has no kernel for the builtin op {op}: replace the layer '
        'that produces it and export again"'
        for op in missing
    ]
    lines += [
        f"constexpr int k{prefix}OpCount = {len(ops)};",
        f"using {prefix}OpResolver = tflite::MicroMutableOpResolver<k{prefix}OpCount>;",
        "",
        f"inline TfLiteStatus Register{prefix}Ops({prefix}OpResolver& resolver) {{",
    ]
    for op in ops:
        method = resolver_method(op)
        if method is not None:
            lines.append(f"  if (resolver.{method}() != kTfLiteOk) return kTfLiteError;  // {op}")
    lines += ["  return kTfLiteOk;", "}", "", f"#endif  // {_guard(filename)}", ""]
    return "\n".join(lines)


def _check_array_name(array_name):
    if not isinstance(array_name, str) or not _C_IDENTIFIER.match(array_name):
        raise ValueError(
            "`array_name` must be a C identifier (letters, digits and underscores, not "
            f"starting with a digit). Received: array_name={array_name!r}"
        )


def check_firmware_paths(tflite_path):
    """Refuses, before anything is written, firmware paths that are folders.

    Args:
        tflite_path: the ``.tflite`` path the firmware files are named after.

    Returns:
        The ``(source, header, op_resolver)`` paths of `firmware_paths`.

    Raises:
        ValueError: one of the paths is an existing folder, or is
            ``tflite_path`` itself (a path ending in ``.cc`` or ``.h``).
    """
    paths = firmware_paths(tflite_path)
    if os.path.abspath(str(tflite_path)) in {os.path.abspath(path) for path in paths}:
        raise ValueError(
            "The .tflite path must not end in .cc or .h: a firmware file named after it "
            f"would replace it. Received: path={str(tflite_path)!r}"
        )
    folders = [path for path in paths if os.path.isdir(path)]
    if folders:
        raise ValueError(
            f"The firmware files of {str(tflite_path)!r} would replace folders: {folders}. "
            f"Rename them or choose another .tflite path. Received: path={str(tflite_path)!r}"
        )
    return paths


def write_firmware_files(tflite_path, array_name=DEFAULT_ARRAY_NAME):
    """Writes the C array and the op resolver of a ``.tflite`` file next to it.

    For ``out/student.tflite``: ``out/student.cc`` (the bytes,
    ``alignas(16) const unsigned char g_model[] = {...};`` and
    ``const int g_model_len = N;``), ``out/student.h`` (their declarations
    and, for int8, ``g_model_input_scale``, ``g_model_input_zero_point``,
    ``g_model_output_scale``, ``g_model_output_zero_point``; a model with
    several inputs gets ``g_model_input0_scale``, ... in the order
    TFLite-Micro numbers its inputs, each named in a comment) and
    ``out/student_op_resolver.h`` (``kModelOpCount`` and
    ``RegisterModelOps(resolver)``). Each file is written atomically; an
    existing file is replaced.

    Args:
        tflite_path: a ``.tflite`` file, e.g. written by `to_tflite`.
        array_name: the C name of the array (default ``g_model``); its length
            is ``{array_name}_len``.

    Returns:
        A `FirmwareFiles` with the paths, the ops and the quantization
        parameters.

    Raises:
        ValueError: ``array_name`` is not a C identifier, or a path to write
            is a folder (nothing is written then).

    Example:
        ```python
        report = to_tflite(student, "student.tflite", quantization="int8",
                           representative_data=train.take(2))
        files = write_firmware_files("student.tflite")
        print("\\n".join(files.summary()))  # scale, zero point, files, ops
        ```
    """
    _check_array_name(array_name)
    source, header, op_resolver = check_firmware_paths(tflite_path)
    with open(tflite_path, "rb") as f:
        model_bytes = f.read()
    ops = sorted(set(op_names(model_bytes)) - _NOT_OPERATORS)
    inputs, output_q = io_quantization(model_bytes)
    texts = {
        source: c_array_source(model_bytes, array_name, os.path.basename(header)),
        header: _header(header, array_name, len(model_bytes), inputs, output_q),
        op_resolver: op_resolver_header(ops, array_name, op_resolver),
    }
    for path, text in texts.items():
        with atomic_path(path, suffix=os.path.splitext(path)[1]) as tmp, open(tmp, "w") as f:
            f.write(text)
    return FirmwareFiles(
        source=source,
        header=header,
        op_resolver=op_resolver,
        array_name=array_name,
        size_bytes=len(model_bytes),
        ops=ops,
        resolver_methods=[resolver_method(op) for op in ops],
        input_names=[name for name, _ in inputs],
        input_quantization=[quantization for _, quantization in inputs],
        output_quantization=output_q,
    )

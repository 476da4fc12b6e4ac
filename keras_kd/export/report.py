"""The export report: size, ops, accuracy in Keras, LiteRT and TFLite-Micro."""

import dataclasses


class ExportAgreementError(ValueError):
    """The converted file predicts other classes than the Keras model; it was not written.

    Raised by `to_tflite` when LiteRT (or, for int8, TFLite-Micro) gives the
    Keras model's top-1 class on fewer than ``min_agreement`` of the
    ``check_data`` samples. Nothing is written to ``path`` (a file already
    there is left as it was). The message names the agreement, the threshold
    and what to try; ``report`` holds everything measured up to the check
    that failed.

    Args:
        message: what disagreed, by how much, and what to do.
        report: the `ExportReport` of the refused file.

    Attributes:
        report: the `ExportReport` of the refused file (its ``path`` names the
            file that was not written).

    Example:
        ```python
        try:
            to_tflite(student, "student.tflite", quantization="int8",
                      representative_data=x_train[:200], check_data=(x_val, y_val))
        except ExportAgreementError as err:
            print(err.report.as_table())  # then min_agreement=None writes it anyway
        ```
    """

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


@dataclasses.dataclass
class ExportReport:
    """What `to_tflite` measured about one exported file.

    Accuracies are top-1 on the ``check_data`` samples; agreements are the
    fraction of those samples whose top-1 class matches the Keras model's
    (a single logit: its sign). For logits with positions (segmentation
    maps, sequences) both count positions (pixels, tokens), not samples. A
    field that was not measured is None.

    Attributes:
        path: the ``.tflite`` file written.
        quantization: ``"float32"``, ``"float16"``, ``"dynamic"`` or ``"int8"``.
        size_bytes: the file's size in bytes (what it takes in flash).
        ops: the builtin TFLite op names in the model, in execution order.
        micro_unsupported_ops: ops among them that TFLite-Micro has no kernel
            for (GELU, TILE, REDUCE_PROD); the file cannot run on a
            microcontroller while this is not empty.
        samples: how many check samples every accuracy below was measured on
            (1 random image when no ``check_data`` was given).
        keras_accuracy: top-1 accuracy of the Keras model.
        litert_accuracy: top-1 accuracy of the file in the LiteRT interpreter.
        litert_agreement: fraction of samples where LiteRT's top-1 class is
            the Keras model's.
        max_abs_diff: the largest ``|LiteRT - Keras|`` output difference over
            the samples (int8 outputs dequantized); int8 typically differs by
            a few tenths of a logit, float32 by about 1e-5.
        micro_accuracy: top-1 accuracy in the TFLite-Micro interpreter (int8 only).
        micro_agreement: fraction of samples where TFLite-Micro's top-1 class
            is the Keras model's (int8 only).
        arena_bytes: the TFLite-Micro tensor arena the model ran in: the
            smallest in which it allocates, plus 16 bytes of alignment (int8
            only; measured on a 64-bit host, an upper bound for a 32-bit MCU).
        micro_error: why TFLite-Micro could not load or run the file, or None.
        keras_mean_iou: mean IoU of the Keras model's per-position classes
            against the labels (`keras_kd.evaluation.mean_iou`; logits with
            positions only).
        litert_mean_iou: the same for the file in LiteRT.
        micro_mean_iou: the same in TFLite-Micro (int8 only).
        input_quantization: one entry per model input, in the model's order:
            ``(scale, zero_point)`` of an int8 input (the firmware feeds
            ``round(x / scale) + zero_point``), or None for a float input or
            an integer input (token ids stay int32/int64 in every mode, int8
            included, and are fed as they are).
        output_quantization: ``(scale, zero_point)`` of an int8 output:
            ``(q - zero_point) * scale`` are the logits; None for float.
        output_max_abs_diff: for a model with several outputs, ``{output
            name: largest |LiteRT - Keras|}`` of each (the logits' is also
            ``max_abs_diff``); None for one output.
        logits_output: for a model with several outputs, the name of the one
            the accuracy, agreement, ``max_abs_diff`` and
            ``output_quantization`` are of; None for one output.

    Example:
        ```python
        report = to_tflite(student, "student.tflite", quantization="int8",
                           representative_data=train.take(2), check_data=val)
        print(report.as_table())
        assert report.micro_error is None and report.arena_bytes < 256 * 1024
        scale, zero_point = report.input_quantization[0]
        ```
    """

    path: str
    quantization: str
    size_bytes: int
    ops: list
    micro_unsupported_ops: list
    samples: int = 0
    keras_accuracy: float | None = None
    litert_accuracy: float | None = None
    litert_agreement: float | None = None
    max_abs_diff: float | None = None
    micro_accuracy: float | None = None
    micro_agreement: float | None = None
    arena_bytes: int | None = None
    micro_error: str | None = None
    input_quantization: list | None = None
    output_quantization: tuple | None = None
    keras_mean_iou: float | None = None
    litert_mean_iou: float | None = None
    micro_mean_iou: float | None = None
    output_max_abs_diff: dict | None = None
    logits_output: str | None = None

    def as_dict(self):
        """The report as a plain dict (e.g. to save as JSON).

        Returns:
            ``{field name: value}`` for every attribute above.
        """
        return dataclasses.asdict(self)

    def as_table(self):
        """A two-column text table of the report, one line per measurement.

        Returns:
            The table as a string; unmeasured values are shown as ``-``, and
            the quantization rows appear for an int8 model only.
        """

        def pct(value):
            return "-" if value is None else f"{value:.2%}"

        rows = [
            ("file", self.path),
            ("quantization", self.quantization),
            ("size", f"{self.size_bytes:,} bytes ({self.size_bytes / 1024:.1f} KiB)"),
            ("ops", ", ".join(sorted(set(self.ops)))),
            ("ops TFLite-Micro lacks", ", ".join(self.micro_unsupported_ops) or "none"),
            ("check samples", str(self.samples)),
            ("Keras accuracy", pct(self.keras_accuracy)),
            ("LiteRT accuracy", pct(self.litert_accuracy)),
            ("LiteRT top-1 agreement", pct(self.litert_agreement)),
            ("LiteRT max |diff|", "-" if self.max_abs_diff is None else f"{self.max_abs_diff:.3g}"),
            ("TFLite-Micro accuracy", pct(self.micro_accuracy)),
            ("TFLite-Micro agreement", pct(self.micro_agreement)),
            (
                "TFLite-Micro arena",
                "-" if self.arena_bytes is None else f"{self.arena_bytes:,} bytes",
            ),
        ]
        ious = [
            ("Keras mean IoU", self.keras_mean_iou),
            ("LiteRT mean IoU", self.litert_mean_iou),
            ("TFLite-Micro mean IoU", self.micro_mean_iou),
        ]
        rows += [(name, pct(value)) for name, value in ious if value is not None]
        for name, diff in (self.output_max_abs_diff or {}).items():
            rows.append((f"LiteRT max |diff| of {name!r}", f"{diff:.3g}"))
        inputs = self.input_quantization or []
        named = [
            ("input scale, zero point" if len(inputs) == 1 else f"input {i} scale, zero point", q)
            for i, q in enumerate(inputs)
        ]
        output = "output" if self.logits_output is None else f"output {self.logits_output!r}"
        named.append((f"{output} scale, zero point", self.output_quantization))
        for name, quantization in named:
            if quantization is not None:
                rows.append((name, f"{quantization[0]!r}, {quantization[1]}"))
        if self.micro_error:
            rows.append(("TFLite-Micro error", self.micro_error))
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

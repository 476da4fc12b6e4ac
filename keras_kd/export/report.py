"""The export report: size, ops, accuracy in Keras, LiteRT and TFLite-Micro."""

import dataclasses


@dataclasses.dataclass
class ExportReport:
    """What `to_tflite` measured about one exported file.

    Accuracies are top-1 on ``check_data``; agreements are the fraction of
    samples whose top-1 class matches the Keras model's. ``max_abs_diff`` is
    the largest |LiteRT - Keras| output difference (dequantized for int8).
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

    def as_dict(self):
        return dataclasses.asdict(self)

    def as_table(self):
        """A two-column text table of the report."""

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
        inputs = self.input_quantization or []
        named = [
            ("input scale, zero point" if len(inputs) == 1 else f"input {i} scale, zero point", q)
            for i, q in enumerate(inputs)
        ]
        for name, quantization in [*named, ("output scale, zero point", self.output_quantization)]:
            if quantization is not None:
                rows.append((name, f"{quantization[0]!r}, {quantization[1]}"))
        if self.micro_error:
            rows.append(("TFLite-Micro error", self.micro_error))
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

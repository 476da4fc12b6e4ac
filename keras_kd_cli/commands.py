"""The `keras-kd` commands, run by `keras_kd_cli.main` once the arguments
are parsed and checked (before Keras or TensorFlow was imported)."""

from keras_kd_cli.parser import EXIT_OK, UsageError


def _run_demo(args):
    from keras_kd_cli.demo import run_demo

    verbose = 0 if args.quiet else None
    run_demo(epochs=args.epochs, out=args.out, train_teacher=args.train_teacher, verbose=verbose)
    return EXIT_OK


def _run_distill(args):
    from keras_kd_cli import distill

    return distill.run(args)


def _run_export(args):
    from keras_kd_cli import export as export_cli

    return export_cli.run(args)


def _run_bench(args):
    from keras_kd_cli.bench.protocols import PROTOCOLS
    from keras_kd_cli.bench.runner import run_bench
    from keras_kd_cli.bench.table import markdown_table, write_budget_chart, write_chart

    if not args.table_only:
        rows = args.rows.split(",") if args.rows else None
        allowed = PROTOCOLS[args.protocol].rows
        unknown = sorted(set(rows or []) - set(allowed))
        if unknown:
            raise UsageError(f"--rows must be among {allowed}: unknown rows {unknown}")
        run_bench(
            args.data,
            args.out,
            args.epochs,
            args.batch_size,
            args.teacher,
            rows,
            "keras-kd " + " ".join(args.argv),
            protocol=args.protocol,
            data_dir=args.data_dir,
            verbose=0 if args.quiet else "auto",
            seed=args.seed,
        )
    print(markdown_table(args.out))
    write_chart(args.out, f"{args.out.rstrip('/')}/accuracy.png")
    write_budget_chart(args.out, f"{args.out.rstrip('/')}/budget.png")
    return EXIT_OK


COMMANDS = {
    "demo": _run_demo,
    "distill": _run_distill,
    "export": _run_export,
    "bench": _run_bench,
}

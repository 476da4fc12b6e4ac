"""Per-output entries of labels, sample weights, losses and predictions for a
deployable model with several outputs (e.g. a detector's class and box heads).

Keras takes them as a dict keyed by output name, a list in output order, or
one value for every output; `entry` reads one output's, the same way for each.
"""


def entry(structure, name, names, argument):
    """Output ``name``'s entry of ``structure``.

    Args:
        structure: a dict keyed by output name, a list or tuple with one entry
            per output (in ``names``' order), or anything else (one value for
            every output, returned as is).
        name: the output's name.
        names: every output's name, in the model's order.
        argument: the user-facing name of ``structure`` in error messages.

    Returns:
        The entry, or None for a dict without one.

    Raises:
        ValueError: a dict key that names no output.
    """
    if isinstance(structure, dict):
        check_keys(structure, names, argument)
        return structure.get(name)
    if isinstance(structure, list | tuple) and len(structure) == len(names):
        return structure[list(names).index(name)]
    return structure


def check_keys(structure, names, argument):
    """Refuses a dict ``structure`` with a key that names no output in ``names``."""
    if isinstance(structure, dict) and any(k not in names for k in structure):
        raise ValueError(
            f"`{argument}` must be keyed by the student's output names {list(names)}. "
            f"Received: {argument} with keys {sorted(structure)}"
        )

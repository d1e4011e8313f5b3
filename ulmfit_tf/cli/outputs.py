"""How the commands report: aligned tables, Keras' verbosity, one-line errors."""

import sys


def format_table(rows):
    """`(name, value)` rows as two aligned columns.

    Example:

    ```python
    print(format_table([("accuracy", "0.7512"), ("minutes", "8.4")]))
    ```
    """
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def print_table(rows):
    """Prints `format_table(rows)` after a blank line; nothing for no rows."""
    if rows:
        print("\n" + format_table(rows))


def verbosity(args):
    """Keras' verbosity: progress bars on a terminal, one line per epoch in a log file or pipe."""
    if args.quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def one_line(error):
    """An error's message on one line."""
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())

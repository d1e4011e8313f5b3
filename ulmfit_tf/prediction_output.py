"""Where `ulmfit-tf predict` writes its rows, chunk by chunk: standard output, or a CSV file.

The rules that keep a user's files safe (those of `ulmfit_tf.folders`, for a file
that grows while the command runs):

- `--output FILE` is checked before any work: an existing file is
  replaced only with `--overwrite`.
- While the command runs it holds `FILE.lock` (one writer at a time) and
  appends each chunk's rows, in input order, to `FILE.partial`; `FILE`
  appears only once every row is written, by one rename (a link without
  `--overwrite`, so that a file another run wrote meanwhile is never
  replaced). A rerun therefore never finds a stale `FILE` it could mistake
  for its own result.
- `FILE.partial` left by an earlier interrupted run (it starts with the
  header `predict` writes, `text,label,p_...`) is replaced; any other file
  there is refused unless `--overwrite`.
- A signal (Ctrl-C, `kill`) stops the command at a row boundary: the
  partial file is cut back to the last whole chunk written and kept, and
  one line says how many rows it holds (texts 1 to N of the input); with
  no row written it is removed ("nothing was written"). Any other failure
  removes it, as it removes the folders made for it.
"""

import contextlib
import csv
import io
import os
import signal
import sys

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import check_new_file
from ulmfit_tf.folders import exclusive
from ulmfit_tf.storage import disk_full_as_one_line
from ulmfit_tf.storage import link_new
from ulmfit_tf.storage import new_folders_removed_on_failure

PARTIAL_SUFFIX = ".partial"
_OUR_HEADER = b"text,label,p_"


class PredictionRows:
    """The rows of `ulmfit-tf predict`, written as each chunk of texts is done.

    To standard output: tab-separated `label, p_CLASS..., text`, flushed
    after each chunk. To `output`: a CSV file `text, label, p_CLASS...`,
    grown in `output + ".partial"` and renamed to `output` by `finish()`
    (see the module's rules).

    Args:
        output: Optional path of the CSV file; `None` prints the rows.
        overwrite: Boolean, replace an existing `output` (and a foreign
            `output.partial`).

    Example:

    ```python
    rows = PredictionRows("predictions.csv")  # checks the paths first
    with rows.open(["rotten", "fresh"]):
        for chunk in chunks(texts):
            rows.write(chunk, *stages.predict(classifier, chunk))
        rows.finish()
    ```
    """

    def __init__(self, output=None, overwrite=False):
        self.output = output
        self.overwrite = overwrite
        self.partial = None if output is None else os.fspath(output) + PARTIAL_SUFFIX
        if output is not None:
            check_new_file(output, overwrite)
            self._check_partial()
        self._file = None
        self._finished = False
        self._separator = "|"
        # Rows written whole and the bytes that hold them (and the header):
        # one attribute, so that a signal never sees one updated without the other.
        self._written = (0, 0)

    @property
    def count(self):
        """Rows written whole."""
        return self._written[0]

    @contextlib.contextmanager
    def open(self, label_names, label_separator="|"):
        """Writes the header; within the block, `write` adds rows. Cleans up as the module says.

        A text's labels (multi-label, or top-k) are written joined by `label_separator`.
        """
        self._separator = label_separator
        header = [f"p_{name}" for name in label_names]
        if self.output is None:
            self._write_text(_delimited([["label"] + header + ["text"]], "\t"), sys.stdout)
            yield self
            return
        # A full disk is one line even when the folder or the lock cannot be made.
        with new_folders_removed_on_failure(self.output), disk_full_as_one_line(self.output), exclusive(self.output):
            self._check_partial()  # again, under the lock
            os.makedirs(os.path.dirname(os.path.abspath(self.partial)), exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
            with open(os.open(self.partial, flags, 0o666), "wb", buffering=0) as self._file:
                try:
                    self._append(_delimited([["text", "label"] + header], ","), 0)
                    yield self
                except KeyboardInterrupt:
                    self._keep_whole_rows()
                    raise
                except BaseException:
                    self._remove_partial()
                    raise

    def write(self, texts, labels, probabilities):
        """Adds the rows of one chunk: its texts, their labels and probabilities `(texts, classes)`."""
        rows = [[self._label(label)] + [f"{p:.6f}" for p in row] for label, row in zip(labels, probabilities)]
        if self.output is None:
            self._write_text(_delimited([row + [text] for text, row in zip(texts, rows)], "\t"), sys.stdout)
            self._written = (self.count + len(rows), 0)
        else:
            self._append(_delimited([[text] + row for text, row in zip(texts, rows)], ","), len(rows))

    def finish(self):
        """Puts the complete file at `output` (never over a file another run wrote meanwhile, unless `overwrite`)."""
        if self.output is None:
            return
        os.fsync(self._file.fileno())
        if self.overwrite:
            os.replace(self.partial, self.output)
        else:
            link_new(self.partial, self.output)
        self._finished = True
        self._remove_partial()

    def interrupted_message(self, signum):
        """The one line for a signal that stopped the command after `count` rows."""
        name = signal.Signals(signum).name
        if self.output is None:
            return f"interrupted by {name}: the first {self.count:,} rows (texts 1 to {self.count:,}) were printed."
        return (
            f"interrupted by {name}: the first {self.count:,} rows (texts 1 to {self.count:,}, in order) are in "
            f"{self.partial!r}; run the same command again to predict them all."
        )

    def _label(self, label):
        if isinstance(label, list):
            return self._separator.join(label)
        return label if isinstance(label, str) else str(label)

    def _check_partial(self):
        if not os.path.lexists(self.partial) or self.overwrite:
            return
        ours = False
        if os.path.isfile(self.partial) and not os.path.islink(self.partial):
            with open(self.partial, "rb") as f:
                ours = f.read(len(_OUR_HEADER)) == _OUR_HEADER
        if not ours:
            raise UserInputError(
                f"{self.partial!r} already exists and is not the rows of an interrupted `ulmfit-tf predict`: pass "
                "--overwrite to replace it, or give another --output."
            )

    def _append(self, text, rows):
        encoded = text.encode("utf-8")
        data = memoryview(encoded)
        while data:  # unbuffered: what the file holds is what was written
            data = data[self._file.write(data) :]
        count, size = self._written
        self._written = (count + rows, size + len(encoded))

    def _write_text(self, text, stream):
        stream.write(text)
        stream.flush()

    def _keep_whole_rows(self):
        """Cuts the partial file back to its whole rows; removes it if it holds none."""
        if self._finished:
            return
        if not self.count:
            self._remove_partial()
            return
        os.truncate(self._file.fileno(), self._written[1])  # a chunk cut short by the signal

    def _remove_partial(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.partial)


def _delimited(rows, delimiter):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()

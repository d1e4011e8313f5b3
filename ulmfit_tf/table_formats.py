"""Reading a user's table files: the bytes, the CSV/TSV rows and the JSON Lines rows.

`datasets.read_table` builds on these. Each refuses a file it cannot read
as meant in one line naming the file, the line and the fix (a
`UserInputError`), rather than guessing.
"""

import codecs
import csv
import functools
import io
import json
import os
import sys

from ulmfit_tf.errors import UserInputError

# The csv module's field limit (131,072 characters by default) would refuse
# long documents; this is the largest value a C long holds on every platform.
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
# Byte-order marks and the encodings they announce (UTF-32's before UTF-16's,
# which they start with). Without one, a file is UTF-8.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SEPARATORS = {
    "\t": ("tabs", "name the file .tsv"),
    ",": ("commas", "name the file .csv"),
    ";": ("semicolons", "save it separated by commas (.csv) or tabs (.tsv)"),
}
_EXTRA_FIELDS = object()  # DictReader's key for the fields past the header's


def read_text_file(path, table=False):
    """The text of a file: UTF-8, or UTF-8, UTF-16 or UTF-32 with a byte-order mark (which is dropped).

    Args:
        path: The file.
        table: Boolean; `True` also refuses a file whose first line holds a
            NUL byte (a binary or compressed file, or UTF-16 without a
            byte-order mark), which no table header holds.

    Returns:
        A string.

    Raises:
        UserInputError: `path` is a folder, is not text, or holds bytes
            that are not in its encoding (named by line and character).
        FileNotFoundError: there is no file at `path`.
    """
    if os.path.isdir(path):
        raise UserInputError(f"{path}: a folder, not a file; give a .csv, .tsv or .jsonl file.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file.")
    with open(path, "rb") as f:
        data = f.read()
    encoding = _encoding(path, data, table)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        if encoding != "utf-8-sig":
            raise UserInputError(
                f"{path}: starts with a {encoding.upper()} byte-order mark but byte {error.start} is not "
                f"{encoding.upper()}; save the file as UTF-8."
            ) from None
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise UserInputError(
            f"{path}, line {line}, character {column}: bytes that are not UTF-8 "
            f"({data[error.start:error.end]!r}); save the file as UTF-8."
        ) from None


def text_file_lines(path, newline, table=False):
    """The lines of a file, read one at a time, with `read_text_file`'s checks.

    Args:
        path: The file.
        newline: `""` splits at `\\n`, `\\r` and `\\r\\n` (for the `csv`
            module), `"\\n"` at `\\n` only (JSON Lines); line ends are kept.
        table: Boolean, as for `read_text_file`.

    Yields:
        Strings, without the byte-order mark.

    Raises:
        UserInputError: as `read_text_file`, naming the same line and
            character for bytes not in the file's encoding.
        FileNotFoundError: there is no file at `path`.

    Example:

    ```python
    for line in text_file_lines("texts.jsonl", newline="\\n"):
        ...
    ```
    """
    if os.path.isdir(path) or not os.path.isfile(path):
        read_text_file(path, table)  # raises its error
    with open(path, "rb") as f:
        encoding = _encoding(path, f.readline(), table)
        f.seek(0)
        with io.TextIOWrapper(f, encoding=encoding, newline=newline) as lines:
            try:
                yield from lines
            except UnicodeDecodeError:
                read_text_file(path, table)  # names the line and character of the bytes
                raise


def _encoding(path, data, table):
    """The encoding a file's bytes (its first line at least) announce; refuses a table whose line 1 holds NULs."""
    encoding = next((name for mark, name in BYTE_ORDER_MARKS if data.startswith(mark)), "utf-8-sig")
    first_line_end = data.find(b"\n") if b"\n" in data else len(data)
    if table and encoding == "utf-8-sig" and data.find(b"\x00", 0, first_line_end) >= 0:
        raise UserInputError(
            f"{path}: not a text file (line 1 holds NUL bytes: a binary or compressed file, or UTF-16 without a "
            "byte-order mark); save the table as UTF-8 text."
        )
    return encoding


def delimited_rows(path, text, extension, columns):
    """`(line, row)` pairs of a CSV (`,`, quotes) or TSV (tab, no quotes) text; a row is a dict of strings.

    Header names are stripped of spaces. A header that lacks one of
    `columns` or holds one twice, a row with more fields than the header,
    or a row that ends before one of `columns`, is refused naming the line.
    `text` is the file's text, or its lines (`text_file_lines(path, "")`),
    read as the rows are taken.
    """
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    options = dict(delimiter="\t", quoting=csv.QUOTE_NONE) if extension == ".tsv" else dict(delimiter=",")
    lines = _Lines(io.StringIO(text, newline="") if isinstance(text, str) else text)
    reader = csv.DictReader(lines, restkey=_EXTRA_FIELDS, **options)
    reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
    _check_header(path, reader.fieldnames, columns, options["delimiter"])
    start = 2  # the line the next row starts on
    try:
        for row in reader:
            if _EXTRA_FIELDS in row:
                fields = len(reader.fieldnames) + len(row[_EXTRA_FIELDS])
                hint = "a text cannot hold a tab" if extension == ".tsv" else 'quote ("...") a text that holds a comma'
                raise UserInputError(
                    f"{path}, line {reader.line_num}: {fields} fields, but the header has {len(reader.fieldnames)}; "
                    f"{hint}."
                )
            values = [value for value in row.values() if value is not None]
            if lines.ended and any("\n" in value or "\r" in value for value in values):
                raise UserInputError(
                    f'{path}, line {start}: a quote (") opened in this row is never closed, so the row runs to the '
                    'end of the file; close it (a quote inside a quoted field is written "").'
                )
            absent = [column for column in columns if row[column] is None]
            if absent:
                raise UserInputError(
                    f"{path}, line {reader.line_num}: {len(values)} field{'s' * (len(values) != 1)}, but the header "
                    f"has {len(reader.fieldnames)}: no value for column {absent[0]!r}."
                )
            yield reader.line_num, row
            start = reader.line_num + 1
    except csv.Error as error:
        raise UserInputError(f"{path}, line {reader.line_num}: {error}.") from None


class _Lines:
    """Lines of a file for the `csv` module, telling whether a row ran to the end (`ended`): an unclosed quote."""

    def __init__(self, lines):
        self._lines = iter(lines)
        self.ended = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._lines)
        except StopIteration:
            self.ended = True
            raise


def _check_header(path, names, columns, delimiter):
    for column in columns:
        places = [str(i + 1) for i, name in enumerate(names) if name == column]
        if len(places) > 1:
            raise UserInputError(
                f"{path}, line 1 (header): column {column!r} appears {len(places)} times (fields "
                f"{', '.join(places)}); rename or remove all but one."
            )
        if not places:
            present = ", ".join(map(repr, names)) or "none"
            hint = ""
            if len(names) == 1:
                found = [separator for separator in SEPARATORS if separator != delimiter and separator in names[0]]
                if found:
                    hint = "; the header is separated by {}: {}".format(*SEPARATORS[found[0]])
            raise UserInputError(f"{path}, line 1 (header): no column {column!r} (columns: {present}){hint}.")


def json_lines_rows(path, text, columns):
    """`(line, row)` pairs of a JSON Lines text, blank lines skipped.

    A row is a dict whose values are strings as written (numbers keep their
    form: `1.0` stays `"1.0"`; `true`, `NaN` as written) or `None` (`null`).
    A line that is not one JSON object, lacks one of `columns` or holds one
    twice, or an array or object as a value of `columns`, is refused.
    `text` is the file's text, or its lines (`text_file_lines(path, "\\n")`).
    """
    hook = functools.partial(_object, columns=columns)
    lines = text.split("\n") if isinstance(text, str) else text  # not splitlines(): U+2028 may sit in a string
    for line, content in enumerate(lines, start=1):
        if not content.strip():
            continue
        try:
            row = json.loads(content, parse_int=str, parse_float=str, parse_constant=str, object_pairs_hook=hook)
        except json.JSONDecodeError as error:
            raise UserInputError(
                f"{path}, line {line}, character {error.colno}: not valid JSON ({error.msg})."
            ) from None
        except _RepeatedKey as error:
            raise UserInputError(f"{path}, line {line}: key {error.args[0]!r} appears twice; keep one.") from None
        if not isinstance(row, dict):
            kind = {"[": "an array", '"': "a string", "t": "true", "f": "false", "n": "null"}.get(
                content.strip()[0], "a number"
            )
            example = ", ".join(f'"{column}": "..."' for column in columns)
            raise UserInputError(
                f"{path}, line {line}: {kind}, not a JSON object; JSON Lines holds one object per line, "
                f"e.g. {{{example}}}."
            )
        for column in columns:
            if column not in row:
                present = ", ".join(map(repr, row)) or "none"
                raise UserInputError(f"{path}, line {line}: no column {column!r} (columns: {present}).")
            if isinstance(row[column], (list, dict)):
                kind = "an array" if isinstance(row[column], list) else "an object"
                raise UserInputError(f"{path}, line {line}, column {column!r}: {kind}, not a string or a number.")
            if isinstance(row[column], bool):
                row[column] = "true" if row[column] else "false"
        yield line, row


class _RepeatedKey(Exception):
    """A key of `columns` twice in one JSON object (Python's `json` would keep the last silently)."""


def _object(pairs, columns):
    row = dict(pairs)
    if len(row) < len(pairs):
        for column in columns:
            if sum(key == column for key, _ in pairs) > 1:
                raise _RepeatedKey(column)
    return row

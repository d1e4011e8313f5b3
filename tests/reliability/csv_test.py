"""A user's table file is read as meant or refused in one line, never misread silently.

Each case writes the bytes a user's tool might write and asserts the exact
outcome of `datasets.read_table` (what every command reads files with): the
texts and labels read, or the message. The command-line cases assert the
exit status, the one line on standard error and that nothing is left on
disk. No model is built: the files are refused before any is loaded.
"""

import codecs
import os
import subprocess
import sys

import pytest

from ulmfit_tf import cli
from ulmfit_tf import datasets
from ulmfit_tf.errors import UserInputError

READ = {"texts": ["a", "b"], "labels": ["pos", "neg"]}
NOT_TEXT = (
    "{path}: not a text file (line 1 holds NUL bytes: a binary or compressed file, or UTF-16 without a byte-order "
    "mark); save the table as UTF-8 text."
)


def write(folder, name, content):
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def refused(path, **options):
    with pytest.raises(UserInputError) as error:
        datasets.read_table(path, **options)
    return str(error.value)


def run(argv, capsys):
    code = cli.main(argv)
    _, err = capsys.readouterr()
    return code, err


# Issue case 1: a repeated header name was read from its last column.
def test_a_repeated_column_name_is_refused(tmp_path):
    path = write(tmp_path, "dup.csv", "text,label,text\nfirst,pos,second\n")
    assert refused(path) == f"{path}, line 1 (header): column 'text' appears 2 times (fields 1, 3); rename or remove all but one."
    spaced = write(tmp_path, "spaced.csv", "text,label, label\na,pos,neg\n")
    assert refused(spaced) == f"{spaced}, line 1 (header): column 'label' appears 2 times (fields 2, 3); rename or remove all but one."
    # A column that is not read may repeat (a spreadsheet's empty or note columns).
    other = write(tmp_path, "other.csv", "text,label,note,note\na,pos,x,y\nb,neg,,\n")
    assert datasets.read_table(other) == READ
    keys = write(tmp_path, "keys.jsonl", '{"text": "first", "label": "pos", "text": "second"}\n')
    assert refused(keys) == f"{keys}, line 1: key 'text' appears twice; keep one."


def test_the_command_line_refuses_a_repeated_column_in_one_line_leaving_nothing(tmp_path):
    path = write(tmp_path, "dup.csv", "text,label,text\nfirst,pos,second\nthird,neg,fourth\n")
    output = tmp_path / "classifier"
    result = subprocess.run(
        [sys.executable, "-m", "ulmfit_tf.cli", "fit-classifier", "--language-model", "awd_lstm_small_en_uncased",
         "--train", path, "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"ulmfit-tf fit-classifier: error: {path}, line 1 (header): column 'text' appears 2 times (fields 1, 3); "
        "rename or remove all but one.\n"
    )
    assert result.stdout == "" and sorted(os.listdir(tmp_path)) == ["dup.csv"]


# Issue case 7: a folder given as a file was "unknown format ''".
def test_a_folder_is_named_as_a_folder(tmp_path, capsys):
    for name in ("data", "data.csv"):
        folder = tmp_path / name
        folder.mkdir()
        assert refused(folder) == f"{folder}: a folder, not a file; give a .csv, .tsv or .jsonl file."
        for argv in (["evaluate", "--model", str(tmp_path / "model"), "--data", str(folder)],
                     ["predict", "--model", str(tmp_path / "model"), "--data", str(folder)]):
            code, err = run(argv, capsys)
            assert code == 2
            assert err == f"ulmfit-tf {argv[0]}: error: {folder}: a folder, not a file; give a .csv, .tsv or .jsonl file.\n"
    path = write(tmp_path, "noext", "text,label\na,pos\n")
    assert refused(path) == f"{path}: unknown format (no extension); use a .csv, .tsv or .jsonl file."
    assert sorted(os.listdir(tmp_path)) == ["data", "data.csv", "noext"]


@pytest.mark.parametrize(
    "name, content",
    [
        ("bom.csv", codecs.BOM_UTF8 + b"text,label\na,pos\nb,neg\n"),
        ("utf16.csv", "text,label\na,pos\nb,neg\n".encode("utf-16")),  # Excel's "Unicode text": a BOM, little-endian
        ("utf16be.tsv", codecs.BOM_UTF16_BE + "text\tlabel\na\tpos\nb\tneg\n".encode("utf-16-be")),
        ("utf32.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b", "label": "neg"}\n'.encode("utf-32")),
        ("crlf.csv", b"text,label\r\na,pos\r\nb,neg\r\n"),
        ("crlf.tsv", b"text\tlabel\r\na\tpos\r\nb\tneg\r\n"),
        ("crlf.jsonl", b'{"text": "a", "label": "pos"}\r\n{"text": "b", "label": "neg"}\r\n'),
        ("spaces.csv", b"text , label\na,pos\nb,neg\n"),  # header names are stripped
        ("blank_lines.csv", b"text,label\n\na,pos\n\nb,neg\n\n"),
    ],
)
def test_encodings_line_endings_and_header_spaces_read_right(tmp_path, name, content):
    assert datasets.read_table(write(tmp_path, name, content)) == READ


def test_quoted_fields_keep_their_line_breaks_and_an_open_quote_is_refused(tmp_path):
    path = write(tmp_path, "lines.csv", b'text,label\n"one\ntwo",pos\n"three\r\nfour, five",neg\n')
    assert datasets.read_table(path) == {"texts": ["one\ntwo", "three\r\nfour, five"], "labels": ["pos", "neg"]}
    message = (
        '{path}, line 2: a quote (") opened in this row is never closed, so the row runs to the end of the file; '
        'close it (a quote inside a quoted field is written "").'
    )
    # Label first, the open quote swallowed the rest of the file into one text.
    for content in ('label,text\npos,"one\nneg,two\n', 'text,label\n"one,pos\ntwo,neg\n'):
        path = write(tmp_path, "open.csv", content)
        assert refused(path) == message.format(path=path)


def test_a_json_line_separator_inside_a_string_is_not_a_line_end(tmp_path):
    path = write(tmp_path, "separators.jsonl", '{"text": "one\u2028two\u0085three", "label": "pos"}\n')
    assert datasets.read_table(path) == {"texts": ["one\u2028two\u0085three"], "labels": ["pos"]}


@pytest.mark.parametrize(
    "name, content",
    [
        ("utf16_no_bom.csv", "text,label\na,pos\n".encode("utf-16-le")),
        ("archive.csv", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256))),  # gzip
        ("sheet.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"),  # .xlsx renamed
        ("binary.jsonl", bytes(range(256)) * 4),
    ],
)
def test_a_file_that_is_not_text_is_named_so(tmp_path, name, content):
    path = write(tmp_path, name, content)
    assert refused(path) == NOT_TEXT.format(path=path)


def test_a_bad_byte_order_mark_and_bad_utf8_are_named(tmp_path):
    path = write(tmp_path, "odd.csv", codecs.BOM_UTF16_LE + "text,label\n".encode("utf-16-le") + b"\x00")
    assert refused(path) == f"{path}: starts with a UTF-16 byte-order mark but byte 24 is not UTF-16; save the file as UTF-8."
    path = write(tmp_path, "latin1.csv", "text,label\ncafé,pos\n".encode("latin-1"))
    assert refused(path) == f"{path}, line 2, character 4: bytes that are not UTF-8 (b'\\xe9'); save the file as UTF-8."


def test_the_wrong_separator_is_named_with_the_fix(tmp_path):
    cases = [
        ("tabs.csv", "text\tlabel\na\tpos\n", r"'text\tlabel'); the header is separated by tabs: name the file .tsv."),
        ("commas.tsv", "text,label\na,pos\n", "'text,label'); the header is separated by commas: name the file .csv."),
        ("semicolons.csv", "text;label\na;pos\n",
         "'text;label'); the header is separated by semicolons: save it separated by commas (.csv) or tabs (.tsv)."),
    ]
    for name, content, ending in cases:
        path = write(tmp_path, name, content)
        assert refused(path) == f"{path}, line 1 (header): no column 'text' (columns: {ending}"


def test_empty_and_header_only_files_are_refused(tmp_path):
    for name, content, problem in [
        ("empty.csv", b"", "the file is empty."),
        ("spaces.tsv", b"  \n\n", "the file is empty."),
        ("bom_only.csv", codecs.BOM_UTF8, "the file is empty."),
        ("header.csv", b"text,label\n", "the file has a header but no rows."),
        ("header.tsv", b"text\tlabel", "the file has a header but no rows."),
        ("blank.jsonl", b"\n \n", "the file is empty."),
    ]:
        path = write(tmp_path, name, content)
        assert refused(path) == f"{path}: {problem}"


def test_a_row_without_its_label_or_text_is_refused(tmp_path):
    path = write(tmp_path, "short.csv", "text,label\na,pos\nb\n")
    assert refused(path) == f"{path}, line 3: 1 field, but the header has 2: no value for column 'label'."
    # Text last: the row used to be read as an empty text.
    path = write(tmp_path, "text_last.csv", "label,text\npos,a\nneg\n")
    assert refused(path) == f"{path}, line 3: 1 field, but the header has 2: no value for column 'text'."
    path = write(tmp_path, "no_key.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b"}\n')
    assert refused(path) == f"{path}, line 2: no column 'label' (columns: 'text')."
    path = write(tmp_path, "blank.csv", "text,label\na,pos\nb,\n")
    assert refused(path) == f"{path}, line 3, column 'label': the label is blank."
    # Unlabelled reading needs no label.
    assert datasets.read_table(path, label_column=None) == {"texts": ["a", "b"]}


def test_json_lines_hold_one_object_with_strings_or_numbers(tmp_path):
    fix = 'JSON Lines holds one object per line, e.g. {"text": "...", "label": "..."}.'
    for content, line, kind in [
        ('{"text": "a", "label": "pos"}\n["b", "neg"]\n', 2, "an array"),
        ('[{"text": "a", "label": "pos"}, {"text": "b", "label": "neg"}]\n', 1, "an array"),  # a .json file
        ('"a"\n', 1, "a string"),
        ("7\n", 1, "a number"),
    ]:
        path = write(tmp_path, "rows.jsonl", content)
        assert refused(path) == f"{path}, line {line}: {kind}, not a JSON object; {fix}"
    path = write(tmp_path, "null.jsonl", '{"text": null, "label": "pos"}\n')
    assert refused(path) == (
        f'{path}, line 1, column \'text\': the text is null; give a string ("" for an empty text) or leave the row out.'
    )
    path = write(tmp_path, "tags.jsonl", '{"text": "a", "label": ["pos", "neg"]}\n')
    assert refused(path) == f"{path}, line 1, column 'label': an array, not a string or a number."
    # Numbers and booleans are read as written.
    path = write(tmp_path, "numbers.jsonl", '{"text": 12, "label": 2.50}\n{"text": "b", "label": true}\n')
    assert datasets.read_table(path) == {"texts": ["12", "b"], "labels": ["2.50", "true"]}

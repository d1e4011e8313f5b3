"""Reading the files a user gives without trusting them: bounded in bytes and in nesting.

A model folder, a preset or an exported file may be damaged or hostile. Before
anything loads one, a cheap check refuses it in one line when it declares
more than a sane amount of data (a zip bomb: a `.keras` member declaring
gigabytes stored in megabytes) or nests JSON deeper than any config ulmfit-tf
writes (Python's parser would fail with a `RecursionError`). The checks read
at most the bytes of the JSON documents themselves, so a hostile file costs
milliseconds and megabytes, not gigabytes.
"""

import json
import os
import re
import zipfile

import numpy as np

from ulmfit_tf.errors import UserInputError

# A Keras config of the largest model here is about 10 kB and nests about 15
# deep; a vocabulary or a SentencePiece model a few MB.
MAX_JSON_BYTES = 16 << 20
MAX_JSON_DEPTH = 100
# A member of an archive may expand to at most this much more than it takes
# in the file: `.keras` files are stored uncompressed, torch files too.
MAX_EXPANSION = 20
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_CHUNK = 1 << 20
_MARKS = np.zeros(256, bool)
_MARKS[[ord(c) for c in '"[]{}']] = True


def read_json_file(path, damaged="the folder is damaged"):
    """The JSON document of a file, refused in one line when too large, too deep or not JSON.

    Args:
        path: The file.
        damaged: String, the end of the message (what is damaged, what to do).

    Raises:
        UserInputError: naming the file and the problem.
    """
    return parse_json(read_bounded(path, damaged), os.fspath(path), damaged)


def read_bounded(path, damaged="the folder is damaged", limit=MAX_JSON_BYTES):
    """The bytes of a small file (a config, a vocabulary, a tokenizer model), refused when over `limit`."""
    shown = os.fspath(path)
    with open(shown, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise UserInputError(f"{shown!r} holds {_size(size)}, more than the {_size(limit)} ulmfit-tf reads from such a file; {damaged}.")
        return f.read(limit + 1)


def parse_json(content, name, damaged="the folder is damaged"):
    """`json.loads(content)` after the depth check; bytes are read as UTF-8."""
    check_json_depth(content, name, damaged)
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserInputError(f"{name!r} is not valid JSON ({_short(error)}); {damaged}.") from None


def check_json_depth(content, name, damaged="the folder is damaged", max_depth=MAX_JSON_DEPTH):
    """Refuses JSON (bytes) whose arrays and objects nest deeper than `max_depth`, without parsing it.

    Linear in the bytes and bounded in memory: escapes are dropped, then the
    brackets outside strings are summed up 1 MiB at a time.
    """
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    content = _ESCAPE.sub(b"", content)
    depth = deepest = quotes = 0
    for start in range(0, len(content), _CHUNK):
        marks = np.frombuffer(content, np.uint8, min(_CHUNK, len(content) - start), start)
        marks = marks[_MARKS[marks]]
        is_quote = marks == ord('"')
        outside = (quotes + np.cumsum(is_quote, dtype=np.int64)) % 2 == 0
        steps = np.where((marks == ord("[")) | (marks == ord("{")), 1, -1)[outside & ~is_quote]
        levels = depth + np.cumsum(steps, dtype=np.int64)
        deepest = max(deepest, int(levels.max(initial=0)))
        depth, quotes = (int(levels[-1]) if len(levels) else depth), quotes + int(is_quote.sum())
        if deepest > max_depth:
            break
    if deepest > max_depth:
        raise UserInputError(
            f"{name!r} nests JSON more than {max_depth} levels deep, deeper than any file ulmfit-tf writes; {damaged}."
        )


def check_archive(path, json_members=(), damaged="write it again"):
    """Refuses a zip archive (`.keras`, torch file) whose members declare implausible sizes.

    Reads the archive's directory and the named JSON members only: each
    member may expand to at most `MAX_EXPANSION` times its stored size (or
    1 MiB), JSON members to `MAX_JSON_BYTES` and `MAX_JSON_DEPTH` levels.

    Args:
        path: The archive.
        json_members: Names of its JSON members to check for depth.
        damaged: String, the fix the message ends with.

    Raises:
        UserInputError: naming the file, the member and the limit.
    """
    shown = os.fspath(path)
    try:
        with zipfile.ZipFile(shown) as archive:
            for info in archive.infolist():
                limit = MAX_JSON_BYTES if info.filename.endswith(".json") else max(MAX_EXPANSION * info.compress_size, 1 << 20)
                if info.file_size > limit:
                    raise UserInputError(
                        f"{shown!r} is damaged or hostile: its member {info.filename!r} declares {_size(info.file_size)} "
                        f"stored in {_size(info.compress_size)}, over the {_size(limit)} it may expand to; {damaged}."
                    )
            names = set(archive.namelist())
            for member in json_members:
                if member in names:
                    check_json_depth(archive.read(member), f"{shown}:{member}", f"the file is damaged; {damaged}")
    except UserInputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise UserInputError(f"{shown!r} is corrupt ({_short(error)}); {damaged}.") from None


def _size(count):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("kiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _short(error):
    return " ".join((str(error).strip() or type(error).__name__).split())[:200]

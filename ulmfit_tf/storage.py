"""What writing to a real disk needs: the user's file modes, a full disk said in one line, no empty folders left.

- Files and folders ulmfit-tf writes get the modes the user's umask gives
  (`0o644` and `0o755` under the usual `022`), although they are made
  under private temporary names first (`tempfile` makes those `0o600` and
  `0o700`).
- A write that fails for want of space (`ENOSPC`, a quota, TensorFlow's
  `ResourceExhaustedError` for the same) becomes one line naming the disk,
  the space it has left, and the fix.
- Folders made for an output that then fails are removed again.
- A new file never replaces one another run put there meanwhile
  (`link_new`); a folder is swapped in with one atomic exchange (`exchange`).
"""

import contextlib
import ctypes
import errno
import os
import shutil

from ulmfit_tf.errors import UserInputError

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS)


def umask():
    """The process's umask (read from /proc on Linux, so no other thread sees it change)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/status", encoding="ascii") as f:
            return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path):
    """Gives `path` (a file, or a folder and everything in it) the modes the umask gives new files and folders."""
    mask = umask()
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~mask)
    for root, folders, files in os.walk(path):
        for name in folders:
            os.chmod(os.path.join(root, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


def is_disk_full(error):
    """Whether an exception says the disk (or the user's quota) is full."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return True
    if type(error).__name__ in ("ResourceExhaustedError", "OSError", "RuntimeError"):
        text = str(error)
        return "No space left on device" in text or "Disk quota exceeded" in text or "errno = 28" in text
    return False


def disk_full_error(path):
    """The one-line `UserInputError` for a write of `path` that ran out of space."""
    free = shutil.disk_usage(_existing_ancestor(os.path.abspath(os.fspath(path)))).free
    return UserInputError(
        f"No space left to write {os.fspath(path)!r} ({free / 1e6:.1f} MB free on its disk); nothing was written: "
        "free some space or give a path on another disk."
    )


def check_free_space(path, needed):
    """Refuses, before writing, an output of about `needed` bytes at `path` that the disk cannot hold."""
    folder = _existing_ancestor(os.path.abspath(os.fspath(path)))
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise UserInputError(
            f"Not enough space to write {os.fspath(path)!r}: it needs about {needed / 1e6:.1f} MB and the disk of "
            f"{folder!r} has {free / 1e6:.1f} MB free; free some space or give a path on another disk."
        )


@contextlib.contextmanager
def new_folders_removed_on_failure(path):
    """Removes the folders above `path` that the block made, if it fails (or is interrupted) and they are empty."""
    path = os.path.abspath(os.fspath(path))
    missing = []
    ancestor = os.path.dirname(path)
    while not os.path.exists(ancestor):
        missing.append(ancestor)
        ancestor = os.path.dirname(ancestor)
    try:
        yield
    except BaseException:
        for folder in missing:  # deepest first
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        raise


@contextlib.contextmanager
def disk_full_as_one_line(path):
    """Turns a failed write of `path` for want of space into `disk_full_error(path)`."""
    try:
        yield
    except Exception as error:
        if not is_disk_full(error):
            raise
        raise disk_full_error(path) from None


def link_new(partial, path):
    """Puts `partial` at `path` unless a file appeared there meanwhile (another run): never replaces it.

    On a filesystem without hard links (FAT, exFAT, some network shares) it
    checks, then renames: a run that writes `path` between the two can
    still be replaced there.
    """
    try:
        os.link(partial, path)
        return
    except FileExistsError:
        taken = True
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        taken = os.path.lexists(path)
    if taken:
        raise UserInputError(
            f"{os.fspath(path)!r} was written by another run meanwhile: pass --overwrite (`overwrite=True`) to "
            "replace it, or give another path."
        )
    os.replace(partial, path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a, b):
    """Swaps two folders atomically (Linux `renameat2(RENAME_EXCHANGE)`), else with two renames."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), b)
    aside = a + ".old"
    os.replace(b, aside)
    os.replace(a, b)
    os.replace(aside, a)


def _existing_ancestor(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path

"""XLA executables kept on disk, so that a new process loads what an earlier one compiled.

What it buys: a stacked fit compiles its loop with XLA once per batch size, a large part of
a short run on a CPU (``benchmarks/RESULTS.md``); a process that loads the executable an
earlier run compiled skips that compile. ``sweep_train`` turns the cache on before its first
run's first XLA compile and publishes what the run compiled after it
(:class:`kerasweep._speedups.run.RunSpeedups`). TensorFlow can persist those executables
(``--tf_xla_persistent_cache_directory``), but not safely as it is:

- an entry it cannot read (a truncated file) fails the compile, and so the run;
- it writes entries in place, so two agents on one machine can tear an entry that a third
  process then fails on;
- its key holds neither the CPU's features nor TensorFlow's version.

:func:`enable_xla_cache` therefore gives TensorFlow a directory of this process's own: hard
links to the shared entries that parse whole (checked here before linking), in a directory
keyed by TensorFlow's version and the CPU's features. What the process compiles lands
there; :meth:`XlaCache.publish` moves each new entry into the shared directory with one
``os.replace``, so other processes only ever see whole entries. Only CPU executables are
kept (a GPU's model is not in TensorFlow's key either). TensorFlow 2.18 sometimes lowers
the same traced loop to a second HLO module (a race under CPU load); a process that gets
it compiles once and publishes it beside the first, and later processes load either.

It is on by default where TensorFlow's C++ errors are hidden (``TF_CPP_MIN_LOG_LEVEL=3``,
as kerasweep's command line and agents set): TensorFlow first tries to read each entry as
text and logs an error line before it reads it as binary. ``KERASWEEP_XLA_CACHE=DIR``
turns it on with that directory, ``KERASWEEP_XLA_CACHE=off`` turns it off, and a
``TF_XLA_FLAGS`` that already names a cache directory is left alone.

Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> cache = XlaCache(root, tensorflow_version="2.21.0")
    >>> cache.publish(), len(cache.entries())  # nothing compiled yet
    (0, 0)
    >>> cache.close()
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.metadata
import os
import platform
import shutil
import socket
import sys
import uuid
from pathlib import Path

__all__ = ["ENV", "XlaCache", "enable_xla_cache", "is_whole_entry"]

#: The environment variable that chooses the cache directory, or ``off``.
ENV = "KERASWEEP_XLA_CACHE"
#: The shared entries beyond this size are pruned, oldest first.
MAX_BYTES = 512 * 2**20
_ENTRY_GLOB = "xla_compile_cache__*.pb"
_DIRECTORY_FLAG = "--tf_xla_persistent_cache_directory"
_DEVICE_TYPES_FLAG = "--tf_xla_persistent_cache_device_types=CPU"
_OFF = {"", "0", "off", "false", "no"}
_enabled: XlaCache | None = None


def enable_xla_cache() -> XlaCache | None:
    """Turn the cache on for this process (once), where the environment allows it.

    Call it before the process's first XLA compile: TensorFlow reads ``TF_XLA_FLAGS`` then.

    Returns:
        The process's cache, or ``None`` where it stays off (see the module's docstring).
    """
    global _enabled
    if _enabled is not None:
        return _enabled
    inherited = os.environ.get("TF_XLA_FLAGS", "")
    flags = _without_inherited_cache(inherited)
    if flags != inherited:  # a parent's own directory is never this process's
        if flags:
            os.environ["TF_XLA_FLAGS"] = flags
        else:
            del os.environ["TF_XLA_FLAGS"]
    setting = os.environ.get(ENV)
    if setting is not None and setting.strip().lower() in _OFF:
        return None
    if _DIRECTORY_FLAG.lstrip("-") in flags:  # the user's own cache
        return None
    if setting is None and os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") != "3":
        return None
    root = Path(setting) if setting else _default_root()
    try:
        cache = XlaCache(root, tensorflow_version=_tensorflow_version())
    except OSError:
        return None  # an unwritable cache costs a compile, never the run
    os.environ["TF_XLA_FLAGS"] = (
        f"{flags} {_DIRECTORY_FLAG}={cache.private} {_DEVICE_TYPES_FLAG}"
    ).strip()
    atexit.register(cache.close)
    _enabled = cache
    return cache


def _without_inherited_cache(flags: str) -> str:
    """``flags`` less the cache flags that a parent process's :func:`enable_xla_cache` set.

    A child inherits its parent's ``TF_XLA_FLAGS``, which name the parent's own directory:
    TensorFlow would write the child's entries there in place, beside the parent's and
    any sibling's. A child takes a directory of its own instead.
    """
    words = flags.split()
    for word in words:
        key, _, value = word.partition("=")
        if key == _DIRECTORY_FLAG and _is_private_directory(Path(value)):
            return " ".join(w for w in words if w not in (word, _DEVICE_TYPES_FLAG))
    return flags


def _is_private_directory(path: Path) -> bool:
    return path.name.startswith("proc-") and path.parent.name.startswith("tf-")


class XlaCache:
    """Shared XLA entries under ``root``, and this process's own directory of them.

    Args:
        root: The cache's directory (made if missing).
        tensorflow_version: Part of the key: entries of another version are not seen.
    """

    def __init__(self, root: str | os.PathLike[str], *, tensorflow_version: str) -> None:
        self.shared = Path(root) / f"tf-{tensorflow_version}-{_cpu_digest()}"
        self.shared.mkdir(parents=True, exist_ok=True)
        self._host = socket.gethostname()
        self.private = self.shared / f"proc-{self._host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._remove_stale_private_directories()
        self.private.mkdir()
        self._seen: set[str] = set()
        for entry in self.entries():
            if not is_whole_entry(entry):
                with contextlib.suppress(OSError):
                    entry.unlink()
                continue
            try:
                _link_or_copy(entry, self.private / entry.name)
            except OSError:
                continue
            self._seen.add(entry.name)

    def entries(self) -> list[Path]:
        """The shared entries, as files."""
        return sorted(self.shared.glob(_ENTRY_GLOB))

    def publish(self) -> int:
        """Move this process's new, whole entries into the shared directory.

        Returns:
            How many were published.
        """
        published = 0
        if not self.private.is_dir():
            return 0
        for entry in sorted(self.private.glob(_ENTRY_GLOB)):
            if entry.name in self._seen or not is_whole_entry(entry):
                continue
            staged = self.shared / f".staged-{uuid.uuid4().hex}"
            try:
                _link_or_copy(entry, staged)
                os.replace(staged, self.shared / entry.name)
            except OSError:
                with contextlib.suppress(OSError):
                    staged.unlink()
                continue
            self._seen.add(entry.name)
            published += 1
        if published:
            self._prune()
        return published

    def close(self) -> None:
        """Publish what is new, then remove this process's directory."""
        with contextlib.suppress(OSError):
            self.publish()
        shutil.rmtree(self.private, ignore_errors=True)

    def _prune(self) -> None:
        sized = []
        for entry in self.entries():
            with contextlib.suppress(OSError):
                stat = entry.stat()
                sized.append((stat.st_mtime, stat.st_size, entry))
        total = sum(size for _, size, _ in sized)
        for _, size, entry in sorted(sized):
            if total <= MAX_BYTES:
                break
            with contextlib.suppress(OSError):
                entry.unlink()
            total -= size

    def _remove_stale_private_directories(self) -> None:
        """Directories of this host's processes that ended without closing theirs."""
        prefix = f"proc-{self._host}-"
        for directory in self.shared.glob(f"{prefix}*"):
            pid = directory.name[len(prefix) :].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(directory, ignore_errors=True)


def is_whole_entry(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a whole serialized XLA cache entry.

    TensorFlow's ``XlaSerializedCacheEntry`` is three length-delimited fields: the key (1),
    the HLO module (2) and the executable (3). A file that ends inside a field, holds
    another field or lacks one is not whole; TensorFlow would fail the compile on it.
    """
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    fields: set[int] = set()
    i = 0
    try:
        while i < len(data):
            tag, i = _varint(data, i)
            if tag & 7 != 2 or tag >> 3 not in (1, 2, 3):
                return False
            length, i = _varint(data, i)
            i += length
            fields.add(tag >> 3)
    except IndexError:
        return False
    return i == len(data) and fields == {1, 2, 3}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i
        if shift > 63:
            raise IndexError("varint too long")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True


def _default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kerasweep" / "xla"


def _tensorflow_version() -> str:
    module = sys.modules.get("tensorflow")
    if module is not None and getattr(module, "__version__", None):
        return str(module.__version__)
    for distribution in ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(distribution)
    return "unknown"


def _cpu_digest() -> str:
    """A short digest of what XLA's CPU code depends on: the machine and its features."""
    parts = [platform.machine(), platform.processor()]
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key = line.split(":", 1)[0].strip()
            if key in ("flags", "Features", "model name", "vendor_id", "cpu family", "model"):
                parts.append(line)
                if key in ("flags", "Features"):
                    break  # the first processor's lines are enough
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]

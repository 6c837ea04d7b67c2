"""CSV files in an encoding other than UTF-8, declared by their owner: read through UTF-8 copies.

DuckDB reads CSV as UTF-8 only. Files exported by Windows programs and many published data sets are in
Windows-1252 or ISO-8859-1, and spreadsheets' "Unicode text" is UTF-16. Such files are read where their
encoding is declared (`CsvFormat.encoding`; in the catalog, the table's ``serialization.encoding``, as Hive's
and Athena's SerDes take it), never guessed: a guess that is wrong would rewrite every non-ASCII character
of the records, and the output carries the records' own columns. Bytes the declared encoding leaves undefined
read as U+FFFD, as Java's decoders (and so Spark's) read them.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from findmatches.engine.types import EngineError

UTF8 = "utf-8"
_CHUNK = 1 << 20
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open}
#: Compressions DuckDB reads but Python's standard library does not: such files are read as UTF-8 only.
_SEALED = (".zst", ".snappy", ".lz4")


def codec_name(encoding: str) -> str:
    """Python's name for ``encoding`` (``ISO-8859-1`` → ``iso8859-1``); EngineError where it is unknown."""
    try:
        return codecs.lookup(encoding.strip()).name
    except LookupError:
        raise EngineError(
            f"Unknown text encoding {encoding!r} (known are, for example, UTF-8, windows-1252, ISO-8859-1, "
            "UTF-16)."
        ) from None


def is_utf8(encoding: str | None) -> bool:
    """Whether ``encoding`` is UTF-8; None (not declared) is."""
    return encoding is None or codec_name(encoding) == UTF8


def _open(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed where its name ends in ``.gz`` or ``.bz2``."""
    opener = _OPENERS.get(path.suffix.lower())
    return opener(path, "rb") if opener is not None else open(path, "rb")  # type: ignore[operator]


def utf8_copy(path: Path, encoding: str, folder: Path) -> Path:
    """``path`` decoded from ``encoding`` and written as UTF-8 (uncompressed, without a byte-order mark) into a
    folder of its own under ``folder``, under the file's own name less a ``.gz`` or ``.bz2`` (so that errors
    name it as its owner knows it)."""
    if path.suffix.lower() in _SEALED:
        raise EngineError(
            f"Cannot read {path.name} as {encoding}: files compressed with {path.suffix} are read as UTF-8 only."
        )
    name = path.name.removesuffix(path.suffix) if path.suffix.lower() in _OPENERS else path.name
    out = folder / hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16] / name
    out.parent.mkdir(parents=True, exist_ok=True)
    decoder = codecs.getincrementaldecoder(codec_name(encoding))(errors="replace")
    try:
        with _open(path) as src, open(out, "w", encoding=UTF8, newline="") as dst:
            first = True
            while chunk := src.read(_CHUNK):
                text = decoder.decode(chunk)
                if first:
                    text = text.removeprefix("\ufeff")  # a byte-order mark that the codec keeps
                    first = False
                dst.write(text)
            dst.write(decoder.decode(b"", final=True))
    except (OSError, EOFError, zlib.error) as e:
        raise EngineError(f"Cannot read {path.name}: {e}") from e
    return out


def as_utf8(paths: Sequence[Path], encoding: str | None, folder: Path) -> tuple[Path, ...]:
    """``paths`` as files of UTF-8: themselves where ``encoding`` is UTF-8 or None, else `utf8_copy` each."""
    if is_utf8(encoding):
        return tuple(paths)
    assert encoding is not None
    return tuple(utf8_copy(path, encoding, folder) for path in paths)

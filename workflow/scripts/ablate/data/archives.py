"""Download dataset archives (resumable, retried, SHA-256 checked) and extract them safely.

``download`` writes to ``<destination>.part`` and renames it only once the checksum matches,
so a file at ``destination`` is always complete and verified. ``extract`` checks every member
before writing anything, unpacks into a staging folder and renames it to the target at the end,
so the target folder exists only if the whole archive was extracted.

Zip archives are extracted without symlinks: a zip symlink entry (or other special file) is
refused with ArchiveError. Tar archives may keep symlinks that stay inside the target folder.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import lzma
import posixpath
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PureWindowsPath
from typing import NoReturn

log = logging.getLogger(__name__)

CHUNK = 1 << 20
# What truncated or corrupt archives raise while being read (bz2 and gzip raise OSError).
BROKEN = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)
# ...but these OSErrors come from the disk being written to, not from the archive.
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EPERM}


class DownloadError(RuntimeError):
    """The download failed after all attempts, or its checksum did not match."""


class ArchiveError(ValueError):
    """The archive is unsafe to extract, not an archive, or truncated or corrupt."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    destination: str | Path,
    sha256: str,
    *,
    attempts: int = 4,
    timeout: float = 60.0,
    backoff: float = 1.0,
) -> Path:
    """Download url to destination and verify its SHA-256; return destination."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    destination, expected = Path(destination), sha256.strip().lower()
    if destination.exists():
        if sha256_of(destination) == expected:
            log.info("%s: already downloaded and verified", destination)
            return destination
        log.warning("%s: checksum does not match; downloading it again", destination)
        destination.unlink()
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    log.info("downloading %s to %s", url, destination)
    last_error: Exception | None = None
    for attempt in range(attempts):
        try:
            _fetch(url, part, timeout)
            break
        except urllib.error.HTTPError as error:
            error.close()
            if error.code < 500:  # a client error will not go away by asking again
                raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
            last_error = error
        except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSError
            last_error = error
        if attempt + 1 < attempts:
            delay = backoff * 2**attempt
            log.warning(
                "%s: attempt %d failed (%s); retrying in %gs", url, attempt + 1, last_error, delay
            )
            time.sleep(delay)
    else:
        # Keep the .part file: the next run resumes from it instead of starting over.
        raise DownloadError(
            f"{url}: download failed after {attempts} attempts; last error: {last_error}. "
            f"The partial file {part} is kept; run again to resume."
        )
    actual = sha256_of(part)
    if actual != expected:
        part.unlink()  # a wrong file must not be resumed or mistaken for the dataset
        raise DownloadError(
            f"{url}: SHA-256 mismatch: expected {expected}, got {actual}. "
            "Check dataset.sha256 in the config, or the URL."
        )
    part.replace(destination)  # atomic: destination is never half-written
    log.info("%s: done, %d bytes, SHA-256 verified", destination, destination.stat().st_size)
    return destination


def _fetch(url: str, part: Path, timeout: float) -> None:
    """Fetch url into part, resuming from its current size; raise on any short read."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left past offset: the .part is complete
            error.close()
            log.info("%s: %d bytes already complete", part, offset)
            return
        raise
    with response:
        if offset and response.status == 206:
            log.info("%s: resuming at byte %d", url, offset)
            mode = "ab"
        else:
            if offset:
                log.info("%s: server ignored the range request; starting from byte 0", url)
            mode = "wb"
        length = response.headers.get("Content-Length")
        received = 0
        with part.open(mode) as file:
            while block := response.read(CHUNK):
                file.write(block)
                received += len(block)
    # http.client returns short bodies silently when read in chunks; check the length here.
    if length is not None and received < int(length):
        raise ConnectionError(f"connection closed after {received} of {length} bytes")


def extract(archive: str | Path, target: str | Path) -> None:
    """Extract a zip or tar(.gz/.bz2/.xz) archive into target (which must not exist yet)."""
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise FileExistsError(f"{target} already exists; remove it to extract {archive} again")
    staging = target.parent / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # left over from an interrupted run
    # By content, not name: tar first, since a tar holding a zip can look like a zip.
    if tarfile.is_tarfile(archive):
        unpack = _extract_tar
    elif zipfile.is_zipfile(archive):
        unpack = _extract_zip
    else:
        raise ArchiveError(
            f"{archive} is not a zip or tar archive, or it is truncated or corrupt; "
            "delete it and run again."
        )
    try:
        unpack(archive, staging)
        staging.rename(target)
    except tarfile.FilterError as error:  # tarfile's own check caught what ours did not
        raise ArchiveError(f"{archive}: refusing member {error.tarinfo.name!r}: {error}") from error
    except (*BROKEN, KeyError) as error:
        if isinstance(error, OSError) and error.errno in DISK_ERRORS:
            raise  # the disk, not the archive: keep the verified download
        raise ArchiveError(
            f"{archive} is truncated or corrupt ({error}); delete it and run again."
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # nothing there once renamed
    log.info("extracted %s into %s", archive, target)


def _extract_tar(archive: Path, staging: Path) -> None:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()  # reads the whole archive: truncation shows up here
        # tarfile stops quietly at a missing or garbled header (a tar cut at a member
        # boundary); only the end-of-archive block of zeros tells it was complete.
        tar.fileobj.seek(tar.offset)
        if tar.fileobj.read(tarfile.BLOCKSIZE) != tarfile.NUL * tarfile.BLOCKSIZE:
            raise tarfile.ReadError("no end-of-archive marker")
        for member in members:
            name, link = member.name, member.linkname
            if why := _unsafe_name(name):
                _refuse(archive, name, why)
            if member.issym() and _leaves(posixpath.dirname(name), link):
                _refuse(archive, name, f"symlink to {link!r} points outside the target")
            if member.islnk() and _leaves("", link):  # hard links are relative to the root
                _refuse(archive, name, f"hard link to {link!r} points outside the target")
            if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                _refuse(archive, name, "device, fifo or other special file")
        staging.mkdir(parents=True)
        # The data filter re-checks each member against the files already on disk, which
        # catches links that only escape through other links (a -> ., b -> a/..).
        tar.extractall(staging, members=members, filter="data")


def _extract_zip(archive: Path, staging: Path) -> None:
    with zipfile.ZipFile(archive) as zip_file:
        for info in zip_file.infolist():
            if why := _unsafe_name(info.filename):
                _refuse(archive, info.filename, why)
            mode = info.external_attr >> 16  # Unix mode, 0 for archives made elsewhere
            if stat.S_ISLNK(mode):  # the entry's content is the link target
                link = zip_file.read(info).decode(errors="replace")
                _refuse(archive, info.filename, f"symlink to {link!r} (zip symlinks are refused)")
            if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                _refuse(archive, info.filename, "device, fifo or other special file")
        staging.mkdir(parents=True)
        zip_file.extractall(staging)


def _is_absolute(path: str) -> bool:
    return path.startswith(("/", "\\")) or bool(PureWindowsPath(path).drive)


def _unsafe_name(name: str) -> str | None:
    """Why a member name must not be joined onto the target folder, or None if it is safe."""
    if _is_absolute(name):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' in path"
    return None


def _leaves(base: str, link: str) -> bool:
    """Whether link, read from the folder base inside the archive, points outside it."""
    if _is_absolute(link):
        return True
    resolved = posixpath.normpath(posixpath.join(base, link.replace("\\", "/")))
    return resolved == ".." or resolved.startswith("../")


def _refuse(archive: Path, member: str, why: str) -> NoReturn:
    raise ArchiveError(f"{archive}: refusing member {member!r}: {why}; nothing was extracted")

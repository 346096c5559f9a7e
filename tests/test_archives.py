"""ablate.data.archives against a local HTTP server (with Range support) and generated archives."""

from __future__ import annotations

import hashlib
import io
import logging
import random
import stat
import tarfile
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ablate.data.archives import ArchiveError, DownloadError, download, extract

FORMATS = ["zip", "tar", "tar.gz", "tar.bz2", "tar.xz"]
TAR_MODES = {"tar": "w", "tar.gz": "w:gz", "tar.bz2": "w:bz2", "tar.xz": "w:xz"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a local server --------------------------------------------------------------------------


@dataclass
class Server:
    """Serves ``files`` by name; the counters make the next requests misbehave."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range)
    truncate: int = 0  # this many answers send half their body, then hang up
    fail: list[int] = field(default_factory=list)  # statuses for the next answers
    stall: int = 0  # this many answers send headers, then wait for the client's next request
    ignore_range: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)  # a request came in

    def serve(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.url}/{name}"


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.requests.append((self.path, self.headers.get("Range")))
            server.arrived.set()
            data = server.files.get(self.path.lstrip("/"))
            if server.fail or data is None:
                self.send_error(server.fail.pop(0) if server.fail else 404)
                return
            start, status = 0, 200
            if (ranged := self.headers.get("Range")) and not server.ignore_range:
                start, status = int(ranged.removeprefix("bytes=").rstrip("-")), 206
                if start >= len(data):
                    self.send_error(416)
                    return
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if server.stall:
                server.stall -= 1
                # No clock races: the body never comes before the client gave up and asked
                # again (or 30 s passed, which fails the test).
                server.arrived.clear()
                server.arrived.wait(30)
            if server.truncate:
                server.truncate -= 1
                body = body[: len(body) // 2]  # full Content-Length, half the bytes
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# --- generated archives ----------------------------------------------------------------------

FILES = {
    "data/cats/a.bin": random.Random(1).randbytes(40_000),
    "data/dogs/b.bin": random.Random(2).randbytes(30_000),
    "data/readme.txt": b"two classes\n",
}


def tar_member(name: str, data: bytes = b"", **attributes: object) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)  # set by hand: tarfile.add would strip a leading "/"
    info.size = len(data)
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, data


def write_tar(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes]], fmt: str = "tar.gz"
) -> Path:
    with tarfile.open(path, TAR_MODES[fmt]) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def zip_symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def write_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zip_file:
        for name, data in members:
            zip_file.writestr(name, data)
    return path


def build(folder: Path, fmt: str, files: dict[str, bytes] = FILES) -> Path:
    path = folder / f"dataset.{fmt}"
    if fmt == "zip":
        return write_zip(path, list(files.items()))
    return write_tar(path, [tar_member(name, data) for name, data in files.items()], fmt)


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- download --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_download_verify_and_extract(server, tmp_path, fmt):
    data = build(tmp_path, fmt).read_bytes()
    url = server.serve(f"dataset.{fmt}", data)
    destination = tmp_path / "downloads" / f"dataset.{fmt}"

    assert download(url, destination, sha256(data), backoff=0) == destination

    assert destination.read_bytes() == data
    assert not Path(f"{destination}.part").exists()
    extract(destination, tmp_path / "raw")
    assert tree(tmp_path / "raw") == FILES
    assert not (tmp_path / ".raw.partial").exists()


def test_wrong_checksum_leaves_nothing_behind(server, tmp_path):
    data = b"not what the config expects" * 100
    url = server.serve("file.zip", data)
    destination = tmp_path / "file.zip"
    wrong = "0" * 64

    with pytest.raises(DownloadError) as caught:
        download(url, destination, wrong, backoff=0)

    assert str(caught.value) == (
        f"{url}: SHA-256 mismatch: expected {wrong}, got {sha256(data)}. Check dataset.sha256 "
        "in the config, or the URL."
    )
    assert not destination.exists()
    assert not Path(f"{destination}.part").exists()


def test_dropped_connections_resume_with_range(server, tmp_path, caplog):
    data = FILES["data/cats/a.bin"]
    url = server.serve("a.bin", data)
    server.truncate = 2
    destination = tmp_path / "a.bin"
    caplog.set_level(logging.INFO, logger="ablate.data.archives")

    download(url, destination, sha256(data), attempts=4, backoff=0)

    first = len(data) // 2
    second = first + (len(data) - first) // 2
    assert server.requests == [
        ("/a.bin", None),
        ("/a.bin", f"bytes={first}-"),
        ("/a.bin", f"bytes={second}-"),
    ]
    assert destination.read_bytes() == data
    assert not Path(f"{destination}.part").exists()
    assert f"resuming at byte {first}" in caplog.text


def test_gives_up_after_attempts_and_keeps_part_for_next_run(server, tmp_path):
    data = FILES["data/dogs/b.bin"]
    url = server.serve("b.bin", data)
    server.truncate = 1000
    destination = tmp_path / "b.bin"
    part = Path(f"{destination}.part")

    with pytest.raises(DownloadError) as caught:
        download(url, destination, sha256(data), attempts=3, backoff=0)

    message = str(caught.value)
    assert url in message and "3 attempts" in message and "connection closed" in message
    assert len(server.requests) == 3
    partial = part.read_bytes()
    assert 0 < len(partial) < len(data) and data.startswith(partial)
    assert not destination.exists()

    server.truncate, server.requests = 0, []
    download(url, destination, sha256(data), backoff=0)

    assert server.requests == [("/b.bin", f"bytes={len(partial)}-")]
    assert destination.read_bytes() == data
    assert not part.exists()


def test_server_errors_and_timeouts_are_retried(server, tmp_path):
    data = b"x" * 5000
    url = server.serve("x.bin", data)
    server.fail, server.stall = [503], 1

    download(url, tmp_path / "x.bin", sha256(data), timeout=2.0, backoff=0)

    assert len(server.requests) == 3  # 503, then a stalled body, then the file
    assert (tmp_path / "x.bin").read_bytes() == data


def test_the_log_tells_each_step_of_a_download(server, tmp_path, caplog):
    data = FILES["data/cats/a.bin"]
    url = server.serve("a.bin", data)
    destination = tmp_path / "a.bin"
    part = f"{destination}.part"
    caplog.set_level(logging.INFO, logger="ablate.data.archives")

    def logged() -> list[str]:
        messages = [record.getMessage() for record in caplog.records]
        caplog.clear()
        return messages

    server.truncate = 1
    download(url, destination, sha256(data), attempts=2, backoff=0)
    first, retry, *rest = logged()
    assert first == f"downloading {url} to {destination}"
    assert retry.startswith(f"{url}: attempt 1 failed (connection closed after ")
    assert retry.endswith("); retrying in 0s")
    assert rest == [f"{url}: resuming at byte {len(data) // 2}",
                    f"{destination}: done, {len(data)} bytes, SHA-256 verified"]  # fmt: skip

    download(url, destination, sha256(data))
    assert logged() == [f"{destination}: already downloaded and verified"]

    destination.write_bytes(b"corrupted")
    Path(part).write_bytes(data)  # a complete .part from an earlier run
    download(url, destination, sha256(data), backoff=0)
    assert logged() == [
        f"{destination}: checksum does not match; downloading it again",
        f"downloading {url} to {destination}",
        f"{part}: {len(data)} bytes already complete",
        f"{destination}: done, {len(data)} bytes, SHA-256 verified",
    ]

    server.ignore_range = True
    destination.unlink()
    Path(part).write_bytes(b"stale")
    download(url, destination, sha256(data), backoff=0)
    assert f"{url}: server ignored the range request; starting from byte 0" in logged()


def test_a_file_larger_than_one_read_arrives_whole_in_one_attempt(server, tmp_path):
    data = random.Random(3).randbytes(5 * (1 << 19))  # 2.5 MiB: three reads of 1 MiB
    url = server.serve("big.bin", data)
    download(url, tmp_path / "big.bin", sha256(data), attempts=1)
    assert (tmp_path / "big.bin").read_bytes() == data and len(server.requests) == 1


def test_a_server_error_while_resuming_is_retried_not_taken_for_the_end(server, tmp_path):
    data = FILES["data/dogs/b.bin"]
    url = server.serve("b.bin", data)
    Path(tmp_path / "b.bin.part").write_bytes(data[:1000])
    server.fail = [500]

    download(url, tmp_path / "b.bin", sha256(data), attempts=2, backoff=0)

    assert server.requests == [("/b.bin", "bytes=1000-"), ("/b.bin", "bytes=1000-")]
    assert (tmp_path / "b.bin").read_bytes() == data


def test_at_least_one_attempt(server, tmp_path):
    with pytest.raises(ValueError) as caught:
        download(f"{server.url}/x", tmp_path / "x", "0" * 64, attempts=0)
    assert str(caught.value) == "attempts must be at least 1, not 0"


def test_not_found_fails_at_once(server, tmp_path):
    url = f"{server.url}/missing.zip"

    with pytest.raises(DownloadError, match="404") as caught:
        download(url, tmp_path / "missing.zip", "0" * 64, attempts=4, backoff=0)

    assert url in str(caught.value)
    assert len(server.requests) == 1
    assert not (tmp_path / "missing.zip.part").exists()


def test_complete_part_answered_416_is_verified(server, tmp_path):
    data = b"complete already" * 300
    url = server.serve("done.bin", data)
    Path(tmp_path / "done.bin.part").write_bytes(data)

    download(url, tmp_path / "done.bin", sha256(data), backoff=0)

    assert server.requests == [("/done.bin", f"bytes={len(data)}-")]
    assert (tmp_path / "done.bin").read_bytes() == data


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    data = b"fresh bytes" * 300
    url = server.serve("f.bin", data)
    server.ignore_range = True
    Path(tmp_path / "f.bin.part").write_bytes(b"stale junk")

    download(url, tmp_path / "f.bin", sha256(data), backoff=0)

    assert server.requests == [("/f.bin", "bytes=10-")]
    assert (tmp_path / "f.bin").read_bytes() == data


def test_verified_file_is_a_cache_hit_and_a_bad_one_is_replaced(server, tmp_path):
    data = b"cached" * 1000
    url = server.serve("c.bin", data)
    destination = tmp_path / "c.bin"
    download(url, destination, sha256(data), backoff=0)
    server.requests.clear()

    assert download(url, destination, sha256(data), backoff=0) == destination
    assert server.requests == []

    destination.write_bytes(b"corrupted")
    download(url, destination, sha256(data), backoff=0)
    assert server.requests == [("/c.bin", None)]
    assert destination.read_bytes() == data


# --- extract: unsafe archives ----------------------------------------------------------------

EVIL_ABSOLUTE = f"/tmp/ablate-evil-{uuid.uuid4().hex}"

UNSAFE_TARS = {
    "dotdot": (tar_member("../evil", b"x"), "../evil"),
    "absolute": (tar_member(EVIL_ABSOLUTE, b"x"), EVIL_ABSOLUTE),
    "symlink-absolute": (
        tar_member("data/passwd", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
        "data/passwd",
    ),
    "symlink-up": (tar_member("data/up", type=tarfile.SYMTYPE, linkname="../../x"), "data/up"),
    "symlink-parent": (tar_member("data/p", type=tarfile.SYMTYPE, linkname="../.."), "data/p"),
    "symlink-backslash": (
        tar_member("data/w", type=tarfile.SYMTYPE, linkname="..\\..\\x"),
        "data/w",
    ),
    "hardlink-up": (tar_member("data/hard", type=tarfile.LNKTYPE, linkname="../x"), "data/hard"),
    "fifo": (tar_member("data/fifo", type=tarfile.FIFOTYPE), "data/fifo"),
    "device": (tar_member("data/dev", type=tarfile.CHRTYPE), "data/dev"),
}


def zip_fifo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    return info


UNSAFE_ZIPS = {
    "dotdot": "../evil",
    "absolute": EVIL_ABSOLUTE,
    "drive": "C:\\evil",
    "backslash": "\\evil",
    "dotdot-backslash": "data\\..\\..\\evil",
    "symlink-up": zip_symlink("data/up"),
    "fifo": zip_fifo("data/fifo"),
}

# Why each member above is refused, as the message says it.
REASONS = {
    "dotdot": "'..' in path",
    "absolute": "absolute path",
    "drive": "absolute path",
    "backslash": "absolute path",
    "symlink-absolute": "symlink to '/etc/passwd' points outside the target",
    "symlink-up": "symlink to '../../x' points outside the target",
    "symlink-parent": "symlink to '../..' points outside the target",
    "symlink-backslash": "symlink to '..\\\\..\\\\x' points outside the target",
    "dotdot-backslash": "'..' in path",
    "hardlink-up": "hard link to '../x' points outside the target",
    "fifo": "device, fifo or other special file",
    "device": "device, fifo or other special file",
}
ZIP_REASONS = {**REASONS, "symlink-up": "symlink to '../../x' (zip symlinks are refused)"}


def refusal(archive: Path, name: str, why: str) -> str:
    return f"{archive}: refusing member {name!r}: {why}; nothing was extracted"


def assert_nothing_written(work: Path, target: Path) -> None:
    assert not target.exists()
    assert not (target.parent / f".{target.name}.partial").exists()
    assert list(work.iterdir()) == []  # ../evil, ../../x and friends included
    assert not Path(EVIL_ABSOLUTE).exists()


@pytest.fixture
def work(tmp_path) -> Path:
    """An empty folder holding the target: anything escaping by one or two levels lands here."""
    folder = tmp_path / "work" / "deep"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("case", UNSAFE_TARS)
def test_unsafe_tar_members_are_refused_before_writing(tmp_path, work, case):
    member, name = UNSAFE_TARS[case]
    good = [tar_member(path, data) for path, data in FILES.items()]
    archive = write_tar(tmp_path / "evil.tar.gz", [*good, member])  # the bad one comes last
    target = work / "out"

    with pytest.raises(ArchiveError) as caught:
        extract(archive, target)

    assert str(caught.value) == refusal(archive, name, REASONS[case])
    assert_nothing_written(work, target)
    assert list((tmp_path / "work").iterdir()) == [work]


@pytest.mark.parametrize("case", UNSAFE_ZIPS)
def test_unsafe_zip_members_are_refused_before_writing(tmp_path, work, case):
    entry = UNSAFE_ZIPS[case]
    name = entry.filename if isinstance(entry, zipfile.ZipInfo) else entry
    content = b"../../x" if isinstance(entry, zipfile.ZipInfo) else b"evil"
    archive = write_zip(tmp_path / "evil.zip", [*FILES.items(), (entry, content)])
    target = work / "out"

    with pytest.raises(ArchiveError) as caught:
        extract(archive, target)

    assert str(caught.value) == refusal(archive, name, ZIP_REASONS[case])
    assert_nothing_written(work, target)


def test_tar_link_escaping_through_another_link_is_refused(tmp_path, work):
    # Each link alone looks inside; together, "loop/.." resolves to the target's parent.
    archive = write_tar(
        tmp_path / "chain.tar.gz",
        [
            tar_member("loop", type=tarfile.SYMTYPE, linkname="."),
            tar_member("escape", type=tarfile.SYMTYPE, linkname="loop/.."),
        ],
    )
    target = work / "out"

    with pytest.raises(ArchiveError, match="'escape'"):
        extract(archive, target)

    assert_nothing_written(work, target)


def test_safe_tar_symlinks_are_kept(tmp_path):
    members = [tar_member(name, data) for name, data in FILES.items()]
    members += [
        tar_member("latest", type=tarfile.SYMTYPE, linkname="data/cats/a.bin"),
        tar_member("data/dogs/sibling", type=tarfile.SYMTYPE, linkname="../cats/a.bin"),
    ]
    target = tmp_path / "raw"

    extract(write_tar(tmp_path / "links.tar.gz", members), target)

    for link in ("latest", "data/dogs/sibling"):
        assert (target / link).is_symlink()
        assert (target / link).read_bytes() == FILES["data/cats/a.bin"]


def test_zip_symlinks_are_refused_even_inside_the_tree(tmp_path, work):
    archive = write_zip(tmp_path / "links.zip", [*FILES.items(), (zip_symlink("l"), b"data")])

    with pytest.raises(ArchiveError, match="'l': symlink to 'data'"):
        extract(archive, work / "out")

    assert_nothing_written(work, work / "out")


# --- extract: broken archives ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_archive_is_refused_and_cleaned_up(tmp_path, work, fmt):
    archive = build(tmp_path, fmt)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(ArchiveError, match="truncated or corrupt") as caught:
        extract(archive, work / "out")

    assert str(archive) in str(caught.value)
    assert_nothing_written(work, work / "out")


def test_corrupt_zip_member_removes_what_was_already_written(tmp_path, work):
    archive = build(tmp_path, "zip")
    with zipfile.ZipFile(archive) as zip_file:
        second = zip_file.getinfo("data/dogs/b.bin").header_offset + 1000
    data = bytearray(archive.read_bytes())
    data[second] ^= 0xFF  # the first file is already written when this one fails its CRC
    archive.write_bytes(bytes(data))

    with pytest.raises(ArchiveError, match=r"truncated or corrupt.*'data/dogs/b\.bin'"):
        extract(archive, work / "out")

    assert_nothing_written(work, work / "out")


def test_non_archive_is_refused(tmp_path, work):
    archive = tmp_path / "dataset.zip"
    archive.write_text("<html>Sign in to download</html>\n" * 50)

    with pytest.raises(ArchiveError) as caught:
        extract(archive, work / "out")

    assert str(caught.value) == (
        f"{archive} is not a zip or tar archive, or it is truncated or corrupt; delete it and "
        "run again."
    )
    assert_nothing_written(work, work / "out")


def test_format_is_detected_by_content_not_name(tmp_path):
    archive = build(tmp_path, "tar.xz").rename(tmp_path / "misnamed.zip")

    extract(archive, tmp_path / "raw")

    assert tree(tmp_path / "raw") == FILES


def test_zip_folder_entries_are_kept(tmp_path):
    """`zip -r` stores each folder as an entry of its own, with the folder's mode."""
    folder = zipfile.ZipInfo("data/empty/")
    folder.external_attr = (stat.S_IFDIR | 0o755) << 16
    archive = write_zip(tmp_path / "dirs.zip", [(folder, b""), *FILES.items()])
    extract(archive, tmp_path / "raw")
    assert tree(tmp_path / "raw") == FILES and (tmp_path / "raw/data/empty").is_dir()


def test_an_extraction_is_logged(tmp_path, caplog):
    archive = build(tmp_path, "tar.gz")
    caplog.set_level(logging.INFO, logger="ablate.data.archives")
    extract(archive, tmp_path / "raw")
    assert [r.getMessage() for r in caplog.records] == [
        f"extracted {archive} into {tmp_path / 'raw'}"
    ]


def test_existing_target_is_not_touched_and_stale_staging_is_replaced(tmp_path):
    archive = build(tmp_path, "zip")
    (tmp_path / "done").mkdir()
    with pytest.raises(FileExistsError) as caught:
        extract(archive, tmp_path / "done")
    assert str(caught.value) == (
        f"{tmp_path / 'done'} already exists; remove it to extract {archive} again"
    )

    stale = tmp_path / ".raw.partial"
    stale.mkdir()
    (stale / "junk").write_text("from an interrupted run")
    extract(archive, tmp_path / "raw")

    assert tree(tmp_path / "raw") == FILES
    assert not stale.exists()


def test_a_full_disk_is_not_reported_as_a_corrupt_archive(tmp_path, monkeypatch):
    import errno

    archive = tmp_path / "good.tar"
    with tarfile.open(archive, "w") as tar:
        data = b"pixels"
        member = tarfile.TarInfo("cat/1.jpg")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "extractall", full)
    with pytest.raises(OSError, match="No space left") as raised:
        extract(archive, tmp_path / "out")
    assert not isinstance(raised.value, ArchiveError)  # no advice to delete a good archive
    assert archive.exists() and not (tmp_path / "out").exists()

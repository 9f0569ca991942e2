"""Output files: written whole or not at all, and a path that cannot be written is a clear
error (the commands that write files turn it into a message and exit 1). Input files: read
only when they are regular files within a bound, else a clear error - never a hang."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from costopt.errors import InputFileError, OutputFileError
from costopt.files import file_in_place, read_text, write_atomically


def test_writes_the_file_and_makes_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "out.txt"
    write_atomically(path, lambda partial: partial.write_text("new"))
    assert path.read_text() == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]  # no partial left


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")

    def half_then_fail(partial: Path) -> None:
        partial.write_text("ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputFileError) as caught:
        write_atomically(path, half_then_fail)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert str(caught.value) == (
        f"cannot write {path}: No space left on device ({path}); To fix: choose a file in a "
        "folder that exists or can be made, and that you can write to")


def test_a_file_in_the_way_of_the_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "plans"
    blocker.write_text("not a folder")
    with pytest.raises(OutputFileError) as caught:
        write_atomically(blocker / "plan.json", lambda partial: partial.write_text("{}"))
    assert f"cannot write {blocker / 'plan.json'}: a file is in the way of the folder " \
           f"{blocker}" in str(caught.value)
    assert caught.value.exit_code == 1


def test_read_text_reads_a_regular_file_within_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("héllo", encoding="utf-8")  # 6 bytes: é is two in UTF-8
    assert read_text(path, InputFileError, max_bytes=6) == "héllo"
    with pytest.raises(InputFileError) as big:
        read_text(path, InputFileError, max_bytes=5)
    assert str(big.value).endswith(f"{path}: (file) = '{path}': is larger than 5 bytes, the "
                                   "most this file may be; To fix: give a smaller file")


@pytest.mark.parametrize(("make", "kind"), [
    (lambda folder: os.mkfifo(folder / "fifo") or folder / "fifo", "a named pipe (FIFO)"),
    (lambda _folder: Path("/dev/zero"), "a character device"),
    (lambda folder: folder, "a folder"),
])
def test_read_text_refuses_what_is_no_regular_file_without_reading_it(
        tmp_path: Path, make: Callable[[Path], Path], kind: str) -> None:
    """A FIFO with no writer would block an ordinary open for ever; /dev/zero never ends."""
    path = make(tmp_path)
    with pytest.raises(InputFileError) as refused:
        read_text(path, InputFileError)
    assert f"is {kind}, not a regular file; To fix: give the path of a file" \
        in str(refused.value)


def test_read_text_says_missing_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as missing:
        read_text(tmp_path / "nope.yaml", InputFileError)
    assert "file not found" in str(missing.value)
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9")
    with pytest.raises(InputFileError) as latin:
        read_text(tmp_path / "latin.txt", InputFileError)
    assert "is not UTF-8 text (" in str(latin.value)


def test_a_file_in_place_refuses_a_file_as_its_folder_and_a_fifo_as_itself(
        tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("x")
    with pytest.raises(ValueError) as as_folder:
        file_in_place(blocker / "ledger.db", ValueError)
    assert str(as_folder.value) == (f"{blocker} is a file, not a folder; To fix: give a "
                                    "folder that holds nothing else by that name")
    os.mkfifo(tmp_path / "ledger.db")
    with pytest.raises(ValueError) as fifo:
        file_in_place(tmp_path / "ledger.db", ValueError)
    assert "is a named pipe (FIFO), not a regular file" in str(fifo.value)
    made = file_in_place(tmp_path / "new" / "deeper" / "ledger.db", ValueError)
    assert made.parent.is_dir() and not made.exists()


def test_a_link_planted_where_the_partial_file_went_is_not_followed(tmp_path: Path) -> None:
    """The issue's attack: ``ln -s victim plan.json.partial`` before a write of plan.json
    overwrote ``victim``. The partial file now has a random name made with O_EXCL."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "plan.json.partial").symlink_to(victim)
    write_atomically(tmp_path / "plan.json", lambda partial: partial.write_text("{}"))
    assert victim.read_text() == "precious"
    assert (tmp_path / "plan.json").read_text() == "{}"
    assert not (tmp_path / "plan.json").is_symlink()


def test_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """Plans and reports hold the jobs' ``run`` commands: 0600, whatever the umask, also
    when an older file of 0644 is replaced."""
    path = tmp_path / "plan.json"
    path.write_text("old")
    path.chmod(0o644)
    write_atomically(path, lambda partial: partial.write_text("new"))
    assert path.stat().st_mode & 0o777 == 0o600

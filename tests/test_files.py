"""Output files: written whole or not at all, and a path that cannot be written is a clear
error (the commands that write files turn it into a message and exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from costopt.errors import OutputFileError
from costopt.files import write_atomically


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

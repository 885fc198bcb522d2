"""The embedded JVM's class-data-sharing archive: keyed, used only when whole, refused when truncated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from financial_transactions.lakehouse import engine, jvm_archive
from financial_transactions.lakehouse.engine import JVM_ARCHIVE_ENV, JVM_CACHE_ENV, archive_options, archive_path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(JVM_CACHE_ENV, str(tmp_path / "jvm"))
    monkeypatch.delenv(JVM_ARCHIVE_ENV, raising=False)
    return tmp_path / "jvm"


def test_no_archive_no_option(cache: Path) -> None:
    path = archive_path()
    assert path is not None and path.parent == cache and not path.exists()
    assert archive_options("-XX:+UseParallelGC") == ""


def test_a_built_archive_is_mapped_quietly(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = archive_path()
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"archive")
    assert archive_options("-XX:+UseParallelGC") == f"-XX:SharedArchiveFile={path} -Xlog:cds=off -Xlog:cds+dynamic=off"
    # the caller's own archive options win, and the switch turns it off
    assert archive_options("-XX:SharedArchiveFile=/elsewhere.jsa") == ""
    assert archive_options("-XX:ArchiveClassesAtExit=/new.jsa") == ""
    monkeypatch.setenv(JVM_ARCHIVE_ENV, "0")
    assert archive_options("") == ""


def test_the_key_follows_spark_jars(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "spark-core_2.13-4.2.0.jar").write_bytes(b"x" * 10)
    monkeypatch.setattr(engine, "_spark_jars", lambda: jars)
    first = archive_path()
    assert first == archive_path()  # stable
    (jars / "spark-sql_2.13-4.2.0.jar").write_bytes(b"y")
    second = archive_path()
    (jars / "spark-sql_2.13-4.2.0.jar").write_bytes(b"yy")  # same name, another build
    third = archive_path()
    other_venv = tmp_path / "other" / "jars"  # the same jars in another folder: the class path differs
    shutil.copytree(jars, other_venv)
    monkeypatch.setattr(engine, "_spark_jars", lambda: other_venv)
    fourth = archive_path()
    assert len({first, second, third, fourth}) == 4


def test_no_java_no_archive(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_java", lambda: None)
    assert archive_path() is None
    assert archive_options("") == ""


def _built() -> Path:
    path = archive_path()
    if path is None or not path.is_file():
        pytest.skip("no JVM archive built: `make jvm-archive` (a dependency of `make test`) builds it")
    return path


def test_the_built_archive_maps_and_a_truncated_one_is_refused(tmp_path: Path) -> None:
    """``_check`` starts a Spark JVM with ``-Xshare:on`` (it refuses to start on an archive it cannot map)."""
    built = _built()
    jvm_archive._check(built)
    truncated = tmp_path / "truncated.jsa"
    with built.open("rb") as src:
        truncated.write_bytes(src.read(8 << 20))  # a dump cut short: its header promises far more
    reports_before = set(Path.cwd().glob("hs_err_pid*.log"))
    with pytest.raises(RuntimeError, match="could not map the archive"):
        jvm_archive._check(truncated)
    assert set(Path.cwd().glob("hs_err_pid*.log")) == reports_before  # the crash report went to a temporary folder

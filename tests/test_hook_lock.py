"""The post-generation hook writes uv.lock, and says so when it cannot, keeping the project."""

from pathlib import Path

from tests.hookhelpers import bake

SKIP = {"TEMPLATE_SKIP_SMOKE": "1"}


def test_lock_is_written_even_when_the_smoke_test_is_skipped(tmp_path: Path) -> None:
    baked = bake(tmp_path, {"database": "postgresql"}, SKIP)

    assert baked.exit_code == 0, baked.output
    lock = baked.project() / "uv.lock"
    assert lock.is_file()
    assert 'name = "asyncpg"' in lock.read_text(encoding="utf-8")
    assert "uv.lock not written" not in baked.output


def test_lock_that_cannot_be_resolved_is_reported_and_the_project_kept(tmp_path: Path) -> None:
    offline = {**SKIP, "UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "empty-cache")}

    baked = bake(tmp_path / "out", {"database": "sqlite"}, offline)

    assert baked.exit_code == 0, baked.output
    assert "WARNING: order-service: uv.lock not written (" in baked.output
    assert "run `uv lock` in the project later" in baked.output
    assert not (baked.project() / "uv.lock").exists()
    assert (baked.project() / "pyproject.toml").is_file()

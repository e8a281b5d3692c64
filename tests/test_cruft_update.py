"""A project made with `cruft create` takes a later template change with `cruft update`, keeping its own changes.

The template is a throwaway git copy of this one (commit A, then commit B); the project is the user's, with its own
git history. The post-generation hook runs in each of cruft's renders: in the project at create time (it writes
uv.lock), and in the temporary renders of update, where it must prune only (no .venv, no lock, no smoke test).
"""

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.hookhelpers import HOOK_VARIABLES, copy_template, load_hook
from tests.rendering import child_env, run, tool

post_gen = load_hook("post_gen_project")

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Template Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}
PROJECT_README = "{{cookiecutter.project_slug}}/README.md"
PROJECT_POOL_DOC = "{{cookiecutter.project_slug}}/docs/pool.md"
USER_LINE = "Our team runs this behind the company gateway."
TEMPLATE_LINE = "Template note added in commit B."
POOL_DOC_LINE = "Pool note added in commit B."


def hook_free_env(**extra: str) -> dict[str, str]:
    """The caller's environment without the hook settings (none is needed for cruft), plus a git identity."""
    env = {name: value for name, value in child_env().items() if name not in HOOK_VARIABLES}
    return {**env, **GIT_IDENTITY, **extra}


def git(folder: Path, *arguments: str) -> str:
    return run(["git", *arguments], cwd=folder, env=GIT_IDENTITY)


def commit_all(folder: Path, message: str) -> None:
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--message", message)


def insert_after_first_line(path: Path, line: str) -> None:
    first, rest = path.read_text(encoding="utf-8").split("\n", 1)
    path.write_text(f"{first}\n\n{line}\n{rest}", encoding="utf-8")


def cruft(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("cruft"), *command], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.slow
def test_cruft_update_brings_the_template_change_and_keeps_the_users(tmp_path: Path) -> None:
    template = copy_template(tmp_path / "template")
    git(template, "init", "--quiet")
    commit_all(template, "A")

    # cruft create: the real hook runs in the project's folder (the smoke test is skipped to keep the test short)
    created = cruft(
        ["create", "--no-input", "--output-dir", str(tmp_path / "out"), str(template)],
        cwd=tmp_path,
        env=hook_free_env(TEMPLATE_SKIP_SMOKE="1"),
    )
    assert created.returncode == 0, created.stdout
    project = tmp_path / "out" / "order-service"
    assert json.loads((project / ".cruft.json").read_text())["commit"] == git(template, "rev-parse", "HEAD").strip()
    assert (project / "uv.lock").is_file()
    lock_before = (project / "uv.lock").read_bytes()
    git(project, "init", "--quiet")
    commit_all(project, "generated")

    # the user's change, at the end of the README
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + f"\n{USER_LINE}\n", encoding="utf-8")
    commit_all(project, "our notes")

    # the template's change: the same README (near its top) and a file the user did not touch
    insert_after_first_line(template / PROJECT_README, TEMPLATE_LINE)
    insert_after_first_line(template / PROJECT_POOL_DOC, POOL_DOC_LINE)
    commit_all(template, "B")

    stale = cruft(["check"], cwd=project, env=hook_free_env())
    assert stale.returncode != 0, stale.stdout

    # no TEMPLATE_SKIP_SMOKE: the hook itself must see that cruft's renders are temporary
    updated = cruft(["update", "-y"], cwd=project, env=hook_free_env())
    assert updated.returncode == 0, updated.stdout
    assert "cruft's temporary render of template commit" in updated.stdout
    assert "smoke test" not in updated.stdout

    text = readme.read_text(encoding="utf-8")
    assert TEMPLATE_LINE in text
    assert USER_LINE in text
    assert POOL_DOC_LINE in (project / "docs" / "pool.md").read_text(encoding="utf-8")
    assert not (project / ".venv").exists()
    assert (project / "uv.lock").read_bytes() == lock_before
    assert not list(project.rglob("*.rej"))
    changed = sorted(git(project, "status", "--porcelain").split("\n")[:-1])
    assert [line[3:] for line in changed] == [".cruft.json", "README.md", "docs/pool.md"]

    checked = cruft(["check"], cwd=project, env=hook_free_env())
    assert checked.returncode == 0, checked.stdout


def test_scratch_renders_are_only_cruft_renders_in_a_fresh_temporary_folder(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "order-service"
        assert post_gen.is_cruft_scratch_render(project, commit)
        assert not post_gen.is_cruft_scratch_render(project, "")  # plain cookiecutter sets no _commit
    assert not post_gen.is_cruft_scratch_render(tmp_path / "order-service", commit)  # cruft create's own folder
    assert not post_gen.is_cruft_scratch_render(Path(tempfile.gettempdir()) / "demo" / "order-service", commit)

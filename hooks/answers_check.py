"""Checks the answers while cookiecutter renders its private variables, before it makes any folder.

cookiecutter.json loads this Jinja extension (`_extensions`) and renders `__answers_checked` through its filter,
after every prompt. Refusing here, rather than in the pre-generation hook, means a project_slug holding "/" never
creates the folders it names (cookiecutter removes only the project folder after a failed hook, not its parents).
The checks and the message are the pre-generation hook's; the hook still runs them for answers replayed from a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

from hooks.pre_gen_project import load_choices, report, validate

TEMPLATE = Path(__file__).resolve().parents[1]


def refuse_unusable_answers(answers: Mapping[str, object]) -> str:
    """'' when the answers are usable (or not all known yet: a replayed answers file); else stop with the report."""
    if "project_slug" not in answers:
        return ""
    problems = validate(answers, load_choices(TEMPLATE / "cookiecutter.json"))
    if problems:
        raise FailedHookException(report(problems))
    return ""


class AnswersCheck(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["refuse_unusable_answers"] = refuse_unusable_answers

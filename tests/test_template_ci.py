"""The template's own workflow is valid and takes its matrix from the one list of variants."""

import json
import sys

import yaml

from tests.rendering import TEMPLATE, run, tool
from tests.test_variants import ACTIONLINT
from tests.variants import ALL

WORKFLOW = TEMPLATE / ".github" / "workflows" / "template.yml"


def test_template_workflow_passes_actionlint() -> None:
    output = run(["node", str(ACTIONLINT), str(WORKFLOW)], cwd=TEMPLATE)
    assert "0 problem(s) in 1 file(s)" in output


def test_template_workflow_matrix_comes_from_the_variant_list() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert "python -m tests.variants" in jobs["variants"]["steps"][-1]["run"]
    assert jobs["test"]["strategy"]["matrix"]["variant"] == "${{ fromJSON(needs.variants.outputs.names) }}"
    assert jobs["test"]["steps"][-1]["run"] == "bash scripts/test.sh"


def test_variant_list_prints_every_variant_as_json() -> None:
    output = run([sys.executable, "-m", "tests.variants"], cwd=TEMPLATE)
    assert json.loads(output) == sorted(ALL)


def test_template_own_code_passes_ruff() -> None:
    run([tool("ruff"), "check", "--no-cache", "."], cwd=TEMPLATE)
    run([tool("ruff"), "format", "--no-cache", "--check", "."], cwd=TEMPLATE)

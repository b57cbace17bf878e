"""Every shipped scenario validates, and the generated key reference in scenarios/README.md is current."""
import pathlib

import pytest
from click.testing import CliRunner

from linksim.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for folder in ("scenarios", "baselines") for p in (ROOT / folder).rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_scenario_validates(path):
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_key_reference_is_current():
    generated = CliRunner().invoke(main, ["list", "--markdown"]).output.strip()
    assert generated in (ROOT / "scenarios" / "README.md").read_text(), \
        "regenerate the reference: linksim list --markdown >> scenarios/README.md (replace the old one)"

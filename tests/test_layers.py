"""The house rules a newcomer reads in each package's docstring, checked on every import.

Every `import` in broadcaster/ (also those inside functions) is read from the source, so a
dependency that runs back up a layer fails here, not in review.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from broadcaster.core.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "broadcaster"

# What each part may import besides itself (and the standard library and third parties).
# Keep in step with the packages' docstrings and docs/ARCHITECTURE.md.
ALLOWED = {
    "core": set(),
    "speech": {"core"},
    "newsroom": {"core", "speech", "accountability"},
    "audio": {"core", "speech", "newsroom"},
    "onair": {"core", "speech", "newsroom", "audio", "stations", "accountability", "ops"},
    "stations": {"core", "onair", "audio", "newsroom"},
    "accountability": {"core", "onair", "stations", "newsroom"},
    "ops": {"core", "speech", "newsroom", "audio", "onair", "stations", "accountability"},
    "cli": {"core", "speech", "newsroom", "audio", "onair", "stations", "accountability", "ops"},
    "outreach": {"core", "onair"},
    "migrations": {"core"},
}


def imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) > 1:
            yield parts[0], path


@pytest.mark.parametrize(
    ("part", "path"),
    list(modules()),
    ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else v,
)
def test_each_module_imports_only_the_parts_below_it(part, path):
    assert part in ALLOWED, f"broadcaster/{part}/ is a new part: add it to ALLOWED and the docs"
    wrong = set()
    for name in imports_of(path):
        pieces = name.split(".")
        if pieces[0] in {"flask", "web", "werkzeug", "flask_login", "flask_wtf", "flask_babel"}:
            if not (pieces[0] == "werkzeug" and name.startswith("werkzeug.security")):
                wrong.add(name)
        if pieces[0] == "broadcaster" and len(pieces) > 1:
            target = pieces[1]
            if (PACKAGE / target).is_dir() and target != part and target not in ALLOWED[part]:
                wrong.add(name)
    assert not wrong, f"{path.relative_to(PROJECT_ROOT)} imports {sorted(wrong)}"


def test_every_part_says_what_it_owns_and_may_import():
    for folder in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        if folder.name == "migrations":
            continue
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
        assert "May import" in doc, f"broadcaster/{folder.name}/__init__.py: say what it may import"


def test_the_agent_runs_with_the_standard_library_alone():
    # A commune PC or Raspberry Pi runs the agent with Debian's python3 and nothing else.
    code = (
        "import sys, broadcaster.stations.agent.runner; "
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'flask', 'pydantic', 'alembic') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    assert result.stdout.strip() == "[]"

"""Print the third-party requirements of the given components, one a line.

The Dockerfiles install these (with ``-c requirements/constraints.txt``) in a layer of
their own, before any source is copied, so a code change does not reinstall them.
Usage: ``python3 component_deps.py shared services/catalog``.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def _name(requirement: str) -> str:
    """PEP 503 normalised project name of a requirement string."""
    bare = re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def third_party(components: list[str]) -> list[str]:
    local: set[str] = set()
    wanted: list[str] = []
    for component in components:
        project = tomllib.loads((Path(component) / "pyproject.toml").read_text())["project"]
        local.add(_name(project["name"]))
        wanted.extend(project.get("dependencies", []))
    seen: set[str] = set()
    result = []
    for requirement in wanted:
        if _name(requirement) in local or requirement in seen:
            continue
        seen.add(requirement)
        result.append(requirement)
    return result


if __name__ == "__main__":
    sys.stdout.write("".join(f"{r}\n" for r in third_party(sys.argv[1:])))

"""The scenarios shipped with chirpdesk (package data ``chirpdesk.scenarios``) and how a scenario
argument is found: an existing file wins; otherwise a shipped scenario's name (``baseline`` or
``baseline.toml``) names the shipped file, so an installed wheel runs its examples from any folder.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from importlib.resources import files
from pathlib import Path

from chirpdesk.sim.errors import ChirpdeskError, ScenarioError

#: The package that holds the shipped ``*.toml`` files (the repository's ``scenarios/``).
SCENARIO_PACKAGE = "chirpdesk.scenarios"


def shipped_scenarios() -> dict[str, Path]:
    """Every shipped scenario, ``{name: path}`` sorted by name (the file name without ``.toml``)."""
    root = files(SCENARIO_PACKAGE)
    found = {}
    for entry in root.iterdir():
        if entry.name.endswith(".toml") and entry.is_file():
            found[entry.name.removesuffix(".toml")] = Path(str(entry))
    return dict(sorted(found.items()))


def shipped_description(path: Path) -> str:
    """The ``[scenario] description`` of a shipped file ("" when it has none)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return str(data.get("scenario", {}).get("description", ""))


def resolve_scenario(arg: str | Path) -> Path:
    """The scenario file a command-line argument names.

    An existing file is taken as is. A bare name (no folder part) that is not a file but is a
    shipped scenario's name, with or without ``.toml``, gives the shipped file. Anything else
    raises :class:`ScenarioError` ("file not found") listing the shipped names.
    """
    path = Path(arg)
    if path.exists():
        return path
    text = str(arg)
    shipped = shipped_scenarios()
    if "/" not in text and "\\" not in text:
        name = text.removesuffix(".toml")
        if name in shipped:
            return shipped[name]
    names = ", ".join(shipped)
    close = difflib.get_close_matches(path.stem, list(shipped), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ScenarioError(text, "", f"file not found (nor a shipped scenario: {names}){hint}")


_NAME_RE = re.compile(r'^(name\s*=\s*)"[^"\n]*"', re.M)
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def init_scenario(name: str, source: str | Path = "baseline", folder: str | Path = ".",
                  force: bool = False) -> Path:
    """Copy a scenario (shipped name or file) to ``folder/NAME.toml`` as a starting point.

    The copy keeps every comment; only ``[scenario] name`` is set to ``name``. Refuses to
    overwrite an existing file unless ``force``. Returns the new file's path.
    """
    if not _VALID_NAME.match(name):
        raise ChirpdeskError(f"init: NAME {name!r} must be letters, digits, '-', '_' or '.' "
                             "(it becomes NAME.toml)")
    src = resolve_scenario(source)
    target = Path(folder) / f"{name.removesuffix('.toml')}.toml"
    if target.exists() and not force:
        raise ChirpdeskError(f"init: {target} already exists (use --force to overwrite it)")
    text = src.read_text(encoding="utf-8")
    head, sep, rest = text.partition("[scenario]")
    if sep:  # rename in the [scenario] table only, up to the next table header
        table, nxt, after = rest.partition("\n[")
        table = _NAME_RE.sub(lambda m: f'{m.group(1)}"{target.stem}"', table, count=1)
        text = head + sep + table + nxt + after
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target

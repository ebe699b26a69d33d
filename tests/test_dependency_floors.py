"""Installed packages are at least the versions that fixed the security issues we know of.

There is no online audit here (no pip-audit, no vulnerability database: the machines that run the
tests reach package registries only). Instead, FLOORS below names, for each package that faces
readers or uploads, the lowest release we consider safe. Whoever updates a pin for a security
release raises its floor here in the same change, by hand; the test then stops a deploy (or a
stale virtualenv) that still runs the older release. The pinned requirements files are checked
too, so a downgrade in a pin fails before anything is installed.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"

# (distribution name, lowest safe version). Raise a floor with every security release adopted.
FLOORS: list[tuple[str, str]] = [
    ("Django", "6.1.3"),
    ("daphne", "4.2.2"),
    ("pillow", "12.3.0"),
    ("nh3", "0.3.7"),
    ("channels", "4.3.2"),
    ("channels-redis", "4.3.0"),
    ("django-axes", "8.3.1"),
]

PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(?P<version>[^\s;#]+)")


def pinned_versions(path: Path) -> dict[str, Version]:
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[canonicalize_name(match["name"])] = Version(match["version"])
    return pins


@pytest.mark.parametrize(("name", "floor"), FLOORS, ids=[name for name, _ in FLOORS])
def test_installed_package_is_not_below_its_safe_floor(name, floor):
    installed = Version(metadata.version(name))
    assert installed >= Version(floor), f"{name} {installed} is installed; {floor} or newer is required"


@pytest.mark.parametrize("requirements", ["base.txt", "dev.txt"])
def test_pinned_requirements_are_not_below_the_safe_floors(requirements):
    pins = pinned_versions(REQUIREMENTS / requirements)
    for name, floor in FLOORS:
        pinned = pins.get(canonicalize_name(name))
        assert pinned is not None, f"{name} is not pinned in requirements/{requirements}"
        assert pinned >= Version(floor), f"requirements/{requirements} pins {name} {pinned} < {floor}"


def test_django_floor_is_a_patch_of_the_series_in_use():
    # A floor from an older series would pass trivially; the floor must track the installed series.
    django_floor = Version(dict(FLOORS)["Django"])
    installed = Version(metadata.version("Django"))
    assert installed.release[:2] == django_floor.release[:2], (
        f"Django {installed} is installed but the floor is for {django_floor}: update FLOORS"
    )

"""requirements/dev.lock (tools/lock.sh writes it) still satisfies pyproject.toml: every
requirement of the dev extra, of every extra it names and of the package itself, and README's
--no-deps mediapipe line, has a pinned version in the lock inside its specifier. A failure here
means: run `bash tools/lock.sh` and commit the lock."""

from __future__ import annotations

import re

import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from support.paths import PROJECT

LOCK = PROJECT / "requirements" / "dev.lock"
# the lock's target: CI's CPython 3.11 on linux x86_64
TARGET = default_environment() | {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}


def locked_pins() -> dict[str, Version]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, version = requirement.split("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def dev_requirements() -> list[Requirement]:
    """The package's own requirements and the dev extra's, its self-reference expanded."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    own, extras = canonicalize_name(project["name"]), project["optional-dependencies"]
    requirements, pending, seen = [], ["dev"], set()
    for text in project["dependencies"]:
        requirements.append(Requirement(text))
    while pending:
        extra = pending.pop()
        seen.add(extra)
        for text in extras[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == own:
                pending.extend(sorted(requirement.extras - seen))
            else:
                requirements.append(requirement)
    return requirements


def readme_no_deps_requirements() -> list[Requirement]:
    """The quoted requirements of README's test command's `pip install --no-deps …` steps."""
    readme = (PROJECT / "README.md").read_text()
    steps = re.findall(r"pip install --no-deps [^&]*", readme)
    assert steps, "README's test command installs mediapipe --no-deps"
    return [Requirement(text) for step in steps for text in re.findall(r'"([^"]+)"', step)]


def test_every_requirement_of_the_dev_extra_has_a_satisfying_pin():
    pins = locked_pins()
    unmet = []
    for requirement in dev_requirements() + readme_no_deps_requirements():
        if requirement.marker and not requirement.marker.evaluate(TARGET):
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            unmet.append(f"{requirement} (locked: {pinned})")
    assert not unmet, "run `bash tools/lock.sh`; the lock misses " + "; ".join(unmet)


def test_the_lock_pins_torch_as_ci_installs_it():
    pins = locked_pins()
    assert pins["torch"] == Version("2.14.1") and pins["torchvision"] == Version("0.29.1")


def test_readme_and_ci_install_with_the_lock():
    readme = (PROJECT / "README.md").read_text()
    assert 'uv pip install -c requirements/dev.lock -e ".[dev]"' in readme
    assert "uv pip install --no-deps -c requirements/dev.lock" in readme

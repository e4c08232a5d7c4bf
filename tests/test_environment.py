"""The locked environments and the CI definition: requirements.txt pins every package and is what is installed,
Binder's lock agrees with it and provides what the notebooks import, and the workflow is valid for GitHub."""
import ast
import json
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from project import NOTEBOOKS, ROOT

LOCK = ROOT / "requirements.txt"
BINDER_LOCK = ROOT / "binder" / "requirements.txt"
# The package that provides each third-party module a notebook imports. A new import needs a line here and
# its package in binder/requirements.in (then `make lock`).
NOTEBOOK_IMPORTS = {"jax": "jax", "matplotlib": "matplotlib", "numpy": "numpy", "scipy": "scipy"}
KERNEL = "ipykernel"


def requirements(path):
    """The requirements of a requirements file, one per line that is not blank or a comment."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            try:
                found.append(Requirement(line))
            except InvalidRequirement as error:
                pytest.fail(f"{path.relative_to(ROOT)}:{number}: {line!r} is not a requirement: {error}")
    return found


def pins(path):
    """{canonical name: version} of a lock file, whose every requirement must be an exact name==version."""
    found = {}
    for req in requirements(path):
        spec = list(req.specifier)
        exact = len(spec) == 1 and spec[0].operator == "==" and "*" not in spec[0].version
        assert exact and not (req.extras or req.marker or req.url), \
            f"{path.relative_to(ROOT)}: {req} is not an exact name==version pin; run `make lock`"
        found[canonicalize_name(req.name)] = spec[0].version
    return found


def test_lock_pins_every_direct_dependency_compatibly():
    locked = pins(LOCK)
    for req in requirements(ROOT / "requirements.in"):
        name = canonicalize_name(req.name)
        assert name in locked, f"requirements.txt does not pin {req.name}; run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), \
            f"requirements.txt pins {req.name}=={locked[name]}, requirements.in asks for {req}; run `make lock`"


def test_lock_pins_every_dependency_of_its_packages():
    locked = pins(LOCK)
    for name in locked:
        for req in map(Requirement, metadata.requires(name) or []):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                assert canonicalize_name(req.name) in locked, f"{name} needs {req.name}, which requirements.txt does not pin"


def test_environment_is_the_lock():
    """The stored notebook outputs are checked against the locked versions, so the tests must run on them."""
    drift = {name: (version, metadata.version(name)) for name, version in pins(LOCK).items()
             if metadata.version(name) != version}
    assert not drift, f"installed versions differ from requirements.txt (locked, installed): {drift}"


def test_binder_pins_the_versions_of_the_lock():
    locked = pins(LOCK)
    for name, version in pins(BINDER_LOCK).items():
        assert locked.get(name) == version, \
            f"binder/requirements.txt pins {name}=={version}, requirements.txt {locked.get(name)}; run `make lock`"


def imported_modules(path):
    """The top-level modules that the code cells of a stored notebook import (IPython magics skipped)."""
    modules = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        source = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source, filename=path.name)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.partition(".")[0])
    return modules


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_binder_provides_what_the_notebook_imports(path):
    third_party = sorted(imported_modules(path) - sys.stdlib_module_names)
    unknown = [module for module in third_party if module not in NOTEBOOK_IMPORTS]
    assert not unknown, (f"{path.name} imports {unknown}, which NOTEBOOK_IMPORTS in tests/test_environment.py "
                         "does not map to a package: add it there and to binder/requirements.in, then `make lock`")
    binder = pins(BINDER_LOCK)
    missing = [package for package in [KERNEL] + [NOTEBOOK_IMPORTS[m] for m in third_party] if package not in binder]
    assert not missing, f"binder/requirements.txt lacks {missing} for {path.name}: add to binder/requirements.in, `make lock`"


def test_workflow_is_valid_for_github():
    """GitHub's workflow schema, bundled with check-jsonschema, so the check needs no network."""
    workflow = ROOT / ".github" / "workflows" / "publish.yml"
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

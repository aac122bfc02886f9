"""The `model-medic` command as the project installs it: a console script of the package found
under layers/common, installed by `make install`, with no dependency the layer does not have."""

import ast
import importlib
import re
import sys
import tomllib

from localcloud.template import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LAYER = ROOT / "layers" / "common"


def test_the_command_is_a_console_script_of_the_package() -> None:
    target = PYPROJECT["project"]["scripts"]["model-medic"]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"


def test_setuptools_finds_the_layers_package_and_its_templates() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    # The local cloud is packaged beside it: `model-medic backtest` simulates with its moto extensions.
    assert setuptools["package-dir"] == {"": "layers/common", "localcloud": "localcloud"}
    assert setuptools["packages"]["find"] == {
        "where": ["layers/common", "."],
        "include": ["model_medic*", "localcloud"],
    }
    for pattern in setuptools["package-data"]["model_medic"]:
        assert list((LAYER / "model_medic").glob(pattern)), pattern
    # Every package of the layer is a folder with an __init__.py, so `find` sees it (status too).
    folders = {p.parent for p in (LAYER / "model_medic").rglob("*.py") if "__pycache__" not in p.parts}
    assert all((folder / "__init__.py").exists() for folder in folders)
    assert (LAYER / "model_medic" / "status" / "__init__.py").exists()


def test_its_dependencies_are_the_layers_own() -> None:
    assert PYPROJECT["project"]["dynamic"] == ["dependencies"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["layers/common/requirements.txt"]}


def test_the_status_room_imports_nothing_the_layer_does_not_ship() -> None:
    allowed = set(sys.stdlib_module_names) | {
        "__future__",
        "botocore",
        "boto3",
        "model_medic",
        "mypy_boto3_cloudformation",
    }
    allowed |= {"mypy_boto3_events", "mypy_boto3_lambda"}  # types only, under TYPE_CHECKING
    found = set()
    for path in (LAYER / "model_medic" / "status").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    assert found - allowed == set()


def test_make_install_installs_the_project_after_its_requirements() -> None:
    makefile = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(VENV\)/\.installed: (.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert rule is not None
    assert "pyproject.toml" in rule.group(1).split()
    recipe = rule.group(2).splitlines()
    requirements = next(i for i, line in enumerate(recipe) if "-r requirements-dev.txt" in line)
    project = next(i for i, line in enumerate(recipe) if line.rstrip().endswith("--no-deps -e ."))
    assert requirements < project

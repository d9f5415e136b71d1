"""Every problem code comes from one registry (``app.problem_codes.ProblemCode``): the
code that raises problems names its codes from it, each with the status of the problem
class it is raised with, and the README's table and the OpenAPI description list exactly
its codes."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

import app
from app.errors import Problem
from app.problem_codes import HTTP_LAYER_CODES, ProblemCode

ROOT = Path(__file__).resolve().parent.parent
RULE_VIOLATION_STATUS = 409  # the ledger answers a RuleViolation with a Conflict


def _problem_classes() -> dict[str, type[Problem]]:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: dict[str, type[Problem]] = {}
    waiting: list[type[Problem]] = [Problem]
    while waiting:
        cls = waiting.pop()
        found[cls.__name__] = cls
        waiting.extend(cls.__subclasses__())
    return found


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path)))
            for path in sorted((ROOT / "app").rglob("*.py")) if "migrations" not in path.parts]


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _registry_name(node: ast.expr) -> str | None:
    """``X`` of ``ProblemCode.X``, else None."""
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "ProblemCode"):
        return node.attr
    return None


def _raised_codes() -> list[tuple[str, str, ast.expr, int]]:
    """(where, raised with, the code's expression, the status it is raised with) of every
    problem raised with a code, and every RuleViolation."""
    classes = _problem_classes()
    raised = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name, where = _called(node), f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in classes:
                raised += [(where, name, keyword.value, classes[name].status)
                           for keyword in node.keywords if keyword.arg == "code"]
            elif name == "RuleViolation":
                raised.append((where, name, node.args[0], RULE_VIOLATION_STATUS))
    return raised


def test_no_problem_code_is_typed_as_text_where_a_problem_is_raised() -> None:
    retyped = [where for where, _, code, _ in _raised_codes() if isinstance(code, ast.Constant)]
    for path, tree in _sources():
        retyped += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                    if isinstance(node, ast.Dict) and any(
                        isinstance(key, ast.Constant) and key.value == "code"
                        and isinstance(value, ast.Constant)
                        for key, value in zip(node.keys, node.values, strict=True))]
    assert retyped == []
    assert len(_raised_codes()) > 30  # the walk finds the raises


def test_each_code_is_raised_with_the_status_it_is_registered_with() -> None:
    wrong = [(where, name, _registry_name(code), status)
             for where, name, code, status in _raised_codes()
             if _registry_name(code) is not None
             and ProblemCode[str(_registry_name(code))].status != status]
    assert wrong == []
    classes = _problem_classes()
    assert {name: (cls.code, cls.status) for name, cls in classes.items()
            if not isinstance(cls.code, ProblemCode) or cls.code.status != cls.status} == {}
    assert all(code.status == status for status, code in HTTP_LAYER_CODES.items())


def test_every_registered_code_is_answered_somewhere() -> None:
    named = {name for _, tree in _sources() for node in ast.walk(tree)
             if (name := _registry_name(node) if isinstance(node, ast.expr) else None)}
    unused = {code.name for code in ProblemCode} - named
    assert unused == set()


def _readme_codes() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Error codes", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", section, re.MULTILINE)
    return {code: status.strip() for code, status in rows}


def _readme_status(code: ProblemCode) -> str:
    return str(code.status) if code.status is not None else "its own"


def test_the_readme_lists_exactly_the_registered_codes_with_their_statuses() -> None:
    expected = {code.value: _readme_status(code) for code in ProblemCode}
    listed = _readme_codes()
    table = "\n".join(f"| `{code}` | {_readme_status(code)} | {code.when} |"
                      for code in ProblemCode)
    assert listed == expected, f"the README's table of error codes should be:\n{table}"


def test_the_openapi_problem_schema_lists_exactly_the_registered_codes(
        client: FlaskClient) -> None:
    document: dict[str, Any] = client.get("/api/openapi.json").get_json()
    described = document["components"]["schemas"]["Problem"]["properties"]["code"]
    assert described["enum"] == [code.value for code in ProblemCode]

"""Compile the gettext catalogs (``.po`` to ``.mo``) whenever the package is built.

Only the ``.po`` files are in the repository. setuptools runs ``build_py`` (this class,
through ``[tool.setuptools.cmdclass]`` in pyproject.toml) both for a wheel (``pip
install .``, ``python -m build``) and for an editable install (``pip install -e .``, PEP
660, with ``editable_mode`` set): a wheel gets the ``.mo`` files in its build directory;
an editable install writes them beside the ``.po`` files in the source tree, which is
where the editable package reads them (they are gitignored). The tests compile the
catalogs the same way when they start (``tests/conftest.py``), so a worktree run with
``PYTHONPATH`` reads the ``.po`` files as they are.

A catalog whose translations do not fit their msgids (a ``%(name)s`` missing or added)
stops the build: that text would fail when it is shown. Fuzzy entries are left out, as
``pybabel compile`` leaves them out.

This file runs in the build's own environment: it imports setuptools and Babel only,
never the app.
"""

from __future__ import annotations

from pathlib import Path

from setuptools.command.build_py import build_py

CATALOGS = Path("app", "translations")  # relative to the project root


class CatalogError(Exception):
    """A ``.po`` file that cannot be compiled into a working catalog."""


def compile_catalogs(source: Path, target: Path) -> list[Path]:
    """Compile every ``source/<locale>/LC_MESSAGES/<domain>.po`` to the same path under
    ``target`` with ``.mo``; returns the files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalogs = []
    for po_path in sorted(source.glob("*/LC_MESSAGES/*.po")):
        locale = po_path.relative_to(source).parts[0]
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
        problems = [f"{po_path}: {message.id!r}: {error}"
                    for message, errors in catalog.check() for error in errors]
        if problems:  # before anything is written: no half-built set of catalogs
            raise CatalogError("\n".join(problems))
        catalogs.append((po_path, catalog))
    written = []
    for po_path, catalog in catalogs:
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written


class BuildPyWithCatalogs(build_py):
    """``build_py`` that also compiles the catalogs: into the build directory for a
    wheel, in place for an editable install."""

    editable_mode: bool = False

    def run(self) -> None:
        super().run()
        compile_catalogs(CATALOGS, self._catalog_target())

    def _catalog_target(self) -> Path:
        return CATALOGS if self.editable_mode else Path(self.build_lib, CATALOGS)

    def _compiled(self) -> list[str]:
        return [str(Path(self.build_lib, po.with_suffix(".mo")))
                for po in sorted(CATALOGS.glob("*/LC_MESSAGES/*.po"))]

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *self._compiled()]

    def get_output_mapping(self) -> dict[str, str]:
        mapping = dict(super().get_output_mapping())
        if self.editable_mode:  # built in place: the wheel's file is the one in the tree
            for output in self._compiled():
                mapping[output] = str(Path(output).relative_to(self.build_lib))
        return mapping

"""The import's use cases: the preview a merchant reads before anything is written, and
the import itself, in one transaction with one commit (see the package's invariants).

A file with problems imports nothing, unless the merchant asks to skip the rows that
have them (``skip_invalid``): then every other row is imported. Welcome points are not
given to imported cards unless the merchant asks (``welcome``): a customer moving over
brings their balance, they did not just join.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cards.audit import Who
from app.cards.contacts import EmailReader
from app.clock import utcnow
from app.errors import Conflict, Invalid
from app.imports.checks import Candidate, RowFault, RowTerms, check_row
from app.imports.plan import Outcome, Planned, plan
from app.imports.sheet import read_sheet
from app.imports.writes import Written, write
from app.merchants.models import Program
from app.points.postings import Actor, audit
from app.problem_codes import ProblemCode

MAX_PROBLEMS_SAID = 1000  # in a refusal's body; the preview lists every one


@dataclass(frozen=True)
class Preview:
    """What importing the file would do, row by row, and every problem of every row."""

    rows: int
    planned: list[Planned]
    problems: list[RowFault]  # by row, then in the order the columns are checked
    columns: list[str]
    ignored_columns: list[str]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for each in self.planned if each.outcome is outcome)

    @property
    def problem_rows(self) -> int:
        return len({fault.row for fault in self.problems})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "valid_rows": len(self.planned),
            "problem_rows": self.problem_rows,
            "new_customers": self.count(Outcome.NEW_CUSTOMER),
            "new_cards": self.count(Outcome.NEW_CARD), "matched": self.count(Outcome.MATCHED),
            "points": sum(each.candidate.balance for each in self.planned
                          if each.outcome is not Outcome.MATCHED),
            "columns": self.columns, "ignored_columns": self.ignored_columns,
            "problems": [fault.as_dict() for fault in self.problems],
            "outcomes": [{"row": each.candidate.row, "outcome": each.outcome.value}
                         for each in self.planned],
        }


@dataclass(frozen=True)
class Imported:
    rows: int
    skipped_rows: int
    matched: int
    written: Written

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "skipped_rows": self.skipped_rows,
                "matched": self.matched, "created_customers": self.written.customers,
                "created_cards": self.written.cards,
                "old_numbers": self.written.old_numbers, "points": self.written.points,
                "consents_given": self.written.consents}


def preview(session: Session, *, program: Program, data: bytes) -> Preview:
    """What ``import_customers`` would do with the file now; writes nothing (and ends the
    transaction its reads began)."""
    try:
        return _preview(session, program, data)
    finally:
        session.rollback()


def import_customers(session: Session, *, program: Program, data: bytes, actor: Actor,
                     skip_invalid: bool = False, welcome: bool = False) -> Imported:
    """Import the file into the program, all of it or nothing (see the module). Refuses
    a file with problems (``import_has_problems``, 422) unless ``skip_invalid``; another
    change to the same customers meanwhile is ``import_conflict`` (409)."""
    seen = _preview(session, program, data)
    if seen.problems and not skip_invalid:
        session.rollback()
        raise Invalid(
            f"{seen.problem_rows} of the file's {seen.rows} rows have problems; nothing was "
            "imported. Correct them, or import with skip_invalid=true to leave them out.",
            code=ProblemCode.IMPORT_HAS_PROBLEMS, problem_rows=seen.problem_rows,
            errors=[fault.as_dict() for fault in seen.problems[:MAX_PROBLEMS_SAID]])
    who = Who.merchant_key(actor.api_key_id) if actor.api_key_id else Who.system()
    try:
        written = write(session, program=program, planned=seen.planned, actor=actor,
                        who=who, welcome=welcome)
        if written.cards or written.old_numbers or written.consents:
            audit(session, actor, "import", program_id=program.id, rows=seen.rows,
                  skipped=seen.problem_rows, customers=written.customers,
                  cards=written.cards, old_numbers=written.old_numbers,
                  points=written.points)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("Some of these customers or numbers changed while the file was "
                       "imported; nothing was imported. Preview the file again.",
                       code=ProblemCode.IMPORT_CONFLICT) from None
    return Imported(rows=seen.rows, skipped_rows=seen.problem_rows,
                    matched=seen.count(Outcome.MATCHED), written=written)


def _preview(session: Session, program: Program, data: bytes) -> Preview:
    sheet = read_sheet(data)
    terms = RowTerms.of(program)
    session.rollback()  # the rows are checked holding no transaction (SQLite: its lock)
    today = utcnow().date()
    email_reader = EmailReader()
    candidates: list[Candidate] = []
    faults: list[RowFault] = []
    for row in sheet.rows:
        checked = check_row(terms, row, today=today, email_reader=email_reader)
        faults += checked.faults
        if checked.candidate is not None:
            candidates.append(checked.candidate)
    planned, conflicts = plan(session, program, candidates)
    problems = sorted(faults + conflicts, key=lambda fault: fault.row)
    return Preview(rows=len(sheet.rows), planned=planned, problems=problems,
                   columns=[str(column) for column in sheet.columns],
                   ignored_columns=sheet.ignored)

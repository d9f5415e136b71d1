"""The language machinery: ``app.i18n``'s gettext, in a request and outside one."""

from __future__ import annotations

import threading
from gettext import GNUTranslations
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string

from app import create_app
from app.config import Config, ConfigError
from app.i18n import current_locale, gettext, ngettext, using_locale
from tests.conftest import PROJECT_ROOT, load_build_catalogs


def test_using_locale_speaks_inside_the_block_and_restores_the_language_after_it() -> None:
    assert current_locale() == "en"
    with using_locale("ru") as outer:
        with using_locale("uk"):
            assert current_locale() == "uk"
        assert outer == current_locale() == "ru"
    assert current_locale() == "en"


def test_a_language_we_do_not_speak_is_english() -> None:
    with using_locale("de") as chosen:
        assert chosen == current_locale() == "en"


def test_a_worker_thread_keeps_its_own_language() -> None:
    seen: dict[str, str] = {}

    def work() -> None:
        seen["started"] = current_locale()
        with using_locale("uk"):
            seen["inside"] = current_locale()

    with using_locale("ru"):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive()
        assert current_locale() == "ru"
    assert seen == {"started": "en", "inside": "uk"}


def test_placeholders_are_filled_and_a_text_without_values_is_left_as_it_is() -> None:
    assert gettext("Hello %(name)s", name="Olena") == "Hello Olena"
    assert gettext("100%% sure") == "100%% sure"
    assert ngettext("%(num)d point", "%(num)d points", 1) == "1 point"
    assert ngettext("%(num)d point", "%(num)d points", 5) == "5 points"


def test_templates_escape_the_values_they_put_into_a_sentence(app: Flask) -> None:
    with app.test_request_context("/"), using_locale("en"):
        html = render_template_string(
            '{{ _("Join %(program)s", program=name) }} · '
            '{{ ngettext("%(num)d point", "%(num)d points", n) }}',
            name="<b>Zerno</b>", n=2)
    assert html == "Join &lt;b&gt;Zerno&lt;/b&gt; · 2 points"


def test_a_mail_composed_in_a_worker_thread_speaks_the_customers_language() -> None:
    from datetime import datetime, timedelta

    from app.cards.models import CardRecoveryLink
    from app.delivery.mail import compose_recovery_mail
    from app.merchants.models import Merchant, Program

    program = Program(name="Зерно", merchant=Merchant(name="Кавʼярня"))
    created = datetime(2026, 1, 1, 12, 0)
    mails: dict[tuple[str, int], Any] = {}

    def compose(locale: str, minutes: int) -> None:
        link = CardRecoveryLink(program=program, created_at=created,
                                expires_at=created + timedelta(minutes=minutes))
        mails[locale, minutes] = compose_recovery_mail(
            link, recipient="olena@example.com", locale=locale,
            url="https://cards.example.test/r/x", sender_address="cards@example.test")

    with using_locale("en"):  # the thread that starts the worker speaks another language
        workers = [threading.Thread(target=compose, args=(locale, minutes))
                   for locale in ("ru", "uk") for minutes in (21, 22)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=10)
    assert not any(worker.is_alive() for worker in workers)
    assert mails["ru", 21]["Subject"] == "Ваша карта Зерно"
    assert "действует 21 минуту." in mails["ru", 21].get_content()
    assert "действует 22 минуты." in mails["ru", 22].get_content()
    assert "від Кавʼярня" in mails["uk", 21].get_content()
    assert "діє 21 хвилину." in mails["uk", 21].get_content()
    assert "діє 22 хвилини." in mails["uk", 22].get_content()


def test_the_service_refuses_to_start_without_its_compiled_translations(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.i18n

    monkeypatch.setattr(app.i18n, "TRANSLATIONS_DIR", tmp_path / "translations")
    app.i18n._catalog.cache_clear()
    try:
        with pytest.raises(ConfigError, match="pybabel compile -d app/translations"):
            create_app(config)
    finally:
        monkeypatch.undo()
        app.i18n._catalog.cache_clear()
    create_app(config).extensions["loyalpass"].engine.dispose()  # and starts with them


def test_the_build_compiles_the_catalogs_and_stops_at_a_broken_placeholder(
    tmp_path: Path,
) -> None:
    build_catalogs = load_build_catalogs()
    source = PROJECT_ROOT / build_catalogs.CATALOGS
    written = build_catalogs.compile_catalogs(source, tmp_path / "built")
    assert sorted(path.relative_to(tmp_path / "built").as_posix() for path in written) == [
        "ru/LC_MESSAGES/messages.mo", "uk/LC_MESSAGES/messages.mo"]
    with (tmp_path / "built/uk/LC_MESSAGES/messages.mo").open("rb") as compiled:
        assert GNUTranslations(compiled).ngettext("%(num)d point", "%(num)d points", 5) == \
            "%(num)d балів"
    broken = tmp_path / "broken" / "uk" / "LC_MESSAGES"
    broken.mkdir(parents=True)
    (broken / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Language: uk\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        '#, python-format\nmsgid "Join %(program)s"\nmsgstr "Картка %(programme)s"\n')
    with pytest.raises(build_catalogs.CatalogError, match="programme"):
        build_catalogs.compile_catalogs(tmp_path / "broken", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-built

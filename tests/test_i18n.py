"""The language machinery: ``app.i18n``'s gettext, in a request and outside one."""

from __future__ import annotations

import threading

from flask import Flask, render_template_string

from app.i18n import current_locale, gettext, ngettext, using_locale


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

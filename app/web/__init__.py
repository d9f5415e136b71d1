"""The HTTP surfaces: Apple's web service, the JSON API, the public pages, the merchant's
dashboard, operations.

Invariant: views parse, authenticate and call one service function; they never commit.
"""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from app.web import (
        api,
        apple_ws,
        automations,
        card_page,
        google,
        imports,
        offers,
        operations,
        pos,
        posters,
        public,
        pushes,
        recovery,
        segments,
        stats,
        webhooks,
    )
    from app.web.context import IdConverter, install_session_teardown
    from app.web.dashboard import install_dashboard
    from app.web.forms import csrf_settings
    from app.web.jsonbody import BoundedJSONProvider
    from app.web.limits import install_rate_limits
    from app.web.pages import init_babel, install_page_filters
    from app.web.problems import install_problem_handlers
    from app.web.request_log import install_request_log
    from app.web.security import install_security_headers
    from app.web.wallet_lane import install_wallet_lane

    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.config.update(csrf_settings())  # Flask-WTF: the customer's forms (app.web.forms)
    app.json = BoundedJSONProvider(app)  # every request body is parsed with a bound
    install_request_log(app)  # first: every request gets its id, and its line
    install_session_teardown(app)
    operations.install_request_metrics(app)
    install_problem_handlers(app)
    init_babel(app)
    install_page_filters(app)
    runtime = app.extensions["loyalpass"]
    install_security_headers(app, https=runtime.config.base_url.startswith("https://"))
    install_rate_limits(app, runtime.config)
    app.register_blueprint(apple_ws.blueprint, url_prefix=apple_ws.URL_PREFIX)
    app.register_blueprint(api.blueprint, url_prefix="/api")
    app.register_blueprint(pos.blueprint, url_prefix="/api")
    app.register_blueprint(posters.blueprint, url_prefix="/api")
    app.register_blueprint(pushes.blueprint, url_prefix="/api")
    app.register_blueprint(offers.blueprint, url_prefix="/api")
    app.register_blueprint(automations.blueprint, url_prefix="/api")
    app.register_blueprint(imports.blueprint, url_prefix="/api")
    app.register_blueprint(segments.blueprint, url_prefix="/api")
    app.register_blueprint(webhooks.blueprint, url_prefix="/api")
    app.register_blueprint(stats.blueprint, url_prefix="/api")
    app.register_blueprint(google.blueprint, url_prefix="/google")
    google.init_app(app)
    posters.init_app(app)
    app.register_blueprint(public.blueprint)
    app.register_blueprint(card_page.blueprint)
    app.register_blueprint(recovery.blueprint)
    app.register_blueprint(operations.blueprint)
    install_dashboard(app)
    install_wallet_lane(app)  # last: in front of every route

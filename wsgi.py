"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from app import create_app
from app.config import Config
from app.logs import configure_logging

config = Config.from_env()
configure_logging(config.log_format, config.log_level)
app = create_app(config)

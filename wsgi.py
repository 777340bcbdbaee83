"""gunicorn wsgi:app -- the only module that builds an app at import."""
from app.web.factory import create_app

app = create_app()

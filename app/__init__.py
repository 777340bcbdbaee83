"""Petitions: domain, services and repositories, plus the Flask web app in app.web.factory.

Kept free of Flask so the Functions app can import the shared packages without the web stack.
"""

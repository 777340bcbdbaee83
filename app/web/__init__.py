"""The Flask web app: factory, extensions, wiring, sessions, errors and the other plumbing the
blueprints in app/blueprints/ run on."""

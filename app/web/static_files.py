"""Static file URLs carry a hash of the file's content (`?v=...`), so nginx may tell browsers to
keep them for a year: a changed file is a new URL."""
import functools
import hashlib
import os


@functools.lru_cache(maxsize=256)
def _content_hash(path, mtime_ns):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()[:12]


def register_static_versions(app):
    @app.url_defaults
    def add_version(endpoint, values):
        if endpoint != "static" or "v" in values or "filename" not in values:
            return
        path = os.path.join(app.static_folder, values["filename"])
        try:
            values["v"] = _content_hash(path, os.stat(path).st_mtime_ns)  # a new hash when edited
        except OSError:
            pass  # no such file: Flask answers its own 404

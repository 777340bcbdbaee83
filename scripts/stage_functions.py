"""Stages a deployable Functions app folder and proves it imports on its own.

    python scripts/stage_functions.py [DEST]      (default build/functions_app)

Copies functions_app/ plus the shared packages it imports (app/ without the Flask web app, its
templates and static files, and the web app's signing endpoint; config/), then imports function_app from the staged folder in a fresh Python
process with Flask blocked and no project paths, and lists its functions. Exits non-zero if
anything is missing.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The web app's own parts stay out: Flask's plumbing and blueprints, templates and static
# files and its WSGI signing endpoint (the trigger shares only the contract).
IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "local.settings.json", "web", "blueprints", "templates", "static",
    "endpoint.py",
)

# Imported in the fresh process: Flask is made unimportable, so a shared module that drags the
# web stack in fails here rather than in Azure.
PROBE = """
import json, sys
sys.modules["flask"] = None
import function_app
functions = function_app.app.get_functions()
print(json.dumps({f.get_function_name(): f.get_trigger().get_binding_name() for f in functions}))
"""


def stage(dest):
    dest = Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / "functions_app", dest, ignore=IGNORE)
    for package in ("app", "config"):
        shutil.copytree(ROOT / package, dest / package, ignore=IGNORE)
    return dest


def probe(dest):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=dest, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise SystemExit(f"staged app does not import:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv):
    dest = stage(argv[1] if len(argv) > 1 else ROOT / "build" / "functions_app")
    functions = probe(dest)
    print(f"staged {dest}")
    for name, trigger in functions.items():
        print(f"  {name}: {trigger}")
    return functions


if __name__ == "__main__":
    main(sys.argv)

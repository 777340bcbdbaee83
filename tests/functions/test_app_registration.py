"""The Functions app registers exactly the expected functions, and the staged package imports on
its own in a fresh process."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "sign_petition": "httpTrigger",
    "start_lifecycle": "httpTrigger",
    "close_lifecycle_now": "httpTrigger",
    "petition_lifecycle": "orchestrationTrigger",
    "close_petition": "activityTrigger",
    "build_report": "activityTrigger",
    "notify_owner": "activityTrigger",
    "close_overdue": "timerTrigger",
    "persist_signatures": "timerTrigger",
    "send_mail": "timerTrigger",
}


def test_the_app_lists_exactly_the_expected_functions_and_triggers():
    import function_app  # functions_app/ is on sys.path (tests/functions/conftest.py)

    functions = function_app.app.get_functions()  # may be called once per app
    assert {f.get_function_name(): f.get_trigger().get_binding_name() for f in functions} == EXPECTED
    bindings = {f.get_function_name(): {b.get_binding_name() for b in f.get_bindings()} for f in functions}
    for name in ("start_lifecycle", "close_lifecycle_now", "close_overdue"):
        assert "durableClient" in bindings[name]
    http = {f.get_function_name(): f for f in functions if f.get_trigger().get_binding_name() == "httpTrigger"}
    sign = http["sign_petition"].get_trigger()
    assert sign.route == "petitions/{petition_id}/signatures"
    assert {str(m).split(".")[-1] for m in sign.methods} == {"POST", "OPTIONS"}
    assert all(str(f.get_trigger().auth_level).endswith("FUNCTION") for f in http.values())


def test_the_staged_package_imports_in_a_fresh_process(tmp_path):
    dest = tmp_path / "functions_app"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "stage_functions.py"), str(dest)],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    for name, trigger in EXPECTED.items():
        assert f"  {name}: {trigger}" in result.stdout
    for required in ("function_app.py", "host.json", "requirements.txt", ".funcignore",
                     "app/services/assembly.py", "app/signing_endpoint/contract.py", "config/settings.py",
                     "petition_functions/clients.py"):
        assert (dest / required).is_file(), required
    for web_only in ("templates", "static", "web", "blueprints", "signing_endpoint/endpoint.py"):
        assert not (dest / "app" / web_only).exists(), web_only
    assert '"[4.*, 5.0.0)"' in (dest / "host.json").read_text()

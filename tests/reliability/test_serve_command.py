"""`python -m deploy.stack` (make serve) in the several-instance, replicated shape, as an operator
runs it: nginx in front of two gunicorn instances, two persisters, and a Redis primary, replica and
three sentinels. A signature through it is acknowledged and reaches SQL; Ctrl+C (SIGTERM) stops
every process it started."""
import re
import signal
import subprocess
import sys
import threading

import redis

from app.repositories.redis_client import sentinel_url
from deploy.redis_ha import SENTINEL_SERVICE
from tests.reliability.checks import sql_rows
from tests.reliability.load import get_request, mint_sessions, seed, sign_request
from tests.reliability.procs import ROOT, app_env, free_port, wait_until


class _Output(threading.Thread):
    """Collects the command's output as it comes."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.text = stream, ""

    def run(self):
        for line in self.stream:
            self.text += line


def test_serve_with_two_instances_on_replicated_redis(local_app, tmp_path):
    port = free_port()
    env = app_env("", MAIL_DIR=tmp_path / "mail")
    command = subprocess.Popen(
        [sys.executable, "-m", "deploy.stack", "--port", str(port), "--instances", "2", "--persisters", "2",
         "--replicated"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = _Output(command.stdout)
    output.start()
    try:
        wait_until(lambda: "serving on" in output.text or command.poll() is not None, timeout=120,
                   what="the stack to serve")
        assert command.poll() is None, output.text[-3000:]
        sentinels = re.search(r"sentinels on ([\d, ]+)", output.text).group(1).split(", ")
        instances = re.search(r"app instances: (.+?);", output.text).group(1).split(", ")
        assert len(instances) == 2
        group_url = sentinel_url(",".join(f"127.0.0.1:{p}" for p in sentinels), SENTINEL_SERVICE)

        class Group:  # what local_app needs of a Redis: its URL
            url = group_url

        local = local_app(Group)
        user_ids, [petition] = seed(local, users=2, petitions=1)
        sessions = mint_sessions(local, user_ids)
        status, answer, _ = sign_request(port, sessions[user_ids[0]], petition, user_ids[0])
        assert status == 303, answer[:500]
        assert get_request(port, f"/petitions/{petition}")[0] == 200
        for instance in instances:  # nginx's upstream holds both
            assert get_request(int(instance.rsplit(":", 1)[1]), "/api/petitions")[0] == 200
        wait_until(lambda: sql_rows(local) == [(petition, user_ids[0])], timeout=20, what="the signature in SQL")
    finally:
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=60) == 0, output.text[-3000:]
    for sentinel in sentinels:
        try:
            redis.Redis(port=int(sentinel), socket_timeout=0.5).ping()
            raise AssertionError(f"sentinel on {sentinel} still answers after the stop")
        except redis.exceptions.ConnectionError:
            pass

"""Cluster readiness: the signing script against a real three-primary Redis Cluster.

The script's keys, as the app builds them, hash to several slots on several nodes, so Redis
refuses the script with CROSSSLOT before running any of it: the current key design cannot run
on a cluster. The second test renames the same keys with one hash tag per petition group and
counts the rate limits before the script, and the unchanged script then runs on each petition's
node. docs/CLUSTER.md explains both; if the first test starts failing, the key design changed
and that document needs updating.
"""
import socket
import subprocess

import pytest
import redis

from app.domain.signers import SignerContext
from app.repositories import redis_keys as keys
from app.repositories.open_petitions import SIGN_SCRIPT, OpenPetitionStore
from app.services.sign_limits import SignLimits
from tests.reliability.procs import free_port, wait_until

NOW = 1_700_000_000.0  # a fixed time: the fraud-signals key holds the minute
CLOSES_AT = NOW + 86_400
SIGNER = SignerContext("10.0.0.0/24", "example.com", "")
GROUPS = 256  # the second test's petition groups, one outbox shard each (an example figure)


def _bus_port_free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port + 10000))
        except OSError:
            return False
        return True


def _cluster_ports(count=3):
    ports = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and _bus_port_free(port):
            ports.append(port)
    return ports


class Cluster:
    def __init__(self, ports):
        self.ports = ports
        self.clients = {port: redis.Redis(port=port, socket_timeout=5) for port in ports}
        owners = {}
        for start, end, (_, port, *_), *_ in self.clients[ports[0]].execute_command("CLUSTER SLOTS"):
            owners.update(dict.fromkeys(range(start, end + 1), int(port)))
        self.owners = owners

    def slot(self, key):
        return self.clients[self.ports[0]].execute_command("CLUSTER KEYSLOT", key)

    def node(self, key):
        """The port of the primary that owns `key`'s slot."""
        return self.owners[self.slot(key)]

    def keys_everywhere(self):
        return sum(client.dbsize() for client in self.clients.values())

    def flush(self):
        for client in self.clients.values():
            client.flushall()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cluster")
    ports = _cluster_ports()
    processes = []
    try:
        for port in ports:
            processes.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--cluster-enabled", "yes",
                 "--cluster-config-file", str(directory / f"nodes-{port}.conf"), "--save", "",
                 "--appendonly", "no", "--bind", "127.0.0.1", "--dir", str(directory),
                 "--logfile", str(directory / f"redis-{port}.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        for port in ports:
            wait_until(lambda: _answers(port), what=f"cluster node on {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        wait_until(lambda: all(_cluster_ok(p) for p in ports), timeout=30, interval=0.1, what="cluster_state:ok")
        yield Cluster(ports)
    finally:
        for process in processes:
            process.kill()
            process.wait()


def _answers(port):
    try:
        return redis.Redis(port=port, socket_timeout=0.2).ping()
    except redis.exceptions.RedisError:
        return False


def _cluster_ok(port):
    info = redis.Redis(port=port, socket_timeout=1).execute_command("CLUSTER INFO")  # parsed to a dict
    return info.get("cluster_state") == "ok"


def _signing_call(petition_id=42, user_id=7):
    counters = SignLimits("30 per minute", "600 per minute").counters(user_id, "10.0.0.1")
    return OpenPetitionStore._sign_call(petition_id, user_id, NOW, counters, SIGNER), counters


def test_the_signing_script_is_refused_crossslot_on_a_cluster(cluster):
    cluster.flush()
    call, counters = _signing_call()
    script_keys = call["keys"]
    slots = {key: cluster.slot(key) for key in script_keys}
    nodes = {key: cluster.node(key) for key in script_keys}
    print("signing script keys: " + "; ".join(
        f"{key} slot {slots[key]} node {cluster.ports.index(nodes[key]) + 1}" for key in script_keys
    ) + f" -> {len(set(slots.values()))} slots on {len(set(nodes.values()))} of 3 nodes")

    # The keys docs/CLUSTER.md lists: global ones, the petition's own, the signer's counters.
    per_petition = [keys.signers(42), keys.removed_signers(42), keys.signals(42, int(NOW) // 60)]
    assert script_keys == [
        keys.OPEN_BY_CLOSING, per_petition[0], keys.OPEN_BY_SIGNATURES, keys.OUTBOX, keys.ENDED,
        keys.INDEX_READY, per_petition[1], per_petition[2], keys.sign_rate("ip", "10.0.0.1"), keys.sign_rate("user", 7),
    ]
    assert [c.key for c in counters] == script_keys[8:]
    # What blocks it: no key carries a hash tag, so the keys of one signature scatter over
    # slots and nodes; even one petition's own keys do not share a slot.
    assert not any("{" in key for key in script_keys)
    assert len(set(slots.values())) > 1 and len(set(nodes.values())) > 1
    assert len({slots[k] for k in per_petition}) > 1

    # Redis itself refuses it, on the node that owns KEYS[1], before running any of it.
    owner = cluster.clients[nodes[script_keys[0]]]
    owner.zadd(keys.OPEN_BY_CLOSING, {"42": CLOSES_AT})
    with pytest.raises(redis.exceptions.ClusterCrossSlotError, match="same slot"):
        owner.eval(SIGN_SCRIPT, len(script_keys), *script_keys, *call["args"])
    assert cluster.keys_everywhere() == 1  # only the close time written above: nothing counted or signed


def _tagged(key, petition_id):
    """The same key with the hash tag of the petition's group: one slot per group."""
    return f"{key}:{{g{petition_id % GROUPS}}}"


def test_with_a_hash_tag_per_petition_group_the_unchanged_script_runs(cluster):
    """A sketch of the layout docs/CLUSTER.md proposes, not the app's. The script is unchanged,
    so each of its first eight keys gets a copy in the group's slot (the close time, ranking,
    outbox shard, ended and ready markers); the rate limits are counted by their own calls
    before it."""
    cluster.flush()
    home = cluster.node(_tagged("x", 42))
    other = next(pid for pid in range(43, 43 + GROUPS) if cluster.node(_tagged("x", pid)) != home)
    runs = []
    for petition_id in (42, other):
        call, counters = _signing_call(petition_id)
        for counter in counters:  # first round trip: each counter on its own node
            client = cluster.clients[cluster.node(counter.key)]
            if client.incr(counter.key) == 1:
                client.expire(counter.key, counter.window_seconds)
        script_keys = [_tagged(key, petition_id) for key in call["keys"][:8]]
        assert len({cluster.slot(key) for key in script_keys}) == 1
        node = cluster.clients[cluster.node(script_keys[0])]
        node.zadd(script_keys[0], {str(petition_id): CLOSES_AT})
        args = call["args"][: len(call["args"]) - 2 * len(counters)]  # no counters in the script
        first = node.eval(SIGN_SCRIPT, len(script_keys), *script_keys, *args)
        again = node.eval(SIGN_SCRIPT, len(script_keys), *script_keys, *args)
        assert (first, again) == ([1, 1], [0, 1])
        assert node.xlen(script_keys[3]) == 1 and node.zscore(script_keys[2], str(petition_id)) == 1
        runs.append(cluster.ports.index(cluster.node(script_keys[0])) + 1)
    assert len(set(runs)) == 2  # the two petitions' groups live on different nodes
    print(f"hash-tagged per group: petitions 42 and {other} signed on nodes {runs[0]} and {runs[1]}, one slot each")

import pytest

from asab_operator.cli import parser
from asab_operator.config import from_arguments


def config(argv, environ=None):
    return from_arguments(parser().parse_args(["run", *argv]), environ or {})


def test_flags_win_over_environment():
    c = config(["--zookeeper-servers", "zk:2181", "--zookeeper-path", "/other/"],
               {"ASAB_OPERATOR_ZOOKEEPER_SERVERS": "env:1", "ASAB_OPERATOR_RECONCILE_PERIOD": "5"})
    assert c.zookeeper_servers == "zk:2181"
    assert c.run_path == "/other/run"
    assert c.reconcile_period == 5.0


def test_defaults_and_namespaces():
    c = config([], {"ASAB_OPERATOR_ZOOKEEPER_SERVERS": "zk:2181", "ASAB_OPERATOR_NAMESPACES": "a,b"})
    assert c.run_path == "/asab/run"
    assert c.namespaces == ("a", "b")
    assert c.cluster_id is None
    assert config(["--zookeeper-servers", "z:1", "--namespace", "x", "--namespace", "y"]).namespaces == ("x", "y")


def test_zookeeper_servers_required_and_numbers_checked():
    with pytest.raises(SystemExit, match="zookeeper-servers.*is required"):
        config([])
    with pytest.raises(SystemExit, match=r"--health-port \(ASAB_OPERATOR_HEALTH_PORT\): 'eighty' is not a number"):
        config(["--zookeeper-servers", "z:1", "--health-port", "eighty"])
    with pytest.raises(SystemExit, match="has no valid port"):
        config(["--zookeeper-servers", "127.0.0.1:notaport"])
    with pytest.raises(SystemExit, match="is not host:port"):
        config(["--zookeeper-servers", "zk-without-port"])
    assert config(["--zookeeper-servers", "a:1,b:2/chroot"]).zookeeper_servers == "a:1,b:2/chroot"
    with pytest.raises(SystemExit, match="--log-level.*'LOUD' is not one of"):
        config(["--zookeeper-servers", "z:1", "--log-level", "loud"])
    with pytest.raises(SystemExit, match="ASAB_OPERATOR_LOG_FORMAT.*'xml'"):
        config(["--zookeeper-servers", "z:1"], {"ASAB_OPERATOR_LOG_FORMAT": "xml"})
    with pytest.raises(SystemExit, match="--reconcile-period.*not between"):
        config(["--zookeeper-servers", "z:1", "--reconcile-period", "0"])


def test_help_explains_every_setting(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["run", "--help"])
    text = capsys.readouterr().out
    for env in ("ASAB_OPERATOR_ZOOKEEPER_SERVERS", "ASAB_OPERATOR_ZOOKEEPER_PATH", "ASAB_OPERATOR_CLUSTER_ID",
                "ASAB_OPERATOR_NAMESPACES", "ASAB_OPERATOR_HEALTH_PORT"):
        assert env in text

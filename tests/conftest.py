"""Shared fixtures live in tests/fixtures/, one module per service."""

pytest_plugins = [
    "tests.fixtures.mysql",
    "tests.fixtures.redis",
    "tests.fixtures.moto",
    "tests.fixtures.kamailio",
    "tests.fixtures.heroku",
    "tests.fixtures.elasticsearch",
    "tests.fixtures.etcd",
    "tests.contract.moto_process",
    "tests.fixtures.fault_proxy",
    "tests.contract.kits",
]

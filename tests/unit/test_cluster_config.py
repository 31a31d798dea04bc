"""Pointing carelake at a cluster is configuration only: what the settings make of the master and extra conf."""

from __future__ import annotations

import zipfile

import pytest

from carelake.config import load_settings
from carelake.spark import spark_conf


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAKE_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("CARELAKE_SPARK_CONF", raising=False)
    return tmp_path / "lake"


def test_local_mode_stays_on_loopback_and_ships_no_code(lake, monkeypatch):
    monkeypatch.setenv("CARELAKE_SPARK_MASTER", "local[*]")
    conf = spark_conf(load_settings())
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.driver.host"] == conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert "spark.submit.pyFiles" not in conf


def test_a_cluster_on_this_machine_gets_the_code_and_loopback(lake, monkeypatch):
    monkeypatch.setenv("CARELAKE_SPARK_MASTER", "spark://127.0.0.1:7077")
    conf = spark_conf(load_settings())
    assert conf["spark.driver.host"] == "127.0.0.1"
    shipped = conf["spark.submit.pyFiles"]
    assert shipped.startswith(str(lake / "_cluster" / "carelake-")) and shipped.endswith(".zip")
    with zipfile.ZipFile(shipped) as archive:
        names = set(archive.namelist())
    assert {"carelake/__init__.py", "carelake/privacy/deidentify.py", "carelake/spark.py"} <= names
    assert not any("__pycache__" in n for n in names)
    assert spark_conf(load_settings())["spark.submit.pyFiles"] == shipped  # same code, same zip (built once)


def test_a_remote_master_leaves_the_driver_address_to_spark_or_the_operator(lake, monkeypatch):
    monkeypatch.setenv("CARELAKE_SPARK_MASTER", "k8s://https://kubernetes.default.svc:443")
    conf = spark_conf(load_settings())
    assert "spark.driver.host" not in conf and "spark.driver.bindAddress" not in conf
    monkeypatch.setenv("CARELAKE_SPARK_CONF", '{"spark.driver.host": "carelake-driver", "spark.executor.instances": 8}')
    conf = spark_conf(load_settings())
    assert conf["spark.driver.host"] == "carelake-driver"
    assert conf["spark.executor.instances"] == "8"


def test_extra_spark_conf_wins_over_carelakes_defaults(lake, monkeypatch):
    monkeypatch.setenv("CARELAKE_SPARK_CONF", '{"spark.sql.shuffle.partitions": "96"}')
    assert spark_conf(load_settings())["spark.sql.shuffle.partitions"] == "96"


@pytest.mark.parametrize("value", ["spark.executor.memory=8g", '["spark.executor.memory"]'])
def test_a_malformed_extra_spark_conf_is_refused_with_the_fix(lake, monkeypatch, value):
    monkeypatch.setenv("CARELAKE_SPARK_CONF", value)
    with pytest.raises(ValueError, match="CARELAKE_SPARK_CONF"):
        load_settings()


def test_the_dbt_profile_receives_the_same_master(lake, monkeypatch):
    import json

    from carelake.transform import dbt_env

    monkeypatch.setenv("CARELAKE_SPARK_MASTER", "spark://127.0.0.1:7077")
    monkeypatch.setenv("CARELAKE_SPARK_CONF", '{"spark.executor.memory": "3g"}')
    conf = json.loads(dbt_env(load_settings())["CARELAKE_DBT_SPARK_CONF"])
    assert conf["spark.master"] == "spark://127.0.0.1:7077" and conf["spark.executor.memory"] == "3g"

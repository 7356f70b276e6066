"""Settings fail fast and name every bad variable."""

import pytest

from app.config import SettingsError, load_settings


def test_defaults(tmp_path):
    s = load_settings({"CITYGRID_DATA_DIR": str(tmp_path)})
    assert s.storage_srid == 4547
    assert s.database_url.startswith("postgresql+psycopg://")
    assert len(s.secret_key) >= 32
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path)}).secret_key == s.secret_key


def test_every_bad_variable_is_listed(tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings({
            "CITYGRID_DATA_DIR": str(tmp_path),
            "CITYGRID_STORAGE_SRID": "4326",
            "CITYGRID_DISTRICT_CODE": "0123",
            "CITYGRID_PORT": "http",
            "CITYGRID_TILE_URL": "https://tiles.example/no-placeholders.png",
            "CITYGRID_LOCALE": "fr",
        })
    text = str(err.value)
    for name in ("CITYGRID_STORAGE_SRID", "CITYGRID_DISTRICT_CODE", "CITYGRID_PORT",
                 "CITYGRID_TILE_URL", "CITYGRID_LOCALE"):
        assert name in text
    assert len(err.value.problems) == 5


def test_production_needs_secret_and_database(tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings({"CITYGRID_ENV": "production", "CITYGRID_DATA_DIR": str(tmp_path)})
    assert {p.split(":")[0] for p in err.value.problems} == {"DATABASE_URL", "CITYGRID_SECRET_KEY",
                                                             "CITYGRID_PUBLIC_URL"}


def test_trusted_proxies_is_a_small_hop_count(tmp_path):
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path)}).trusted_proxies == 0
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    for bad in ("yes", "-1", "9"):
        with pytest.raises(SettingsError, match="CITYGRID_TRUSTED_PROXIES"):
            load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_TRUSTED_PROXIES": bad})


def test_body_timeout_is_checked(tmp_path):
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path)}).body_timeout_s == 120
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_BODY_TIMEOUT_S": "5"}).body_timeout_s == 5
    for bad in ("0", "soon"):
        with pytest.raises(SettingsError) as err:
            load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_BODY_TIMEOUT_S": bad})
        assert "CITYGRID_BODY_TIMEOUT_S" in str(err.value)


@pytest.mark.parametrize("value", ["city.example.cn", "ftp://city.example.cn", "https://", "https://a.cn/?x=1"])
def test_public_url_must_be_an_http_url(tmp_path, value):
    with pytest.raises(SettingsError) as err:
        load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_PUBLIC_URL": value})
    assert [p.split("=")[0] for p in err.value.problems] == ["CITYGRID_PUBLIC_URL"]


def test_public_url_default_and_trailing_slash(tmp_path):
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_PORT": "8080"}).public_url == \
        "http://127.0.0.1:8080"
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_PUBLIC_URL": "https://city.example.cn/"}
                         ).public_url == "https://city.example.cn"

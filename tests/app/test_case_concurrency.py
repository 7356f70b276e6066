"""Clients at once, each with its own database connection: exactly one wins, the rest get 409."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app import create_app
from tests.app.conftest import PASSWORD, assert_problem, committed_database, lonlat_of, origin_xy


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """An app on its own committed database (no shared test transaction)."""
    roles = ("inspector", "operator", "shift_leader", "dispatcher", "department")
    with committed_database("citygrid_test_concurrency", tmp_path_factory, roles, "c_") as (settings, engine):
        yield create_app({"SETTINGS": settings, "ENGINE": engine, "TESTING": True}), settings


def token(client, username):
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def at_once(*calls):
    """Run the calls in threads released together; return their responses in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_the_same_dispatch_from_two_clients_exactly_one_wins(live):
    app, settings = live
    client = app.test_client()
    tokens = {r: token(client, f"c_{r}") for r in ("inspector", "operator", "shift_leader", "dispatcher")}
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 50, y0 + 50)
    case = client.post("/api/v1/cases", json={"lon": lon, "lat": lat, "category": "E06010", "description": "并发"},
                       headers=tokens["inspector"]).get_json()["case"]
    for role, action in (("operator", "accept"), ("shift_leader", "file")):
        case = client.post(f"/api/v1/cases/{case['id']}/actions", json={"action": action, "version": case["version"]},
                           headers=tokens[role]).get_json()["case"]
    body = {"action": "dispatch", "version": case["version"]}
    url = f"/api/v1/cases/{case['id']}/actions"
    first, second = at_once(
        lambda: app.test_client().post(url, json=body, headers=tokens["dispatcher"]),
        lambda: app.test_client().post(url, json=body, headers=tokens["dispatcher"]),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.mimetype == "application/problem+json"
    assert loser.get_json()["type"] == "/problems/stale-version"
    final = client.get(url.rsplit("/", 1)[0], headers=tokens["dispatcher"]).get_json()
    assert final["state"] == "dispatched"
    assert [e["action"] for e in final["timeline"]].count("dispatch") == 1


#: Bursts in order along the case loop: each action at one version from many clients at once.
#: They take different paths through perform_action (the time-limit query of a new stage, the
#: department relationship, a self-loop that keeps the state), where a stale row used to be
#: flushed early and answer 500.
BURSTS = (("operator", "accept"), ("shift_leader", "file"), ("dispatcher", "dispatch"),
          ("department", "start"), ("dispatcher", "urge"))
CLIENTS = 12


def test_bursts_of_the_same_action_one_200_and_every_loser_a_409_with_the_current_version(live):
    app, settings = live
    client = app.test_client()
    tokens = {r: token(client, f"c_{r}") for r in ("inspector", "operator", "shift_leader", "dispatcher",
                                                   "department")}
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 50, y0 + 150)
    case = client.post("/api/v1/cases", json={"lon": lon, "lat": lat, "category": "E06010", "description": "连发"},
                       headers=tokens["inspector"]).get_json()["case"]
    url = f"/api/v1/cases/{case['id']}/actions"
    for role, action in BURSTS:
        body = {"action": action, "version": case["version"]}
        responses = at_once(*[
            (lambda: app.test_client().post(url, json=body, headers=tokens[role])) for _ in range(CLIENTS)
        ])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [409] * (CLIENTS - 1), (action, statuses)
        case = next(r for r in responses if r.status_code == 200).get_json()["case"]
        assert case["version"] == body["version"] + 1
        for loser in (r for r in responses if r.status_code == 409):
            problem = assert_problem(loser, 409)
            assert problem["type"] == "/problems/stale-version", (action, problem)
            assert problem["current_version"] == case["version"], (action, problem)
    final = client.get(url.rsplit("/", 1)[0], headers=tokens["dispatcher"]).get_json()
    assert [e["action"] for e in final["timeline"]][-len(BURSTS):] == [a for _, a in BURSTS]
    assert final["version"] == case["version"]


def test_the_same_report_retried_concurrently_makes_one_case(live):
    app, settings = live
    client = app.test_client()
    inspector = token(client, "c_inspector")
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 150, y0 + 50)
    body = {"lon": lon, "lat": lat, "category": "E06010", "description": "重试"}
    headers = {**inspector, "Idempotency-Key": "race-0001"}
    responses = at_once(*[
        (lambda: app.test_client().post("/api/v1/cases", json=body, headers=headers)) for _ in range(3)
    ])
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.get_json()["case"]["id"] for r in responses}) == 1
    engine = sa.create_engine(app.config["SETTINGS"].database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM cases WHERE description = '重试'")) == 1
    engine.dispose()


def _photo(seed: int) -> bytes:
    """A JPEG no other test stores (its bytes, hence its file, are new)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (48, 32), (seed % 256, (seed >> 8) % 256, 77)).save(buf, "JPEG")
    return buf.getvalue()


def _multipart(body, photo):
    import io
    import json

    return {"data": json.dumps(body), "photos": [(io.BytesIO(photo), "p.jpg")]}


def test_parallel_retries_with_a_new_photo_keep_it_and_burn_no_number(live):
    """The phone's offline queue sends the same report with the same key several times at once."""
    app, settings = live
    client = app.test_client()
    inspector = token(client, "c_inspector")
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 250, y0 + 50)
    photo = _photo(4242)
    body = {"lon": lon, "lat": lat, "category": "E06010", "description": "离线重发"}
    headers = {**inspector, "Idempotency-Key": "offline-queue-0001"}
    responses = at_once(*[
        (lambda: app.test_client().post("/api/v1/cases", data=_multipart(body, photo), headers=headers,
                                        content_type="multipart/form-data")) for _ in range(10)
    ])
    assert [r.status_code for r in responses] == [201] * 10
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == [""] + ["true"] * 9
    case = responses[0].get_json()["case"]
    assert {r.get_json()["case"]["id"] for r in responses} == {case["id"]}
    detail = client.get(case["url"], headers=inspector).get_json()
    assert len(detail["photos"]) == 1
    image = client.get(detail["photos"][0]["url"], headers=inspector)
    assert image.status_code == 200 and image.data == photo
    image.close()
    # The nine losers drew no number: the next report gets the next one.
    following = client.post("/api/v1/cases", json={**body, "description": "下一件"}, headers=inspector)
    assert following.status_code == 201
    assert following.get_json()["case"]["id"] == case["id"] + 1
    assert following.get_json()["case"]["number"][-8:] == f"{case['id'] + 1:08d}"
    engine = sa.create_engine(settings.database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM cases WHERE description = '离线重发'")) == 1
    engine.dispose()


def test_the_sweep_removes_only_old_files_no_committed_row_refers_to(live, tmp_path):
    import os
    import time
    from datetime import timedelta

    from click.testing import CliRunner
    from sqlalchemy.orm import Session

    from app.cli import main as cli
    from app.services.photos import PhotoStore, check_photo, sweep_orphans

    app, settings = live
    client = app.test_client()
    inspector = token(client, "c_inspector")
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 250, y0 + 150)
    store = PhotoStore(settings.photo_dir)
    kept_photo, orphan, reused, pending = (check_photo(0, _photo(seed), 10 << 20) for seed in (901, 902, 903, 904))
    resp = client.post("/api/v1/cases", data=_multipart({"lon": lon, "lat": lat, "category": "E06010",
                                                         "description": "清扫"}, kept_photo.data),
                       headers=inspector, content_type="multipart/form-data")
    assert resp.status_code == 201
    day_ago = time.time() - 86400
    for photo in (kept_photo, orphan, reused):
        path = store.save(photo)
        os.utime(path, (day_ago, day_ago))
    leftover = settings.photo_dir / kept_photo.sha256[:2] / ".upload-crashed"
    leftover.write_bytes(b"half a photo")
    os.utime(leftover, (day_ago, day_ago))
    # Another request reuses an old unreferenced file and has not committed yet ...
    store.save(reused)
    # ... and one has written a new file and inserted its row, uncommitted.
    engine = sa.create_engine(settings.database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as other:
        other.execute(sa.text(
            "INSERT INTO case_photos (case_id, stage, sha256, content_type, size_bytes, width, height, created_at)"
            " VALUES (:case, 'report', :sha, 'image/jpeg', 1, 48, 32, now())"),
            {"case": resp.get_json()["case"]["id"], "sha": pending.sha256})
        store.save(pending)
        with Session(engine) as session:
            result = sweep_orphans(session, settings.photo_dir, timedelta(hours=1))
        assert sorted(result.removed) == sorted([store.path_for(orphan.sha256, ".jpg"), leftover])
        other.rollback()
    for photo in (kept_photo, reused, pending):
        assert store.path_for(photo.sha256, ".jpg").exists()
    assert not store.path_for(orphan.sha256, ".jpg").exists() and not leftover.exists()
    detail = client.get(resp.get_json()["case"]["url"], headers=inspector).get_json()
    image = client.get(detail["photos"][0]["url"], headers=inspector)
    assert image.status_code == 200 and image.data == kept_photo.data
    image.close()
    # The command: a dry run names the now unreferenced files without removing them.
    env = {"DATABASE_URL": settings.database_url, "CITYGRID_DATA_DIR": str(settings.data_dir),
           "CITYGRID_SECRET_KEY": "x" * 32, "CITYGRID_ENV": "test"}
    out = CliRunner().invoke(cli, ["sweep-photos", "--grace-hours", "0", "--dry-run"], env=env)
    assert out.exit_code == 0, out.output
    assert reused.sha256 in out.output and pending.sha256 in out.output and kept_photo.sha256 not in out.output
    assert store.path_for(pending.sha256, ".jpg").exists()
    engine.dispose()

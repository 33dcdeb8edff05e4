"""The snapshot archive in Home Assistant's Media browser: the add-on writes it to
/media/solarcam (tests/addon_repository.rs checks that rendering); here the bridge archives into
the media folder Home Assistant serves, and the Media browser shows each camera's snapshots by
day and hands out their bytes."""

from conftest import DRIVEWAY, bridge_config, jpeg
from harness import wait_until

ROOT_ID = "media-source://media_source/media/solarcam"


def browse(stack, media_id: str) -> dict:
    return stack.ha.ws_call({"type": "media_source/browse_media", "media_content_id": media_id})


def test_the_archive_shows_in_the_media_browser_by_camera_and_day(stack):
    media = stack.ha.media
    stack.start(bridge_config(stack.broker.port, f"archive:\n  dir: {media / 'solarcam'}"))
    stack.wait_entity("camera.driveway")
    picture = jpeg(42)
    stack.alarm()
    stack.snapshot(DRIVEWAY.encode() + picture)

    # Media > My media > solarcam > driveway > the day > the alarm's picture.
    cameras = wait_until("the archive in the Media browser", lambda: [
        c for c in browse(stack, ROOT_ID)["children"] if c["title"] == "driveway"])
    days = browse(stack, cameras[0]["media_content_id"])["children"]
    assert len(days) == 1 and days[0]["can_expand"], days
    files = wait_until("the day's snapshot", lambda: browse(
        stack, days[0]["media_content_id"])["children"])
    assert [f["title"].endswith("_alarm.jpg") for f in files] == [True], files
    assert files[0]["media_class"] == "image"
    resolved = stack.ha.ws_call({"type": "media_source/resolve_media",
                                 "media_content_id": files[0]["media_content_id"]})
    assert resolved["mime_type"] == "image/jpeg"
    r = stack.ha.get_bytes(resolved["url"])
    assert r.status_code == 200 and r.content == picture

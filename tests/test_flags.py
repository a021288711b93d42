"""Flag codes end to end: the README lists exactly the pipeline's codes, stored rows from before
codes still read as flagged (`legacy`), and every decision reads codes."""

from __future__ import annotations

import re

import pytest

from photosync.flags import flag_codes, flags_read, flags_store
from photosync.models import GeneratedImage, Push, Store
from photosync.services.review import images_auto_approve
from pipeline.flags import FLAG_CODES, Flag
from tests.conftest import REPO
from tests.review_data import FLAG, seed_product

OLD = "The product touches the photo's edge (9% of the border); it may be cropped."


def test_the_readme_table_lists_exactly_the_flag_codes():
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Review flags", 1)[1].split("\n\n", 3)[2]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", section, flags=re.M)
    assert [code for code, _ in rows] == list(FLAG_CODES)
    for code, meaning in rows:
        assert meaning.rstrip(".").lower() == FLAG_CODES[code].lower(), code


def test_stored_flags_of_every_age_read_with_a_code():
    assert flags_read([FLAG, OLD, {"message": "no code"}]) == [
        FLAG, {"code": "legacy", "message": OLD}, {"code": "legacy", "message": "no code"}]
    assert flag_codes([OLD, OLD, FLAG]) == ["legacy", "colour_drift"]
    assert flags_read(None) == [] and flag_codes([]) == []
    assert flags_store([Flag("low_resolution", "Soft.")]) == [
        {"code": "low_resolution", "message": "Soft."}]


@pytest.mark.django_db
def test_the_api_gives_code_and_message_and_legacy_rows_stay_flagged(client, operator,
                                                                     media_root):
    store = Store.objects.create(platform="local", domain="/tmp/flags", name="Flags",
                                 settings={"auto_approve": "all"})
    product = seed_product(store, title="Lamp", seed=3,
                           outputs=(("framed", []), ("scene", [FLAG]), ("scene", [OLD])))
    client.force_login(operator)
    detail = client.get(f"/api/v1/products/{product.pk}/").json()
    by_id = {g["id"]: g for g in detail["generated"]}
    clean, coded, legacy = product.generated.order_by("pk")
    assert by_id[clean.pk]["flags"] == []
    assert by_id[clean.pk]["fidelity"]["passed"] is True
    assert by_id[coded.pk]["flags"] == [FLAG]
    assert by_id[coded.pk]["fidelity"] | {"numbers": None} == {
        "passed": False, "codes": ["colour_drift"], "numbers": None}
    assert by_id[legacy.pk]["flags"] == [{"code": "legacy", "message": OLD}]
    assert by_id[legacy.pk]["fidelity"]["passed"] is False
    # Neither the auto-approve rule nor bulk approve lets a flagged row through, old or new.
    assert images_auto_approve(job=clean.job) == 1
    assert set(Push.objects.values_list("image_id", flat=True)) == {clean.pk}
    body = client.post("/api/v1/images/bulk-approve", {"products": [product.pk]},
                       content_type="application/json").json()
    assert body["approved"] == []
    assert sorted(s["id"] for s in body["skipped"]) == sorted([coded.pk, legacy.pk])
    assert {s["reason"] for s in body["skipped"]} == {"flagged"}
    assert set(GeneratedImage.objects.filter(pk__in=[coded.pk, legacy.pk])
               .values_list("status", flat=True)) == {"ready"}

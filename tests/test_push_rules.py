"""The read-back rules of a push (services/push_store.Wanted) and the gallery a rollback or a
featured change leaves (integrations/base), on plain values."""

from __future__ import annotations

from integrations.base import MediaStatus, PushState, gallery_moved, gallery_without
from photosync.models import GeneratedImage, Push
from photosync.services.push_store import Wanted


def _wanted(*, alt="Alt", featured=False, sent_alt="", sent_featured=False) -> Wanted:
    return Wanted.of(Push(sent_alt=sent_alt, sent_featured=sent_featured),
                     GeneratedImage(alt_text=alt, featured=featured))


def _shown(alt="Alt", featured=False, count=3, status=MediaStatus.LIVE) -> PushState:
    return PushState(status, alt=alt, featured=featured, count=count)


def test_live_means_the_store_shows_the_alt_text_and_the_featured_choice():
    assert _wanted().shown_by(_shown())
    assert not _wanted().shown_by(_shown(alt="Other"))
    assert not _wanted().shown_by(_shown(status=MediaStatus.PROCESSING))
    assert _wanted(featured=True).shown_by(_shown(featured=True))
    assert not _wanted(featured=True).shown_by(_shown(featured=False))


def test_a_position_is_enforced_only_where_the_merchant_chose_it():
    # Never featured by us: wherever the merchant put it (even first) is fine.
    assert _wanted().shown_by(_shown(featured=True))
    # Featured by us, now un-featured: not first, unless it is the only image.
    unfeatured = _wanted(sent_featured=True)
    assert not unfeatured.shown_by(_shown(featured=True))
    assert unfeatured.shown_by(_shown(featured=True, count=1))
    assert unfeatured.shown_by(_shown(featured=False))


def test_an_empty_alt_text_is_enforced_only_when_the_merchant_cleared_ours():
    assert _wanted(alt="").shown_by(_shown(alt="Filled in by the store"))
    assert not _wanted(alt="", sent_alt="Ours").shown_by(_shown(alt="Ours"))


def test_rollback_keeps_the_order_and_restores_featured_only_where_ours_is_first():
    assert gallery_without(["ours", "a", "b"], "ours", "a") == ["a", "b"]
    assert gallery_without(["ours", "b", "a"], "ours", "a") == ["a", "b"]  # featured again
    assert gallery_without(["x", "ours", "a", "b"], "ours", "a") == ["x", "a", "b"]  # theirs
    assert gallery_without(["a", "b", "ours"], "ours", "a") == ["a", "b"]
    assert gallery_without(["ours", "b"], "ours", "gone") == ["b"]
    assert gallery_without(["a"], "ours", "a") == ["a"]  # already gone: nothing changes
    assert gallery_moved(["a", "ours", "b"], "ours", featured=True) == ["ours", "a", "b"]
    assert gallery_moved(["ours", "a", "b"], "ours", featured=False) == ["a", "b", "ours"]

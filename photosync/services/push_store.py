"""What a push does on the store, under the product's write lease: write, then read the
product back, and call the push live only when the store shows our image with the alt text
and featured choice the merchant approved.

`push_write` is the send (add the image when it is not there, fix what differs), and
`push_read_back` the check that follows it, or follows the store's processing. Both answer
a `Checked` that `services.pushes` turns into the push's next status. A push target is the
product (`push.product.remote_id`), or, for an output of a variant's own image, that
variant (`integrations.base.variant_target`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from integrations.base import (
    MediaStatus,
    NewImage,
    PushResult,
    PushState,
    StoreAdapter,
    variant_target,
)
from photosync.models import GeneratedImage, Push
from photosync.services.media import media_public_url
from photosync.services.originals import product_originals_backup


class Outcome(StrEnum):
    LIVE = "live"  # the store shows what the merchant approved
    PROCESSING = "processing"  # the store is still processing the media: poll
    FAILED = "failed"  # the store refused or lost it for good: `reason` says why
    RECHECK = "recheck"  # the read-back did not show the write (yet): send again shortly


@dataclass(frozen=True)
class Wanted:
    """What the store should show: the alt text (an empty one only when the merchant cleared
    ours; otherwise a store that fills in alt texts itself is left to it), and the position:
    True first (featured), False not first (ours was featured and no longer is), None
    wherever it is."""

    alt: str
    featured: bool | None
    image_featured: bool  # the image's choice these were derived from
    alt_checked: bool = True

    @classmethod
    def of(cls, push: Push, image: GeneratedImage) -> Wanted:
        if image.featured:
            featured: bool | None = True
        else:
            featured = False if push.sent_featured else None
        return cls(alt=image.alt_text, featured=featured, image_featured=image.featured,
                   alt_checked=bool(image.alt_text or push.sent_alt))

    def shown_by(self, state: PushState) -> bool:
        """Live: processed, with our alt text, where we put it, and (a variant's image) on
        the variant too; what differs is written by `update_image` and read back."""
        return (state.status is MediaStatus.LIVE and self.alt_ok(state)
                and self.position_ok(state) and state.on_variant is not False)

    def alt_ok(self, state: PushState) -> bool:
        return not self.alt_checked or state.alt == self.alt

    def position_ok(self, state: PushState) -> bool:
        if self.featured is True:
            return state.featured
        if self.featured is False:
            return not state.featured or state.count <= 1  # alone, it is first anyway
        return True


@dataclass(frozen=True)
class Checked:
    outcome: Outcome
    reason: str = ""
    wanted: Wanted | None = None  # what LIVE was verified against
    removed: bool = False  # our failed media was taken off the product


def target_of(push: Push) -> str:
    """The store-side id the push writes to (the product; B2: or its variant)."""
    return variant_target(push.product.remote_id, push.image.source.variant_id)


def push_write(*, push: Push, image: GeneratedImage, adapter: StoreAdapter,
               add: bool) -> Checked:
    """Send the push: with `add`, put the image on the product unless an earlier attempt
    already did (adapters find their own image by its content hash); then read back."""
    if add:
        product_originals_backup(product=push.product, adapter=adapter)
        result = adapter.push_image(target_of(push), new_image(push, image))
        _remote_record(push, result)
        if result.status is MediaStatus.PROCESSING:
            return Checked(Outcome.PROCESSING)
    return push_read_back(push=push, image=image, adapter=adapter, may_add=add)


def push_read_back(*, push: Push, image: GeneratedImage, adapter: StoreAdapter,
                   may_add: bool, state: PushState | None = None) -> Checked:
    """Read the product back (unless `state` was just read) and decide; what differs from
    the approval (alt text, featured choice) is written once and read back again. Our media
    that the store failed to process is taken off the product with the store's reason."""
    target = target_of(push)
    wanted = Wanted.of(push, image)
    state = state or adapter.push_status(target, push.remote_id)
    if state.status is MediaStatus.PROCESSING:
        return Checked(Outcome.PROCESSING)
    if state.status is MediaStatus.FAILED:
        adapter.rollback(target, push.remote_id, push.previous_state)
        return Checked(Outcome.FAILED, removed=True, reason=(
            f"The store could not process the image: {state.reason}. PhotoSync took it off "
            "the product; use Retry to upload it again."))
    if state.status is MediaStatus.MISSING:
        if may_add:
            return Checked(Outcome.RECHECK,
                           reason="The store did not show the image after it was sent.")
        return Checked(Outcome.FAILED, reason=(
            f"The image is no longer on the product in the store ({state.reason}); use "
            "Retry to put it back."))
    if not wanted.shown_by(state):
        adapter.update_image(target, push.remote_id,
                             alt=None if wanted.alt_ok(state) else wanted.alt,
                             featured=None if wanted.position_ok(state) else wanted.featured)
        if not wanted.shown_by(adapter.push_status(target, push.remote_id)):
            return Checked(Outcome.RECHECK,
                           reason="The store did not show the new alt text, featured "
                                  "choice or variant image yet.")
    return Checked(Outcome.LIVE, wanted=wanted)


def new_image(push: Push, image: GeneratedImage) -> NewImage:
    with image.file.open("rb") as fh:
        data = fh.read()
    return NewImage(
        data=data,
        filename=f"{push.product.remote_id}-{image.preset}-{image.pk}"
        f"{PurePosixPath(image.file.name).suffix}",
        content_type=image.content_type,
        content_hash=push.content_hash,
        alt=image.alt_text,
        featured=image.featured,
        public_url=media_public_url(image.file.name),
    )


def _remote_record(push: Push, result: PushResult) -> None:
    """Keep the remote id at once (the echo of this write must read as ours) and the
    gallery before the first write that put this image there (what rollback restores)."""
    if push.remote_id == result.remote_id:
        return
    push.remote_id = result.remote_id
    push.previous_state = result.previous_state
    Push.objects.filter(pk=push.pk).update(remote_id=push.remote_id,
                                           previous_state=push.previous_state)

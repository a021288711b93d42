"""Errors raised by the pipeline, classified by what the caller should do.

* :class:`InputError` — the merchant's file is unusable. Show ``.message``; never retry.
* :class:`ConfigError` — a setting names something that does not exist. Fix the settings.
* :class:`BackendUnavailable` — a model, package or device is missing on this host. The worker
  should refuse to start (or the scheduler should pick another host); retrying here is useless.
* :class:`GenerationError` — generation itself failed (deadline, out of memory after the one
  degraded retry). ``retryable`` says whether another attempt later may succeed.

Every error carries ``.message``: one sentence a merchant (or an operator, for configuration
errors) can read. ``str(error)`` is the same sentence.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error the pipeline raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(PipelineError):
    """The input file cannot be processed; the message says why in merchant terms."""


class EmptyFile(InputError):
    """The upload has zero bytes."""


class NotAnImage(InputError):
    """The bytes are not an image format we can read (text, PDF, archive, ...)."""


class UnsupportedImage(InputError):
    """An image, but in a format or mode this pipeline cannot convert."""


class CorruptImage(InputError):
    """An image header was found but the data is truncated or damaged."""


class ImageTooLarge(InputError):
    """Too many bytes, too many pixels, or a decompression bomb; rejected before decoding."""


class ConfigError(PipelineError, ValueError):
    """A configuration value is invalid; the message names the value and the valid choices."""


class UnknownBackend(ConfigError):
    """A segmenter or scene generator name is not registered."""


class NonCommercialModel(ConfigError):
    """A configured model's licence forbids commercial use and the operator has not opted in."""


class BackendUnavailable(PipelineError):
    """A backend is configured but cannot run on this host (package, model file or device)."""


class ModelNotFound(BackendUnavailable):
    """Model weights are not present where the backend looks for them (nothing is downloaded)."""


class DeviceUnavailable(BackendUnavailable):
    """The configured device (e.g. ``cuda``) is not usable on this host."""


class ServiceUnavailable(BackendUnavailable):
    """A hosted API did not answer usefully: down, timed out, rate limited, out of credits,
    or its circuit breaker is open. The next segmenter of the fallback chain takes over."""


class GenerationError(PipelineError):
    """Scene generation failed."""


class GenerationTimeout(GenerationError):
    """The deadline passed between denoising steps; the job may be retried later."""

    retryable = True


class OutOfMemory(GenerationError):
    """Out of device memory even after the one degraded retry; not retried again."""


class NoProductFound(InputError):
    """Segmentation found nothing but background (a blank or uniform photo)."""


class MaskMismatch(InputError):
    """A touched-up mask is not the size of the photo it is applied to."""

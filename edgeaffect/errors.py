"""Errors of the runtime; each says how to fix the problem."""


class EdgeAffectError(Exception):
    """Base class of edgeaffect's runtime errors."""


class CorruptArtifactError(EdgeAffectError, ValueError):
    """A model file cannot be parsed."""


class ArtifactMismatchError(EdgeAffectError, ValueError):
    """An artifact does not match what was asked for (model, labels, input shape, version)."""


class BackendUnavailableError(EdgeAffectError, RuntimeError):
    """No backend can serve a request; the message lists every backend and why."""


class PrecisionUnavailableError(EdgeAffectError, RuntimeError):
    """The requested precision cannot run on the chosen backend and no fallback was allowed."""


class InputError(EdgeAffectError, ValueError):
    """An input batch has the wrong shape, dtype or values."""


class InputWarning(UserWarning):
    """An input is accepted but probably not what was meant (float images scaled 0-1, for example)."""

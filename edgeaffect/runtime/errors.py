"""The runtime's errors (defined in edgeaffect.errors, which imports nothing)."""

from ..errors import (  # noqa: F401
    ArtifactMismatchError,
    BackendUnavailableError,
    CorruptArtifactError,
    EdgeAffectError,
    InputError,
    PrecisionUnavailableError,
)

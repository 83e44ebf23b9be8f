"""The small family of errors DeepGuard raises on purpose.

Each message says what was expected, what was received and how to fix it.
"""


class DeepGuardError(Exception):
    """Base class of every error DeepGuard raises on purpose."""


class ConfigError(DeepGuardError, ValueError):
    """A configuration value or group choice is invalid."""


class DataError(DeepGuardError, ValueError):
    """A dataset cannot be read, or too much of it is unreadable."""


class ModelIntegrityError(DeepGuardError):
    """A model file is missing, altered (sha256 mismatch) or unsafe to load."""


class ImageInputError(DeepGuardError, ValueError):
    """One input image is unusable; `status` is the HTTP status the API answers with.

    Args:
        message: what was wrong and how to fix it.
        status: 400 (bad bytes), 413 (too large), 415 (unsupported format) or 422 (bad shape).
        code: a short machine-readable reason such as ``"truncated"``.
    """

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_image"):
        super().__init__(message)
        self.status = status
        self.code = code

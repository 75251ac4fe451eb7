"""Errors raised while checking uploaded files.

Kept free of Django so the ingest core stays a pure library; the service layer maps `IngestRejected` onto the
project's `ApplicationError` shape (`{"message", "code"}`) and shows it per file.
"""

from __future__ import annotations


class IngestRejected(Exception):
    """An uploaded file or archive was refused.

    `code` is a short, stable snake_case string clients may branch on (`unsupported_format`, `disguised_file`,
    `unsupported_sample_format`, `truncated`, `too_many_pixels`, `corrupt`, `empty_file`, `multi_frame`, `zip_slip`,
    `symlink`, `nested_archive`, `member_too_large`, `archive_too_large`, `too_many_members`, `not_an_archive`,
    `encrypted`, ...); `message` is a sentence for a human and may change wording freely.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"IngestRejected(code={self.code!r}, message={self.message!r})"


class Cancelled(Exception):
    """Long work stopped because its `progress` callback returned False (the job was cancelled)."""

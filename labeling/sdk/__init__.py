"""Python client for the Annotator API. It needs only `requests`, never Django: `pip install ./sdk` from a clone
installs it (and the `annotator` command) alone, as the `annotator-sdk` distribution; the server's own install
includes it too.

    from labeling.sdk import Client
    client = Client.login("https://label.example.com", "me", password)
"""

from labeling.sdk.client import (
    IMAGE_EXTENSIONS,
    UPLOAD_EXTENSIONS,
    ApiError,
    Client,
    FileUpload,
    JobFailed,
    JobTimeout,
    UploadSummary,
    folder_files,
)

__all__ = ["ApiError", "Client", "FileUpload", "IMAGE_EXTENSIONS", "JobFailed", "JobTimeout", "UPLOAD_EXTENSIONS",
           "UploadSummary", "folder_files"]

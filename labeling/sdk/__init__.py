"""Python client for the Annotator API (`pip install annotator`; needs only `requests`, never Django).

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

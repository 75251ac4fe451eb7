"""Upload handlers: Django's temporary-file handler, but a file whose writing fails (a full disk) is removed at
once rather than when the garbage collector releases the failed request."""

from django.core.files.uploadhandler import TemporaryFileUploadHandler


class CleaningTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def receive_data_chunk(self, raw_data, start):
        try:
            return super().receive_data_chunk(raw_data, start)
        except BaseException:
            self.upload_interrupted()
            raise

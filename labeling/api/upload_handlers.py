"""Upload handlers: Django's temporary-file handler, but a file whose writing fails (a full disk) is removed at
once rather than when the garbage collector releases the failed request."""

from django.core.files.uploadhandler import TemporaryFileUploadHandler


class CleaningTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    # A write can fail when a chunk is written or when buffered bytes are flushed at the file's end.
    def receive_data_chunk(self, raw_data, start):
        try:
            return super().receive_data_chunk(raw_data, start)
        except BaseException:
            self.upload_interrupted()
            raise

    def file_complete(self, file_size):
        try:
            return super().file_complete(file_size)
        except BaseException:
            self.upload_interrupted()
            raise

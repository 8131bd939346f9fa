"""A multipart/form-data body read as it arrives: the `file` part's bytes are handed on chunk
by chunk (to storage), the small text fields kept. Starlette's form parser would spool the
whole file before the route could check its size; python-multipart's push parser lets the
size limit and the write to storage act on each network chunk."""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from parley.core.errors import ValidationFailed

FILE_FIELD = "file"
# Text fields (conversationId) are short; anything longer is not one of ours.
MAX_FIELD_BYTES = 1024
MAX_FIELDS = 8


class FormReader:
    """Feeds the request body to the parser; `file_chunks()` yields the file part's data."""

    def __init__(self, content_type: str | None, body: AsyncIterator[bytes]) -> None:
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise ValidationFailed(
                "Send the file as multipart/form-data in the field `file`", field="file"
            )
        self._body = body
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.seen_file = False
        self._file_done = False
        self._pending: list[bytes] = []
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._part: str | None = None  # "file", a field's name, or "" for a part we skip
        self._field_value = bytearray()
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The `file` part's bytes as they arrive; VALIDATION_ERROR when the body ends
        without one."""
        async for chunk in self._body:
            self._write(chunk)
            if self._pending:
                pending, self._pending = self._pending, []
                for data in pending:
                    yield data
            if self._file_done:
                return
        self._finalize()
        if not self.seen_file:
            raise ValidationFailed("The form has no `file` field", field="file")
        for data in self._pending:
            yield data
        self._pending = []

    async def finish(self) -> None:
        """Read the rest of the body (fields after the file)."""
        async for chunk in self._body:
            self._write(chunk)
        self._finalize()

    def _write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise ValidationFailed("The multipart body is malformed", field="file") from None

    def _finalize(self) -> None:
        try:
            self._parser.finalize()
        except MultipartParseError:
            raise ValidationFailed("The multipart body is malformed", field="file") from None

    # python-multipart's callbacks (synchronous; they only record).

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == FILE_FIELD and not self.seen_file:
            self.seen_file = True
            filename = options.get(b"filename")
            self.filename = filename.decode("utf-8", "replace") if filename else None
            self._part = FILE_FIELD
        elif name and name != FILE_FIELD and len(self.fields) < MAX_FIELDS:
            self._part = name
            self._field_value = bytearray()
        else:
            self._part = ""

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == FILE_FIELD:
            self._pending.append(bytes(data[start:end]))
        elif self._part:
            self._field_value += data[start:end]
            if len(self._field_value) > MAX_FIELD_BYTES:
                raise ValidationFailed(f"The field `{self._part}` is too long", field=self._part)

    def _on_part_end(self) -> None:
        if self._part == FILE_FIELD:
            self._file_done = True
        elif self._part:
            self.fields[self._part] = self._field_value.decode("utf-8", "replace")
        self._part = None

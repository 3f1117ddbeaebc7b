"""Serving clips with HTTP Range support, so that browsers can seek and resume."""

import re

from django.http import HttpResponse, StreamingHttpResponse

CHUNK = 64 * 1024
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range, None for no usable range.

    Raises ValueError when the range cannot be satisfied (the caller answers 416).
    Several ranges in one header are answered with the whole file, which HTTP allows.
    """
    match = RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # a suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError("range outside the file")
    return start, end


def _chunks(handle, start: int, length: int):
    try:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(CHUNK, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()


def ranged_file_response(request, field_file, content_type: str):
    size = field_file.storage.size(field_file.name)
    try:
        span = parse_range(request.headers.get("Range", ""), size)
    except ValueError:
        unsatisfiable = HttpResponse(status=416)
        unsatisfiable["Content-Range"] = f"bytes */{size}"
        return unsatisfiable
    start, end = span if span else (0, size - 1)
    length = max(0, end - start + 1)
    handle = field_file.storage.open(field_file.name, "rb")
    response = StreamingHttpResponse(_chunks(handle, start, length), content_type=content_type,
                                     status=206 if span else 200)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    # No file name, date or tag that could tell two methods apart.
    response["Content-Disposition"] = "inline"
    return response

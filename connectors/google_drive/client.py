"""Google Drive v3 calls, through the one HTTP client (rate limit, retries, call log with redaction).

Every call names `supportsAllDrives=true` (and listings `includeItemsFromAllDrives=true`) so folders in
shared drives work: a service account has no storage quota of its own, so the backup folder must be in a
shared drive (or the account must act for a user by domain-wide delegation, `config.subject`).

Listing a folder: `files.list` with `q='<id>' in parents and trashed = false`, up to 1000 a page, following
`nextPageToken` until Drive sends none (`incompleteSearch` only concerns corpora searches, not one folder).
Uploads: multipart (`uploadType=multipart`, metadata and bytes in one multipart/related body) up to 5 MB;
above, resumable (`uploadType=resumable`: a session URI from the metadata, then one PUT of the bytes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from connectors.errors import ProviderError

if TYPE_CHECKING:
    import requests

    from connectors.http import ProviderClient

API = "https://www.googleapis.com/drive/v3"
UPLOAD = "https://www.googleapis.com/upload/drive/v3/files"
FILE_FIELDS = "id,name,mimeType,parents,size,modifiedTime,thumbnailLink,webContentLink,webViewLink"
ALL_DRIVES = {"supportsAllDrives": "true"}
PAGE_SIZE = 1000
MULTIPART_LIMIT = 5 * 1024 * 1024  # Drive's limit for a multipart upload


class DriveClient:
    def __init__(self, http: ProviderClient, *, page_size: int = PAGE_SIZE):
        self.http = http
        self.page_size = page_size

    def about(self) -> dict[str, Any]:
        return _json(self.http.get(f"{API}/about", action="about", params={"fields": "user(emailAddress,displayName)"}))

    def file(self, file_id: str) -> dict[str, Any]:
        return _json(self.http.get(f"{API}/files/{file_id}", action="get_file",
                                   params={**ALL_DRIVES, "fields": f"{FILE_FIELDS},capabilities(canAddChildren)"}))

    def children(self, folder_id: str, *, name_prefix: str = "") -> Iterator[list[dict[str, Any]]]:
        """The folder's files (not trashed), a page at a time, following `nextPageToken`."""
        query = f"'{_escaped(folder_id)}' in parents and trashed = false"
        if name_prefix:
            query += f" and name contains '{_escaped(name_prefix)}'"
        params: dict[str, Any] = {"q": query, "fields": f"nextPageToken,incompleteSearch,files({FILE_FIELDS})",
                                  "pageSize": self.page_size, "orderBy": "folder,name",
                                  "includeItemsFromAllDrives": "true", **ALL_DRIVES}
        token = ""
        while True:
            body = _json(self.http.get(f"{API}/files", action="list_files",
                                       params={**params, "pageToken": token} if token else params))
            yield [item for item in body.get("files") or [] if isinstance(item, dict)]
            token = str(body.get("nextPageToken") or "")
            if not token:
                return

    def download(self, file_id: str) -> bytes:
        return self.http.get(f"{API}/files/{file_id}", action="download_file",
                             params={**ALL_DRIVES, "alt": "media"}).content

    def upload(self, *, folder_id: str, name: str, content: bytes, mime_type: str) -> dict[str, Any]:
        metadata = {"name": name, "parents": [folder_id], "mimeType": mime_type}
        params = {**ALL_DRIVES, "fields": FILE_FIELDS}
        if len(content) <= MULTIPART_LIMIT:
            boundary = f"switchyard-{uuid.uuid4().hex}"
            body = multipart_body(boundary, metadata, content, mime_type)
            return _json(self.http.post(UPLOAD, action="upload_file", params={**params, "uploadType": "multipart"},
                                        data=body, headers={"Content-Type": f"multipart/related; boundary={boundary}"},
                                        log_body=False))
        started = self.http.post(UPLOAD, action="start_upload", params={**params, "uploadType": "resumable"},
                                 json=metadata, headers={"X-Upload-Content-Type": mime_type,
                                                         "X-Upload-Content-Length": str(len(content))})
        session = started.headers.get("Location")
        if not session:
            raise ProviderError("Google Drive started a resumable upload without a session URI.")
        return _json(self.http.put(session, action="upload_file", data=content,
                                   headers={"Content-Type": mime_type}, log_body=False))

    def delete(self, file_id: str) -> None:
        try:
            self.http.delete(f"{API}/files/{file_id}", action="delete_file", params=ALL_DRIVES)
        except ProviderError as exc:
            if exc.status_code != 404:  # already gone: what we wanted
                raise


def multipart_body(boundary: str, metadata: dict[str, Any], content: bytes, mime_type: str) -> bytes:
    """A multipart/related body: the JSON metadata part, then the media part (RFC 2387, CRLF line ends)."""
    return b"".join([
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
        json.dumps(metadata).encode(), b"\r\n",
        f"--{boundary}\r\nContent-Type: {mime_type}\r\n\r\n".encode(),
        content, b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ])


def _escaped(value: str) -> str:
    """A string inside a Drive query's single quotes: backslash and quote escaped."""
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"Google Drive answered HTTP {response.status_code} with a body that is not JSON.",
                            status_code=response.status_code) from None
    if not isinstance(body, dict):
        raise ProviderError("Google Drive answered with JSON that is not an object.", status_code=response.status_code)
    return body

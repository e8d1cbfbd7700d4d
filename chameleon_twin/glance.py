"""Glance v2 (read-only) for one twin site. Handles paths relative to `/{site}/image`."""

from __future__ import annotations

import re

from chameleon_twin.http import Request, Response, json_response
from chameleon_twin.images import image_schema, site_images

MAX_MINOR = 16
# Query keys that are not image attributes; anything else filters on an attribute or property.
_CONTROL_PARAMS = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "size_min", "size_max",
                   "created_at", "updated_at", "os_hidden", "visibility", "tag", "fields"}


def _html_error(status: int, reason: str, detail: str) -> Response:
    # Glance's webob errors are small HTML pages, not JSON; the SDK shows the detail line.
    body = (f"<html>\n <head>\n  <title>{status} {reason}</title>\n </head>\n <body>\n  <h1>{status} {reason}</h1>\n"
            f"  {detail}<br /><br />\n\n\n\n </body>\n</html>")
    return Response(status, body, {"Content-Type": "text/html; charset=UTF-8"})


def _matches(value: object, wanted: str) -> bool:
    """Glance's equality filter, including its `in:a,b` operator; booleans compare case-insensitively."""
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    options = wanted[3:].split(",") if wanted.startswith("in:") else [wanted]
    if isinstance(value, bool):
        options = [o.lower() for o in options]
    return shown in options


class Glance:
    def __init__(self, site_uid: str) -> None:
        self.uid = site_uid
        self.images = {image["id"]: image for image in site_images(site_uid)}

    def public(self, path: str) -> bool:
        """Version discovery needs no token."""
        return path.rstrip("/") in ("", "/versions")

    def find(self, ref: str) -> dict | None:
        return self.images.get(ref) or next((i for i in self.images.values() if i["name"] == ref), None)

    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/")
        if req.method == "GET" and path in ("", "/versions"):
            return json_response(300 if path == "" else 200, {"versions": self._versions(req.base_url)})
        if req.method != "GET":
            return _html_error(403, "Forbidden", "The twin's image service is read-only.")
        if path == "/v2/images":
            return json_response(200, {"images": self.list_images(req), "first": "/v2/images",
                                       "schema": "/v2/schemas/images"})
        if path == "/v2/schemas/image":
            return json_response(200, image_schema())
        if path == "/v2/schemas/images":
            return json_response(200, {"name": "images", "properties": {
                "images": {"type": "array", "items": image_schema()},
                "schema": {"type": "string"}, "first": {"type": "string"}, "next": {"type": "string"}},
                "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                          {"rel": "describedby", "href": "{schema}"}]})
        match = re.fullmatch(r"/v2/images/([^/]+)", path)
        if match:
            image = self.images.get(match.group(1))
            if image is None:
                return _html_error(404, "Not Found", f"No image found with ID {match.group(1)}")
            return json_response(200, image)
        return _html_error(404, "Not Found", "The resource could not be found.")

    def list_images(self, req: Request) -> list[dict]:
        hidden = (req.arg("os_hidden") or "false").lower() == "true"
        visibility = req.arg("visibility")
        tag = req.arg("tag")
        images = []
        for image in self.images.values():
            if image["os_hidden"] != hidden:
                continue
            if visibility not in (None, "all") and not _matches(image["visibility"], visibility):
                continue
            if tag and tag not in image["tags"]:
                continue
            if all(key in image and _matches(image[key], values[0])
                   for key, values in req.query.items() if key not in _CONTROL_PARAMS):
                images.append(image)
        # Glance's default order: newest first.
        return sorted(images, key=lambda i: (i["created_at"], i["id"]), reverse=True)

    def _versions(self, base_url: str) -> list[dict]:
        href = f"{base_url}/{self.uid}/image/v2/"
        return [{"id": f"v2.{minor}", "status": "CURRENT" if minor == MAX_MINOR else "SUPPORTED",
                 "links": [{"rel": "self", "href": href}]} for minor in range(MAX_MINOR, -1, -1)]

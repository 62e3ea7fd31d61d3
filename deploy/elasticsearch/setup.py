"""Create the draft service's Elasticsearch role and user, with rights on its indices only.

``docker compose up`` runs this once Elasticsearch is healthy (the one-shot ``es-setup``); the
draft services wait for it. As the ``elastic`` superuser it PUTs the role ``drafts_archive``
(read, write and manage on ``drafts-*``, cluster ``monitor`` for health checks) and the user
``drafts`` with that role alone; the draft services then connect as ``drafts``. PUT replaces,
so running it again updates the password. Standard library only: it runs in the apps' image.

Environment: ES_SETUP_URL (e.g. http://elasticsearch:9200), ELASTIC_PASSWORD,
DRAFTS_ES_PASSWORD; ES_INDEX_PATTERN (default ``drafts-*``).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.request

ROLE = "drafts_archive"
USER = "drafts"
PRIVILEGES = ["create_index", "read", "write", "view_index_metadata", "manage"]


def _put(base: str, path: str, body: dict[str, object], auth: str) -> None:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise SystemExit(f"es-setup: PUT {path} failed with {exc.code}: {detail}") from exc


def main() -> int:
    """Create or update the role and the user; exit 1 naming what failed."""
    needed = ("ES_SETUP_URL", "ELASTIC_PASSWORD", "DRAFTS_ES_PASSWORD")
    missing = [name for name in needed if not os.environ.get(name)]
    if missing:
        print(f"es-setup: set {', '.join(missing)}", file=sys.stderr)
        return 1
    base = os.environ["ES_SETUP_URL"].rstrip("/")
    pattern = os.environ.get("ES_INDEX_PATTERN", "drafts-*")
    auth = base64.b64encode(f"elastic:{os.environ['ELASTIC_PASSWORD']}".encode()).decode()
    _put(
        base,
        f"/_security/role/{ROLE}",
        {
            "cluster": ["monitor"],
            "indices": [
                {
                    "names": [pattern],
                    "privileges": PRIVILEGES,
                }
            ],
        },
        auth,
    )
    _put(
        base,
        f"/_security/user/{USER}",
        {"password": os.environ["DRAFTS_ES_PASSWORD"], "roles": [ROLE]},
        auth,
    )
    print(f"es-setup: user {USER!r} has role {ROLE!r} on {pattern!r} only")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

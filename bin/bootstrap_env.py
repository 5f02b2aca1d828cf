"""Write a local .env from .env.example with fresh random SECRET_KEY and ENCRYPTION_KEYS.

Used by `make run` once; an existing .env is never touched, since replacing its
encryption key would make every stored secret unreadable.
"""

import base64
import secrets
from pathlib import Path

root = Path(__file__).resolve().parent.parent
target = root / ".env"
if target.exists():
    raise SystemExit(0)
lines = []
for line in (root / ".env.example").read_text().splitlines():
    if line.startswith("SECRET_KEY="):
        line = f"SECRET_KEY={secrets.token_urlsafe(50)}"
    elif line.startswith("ENCRYPTION_KEYS="):
        line = f"ENCRYPTION_KEYS={base64.b64encode(secrets.token_bytes(32)).decode()}"
    elif line.startswith("OUTBOUND_URL_ALLOWLIST="):
        line = "OUTBOUND_URL_ALLOWLIST=127.0.0.1,localhost"  # the local sandbox shop
    elif line.startswith("DEMO_ADMIN_PASSWORD="):
        line = f"DEMO_ADMIN_PASSWORD={secrets.token_urlsafe(12)}"
    lines.append(line)
target.write_text("\n".join(lines) + "\n")
print(f"Wrote {target} with fresh SECRET_KEY and ENCRYPTION_KEYS.")

"""Write a local .env from .env.example with fresh random SECRET_KEY and ENCRYPTION_KEYS.

Used by `make run` before every start. A new .env gets fresh keys, the sandbox's
outbound allowlist and a demo admin password. An existing .env is never
rewritten (replacing its encryption key would make every stored secret
unreadable); it only gains a DEMO_ADMIN_PASSWORD when it has none, so the admin
login is always written down in .env.
"""

import base64
import secrets
from pathlib import Path

root = Path(__file__).resolve().parent.parent
target = root / ".env"
PASSWORD = "DEMO_ADMIN_PASSWORD="

if target.exists():
    lines = target.read_text().splitlines()
    if any(line.startswith(PASSWORD) and line[len(PASSWORD):].strip() for line in lines):
        raise SystemExit(0)
    lines = [line for line in lines if not line.startswith(PASSWORD)]
    lines += ["# Password `make run` gives the demo admin user", f"{PASSWORD}{secrets.token_urlsafe(12)}"]
    target.write_text("\n".join(lines) + "\n")
    print(f"Added a demo admin password to {target} (DEMO_ADMIN_PASSWORD).")
    raise SystemExit(0)

lines = []
for line in (root / ".env.example").read_text().splitlines():
    if line.startswith("SECRET_KEY="):
        line = f"SECRET_KEY={secrets.token_urlsafe(50)}"
    elif line.startswith("ENCRYPTION_KEYS="):
        line = f"ENCRYPTION_KEYS={base64.b64encode(secrets.token_bytes(32)).decode()}"
    elif line.startswith("OUTBOUND_URL_ALLOWLIST="):
        line = "OUTBOUND_URL_ALLOWLIST=127.0.0.1,localhost"  # the local sandbox shop
    elif line.startswith(PASSWORD):
        line = f"{PASSWORD}{secrets.token_urlsafe(12)}"
    lines.append(line)
target.write_text("\n".join(lines) + "\n")
print(f"Wrote {target} with fresh SECRET_KEY and ENCRYPTION_KEYS and a demo admin password.")

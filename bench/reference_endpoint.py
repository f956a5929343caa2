"""The issue's yardstick, measured on this machine: a plain FastAPI endpoint that signs an ES256 JWT.

Issue 4 sets its targets against "a plain FastAPI endpoint that signs an ES256 JWT reaches about 7,000 requests/s
on one core here". Machines of the same kind differ from one day to the next (``/healthz`` of a node has ranged
from 6,000 to 10,000/s on one core), so :mod:`oidc` measures this endpoint on the core it then gives the node, and
prints it beside the issue's figure: the node's figures can be read against the machine they ran on.

The app is FastAPI with its defaults and nothing of Passerelle's stack: one ``async def`` route that signs a
five-claim JWT with a P-256 key (``cryptography``), served by one uvicorn worker as the node is.

    .venv/bin/python -m uvicorn reference_endpoint:app --app-dir bench --port 8000
"""

from __future__ import annotations

import base64
import json
import secrets
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi import FastAPI

app = FastAPI()
_KEY = ec.generate_private_key(ec.SECP256R1())
_HEADER = base64.urlsafe_b64encode(b'{"alg":"ES256","typ":"JWT"}').rstrip(b"=")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@app.get("/token")
async def token() -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": "https://reference.example", "sub": "member", "iat": now, "exp": now + 300,
              "jti": secrets.token_urlsafe(12)}
    signing_input = _HEADER + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    r, s = decode_dss_signature(_KEY.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return {"token": (signing_input + b"." + _b64(signature)).decode()}

"""The public verifier page: paste or upload a credential or a presentation, see every check, in French or English.

Anyone may use it (no account): it runs the same verifier as ``POST /credentials/verify``. Each check is shown with
a translated sentence for its outcome and the verifier's own technical reason beneath. A presentation needs the
challenge (and domain) that the verifier gave the holder; the page has fields for them. The form carries the CSRF
token like every form of the node; the body cap applies to the upload.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from credentials import vc_structure
from credentials.verification_result import CredentialResult, PresentationResult
from nodes.verification import verify_credential_for, verify_presentation_for
from nodes.web.deps import CsrfChecked
from nodes.web.errors import ProblemError
from nodes.web.json_body import parse_json
from nodes.web.pages import render
from nodes.web.sessions import node_of

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}
MAX_TEXT = 512 * 1024


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request) -> HTMLResponse:
    return render(request, "verify.html", {"result": None, "error": None, "text": ""}, headers=NO_STORE)


@router.post("/verify", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def verify_submit(request: Request) -> HTMLResponse:
    form = await request.form()
    upload = form.get("file")
    text = str(form.get("document") or "")
    if isinstance(upload, UploadFile) and upload.filename:
        text = (await upload.read(MAX_TEXT + 1)).decode("utf-8", errors="replace")
    challenge = str(form.get("challenge") or "").strip() or None
    domain = str(form.get("domain") or "").strip() or None
    context: dict[str, Any] = {"result": None, "error": None, "text": text[:MAX_TEXT], "challenge": challenge or "",
                               "domain": domain or ""}
    if not text.strip():
        context["error"] = "verify.error.empty"
        return render(request, "verify.html", context, status_code=400, headers=NO_STORE)
    if len(text) > MAX_TEXT:
        context["error"] = "verify.error.too_large"
        return render(request, "verify.html", context, status_code=413, headers=NO_STORE)
    try:
        document = parse_json(text)
    except ProblemError as exc:
        context["error"], context["detail"] = "verify.error.json", exc.detail
        return render(request, "verify.html", context, status_code=400, headers=NO_STORE)
    node = node_of(request)
    result: CredentialResult | PresentationResult
    if isinstance(document, dict) and vc_structure.PRESENTATION_TYPE in vc_structure.types_of(document):
        result = await run_in_threadpool(verify_presentation_for, node, document, challenge, domain)
        context["kind"] = "presentation"
    else:
        result = await run_in_threadpool(verify_credential_for, node, document)
        context["kind"] = "credential"
    context["result"] = result
    return render(request, "verify.html", context, status_code=200, headers=NO_STORE)

"""Schemathesis hooks for the identity service's fuzzing step.

Adds the check `problem_documents`: every error answer (4xx or 5xx) must be
an RFC 9457 problem document (`application/problem+json`) with a stable
`code` and the security headers. Under `/oauth/` the handlers' own errors
are RFC 6749 errors (`{"error", "error_description"}` as JSON), as OAuth
libraries expect; what the router answers there (405, 413, 429) stays a
problem document. The sign-in page (`/oauth/authorize`) answers its own
errors as pages, for a person in a browser: HTML with its own content
security policy and the other security headers. Loaded through
SCHEMATHESIS_HOOKS by the
fuzz test (tests/api/fuzz.rs).
"""

import json

import schemathesis


def _header(response, name):
    value = response.headers.get(name) or response.headers.get(name.lower())
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value


@schemathesis.check
def problem_documents(ctx, response, case):
    if response.status_code < 400:
        return None
    content_type = _header(response, "Content-Type") or ""
    if case.path == "/oauth/authorize" and content_type.startswith("text/html"):
        policy = _header(response, "Content-Security-Policy") or ""
        assert policy.startswith("default-src 'none'"), f"page policy {policy!r}"
        assert _header(response, "X-Content-Type-Options") == "nosniff", "no security headers"
        assert b"<h1>" in response.content, "not a page"
        return None
    if case.path.startswith("/oauth/") and content_type.startswith("application/json"):
        error = json.loads(response.content)
        assert isinstance(error.get("error"), str) and error["error"], f"no error in {error}"
        assert _header(response, "X-Content-Type-Options") == "nosniff", "no security headers"
        return None
    assert content_type.startswith("application/problem+json"), (
        f"{response.status_code} answered with Content-Type {content_type!r}, "
        "not application/problem+json"
    )
    problem = json.loads(response.content)
    assert isinstance(problem.get("code"), str) and problem["code"], f"no code in {problem}"
    assert problem.get("status") == response.status_code, f"status differs in {problem}"
    assert _header(response, "X-Content-Type-Options") == "nosniff", "no security headers"
    return None

//! Security headers on every response, whatever produced it: handlers,
//! problem responses, the 404/405 fallbacks, body-limit rejections and
//! caught panics. It is the outermost layer, so nothing can bypass it.
//!
//! Why each header:
//! - `X-Content-Type-Options: nosniff`: browsers must trust our
//!   `Content-Type`, so a JSON body is never run as script or rendered as HTML.
//! - `X-Frame-Options: DENY` (and CSP `frame-ancestors 'none'`, its modern
//!   form): no page may frame ours, which rules out clickjacking.
//! - `Referrer-Policy: no-referrer`: URLs never leak to another origin.
//! - `Content-Security-Policy`: the API returns data, never documents, so
//!   `default-src 'none'` forbids a browser to load or run anything from a
//!   response. Only `/docs` gets a looser policy, the least the vendored
//!   Swagger UI needs offline: its own scripts (the page has no inline
//!   script), its stylesheet plus the inline styles its components set,
//!   `data:` images from its CSS, and fetches of `/openapi.json` and of the
//!   API itself ("Try it out"). Nothing may come from another origin. The
//!   sign-in page of `/oauth/authorize` sets its own (`http::authorize`):
//!   nothing loaded, inline styles, forms posted only to us and sent on
//!   only to the client's redirect URI.
//! - `Strict-Transport-Security`: browsers must use HTTPS for two years, so a
//!   stripped or downgraded connection is refused. Only when clients reach us
//!   over TLS (`IDENTITY_HSTS`, off by default): behind plain HTTP it would
//!   pin browsers to an HTTPS endpoint that does not exist.
//! - No `Server` header: the software we run is nobody's business.
//!
//! - `Cache-Control: no-store` unless the handler chose otherwise (the JWKS
//!   and the docs are public and cacheable): tokens, profiles, sessions and
//!   the admin and influencer reads are personal, and neither a browser nor
//!   a proxy may keep a copy.
//!
//! A header a handler set deliberately is never replaced: missing ones are
//! added and `Server` is dropped, nothing else.

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, SERVER, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every response except the docs page.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The policy of `/docs` and `/docs/*`: what Swagger UI needs, from our own
/// origin only.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'";

/// Two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds the security headers to the response; `hsts` says whether the
/// service is configured for TLS.
pub async fn security_headers(State(hsts): State<bool>, request: Request, next: Next) -> Response {
    let csp = if is_docs(request.uri().path()) {
        DOCS_CSP
    } else {
        API_CSP
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut add = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    add(X_CONTENT_TYPE_OPTIONS, "nosniff");
    add(X_FRAME_OPTIONS, "DENY");
    add(REFERRER_POLICY, "no-referrer");
    add(CONTENT_SECURITY_POLICY, csp);
    add(CACHE_CONTROL, "no-store");
    if hsts {
        add(STRICT_TRANSPORT_SECURITY, HSTS);
    }
    headers.remove(SERVER);
    response
}

fn is_docs(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/")
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::*;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[test]
    fn only_the_docs_tree_is_docs() {
        assert!(is_docs("/docs"));
        assert!(is_docs("/docs/"));
        assert!(is_docs("/docs/swagger-ui.css"));
        assert!(!is_docs("/docsx"));
        assert!(!is_docs("/api/v1/docs"));
        assert!(!is_docs("/openapi.json"));
    }

    #[tokio::test]
    async fn headers_cover_panics_and_keep_what_the_handler_set() {
        let router = Router::new()
            .route("/panic", get(boom))
            .route(
                "/own",
                get(|| async { ([(SERVER, "leaky/1.0"), (X_FRAME_OPTIONS, "SAMEORIGIN")], "") }),
            )
            .layer(CatchPanicLayer::new())
            .layer(axum::middleware::from_fn_with_state(true, security_headers));

        let call = |path: &'static str| {
            let router = router.clone();
            async move {
                router
                    .oneshot(Request::get(path).body(Body::empty()).unwrap())
                    .await
                    .unwrap()
            }
        };
        let panicked = call("/panic").await;
        assert_eq!(panicked.status(), 500);
        assert_eq!(panicked.headers()[CONTENT_SECURITY_POLICY], API_CSP);
        assert_eq!(panicked.headers()[STRICT_TRANSPORT_SECURITY], HSTS);

        let own = call("/own").await;
        assert_eq!(own.headers()[X_FRAME_OPTIONS], "SAMEORIGIN");
        assert_eq!(own.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(own.headers().get(SERVER).is_none());
    }
}

//! The per-IP limit on every `/api/v1` request, the client-IP rule, and the
//! `RateLimit`/`RateLimit-Policy` headers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ratelimit::Verdict;
use crate::state::AppState;

/// The client's IP: the socket peer, or — only when `trusted_hops` proxies
/// are configured — the address those proxies recorded in
/// `X-Forwarded-For` (the `trusted_hops`-th entry from the right), so a
/// client cannot pick its own IP by sending the header itself.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted_hops: usize) -> Option<IpAddr> {
    if trusted_hops == 0 {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    forwarded
        .len()
        .checked_sub(trusted_hops)
        .and_then(|i| forwarded.get(i).copied())
        .or(peer)
}

pub fn peer(request_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub fn insert_headers(headers: &mut HeaderMap, verdict: &Verdict) {
    if let Ok(value) = HeaderValue::from_str(&verdict.policy_header()) {
        headers.insert("ratelimit-policy", value);
    }
    if let Ok(value) = HeaderValue::from_str(&verdict.state_header()) {
        headers.insert("ratelimit", value);
    }
}

/// Counts the request against the caller's IP; answers 429 over the limit.
pub async fn per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = client_ip(
        request.headers(),
        peer(request.extensions()),
        state.config.trusted_proxy_hops,
    );
    let subject = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    match state
        .limit("api", &subject, state.config.rate_limits.api_per_ip)
        .await
    {
        Ok(verdict) => {
            let mut response = next.run(request).await;
            // A more specific limit that refused the request speaks instead.
            if let Some(verdict) = verdict.filter(|_| !response.headers().contains_key("ratelimit"))
            {
                insert_headers(response.headers_mut(), &verdict);
            }
            response
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        headers
    }

    #[test]
    fn forwarded_for_is_ignored_without_trusted_proxies() {
        let peer = Some("10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(&headers("1.2.3.4"), peer, 0), peer);
    }

    #[test]
    fn client_ip_is_taken_behind_the_trusted_proxies() {
        let peer = Some("10.0.0.1".parse().unwrap());
        let h = headers("6.6.6.6, 1.2.3.4, 10.0.0.2");
        assert_eq!(client_ip(&h, peer, 1), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(client_ip(&h, peer, 2), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(client_ip(&h, peer, 9), peer);
    }
}

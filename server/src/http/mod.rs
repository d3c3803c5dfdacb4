//! The HTTP surface: [`app`] builds the router; `docs/server.md` documents every route.
//!
//! Every response passes through `security_headers` (strict CSP and friends); bodies are
//! limited per route; errors are [`AppError`]s, so clients never see internals.
//!
//! Two handlers loosen one header each, by tagging their response with a `Relax` extension
//! rather than by path matching, so that no other route can inherit the exception: the viewer
//! page may be framed by the configured partner origins (`--embed-origin`), and the embed
//! script `/embed/veilmark-viewer.js` may be loaded by any origin (`docs/embedding.md`).

pub mod auth;
pub mod console;
pub mod health;
mod owner;
mod owner_alerts;
mod owner_reviews;
pub mod routes;
pub mod upload;
mod viewer;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next, map_response};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, get_service, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::services::{ServeDir, ServeFile};

use crate::client_addr::ClientAddr;
use crate::embed::EmbedOrigin;
use crate::service::ClientMeta;
use crate::{AppError, AppState};
use axum::http::Method;
use routes::{Access, Route, member};
use veilmark_store::Permission;

/// Content-Security-Policy on every response: no inline script, no third parties, no framing.
/// `wasm-unsafe-eval` lets the viewer instantiate its WebAssembly; `blob:` images are the
/// rendered (watermarked) pages.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; worker-src 'self' blob:; \
     font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Builds the router over `state` (used by `veilmark serve` and by tests).
pub fn app(state: AppState) -> Router {
    let json_limit = state.config.limits.max_json_body;
    let upload_limit = state.config.limits.max_upload;
    let api = routes::build(route_table(json_limit, upload_limit));
    let www = state
        .config
        .www_dir
        .clone()
        .filter(|d| d.join("index.html").is_file());
    let mut pages = Router::new().route("/v/{token}", get(viewer_page));
    if let Some(dir) = &state.config.www_dir {
        // The viewer's script, styles and wasm (`www/viewer/`, built by `www/viewer/build.sh`),
        // served even before the console adds `www/index.html`. The build writes `.br` and
        // `.gz` copies of the wasm and its glue, sent to browsers that accept them (the wasm
        // as `application/wasm` either way, so that browsers compile it while it streams in).
        pages = pages.nest_service(
            "/viewer",
            ServeDir::new(dir.join("viewer"))
                .precompressed_br()
                .precompressed_gzip(),
        );
        // The `<veilmark-viewer>` element for partner portals; only this file of `www/embed/`
        // (the example portal next to it is a partner's page, not ours to serve).
        pages = pages.route(
            EMBED_SCRIPT,
            get_service(ServeFile::new(dir.join("embed/veilmark-viewer.js"))).layer(map_response(
                |mut resp: Response| async move {
                    resp.extensions_mut().insert(Relax::PublicScript);
                    resp
                },
            )),
        );
    }
    let router = api.merge(pages);
    let router = match www {
        Some(dir) => router.fallback_service(ServeDir::new(dir)),
        None => router
            .route("/", get(placeholder))
            .fallback(|| async { AppError::NotFound("page") }),
    };
    router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::cross_site_guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

/// Every route of the viewer API, the owner API and the consoles, with who may call it
/// ([`routes::RouteRule`]); `app` builds its router from this.
#[must_use]
pub fn route_table(json_limit: usize, upload_limit: usize) -> Vec<Route> {
    use Access::{LinkToken, Member, Public};
    use Method as M;
    use Permission as P;
    let json =
        |h: axum::routing::MethodRouter<AppState>| h.layer(DefaultBodyLimit::max(json_limit));
    let mut table = vec![
        // For load balancers: no credentials, no secrets in the answer (`health`).
        Route::new(M::GET, "/healthz", Public, get(health::healthz)),
        Route::new(M::GET, "/readyz", Public, get(health::readyz)),
        Route::new(M::GET, "/api/server-key", Public, get(viewer::server_key)),
        Route::new(
            M::POST,
            "/api/v/{token}/licence",
            LinkToken,
            json(post(viewer::licence)),
        ),
        Route::new(
            M::POST,
            "/api/v/{token}/sessions/{session}/renew",
            LinkToken,
            json(post(viewer::renew)),
        ),
        Route::new(
            M::GET,
            "/api/v/{token}/sessions/{session}/events",
            LinkToken,
            get(viewer::events),
        ),
        Route::new(
            M::POST,
            "/api/v/{token}/sessions/{session}/report",
            LinkToken,
            json(post(viewer::report)),
        ),
        Route::new(
            M::GET,
            "/api/v/{token}/envelope",
            LinkToken,
            get(viewer::envelope),
        ),
        Route::new(
            M::POST,
            "/api/owner/login",
            Public,
            json(post(owner::login)),
        ),
        Route::new(
            M::POST,
            "/api/owner/logout",
            Public,
            json(post(owner::logout)),
        ),
        Route::new(M::GET, "/api/owner/me", Member(None), get(owner::me)),
        Route::new(
            M::GET,
            "/api/owner/documents",
            member(P::ReadDocuments),
            get(owner::documents),
        ),
        Route::new(
            M::POST,
            "/api/owner/documents",
            member(P::SealDocuments),
            post(owner::upload).layer(DefaultBodyLimit::max(upload_limit)),
        ),
        Route::new(
            M::GET,
            "/api/owner/levels",
            member(P::ReadDocuments),
            get(owner::levels),
        ),
        Route::new(
            M::PUT,
            "/api/owner/levels",
            member(P::ManageMembers),
            json(axum::routing::put(owner::define_levels)),
        ),
        Route::new(
            M::POST,
            "/api/owner/documents/{id}/level",
            member(P::SealDocuments),
            json(post(owner::set_level)),
        ),
        Route::new(
            M::GET,
            "/api/owner/suppliers",
            member(P::ReadLinks),
            get(owner::suppliers),
        ),
        Route::new(
            M::POST,
            "/api/owner/suppliers",
            member(P::ManageMembers),
            json(post(owner::set_supplier)),
        ),
        Route::new(
            M::POST,
            "/api/owner/suppliers/{domain}/offboard",
            member(P::ManageMembers),
            json(post(owner::offboard_supplier)),
        ),
        Route::new(
            M::GET,
            "/api/owner/suppliers/{domain}/report/{format}",
            member(P::ReadLinks),
            get(owner::supplier_report),
        ),
        Route::new(
            M::GET,
            "/api/owner/terms",
            member(P::ReadDocuments),
            get(owner::terms),
        ),
        Route::new(
            M::PUT,
            "/api/owner/terms",
            member(P::ManageMembers),
            json(axum::routing::put(owner::set_terms)),
        ),
        Route::new(
            M::GET,
            "/api/owner/alerts",
            member(P::ReadLinks),
            get(owner_alerts::list),
        ),
        Route::new(
            M::POST,
            "/api/owner/alerts/{id}/acknowledge",
            member(P::ManageLinks),
            json(post(owner_alerts::acknowledge)),
        ),
        Route::new(
            M::GET,
            "/api/owner/webhooks",
            member(P::ManageMembers),
            get(owner_alerts::webhooks),
        ),
        Route::new(
            M::POST,
            "/api/owner/webhooks",
            member(P::ManageMembers),
            json(post(owner_alerts::add)),
        ),
        Route::new(
            M::POST,
            "/api/owner/webhooks/{id}/remove",
            member(P::ManageMembers),
            json(post(owner_alerts::remove)),
        ),
        Route::new(
            M::GET,
            "/api/owner/reviews",
            member(P::ReadLinks),
            get(owner_reviews::list),
        ),
        Route::new(
            M::POST,
            "/api/owner/reviews",
            member(P::ManageMembers),
            json(post(owner_reviews::start)),
        ),
        Route::new(
            M::GET,
            "/api/owner/reviews/{id}",
            member(P::ReadLinks),
            get(owner_reviews::show),
        ),
        Route::new(
            M::POST,
            "/api/owner/reviews/{id}/decisions",
            member(P::ManageLinks),
            json(post(owner_reviews::decide)),
        ),
        Route::new(
            M::GET,
            "/api/owner/reviews/{id}/export.csv",
            member(P::ReadLinks),
            get(owner_reviews::export),
        ),
        Route::new(
            M::GET,
            "/api/owner/review-schedule",
            member(P::ReadLinks),
            get(owner_reviews::schedule),
        ),
        Route::new(
            M::PUT,
            "/api/owner/review-schedule",
            member(P::ManageMembers),
            json(axum::routing::put(owner_reviews::set_schedule)),
        ),
        Route::new(
            M::GET,
            "/api/owner/links",
            member(P::ReadLinks),
            get(owner::links),
        ),
        Route::new(
            M::POST,
            "/api/owner/links",
            member(P::ManageLinks),
            json(post(owner::create_link)),
        ),
        Route::new(
            M::POST,
            "/api/owner/links/{id}/revoke",
            member(P::ManageLinks),
            json(post(owner::revoke)),
        ),
        Route::new(
            M::GET,
            "/api/owner/audit",
            member(P::ReadAudit),
            get(owner::audit),
        ),
        Route::new(
            M::GET,
            "/api/owner/audit/verify",
            member(P::ReadAudit),
            get(owner::verify_audit),
        ),
        Route::new(
            M::GET,
            "/api/owner/tokens",
            Member(None),
            get(owner::tokens),
        ),
        Route::new(
            M::POST,
            "/api/owner/tokens",
            Member(None),
            json(post(owner::create_token)),
        ),
        Route::new(
            M::POST,
            "/api/owner/tokens/{id}/revoke",
            Member(None),
            json(post(owner::revoke_token)),
        ),
        Route::new(
            M::POST,
            "/api/owner/sign-out-everywhere",
            Member(None),
            json(post(owner::sign_out_everywhere)),
        ),
        Route::new(
            M::GET,
            "/api/owner/members",
            member(P::ManageMembers),
            get(owner::members),
        ),
        Route::new(
            M::POST,
            "/api/owner/members",
            member(P::ManageMembers),
            json(post(owner::add_member)),
        ),
        Route::new(
            M::POST,
            "/api/owner/members/{id}/role",
            member(P::ManageMembers),
            json(post(owner::set_member_role)),
        ),
        Route::new(
            M::POST,
            "/api/owner/members/{id}/remove",
            member(P::ManageMembers),
            json(post(owner::remove_member)),
        ),
        Route::new(
            M::POST,
            "/api/owner/members/{id}/second-factor/remove",
            member(P::ManageMembers),
            json(post(owner::reset_member_second_factor)),
        ),
        Route::new(
            M::POST,
            "/api/owner/members/{id}/sign-out",
            member(P::ManageMembers),
            json(post(owner::sign_out_member)),
        ),
    ];
    table.extend(console::route_table(upload_limit));
    table
}

const PLACEHOLDER: &str = "<!doctype html><html lang=en><meta charset=utf-8>\
<title>Veilmark</title><h1>Veilmark</h1><p>This server shares protected documents. \
The viewer is not installed in this build (no <code>www/</code> folder).</p></html>";

async fn placeholder() -> Html<&'static str> {
    Html(PLACEHOLDER)
}

/// Where the embed script is served (`www/embed/veilmark-viewer.js`).
pub const EMBED_SCRIPT: &str = "/embed/veilmark-viewer.js";

/// Name of the `<meta>` tag that tells the viewer page's script which origins may frame it
/// (space-separated, as in [`EmbedOrigin::as_str`]); absent when none may.
pub const EMBED_ORIGINS_META: &str = "veilmark-embed-origins";

/// A header exception a handler asks `security_headers` for, as a response extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Relax {
    /// The viewer page: `frame-ancestors` lists the configured embed origins (if any) and
    /// `X-Frame-Options` is left out.
    FramableByPartners,
    /// The embed script: public, so any origin may load it (`Access-Control-Allow-Origin: *`,
    /// `Cross-Origin-Resource-Policy: cross-origin`); revalidated rather than `no-store`.
    PublicScript,
}

/// `/v/{token}`: the viewer page (the token stays in the URL for the page's script to read).
async fn viewer_page(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    if let Some(dir) = &state.config.www_dir {
        for name in ["viewer/index.html", "viewer.html", "index.html"] {
            if let Ok(page) = tokio::fs::read_to_string(dir.join(name)).await {
                let origins = &state.config.embed_origins;
                if origins.is_empty() {
                    return Html(page).into_response();
                }
                let mut resp = Html(with_embed_meta(&page, origins)).into_response();
                resp.extensions_mut().insert(Relax::FramableByPartners);
                return resp;
            }
        }
    }
    Html(PLACEHOLDER).into_response()
}

/// Inserts the [`EMBED_ORIGINS_META`] tag before `</head>` (or at the start of a page without
/// one). Origins are validated (`scheme://host[:port]`, no quotes or angle brackets), so they
/// need no escaping; the assertion keeps it that way.
fn with_embed_meta(page: &str, origins: &[EmbedOrigin]) -> String {
    let list = origin_list(origins);
    assert!(
        !list.contains(['"', '<', '>', '&']),
        "embed origins are validated"
    );
    let meta = format!("<meta name=\"{EMBED_ORIGINS_META}\" content=\"{list}\">\n");
    match page.find("</head>") {
        Some(at) => format!("{}{meta}{}", &page[..at], &page[at..]),
        None => format!("{meta}{page}"),
    }
}

fn origin_list(origins: &[EmbedOrigin]) -> String {
    origins
        .iter()
        .map(EmbedOrigin::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`CSP`] with `frame-ancestors` listing `origins` instead of `'none'` (for the viewer page
/// when embedding is configured).
#[must_use]
pub fn framed_csp(origins: &[EmbedOrigin]) -> String {
    if origins.is_empty() {
        return CSP.to_owned();
    }
    let framed = CSP.replace(
        "frame-ancestors 'none'",
        &format!("frame-ancestors {}", origin_list(origins)),
    );
    debug_assert_ne!(framed, CSP, "CSP lost its frame-ancestors directive");
    framed
}

async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let relax = resp.extensions().get::<Relax>().copied();
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    let framed = match relax {
        Some(Relax::FramableByPartners) if !state.config.embed_origins.is_empty() => {
            HeaderValue::from_str(&framed_csp(&state.config.embed_origins)).ok()
        }
        _ => None,
    };
    match framed {
        Some(csp) => {
            h.insert(header::CONTENT_SECURITY_POLICY, csp);
            // `X-Frame-Options` has no "these origins" value that browsers honour; every
            // browser that matters obeys `frame-ancestors` instead.
            h.remove(header::X_FRAME_OPTIONS);
        }
        None => {
            set(h, header::CONTENT_SECURITY_POLICY, CSP);
            set(h, header::X_FRAME_OPTIONS, "DENY");
        }
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if relax == Some(Relax::PublicScript) {
        set(
            h,
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin",
        );
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        set(h, header::CACHE_CONTROL, "no-cache");
    } else {
        set(
            h,
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        );
    }
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), clipboard-write=(), display-capture=()",
    );
    if is_api || !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    if state.config.secure_cookies {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    resp
}

/// Client IP (the socket peer, or the client a trusted proxy names: [`crate::client_addr`]) and
/// user agent, for the audit log and rate limits.
impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<ClientAddr>() {
            Some(ClientAddr(ip)) => Some(ip.to_string()),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string()),
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        Ok(Self { ip, user_agent })
    }
}

/// `Json` whose rejections are [`AppError`]s (413 for oversized bodies, 400 otherwise) instead
/// of axum's plain-text answers.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rej) if rej.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Err(
                AppError::PayloadTooLarge("request body is larger than allowed".into()),
            ),
            Err(rej) => Err(AppError::BadRequest(rej.body_text())),
        }
    }
}

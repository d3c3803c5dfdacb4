//! Every route of the viewer API, the owner API and the consoles, each with the rule of who may
//! call it. The router is built from this table ([`super::app`]), so a route cannot be added
//! without saying who may use it, and the access-matrix test (`server/tests/access.rs`) walks
//! the same table, calling every route as every role, as another organisation, with an
//! expired token and with none.

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;
use veilmark_store::Permission;

use crate::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (static files, the server key, the login forms).
    Public,
    /// Whoever holds the link token in the path (the viewer API).
    LinkToken,
    /// Whoever holds the one-time secret in the path or a login cookie (sign-in steps).
    SignInStep,
    /// A logged-in member of an organisation, whose role allows the permission (`None`: any
    /// member, for their own account).
    Member(Option<Permission>),
}

/// The public facts of a route: what the access test needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// HTTP method.
    pub method: Method,
    /// Path pattern with `{param}`s, as axum takes it.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// A route: its rule and its handler.
pub struct Route {
    /// The rule.
    pub rule: RouteRule,
    /// The handler (with its body limit), for one method.
    pub handler: MethodRouter<AppState>,
}

impl Route {
    /// A route for `method` on `path`.
    #[must_use]
    pub fn new(
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Self {
            rule: RouteRule {
                method,
                path,
                access,
            },
            handler,
        }
    }
}

/// A route needing `p` of a member.
#[must_use]
pub fn member(p: Permission) -> Access {
    Access::Member(Some(p))
}

/// Builds a router from routes; several methods on one path are merged.
pub fn build(routes: Vec<Route>) -> Router<AppState> {
    routes.into_iter().fold(Router::new(), |r, route| {
        r.route(route.rule.path, route.handler)
    })
}

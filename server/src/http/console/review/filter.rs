//! Review filters and sort order, from the page's query string.

use serde::Deserialize;

use super::model::Hit;

/// Review filters and sort order.
#[derive(Deserialize, Default, Clone)]
pub struct ReviewQuery {
    pub(super) state: Option<String>,
    pub(super) marketplace: Option<String>,
    pub(super) seller: Option<String>,
    pub(super) q: Option<String>,
    pub(super) sort: Option<String>,
}

pub(super) fn set(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ReviewQuery {
    pub(super) fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("state", &self.state),
            ("marketplace", &self.marketplace),
            ("seller", &self.seller),
            ("q", &self.q),
            ("sort", &self.sort),
        ]
        .into_iter()
        .filter_map(|(k, v)| set(v).map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    pub(super) fn keep(&self, h: &Hit) -> bool {
        let st = set(&self.state).unwrap_or("open");
        let state_ok = match st {
            "all" => true,
            "open" => h.review_state == "new",
            s => h.review_state == s,
        };
        let lc = |s: &Option<String>| s.as_deref().unwrap_or_default().to_lowercase();
        state_ok
            && set(&self.marketplace).is_none_or(|m| h.marketplace == m)
            && set(&self.seller).is_none_or(|s| h.seller.as_deref() == Some(s))
            && set(&self.q).is_none_or(|q| {
                let q = q.to_lowercase();
                lc(&h.title).contains(&q)
                    || lc(&h.seller).contains(&q)
                    || h.page_url.to_lowercase().contains(&q)
                    || lc(&h.sku).contains(&q)
            })
    }

    pub(super) fn sort(&self, hits: &mut [Hit]) {
        match set(&self.sort).unwrap_or("newest") {
            "distance" => hits.sort_by_key(|h| (h.distance.unwrap_or(i64::MAX), -h.id)),
            "seller" => hits.sort_by(|a, b| a.seller.cmp(&b.seller).then(b.id.cmp(&a.id))),
            "marketplace" => {
                hits.sort_by(|a, b| a.marketplace.cmp(&b.marketplace).then(b.id.cmp(&a.id)));
            }
            "oldest" => hits.sort_by_key(|h| h.id),
            _ => hits.sort_by_key(|h| -h.id),
        }
    }
}

//! Paging `/api/machines` and `/api/alerts`, and the `$skiptoken` exports.
//!
//! The lists have behaved three ways (docs/defender-api.md#paging): no `@odata.nextLink` at all
//! (today), a correct link, and the broken 2022 link that drops query keys and loops. One loop
//! copes with all three: ask for `$top=N&$skip=k` with a fixed `$filter` until a page is shorter
//! than `N`; follow a nextLink only when it stays on the same host and path and still carries
//! our `$filter` and `$top` and a `$skip` that moves forward; otherwise ignore it and keep
//! skipping. Items are de-duplicated by `id`.
//!
//! *Complete* means every item the filter matched was seen. A pass proves that when it ends on a
//! short page without seeing any id twice: an id seen twice means the service's order moved
//! between pages (docs/defender-api.md#paging), so items may also have been skipped.
//! Such a pass is checked against `…/$count`; failing that, it is repeated (the union of the
//! passes grows) up to `listing_passes` times. A listing that still cannot be proven complete
//! is returned with `complete = false`, and the sync does not deactivate anything on its basis.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, value::RawValue};
use url::Url;

use super::transport::Call;
use super::wire::{Page, item_id};
use super::{Endpoint, EndpointKind, MdeClient, MdeError, Progress};

/// What to list.
pub(super) struct ListSpec<'a> {
    pub(super) endpoint: Endpoint,
    pub(super) kind: EndpointKind,
    /// Path under the API base, e.g. `/api/machines`.
    pub(super) path: &'a str,
    pub(super) filter: Option<String>,
}

/// The items of a listing, in first-seen order, unique by id.
pub(super) struct RawListing<T> {
    pub(super) items: Vec<T>,
    pub(super) complete: bool,
    pub(super) pages: u32,
    pub(super) duplicates: u64,
    /// Items that could not be used: with an id that did not convert, or without an id (left
    /// out; the listing is then not complete).
    pub(super) skipped: u64,
}

/// Turns one raw item into the caller's type, `None` when it cannot be used.
pub(super) type Convert<'a, T> = &'a mut (dyn FnMut(&RawValue) -> Option<T> + Send);

/// How a pass ended.
#[derive(Debug, PartialEq, Eq)]
enum PassEnd {
    /// A short page, no id seen twice.
    Clean,
    /// A short page, but some id came twice: the order moved.
    Unstable,
    /// A full page brought nothing new, or the page limit was reached: a loop.
    Stalled,
    /// The first page answered 404 (the documented answer when no machine matches).
    EmptyNotFound,
}

/// Items collected over all passes, converted page by page: a raw JSON tree is several times
/// the size of the typed item, and a large tenant's listing would otherwise be held as JSON.
struct Union<T> {
    items: Vec<T>,
    index: HashMap<String, usize>,
    pages: u32,
    duplicates: u64,
    /// Items without an id (cannot be de-duplicated or referred to).
    anonymous: u64,
    /// Those of the latest pass (each pass sees the same ones again).
    anonymous_in_pass: u64,
    /// Ids whose newest copy did not convert.
    unconvertible: HashSet<String>,
}

impl<T> Default for Union<T> {
    fn default() -> Self {
        Union {
            items: Vec::new(),
            index: HashMap::new(),
            pages: 0,
            duplicates: 0,
            anonymous: 0,
            anonymous_in_pass: 0,
            unconvertible: HashSet::new(),
        }
    }
}

/// Encodes a query value the way OData clients do: `+` for spaces, `%XX` for the rest.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl MdeClient {
    fn page_size(&self) -> usize {
        self.shared.options.page_size.clamp(1, super::MAX_PAGE_SIZE)
    }

    fn api_url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.shared.endpoints.api_base.trim_end_matches('/')
        )
    }

    /// `{api_base}{path}?$filter=…&$top=N&$skip=k`, keys literal (as Microsoft's samples write
    /// them), values encoded.
    pub(super) fn page_url(&self, spec: &ListSpec<'_>, skip: usize) -> String {
        let mut params = Vec::new();
        if let Some(filter) = &spec.filter {
            params.push(format!("$filter={}", encode(filter)));
        }
        if self.shared.options.send_top {
            params.push(format!("$top={}", self.page_size()));
        }
        if skip > 0 {
            params.push(format!("$skip={skip}"));
        }
        let url = self.api_url(spec.path);
        if params.is_empty() {
            url
        } else {
            format!("{url}?{}", params.join("&"))
        }
    }

    /// Lists every item of `spec` (see the module docs), each converted by `convert` as its
    /// page arrives.
    pub(super) async fn list_all<T: Send>(
        &self,
        spec: &ListSpec<'_>,
        convert: Convert<'_, T>,
    ) -> Result<RawListing<T>, MdeError> {
        let mut union = Union::default();
        let passes = self.shared.options.listing_passes.max(1);
        let mut complete = false;
        for pass_idx in 0..passes {
            let end = self.list_pass(spec, &mut union, convert).await?;
            match end {
                PassEnd::Clean => {
                    complete = true;
                    break;
                }
                PassEnd::EmptyNotFound => {
                    // An incremental listing that matched nothing is complete; a full listing
                    // answering 404 is not trusted (it would deactivate every device).
                    complete = spec.filter.is_some() && union.items.is_empty();
                    break;
                }
                PassEnd::Unstable | PassEnd::Stalled => {
                    tracing::warn!(endpoint = %spec.endpoint, pass = pass_idx + 1, ?end, seen = union.items.len(), "listing not proven complete");
                    if let Some(count) = self.count(spec).await?
                        && union.items.len() as u64 >= count
                    {
                        complete = true;
                        break;
                    }
                }
            }
        }
        complete &= union.anonymous == 0;
        Ok(RawListing {
            items: union.items,
            complete,
            pages: union.pages,
            duplicates: union.duplicates,
            skipped: union.unconvertible.len() as u64 + union.anonymous_in_pass,
        })
    }

    async fn list_pass<T: Send>(
        &self,
        spec: &ListSpec<'_>,
        union: &mut Union<T>,
        convert: Convert<'_, T>,
    ) -> Result<PassEnd, MdeError> {
        let page_size = self.page_size();
        let max_pages = self.shared.options.max_pages.max(1);
        let mut skip = 0usize;
        let mut url = self.page_url(spec, skip);
        let mut seen_in_pass: HashSet<String> = HashSet::new();
        let mut duplicates_in_pass = 0u64;
        union.anonymous_in_pass = 0;
        for _ in 0..max_pages {
            let page = match self.send::<Page>(&Call::get(spec.endpoint, &url)).await {
                Ok(page) => page,
                Err(MdeError::Api {
                    status: 404,
                    code: Some(code),
                    ..
                }) if skip == 0
                    && spec.endpoint == Endpoint::Machines
                    && code.to_ascii_lowercase().contains("notfound") =>
                {
                    return Ok(PassEnd::EmptyNotFound);
                }
                Err(error) => return Err(error),
            };
            union.pages += 1;
            let n_items = page.value.len();
            let mut n_new = 0usize;
            for item in page.value {
                let Some(id) = item_id(&item) else {
                    union.anonymous += 1;
                    union.anonymous_in_pass += 1;
                    self.with_stats(|stats| stats.skipped_records += 1);
                    continue;
                };
                if seen_in_pass.insert(id.clone()) {
                    n_new += 1;
                } else {
                    duplicates_in_pass += 1;
                    union.duplicates += 1;
                }
                let Some(item) = convert(&item) else {
                    union.unconvertible.insert(id);
                    continue;
                };
                union.unconvertible.remove(&id);
                match union.index.get(&id) {
                    Some(&at) => union.items[at] = item,
                    None => {
                        union.index.insert(id, union.items.len());
                        union.items.push(item);
                    }
                }
            }
            self.report(Progress {
                endpoint: spec.kind,
                page: union.pages,
                items_so_far: union.items.len() as u64,
                estimated_total: page.count,
            });
            if n_items < page_size {
                return Ok(if duplicates_in_pass == 0 {
                    PassEnd::Clean
                } else {
                    PassEnd::Unstable
                });
            }
            if n_new == 0 {
                return Ok(PassEnd::Stalled);
            }
            let followed = page
                .next_link
                .as_deref()
                .and_then(|link| self.checked_next_link(link, spec, skip));
            match followed {
                Some((link, link_skip)) => {
                    skip = link_skip;
                    url = link;
                }
                None => {
                    if let Some(link) = &page.next_link {
                        tracing::debug!(endpoint = %spec.endpoint, link, "ignored a nextLink that does not keep the query");
                    }
                    skip += n_items;
                    url = self.page_url(spec, skip);
                }
            }
        }
        Ok(PassEnd::Stalled)
    }

    /// `{path}/$count?$filter=…`: the number of matching items, `None` when the service does
    /// not answer it.
    async fn count(&self, spec: &ListSpec<'_>) -> Result<Option<u64>, MdeError> {
        let mut url = self.api_url(&format!("{}/$count", spec.path));
        if let Some(filter) = &spec.filter {
            url = format!("{url}?$filter={}", encode(filter));
        }
        match self.send::<Value>(&Call::get(spec.endpoint, &url)).await {
            Ok(value) => Ok(value
                .as_u64()
                .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))),
            Err(MdeError::Cancelled) => Err(MdeError::Cancelled),
            Err(error @ (MdeError::Auth(_) | MdeError::Forbidden { .. })) => Err(error),
            Err(error) => {
                tracing::debug!(endpoint = %spec.endpoint, %error, "no item count");
                Ok(None)
            }
        }
    }

    /// The nextLink and its `$skip` when it may be followed: same origin and path as ours, every
    /// query key named, our `$filter` and `$top` unchanged and a `$skip` beyond `current_skip`.
    pub(super) fn checked_next_link(
        &self,
        link: &str,
        spec: &ListSpec<'_>,
        current_skip: usize,
    ) -> Option<(String, usize)> {
        let options = &self.shared.options;
        let expected = Url::parse(&self.api_url(spec.path)).ok()?;
        check_next_link(
            link,
            &expected,
            spec.filter.as_deref(),
            options.send_top.then_some(self.page_size()),
            current_skip,
        )
        .map(|skip| (link.to_owned(), skip))
    }

    /// Follows an export's `$skiptoken` links to the end; `on_page` receives each page's items.
    pub(super) async fn export_all(
        &self,
        endpoint: Endpoint,
        first_url: &str,
        mut on_page: impl FnMut(Vec<Box<RawValue>>),
    ) -> Result<(), MdeError> {
        let expected = Url::parse(first_url).map_err(|error| MdeError::Decode {
            endpoint,
            detail: format!("the export URL is invalid: {error}"),
        })?;
        let mut url = first_url.to_owned();
        let mut tokens: HashSet<String> = HashSet::new();
        let mut n_pages = 0u32;
        let mut n_items = 0u64;
        loop {
            let page = self.send::<Page>(&Call::get(endpoint, &url)).await?;
            n_pages += 1;
            n_items += page.value.len() as u64;
            on_page(page.value);
            self.report(Progress {
                endpoint: EndpointKind::Vulnerabilities,
                page: n_pages,
                items_so_far: n_items,
                estimated_total: page.count,
            });
            let Some(link) = page.next_link else {
                return Ok(());
            };
            if n_pages >= self.shared.options.max_export_pages.max(1) {
                return Err(MdeError::Decode {
                    endpoint,
                    detail: format!(
                        "the export gave {n_pages} pages ({n_items} rows) and still links to another; it was stopped there, at mde-car's limit of {} pages, and is not used",
                        self.shared.options.max_export_pages.max(1)
                    ),
                });
            }
            match check_export_link(&link, &expected) {
                Some(token) if !tokens.contains(&token) => {
                    tokens.insert(token);
                    url = link;
                }
                _ => {
                    return Err(MdeError::Decode {
                        endpoint,
                        detail: "the export's next link leaves the endpoint or repeats a page"
                            .to_owned(),
                    });
                }
            }
        }
    }
}

fn same_endpoint(link: &Url, expected: &Url) -> bool {
    link.scheme() == expected.scheme()
        && link
            .host_str()
            .zip(expected.host_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && link.port_or_known_default() == expected.port_or_known_default()
        && link
            .path()
            .trim_end_matches('/')
            .eq_ignore_ascii_case(expected.path().trim_end_matches('/'))
}

/// The `$skip` of a list nextLink that keeps our query (see
/// [`MdeClient::checked_next_link`]). Never follows a link to another host: it would receive
/// the bearer token.
pub(super) fn check_next_link(
    link: &str,
    expected: &Url,
    filter: Option<&str>,
    top: Option<usize>,
    current_skip: usize,
) -> Option<usize> {
    let link = Url::parse(link).ok()?;
    if !same_endpoint(&link, expected) {
        return None;
    }
    let mut link_filter = None;
    let mut link_top = None;
    let mut link_skip = None;
    for (key, value) in link.query_pairs() {
        match key.to_ascii_lowercase().as_str() {
            "" => return None,
            "$filter" => link_filter = Some(value.into_owned()),
            "$top" => link_top = Some(value.trim().parse::<usize>().ok()?),
            "$skip" => link_skip = Some(value.trim().parse::<usize>().ok()?),
            _ => {}
        }
    }
    if link_filter.as_deref() != filter || link_top != top {
        return None;
    }
    link_skip.filter(|skip| *skip > current_skip)
}

/// The `$skiptoken` of an export nextLink on the same endpoint.
pub(super) fn check_export_link(link: &str, expected: &Url) -> Option<String> {
    let link = Url::parse(link).ok()?;
    if !same_endpoint(&link, expected) {
        return None;
    }
    link.query_pairs()
        .find(|(key, _)| key.eq_ignore_ascii_case("$skiptoken"))
        .map(|(_, value)| value.into_owned())
        .filter(|token| !token.is_empty())
}

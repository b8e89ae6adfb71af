//! Certificate filters, in tcld's JSON format:
//! `{"filters":[{"commonName":"…","organization":"…","organizationalUnit":"…","subjectAlternativeName":"…"}]}`.
//!
//! Rules (Temporal Cloud "How to manage certificate filters"): each filter sets at least one
//! field; values match case-insensitively (ASCII letters only: a Unicode case mapping would let
//! `\u{212A}ube-x`, with a Kelvin sign, match `kube-*`); a single `*` may stand at the start or the end of a
//! value, never both, never in the middle, never alone (and a trailing one not right after a
//! `.`, which is why the guide lists `.example.*` as invalid); every field set in a filter must match;
//! any one filter admits; at most 25 filters.
//!
//! A `subjectAlternativeName` value matches names of its own kind only, judged from its form
//! (wildcard aside): an IP address (or, with a wildcard, only digits and dots, or hex digits
//! and colons), a URI (a `scheme:` prefix or a `/`), an email (`…@…`), and otherwise a DNS
//! name — so a URI or email SAN that spells a DNS name does not pass a DNS filter. An exact IP
//! value is compared as an address (`fe80:0::1` is `fe80::1`).
//!
//! Gatehouse adds an optional `role` per filter (`worker`, `reader`, `writer`, `admin`): what
//! the certificates it admits may do. A document without roles means what it means in tcld.

use gatehouse_pki::{CertificateInfo, SubjectAltName};
use serde::{Deserialize, Serialize};

use crate::rule::Rule;

/// At most this many filters per namespace.
pub const MAX_FILTERS: usize = 25;

/// One filter as written in JSON. Empty strings mean "not set" (tcld's export writes them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateFilter {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub common_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub organization: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub organizational_unit: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject_alternative_name: String,
    /// Gatehouse's extension (tcld ignores nothing here, so leave it out for tcld): what a
    /// certificate this filter admits may do in the namespace. None: everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AccessRole>,
}

/// What a client may do in its namespace, set per certificate filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessRole {
    /// Poll for tasks, respond to them, heartbeat (and read what a worker must: history).
    Worker,
    /// Describe, list, get, count, query.
    Reader,
    /// Reader and worker, plus start, signal, cancel, terminate, reset, update, schedules.
    Writer,
    /// Everything namespace-scoped.
    Admin,
}

impl AccessRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
        }
    }

    /// The permissions this role grants.
    pub fn permissions(self) -> Permissions {
        match self {
            Self::Worker => Permissions::WORKER,
            Self::Reader => Permissions::READ,
            // As in Temporal, a writer may also run workers.
            Self::Writer => {
                Permissions(Permissions::WORKER.0 | Permissions::READ.0 | Permissions::WRITE.0)
            }
            Self::Admin => Permissions::ALL,
        }
    }
}

/// The classes of calls a client may make: the union of the roles of every filter it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u8);

impl Permissions {
    pub const WORKER: Self = Self(1);
    pub const READ: Self = Self(2);
    pub const WRITE: Self = Self(4);
    pub const ADMIN: Self = Self(8);
    pub const ALL: Self = Self(15);

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits (for an atomic).
    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(bits: u8) -> Self {
        Self(bits & Self::ALL.0)
    }

    pub fn is_all(self) -> bool {
        self == Self::ALL
    }

    /// The roles these permissions amount to, for messages: "reader", "worker+reader",
    /// "writer", "admin".
    pub fn describe(self) -> String {
        if self.contains(Self::ADMIN) {
            return "admin".into();
        }
        let mut names = Vec::new();
        if self.contains(Self::WRITE) {
            names.push("writer");
        } else {
            if self.contains(Self::WORKER) {
                names.push("worker");
            }
            if self.contains(Self::READ) {
                names.push("reader");
            }
        }
        if names.is_empty() {
            "none".into()
        } else {
            names.join("+")
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FiltersDocument {
    /// tcld exports `{}` for a namespace without filters.
    #[serde(default)]
    filters: Vec<CertificateFilter>,
}

/// Why a set of filters is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{rule}] {message}")]
pub struct FilterError {
    pub rule: Rule,
    pub message: String,
}

impl FilterError {
    fn new(rule: Rule, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

/// A pattern from one filter field.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// `*suffix`
    EndsWith(String),
    /// `prefix*`
    StartsWith(String),
}

impl Pattern {
    fn parse(field: &str, value: &str, index: usize) -> Result<Option<Self>, FilterError> {
        if value.is_empty() {
            return Ok(None);
        }
        let bad = |why: &str| {
            FilterError::new(
                Rule::FilterWildcard,
                format!("filter #{index} {field} {value:?}: {why}"),
            )
        };
        if value.trim().is_empty() {
            return Err(FilterError::new(
                Rule::FilterEmpty,
                format!("filter #{index} {field} is blank"),
            ));
        }
        let lower = value.to_ascii_lowercase();
        let stars = lower.matches('*').count();
        if stars == 0 {
            return Ok(Some(Self::Exact(lower)));
        }
        if lower == "*" {
            return Err(bad("a '*' wildcard cannot be used by itself"));
        }
        if stars > 1 {
            return Err(bad(
                "only one '*' is allowed, at the start or the end (not both)",
            ));
        }
        if let Some(rest) = lower.strip_prefix('*') {
            Ok(Some(Self::EndsWith(rest.to_owned())))
        } else if let Some(rest) = lower.strip_suffix('*') {
            // The reference guide lists `.example.*` as invalid while `Example Code*` is valid:
            // a trailing wildcard may not stand for whole DNS labels, since `example.*` would
            // also match `example.attacker.net`.
            if rest.ends_with('.') {
                return Err(bad(
                    "a trailing '*' cannot follow a '.' (it would match any domain suffix)",
                ));
            }
            Ok(Some(Self::StartsWith(rest.to_owned())))
        } else {
            Err(bad("'*' may only be the first or the last character"))
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        let c = candidate.to_ascii_lowercase();
        match self {
            Self::Exact(v) => c == *v,
            Self::EndsWith(v) => c.ends_with(v.as_str()),
            Self::StartsWith(v) => c.starts_with(v.as_str()),
        }
    }
}

/// The kind of subject alternative name a filter value names (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SanKind {
    Dns,
    Uri,
    Email,
    Ip,
}

impl SanKind {
    fn of_value(value: &str) -> Self {
        let v = value.trim_matches('*');
        let ipv4ish = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let ipv6ish = v.contains(':') && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        let has_scheme = v.split_once(':').is_some_and(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        });
        if v.parse::<std::net::IpAddr>().is_ok() || ipv4ish || ipv6ish {
            Self::Ip
        } else if has_scheme || v.contains('/') {
            Self::Uri
        } else if v.contains('@') {
            Self::Email
        } else {
            Self::Dns
        }
    }

    fn of_name(name: &SubjectAltName) -> Self {
        match name {
            SubjectAltName::Dns(_) => Self::Dns,
            SubjectAltName::Uri(_) => Self::Uri,
            SubjectAltName::Email(_) => Self::Email,
            SubjectAltName::Ip(_) => Self::Ip,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct CompiledFilter {
    role: Option<AccessRole>,
    common_name: Option<Pattern>,
    organization: Option<Pattern>,
    organizational_unit: Option<Pattern>,
    subject_alternative_name: Option<Pattern>,
    /// The kind of SAN `subject_alternative_name` matches.
    san_kind: SanKind,
}

impl CompiledFilter {
    fn matches(&self, leaf: &CertificateInfo) -> bool {
        fn any<'a>(p: &Option<Pattern>, mut values: impl Iterator<Item = &'a str>) -> bool {
            match p {
                None => true,
                Some(p) => values.any(|v| p.matches(v)),
            }
        }
        let sans: Vec<String> = leaf
            .subject_alt_names
            .iter()
            .filter(|s| SanKind::of_name(s) == self.san_kind)
            .map(|s| s.value())
            .collect();
        any(
            &self.common_name,
            leaf.common_names.iter().map(String::as_str),
        ) && any(
            &self.organization,
            leaf.organizations.iter().map(String::as_str),
        ) && any(
            &self.organizational_unit,
            leaf.organizational_units.iter().map(String::as_str),
        ) && any(
            &self.subject_alternative_name,
            sans.iter().map(String::as_str),
        )
    }
}

/// A validated list of filters. Empty means "no filtering": any client of the bundle's CAs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateFilters {
    filters: Vec<CertificateFilter>,
    compiled: Vec<CompiledFilter>,
}

impl CertificateFilters {
    /// No filters.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses tcld's JSON document and validates it.
    pub fn from_json(json: &str) -> Result<Self, FilterError> {
        let doc: FiltersDocument = serde_json::from_str(json).map_err(|e| {
            FilterError::new(
                Rule::FilterInvalid,
                format!("not a certificate filter document: {e}"),
            )
        })?;
        Self::new(doc.filters)
    }

    /// Validates a list of filters.
    pub fn new(filters: Vec<CertificateFilter>) -> Result<Self, FilterError> {
        if filters.len() > MAX_FILTERS {
            return Err(FilterError::new(
                Rule::FilterMaxCount,
                format!(
                    "{} filters given; at most {MAX_FILTERS} are allowed",
                    filters.len()
                ),
            ));
        }
        let mut compiled: Vec<CompiledFilter> = Vec::with_capacity(filters.len());
        for (i, f) in filters.iter().enumerate() {
            let n = i + 1;
            let c = CompiledFilter {
                role: f.role,
                common_name: Pattern::parse("commonName", &f.common_name, n)?,
                organization: Pattern::parse("organization", &f.organization, n)?,
                organizational_unit: Pattern::parse(
                    "organizationalUnit",
                    &f.organizational_unit,
                    n,
                )?,
                subject_alternative_name: Pattern::parse(
                    "subjectAlternativeName",
                    &f.subject_alternative_name,
                    n,
                )?,
                san_kind: SanKind::of_value(&f.subject_alternative_name),
            };
            // An exact IP is compared as an address: its canonical text.
            let c = match (&c.subject_alternative_name, c.san_kind) {
                (Some(Pattern::Exact(v)), SanKind::Ip) => match v.parse::<std::net::IpAddr>() {
                    Ok(ip) => CompiledFilter {
                        subject_alternative_name: Some(Pattern::Exact(ip.to_string())),
                        ..c
                    },
                    Err(_) => c,
                },
                _ => c,
            };
            if c.common_name.is_none()
                && c.organization.is_none()
                && c.organizational_unit.is_none()
                && c.subject_alternative_name.is_none()
            {
                return Err(FilterError::new(
                    Rule::FilterEmpty,
                    format!("filter #{n} sets no field"),
                ));
            }
            // The same subject twice is a duplicate, whatever the roles say.
            if let Some(first) = compiled.iter().position(|prev| {
                CompiledFilter {
                    role: None,
                    ..prev.clone()
                } == CompiledFilter {
                    role: None,
                    ..c.clone()
                }
            }) {
                return Err(FilterError::new(
                    Rule::FilterDuplicate,
                    format!("filter #{n} repeats filter #{}", first + 1),
                ));
            }
            compiled.push(c);
        }
        Ok(Self { filters, compiled })
    }

    /// True when there are no filters.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The filters as given.
    pub fn filters(&self) -> &[CertificateFilter] {
        &self.filters
    }

    /// The index of the first filter that admits `leaf`, if any.
    pub fn first_match(&self, leaf: &CertificateInfo) -> Option<usize> {
        self.compiled.iter().position(|f| f.matches(leaf))
    }

    /// What `leaf` may do: with no roles on any filter, everything (tcld's meaning); otherwise
    /// the union of the roles of the filters it matches (a filter without a role grants all).
    pub fn permissions(&self, leaf: &CertificateInfo) -> Permissions {
        if self.compiled.iter().all(|f| f.role.is_none()) {
            return Permissions::ALL;
        }
        self.compiled
            .iter()
            .filter(|f| f.matches(leaf))
            .fold(Permissions::default(), |acc, f| {
                Permissions(acc.0 | f.role.map_or(Permissions::ALL, AccessRole::permissions).0)
            })
    }

    /// True when some filter carries a role.
    pub fn has_roles(&self) -> bool {
        self.compiled.iter().any(|f| f.role.is_some())
    }

    /// tcld's JSON form.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "filters": self.filters }).to_string()
    }
}

#[cfg(test)]
mod tests;

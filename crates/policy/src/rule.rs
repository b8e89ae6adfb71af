//! Rule identifiers and findings. Every check Gatehouse makes has a stable id here; the CLI,
//! the API and the gateway's log lines all name rules by these ids.

use std::fmt;

use gatehouse_pki::CertificateInfo;
use serde::Serialize;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth fixing, but Temporal would still accept it.
    Warning,
    /// Temporal (and Gatehouse) would refuse it.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

macro_rules! rules {
    ($( $variant:ident => $id:literal, $sev:ident, $summary:literal, $hint:literal; )*) => {
        /// A rule: a stable id, its severity, what it requires and how to fix a violation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Rule { $( $variant, )* }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            /// The stable id, e.g. `bundle.max-certs`.
            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            /// Default severity.
            pub fn severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$sev, )* }
            }

            /// What the rule requires.
            pub fn summary(self) -> &'static str {
                match self { $( Rule::$variant => $summary, )* }
            }

            /// How to fix a violation.
            pub fn hint(self) -> &'static str {
                match self { $( Rule::$variant => $hint, )* }
            }

            /// Looks a rule up by id.
            pub fn from_id(id: &str) -> Option<Rule> {
                match id { $( $id => Some(Rule::$variant), )* _ => None }
            }
        }
    };
}

rules! {
    BundleMalformed => "bundle.malformed", Error,
        "A CA bundle is PEM CERTIFICATE blocks, each a valid X.509 certificate.",
        "Paste whole PEM blocks, -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, and nothing else.";
    BundleEmpty => "bundle.empty", Error,
        "A CA bundle holds at least one CA certificate.",
        "Put the PEM of your CA certificate(s) in the bundle.";
    BundleMaxCerts => "bundle.max-certs", Error,
        "A CA bundle holds at most 16 certificates.",
        "Remove CA certificates that no client chains to any more (check CA usage first).";
    BundleMaxSize => "bundle.max-size", Error,
        "A CA bundle is at most 32 KB before base64 encoding.",
        "Remove unused certificates, or comments and text between PEM blocks.";
    BundleDuplicate => "bundle.duplicate", Warning,
        "Each certificate appears in the bundle once.",
        "Delete the repeated PEM block.";
    BundleUniqueSubject => "bundle.unique-subject", Error,
        "No two CA certificates in a bundle share a subject (rollover needs distinct subjects).",
        "Issue the new CA with a different CN, e.g. add a version or date (gatehouse gen ca does by default).";
    CaX509V3 => "ca.x509-v3", Error,
        "CA certificates are X.509 version 3.",
        "Re-issue the CA as v3 (openssl: add -extensions v3_ca; gatehouse gen ca always does).";
    CaIsCa => "ca.is-ca", Error,
        "Every certificate in the bundle has BasicConstraints CA:TRUE.",
        "Only CA certificates belong in the bundle; client certificates go to the client.";
    CaKeyCertSign => "ca.key-cert-sign", Error,
        "A CA certificate has KeyUsage with keyCertSign (a missing KeyUsage is only a warning).",
        "Re-issue the CA with keyUsage = critical, keyCertSign, cRLSign.";
    CaChainsInBundle => "ca.chains-in-bundle", Error,
        "Each bundle certificate is a root (self-signed) or issued by another certificate in the bundle.",
        "Add the issuing CA certificate to the bundle too, or upload the root instead.";
    CaWellKnown => "ca.well-known", Error,
        "A well-known public CA (Mozilla root store) is accepted only together with certificate filters.",
        "Add certificate filters that match only your clients, or use a private CA.";
    CertSignatureAlgorithm => "cert.signature-algorithm", Error,
        "Signatures are RSA or ECDSA with SHA-256 or stronger; SHA-1 and MD5 are refused.",
        "Re-issue the certificate with SHA-256 or stronger (openssl: -sha256).";
    CertExpired => "cert.expired", Error,
        "The certificate is not past its notAfter.",
        "Issue a new certificate; for a CA, roll over: add the new CA, move clients, then remove the old one.";
    CertNotYetValid => "cert.not-yet-valid", Error,
        "The certificate's notBefore has passed.",
        "Check the issuing machine's clock, or wait until notBefore.";
    CertExpiringSoon => "cert.expiring-soon", Warning,
        "The certificate has more than 15 days left (when Temporal starts sending expiry notices).",
        "Plan the rotation now: issue the replacement and deploy it before expiry.";
    LeafX509V3 => "leaf.x509-v3", Error,
        "Client certificates are X.509 version 3.",
        "Re-issue the client certificate as v3 with extensions (gatehouse gen leaf).";
    LeafNotCa => "leaf.not-ca", Error,
        "A client certificate has BasicConstraints CA:FALSE.",
        "Re-issue the client certificate without CA:TRUE; CA certificates cannot be client certificates.";
    LeafKeyUsage => "leaf.key-usage", Error,
        "A client certificate's KeyUsage includes digitalSignature (a missing KeyUsage is only a warning).",
        "Re-issue with keyUsage = critical, digitalSignature.";
    LeafExtKeyUsage => "leaf.ext-key-usage", Error,
        "If a client certificate has ExtendedKeyUsage, it includes clientAuth.",
        "Re-issue with extendedKeyUsage = clientAuth.";
    LeafExpiresAfterCa => "leaf.expires-after-ca", Error,
        "A client certificate expires before the CA certificates it chains to.",
        "Re-issue the client certificate with a shorter validity (gatehouse gen leaf -d).";
    ChainUniqueDn => "chain.unique-dn", Error,
        "Every certificate in the chain, leaf to root, has a distinct Distinguished Name (case-insensitive).",
        "Give the leaf (or intermediate) a subject different from its issuer's.";
    ChainUntrusted => "chain.untrusted", Error,
        "The client chain leads to a certificate in the namespace's CA bundle.",
        "Add the issuing CA to the bundle, or send the intermediates with the client certificate.";
    ChainSignature => "chain.signature", Error,
        "Every signature in the chain verifies with the issuer's public key.",
        "The certificate was not issued by the CA it names; re-issue it from the right CA key.";
    ChainInvalid => "chain.invalid", Error,
        "The chain passes RFC 5280 path validation (path length, name constraints, extensions).",
        "Inspect the named certificate with openssl x509 -text and re-issue it.";
    FilterNoMatch => "filter.no-match", Error,
        "When certificate filters are set, the client certificate matches at least one.",
        "Issue the client certificate with a subject that a filter matches, or add a filter.";
    FilterEmpty => "filter.empty", Error,
        "Each certificate filter sets at least one of commonName, organization, organizationalUnit, subjectAlternativeName.",
        "Fill in at least one field, or delete the filter.";
    FilterWildcard => "filter.wildcard", Error,
        "A filter value has at most one '*', at its start or its end, and is not '*' alone.",
        "Use a single leading or trailing '*', e.g. *.example.com or Example Code*.";
    FilterDuplicate => "filter.duplicate", Error,
        "No two certificate filters are the same (case-insensitive).",
        "Delete the repeated filter.";
    FilterMaxCount => "filter.max-count", Error,
        "A namespace has at most 25 certificate filters.",
        "Combine filters with wildcards, or issue client certificates with a shared OU.";
    FilterInvalid => "filter.invalid", Error,
        "Certificate filters are JSON in tcld's format: {\"filters\":[{\"commonName\":\"…\"}]}.",
        "Fix the JSON; allowed fields are commonName, organization, organizationalUnit, subjectAlternativeName.";
    KeyEncrypted => "key.encrypted", Error,
        "Private keys are not protected with a passphrase.",
        "Decrypt it: openssl pkey -in KEY -out KEY.plain (and keep it 0600).";
    KeyUnparseable => "key.unparseable", Error,
        "The private key is a PEM PKCS#8, SEC1 or PKCS#1 key of a supported type.",
        "Convert it: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8.";
    KeyMismatch => "key.mismatch", Error,
        "The private key belongs to the client certificate.",
        "Pair the certificate with the key it was issued for.";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// Which certificate a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertRef {
    /// Where it came from, e.g. "bundle #2" or "chain #1 (leaf)".
    pub position: String,
    pub subject: String,
    pub fingerprint: String,
}

impl CertRef {
    /// Describes `cert`, found at `position`.
    pub fn new(position: impl Into<String>, cert: &CertificateInfo) -> Self {
        Self {
            position: position.into(),
            subject: cert.display_subject().to_owned(),
            fingerprint: cert.fingerprint.to_string(),
        }
    }
}

impl fmt::Display for CertRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (sha256 {})",
            self.position, self.subject, self.fingerprint
        )
    }
}

/// One result of a check: the rule, its severity here, the certificate and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertRef>,
    pub message: String,
    pub hint: &'static str,
}

impl Finding {
    /// A finding at the rule's default severity.
    pub fn new(rule: Rule, certificate: Option<CertRef>, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: rule.severity(),
            certificate,
            message: message.into(),
            hint: rule.hint(),
        }
    }

    /// The same finding at another severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// True for error-level findings.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}", self.severity, self.rule, self.message)?;
        if let Some(c) = &self.certificate {
            write!(f, "\n    certificate: {c}")?;
        }
        write!(f, "\n    fix: {}", self.hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert_eq!(Rule::from_id(r.id()), Some(*r));
            assert!(r.id().contains('.'));
            assert!(!r.summary().is_empty() && !r.hint().is_empty());
        }
    }
}

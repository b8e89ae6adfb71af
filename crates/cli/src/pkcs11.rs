//! CA keys held in a PKCS#11 token (an HSM, a cloud KMS's PKCS#11 library, or SoftHSM2):
//! `--ca-key 'pkcs11:token=ca;object=issuing-ca?pin-source=/run/secrets/pin&module-path=…'`.
//!
//! The key never leaves the token: Gatehouse asks it to sign (CKM_ECDSA over the SHA-384 or
//! SHA-256 digest, or CKM_SHA256_RSA_PKCS) and reads nothing else of it. The URI follows
//! RFC 7512: `token`, `object`, `id` and `slot-id` select the key; `pin-value` or
//! `pin-source` (a file) give the user PIN; `module-path` (or $GATEHOUSE_PKCS11_MODULE) names
//! the library.

use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use gatehouse_pki::ExternalSigner;

use crate::fail::Failure;

/// What a `pkcs11:` URI names.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pkcs11Uri {
    pub(crate) token: Option<String>,
    pub(crate) object: Option<String>,
    pub(crate) id: Option<Vec<u8>>,
    pub(crate) slot_id: Option<u64>,
    pub(crate) pin_value: Option<String>,
    pub(crate) pin_source: Option<PathBuf>,
    pub(crate) module_path: Option<PathBuf>,
}

fn percent_decode(v: &str) -> Result<Vec<u8>, String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in {v:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn text(v: &str) -> Result<String, String> {
    String::from_utf8(percent_decode(v)?).map_err(|_| format!("{v:?} is not UTF-8"))
}

impl Pkcs11Uri {
    /// Parses an RFC 7512 URI; unknown attributes are refused rather than ignored, so a typo
    /// cannot select another key.
    pub(crate) fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or("a PKCS#11 URI starts with pkcs11:")?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut u = Self::default();
        for (part, sep) in [(path, ';'), (query, '&')] {
            for attr in part.split(sep).filter(|a| !a.is_empty()) {
                let (k, v) = attr
                    .split_once('=')
                    .ok_or_else(|| format!("{attr:?} is not name=value"))?;
                match k {
                    "token" => u.token = Some(text(v)?),
                    "object" => u.object = Some(text(v)?),
                    "id" => u.id = Some(percent_decode(v)?),
                    "slot-id" => {
                        u.slot_id = Some(v.parse().map_err(|_| format!("slot-id {v:?}"))?);
                    }
                    "type" if v == "private" => {}
                    "type" => return Err(format!("type={v}: the CA key is type=private")),
                    "pin-value" => u.pin_value = Some(text(v)?),
                    "pin-source" => {
                        let p = text(v)?;
                        u.pin_source = Some(PathBuf::from(p.strip_prefix("file:").unwrap_or(&p)));
                    }
                    "module-path" => u.module_path = Some(PathBuf::from(text(v)?)),
                    other => return Err(format!("unsupported attribute {other:?}")),
                }
            }
        }
        if u.object.is_none() && u.id.is_none() {
            return Err("name the key with object=<label> or id=<%-encoded id>".into());
        }
        Ok(u)
    }
}

/// A CA key in a token.
#[derive(Debug)]
pub(crate) struct TokenKey {
    session: Mutex<Session>,
    key: ObjectHandle,
    kind: Kind,
    what: String,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    EcP256,
    EcP384,
    Rsa,
}

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// A PKCS#11 URI (or anything containing one) fit to print: `pin-value` and `pin-source`
/// attributes are replaced, wherever they are.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("pin-") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find([';', '&', ',', ' ', '"']).unwrap_or(tail.len());
        let name = tail[..end].split('=').next().unwrap_or_default();
        out.push_str(name);
        out.push_str("=…");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Opens the token and finds the key. Errors name the URI without its PIN.
pub(crate) fn open(uri: &str) -> Result<TokenKey, Failure> {
    let shown = redact(uri);
    let bad = |why: String| Failure::Input(format!("--ca-key {shown}: {why}"));
    let u = Pkcs11Uri::parse(uri).map_err(bad)?;
    let module = u
        .module_path
        .clone()
        .or_else(|| std::env::var_os("GATEHOUSE_PKCS11_MODULE").map(PathBuf::from))
        .ok_or_else(|| {
            bad(
                "no PKCS#11 library: add module-path=… to the URI or set GATEHOUSE_PKCS11_MODULE"
                    .into(),
            )
        })?;
    let pin = match (&u.pin_value, &u.pin_source) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| bad(format!("pin-source {}: {e}", f.display())))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let ctx =
        Pkcs11::new(&module).map_err(|e| bad(format!("cannot load {}: {e}", module.display())))?;
    // A second key from the same module in one process finds it initialised already.
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => return Err(bad(format!("C_Initialize: {e}"))),
    }
    let mut chosen = None;
    for slot in ctx
        .get_slots_with_token()
        .map_err(|e| bad(format!("listing slots: {e}")))?
    {
        if u.slot_id.is_some_and(|id| id != slot.id()) {
            continue;
        }
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| bad(format!("token info: {e}")))?;
        if u.token.as_deref().is_some_and(|t| t != info.label().trim()) {
            continue;
        }
        chosen = Some(slot);
        break;
    }
    let slot = chosen.ok_or_else(|| bad("no token matches".into()))?;
    let session = ctx
        .open_ro_session(slot)
        .map_err(|e| bad(format!("opening a session: {e}")))?;
    if let Some(pin) = pin {
        session
            .login(UserType::User, Some(&AuthPin::from(pin)))
            .map_err(|e| bad(format!("login: {e} (is the PIN right?)")))?;
    }
    let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
    if let Some(label) = &u.object {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &u.id {
        template.push(Attribute::Id(id.clone()));
    }
    let found = session
        .find_objects(&template)
        .map_err(|e| bad(format!("finding the key: {e}")))?;
    let key = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(bad(
                "no private key matches (is the PIN given, and object/id right?)".into(),
            ))
        }
        _ => {
            return Err(bad(format!(
                "{} private keys match; add id=… to pick one",
                found.len()
            )))
        }
    };
    let attrs = session
        .get_attributes(key, &[AttributeType::KeyType, AttributeType::EcParams])
        .map_err(|e| bad(format!("reading the key type: {e}")))?;
    let key_type = attrs.iter().find_map(|a| match a {
        Attribute::KeyType(t) => Some(*t),
        _ => None,
    });
    let params = attrs.iter().find_map(|a| match a {
        Attribute::EcParams(p) => Some(p.clone()),
        _ => None,
    });
    let kind = match (key_type, params.as_deref()) {
        (Some(KeyType::EC), Some(P384)) => Kind::EcP384,
        (Some(KeyType::EC), Some(P256)) => Kind::EcP256,
        (Some(KeyType::RSA), _) => Kind::Rsa,
        (t, _) => {
            return Err(bad(format!(
                "the key is {t:?}; a CA key must be ECDSA P-384 or P-256, or RSA"
            )))
        }
    };
    Ok(TokenKey {
        session: Mutex::new(session),
        key,
        kind,
        what: shown,
    })
}

/// DER INTEGER of a big-endian unsigned value.
fn der_uint(v: &[u8]) -> Vec<u8> {
    let mut v = v;
    while v.len() > 1 && v[0] == 0 {
        v = &v[1..];
    }
    let mut body = Vec::with_capacity(v.len() + 1);
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(v);
    gatehouse_pki::encode_tlv(0x02, &body)
}

/// PKCS#11's r‖s as the DER ECDSA-Sig-Value X.509 carries.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, String> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(format!(
            "the token returned a {}-byte ECDSA signature",
            raw.len()
        ));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = der_uint(r);
    body.extend(der_uint(s));
    Ok(gatehouse_pki::encode_tlv(0x30, &body))
}

impl ExternalSigner for TokenKey {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let session = self
            .session
            .lock()
            .map_err(|_| "the token session is unusable".to_owned())?;
        let fail = |e: cryptoki::error::Error| format!("{}: C_Sign: {e}", self.what);
        match self.kind {
            Kind::Rsa => session
                .sign(&Mechanism::Sha256RsaPkcs, self.key, message)
                .map_err(fail),
            Kind::EcP256 | Kind::EcP384 => {
                let alg = match self.kind {
                    Kind::EcP384 => &aws_lc_rs::digest::SHA384,
                    _ => &aws_lc_rs::digest::SHA256,
                };
                let digest = aws_lc_rs::digest::digest(alg, message);
                let raw = session
                    .sign(&Mechanism::Ecdsa, self.key, digest.as_ref())
                    .map_err(fail)?;
                ecdsa_der(&raw)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let u = Pkcs11Uri::parse("pkcs11:token=My%20CA;object=issuing;id=%01%02;type=private?pin-value=1234&module-path=/usr/lib/softhsm/libsofthsm2.so").unwrap();
        assert_eq!(u.token.as_deref(), Some("My CA"));
        assert_eq!(u.object.as_deref(), Some("issuing"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.pin_value.as_deref(), Some("1234"));
        assert_eq!(
            u.module_path.as_deref(),
            Some(std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(
            redact("a=pkcs11:token=t;pin-value=1234;object=o?pin-source=/x&module-path=/m"),
            "a=pkcs11:token=t;pin-value=…;object=o?pin-source=…&module-path=/m"
        );
        let u = Pkcs11Uri::parse("pkcs11:object=ca?pin-source=file:/run/pin").unwrap();
        assert_eq!(
            u.pin_source.as_deref(),
            Some(std::path::Path::new("/run/pin"))
        );
        for bad in [
            "pkcs11:token=x",
            "pkcs11:object=ca;tokn=x",
            "pkcs11:object=ca;type=public",
            "pkcs11:object=%zz",
            "file:ca.key",
        ] {
            assert!(Pkcs11Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ecdsa_signatures_become_der() {
        // r with its high bit set gets a leading zero; s with leading zeros loses them.
        let mut raw = vec![0x80; 48];
        raw.extend([0u8; 47]);
        raw.push(0x05);
        let der = ecdsa_der(&raw).unwrap();
        assert_eq!(&der[..5], &[0x30, 54, 0x02, 49, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert!(ecdsa_der(&[1, 2, 3]).is_err());
    }
}

//! Signed JWTs (JWS compact serialization) as identity providers issue ID
//! tokens: parsed strictly, the algorithm checked against an allowlist
//! before anything else (never `none`, never HMAC: Gatehouse holds no
//! shared secret it would accept a signature from), then the signature
//! verified with OpenSSL against a key from the provider's JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::sign_in::SignInError;

/// The smallest RSA key accepted.
const MIN_RSA_BITS: u32 = 2048;

/// Signature algorithms accepted for ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Algorithm::Rs256 | Algorithm::Ps256 | Algorithm::Es256 => MessageDigest::sha256(),
            Algorithm::Rs384 | Algorithm::Ps384 | Algorithm::Es384 => MessageDigest::sha384(),
            Algorithm::Rs512 | Algorithm::Ps512 | Algorithm::Es512 => MessageDigest::sha512(),
        }
    }

    /// The JWK key type and, for EC, the curve this algorithm signs with.
    fn key_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            Algorithm::Es256 => ("EC", Some("P-256")),
            Algorithm::Es384 => ("EC", Some("P-384")),
            Algorithm::Es512 => ("EC", Some("P-521")),
            _ => ("RSA", None),
        }
    }
}

/// One public key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

impl Jwk {
    /// Whether this key may verify a signature made with `alg`.
    fn fits(&self, alg: Algorithm) -> bool {
        let (kty, crv) = alg.key_type();
        self.kty == kty
            && crv.is_none_or(|c| self.crv.as_deref() == Some(c))
            && self.usage.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }

    fn public_key(&self) -> Option<PKey<Public>> {
        let number = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
                .and_then(|b| BigNum::from_slice(&b).ok())
        };
        match self.kty.as_str() {
            "RSA" => {
                let rsa = Rsa::from_public_components(number(&self.n)?, number(&self.e)?).ok()?;
                if rsa.size() * 8 < MIN_RSA_BITS {
                    return None;
                }
                PKey::from_rsa(rsa).ok()
            }
            "EC" => {
                let nid = match self.crv.as_deref()? {
                    "P-256" => Nid::X9_62_PRIME256V1,
                    "P-384" => Nid::SECP384R1,
                    "P-521" => Nid::SECP521R1,
                    _ => return None,
                };
                let group = EcGroup::from_curve_name(nid).ok()?;
                let (x, y) = (number(&self.x)?, number(&self.y)?);
                let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y).ok()?;
                key.check_key().ok()?;
                PKey::from_ec_key(key).ok()
            }
            _ => None,
        }
    }
}

/// A JWT split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct Jws {
    pub algorithm: Algorithm,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

fn invalid(detail: impl Into<String>) -> SignInError {
    SignInError::new("oidc_id_token_invalid", detail)
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, SignInError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid(format!("The ID token's {what} is not base64url.")))
}

/// Splits a compact JWS and checks its header; the claims are decoded but
/// not to be trusted before `verify`.
pub fn parse(token: &str) -> Result<Jws, SignInError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(invalid(format!(
            "The ID token has {} parts; a signed JWT has three.",
            parts.len()
        )));
    };
    let header: Map<String, Value> = serde_json::from_slice(&decode_part(header, "header")?)
        .map_err(|_| invalid("The ID token's header is not a JSON object."))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let algorithm = Algorithm::parse(alg).ok_or_else(|| SignInError {
        received: Some(if alg.is_empty() { "(none)" } else { alg }.chars().take(40).collect()),
        expected: Some("RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or ES512".into()),
        ..SignInError::new(
            "oidc_id_token_algorithm_not_allowed",
            "The ID token is signed with an algorithm Gatehouse does not accept: unsigned (`none`) and shared-secret (HMAC) tokens are refused.",
        )
    })?;
    if header.contains_key("crit") {
        return Err(invalid(
            "The ID token's header lists critical extensions Gatehouse does not implement.",
        ));
    }
    let claims: Map<String, Value> = serde_json::from_slice(&decode_part(payload, "payload")?)
        .map_err(|_| invalid("The ID token's claims are not a JSON object."))?;
    let signature = decode_part(signature, "signature")?;
    if signature.is_empty() {
        return Err(invalid("The ID token carries no signature."));
    }
    let signing_input = token
        .trim()
        .rsplit_once('.')
        .map(|(input, _)| input.to_string())
        .unwrap_or_default();
    Ok(Jws {
        algorithm,
        kid: header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string),
        claims,
        signing_input,
        signature,
    })
}

/// The outcome of looking for the token's key in a key set.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Valid,
    /// No key of the set has the token's `kid` (the provider may have
    /// rotated its keys: fetch the set again).
    UnknownKey,
    Invalid,
}

impl Jws {
    /// Verifies the signature with the key the header names (or, with no
    /// `kid`, any key that fits the algorithm).
    pub fn verify(&self, keys: &[Jwk]) -> Verified {
        let candidates: Vec<&Jwk> = keys
            .iter()
            .filter(|k| match &self.kid {
                Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
                None => true,
            })
            .filter(|k| k.fits(self.algorithm))
            .collect();
        if candidates.is_empty() {
            return Verified::UnknownKey;
        }
        if candidates
            .iter()
            .filter_map(|k| k.public_key())
            .any(|key| self.verify_with(&key))
        {
            Verified::Valid
        } else {
            Verified::Invalid
        }
    }

    fn verify_with(&self, key: &PKey<Public>) -> bool {
        let alg = self.algorithm;
        let input = self.signing_input.as_bytes();
        match alg {
            Algorithm::Es256 | Algorithm::Es384 | Algorithm::Es512 => {
                // JWS carries r and s as fixed-size big-endian halves.
                let half = self.signature.len() / 2;
                if half == 0 || !self.signature.len().is_multiple_of(2) {
                    return false;
                }
                let (Ok(r), Ok(s)) = (
                    BigNum::from_slice(&self.signature[..half]),
                    BigNum::from_slice(&self.signature[half..]),
                ) else {
                    return false;
                };
                let Ok(der) = EcdsaSig::from_private_components(r, s).and_then(|sig| sig.to_der())
                else {
                    return false;
                };
                Verifier::new(alg.digest(), key)
                    .and_then(|mut v| v.verify_oneshot(&der, input))
                    .unwrap_or(false)
            }
            Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512 => {
                Verifier::new(alg.digest(), key)
                    .and_then(|mut v| {
                        v.set_rsa_padding(Padding::PKCS1_PSS)?;
                        v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                        v.verify_oneshot(&self.signature, input)
                    })
                    .unwrap_or(false)
            }
            _ => Verifier::new(alg.digest(), key)
                .and_then(|mut v| v.verify_oneshot(&self.signature, input))
                .unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn none_and_hmac_are_refused_before_anything_else() {
        for alg in ["none", "HS256", "HS512", "", "RS1"] {
            let token = format!(
                "{}.{}.{}",
                b64(&serde_json::json!({ "alg": alg })),
                b64(&serde_json::json!({ "sub": "x" })),
                "c2ln"
            );
            let err = parse(&token).expect_err(alg);
            assert_eq!(err.code, "oidc_id_token_algorithm_not_allowed", "{alg}");
        }
        let err = parse("a.b").expect_err("two parts");
        assert_eq!(err.code, "oidc_id_token_invalid");
        let unsigned = format!(
            "{}.{}.",
            b64(&serde_json::json!({ "alg": "RS256" })),
            b64(&serde_json::json!({ "sub": "x" }))
        );
        assert_eq!(
            parse(&unsigned).expect_err("empty").code,
            "oidc_id_token_invalid"
        );
    }

    fn rsa_jwk(key: &Rsa<openssl::pkey::Private>, kid: &str) -> Jwk {
        Jwk {
            kty: "RSA".into(),
            kid: Some(kid.into()),
            usage: Some("sig".into()),
            alg: None,
            n: Some(URL_SAFE_NO_PAD.encode(key.n().to_vec())),
            e: Some(URL_SAFE_NO_PAD.encode(key.e().to_vec())),
            crv: None,
            x: None,
            y: None,
        }
    }

    /// Tokens made by an independent JWT library (jsonwebtoken).
    fn sign(alg: jsonwebtoken::Algorithm, kid: &str, key: &jsonwebtoken::EncodingKey) -> String {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(
            &header,
            &serde_json::json!({ "sub": "u1", "iss": "https://idp" }),
            key,
        )
        .expect("encode")
    }

    #[test]
    fn rsa_pss_and_ecdsa_signatures_verify_and_changes_do_not() {
        use jsonwebtoken::{Algorithm as A, EncodingKey};
        let rsa = Rsa::generate(2048).expect("rsa");
        let pem = rsa.private_key_to_pem().expect("pem");
        let keys = vec![rsa_jwk(&rsa, "r1")];
        for alg in [A::RS256, A::RS384, A::RS512, A::PS256, A::PS512] {
            let token = sign(alg, "r1", &EncodingKey::from_rsa_pem(&pem).expect("key"));
            let jws = parse(&token).expect("parse");
            assert_eq!(jws.verify(&keys), Verified::Valid, "{alg:?}");
            assert_eq!(jws.claims["sub"], "u1");
            // Another kid: the caller fetches the keys again.
            let other = sign(alg, "r2", &EncodingKey::from_rsa_pem(&pem).expect("key"));
            assert_eq!(
                parse(&other).expect("parse").verify(&keys),
                Verified::UnknownKey
            );
            // A changed payload no longer verifies.
            let (head, rest) = token.split_once('.').expect("dot");
            let (_, sig) = rest.split_once('.').expect("dot");
            let forged = format!(
                "{head}.{}.{sig}",
                b64(&serde_json::json!({ "sub": "admin", "iss": "https://idp" }))
            );
            assert_eq!(
                parse(&forged).expect("parse").verify(&keys),
                Verified::Invalid
            );
        }

        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group");
        let ec = EcKey::generate(&group).expect("ec");
        let mut ctx = openssl::bn::BigNumContext::new().expect("ctx");
        let (mut x, mut y) = (BigNum::new().expect("x"), BigNum::new().expect("y"));
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .expect("coordinates");
        let ec_jwk = Jwk {
            kty: "EC".into(),
            kid: Some("e1".into()),
            usage: None,
            alg: Some("ES256".into()),
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).expect("x"))),
            y: Some(URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).expect("y"))),
        };
        let pkcs8 = PKey::from_ec_key(ec)
            .expect("pkey")
            .private_key_to_pem_pkcs8()
            .expect("pem");
        let token = sign(
            A::ES256,
            "e1",
            &EncodingKey::from_ec_pem(&pkcs8).expect("key"),
        );
        assert_eq!(
            parse(&token).expect("parse").verify(&[ec_jwk]),
            Verified::Valid
        );
    }

    #[test]
    fn hmac_signed_with_the_public_key_is_refused() {
        // The classic confusion attack: HS256 keyed with the RSA public key
        // the provider publishes.
        let rsa = Rsa::generate(2048).expect("rsa");
        let public_pem = rsa.public_key_to_pem().expect("pem");
        let token = sign(
            jsonwebtoken::Algorithm::HS256,
            "r1",
            &jsonwebtoken::EncodingKey::from_secret(&public_pem),
        );
        assert_eq!(
            parse(&token).expect_err("refused").code,
            "oidc_id_token_algorithm_not_allowed"
        );
    }

    #[test]
    fn small_rsa_keys_and_keys_for_encryption_are_not_used() {
        let small = Rsa::generate(1024).expect("rsa");
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: Some("k".into()),
            usage: None,
            alg: None,
            n: Some(URL_SAFE_NO_PAD.encode(small.n().to_vec())),
            e: Some(URL_SAFE_NO_PAD.encode(small.e().to_vec())),
            crv: None,
            x: None,
            y: None,
        };
        assert!(jwk.public_key().is_none());
        let enc = Jwk {
            usage: Some("enc".into()),
            ..jwk
        };
        assert!(!enc.fits(Algorithm::Rs256));
    }
}

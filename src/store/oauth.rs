//! The host-facing OpenID provider's records: OAuth clients, authorization
//! codes and access tokens (hashed; codes consumed once), and the keys ID
//! tokens are signed with.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Backend, Store, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OauthClient {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    /// JSON array of exact redirect URIs.
    pub redirect_uris: String,
    pub initiate_login_uri: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl OauthClient {
    pub fn redirect_uris(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OauthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub claims: String,
    pub expires_at: DateTime<Utc>,
}

/// An access token to store, by its hash; it carries the claims of the
/// code it is issued for (userinfo answers them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessToken {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// What became of a code handed in for tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Taken, with the access token stored; the caller checks the code
    /// and, if it refuses it, forgets the token (the code stays used).
    Taken(OauthCode),
    /// Used before.
    Used,
    /// Never issued (or forgotten since it expired).
    Unknown,
}

/// Takes an unused code and stores its access token, on SQLite: one batch
/// in one transaction (SQLite has no changes in `WITH`). `changes()` is
/// what the `UPDATE` before changed: the token is stored only with the
/// code taken.
const REDEEM_SQLITE: &str = "BEGIN; \
    UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
    RETURNING client_id, redirect_uri, code_challenge, claims, expires_at; \
    INSERT INTO oauth_access_tokens (token_hash, client_id, claims, created_at, expires_at) \
    SELECT $3, client_id, claims, $2, $4 FROM oauth_codes WHERE code_hash = $1 AND changes() = 1; \
    COMMIT";

/// The same on Postgres, as one statement.
const REDEEM_POSTGRES: &str = "WITH taken AS ( \
    UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
    RETURNING client_id, redirect_uri, code_challenge, claims, expires_at), \
    issued AS (INSERT INTO oauth_access_tokens (token_hash, client_id, claims, created_at, expires_at) \
    SELECT $3, client_id, claims, $2, $4 FROM taken) \
    SELECT client_id, redirect_uri, code_challenge, claims, expires_at FROM taken";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKey {
    pub kid: String,
    /// Sealed PKCS#8.
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: DateTime<Utc>,
    /// When it stops signing (it stays published for a while after).
    pub retired_at: Option<DateTime<Utc>>,
    /// When it starts signing; `None`: as soon as it exists.
    pub signs_from: Option<DateTime<Utc>>,
}

impl SigningKey {
    /// Whether it is the one to sign with at `now`.
    pub fn signs_at(&self, now: DateTime<Utc>) -> bool {
        self.signs_from.is_none_or(|s| s <= now) && self.retired_at.is_none_or(|r| r > now)
    }
}

impl Store {
    pub async fn insert_oauth_client(
        &self,
        c: &OauthClient,
        ctx: &ChangeContext,
        event: NewEvent,
    ) -> StoreResult<()> {
        write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO oauth_clients (id, name, secret_hash, redirect_uris, initiate_login_uri, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&c.id)
            .bind(&c.name)
            .bind(&c.secret_hash)
            .bind(&c.redirect_uris)
            .bind(&c.initiate_login_uri)
            .bind(c.created_at)
            .execute(&mut *tx)
            .await?;
            insert_event!(&mut *tx, EventRow::new(ctx, event, c.created_at))?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        }
        .await
        })?;
        Ok(())
    }

    pub async fn get_oauth_client(&self, id: &str) -> StoreResult<Option<OauthClient>> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT id, name, secret_hash, redirect_uris, initiate_login_uri, created_at \
             FROM oauth_clients WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    pub async fn list_oauth_clients(&self) -> StoreResult<Vec<OauthClient>> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT id, name, secret_hash, redirect_uris, initiate_login_uri, created_at \
             FROM oauth_clients ORDER BY created_at, id"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Redeems a code: takes it if it was unused (marking it used in the
    /// same statement, so it works once across instances) and stores the
    /// access token with the code's claims, in one transaction and one
    /// round trip.
    pub async fn redeem_oauth_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        token: &NewAccessToken,
    ) -> StoreResult<Redemption> {
        let (hash, token) = (code_hash.to_string(), token.clone());
        let taken = self
            .on_writer_thread(move |store| async move {
                macro_rules! redeem {
                    ($sql:expr, $on:expr) => {
                        sqlx::query_as::<_, OauthCode>($sql)
                            .bind(&hash)
                            .bind(now)
                            .bind(&token.token_hash)
                            .bind(token.expires_at)
                            // Every row, so that the batch runs to its end.
                            .fetch_all($on)
                            .await
                    };
                }
                let redeemed = match &store.backend {
                    Backend::Sqlite { write, .. } => {
                        let mut held = write.acquire().await?;
                        let redeemed = redeem!(REDEEM_SQLITE, &mut *held.conn());
                        if redeemed.is_err() {
                            held.roll_back_failed_batch().await;
                        }
                        held.check(&redeemed);
                        redeemed
                    }
                    Backend::Postgres(pool) => redeem!(REDEEM_POSTGRES, pool),
                };
                Ok(redeemed?.pop())
            })
            .await?;
        if let Some(code) = taken {
            return Ok(Redemption::Taken(code));
        }
        let known: Option<String> = read!(self, |p| sqlx::query_scalar(
            "SELECT code_hash FROM oauth_codes WHERE code_hash = $1"
        )
        .bind(code_hash)
        .fetch_optional(p)
        .await)?;
        Ok(match known {
            Some(_) => Redemption::Used,
            None => Redemption::Unknown,
        })
    }

    /// Forgets an access token (one issued for a code the caller refused).
    pub async fn forget_access_token(&self, token_hash: &str) -> StoreResult<()> {
        write!(self, |p| sqlx::query(
            "DELETE FROM oauth_access_tokens WHERE token_hash = $1"
        )
        .bind(token_hash)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The claims of an unexpired access token.
    pub async fn access_token_claims(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        Ok(read!(self, |p| sqlx::query_scalar(
            "SELECT claims FROM oauth_access_tokens WHERE token_hash = $1 AND expires_at > $2"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await)?)
    }

    /// Signing keys, newest first; retired ones only while they may still
    /// verify tokens (the caller filters).
    pub async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        Ok(read!(self, |p| {
            sqlx::query_as(
            "SELECT kid, private_key, public_jwk, created_at, retired_at, signs_from FROM signing_keys \
             ORDER BY created_at DESC, kid DESC"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// Adds a signing key that signs from its `signs_from` (or now): every
    /// key that would sign after that moment stops signing then (they stay
    /// published for a while, so tokens they signed still verify).
    pub async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        let switch = key.signs_from.unwrap_or(key.created_at);
        write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL OR retired_at > $1",
            )
            .bind(switch)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, private_key, public_jwk, created_at, signs_from) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(&key.private_key)
            .bind(&key.public_jwk)
            .bind(key.created_at)
            .bind(key.signs_from)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        }
        .await
        })?;
        Ok(())
    }

    pub async fn purge_expired_oauth(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let codes = write!(self, |p| sqlx::query(
            "DELETE FROM oauth_codes WHERE expires_at < $1"
        )
        .bind(now - chrono::Duration::days(1))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        let tokens = write!(self, |p| sqlx::query(
            "DELETE FROM oauth_access_tokens WHERE expires_at < $1"
        )
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(codes + tokens)
    }
}

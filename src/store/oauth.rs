//! The host-facing OpenID provider's records: OAuth clients, authorization
//! codes and access tokens (hashed; codes consumed once), and the keys ID
//! tokens are signed with.

use chrono::{DateTime, Utc};

use super::events::{EventRow, insert_event};
use super::{Store, StoreResult, read, write};
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

/// An access token to store, by its hash, with the claims userinfo answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessToken {
    pub token_hash: String,
    pub claims: String,
    pub expires_at: DateTime<Utc>,
}

/// What became of a code handed in for tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption<T, E> {
    /// Taken, accepted, and its access token stored.
    Issued(T),
    /// Taken, and refused by the caller's check (it stays used).
    Refused(E),
    /// Used before.
    Used,
    /// Never issued (or forgotten since it expired).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKey {
    pub kid: String,
    /// Sealed PKCS#8.
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
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
    /// same statement, so it works once across instances) and, if `check`
    /// accepts it, stores the access token `check` answers, all on one trip
    /// to the writer. `check` runs there, so it must be quick.
    pub async fn redeem_oauth_code<T, E>(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        check: impl FnOnce(&OauthCode) -> Result<(T, NewAccessToken), E> + Send + 'static,
    ) -> StoreResult<Redemption<T, E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let hash = code_hash.to_string();
        let taken = self
            .on_writer_thread(move |store| async move {
                let code: Option<OauthCode> = write!(store, |p| sqlx::query_as(
                    "UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
                     RETURNING client_id, redirect_uri, code_challenge, claims, expires_at"
                )
                .bind(&hash)
                .bind(now)
                .fetch_optional(p)
                .await)?;
                let Some(code) = code else {
                    return Ok(None);
                };
                let (answer, token) = match check(&code) {
                    Ok(issued) => issued,
                    Err(refused) => return Ok(Some(Redemption::Refused(refused))),
                };
                write!(store, |p| sqlx::query(
                    "INSERT INTO oauth_access_tokens (token_hash, client_id, claims, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)"
                )
                .bind(&token.token_hash)
                .bind(&code.client_id)
                .bind(&token.claims)
                .bind(now)
                .bind(token.expires_at)
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
                Ok(Some(Redemption::Issued(answer)))
            })
            .await?;
        if let Some(redemption) = taken {
            return Ok(redemption);
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
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT kid, private_key, public_jwk, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid DESC"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Adds a signing key; the ones before it are retired now (they stay
    /// published for a while, so tokens they signed still verify).
    pub async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        write!(self, |p| {
            async {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(key.created_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&key.kid)
            .bind(&key.private_key)
            .bind(&key.public_jwk)
            .bind(key.created_at)
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

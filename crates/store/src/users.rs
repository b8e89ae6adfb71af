//! Users, their roles, and API keys (stored as the SHA-256 of the secret). The account always
//! keeps one owner: checked inside the write's transaction.

use sqlx::Transaction;
use time::OffsetDateTime;

use crate::codec::{new_id, read_one, to_json, ts, KEY_COLUMNS, PRINCIPAL_COLUMNS, USER_COLUMNS};
use crate::connect::SqlStore;
use crate::error::{found, Context, StoreError};
use crate::model::{ApiKey, Change, Principal, Role, User};

impl SqlStore {
    /// Every user, by email.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        self.read_all(sqlx::query(&sql), "listing users").await
    }

    /// The user with this id or email.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 OR email = $1");
        let query = sqlx::query(&sql).bind(id);
        self.read_optional(query, "reading a user").await
    }

    pub async fn create_user(
        &self,
        email: &str,
        role: Role,
        namespaces: Vec<String>,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<User, StoreError> {
        let user = User {
            id: new_id("u")?,
            email: email.to_owned(),
            role,
            namespaces,
            created_at: now,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(to_json(&user.namespaces))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::or_exists(e, "creating a user", "user", email))?;
        self.audit_and_commit(tx, now, None, &change).await?;
        Ok(user)
    }

    /// Changes a user's role and namespaces; audited at `now`.
    pub async fn update_user(
        &self,
        id: &str,
        role: Role,
        namespaces: Vec<String>,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<User, StoreError> {
        const CONTEXT: &str = "updating a user";
        let mut tx = self.begin_write().await?;
        let was_owner = is_owner(&mut tx, id).await?;
        let n = sqlx::query("UPDATE users SET role = $1, namespaces = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(to_json(&namespaces))
            .bind(id)
            .execute(&mut *tx)
            .await
            .context(CONTEXT)?
            .rows_affected();
        found(n, "user", id)?;
        keep_an_owner(&mut tx, was_owner).await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let user: User = read_one(&mut tx, sqlx::query(&sql).bind(id), CONTEXT).await?;
        self.audit_and_commit(tx, now, None, &change).await?;
        Ok(user)
    }

    /// Deletes a user and their API keys; audited at `now`.
    pub async fn delete_user(
        &self,
        id: &str,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let was_owner = is_owner(&mut tx, id).await?;
        let n = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .context("deleting a user")?
            .rows_affected();
        found(n, "user", id)?;
        keep_an_owner(&mut tx, was_owner).await?;
        self.audit_and_commit(tx, now, None, &change).await
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users")
            .fetch_one(&self.pool)
            .await
            .context("counting users")
    }

    /// First start: if there are no users, creates an account owner and its API key in one
    /// transaction and returns it; otherwise `None`.
    pub async fn bootstrap_owner(
        &self,
        email: &str,
        secret_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        const CONTEXT: &str = "creating the first account owner";
        let mut tx = self.begin_write().await?;
        // Write first, so this transaction holds the write lock before it looks.
        sqlx::query("UPDATE schema_migrations SET applied_at = applied_at WHERE version = 1")
            .execute(&mut *tx)
            .await
            .context(CONTEXT)?;
        let users: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM users")
            .fetch_one(&mut *tx)
            .await
            .context(CONTEXT)?;
        if users > 0 {
            return Ok(None);
        }
        let user = User {
            id: new_id("u")?,
            email: email.to_owned(),
            role: Role::AccountOwner,
            namespaces: vec![],
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO users (id, email, role, namespaces, created_at) VALUES ($1, $2, $3, '[]', $4)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .context(CONTEXT)?;
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}, secret_hash) VALUES ($1, $2, 'bootstrap', $3, NULL, NULL, $4)"
        ))
        .bind(new_id("k")?)
        .bind(&user.id)
        .bind(ts(now))
        .bind(secret_hash)
        .execute(&mut *tx)
        .await
        .context(CONTEXT)?;
        let change = Change {
            actor: "gatehouse serve (bootstrap)".into(),
            action: "user.bootstrap".into(),
            after: serde_json::json!({ "email": email, "role": "account-owner" }),
            ..Change::default()
        };
        self.audit_and_commit(tx, now, None, &change).await?;
        Ok(Some(user))
    }

    /// Stores a new key; `secret_hash` is the SHA-256 (hex) of the secret token.
    pub async fn create_api_key(
        &self,
        user_id: &str,
        name: &str,
        secret_hash: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<ApiKey, StoreError> {
        let key = ApiKey {
            id: new_id("k")?,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}, secret_hash) VALUES ($1, $2, $3, $4, $5, NULL, $6)"
        ))
        .bind(&key.id)
        .bind(&key.user_id)
        .bind(&key.name)
        .bind(ts(now))
        .bind(expires_at.map(ts))
        .bind(secret_hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
                kind: "user",
                name: user_id.to_owned(),
            },
            _ => StoreError::sql("creating an API key", e),
        })?;
        self.audit_and_commit(tx, now, None, &change).await?;
        Ok(key)
    }

    /// Keys, oldest first: one user's, or everyone's.
    pub async fn list_api_keys(&self, user_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let sql = match user_id {
            Some(_) => format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, id"
            ),
            None => format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"),
        };
        let mut query = sqlx::query(&sql);
        if let Some(u) = user_id {
            query = query.bind(u);
        }
        self.read_all(query, "listing API keys").await
    }

    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let query = sqlx::query(&sql).bind(id);
        self.read_optional(query, "reading an API key").await
    }

    pub async fn revoke_api_key(
        &self,
        id: &str,
        now: OffsetDateTime,
        change: Change,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(ts(now))
                .bind(id)
                .execute(&mut *tx)
                .await
                .context("revoking an API key")?
                .rows_affected();
        found(n, "API key", id)?;
        self.audit_and_commit(tx, now, None, &change).await
    }

    /// The user and key whose secret hashes to `secret_hash`, if the key is neither revoked nor
    /// expired at `now`.
    pub async fn authenticate(
        &self,
        secret_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Principal>, StoreError> {
        let sql = format!(
            "SELECT {PRINCIPAL_COLUMNS} \
             FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.secret_hash = $1"
        );
        let query = sqlx::query(&sql).bind(secret_hash);
        let Some(principal) = self
            .read_optional::<Principal>(query, "looking up an API key")
            .await?
        else {
            return Ok(None);
        };
        let key = &principal.key;
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        Ok(Some(principal))
    }
}

/// Inside a transaction that changed or deleted an account owner: the account must still
/// have one. (Checked after the write, in the same transaction, so two admins removing each
/// other at once cannot both succeed.)
async fn keep_an_owner(
    tx: &mut Transaction<'_, sqlx::Any>,
    was_owner: bool,
) -> Result<(), StoreError> {
    if !was_owner {
        return Ok(());
    }
    let owners: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE role = 'account-owner'",
    )
    .fetch_one(&mut **tx)
    .await
    .context("counting account owners")?;
    if owners == 0 {
        return Err(StoreError::LastOwner);
    }
    Ok(())
}

/// Whether `id` is an account owner. Takes the write lock first (a no-op write), so the
/// answer cannot change before this transaction commits.
async fn is_owner(tx: &mut Transaction<'_, sqlx::Any>, id: &str) -> Result<bool, StoreError> {
    const CONTEXT: &str = "reading a user's role";
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .context(CONTEXT)?;
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .context(CONTEXT)?;
    Ok(role.as_deref() == Some("account-owner"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{change, new_key, new_user, newest_events};

    #[tokio::test]
    async fn users_keys_and_authentication() {
        for s in crate::testing::stores().await {
            eprintln!("backend: {:?}", s.backend());
            let now = OffsetDateTime::now_utc();
            let u = new_user(&s, "admin@example.com", Role::NamespaceAdmin, &["a"], now).await;
            assert!(u.administers("a") && !u.administers("b"));
            assert!(matches!(
                s.create_user(
                    "admin@example.com",
                    Role::ReadOnly,
                    vec![],
                    now,
                    change("user.create")
                )
                .await,
                Err(StoreError::AlreadyExists { .. })
            ));
            let k = new_key(&s, &u.id, "laptop", "hash1", None, now).await;
            let p = s.authenticate("hash1", now).await.unwrap().unwrap();
            assert_eq!(p.user.email, "admin@example.com");
            assert!(s.authenticate("other", now).await.unwrap().is_none());
            let in_an_hour = Some(now + time::Duration::hours(1));
            let expiring = new_key(&s, &u.id, "ci", "hash2", in_an_hour, now).await;
            assert!(s.authenticate("hash2", now).await.unwrap().is_some());
            assert!(s
                .authenticate("hash2", now + time::Duration::hours(2))
                .await
                .unwrap()
                .is_none());
            s.revoke_api_key(&k.id, now, change("apikey.revoke"))
                .await
                .unwrap();
            assert!(s.authenticate("hash1", now).await.unwrap().is_none());
            assert!(matches!(
                s.revoke_api_key(&k.id, now, change("apikey.revoke")).await,
                Err(StoreError::NotFound { .. })
            ));
            assert!(matches!(
                s.create_api_key(
                    "u_missing",
                    "x",
                    "hash3",
                    None,
                    now,
                    change("apikey.create")
                )
                .await,
                Err(StoreError::NotFound { .. })
            ));
            s.delete_user(&u.id, now, change("user.delete"))
                .await
                .unwrap();
            assert!(
                s.get_api_key(&expiring.id).await.unwrap().is_none(),
                "keys go with their user"
            );
            assert_eq!(s.count_users().await.unwrap(), 0);
            // Bootstrap happens once, atomically; the last owner cannot go.
            let owner = s
                .bootstrap_owner("root@example.com", "h0", now)
                .await
                .unwrap()
                .unwrap();
            assert!(s
                .bootstrap_owner("again@example.com", "h1", now)
                .await
                .unwrap()
                .is_none());
            assert!(s.authenticate("h0", now).await.unwrap().is_some());
            assert!(matches!(
                s.delete_user(&owner.id, now, change("user.delete")).await,
                Err(StoreError::LastOwner)
            ));
            assert!(matches!(
                s.update_user(
                    &owner.id,
                    Role::ReadOnly,
                    vec![],
                    now,
                    change("user.update")
                )
                .await,
                Err(StoreError::LastOwner)
            ));
            assert_eq!(
                s.get_user(&owner.id).await.unwrap().unwrap().role,
                Role::AccountOwner
            );
        }
    }

    #[tokio::test]
    async fn user_writes_are_audited_at_the_callers_time() {
        for s in crate::testing::stores().await {
            let created = time::macros::datetime!(2031-01-01 00:00 UTC);
            let updated = time::macros::datetime!(2031-02-01 00:00 UTC);
            let deleted = time::macros::datetime!(2031-03-01 00:00 UTC);
            let u = new_user(&s, "a@example.com", Role::ReadOnly, &[], created).await;
            s.update_user(
                &u.id,
                Role::GlobalAdmin,
                vec![],
                updated,
                change("user.update"),
            )
            .await
            .unwrap();
            s.delete_user(&u.id, deleted, change("user.delete"))
                .await
                .unwrap();
            let events = newest_events(&s, 10).await;
            let at: Vec<_> = events.iter().map(|e| (e.action.as_str(), e.at)).collect();
            assert_eq!(
                at,
                [
                    ("user.delete", deleted),
                    ("user.update", updated),
                    ("user.create", created)
                ],
                "{:?}",
                s.backend()
            );
        }
    }
}

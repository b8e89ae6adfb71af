    CREATE TABLE namespaces (
        name TEXT PRIMARY KEY,
        accepted_client_ca TEXT NOT NULL,
        certificate_filters TEXT NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        namespaces TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT
    );
    CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        namespace TEXT,
        request_id TEXT,
        before TEXT NOT NULL,
        after TEXT NOT NULL
    );
    CREATE INDEX audit_events_namespace ON audit_events(namespace, id);
    CREATE TABLE requests (
        request_id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        action TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE ca_usage (
        namespace TEXT NOT NULL,
        ca_fingerprint TEXT NOT NULL,
        leaf_fingerprint TEXT NOT NULL,
        leaf_subject TEXT NOT NULL,
        leaf_not_after TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        connections INTEGER NOT NULL,
        PRIMARY KEY (namespace, ca_fingerprint, leaf_fingerprint)
    );
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        kind TEXT NOT NULL,
        threshold TEXT NOT NULL,
        channel TEXT NOT NULL,
        recipient TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        lease_until TEXT,
        claim_token TEXT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (namespace, fingerprint, threshold, channel, recipient)
    );
    CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        subject TEXT NOT NULL,
        not_after TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        status TEXT NOT NULL,
        UNIQUE (namespace, fingerprint)
    );

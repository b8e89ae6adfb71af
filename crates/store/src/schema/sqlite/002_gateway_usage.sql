    ALTER TABLE ca_usage ADD COLUMN last_handshake TEXT NOT NULL DEFAULT '';
    ALTER TABLE ca_usage ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE ca_open_connections (
        instance TEXT NOT NULL,
        namespace TEXT NOT NULL,
        ca_fingerprint TEXT NOT NULL,
        open_connections INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (instance, namespace, ca_fingerprint)
    );

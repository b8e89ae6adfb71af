    ALTER TABLE ca_usage ADD COLUMN last_handshake TEXT COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE ca_usage ADD COLUMN requests BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE ca_open_connections (
        instance TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        ca_fingerprint TEXT COLLATE "C" NOT NULL,
        open_connections BIGINT NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (instance, namespace, ca_fingerprint)
    );

    CREATE TABLE shared_secrets (
        name TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL
    );

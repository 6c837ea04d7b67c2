-- Data Catalog subset, ML transforms, task runs, labels and tags; every row belongs to one account and region.
CREATE TABLE databases (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);

CREATE TABLE tables (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    database_name TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, region, database_name, name)
);

CREATE TABLE transforms (
    transform_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    last_modified REAL NOT NULL,
    label_count INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE INDEX transforms_by_owner ON transforms (account, region, created);

CREATE TABLE transform_tags (
    transform_id TEXT NOT NULL REFERENCES transforms (transform_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (transform_id, key)
);

CREATE TABLE task_runs (
    task_run_id TEXT PRIMARY KEY,
    transform_id TEXT NOT NULL REFERENCES transforms (transform_id) ON DELETE CASCADE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    task_type TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    last_modified REAL NOT NULL,
    completed REAL,
    attempt INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
);
CREATE INDEX task_runs_by_transform ON task_runs (transform_id, started);
CREATE INDEX task_runs_by_status ON task_runs (status);

CREATE TABLE labels (
    transform_id TEXT NOT NULL REFERENCES transforms (transform_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    labeling_set_id TEXT NOT NULL,
    label TEXT NOT NULL,
    primary_key TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (transform_id, ordinal)
);
CREATE INDEX labels_by_set ON labels (transform_id, labeling_set_id);

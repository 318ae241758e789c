-- Secondary indexes of read models set aside while a rebuild refills their
-- tables (see src/store/sqlite/bulk.rs): dropped and recorded here in one
-- transaction, recreated from here and forgotten in one transaction. A
-- rebuild that dies in between leaves its rows here, and the next start or
-- operator command recreates them before anything else.
CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY,
    sql  TEXT NOT NULL
);

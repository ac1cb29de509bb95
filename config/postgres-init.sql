-- docker-compose.yml: the postgres image runs this once, on an empty data directory. AMCI uses
-- the database named by POSTGRES_DB (amci); the billing client gets its own (their tables must
-- not meet: both have a "cards" table, for example).
CREATE DATABASE billing;

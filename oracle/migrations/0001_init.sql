-- Tollgate oracle store on PostgreSQL, schema 1 (oracle/src/store/postgres.rs applies it).
--
-- Records keep the sled store's checked format: `value` is CRC32C(tree ‖ 0x00 ‖ key ‖ payload)
-- (u32 LE) followed by the payload, so a row altered outside the node is detected on read and a
-- sled store migrates by copying bytes. Keys are the sled keys.

-- Labels; the row with the empty key holds the label set's version (writes, count, digest) and
-- is locked by every label write, so the version always names the labels committed with it.
CREATE TABLE labels (
    key   bytea PRIMARY KEY,
    value bytea NOT NULL
);

-- Overrides by address (33-byte key).
CREATE TABLE overrides (
    key   bytea PRIMARY KEY,
    value bytea NOT NULL
);

-- Every override change, in order; the key of its checksum is `seq` as u64 big-endian.
CREATE TABLE override_history (
    seq   bigint PRIMARY KEY,
    value bytea NOT NULL
);
CREATE SEQUENCE override_history_seq AS bigint MINVALUE 0 START 0;

-- Metadata by name.
CREATE TABLE meta (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

-- Nonce seconds claimed by replicas: a replica issues nonces of second `second` only with the
-- `slot` it claimed here (the primary key makes every (second, slot) one replica's).
CREATE TABLE nonce_claims (
    second bigint NOT NULL,
    slot   integer NOT NULL CHECK (slot >= 0 AND slot < 4096),
    PRIMARY KEY (second, slot)
);

-- The audit chain: `entry` is the record payload of SPEC.md §11.1 (the bytes a file frame
-- carries), `hash` its SHA-256 (the next entry's prev_hash).
CREATE TABLE audit_entries (
    seq   bigint PRIMARY KEY CHECK (seq >= 0),
    entry bytea NOT NULL,
    hash  bytea NOT NULL CHECK (length(hash) = 32)
);

-- The chain head, one row. Every commit locks it (SELECT … FOR UPDATE), so replicas append one
-- after another and the chain never forks.
CREATE TABLE audit_head (
    id      integer PRIMARY KEY CHECK (id = 1),
    entries bigint NOT NULL CHECK (entries >= 0),
    head    bytea NOT NULL CHECK (length(head) = 32)
);
INSERT INTO audit_head (id, entries, head) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Tollgate oracle store on PostgreSQL, schema 2: what replicas share beyond schema 1.
--
-- Values are checked records as in schema 1 (CRC32C(tree ‖ 0x00 ‖ key ‖ payload), u32 LE, then
-- the payload), under the sled feed's keys and tree names (oracle/src/changes.rs).

-- The change feed (GET /v1/changes, webhooks): `seq` from 1, the key of its checksum is `seq`
-- as u64 big-endian. Appends take an advisory lock (oracle/src/changes/postgres.rs), so seqs of
-- every replica follow one another.
CREATE TABLE change_feed (
    seq   bigint PRIMARY KEY CHECK (seq > 0),
    value bytea NOT NULL
);

-- The last level recorded per address (33-byte key).
CREATE TABLE change_levels (
    key   bytea PRIMARY KEY,
    value bytea NOT NULL
);

-- Webhook delivery state per subscriber id.
CREATE TABLE webhook_states (
    id    text PRIMARY KEY,
    value bytea NOT NULL
);

-- The transfer log (oracle/src/exposure/transfers_pg.rs): one row per ingested batch, the
-- frame payload of oracle/src/exposure/transfers.rs with its CRC32C. Replicas apply the frames
-- in `seq` order, so they intern addresses to the same ids; writers append under an advisory
-- lock after catching up.
CREATE TABLE transfer_frames (
    seq     bigint PRIMARY KEY CHECK (seq > 0),
    crc     bigint NOT NULL,
    payload bytea NOT NULL
);

-- Leases: which replica runs a singleton task (the chain follower) until when.
CREATE TABLE leases (
    name   text PRIMARY KEY,
    holder text NOT NULL,
    until  timestamptz NOT NULL
);

-- The audit head's signature by the node key (SPEC.md §11.3): NULL only before the first
-- signed commit of a node that knows it.
ALTER TABLE audit_head ADD COLUMN signature bytea;

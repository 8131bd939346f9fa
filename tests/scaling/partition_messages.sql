-- The messages table hash-partitioned by conversation_id (docs/scaling.md, "The messages table
-- partitioned"): run on a database at the head revision with no messages yet. What it changes,
-- and why each change is needed:
--   * every unique index of a partitioned table holds the partition key: the primary key is
--     (conversation_id, id); a clientMessageId is unique per sender within a conversation
--     (its scope across conversations would need a table of its own);
--   * a foreign key can only reference such a unique key: the seven tables that reference
--     messages(id) lose those constraints (with them their ON DELETE CASCADE; Parley's own
--     deletes do not rely on them, see docs/scaling.md);
--   * lookups by id alone (GET /messages/{id}) keep an index on id in every partition.
BEGIN;
-- The search configuration the index was built with is the column's comment (search/language.py).
CREATE TEMP TABLE kept_comment ON COMMIT DROP AS
    SELECT col_description('messages'::regclass, attnum) AS comment
    FROM pg_attribute WHERE attrelid = 'messages'::regclass AND attname = 'search_vector';
DROP TABLE messages CASCADE;  -- also drops the referencing foreign keys, not the tables
CREATE TABLE messages (
    id uuid NOT NULL,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_id uuid REFERENCES users (id) ON DELETE SET NULL,
    seq bigint NOT NULL,
    type varchar(16) NOT NULL,
    content text,
    status varchar(16) NOT NULL,
    reply_to_id uuid,
    thread_id uuid,
    forwarded_from_id uuid,
    attachments jsonb NOT NULL,
    metadata jsonb NOT NULL,
    client_message_id varchar(128),
    client_timestamp timestamptz,
    server_timestamp timestamptz NOT NULL,
    edited_at timestamptz,
    deleted_at timestamptz,
    deleted_by uuid,
    encrypted boolean NOT NULL,
    version integer NOT NULL,
    search_vector tsvector,
    PRIMARY KEY (conversation_id, id)
) PARTITION BY HASH (conversation_id);
CREATE TABLE messages_p0 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE messages_p1 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE messages_p2 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE messages_p3 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 3);
CREATE UNIQUE INDEX ux_messages_conversation_seq ON messages (conversation_id, seq);
CREATE UNIQUE INDEX ux_messages_sender_client_id
    ON messages (conversation_id, sender_id, client_message_id);
CREATE INDEX ix_messages_id ON messages (id);
CREATE INDEX ix_messages_search ON messages USING gin (search_vector);
CREATE INDEX ix_messages_search_recent ON messages (server_timestamp, id);
CREATE INDEX ix_messages_thread_seq ON messages (thread_id, seq);
CREATE TRIGGER messages_search_vector_guard
    BEFORE INSERT OR UPDATE OF content, deleted_at, encrypted, search_vector ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_search_vector_guard();
DO $$ BEGIN
    EXECUTE format('COMMENT ON COLUMN messages.search_vector IS %L', (SELECT comment FROM kept_comment));
END $$;
COMMIT;

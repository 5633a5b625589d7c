-- SMTP journaling (src/delivery/journal.ts): one message per stored recording to the journaling
-- mailbox. A row is the recording's message: pending until the mailbox accepts it (sent), failed
-- after the configured attempts or when it cannot be sent at all (too large), until retried by
-- hand. purged_at: the recording's artifacts were wiped after the transfer (purgeAfterTransfer).
CREATE TABLE journal_messages (
  recording_id    uuid PRIMARY KEY REFERENCES recordings (id) ON DELETE CASCADE,
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  message_id      text,
  bytes           bigint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  purged_at       timestamptz
);
CREATE INDEX journal_messages_due_idx ON journal_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX journal_messages_purge_idx ON journal_messages (sent_at) WHERE state = 'sent' AND purged_at IS NULL;

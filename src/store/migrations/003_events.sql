-- What happened during a recording: pause/resume, streams added/removed by re-INVITE,
-- participants joining/leaving, and every rs-metadata document received (raw XML in detail.xml).
CREATE TABLE recording_events (
  recording_id  uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  seq           bigserial,
  at            timestamptz NOT NULL,
  type          text NOT NULL,
  detail        jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (recording_id, seq)
);

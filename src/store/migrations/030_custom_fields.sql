-- Custom fields: admins define them (order number, ticket, campaign, ...), admins set their values
-- per recording; the list shows them as columns and the search filters on them.
CREATE TABLE custom_fields (
  name       text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
  label      text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
  type       text NOT NULL CHECK (type IN ('text', 'date', 'option')),
  options    text[] NOT NULL DEFAULT '{}',
  ordinal    integer NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recording_fields (
  recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  field        text NOT NULL REFERENCES custom_fields (name) ON DELETE CASCADE,
  value        text NOT NULL CHECK (length(value) BETWEEN 1 AND 1000),
  set_by       text NOT NULL,
  set_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recording_id, field)
);
CREATE INDEX recording_fields_value_idx ON recording_fields (field, value);

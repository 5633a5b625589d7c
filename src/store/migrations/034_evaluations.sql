-- Agent evaluation (quality management): admins define forms (questions worth 1-10 points each);
-- supervisors and admins evaluate a user who took part in a recording, answering each question
-- with 0..its points; the score is the share of the form's points, 0-100.
CREATE TABLE evaluation_forms (
  id         uuid PRIMARY KEY,
  name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  questions  jsonb NOT NULL,
  max_points integer NOT NULL CHECK (max_points > 0),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evaluations (
  id           uuid PRIMARY KEY,
  recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  -- A form in use is not deleted (the API answers 409).
  form_id      uuid NOT NULL REFERENCES evaluation_forms (id) ON DELETE RESTRICT,
  agent        text NOT NULL,
  evaluator    text NOT NULL,
  answers      integer[] NOT NULL,
  score        integer NOT NULL CHECK (score BETWEEN 0 AND 100),
  comment      text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evaluations_recording_idx ON evaluations (recording_id, created_at);
CREATE INDEX evaluations_created_idx ON evaluations (created_at);

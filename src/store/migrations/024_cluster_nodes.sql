-- The cluster: every `srs serve` registers itself and heartbeats; the live calls of
-- every node, so that any node's API and monitor can list them. A node is down when its heartbeat
-- is older than three of its own heartbeat intervals (judged by the database clock, one clock for
-- all nodes). `drain_requested` is the drain flag `srs node drain` (or the API) sets; the node
-- reads it on its next heartbeat and at once through NOTIFY srs_cluster.
CREATE TABLE cluster_nodes (
  id text PRIMARY KEY,
  -- A random token per process: a second process claiming a live node's id is refused.
  instance text NOT NULL,
  sip_address text NOT NULL,
  media_address text NOT NULL,
  http_address text NOT NULL,
  state text NOT NULL CHECK (state IN ('up', 'draining', 'stopped')),
  drain_requested boolean NOT NULL DEFAULT false,
  active_calls integer NOT NULL DEFAULT 0,
  max_sessions integer NOT NULL,
  heartbeat_seconds integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cluster_calls (
  recording_id uuid PRIMARY KEY,
  node_id text NOT NULL REFERENCES cluster_nodes (id) ON DELETE CASCADE,
  call jsonb NOT NULL,
  started_at timestamptz NOT NULL
);
CREATE INDEX cluster_calls_node ON cluster_calls (node_id);

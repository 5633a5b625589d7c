-- The MP3 export's day index (`YYYY/MM/DD/index.csv` at each destination) grows by appending the
-- rows of each pass instead of being rewritten from the catalogue after every file (with 20,000
-- rows already there the export managed 6 recordings a second). `bytes`: the index's size as
-- the export last wrote it, committed after the rows it holds count as done; a pass appends only
-- when the file at the destination still has that size, and otherwise (a crash in between, a
-- file changed or removed there, S3) writes the whole index again from the catalogue.
CREATE TABLE export_indexes (
  destination  text NOT NULL CHECK (destination IN ('primary', 'secondary')),
  day          date NOT NULL,
  bytes        bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (destination, day)
);

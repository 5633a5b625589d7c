-- Each purge pass finishes the removals a crash or an outage interrupted: the files of the
-- recordings purged in the last day (store/retention.ts recentlyPurgedFiles). With no index of
-- them that read went through every file row (119-145 ms a pass with 2,000,000 files, growing
-- around the clock); these recordings are few, found by their purge time.
CREATE INDEX recordings_purged_idx ON recordings (purged_at) WHERE state = 'purged';

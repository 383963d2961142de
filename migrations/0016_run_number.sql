-- Each run's number within its process (1 for its first), as people name
-- runs ("Daily revenue #12"); kept when older runs are deleted by retention.
ALTER TABLE runs ADD COLUMN number BIGINT;
UPDATE runs SET number = (
    SELECT COUNT(*) FROM runs n
    WHERE n.process_id = runs.process_id
      AND (n.created_at < runs.created_at OR (n.created_at = runs.created_at AND n.id <= runs.id))
);

-- Per-component retry and timeout policy, as JSON:
-- {"retries": n, "retry_delay_seconds": s, "timeout_seconds": s | null}.
ALTER TABLE component_types ADD COLUMN policy TEXT;

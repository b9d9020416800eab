-- Named leases: the replica whose holder id is here runs that background loop until expires_at
-- (ms since the epoch), renewing it each round.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

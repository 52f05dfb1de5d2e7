-- Which liveness check a fleet requires (issue 14), which one each challenge asked for, and which one each check-in
-- says it ran (the attestation's `lvm` claim). 'passive' | 'active'; rows made before this migration were passive.
ALTER TABLE fleets ADD COLUMN liveness_required TEXT NOT NULL DEFAULT 'passive';
ALTER TABLE challenges ADD COLUMN liveness TEXT NOT NULL DEFAULT 'passive';
ALTER TABLE checkins ADD COLUMN liveness_method TEXT NOT NULL DEFAULT 'passive';

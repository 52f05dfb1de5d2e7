-- The reviews a check-in opened, found by its id (`GET /v1/checkins/{id}/reviews`: the driver fetches their
-- resolutions, as for the reviews it asked for).
CREATE INDEX reviews_checkin ON reviews (checkin_id);

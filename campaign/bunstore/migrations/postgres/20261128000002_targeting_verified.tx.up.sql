-- Whether a targeting check (the Rules Engine's) ran and passed at the campaign's last
-- activation or resume. Existing campaigns were never verified.
ALTER TABLE campaigns ADD COLUMN targeting_verified BOOLEAN NOT NULL DEFAULT FALSE;

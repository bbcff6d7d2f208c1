-- Whether a targeting check (the Rules Engine's) ran and passed at the campaign's last
-- activation or resume. Existing campaigns were never verified. Stored as 0/1.
ALTER TABLE campaigns ADD COLUMN targeting_verified BOOLEAN NOT NULL DEFAULT 0;

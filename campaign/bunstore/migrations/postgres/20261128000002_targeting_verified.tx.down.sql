ALTER TABLE campaigns DROP COLUMN IF EXISTS targeting_verified;

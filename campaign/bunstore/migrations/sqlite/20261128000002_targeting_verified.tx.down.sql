ALTER TABLE campaigns DROP COLUMN targeting_verified;

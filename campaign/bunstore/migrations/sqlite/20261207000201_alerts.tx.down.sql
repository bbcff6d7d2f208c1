DROP TABLE IF EXISTS campaign_alerts;

DROP TABLE IF EXISTS campaign_status_transitions;

-- (Defender's own level is `risk_score`, as Defender names it; these are mde-car's.)
-- Each asset's computed 0–10 risk, refreshed in every sync's transaction (the only writer of
-- what it depends on: alerts, vulnerabilities, device value). Searches sorted by risk order
-- by it in SQL instead of scoring every match, and cards count devices per risk level. The
-- breakdown shown to the analyst is still computed when asked, from the same rule.
ALTER TABLE assets ADD COLUMN computed_risk REAL NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN computed_risk_level TEXT NOT NULL DEFAULT 'none';
CREATE INDEX assets_by_risk ON assets (connection_id, computed_risk DESC);

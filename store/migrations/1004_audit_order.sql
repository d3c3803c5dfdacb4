-- The audit log read in storage order per organisation (console pages, export, verification):
-- without this index SQLite sorted the organisation's whole log in a temporary B-tree for every
-- page of 500 rows.
CREATE INDEX audit_log_org_order ON audit_log (org_id, seq);

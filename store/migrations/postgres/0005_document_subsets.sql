-- Need-to-know subsets: the SQLite migration 1006 in intent.
ALTER TABLE documents ADD COLUMN derived_from TEXT;
ALTER TABLE documents ADD COLUMN shares TEXT;
CREATE INDEX documents_derived ON documents (org_id, derived_from);

-- Need-to-know sharing (docs/server.md#subsets): a link can share a subset of a document (chosen
-- PDF pages), sealed as a document of its own under its own content key. Such a document names
-- the one it was cut from and what it holds; it takes its parent's level and follows it.
ALTER TABLE documents ADD COLUMN derived_from TEXT;   -- the parent document's id
ALTER TABLE documents ADD COLUMN shares TEXT;         -- what it holds, e.g. 'pages 1-3, 7'
CREATE INDEX documents_derived ON documents (org_id, derived_from);

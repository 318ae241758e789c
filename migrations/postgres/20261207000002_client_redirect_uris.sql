-- Where a client may have a browser sent back with an authorization code
-- (/oauth/authorize): a JSON array of exact URIs, compared byte for byte
-- (OAuth 2.0 Security BCP 4.1.3). An empty array: the client signs nobody
-- in through the browser (an introspecting service).
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';

// The OpenID provider the API tests sign in with: oauth2-mock-server on a
// free loopback port, printing its issuer URL as the first line of stdout.
//
// The tests shape the ID tokens it signs next through one extra route:
//   POST /__test/next  {"claims": {...}, "kid": "...", "expired": true}
// `claims` are merged into every token signed from then on (sub, email,
// email_verified, aud, nonce...); `kid` replaces the key id in the header
// (the signature stays the real key's); `expired` dates the token in the
// past. POST /__test/rotate adds a new signing key (its public half is in
// the JWKS at once); the mock takes its keys in turn, so the next token
// response's access token is signed with the old key and its ID token with
// the new one. GET /__test/id-token-kids lists the key ids ID tokens (the
// tokens with a nonce) were signed with, oldest first.
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

let next = {};
const idTokenKids = [];
server.service.on('beforeTokenSigning', (token) => {
  Object.assign(token.payload, next.claims ?? {});
  if (next.kid) token.header.kid = next.kid;
  if (next.expired) {
    const now = Math.floor(Date.now() / 1000);
    token.payload.iat = now - 7200;
    token.payload.nbf = now - 7200;
    token.payload.exp = now - 3600;
  }
  if (token.payload.nonce !== undefined) idTokenKids.push(token.header.kid);
});

const readJson = (req) => req.body ?? {};
server.service.addRoute('POST', '/__test/next', (req, res) => {
  next = readJson(req);
  res.writeHead(204);
  res.end();
});
server.service.addRoute('POST', '/__test/rotate', async (req, res) => {
  const key = await server.issuer.keys.generate('RS256');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kid: key.kid }));
});

server.service.addRoute('GET', '/__test/id-token-kids', (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(idTokenKids));
});

await server.start(0, '127.0.0.1');
const port = server.address().port;
server.issuer.url = `http://127.0.0.1:${port}`;
process.stdout.write(`${server.issuer.url}\n`);
process.on('SIGTERM', async () => {
  await server.stop();
  process.exit(0);
});

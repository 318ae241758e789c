"""A third-party verifier of the service's access tokens: PyJWT with its
JWKS client, as a downstream service would run it.

Usage: verify.py JWKS_URL ISSUER AUDIENCE [CACHE_SECONDS [ALGORITHM]];
then one token per line on stdin (signed with ALGORITHM, EdDSA when not
given: the access tokens'; RS256 for ID tokens), and for each a line on stdout: `ok KID` or `fail
REASON`. The JWKS is cached for CACHE_SECONDS (PyJWKClient's default, 300,
when not given), and a token naming a key not in the cache makes it fetch
the JWKS again at most that often. A key published at least that long
before it signs is therefore always found.
"""

import sys

import jwt

jwks_url, issuer, audience = sys.argv[1:4]
cache = float(sys.argv[4]) if len(sys.argv) > 4 else 300
algorithm = sys.argv[5] if len(sys.argv) > 5 else "EdDSA"
client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=cache, cooldown_duration=cache)

for line in sys.stdin:
    token = line.strip()
    if not token:
        continue
    try:
        key = client.get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=[algorithm], issuer=issuer, audience=audience)
        print("ok", key.key_id, flush=True)
    except Exception as error:  # every failure is reported, none ends the loop
        print("fail", type(error).__name__, str(error).replace("\n", " "), flush=True)

// An independent OpenID Connect relying party (panva's openid-client) run against a Passerelle node.
//
// Usage: node flow.mjs '<json options>'
//   options: {issuer, client_id, client_secret?, auth_method, redirect_uri, scope, id_token_alg?,
//             post_logout_redirect_uri?, claims?, private_key_pkcs8? (base64 DER, P-256), kid?}
// Protocol on stdout/stdin, one JSON object per line:
//   1. prints {"authorization_url": "..."}; the test drives the browser part (sign-in, consent);
//   2. reads one line: the URL the node redirected the browser to (the callback, with code, state and iss);
//   3. prints {"result": {...}} with what the library validated and fetched, or {"error": "..."}.
// openid-client checks discovery, PKCE S256, state, the RFC 9207 iss parameter, and (with non-repudiation
// checks on) the ID token's signature against the JWKS, its iss, aud, azp, exp, iat, nonce and at_hash.
import * as client from "openid-client";
import { createInterface } from "node:readline";

const options = JSON.parse(process.argv[2]);
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const say = (value) => process.stdout.write(JSON.stringify(value) + "\n");

async function expectFailure(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { name: error.name, code: error.code, error: error.error, status: error.status };
  }
}

async function main() {
  const auth = await {
    client_secret_basic: async () => client.ClientSecretBasic(options.client_secret),
    client_secret_post: async () => client.ClientSecretPost(options.client_secret),
    // The library signs its own assertions (aud, iss, sub, jti, exp); only the key comes from the test.
    private_key_jwt: async () => client.PrivateKeyJwt({
      key: await crypto.subtle.importKey("pkcs8", Buffer.from(options.private_key_pkcs8, "base64"),
                                         { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]),
      kid: options.kid,
    }),
    none: async () => client.None(),
  }[options.auth_method]();
  const metadata = {
    redirect_uris: [options.redirect_uri],
    id_token_signed_response_alg: options.id_token_alg || "ES256",
  };
  const config = await client.discovery(new URL(options.issuer), options.client_id, metadata, auth, {
    execute: [client.allowInsecureRequests],
  });
  client.enableNonRepudiationChecks(config);

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = {
    redirect_uri: options.redirect_uri,
    scope: options.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  };
  if (options.claims) parameters.claims = JSON.stringify(options.claims);
  say({ authorization_url: client.buildAuthorizationUrl(config, parameters).href });

  const callback = new URL(await nextLine());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const result = { claims, userinfo, token_type: tokens.token_type, scope: tokens.scope };
  if (options.auth_method !== "none") {
    result.introspection = await client.tokenIntrospection(config, tokens.access_token);
  }
  if (tokens.refresh_token) {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    result.refreshed_claims = refreshed.claims() || null;
    result.refreshed_userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    result.reused_refresh = await expectFailure(client.refreshTokenGrant(config, tokens.refresh_token));
    result.after_reuse_userinfo = await expectFailure(
      client.fetchUserInfo(config, refreshed.access_token, claims.sub),
    );
  } else {
    await client.tokenRevocation(config, tokens.access_token);
    result.after_revocation_userinfo = await expectFailure(
      client.fetchUserInfo(config, tokens.access_token, claims.sub),
    );
  }
  result.code_replay = await expectFailure(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state,
                                                      expectedNonce: nonce }),
  );
  if (options.post_logout_redirect_uri) {
    result.end_session_url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: options.post_logout_redirect_uri,
      state: "bye",
    }).href;
  }
  say({ result });
}

main()
  .catch((error) => say({ error: `${error.name}: ${error.message}`, code: error.code, cause: String(error.cause || "") }))
  .finally(() => lines.close());

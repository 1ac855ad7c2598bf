// The place where sign-in through an OpenID Connect provider (Keycloak) plugs in, when the
// server is configured for it. The flow it will run is Authorization Code with PKCE:
//   1. start(): make a code verifier, send the browser to the provider's authorization
//      endpoint with its S256 challenge and a random state;
//   2. finish(): on return, check the state, exchange the code and verifier for tokens at the
//      token endpoint, and hand the access token to session.save() like a typed-in token.
// The server does not yet announce a provider, so `configured` is false and the login page
// offers the token field only.
export interface OidcSettings {
  issuer: string;
  clientId: string;
  redirectUri: string;
}

export const oidc = {
  configured: false as boolean,
  settings: null as OidcSettings | null,
  async start(): Promise<void> {
    throw new Error("OpenID Connect sign-in is not configured on this server");
  },
  async logout(): Promise<void> {
    /* nothing to end at a provider yet */
  },
};

/** A PKCE pair (RFC 7636): the verifier stays in the tab, the challenge goes to the provider. */
export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const verifier = base64url(bytes);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  bytes.forEach((byte) => (text += String.fromCharCode(byte)));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

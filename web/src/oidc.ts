// Sign-in through the server's OpenID Connect provider (Keycloak), when it announces one in
// <meta name="datoferum-oidc">. The flow is Authorization Code with PKCE (RFC 7636), run wholly
// in this tab:
//   1. start(): a code verifier, state and nonce are kept in sessionStorage and the browser goes
//      to the provider's authorization endpoint with the verifier's S256 challenge;
//   2. complete(), at start-up on the way back: the state must match, the code and verifier are
//      exchanged at the token endpoint, the ID token's nonce must match, and the access token
//      becomes the tab's token like a typed-in one (checked against /api/v1/whoami);
//   3. the access token is renewed with the refresh token before it runs out, and signing out
//      ends the session at the provider too.
import { api, session, type Identity } from "./api";

export interface OidcSettings {
  issuer: string;
  clientId: string;
}

interface Endpoints {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

interface Tokens {
  access_token: string;
  expires_in?: number;
  refresh_token?: string;
  id_token?: string;
}

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

const PENDING_KEY = "datoferum.oidc.pending";
const TOKENS_KEY = "datoferum.oidc.tokens";
const FAILURE_KEY = "datoferum.oidc.failure";

function announced(): OidcSettings | null {
  const tag = document.querySelector<HTMLMetaElement>('meta[name="datoferum-oidc"]');
  if (!tag) return null;
  try {
    const value = JSON.parse(tag.content) as Partial<OidcSettings>;
    return value.issuer && value.clientId ? { issuer: value.issuer, clientId: value.clientId } : null;
  } catch {
    return null;
  }
}

const settings = announced();
const redirectUri = () => `${window.location.origin}/`;
let endpoints: Promise<Endpoints> | null = null;
let renewal: number | undefined;

function discover(): Promise<Endpoints> {
  if (!settings) return Promise.reject(new Error("datoferum.login.oidc_off"));
  endpoints ??= fetch(`${settings.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`).then(
    async (response) => {
      if (!response.ok) throw new Error(`the sign-in provider answered ${response.status}`);
      return (await response.json()) as Endpoints;
    },
  );
  endpoints.catch(() => (endpoints = null)); // ask again next time
  return endpoints;
}

function random(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function tokenRequest(fields: Record<string, string>): Promise<Tokens> {
  const { token_endpoint } = await discover();
  const response = await fetch(token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: settings!.clientId, ...fields }),
  });
  const body = (await response.json().catch(() => ({}))) as Tokens & { error?: string; error_description?: string };
  if (!response.ok) throw new Error(body.error_description ?? body.error ?? `the sign-in provider answered ${response.status}`);
  return body;
}

function claims(jwt: string): Record<string, unknown> {
  const part = (jwt.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(part), (char) => char.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

function keep(tokens: Tokens): void {
  const expiresAt = Date.now() + (tokens.expires_in ?? 300) * 1000;
  sessionStorage.setItem(TOKENS_KEY, JSON.stringify({ refresh: tokens.refresh_token, id: tokens.id_token, expiresAt }));
  schedule(expiresAt);
}

function kept(): { refresh?: string; id?: string; expiresAt: number } | null {
  const raw = sessionStorage.getItem(TOKENS_KEY);
  return raw ? JSON.parse(raw) : null;
}

function schedule(expiresAt: number): void {
  window.clearTimeout(renewal);
  // Renew when three quarters of the lifetime are gone (at least 5 s from now).
  const wait = Math.max(5_000, (expiresAt - Date.now()) * 0.75);
  renewal = window.setTimeout(() => void renew(), wait);
}

async function renew(): Promise<void> {
  const stored = kept();
  const identity = session.identity();
  if (!stored?.refresh || !identity) return;
  try {
    const tokens = await tokenRequest({ grant_type: "refresh_token", refresh_token: stored.refresh });
    session.save(tokens.access_token, identity);
    keep({ ...tokens, id_token: tokens.id_token ?? stored.id });
  } catch {
    // The provider's session has ended: the next call gets 401 and the login page shows.
  }
}

export const oidc = {
  configured: settings !== null,
  settings,

  /** Go to the provider to sign in; the page comes back to complete(). */
  async start(): Promise<void> {
    const { authorization_endpoint } = await discover();
    const { verifier, challenge } = await pkcePair();
    const pending: Pending = {
      state: random(),
      nonce: random(),
      verifier,
      returnTo: window.location.pathname === "/login" ? "/" : window.location.pathname,
    };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: settings!.clientId,
      redirect_uri: redirectUri(),
      scope: "openid",
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    window.location.assign(`${authorization_endpoint}?${query}`);
  },

  /** On the way back from the provider, finish signing in; on any other load, keep renewing
   * a provider session this tab already has. A failure is kept for the login page to show. */
  async complete(): Promise<void> {
    const params = new URLSearchParams(window.location.search);
    const raw = sessionStorage.getItem(PENDING_KEY);
    if (!settings || !raw || !params.has("state")) {
      const stored = kept();
      if (stored && session.token()) schedule(stored.expiresAt);
      return;
    }
    sessionStorage.removeItem(PENDING_KEY);
    const pending = JSON.parse(raw) as Pending;
    // The code is single-use and must not stay in the address bar or the history.
    window.history.replaceState(null, "", pending.returnTo);
    try {
      if (params.get("state") !== pending.state) throw new Error("the answer from the sign-in provider does not belong to this tab");
      const refused = params.get("error");
      if (refused) throw new Error(params.get("error_description") ?? refused);
      const tokens = await tokenRequest({
        grant_type: "authorization_code",
        code: params.get("code") ?? "",
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
      });
      if (!tokens.id_token || claims(tokens.id_token).nonce !== pending.nonce) {
        throw new Error("the sign-in provider's answer was not for this sign-in (nonce)");
      }
      const { json } = await api<Identity>("/api/v1/whoami", { token: tokens.access_token });
      session.save(tokens.access_token, json);
      keep(tokens);
    } catch (failure) {
      sessionStorage.setItem(FAILURE_KEY, failure instanceof Error ? failure.message : String(failure));
    }
  },

  /** A failure of the last sign-in at the provider, once. */
  takeFailure(): string | null {
    const failure = sessionStorage.getItem(FAILURE_KEY);
    sessionStorage.removeItem(FAILURE_KEY);
    return failure;
  },

  /** Drop the provider's tokens without going there (an expired session). */
  forget(): void {
    window.clearTimeout(renewal);
    sessionStorage.removeItem(TOKENS_KEY);
  },

  /** Sign out here and at the provider, if this tab signed in there. */
  async logout(): Promise<void> {
    const stored = kept();
    oidc.forget();
    if (!stored?.id) return;
    const { end_session_endpoint } = await discover();
    if (!end_session_endpoint) return;
    const query = new URLSearchParams({
      client_id: settings!.clientId,
      id_token_hint: stored.id,
      post_logout_redirect_uri: redirectUri(),
    });
    window.location.assign(`${end_session_endpoint}?${query}`);
  },
};

/** A PKCE pair (RFC 7636): the verifier stays in the tab, the challenge goes to the provider. */
export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const verifier = random();
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  bytes.forEach((byte) => (text += String.fromCharCode(byte)));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

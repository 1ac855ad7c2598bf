// Sign-in with a bearer token (the embedded default): the token is checked against
// /api/v1/whoami and kept in sessionStorage, so it lives as long as the browser tab.
import type { AuthProvider } from "react-admin";
import { api, session, type Identity } from "./api";
import { oidc } from "./oidc";

export const authProvider: AuthProvider = {
  async login(params: { token?: string }) {
    const token = (params.token ?? "").trim();
    if (!token) throw new Error("datoferum.login.empty");
    const { json } = await api<Identity>("/api/v1/whoami", { token });
    session.save(token, json);
  },
  async logout() {
    session.clear();
    await oidc.logout();
  },
  async checkAuth() {
    if (!session.token()) throw new Error("datoferum.login.required");
  },
  async checkError(error: { status?: number }) {
    // 401: the token is unknown, expired or revoked, so sign in again. 403: this role may
    // not do that one thing; stay signed in and let the notification say why.
    if (error?.status === 401) {
      session.clear();
      oidc.forget(); // expired: sign in again, without ending the provider's session
      throw new Error("datoferum.login.expired");
    }
  },
  async getPermissions() {
    return session.identity()?.role;
  },
  async getIdentity() {
    const identity = session.identity();
    if (!identity) throw new Error("datoferum.login.required");
    // No fullName: the app bar then shows an icon button whose accessible name matches what
    // it shows; the name and role are the first entry of its menu (layout.tsx).
    return { id: identity.subject };
  },
};

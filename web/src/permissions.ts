// What each role may do, as the server's role table says (docs/architecture.md). The UI only
// uses it to hide what would be refused; the server checks every call regardless.
import type { Role } from "./api";

export type Permission =
  | "data:write"
  | "data:read"
  | "catalog:read"
  | "events:read"
  | "audit:verify"
  | "jobs:read"
  | "jobs:manage"
  | "lifecycle:read"
  | "lifecycle:manage"
  | "webhooks:manage"
  | "links:manage"
  | "signals:send"
  | "lake:query";

const TABLE: Record<Role, Permission[]> = {
  admin: [
    "data:write", "data:read", "catalog:read", "events:read", "audit:verify", "jobs:read",
    "jobs:manage", "lifecycle:read", "lifecycle:manage", "webhooks:manage", "links:manage",
    "signals:send", "lake:query",
  ],
  producer: ["data:write", "catalog:read", "signals:send"],
  consumer: ["data:read", "catalog:read", "links:manage", "signals:send", "lake:query"],
  auditor: ["catalog:read", "events:read", "audit:verify", "jobs:read", "lifecycle:read", "lake:query"],
};

export function can(role: Role | undefined, permission: Permission): boolean {
  return Boolean(role && TABLE[role]?.includes(permission));
}

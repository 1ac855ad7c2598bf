import { useState } from "react";
import { Alert, Box, Button, Card, CardContent, Stack, TextField, Typography } from "@mui/material";
import { Title, useTranslate } from "react-admin";
import { api } from "../api";
import { useFormat } from "../format";

interface Verification {
  ok: boolean;
  events: number;
  head: { seq: number; hash: string };
  first_break: { seq: number; problem: string } | null;
}

interface Batch {
  index: number;
  size: number;
  path: string[];
}

interface Exported {
  certificate: Record<string, unknown>;
  signature: string;
  key_id: string;
  algorithm: string;
  batch?: Batch;
}

/** The same canonical form the server signs: sorted keys, no spaces (RFC 8785 for these). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function bytesOf(base64: string): BufferSource {
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)) as BufferSource;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));

/**
 * The root of the Merkle tree (RFC 9162) that a certificate's audit path leads to from its
 * document, or null if the path cannot place it at that index of a batch of that size.
 */
async function batchRoot(document: Uint8Array, batch: Batch): Promise<Uint8Array | null> {
  const { index, size, path } = batch;
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return null;
  if (path.length > 64 || !path.every((node) => /^[0-9a-f]{64}$/.test(node))) return null;
  let position = index;
  let last = size - 1;
  let node = await sha256(Uint8Array.of(0), document);
  for (const sibling of path.map(fromHex)) {
    if (last === 0) return null;
    if (position % 2 === 1 || position === last) {
      node = await sha256(Uint8Array.of(1), sibling, node);
      // A right-most node without a sibling at a level is carried up unchanged.
      while (position % 2 === 0 && position !== 0) {
        position = Math.floor(position / 2);
        last = Math.floor(last / 2);
      }
    } else {
      node = await sha256(Uint8Array.of(1), node, sibling);
    }
    position = Math.floor(position / 2);
    last = Math.floor(last / 2);
  }
  return last === 0 ? node : null;
}

/** The bytes the signature covers: the batch's size and root, or the document itself. */
async function signedMessage(exported: Exported): Promise<Uint8Array | null> {
  const document = new TextEncoder().encode(canonical(exported.certificate));
  if (!exported.batch) return document;
  const root = await batchRoot(document, exported.batch);
  if (!root) return null;
  return new TextEncoder().encode(
    `datoferum.deletion-certificate-batch/1\n${exported.batch.size}\n${toHex(root)}`,
  );
}

/** Checks an exported certificate against the server's public key, in the browser. */
async function verifyCertificate(exported: Exported): Promise<string | null> {
  const { json: key } = await api<{ key_id: string; public_key_pem: string }>("/api/v1/keys");
  if (exported.algorithm !== "Ed25519") return `unsupported algorithm ${exported.algorithm}`;
  if (exported.key_id !== key.key_id || exported.certificate.issuer !== key.key_id) {
    return `signed by ${String(exported.certificate.issuer)}, the server's key is ${key.key_id}`;
  }
  const der = bytesOf(key.public_key_pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
  try {
    const message = await signedMessage(exported);
    if (!message) return "malformed batch proof";
    const publicKey = await crypto.subtle.importKey("spki", der, { name: "Ed25519" }, false, ["verify"]);
    const ok = await crypto.subtle.verify(
      { name: "Ed25519" },
      publicKey,
      bytesOf(exported.signature),
      message as BufferSource,
    );
    return ok ? null : "bad signature";
  } catch {
    return "this browser cannot check Ed25519 signatures; use `datoferum certificate verify`";
  }
}

export function AuditPage() {
  const translate = useTranslate();
  const format = useFormat();
  const [result, setResult] = useState<Verification | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [certificateId, setCertificateId] = useState("");
  const [certificate, setCertificate] = useState<Exported | null>(null);
  const [check, setCheck] = useState<{ ok: boolean; text: string } | null>(null);

  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult((await api<Verification>("/api/v1/audit/verify")).json);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const fetchCertificate = async () => {
    setCheck(null);
    setCertificate(null);
    try {
      const { json } = await api<Exported>(`/api/v1/certificates/${encodeURIComponent(certificateId.trim())}`);
      setCertificate(json);
      const problem = await verifyCertificate(json);
      setCheck(
        problem
          ? { ok: false, text: translate("datoferum.audit.invalid", { problem }) }
          : { ok: true, text: translate("datoferum.audit.valid", { key: json.key_id }) },
      );
    } catch (failure) {
      setCheck({ ok: false, text: (failure as Error).message });
    }
  };

  return (
    <Stack sx={{ gap: 2, mt: 2 }}>
      <Title title={translate("datoferum.menu.audit")} />
      <Card>
        <CardContent>
          <Typography variant="h5" component="h1" gutterBottom>
            {translate("datoferum.menu.audit")}
          </Typography>
          <Button variant="contained" onClick={() => void verify()} disabled={busy}>
            {translate("datoferum.audit.verify")}
          </Button>
          {error && <Alert severity="error" sx={{ mt: 2 }}>{error}</Alert>}
          {result && (
            <Box sx={{ mt: 2 }} data-testid="verify-result">
              {result.ok ? (
                <Alert severity="success">
                  {translate("datoferum.audit.intact", { events: format.number(result.events), seq: result.head.seq })}
                </Alert>
              ) : (
                <Alert severity="error">
                  {translate("datoferum.audit.broken", { seq: result.first_break?.seq, problem: result.first_break?.problem })}
                </Alert>
              )}
              <Typography variant="body2" sx={{ mt: 1 }}>
                {translate("datoferum.audit.head_hash")}:
              </Typography>
              <Typography variant="body2" sx={{ fontFamily: "monospace", wordBreak: "break-all" }}>
                {result.head.hash}
              </Typography>
            </Box>
          )}
        </CardContent>
      </Card>
      <Card>
        <CardContent>
          <Typography variant="h6" component="h2" gutterBottom>
            {translate("datoferum.audit.certificate")}
          </Typography>
          <Stack direction={{ xs: "column", sm: "row" }} sx={{ gap: 1 }}>
            <TextField id="certificate-id" size="small" label={translate("datoferum.audit.certificate_id")} value={certificateId} onChange={(e) => setCertificateId(e.target.value)} sx={{ flex: 1 }} />
            <Button variant="outlined" onClick={() => void fetchCertificate()} disabled={!certificateId.trim()}>
              {translate("datoferum.audit.fetch")}
            </Button>
          </Stack>
          {check && <Alert severity={check.ok ? "success" : "error"} sx={{ mt: 2 }}>{check.text}</Alert>}
          {certificate && (
            <Box component="pre" sx={{ mt: 2, fontSize: 12, overflowX: "auto", whiteSpace: "pre-wrap", wordBreak: "break-all" }}>
              {JSON.stringify(certificate, null, 2)}
            </Box>
          )}
        </CardContent>
      </Card>
    </Stack>
  );
}

import { useCallback, useEffect, useState } from "react";
import {
  Alert, Box, Button, Card, CardContent, Chip, Table, TableBody, TableCell, TableHead, TableRow, TextField,
  Typography,
} from "@mui/material";
import { Title, useTranslate } from "react-admin";
import { api, jsonBody } from "../api";
import { useFormat } from "../format";

interface ErasureRequest {
  request_id: string;
  key: string;
  subject_hash: string;
  reason: string;
  state: string;
  counts: Record<string, number>;
  progress: { done: number; total: number } | null;
  created_at: string;
  created_by: string;
  executed_at: string | null;
}

/** Past requests, newest first; refreshed every few seconds while one is still running. */
function ErasureRequests({ reload }: { reload: number }) {
  const translate = useTranslate();
  const format = useFormat();
  const [items, setItems] = useState<ErasureRequest[]>([]);
  const load = useCallback(() => {
    api<{ items: ErasureRequest[] }>("/api/v1/erasure")
      .then(({ json }) => setItems(json.items))
      .catch(() => setItems([]));
  }, []);
  useEffect(load, [load, reload]);
  const busy = items.some((item) => ["queued", "running"].includes(item.state));
  useEffect(() => {
    if (!busy) return undefined;
    const timer = window.setInterval(load, 3000);
    return () => window.clearInterval(timer);
  }, [busy, load]);
  if (!items.length) return null;
  return (
    <Box sx={{ overflowX: "auto" }}>
      <Typography variant="h6" component="h2" gutterBottom>
        {translate("datoferum.erasure.requests")}
      </Typography>
      <Table size="small" aria-label={translate("datoferum.erasure.requests")}>
        <TableHead>
          <TableRow>
            <TableCell>{translate("datoferum.erasure.made")}</TableCell>
            <TableCell>{translate("datoferum.erasure.key")}</TableCell>
            <TableCell>{translate("datoferum.erasure.subject")}</TableCell>
            <TableCell>{translate("datoferum.common.reason")}</TableCell>
            <TableCell>{translate("resources.jobs.fields.state")}</TableCell>
            <TableCell>{translate("resources.jobs.fields.progress")}</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {items.map((item) => (
            <TableRow key={item.request_id}>
              <TableCell>{format.date(item.created_at)}</TableCell>
              <TableCell>{item.key}</TableCell>
              <TableCell sx={{ fontFamily: "monospace" }} title={item.subject_hash}>
                {item.subject_hash.slice(0, 12)}…
              </TableCell>
              <TableCell>{item.reason}</TableCell>
              <TableCell>
                <Chip size="small" variant="outlined" label={translate(`datoferum.states.${item.state}`, { _: item.state })} />
              </TableCell>
              <TableCell>
                {item.progress ? `${format.number(item.progress.done)} / ${format.number(item.progress.total)}` : format.number(item.counts["would-purge"] ?? 0)}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}

/** LGPD/GDPR erasure by data subject: preview first, then erase exactly the previewed plan. */
export function ErasurePage() {
  const translate = useTranslate();
  const [key, setKey] = useState("subject");
  const [value, setValue] = useState("");
  const [reason, setReason] = useState("");
  const [preview, setPreview] = useState<Record<string, unknown> | null>(null);
  const [result, setResult] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [made, setMade] = useState(0);
  const run = async (body: Record<string, unknown>, into: (value: Record<string, unknown>) => void) => {
    setError(null);
    try {
      into((await api<Record<string, unknown>>("/api/v1/erasure", jsonBody(body))).json);
      setMade((count) => count + 1);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  const planId = (preview?.plan_id ?? preview?.plan) as string | undefined;
  return (
    <Card sx={{ mt: 2 }}>
      <Title title={translate("datoferum.erasure.title")} />
      <CardContent sx={{ display: "grid", gap: 2, maxWidth: 720 }}>
        <Typography variant="h5" component="h1">
          {translate("datoferum.erasure.title")}
        </Typography>
        <TextField id="erasure-key" label={translate("datoferum.erasure.key")} value={key} onChange={(e) => setKey(e.target.value)} />
        <TextField id="erasure-value" label={translate("datoferum.erasure.value")} value={value} onChange={(e) => setValue(e.target.value)} />
        <TextField id="erasure-reason" label={translate("datoferum.common.reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
        <Box sx={{ display: "flex", gap: 1, flexWrap: "wrap" }}>
          <Button variant="outlined" disabled={!value} onClick={() => void run({ key, value, reason, dry_run: true }, setPreview)}>
            {translate("datoferum.erasure.preview")}
          </Button>
          <Button variant="contained" color="error" disabled={!planId} onClick={() => void run({ key, value, plan: planId }, setResult)}>
            {translate("datoferum.erasure.execute")}
          </Button>
        </Box>
        {error && <Alert severity="error">{error}</Alert>}
        {[preview, result].map(
          (shown, index) =>
            shown && (
              <Box key={index} component="pre" sx={{ fontSize: 12, whiteSpace: "pre-wrap", wordBreak: "break-all" }}>
                {JSON.stringify(shown, null, 2)}
              </Box>
            ),
        )}
        <ErasureRequests reload={made} />
      </CardContent>
    </Card>
  );
}

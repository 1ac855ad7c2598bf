import { useState } from "react";
import { Alert, Box, Button, Card, CardContent, TextField, Typography } from "@mui/material";
import { Title, useTranslate } from "react-admin";
import { api, jsonBody } from "../api";

/** LGPD/GDPR erasure by data subject: preview first, then erase exactly the previewed plan. */
export function ErasurePage() {
  const translate = useTranslate();
  const [key, setKey] = useState("subject");
  const [value, setValue] = useState("");
  const [reason, setReason] = useState("");
  const [preview, setPreview] = useState<Record<string, unknown> | null>(null);
  const [result, setResult] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (body: Record<string, unknown>, into: (value: Record<string, unknown>) => void) => {
    setError(null);
    try {
      into((await api<Record<string, unknown>>("/api/v1/erasure", jsonBody(body))).json);
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
      </CardContent>
    </Card>
  );
}

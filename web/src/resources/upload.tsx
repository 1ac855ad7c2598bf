import { useRef, useState } from "react";
import { Alert, Box, Button, Card, CardContent, LinearProgress, TextField, Typography } from "@mui/material";
import { Title, useTranslate } from "react-admin";
import { Link } from "react-router-dom";
import { upload } from "../api";
import { useFormat } from "../format";

/** Upload one file with PUT /api/v1/data/{collection}/{path}, showing the bytes sent. */
export function UploadPage() {
  const translate = useTranslate();
  const format = useFormat();
  const [collection, setCollection] = useState("");
  const [path, setPath] = useState("");
  const [metadata, setMetadata] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [result, setResult] = useState<{ id: string; path: string; version: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<(() => void) | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async () => {
    if (!file) return;
    setError(null);
    setResult(null);
    const meta = Object.fromEntries(
      metadata
        .split("\n")
        .map((line) => line.split("=").map((part) => part.trim()))
        .filter((parts) => parts.length >= 2 && parts[0])
        .map(([key, ...rest]) => [key, rest.join("=")]),
    );
    const target = path || file.name;
    const started = upload(collection, target, file, meta, (sent, total) => setProgress({ sent, total }));
    abort.current = started.abort;
    setBusy(true);
    try {
      const answer = await started.done;
      setResult({ id: String(answer.id), path: String(answer.path), version: Number(answer.version) });
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      abort.current = null;
      setBusy(false);
    }
  };

  const percent = progress && progress.total ? (100 * progress.sent) / progress.total : 0;
  return (
    <Card sx={{ mt: 2 }}>
      <Title title={translate("datoferum.upload.title")} />
      <CardContent sx={{ display: "grid", gap: 2, maxWidth: 640 }}>
        <Typography variant="h5" component="h1">
          {translate("datoferum.upload.title")}
        </Typography>
        <TextField id="upload-collection" label={translate("datoferum.upload.collection")} value={collection} onChange={(e) => setCollection(e.target.value)} required />
        <TextField id="upload-path" label={translate("datoferum.upload.path")} value={path} onChange={(e) => setPath(e.target.value)} placeholder={file?.name ?? ""} />
        <Box>
          <Button variant="outlined" component="label">
            {translate("datoferum.upload.choose")}
            <input
              hidden
              type="file"
              data-testid="upload-file"
              aria-label={translate("datoferum.upload.file")}
              onChange={(event) => setFile(event.target.files?.[0] ?? null)}
            />
          </Button>
          {file && (
            <Typography component="span" sx={{ ml: 2 }}>
              {file.name} ({format.bytes(file.size)})
            </Typography>
          )}
        </Box>
        <TextField id="upload-metadata" label={translate("datoferum.upload.metadata")} value={metadata} onChange={(e) => setMetadata(e.target.value)} multiline minRows={2} />
        {progress && (
          <Box>
            <LinearProgress variant="determinate" value={percent} aria-label={translate("datoferum.upload.title")} />
            <Typography variant="caption">
              {translate("datoferum.upload.progress", { sent: format.bytes(progress.sent), total: format.bytes(progress.total) })}
            </Typography>
          </Box>
        )}
        {error && <Alert severity="error">{error}</Alert>}
        {result && (
          <Alert severity="success">
            <Link to={`/files/${result.id}/show`}>
              {translate("datoferum.upload.done", { path: result.path, version: result.version })}
            </Link>
          </Alert>
        )}
        <Box sx={{ display: "flex", gap: 1 }}>
          <Button variant="contained" onClick={() => void send()} disabled={!file || !collection || busy}>
            {translate("datoferum.upload.send")}
          </Button>
          {busy && <Button onClick={() => abort.current?.()}>{translate("datoferum.upload.cancel")}</Button>}
        </Box>
      </CardContent>
    </Card>
  );
}

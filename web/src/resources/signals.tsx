import { useCallback, useEffect, useState } from "react";
import { Box, Button, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography } from "@mui/material";
import { useNotify, useTranslate } from "react-admin";
import { api, jsonBody } from "../api";
import { useFormat } from "../format";

interface SignalRecord {
  name: string;
  version: number;
  data: Record<string, unknown>;
  at: string;
  actor: string;
}

/** What outside processes reported about a file ("published", "consumed"…), and a way to send
 * one; policies may count retention from a signal. */
export function SignalsPanel({ fileId, canSend }: { fileId: string; canSend: boolean }) {
  const translate = useTranslate();
  const notify = useNotify();
  const format = useFormat();
  const [signals, setSignals] = useState<SignalRecord[] | null>(null);
  const [name, setName] = useState("");

  const load = useCallback(() => {
    api<{ items: SignalRecord[] }>(`/api/v1/files/${fileId}/signals`)
      .then(({ json }) => setSignals(json.items))
      .catch(() => setSignals(null));
  }, [fileId]);
  useEffect(load, [load]);

  const send = async () => {
    try {
      await api(`/api/v1/files/${fileId}/signals`, jsonBody({ name: name.trim() }));
      setName("");
      load();
    } catch (error) {
      notify((error as Error).message, { type: "error" });
    }
  };

  return (
    <Box>
      {canSend && (
        <Stack direction={{ xs: "column", sm: "row" }} sx={{ gap: 1, mb: 1 }}>
          <TextField id="signal-name" size="small" label={translate("datoferum.signals.name")} helperText={translate("datoferum.signals.help")} value={name} onChange={(e) => setName(e.target.value)} />
          <Button variant="outlined" disabled={!name.trim()} onClick={() => void send()} sx={{ alignSelf: { sm: "flex-start" } }}>
            {translate("datoferum.signals.send")}
          </Button>
        </Stack>
      )}
      {signals && signals.length === 0 && <Typography variant="body2">{translate("datoferum.signals.none")}</Typography>}
      {signals && signals.length > 0 && (
        <Box sx={{ overflowX: "auto" }}>
          <Table size="small" aria-label={translate("datoferum.files.signals")}>
            <TableHead>
              <TableRow>
                <TableCell>{translate("datoferum.signals.name")}</TableCell>
                <TableCell>{translate("resources.files.fields.version")}</TableCell>
                <TableCell>{translate("datoferum.signals.at")}</TableCell>
                <TableCell>{translate("datoferum.signals.actor")}</TableCell>
                <TableCell>{translate("datoferum.signals.data")}</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {signals.map((signal, index) => (
                <TableRow key={`${signal.at}-${index}`}>
                  <TableCell>{signal.name}</TableCell>
                  <TableCell>{signal.version}</TableCell>
                  <TableCell>{format.date(signal.at)}</TableCell>
                  <TableCell sx={{ wordBreak: "break-all" }}>{signal.actor}</TableCell>
                  <TableCell sx={{ fontFamily: "monospace", wordBreak: "break-all" }}>
                    {Object.keys(signal.data).length ? JSON.stringify(signal.data) : "—"}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Box>
      )}
    </Box>
  );
}

import { useCallback, useEffect, useState } from "react";
import { Alert, Box, Button, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField } from "@mui/material";
import { useNotify, useTranslate } from "react-admin";
import { api, jsonBody } from "../api";
import { useFormat } from "../format";

interface LinkRecord {
  id: string;
  version: number;
  state: string;
  picks: number;
  max_picks: number;
  expires_at: string;
}

/** A file's pick-and-go links: make one (its address shows once), see picks, revoke. */
export function LinksPanel({ fileId, canManage }: { fileId: string; canManage: boolean }) {
  const translate = useTranslate();
  const notify = useNotify();
  const format = useFormat();
  const [links, setLinks] = useState<LinkRecord[]>([]);
  const [picks, setPicks] = useState(1);
  const [hours, setHours] = useState(168);
  const [address, setAddress] = useState<string | null>(null);

  const load = useCallback(() => {
    api<{ items: LinkRecord[] }>(`/api/v1/files/${fileId}/links`)
      .then(({ json }) => setLinks(json.items))
      .catch(() => setLinks([]));
  }, [fileId]);
  useEffect(load, [load]);

  const create = async () => {
    try {
      const { json } = await api<{ path: string }>(
        `/api/v1/files/${fileId}/links`,
        jsonBody({ max_picks: picks, expires_in_seconds: Math.round(hours * 3600) }),
      );
      setAddress(`${window.location.origin}${json.path}`);
      load();
    } catch (error) {
      notify((error as Error).message, { type: "error" });
    }
  };
  const revoke = async (id: string) => {
    try {
      await api(`/api/v1/links/${id}`, { method: "DELETE" });
      load();
    } catch (error) {
      notify((error as Error).message, { type: "error" });
    }
  };

  return (
    <Box>
      {canManage && (
        <Stack direction={{ xs: "column", sm: "row" }} sx={{ gap: 1, mb: 1 }}>
          <TextField id="link-picks" size="small" type="number" label={translate("datoferum.links.max_picks")} value={picks} onChange={(e) => setPicks(Number(e.target.value))} />
          <TextField id="link-hours" size="small" type="number" label={translate("datoferum.links.expires")} value={hours} onChange={(e) => setHours(Number(e.target.value))} />
          <Button variant="outlined" onClick={() => void create()}>
            {translate("datoferum.links.create")}
          </Button>
        </Stack>
      )}
      {address && (
        <Alert severity="success" sx={{ mb: 1, wordBreak: "break-all" }}>
          {translate("datoferum.links.created")} <code>{address}</code>
        </Alert>
      )}
      {links.length > 0 && (
        <Box sx={{ overflowX: "auto" }}>
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>{translate("resources.files.fields.version")}</TableCell>
                <TableCell>{translate("resources.files.fields.state")}</TableCell>
                <TableCell>{translate("datoferum.links.max_picks")}</TableCell>
                <TableCell>{translate("datoferum.links.expires")}</TableCell>
                <TableCell />
              </TableRow>
            </TableHead>
            <TableBody>
              {links.map((link) => (
                <TableRow key={link.id}>
                  <TableCell>{link.version}</TableCell>
                  <TableCell>{translate(`datoferum.states.${link.state}`, { _: link.state })}</TableCell>
                  <TableCell>
                    {link.picks}/{link.max_picks}
                  </TableCell>
                  <TableCell>{format.date(link.expires_at)}</TableCell>
                  <TableCell>
                    {canManage && link.state === "active" && (
                      <Button size="small" onClick={() => void revoke(link.id)}>
                        {translate("datoferum.links.revoke")}
                      </Button>
                    )}
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

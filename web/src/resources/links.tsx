import { useCallback, useEffect, useState } from "react";
import {
  Alert, Box, Button, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField, useMediaQuery,
  type Theme,
} from "@mui/material";
import {
  Datagrid, FunctionField, List, SearchInput, SelectInput, SimpleList, TextField as RaTextField,
  useNotify, usePermissions, useRecordContext, useRefresh, useTranslate,
} from "react-admin";
import { api, jsonBody, type Role } from "../api";
import { DateText, StateChip, useFormat } from "../format";
import { can } from "../permissions";

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

const linkStates = ["active", "used", "expired", "revoked", "purged", "unavailable"].map((id) => ({
  id,
  name: `datoferum.states.${id}`,
}));

const linkFilters = [
  <SearchInput key="q" source="q" alwaysOn />,
  <SelectInput key="state" source="state" choices={linkStates} alwaysOn />,
];

function RevokeLinkButton() {
  const record = useRecordContext();
  const translate = useTranslate();
  const notify = useNotify();
  const refresh = useRefresh();
  if (record?.state !== "active") return null;
  const revoke = async () => {
    try {
      await api(`/api/v1/links/${record.id}`, { method: "DELETE" });
      refresh();
    } catch (error) {
      notify((error as Error).message, { type: "error" });
    }
  };
  return (
    <Button size="small" onClick={(event) => { event.stopPropagation(); void revoke(); }}>
      {translate("datoferum.links.revoke")}
    </Button>
  );
}

/** Every file's pick-and-go links: which are live, how many picks are left, when they end. */
export function LinkList() {
  const { permissions } = usePermissions<Role>();
  const small = useMediaQuery<Theme>((theme) => theme.breakpoints.down("sm"));
  const format = useFormat();
  return (
    <List filters={linkFilters} filterDefaultValues={{ state: "active" }} sort={{ field: "created_at", order: "DESC" }}>
      {small ? (
        <SimpleList
          primaryText={(record) => `${record.collection}/${record.path}`}
          secondaryText={(record) => `${record.state} · ${record.picks}/${record.max_picks}`}
          tertiaryText={(record) => format.date(String(record.expires_at))}
          linkType={(record) => `/files/${record.file_id}/show`}
        />
      ) : (
        <Datagrid bulkActionButtons={false} rowClick={(_id, _resource, record) => `/files/${record.file_id}/show`}>
          <RaTextField source="collection" />
          <RaTextField source="path" />
          <RaTextField source="version" />
          <StateChip source="state" />
          <FunctionField source="picks" render={(record: LinkRecord) => `${record.picks} / ${record.max_picks}`} />
          <DateText source="expires_at" />
          <RaTextField source="created_by" />
          <DateText source="created_at" />
          {can(permissions, "links:manage") && <RevokeLinkButton />}
        </Datagrid>
      )}
    </List>
  );
}

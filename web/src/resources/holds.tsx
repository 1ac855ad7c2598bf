import { useState } from "react";
import { Button, Dialog, DialogActions, DialogContent, DialogTitle, TextField as MuiTextField } from "@mui/material";
import {
  BooleanField, BooleanInput, Create, Datagrid, List, SearchInput, SelectInput, SimpleForm,
  SimpleList, TextField, TextInput, required, useNotify, usePermissions, useRecordContext,
  useRefresh, useTranslate,
} from "react-admin";
import { useMediaQuery, type Theme } from "@mui/material";
import { api, jsonBody, type Role } from "../api";
import { DateText } from "../format";
import { can } from "../permissions";

const scopes = [
  { id: "file", name: "file" },
  { id: "collection", name: "collection" },
];

const holdFilters = [
  <SearchInput key="q" source="q" alwaysOn />,
  <BooleanInput key="active" source="active" alwaysOn />,
  <SelectInput key="scope" source="scope" choices={scopes} />,
];

function ReleaseButton() {
  const record = useRecordContext();
  const translate = useTranslate();
  const notify = useNotify();
  const refresh = useRefresh();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  if (!record?.active) return null;
  const release = async () => {
    try {
      await api(`/api/v1/holds/${record.id}/release`, jsonBody({ reason }));
      notify("datoferum.holds.released", { type: "success" });
      setOpen(false);
      refresh();
    } catch (error) {
      notify((error as Error).message, { type: "error" });
    }
  };
  return (
    <>
      <Button size="small" onClick={(event) => { event.stopPropagation(); setOpen(true); }}>
        {translate("datoferum.holds.release")}
      </Button>
      <Dialog open={open} onClose={() => setOpen(false)} onClick={(event) => event.stopPropagation()} fullWidth>
        <DialogTitle>{translate("datoferum.holds.release")}</DialogTitle>
        <DialogContent sx={{ pt: "8px !important" }}>
          <MuiTextField id="release-reason" fullWidth label={translate("datoferum.holds.release_reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setOpen(false)}>{translate("ra.action.cancel")}</Button>
          <Button variant="contained" disabled={!reason} onClick={() => void release()}>
            {translate("datoferum.holds.release")}
          </Button>
        </DialogActions>
      </Dialog>
    </>
  );
}

export function HoldList() {
  const { permissions } = usePermissions<Role>();
  const small = useMediaQuery<Theme>((theme) => theme.breakpoints.down("sm"));
  return (
    <List filters={holdFilters} filterDefaultValues={{ active: true }} sort={{ field: "created_at", order: "DESC" }}>
      {small ? (
        <SimpleList primaryText={(record) => String(record.reason)} secondaryText={(record) => `${record.scope} ${record.target}`} tertiaryText={(record) => String(record.owner)} linkType={false} />
      ) : (
        <Datagrid bulkActionButtons={false} rowClick={(_id, _resource, record) => (record.scope === "file" ? `/files/${record.target}/show` : false)}>
          <TextField source="scope" />
          <TextField source="target" />
          <TextField source="reason" />
          <TextField source="owner" />
          <BooleanField source="active" />
          <DateText source="created_at" />
          <TextField source="created_by" />
          {can(permissions, "lifecycle:manage") && <ReleaseButton />}
        </Datagrid>
      )}
    </List>
  );
}

export function HoldCreate() {
  const translate = useTranslate();
  return (
    <Create redirect="list">
      <SimpleForm defaultValues={{ scope: "file" }}>
        <SelectInput source="scope" choices={scopes} validate={required()} />
        <TextInput source="target" validate={required()} helperText={translate("datoferum.holds.target_help")} fullWidth />
        <TextInput source="reason" validate={required()} fullWidth />
        <TextInput source="owner" validate={required()} fullWidth />
      </SimpleForm>
    </Create>
  );
}

import { useMediaQuery, type Theme } from "@mui/material";
import { Datagrid, FunctionField, List, SimpleList, TextField, TextInput, type RaRecord } from "react-admin";
import { DateText, useFormat } from "../format";

const eventFilters = [
  <TextInput key="type" source="type" alwaysOn />,
  <TextInput key="file_id" source="file_id" />,
  <TextInput key="actor" source="actor" />,
];

export function EventList() {
  const small = useMediaQuery<Theme>((theme) => theme.breakpoints.down("sm"));
  const format = useFormat();
  return (
    <List filters={eventFilters} sort={{ field: "seq", order: "DESC" }} perPage={50}>
      {small ? (
        <SimpleList primaryText={(record) => String(record.type)} secondaryText={(record) => `${record.actor} · ${format.date(record.time as string)}`} linkType={false} />
      ) : (
        <Datagrid bulkActionButtons={false} rowClick={(_id, _resource, record) => (record.file_id ? `/files/${record.file_id}/show` : false)}>
          <TextField source="seq" />
          <DateText source="time" sortable={false} />
          <TextField source="type" sortable={false} />
          <TextField source="actor" sortable={false} />
          <TextField source="file_id" sortable={false} />
          <FunctionField
            source="details"
            sortable={false}
            render={(record: RaRecord) => (
              <code style={{ fontSize: 12, wordBreak: "break-all" }}>{JSON.stringify(record.details)}</code>
            )}
          />
        </Datagrid>
      )}
    </List>
  );
}
